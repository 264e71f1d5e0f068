"""Backtest statistics, on small series worked by hand."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algodesk.backtest.results import EquityPoint, Trade
from algodesk.backtest.stats import compute_stats, infer_periods_per_year

D = Decimal
T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def curve(
    values: Sequence[int | str],
    step: timedelta = DAY,
    exposures: Sequence[int] | None = None,
) -> list[EquityPoint]:
    exposures = exposures or [0] * len(values)
    return [
        EquityPoint(time=T0 + i * step, equity=D(v), cash=D(v), exposure=D(x))
        for i, (v, x) in enumerate(zip(values, exposures, strict=True))
    ]


def trade(pnl: str, commission: str = "1", *, closed: bool = True) -> Trade:
    return Trade(
        instrument="NVDA",
        side="LONG",
        entry_time=T0,
        entry_price=D(100),
        quantity=D(10),
        commission=D(commission),
        pnl=D(pnl),
        exit_time=T0 + DAY if closed else None,
        exit_price=D(101) if closed else None,
    )


def test_a_known_series_gives_its_returns_drawdown_and_duration() -> None:
    values = [100, 110, 99, 105, 111, 108]
    stats = compute_stats(curve(values, exposures=[0, 50, 50, 0, 0, 20]), [], D(100))
    returns = [b / a - 1 for a, b in pairwise(values)]
    mean, stdev = statistics.mean(returns), statistics.stdev(returns)
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in returns) / len(returns))
    cagr = 1.08 ** (365.25 / 5) - 1

    assert stats["start"] == T0
    assert stats["end"] == T0 + 5 * DAY
    assert stats["bars"] == 6
    assert stats["initial_cash"] == D(100)
    assert stats["final_equity"] == D(108)
    assert stats["periods_per_year"] == 252
    assert stats["total_return"] == pytest.approx(0.08)
    assert stats["cagr"] == pytest.approx(cagr)
    assert stats["volatility"] == pytest.approx(stdev * math.sqrt(252))
    assert stats["sharpe"] == pytest.approx(mean / stdev * math.sqrt(252))
    assert stats["sortino"] == pytest.approx(mean / downside * math.sqrt(252))
    assert stats["max_drawdown"] == pytest.approx(0.1)  # 110 → 99
    assert stats["max_drawdown_duration_bars"] == 3  # the peak on day 1, back above on day 4
    assert stats["max_drawdown_duration_days"] == pytest.approx(3.0)
    assert stats["calmar"] == pytest.approx(cagr / 0.1)
    assert stats["exposure"] == pytest.approx(0.5)


def test_a_drawdown_from_the_initial_cash_starts_before_the_first_point() -> None:
    stats = compute_stats(curve([90, 95, 100, 101]), [], D(100))
    assert stats["max_drawdown"] == pytest.approx(0.1)
    assert stats["max_drawdown_duration_bars"] == 3
    assert stats["max_drawdown_duration_days"] == pytest.approx(2.0)  # timed from the first point


def test_a_drawdown_never_recovered_lasts_to_the_end() -> None:
    stats = compute_stats(curve([100, 120, 90, 100, 110]), [], D(100))
    assert stats["max_drawdown"] == pytest.approx(0.25)
    assert stats["max_drawdown_duration_bars"] == 3
    assert stats["max_drawdown_duration_days"] == pytest.approx(3.0)


def test_a_flat_series_has_no_sharpe_sortino_or_drawdown() -> None:
    stats = compute_stats(curve([100, 100, 100, 100]), [], D(100))
    assert stats["sharpe"] is None
    assert stats["sortino"] is None
    assert stats["calmar"] is None
    assert stats["volatility"] == 0.0
    assert stats["max_drawdown"] == 0.0
    assert stats["max_drawdown_duration_bars"] == 0
    assert stats["total_return"] == 0.0
    assert stats["cagr"] == 0.0


def test_steady_growth_has_no_variance_despite_float_rounding() -> None:
    stats = compute_stats(curve(["100", "110", "121", "133.1", "146.41"]), [], D(100))
    assert stats["sharpe"] is None
    assert stats["volatility"] == 0.0
    assert stats["sortino"] is None  # no losing bar


def test_cagr_over_two_years_and_none_within_a_day() -> None:
    two_years = curve([100, 121], step=timedelta(days=730.5))
    assert compute_stats(two_years, [], D(100))["cagr"] == pytest.approx(0.1)
    hourly = curve([100, 101, 102], step=timedelta(hours=1))
    assert compute_stats(hourly, [], D(100))["cagr"] is None


def test_equity_wiped_out_leaves_return_ratios_undefined() -> None:
    stats = compute_stats(curve([100, 0, 0]), [], D(100))
    assert stats["total_return"] == -1.0
    assert stats["cagr"] == -1.0
    assert stats["max_drawdown"] == 1.0
    assert stats["volatility"] is None
    assert stats["sharpe"] is None
    assert stats["sortino"] is None


def test_win_rate_profit_factor_and_expectancy_on_three_trades() -> None:
    trades = [trade("30"), trade("-10"), trade("5"), trade("7", "0.5", closed=False)]
    stats = compute_stats(curve([100, 125]), trades, D(100))
    assert stats["trade_count"] == 3  # the open trade is not counted
    assert stats["win_rate"] == pytest.approx(2 / 3)
    assert stats["profit_factor"] == pytest.approx(3.5)  # 35 / 10
    assert stats["expectancy"] == D(25) / 3
    assert stats["avg_win"] == D("17.5")
    assert stats["avg_loss"] == D(-10)
    assert stats["total_commission"] == D("3.5")  # open trades' fees count when passed


def test_trade_statistics_without_trades_or_losses_are_none() -> None:
    none = compute_stats(curve([100, 101]), [], D(100))
    for key in ("win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss"):
        assert none[key] is None
    assert none["trade_count"] == 0
    assert none["total_commission"] == D(0)
    no_loss = compute_stats(curve([100, 101]), [trade("4"), trade("0")], D(100))
    assert no_loss["profit_factor"] is None
    assert no_loss["win_rate"] == pytest.approx(0.5)  # a zero-pnl trade is not a win
    assert no_loss["avg_loss"] is None


def test_no_equity_points_give_the_initial_cash_and_no_ratios() -> None:
    stats = compute_stats([], [], D(1000))
    assert stats["start"] is None
    assert stats["end"] is None
    assert stats["bars"] == 0
    assert stats["final_equity"] == D(1000)
    assert stats["total_return"] == 0.0
    assert stats["max_drawdown"] == 0.0
    assert stats["exposure"] is None
    assert stats["sharpe"] is None
    assert stats["cagr"] is None


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (timedelta(days=1), 252),
        (timedelta(days=7), 52),
        (timedelta(days=30), 12),
        (timedelta(days=31), 12),
        (timedelta(days=91), 4),
        (timedelta(hours=1), 8760),
        (timedelta(minutes=5), 105_120),
        (timedelta(minutes=1), 525_600),
    ],
)
def test_periods_per_year_from_the_median_spacing(step: timedelta, expected: float) -> None:
    times = [T0 + i * step for i in range(10)]
    assert infer_periods_per_year(times) == pytest.approx(expected)


def test_weekends_do_not_change_daily_bars() -> None:
    weekdays = [T0 + i * DAY for i in range(21) if (T0 + i * DAY).weekday() < 5]
    assert infer_periods_per_year(weekdays) == 252
    assert infer_periods_per_year(weekdays[:1]) == 252


def test_given_periods_per_year_are_used_and_checked() -> None:
    stats = compute_stats(curve([100, 101, 99, 102]), [], D(100), periods_per_year=52)
    assert stats["periods_per_year"] == 52
    with pytest.raises(ValueError, match="periods_per_year must be a positive number, got 0"):
        compute_stats(curve([100, 101]), [], D(100), periods_per_year=0)


def test_bad_inputs_are_refused_with_what_was_found() -> None:
    with pytest.raises(ValueError, match="initial_cash must be positive, got 0"):
        compute_stats(curve([100]), [], D(0))
    backwards = [*curve([100, 101]), EquityPoint(T0, D(102), D(102), D(0))]
    with pytest.raises(ValueError, match="point 2 at 2024-01-01T00:00:00"):
        compute_stats(backwards, [], D(100))


EQUITY = st.decimals(min_value="0.01", max_value="1e9", places=2, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(EQUITY, min_size=1, max_size=40),
    initial=EQUITY,
    step=st.sampled_from([timedelta(minutes=5), DAY, timedelta(days=7)]),
)
def test_drawdown_is_a_fraction_and_the_return_matches_the_ends(
    values: list[Decimal], initial: Decimal, step: timedelta
) -> None:
    points = [EquityPoint(T0 + i * step, v, v, D(0)) for i, v in enumerate(values)]
    stats = compute_stats(points, [], initial)
    assert 0.0 <= stats["max_drawdown"] <= 1.0
    assert stats["total_return"] == pytest.approx(float(values[-1] / initial) - 1)
    assert stats["final_equity"] == values[-1]
    assert 0 <= stats["max_drawdown_duration_bars"] <= len(values)
    for value in stats.values():
        assert not (isinstance(value, float) and not math.isfinite(value))
