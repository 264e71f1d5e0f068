"""Fee models, the NSE options charges and the round-trip estimate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from algodesk.domain.fills import OrderSide
from algodesk.domain.matching import (
    Liquidity,
    NoFees,
    NseOptionsFee,
    NseOptionsRates,
    PercentFee,
    PerContractFee,
    PerOrderFee,
    estimate_round_trip_bps,
    load_default_rates,
    parse_nse_options_rates,
    rates_in_force,
)
from algodesk.domain.values import Money, money
from tests.unit.matching.builders import AAPL, NIFTY_CE

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
MAKER, TAKER = Liquidity.MAKER, Liquidity.TAKER


def nse_2026() -> NseOptionsFee:
    return NseOptionsFee(rates_in_force(load_default_rates(), date(2026, 4, 1)))


def test_the_worked_example_of_india_md_costs_exactly_65_02_with_each_component_as_listed() -> None:
    charges = nse_2026().charges(D(65) * D(100), D(65) * D(120), executed_orders=2)

    assert (
        charges.brokerage,
        charges.stt,
        charges.transaction,
        charges.sebi,
        charges.stamp,
        charges.gst,
    ) == (D("40.00"), D("11.70"), D("5.01"), D("0.01"), D("0.20"), D("8.10"))
    assert charges.total == D("65.02")
    assert str(charges.total) == "65.02"


def test_the_same_round_trip_priced_per_fill_costs_one_paisa_more_from_rounding_sebi_twice() -> (
    None
):
    fee = nse_2026()
    buy = fee.fee(NIFTY_CE, BUY, D(65), D(100), TAKER, 0)
    sell = fee.fee(NIFTY_CE, SELL, D(65), D(120), TAKER, 0)

    assert buy == money("26.50", "INR")  # 20 + 2.28 txn + 0.01 SEBI + 0.20 stamp + 4.01 GST
    assert sell == money("38.53", "INR")  # 20 + 11.70 STT + 2.73 txn + 0.01 SEBI + 4.09 GST
    assert (buy + sell).amount == D("65.03")


def test_nse_brokerage_is_charged_on_the_first_fill_of_an_order_only() -> None:
    fee = nse_2026()
    first = fee.fee(NIFTY_CE, BUY, D(65), D(100), MAKER, 0)
    second = fee.fee(NIFTY_CE, BUY, D(65), D(100), MAKER, 1)

    assert (first - second).amount == D("23.60")  # ₹20 brokerage plus 18 % GST on it


@pytest.mark.parametrize(
    ("on", "stt_rate"),
    [
        (date(2024, 10, 1), D("0.001")),
        (date(2026, 3, 31), D("0.001")),
        (date(2026, 4, 1), D("0.0015")),
        (date(2030, 1, 1), D("0.0015")),
    ],
)
def test_the_rates_in_force_are_the_latest_set_starting_on_or_before_the_day(
    on: date, stt_rate: Decimal
) -> None:
    assert rates_in_force(load_default_rates(), on).stt_sell_rate == stt_rate


def test_a_day_before_every_rate_set_has_no_rates_in_force() -> None:
    with pytest.raises(ValueError, match=r"in force on 2020-01-01, earliest is 2024-10-01"):
        rates_in_force(load_default_rates(), date(2020, 1, 1))


def test_rates_are_parsed_from_toml_text_as_exact_decimals() -> None:
    text = """
[[rates]]
effective_from = 2025-01-01
brokerage_per_order = 0
stt_sell_rate = 0.1
transaction_rate = 0.0003503
sebi_rate = 0.000001
stamp_buy_rate = 0.00003
gst_rate = 0.18
"""
    (rates,) = parse_nse_options_rates(text)

    assert rates == NseOptionsRates(
        effective_from=date(2025, 1, 1),
        brokerage_per_order=D(0),
        stt_sell_rate=D("0.1"),
        transaction_rate=D("0.0003503"),
        sebi_rate=D("0.000001"),
        stamp_buy_rate=D("0.00003"),
        gst_rate=D("0.18"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"expected a non-empty array of \[\[rates\]\]"),
        (
            "[[rates]]\neffective_from = 2025-01-01\nstt = 0.1\n",
            r"unknown \['stt'\], missing \['brokerage_per_order'",
        ),
        ("[[rates]]\neffective_from = 2025-01-01\n[extra]\n", r"found keys \['extra', 'rates'\]"),
    ],
)
def test_a_malformed_rates_table_is_refused_with_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_nse_options_rates(text)


def test_the_nse_options_fee_refuses_an_instrument_that_is_not_an_inr_option() -> None:
    with pytest.raises(
        ValueError, match=r"expected an INR option, was AAPL.NASDAQ \(EQUITY, USD\)"
    ):
        nse_2026().fee(AAPL, BUY, D(1), D(100), TAKER, 0)


@pytest.mark.parametrize(
    ("model", "liquidity", "fill_index", "expected"),
    [
        (NoFees(), TAKER, 0, "0"),
        (PercentFee(maker_rate=D("0.0002"), taker_rate=D("0.0005")), MAKER, 0, "0.2002"),
        (PercentFee(maker_rate=D("0.0002"), taker_rate=D("0.0005")), TAKER, 3, "0.5005"),
        (PerOrderFee(D("1.50")), TAKER, 0, "1.50"),
        (PerOrderFee(D("1.50")), TAKER, 1, "0"),
        (PerContractFee(D("0.005")), MAKER, 0, "0.05"),
    ],
)
def test_each_fee_model_prices_a_fill_of_10_at_100_10_as_expected(
    model: NoFees | PercentFee | PerOrderFee | PerContractFee,
    liquidity: Liquidity,
    fill_index: int,
    expected: str,
) -> None:
    fee = model.fee(AAPL, BUY, D(10), D("100.10"), liquidity, fill_index)

    assert fee == Money(D(expected), AAPL.currency)


def test_a_percent_fee_is_charged_on_the_notional_including_the_multiplier() -> None:
    fee = PercentFee(maker_rate=D(0), taker_rate=D("0.001"))

    assert fee.fee(NIFTY_CE, SELL, D(65), D("100.05"), TAKER, 0).amount == D("6.50325")


@pytest.mark.parametrize(
    "build",
    [
        lambda: PercentFee(maker_rate=0.001, taker_rate=D(0)),  # type: ignore[arg-type]
        lambda: PerOrderFee(20),  # type: ignore[arg-type]
    ],
)
def test_a_fee_model_refuses_a_rate_that_is_not_a_decimal(build: object) -> None:
    with pytest.raises(TypeError, match="expected a Decimal, was"):
        build()  # type: ignore[operator]


def test_a_negative_fee_rate_is_refused_because_a_fill_fee_is_never_negative() -> None:
    with pytest.raises(
        ValueError, match=r"maker_rate: expected a finite Decimal >= 0, was -0.0001"
    ):
        PercentFee(maker_rate=D("-0.0001"), taker_rate=D(0))


def test_a_round_trip_at_ten_bps_taker_each_way_costs_twenty_bps_of_the_entry_notional() -> None:
    model = PercentFee(maker_rate=D(0), taker_rate=D("0.001"))

    assert estimate_round_trip_bps(model, AAPL, D(10), D(100)) == D(20)


def test_the_nse_round_trip_estimate_includes_stt_on_the_exit_sell() -> None:
    bps = estimate_round_trip_bps(nse_2026(), NIFTY_CE, D(65), D(100))

    # buy 26.50 + sell 36.05 (20 + 9.75 STT + 2.28 + 0.01 + 4.01 GST) = 62.55 on 6500
    assert bps.quantize(D("0.0001")) == D("96.2308")


def test_a_round_trip_estimate_on_zero_notional_is_refused() -> None:
    with pytest.raises(ValueError, match=r"expected a non-zero notional, was 0 × 100"):
        estimate_round_trip_bps(NoFees(), AAPL, D(0), D(100))
