"""The HTML report: one self-contained file, charts drawn offline, every text escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from algodesk.backtest.report import write_report
from algodesk.backtest.results import BacktestResult, EquityPoint, OrderRecord, Trade
from algodesk.backtest.stats import compute_stats

D = Decimal
T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
BUNDLE = get_plotlyjs()


def prices(count: int) -> list[tuple[datetime, float, float, float, float]]:
    return [(T0 + i * DAY, 100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i) for i in range(count)]


def a_result(*, strategy: str = "sma_cross", bars: int = 6) -> BacktestResult:
    closed = Trade(
        instrument="NVDA",
        side="LONG",
        entry_time=T0 + DAY,
        entry_price=D("101.00"),
        quantity=D(10),
        commission=D("0.40"),
        pnl=D("19.60"),
        exit_time=T0 + 3 * DAY,
        exit_price=D("103.00"),
        bars=2,
    )
    still_open = Trade(
        instrument="NVDA",
        side="SHORT",
        entry_time=T0 + 4 * DAY,
        entry_price=D("104.00"),
        quantity=D(5),
        commission=D("0.20"),
        pnl=D("-5.20"),
    )
    equity = [
        EquityPoint(T0 + i * DAY, D(v), D(v), D(x))
        for i, (v, x) in enumerate(
            [(10000, 0), (10010, 1010), (9990, 1020), (10019, 0), (10030, 520), (10014, 525)]
        )
    ]
    order = OrderRecord(
        order_id="o-1",
        instrument="NVDA",
        side="BUY",
        order_type="MARKET",
        quantity=D(10),
        status="FILLED",
        created_at=T0 + DAY,
    )
    result = BacktestResult(
        strategy=strategy,
        params={"fast": 10, "slow": 30, "label": "<b>x&y</b>"},
        config={"fee": D("0.0004"), "venue": {"name": "paper", "symbols": ["NVDA"]}},
        trades=[closed],
        open_trades=[still_open],
        orders=[order],
        equity=equity,
        initial_cash=D(10000),
        final_equity=D(10014),
        prices={"NVDA": prices(bars)},
        ledger_verified=True,
    )
    result.stats = compute_stats(equity, [closed, still_open], D(10000))
    return result


def test_the_report_is_one_self_contained_file(tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.html"
    assert write_report(a_result(), path) == path
    page = path.read_text(encoding="utf-8")

    assert page.count(BUNDLE[:400]) == 1  # plotly.js, inlined exactly once
    assert page.count(BUNDLE) == 1
    ours = page.replace(BUNDLE, "")  # the bundle names map-tile CDNs it never loads here
    assert 'src="http' not in page
    assert "<script src" not in ours
    assert "https://cdn" not in ours
    assert '<link rel="stylesheet"' not in ours
    assert ours.count("Plotly.newPlot(") == 3  # equity, drawdown, NVDA
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "<title>sma_cross — backtest report</title>" in page
    assert '<meta name="viewport"' in page


def test_run_texts_appear_escaped(tmp_path: Path) -> None:
    page = write_report(a_result(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<h1>sma_cross</h1>" in page
    assert "&lt;b&gt;x&amp;y&lt;/b&gt;" in page
    assert "<b>x&y</b>" not in page
    assert "{&quot;name&quot;: &quot;paper&quot;, &quot;symbols&quot;: [&quot;NVDA&quot;]}" in page

    hostile = "<script>alert(1)</script>"
    page = write_report(a_result(strategy=hostile), tmp_path / "h.html").read_text("utf-8")
    assert hostile not in page
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; — backtest report</title>" in page


def test_stats_and_every_trade_are_tabulated(tmp_path: Path) -> None:
    result = a_result()
    page = write_report(result, tmp_path / "r.html").read_text(encoding="utf-8")
    stats_part = page.split("<h2>Statistics</h2>", 1)[1].split("</section>", 1)[0]
    for key in result.stats:
        assert f"<th>{key}</th>" in stats_part
    assert '<th>total_return</th><td class="num">0.14%</td>' in stats_part
    assert '<th>total_commission</th><td class="num">0.60</td>' in stats_part

    trades_part = page.split("<h2>Trades</h2>", 1)[1]
    for t in [*result.trades, *result.open_trades]:
        assert t.entry_time.isoformat() in trades_part
    assert "<td>open</td>" in trades_part
    assert "<td>19.60</td>" in trades_part


def test_trades_are_marked_on_candles(tmp_path: Path) -> None:
    page = write_report(a_result(), tmp_path / "r.html").read_text(encoding="utf-8")
    ours = page.replace(BUNDLE, "")
    assert '"type":"candlestick"' in ours
    assert ours.count('"symbol":"triangle-up"') == 2  # the long and the short entry
    assert ours.count('"symbol":"triangle-down"') == 1  # only the closed trade has exited


def test_a_long_price_series_is_drawn_as_a_line(tmp_path: Path) -> None:
    page = write_report(a_result(bars=5001), tmp_path / "r.html").read_text(encoding="utf-8")
    ours = page.replace(BUNDLE, "")
    assert '"type":"scattergl"' in ours
    assert '"type":"candlestick"' not in ours


def test_an_empty_run_still_renders(tmp_path: Path) -> None:
    empty = BacktestResult(
        strategy="idle",
        params={},
        config={},
        trades=[],
        open_trades=[],
        orders=[],
        equity=[],
        initial_cash=D(1000),
        final_equity=D(1000),
    )
    page = write_report(empty, tmp_path / "e.html").read_text(encoding="utf-8")
    assert "No trades." in page
    assert page.replace(BUNDLE, "").count("Plotly.newPlot(") == 2
