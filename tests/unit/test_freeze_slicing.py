"""Freeze-quantity slicing: whole lots, each child at most the freeze quantity."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algodesk.adapters.instruments.kite_csv import load_kite_instruments
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.market.slicing import (
    SlicingError,
    max_child_quantity,
    slice_closing,
    slice_order,
    slice_quantity,
)
from algodesk.domain.values import Currency, quantity

KITE_FILE = Path(__file__).parents[1] / "data" / "kite_instruments.csv"
D = Decimal


def kite(symbol: str, **freeze: object) -> Instrument:
    imported = load_kite_instruments(KITE_FILE, **freeze)  # type: ignore[arg-type]
    return imported.by_id()[InstrumentId(symbol)]


def test_nifty_children_are_at_most_27_lots_under_a_freeze_of_1800() -> None:
    assert max_child_quantity(D(65), D(1800)) == D(1755)
    assert slice_quantity(D(3640), D(65), D(1800)) == (D(1755), D(1755), D(130))
    assert slice_quantity(D(1755), D(65), D(1800)) == (D(1755),)
    assert slice_quantity(D(1820), D(65), D(1800)) == (D(1755), D(65))


def test_a_published_1756_means_the_same_as_1800() -> None:
    """Some masters publish max_lots × lot + 1: 27 × 65 + 1 = 1756 trips the freeze."""
    assert max_child_quantity(D(65), D(1756)) == D(1755)
    for qty in (D(65), D(1755), D(1820), D(6500), D(65 * 200)):
        assert slice_quantity(qty, D(65), D(1756)) == slice_quantity(qty, D(65), D(1800))


def test_a_banknifty_freeze_of_whole_lots_is_itself_an_allowed_child() -> None:
    assert max_child_quantity(D(30), D(600)) == D(600)  # NSE: at most 600 in one order
    assert max_child_quantity(D(30), D(601)) == D(600)  # the "+1" publication
    assert slice_quantity(D(1200), D(30), D(600)) == (D(600), D(600))
    assert slice_quantity(D(1200), D(30), D(601)) == (D(600), D(600))


def test_exact_multiples_of_the_largest_child_give_equal_children() -> None:
    assert slice_quantity(D(1755 * 4), D(65), D(1800)) == (D(1755),) * 4
    assert slice_quantity(D(600 * 3), D(30), D(600)) == (D(600),) * 3


def test_a_quantity_that_is_not_whole_lots_is_refused() -> None:
    with pytest.raises(SlicingError) as exc:
        slice_quantity(D(100), D(65), D(1800))
    assert exc.value.code == "NOT_LOT_MULTIPLE"
    assert "quantity 100" in str(exc.value)
    assert "lots of 65" in str(exc.value)
    with pytest.raises(SlicingError) as exc:
        slice_quantity(D(100), D(65), None)  # without a freeze the lot rule still holds
    assert exc.value.code == "NOT_LOT_MULTIPLE"


@pytest.mark.parametrize("qty", [D(0), D(-65)])
def test_nothing_to_slice_is_refused(qty: Decimal) -> None:
    with pytest.raises(SlicingError) as exc:
        slice_quantity(qty, D(65), D(1800))
    assert exc.value.code == "NOT_POSITIVE"


def test_without_a_freeze_quantity_the_order_is_one_child() -> None:
    assert slice_quantity(D(65 * 1000), D(65), None) == (D(65000),)


def test_a_freeze_that_leaves_no_room_for_one_lot_is_refused() -> None:
    for freeze in (D(64), D(30)):
        with pytest.raises(SlicingError) as exc:
            slice_quantity(D(650), D(65), freeze)
        assert exc.value.code == "FREEZE_BELOW_LOT"
        assert str(freeze) in str(exc.value)


def test_fractional_lots_slice_exactly() -> None:
    assert slice_quantity(D("0.005"), D("0.001"), D("0.0025")) == (
        D("0.002"),
        D("0.002"),
        D("0.001"),
    )


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        slice_quantity(1755.0, D(65), D(1800))  # type: ignore[arg-type]


def test_instruments_from_the_kite_dump_slice_with_the_table_freeze_quantities() -> None:
    nifty = kite("NIFTY26D0826100PE.NFO")
    assert nifty.freeze_quantity == D(1800)
    assert [q.value for q in slice_order(nifty, quantity(65 * 60))] == [
        D(1755),
        D(1755),
        D(390),
    ]
    banknifty = kite("BANKNIFTY26DEC59000CE.NFO")
    assert banknifty.freeze_quantity == D(600)
    assert [q.value for q in slice_order(banknifty, quantity(900))] == [D(600), D(300)]
    # An override with the broker's "+1" figure.
    overridden = kite("BANKNIFTY26DEC59000CE.NFO", freeze_quantities={"BANKNIFTY": 601})
    assert [q.value for q in slice_order(overridden, quantity(900))] == [D(600), D(300)]
    equity = kite("RELIANCE.NSE")
    assert equity.freeze_quantity is None
    assert [q.value for q in slice_order(equity, quantity(5000))] == [D(5000)]


def test_slice_order_names_the_instrument_when_it_refuses() -> None:
    nifty = kite("NIFTY26DECFUT.NFO")
    with pytest.raises(SlicingError) as exc:
        slice_order(nifty, quantity(100))
    assert exc.value.code == "NOT_LOT_MULTIPLE"
    assert "NIFTY26DECFUT.NFO" in str(exc.value)
    tight = replace(nifty, freeze_quantity=D(64))
    with pytest.raises(SlicingError) as exc:
        slice_order(tight, quantity(130))
    assert exc.value.code == "FREEZE_BELOW_LOT"


LOTS = st.sampled_from([D(1), D(15), D(25), D(30), D(65), D(75), D(120), D("0.001"), D("0.5")])


@st.composite
def orders(draw: st.DrawFn) -> tuple[Decimal, Decimal, Decimal]:
    lot = draw(LOTS)
    lots = draw(st.integers(min_value=1, max_value=2000))
    # Any freeze above one lot, whether or not it is itself a whole number of lots.
    freeze_units = draw(st.integers(min_value=1, max_value=100 * 1000))
    freeze = lot + lot * D(freeze_units) / D(1000)
    return lot * lots, lot, freeze


@settings(max_examples=300, deadline=None)
@given(orders())
def test_slicing_properties(order: tuple[Decimal, Decimal, Decimal]) -> None:
    qty, lot, freeze = order
    children = slice_quantity(qty, lot, freeze)
    assert sum(children, D(0)) == qty
    assert all(child <= freeze for child in children)
    assert all(child > 0 and child % lot == 0 for child in children)
    assert list(children) == sorted(children, reverse=True)
    biggest = max_child_quantity(lot, freeze)
    assert biggest <= freeze < biggest + lot  # no whole-lot child between biggest and freeze
    whole, rest = divmod(qty, biggest)
    assert len(children) == whole + (1 if rest else 0)  # the fewest children possible


# -- closing orders ------------------------------------------------------------------------------

NIFTY_LIKE = Instrument(
    InstrumentId("LOTS.PAPER"),
    AssetClass.EQUITY,
    Currency("INR"),
    D("0.05"),
    lot_size=D(65),
    freeze_quantity=D(1800),
)


@pytest.mark.parametrize(
    ("held", "children"),
    [
        ("1755", ["1755"]),
        ("3640", ["1755", "1755", "130"]),
        ("1775", ["1775"]),  # at most the freeze quantity: whole, odd lots and all
        ("3660", ["1755", "1755", "130", "20"]),  # an odd 20 (an old lot size) goes last
        ("20", ["20"]),
    ],
)
def test_a_close_is_sliced_whole_lots_first_and_never_refused(
    held: str, children: list[str]
) -> None:
    parts = slice_closing(NIFTY_LIKE, quantity(held))
    assert [str(p.value) for p in parts] == children
    assert sum(p.value for p in parts) == D(held)


def test_a_close_without_a_usable_freeze_goes_whole() -> None:
    assert slice_closing(replace(NIFTY_LIKE, freeze_quantity=None), quantity("9000")) == (
        quantity("9000"),
    )
    below_a_lot = replace(NIFTY_LIKE, freeze_quantity=D(50))
    assert slice_closing(below_a_lot, quantity("130")) == (quantity("130"),)
