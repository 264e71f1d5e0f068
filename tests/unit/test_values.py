"""Money, prices and quantities are exact, refuse floats and never mix currencies."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

import pytest

from algodesk.domain.values import (
    Currency,
    CurrencyMismatchError,
    Money,
    Price,
    Quantity,
    canonical_decimal,
    money,
    price,
    quantity,
    round_to_increment,
    to_decimal,
)


@pytest.mark.parametrize(
    "make", [lambda: money(0.1, "USD"), lambda: price(1.5), lambda: quantity(2.0)]
)
def test_a_float_is_refused_with_a_type_error(make: object) -> None:
    with pytest.raises(TypeError, match="float"):
        make()  # type: ignore[operator]


def test_a_float_smuggled_into_a_value_type_is_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        Money(0.1, Currency("USD"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float"):
        Price(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float"):
        money("1", "USD") * 1.5  # type: ignore[operator]


def test_decimal_strings_are_exact() -> None:
    assert money("0.1", "USD") + money("0.2", "USD") == money("0.3", "USD")
    assert to_decimal("1e-8") == Decimal("0.00000001")


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "abc", ""])
def test_non_finite_or_garbage_text_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="expected a"):
        to_decimal(bad)


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(TypeError, match="bool"):
        to_decimal(True)


def test_arithmetic_across_currencies_raises() -> None:
    with pytest.raises(CurrencyMismatchError, match="USD and INR"):
        money("1", "USD") + money("1", "INR")
    with pytest.raises(CurrencyMismatchError):
        _ = money("1", "USD") < money("2", "INR")


def test_money_arithmetic_and_text() -> None:
    m = money("10.50", "INR")
    assert str(m * 3) == "31.5 INR"
    assert -m == money("-10.5", "INR")
    assert (m - m).is_zero()
    assert 2 * m == money("21", "INR")


def test_currency_codes_are_validated() -> None:
    assert str(Currency("USDT")) == "USDT"
    with pytest.raises(ValueError, match="currency code"):
        Currency("usd")


def test_quantities_are_never_negative() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        quantity("-1")
    with pytest.raises(ValueError, match=">= 0"):
        quantity("1") - quantity("2")


@pytest.mark.parametrize(
    ("value", "tick", "rounding", "expected"),
    [
        ("101.03", "0.05", None, "101.05"),
        ("101.025", "0.05", None, "101.00"),
        ("101.01", "0.05", ROUND_UP, "101.05"),
        ("0.123456789", "0.00000001", ROUND_DOWN, "0.12345678"),
        ("149", "75", ROUND_DOWN, "75"),
    ],
)
def test_round_to_increment(value: str, tick: str, rounding: str | None, expected: str) -> None:
    args = (Decimal(value), Decimal(tick)) + ((rounding,) if rounding else ())
    assert round_to_increment(*args) == Decimal(expected)


def test_quantity_rounds_down_to_a_lot_so_it_never_grows() -> None:
    assert quantity("149").round_to_step(Decimal(75)) == Quantity(Decimal(75))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1.50", "1.5"),
        ("15E-1", "1.5"),
        ("1E+2", "100"),
        ("-0.000", "0"),
        ("0.00000001", "0.00000001"),
    ],
)
def test_canonical_text_is_unique_per_number(value: str, text: str) -> None:
    assert canonical_decimal(Decimal(value)) == text
