"""Typed identifiers and client order ids."""

from __future__ import annotations

from datetime import date

import pytest

from algodesk.domain import client_order_ids
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId, Venue


def test_ids_of_different_kinds_never_compare_equal() -> None:
    assert AccountId("x1") != BotId("x1")
    assert AccountId("x1") == AccountId("x1")
    assert len({AccountId("x1"), BotId("x1")}) == 2


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        (AccountId, ""),
        (AccountId, "has space"),
        (Venue, "nse"),
        (InstrumentId, "AAPL"),
        (ClientOrderId, "abc"),
    ],
)
def test_malformed_ids_are_refused_with_what_was_expected(kind: type, bad: str) -> None:
    with pytest.raises(ValueError, match=f"{kind.__name__}: expected"):
        kind(bad)


def test_an_instrument_id_splits_into_symbol_and_venue() -> None:
    iid = InstrumentId("BRK.B.NYSE")
    assert (iid.symbol, iid.venue) == ("BRK.B", Venue("NYSE"))
    assert InstrumentId.of("M&M", "NSE") == InstrumentId("M&M.NSE")


def test_signal_order_ids_are_stable_and_distinct_per_leg_and_account() -> None:
    a = client_order_ids.for_signal(AccountId("a"), "alert-123", 0)
    assert a == client_order_ids.for_signal(AccountId("a"), "alert-123", 0)
    assert a != client_order_ids.for_signal(AccountId("a"), "alert-123", 1)
    assert a != client_order_ids.for_signal(AccountId("b"), "alert-123", 0)
    assert len(a.value) == 20
    assert a.value.isalnum()
    assert a.value.isupper()


def test_strategy_order_ids_carry_tag_date_and_sequence() -> None:
    coid = client_order_ids.for_strategy("sma", date(2026, 11, 21), 42)
    assert coid == ClientOrderId("SMA26112100000000042")
    with pytest.raises(ValueError, match="does not fit"):
        client_order_ids.for_strategy("LONGTAG1", date(2026, 11, 21), 1_000_000)
