"""Option expiry and strike resolution on an instrument master in the Kite CSV format.

The chain is loaded through the Kite importer from ``tests/data/kite_instruments.csv``: NIFTY
options for 23 Nov 2026 (the November expiry, moved from Tuesday 24 Nov, Guru Nanak Jayanti),
1 and 8 Dec (weekly), 29 Dec (monthly) and 25 Jan 2027 (monthly, moved from Republic Day);
BANKNIFTY monthly options for 23 Nov and 29 Dec. Today is Saturday 21 Nov 2026.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.instruments.kite_csv import load_kite_instruments
from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.market.options import (
    ExpiryRule,
    Moneyness,
    OptionChain,
    OptionChainError,
    StrikeOffset,
    parse_expiry,
)
from algodesk.domain.market.slicing import slice_order
from algodesk.domain.values import Currency, quantity

KITE_FILE = Path(__file__).parents[1] / "data" / "kite_instruments.csv"
TODAY = date(2026, 11, 21)
SPOT_AT = datetime(2026, 11, 20, 9, 59, 58, tzinfo=UTC)
WEEKLY_1_DEC = date(2026, 12, 1)


@pytest.fixture(scope="module")
def chain() -> OptionChain:
    imported = load_kite_instruments(KITE_FILE)
    assert imported.problems == ()
    return OptionChain(imported.instruments)


def resolve(chain: OptionChain, offset: str, right: str, spot: str, **kw: object) -> Decimal:
    kw.setdefault("expiry", WEEKLY_1_DEC)
    kw.setdefault("today", TODAY)
    resolved = chain.resolve(
        "NIFTY",
        offset=offset,
        right=right,
        spot=Decimal(spot),
        spot_at=SPOT_AT,
        **kw,  # type: ignore[arg-type]
    )
    return resolved.strike


def refusal(exc: pytest.ExceptionInfo[OptionChainError]) -> str:
    return exc.value.code


# --- listing -----------------------------------------------------------------------------------


def test_the_chain_lists_underlyings_expiries_and_strikes_from_the_dump(chain: OptionChain) -> None:
    assert chain.underlyings() == ("BANKNIFTY", "NIFTY")
    assert chain.expiries("NIFTY") == (
        date(2026, 11, 23),
        date(2026, 12, 1),
        date(2026, 12, 8),
        date(2026, 12, 29),
        date(2027, 1, 25),
    )
    assert chain.expiries("banknifty", venue="NFO") == (date(2026, 11, 23), date(2026, 12, 29))
    strikes = chain.strikes("NIFTY", WEEKLY_1_DEC, OptionRight.CALL)
    assert strikes == tuple(Decimal(k) for k in range(25800, 26201, 50))
    assert chain.strikes("NIFTY", date(2026, 12, 29), "PE")[:5] == tuple(
        Decimal(k) for k in (25600, 25700, 25800, 25900, 25950)
    )
    assert chain.strikes("NIFTY", date(2026, 11, 24), "CE") == ()


def test_futures_indices_and_equities_are_not_part_of_the_option_chain(
    chain: OptionChain,
) -> None:
    with pytest.raises(OptionChainError) as exc:
        chain.expiries("RELIANCE")
    assert refusal(exc) == "NO_SUCH_UNDERLYING"
    assert "RELIANCE" in str(exc.value)


def test_an_underlying_on_another_venue_is_refused(chain: OptionChain) -> None:
    with pytest.raises(OptionChainError) as exc:
        chain.expiries("NIFTY", venue=Venue("BFO"))
    assert refusal(exc) == "NO_SUCH_UNDERLYING"
    assert "listed on NFO" in str(exc.value)


def test_a_contract_is_looked_up_by_its_terms_not_its_symbol(chain: OptionChain) -> None:
    found = chain.contract("NIFTY", date(2026, 11, 23), Decimal("26000.0"), "PE")
    assert found.id == InstrumentId("NIFTY26NOV26000PE.NFO")
    with pytest.raises(OptionChainError) as exc:
        chain.contract("NIFTY", date(2026, 11, 23), Decimal(26025), "PE")
    assert refusal(exc) == "NO_SUCH_CONTRACT"


# --- expiry rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "rule", "expected"),
    [
        # Saturday 21 Nov: the week's Tuesday (24 Nov) is a holiday, so Monday 23 Nov is listed.
        (TODAY, "nearest", date(2026, 11, 23)),
        (TODAY, "weekly", date(2026, 11, 23)),
        (TODAY, "next-weekly", date(2026, 12, 1)),
        (TODAY, "monthly", date(2026, 11, 23)),  # the holiday-moved expiry is November's last
        (TODAY, "next-monthly", date(2026, 12, 29)),
        # On an expiry day, that expiry is still the nearest.
        (date(2026, 11, 23), "weekly", date(2026, 11, 23)),
        (date(2026, 11, 23), "monthly", date(2026, 11, 23)),
        # On 24 Nov (the holiday) November's expiry has passed: the month boundary moves on.
        (date(2026, 11, 24), "weekly", date(2026, 12, 1)),
        (date(2026, 11, 24), "monthly", date(2026, 12, 29)),
        (date(2026, 11, 24), "next-monthly", date(2027, 1, 25)),
        (date(2026, 11, 30), "monthly", date(2026, 12, 29)),
        (date(2026, 12, 2), "next-weekly", date(2026, 12, 29)),  # only the listed expiries count
        (date(2026, 12, 29), "nearest", date(2026, 12, 29)),
        (date(2026, 12, 30), "weekly", date(2027, 1, 25)),  # January's moved monthly
        (date(2026, 12, 30), "monthly", date(2027, 1, 25)),
    ],
)
def test_expiry_rules_are_evaluated_on_the_listed_expiries(
    chain: OptionChain, today: date, rule: str, expected: date
) -> None:
    assert chain.resolve_expiry("NIFTY", rule, today) == expected


def test_banknifty_has_only_monthly_expiries_so_weekly_is_the_nearest_monthly(
    chain: OptionChain,
) -> None:
    assert chain.resolve_expiry("BANKNIFTY", ExpiryRule.WEEKLY, TODAY) == date(2026, 11, 23)
    assert chain.resolve_expiry("BANKNIFTY", ExpiryRule.NEXT_WEEKLY, TODAY) == date(2026, 12, 29)
    assert chain.resolve_expiry("BANKNIFTY", ExpiryRule.NEXT_MONTHLY, TODAY) == date(2026, 12, 29)


def test_an_explicit_expiry_must_be_listed_and_not_past(chain: OptionChain) -> None:
    assert chain.resolve_expiry("NIFTY", date(2026, 12, 8), TODAY) == date(2026, 12, 8)
    assert chain.resolve_expiry("NIFTY", "2026-12-29", TODAY) == date(2026, 12, 29)
    with pytest.raises(OptionChainError) as exc:
        chain.resolve_expiry("NIFTY", date(2026, 11, 24), TODAY)  # the holiday: nothing listed
    assert refusal(exc) == "NO_EXPIRY"
    assert "2026-11-24" in str(exc.value)
    assert "2026-11-23" in str(exc.value)  # the message shows what is listed
    with pytest.raises(OptionChainError) as exc:
        chain.resolve_expiry("NIFTY", date(2026, 11, 17), TODAY)
    assert refusal(exc) == "EXPIRY_PASSED"
    assert "2026-11-17" in str(exc.value)
    assert "2026-11-21" in str(exc.value)


def test_a_rule_with_nothing_left_to_name_is_refused(chain: OptionChain) -> None:
    with pytest.raises(OptionChainError) as exc:
        chain.resolve_expiry("NIFTY", "next-monthly", date(2026, 12, 30))
    assert refusal(exc) == "NO_EXPIRY"
    assert "next-monthly" in str(exc.value)
    with pytest.raises(OptionChainError) as exc:
        chain.resolve_expiry("NIFTY", "nearest", date(2027, 1, 26))
    assert refusal(exc) == "NO_EXPIRY"


def test_expiry_rules_parse_in_any_case_and_bad_ones_are_refused() -> None:
    assert parse_expiry("Next_Weekly") is ExpiryRule.NEXT_WEEKLY
    assert parse_expiry(" MONTHLY ") is ExpiryRule.MONTHLY
    assert parse_expiry("2026-12-08") == date(2026, 12, 8)
    for bad in ("fortnightly", "", "2026-02-30", "29DEC26"):
        with pytest.raises(OptionChainError) as exc:
            parse_expiry(bad)
        assert refusal(exc) == "BAD_EXPIRY_RULE"


# --- strikes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spot", "atm"),
    [
        ("26012.35", "26000"),
        ("26025", "26000"),  # a tie goes to the lower strike
        ("26025.05", "26050"),
        ("25974.95", "25950"),
        ("25975", "25950"),  # a tie again
        ("30000", "26200"),  # above the list: the top listed strike is the nearest
        ("0.05", "25800"),
    ],
)
def test_atm_is_the_listed_strike_nearest_the_spot(chain: OptionChain, spot: str, atm: str) -> None:
    assert resolve(chain, "ATM", "CE", spot) == Decimal(atm)
    assert resolve(chain, "ATM", "PE", spot) == Decimal(atm)


@pytest.mark.parametrize(
    ("offset", "right", "strike"),
    [
        ("ITM1", "CE", "25950"),
        ("ITM3", "CE", "25850"),
        ("OTM1", "CE", "26050"),
        ("OTM2", "CE", "26100"),
        ("OTM4", "CE", "26200"),
        ("ITM1", "PE", "26050"),
        ("ITM4", "PE", "26200"),
        ("OTM1", "PE", "25950"),
        ("OTM2", "PE", "25900"),
        ("otm4", "pe", "25800"),
    ],
)
def test_itm_and_otm_count_listed_strikes_from_atm(
    chain: OptionChain, offset: str, right: str, strike: str
) -> None:
    assert resolve(chain, offset, right, "26012.35") == Decimal(strike)


def test_strikes_come_from_the_listing_not_from_rounding(chain: OptionChain) -> None:
    """29 Dec lists ..., 25800, 25900, 25950, 26000, 26050, 26100, 26200, ...: 26150 and 25850
    would come out of round(spot / 50) × 50, but they are not listed."""
    monthly = date(2026, 12, 29)
    assert resolve(chain, "ATM", "CE", "26160", expiry=monthly) == Decimal(26200)
    assert resolve(chain, "ITM1", "CE", "26160", expiry=monthly) == Decimal(26100)
    assert resolve(chain, "ATM", "PE", "25860", expiry=monthly) == Decimal(25900)
    assert resolve(chain, "ITM2", "CE", "25930", expiry=monthly) == Decimal(25800)
    assert resolve(chain, "OTM1", "PE", "25930", expiry=monthly) == Decimal(25900)


def test_the_result_records_what_it_was_resolved_from(chain: OptionChain) -> None:
    resolved = chain.resolve(
        "nifty",
        expiry="weekly",
        offset="OTM2",
        right=OptionRight.PUT,
        spot=Decimal("26012.35"),
        spot_at=SPOT_AT,
        today=TODAY,
    )
    assert resolved.instrument.id == InstrumentId("NIFTY26NOV25900PE.NFO")
    assert resolved.underlying == "NIFTY"
    assert resolved.expiry == date(2026, 11, 23)
    assert resolved.right is OptionRight.PUT
    assert resolved.offset == StrikeOffset(Moneyness.OTM, 2)
    assert resolved.atm_strike == Decimal(26000)
    assert resolved.strike == Decimal(25900)
    assert resolved.spot == Decimal("26012.35")
    assert resolved.spot_at == SPOT_AT
    # Lot, tick and freeze quantity come from the resolved row.
    assert resolved.instrument.lot_size == Decimal(65)
    assert resolved.instrument.tick_size == Decimal("0.05")
    assert resolved.instrument.freeze_quantity == Decimal(1800)
    children = slice_order(resolved.instrument, quantity(3640))
    assert [c.value for c in children] == [Decimal(1755), Decimal(1755), Decimal(130)]


def test_banknifty_resolves_on_its_own_strikes(chain: OptionChain) -> None:
    resolved = chain.resolve(
        "BANKNIFTY",
        expiry="monthly",
        offset="ITM2",
        right="CE",
        spot=Decimal("59049.90"),
        spot_at=SPOT_AT,
        today=date(2026, 11, 24),
    )
    assert resolved.atm_strike == Decimal(59000)
    assert resolved.instrument.id == InstrumentId("BANKNIFTY26DEC58800CE.NFO")
    assert resolved.instrument.freeze_quantity == Decimal(600)
    assert resolved.instrument.lot_size == Decimal(30)


@pytest.mark.parametrize(
    ("offset", "right", "direction"),
    [
        ("OTM5", "CE", "above"),
        ("ITM5", "PE", "above"),
        ("ITM6", "CE", "below"),
        ("OTM9", "PE", "below"),
    ],
)
def test_running_off_the_chain_is_refused(
    chain: OptionChain, offset: str, right: str, direction: str
) -> None:
    with pytest.raises(OptionChainError) as exc:
        resolve(chain, offset, right, "26012.35")
    assert refusal(exc) == "STRIKE_OFF_CHAIN"
    message = str(exc.value)
    assert direction in message
    assert "26000" in message  # the ATM strike
    assert "26012.35" in message  # the spot
    assert "25800..26200" in message  # the listed range


def test_at_the_top_of_the_list_nothing_is_out_of_the_money_for_a_call(
    chain: OptionChain,
) -> None:
    assert resolve(chain, "ITM8", "CE", "30000") == Decimal(25800)
    with pytest.raises(OptionChainError) as exc:
        resolve(chain, "OTM1", "CE", "30000")
    assert refusal(exc) == "STRIKE_OFF_CHAIN"


@pytest.mark.parametrize("spot", ["0", "-1", "0.00"])
def test_a_spot_that_is_not_positive_is_refused(chain: OptionChain, spot: str) -> None:
    """A zero spot on a holiday once resolved to the lowest listed strike."""
    with pytest.raises(OptionChainError) as exc:
        resolve(chain, "ATM", "CE", spot)
    assert refusal(exc) == "SPOT_NOT_POSITIVE"
    assert "expected a spot price > 0" in str(exc.value)


def test_a_float_spot_or_a_local_time_is_refused(chain: OptionChain) -> None:
    with pytest.raises(TypeError):
        chain.resolve(
            "NIFTY",
            expiry="weekly",
            offset="ATM",
            right="CE",
            spot=26000.5,  # type: ignore[arg-type]
            spot_at=SPOT_AT,
            today=TODAY,
        )
    ist = timezone(timedelta(hours=5, minutes=30))
    with pytest.raises(ValueError, match="UTC"):
        chain.resolve(
            "NIFTY",
            expiry="weekly",
            offset="ATM",
            right="CE",
            spot=Decimal(26000),
            spot_at=datetime(2026, 11, 20, 15, 29, tzinfo=ist),
            today=TODAY,
        )


def test_past_expiries_are_refused_in_resolution(chain: OptionChain) -> None:
    with pytest.raises(OptionChainError) as exc:
        resolve(chain, "ATM", "CE", "26000", expiry=date(2026, 11, 23), today=date(2026, 11, 24))
    assert refusal(exc) == "EXPIRY_PASSED"


def test_unknown_underlying_and_bad_right_are_refused(chain: OptionChain) -> None:
    with pytest.raises(OptionChainError) as exc:
        chain.resolve(
            "FINNIFTY",
            expiry="monthly",
            offset="ATM",
            right="CE",
            spot=Decimal(27000),
            spot_at=SPOT_AT,
            today=TODAY,
        )
    assert refusal(exc) == "NO_SUCH_UNDERLYING"
    with pytest.raises(OptionChainError) as exc:
        resolve(chain, "ATM", "XE", "26000")
    assert refusal(exc) == "BAD_RIGHT"


# --- offsets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "moneyness", "steps"),
    [
        ("ATM", Moneyness.ATM, 0),
        ("atm", Moneyness.ATM, 0),
        ("OTM2", Moneyness.OTM, 2),
        ("itm10", Moneyness.ITM, 10),
        (" Otm50 ", Moneyness.OTM, 50),
        ("ITM1", Moneyness.ITM, 1),
    ],
)
def test_offsets_parse_in_any_case(text: str, moneyness: Moneyness, steps: int) -> None:
    offset = StrikeOffset.parse(text)
    assert offset == StrikeOffset(moneyness, steps)
    assert str(offset) == text.strip().upper()


@pytest.mark.parametrize("text", ["ITM0", "OTM51", "ITM", "ATM1", "XTM1", "", "OTM-1", "OTM 2"])
def test_bad_offsets_are_refused(text: str) -> None:
    with pytest.raises(OptionChainError) as exc:
        StrikeOffset.parse(text)
    assert refusal(exc) == "BAD_OFFSET"


def test_offsets_built_directly_are_checked_too() -> None:
    with pytest.raises(OptionChainError, match=r"OTM1\.\.OTM50"):
        StrikeOffset(Moneyness.OTM, 51)
    with pytest.raises(OptionChainError, match="ATM takes no steps"):
        StrikeOffset(Moneyness.ATM, 1)


def test_a_chain_with_two_listings_of_one_contract_is_refused() -> None:
    imported = load_kite_instruments(KITE_FILE)
    original = next(i for i in imported.instruments if i.symbol == "NIFTY26D0126000CE")
    twin = replace(original, id=InstrumentId("NIFTY26D0126000CE_X.NFO"))
    with pytest.raises(OptionChainError) as exc:
        OptionChain([*imported.instruments, twin])
    assert refusal(exc) == "DUPLICATE_CONTRACT"


def _contract(expiry: date, kind: str) -> Instrument:
    tag = expiry.strftime("%y%m%d")
    if kind == "FUT":
        return Instrument(
            InstrumentId(f"NIFTY{tag}FUT.NFO"), AssetClass.FUTURE, Currency("INR"),
            Decimal("0.1"), lot_size=Decimal(65), underlying="NIFTY", expiry=expiry,
        )  # fmt: skip
    return Instrument(
        InstrumentId(f"NIFTY{tag}25000CE.NFO"), AssetClass.OPTION, Currency("INR"),
        Decimal("0.05"), lot_size=Decimal(65), underlying="NIFTY", expiry=expiry,
        strike=Decimal(25000), right=OptionRight.CALL,
    )  # fmt: skip


def test_a_weekly_moved_into_the_previous_month_is_not_the_monthly() -> None:
    """1 May 2029 is a Tuesday and an NSE holiday: that week's expiry moves to Monday 30 April,
    the last listed April expiry, but April's monthly is the 24th (the futures' expiry)."""
    monthly_apr, moved_weekly, monthly_may = date(2029, 4, 24), date(2029, 4, 30), date(2029, 5, 29)
    options = [_contract(d, "CE") for d in (monthly_apr, moved_weekly, monthly_may)]
    futures = [_contract(d, "FUT") for d in (monthly_apr, monthly_may)]
    chain = OptionChain([*options, *futures])
    assert chain.resolve_expiry("NIFTY", "monthly", date(2029, 4, 20)) == monthly_apr
    assert chain.resolve_expiry("NIFTY", "monthly", date(2029, 4, 25)) == monthly_may
    assert chain.resolve_expiry("NIFTY", "next-monthly", date(2029, 4, 20)) == monthly_may
    assert chain.resolve_expiry("NIFTY", "weekly", date(2029, 4, 25)) == moved_weekly
    # Without futures in the master, the last expiry of each month is the fallback.
    assert (
        OptionChain(options).resolve_expiry("NIFTY", "monthly", date(2029, 4, 25)) == moved_weekly
    )
