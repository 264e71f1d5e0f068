"""Charges on NSE index-option trades: brokerage, STT, transaction charge, SEBI fee, stamp, GST.

The rates are dated and shipped as data (``data/nse_options_rates.toml``). Parsing takes the
TOML text (:func:`parse_nse_options_rates`); reading the packaged file is the one I/O step and
lives in :func:`load_default_rates`, which nothing calls at import time.

Each component is rounded to the paisa (0.01, half up) and GST is 18 % of the rounded brokerage,
transaction charge and SEBI fee, as on a contract note. Brokers round in different ways, so
the charges of a round trip priced in one call (:meth:`NseOptionsFee.charges` on the day's
turnover) can differ by a paisa or two from the sum of per-fill fees (:meth:`NseOptionsFee.fee`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources

from algodesk.domain.fills import OrderSide
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.matching._checks import require_non_negative
from algodesk.domain.matching.fees import Liquidity
from algodesk.domain.values import Currency, Money, exact, round_to_increment, to_decimal

__all__ = [
    "NseCharges",
    "NseOptionsFee",
    "NseOptionsRates",
    "load_default_rates",
    "parse_nse_options_rates",
    "rates_in_force",
]

_PAISA = Decimal("0.01")
_ZERO = Decimal(0)
_INR = Currency("INR")
_RATES_FILE = "nse_options_rates.toml"


def _to_paise(value: Decimal) -> Decimal:
    return round_to_increment(value, _PAISA, ROUND_HALF_UP).quantize(_PAISA)


@dataclass(frozen=True, slots=True)
class NseOptionsRates:
    """One dated set of rates; fractions of premium, except the brokerage (INR per order)."""

    effective_from: date
    brokerage_per_order: Decimal
    stt_sell_rate: Decimal
    transaction_rate: Decimal
    sebi_rate: Decimal
    stamp_buy_rate: Decimal
    gst_rate: Decimal

    def __post_init__(self) -> None:
        if isinstance(self.effective_from, datetime) or not isinstance(self.effective_from, date):
            raise TypeError(
                f"NseOptionsRates.effective_from: expected a date, was {self.effective_from!r}"
            )
        for f in fields(self)[1:]:
            require_non_negative("NseOptionsRates", f.name, getattr(self, f.name))


@dataclass(frozen=True, slots=True)
class NseCharges:
    """The charges of some trades, each component rounded to the paisa (INR)."""

    brokerage: Decimal
    stt: Decimal
    transaction: Decimal
    sebi: Decimal
    stamp: Decimal
    gst: Decimal

    @property
    def total(self) -> Decimal:
        """The sum of the components."""
        with exact():
            return self.brokerage + self.stt + self.transaction + self.sebi + self.stamp + self.gst


_KEYS = frozenset(f.name for f in fields(NseOptionsRates))


def _parse_entry(index: int, entry: object) -> NseOptionsRates:
    where = f"NSE options rates, entry {index + 1}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a table, was {entry!r}")
    unknown, missing = set(entry) - _KEYS, _KEYS - set(entry)
    if unknown or missing:
        raise ValueError(
            f"{where}: expected exactly the keys {sorted(_KEYS)}; "
            f"unknown {sorted(unknown)}, missing {sorted(missing)}"
        )
    numbers = {k: to_decimal(v) for k, v in entry.items() if k != "effective_from"}
    return NseOptionsRates(effective_from=entry["effective_from"], **numbers)


def parse_nse_options_rates(text: str) -> tuple[NseOptionsRates, ...]:
    """Parse a rates table (TOML, one ``[[rates]]`` table per set) into sets sorted by date.

    Numbers are read as exact decimals, never as floats.

    Raises:
        ValueError: the text is not TOML, a set has unknown or missing keys, or two sets share
            an ``effective_from`` date.
    """
    document = tomllib.loads(text, parse_float=Decimal)
    unknown = set(document) - {"rates"}
    entries = document.get("rates")
    if unknown or not isinstance(entries, list) or not entries:
        raise ValueError(
            "NSE options rates: expected a non-empty array of [[rates]] tables and nothing else, "
            f"found keys {sorted(document)}"
        )
    schedule = sorted(
        (_parse_entry(i, e) for i, e in enumerate(entries)), key=lambda r: r.effective_from
    )
    dates = [r.effective_from for r in schedule]
    if len(set(dates)) != len(dates):
        raise ValueError(f"NSE options rates: expected distinct effective_from dates, was {dates}")
    return tuple(schedule)


def load_default_rates() -> tuple[NseOptionsRates, ...]:
    """The rates shipped with algodesk, sorted by ``effective_from`` (reads a package file)."""
    resource = resources.files(__package__ or __name__).joinpath("data").joinpath(_RATES_FILE)
    return parse_nse_options_rates(resource.read_text(encoding="utf-8"))


def rates_in_force(schedule: tuple[NseOptionsRates, ...], on: date) -> NseOptionsRates:
    """The latest set of ``schedule`` whose ``effective_from`` is on or before ``on``.

    Raises:
        ValueError: every set starts after ``on``.
    """
    in_force = [r for r in schedule if r.effective_from <= on]
    if not in_force:
        first = min((r.effective_from for r in schedule), default=None)
        raise ValueError(f"NSE options rates: expected a set in force on {on}, earliest is {first}")
    return max(in_force, key=lambda r: r.effective_from)


@dataclass(frozen=True, slots=True)
class NseOptionsFee:
    """The fee model of NSE options for one set of rates (pick it with :func:`rates_in_force`)."""

    rates: NseOptionsRates

    def charges(
        self, buy_premium: Decimal, sell_premium: Decimal, executed_orders: int
    ) -> NseCharges:
        """The charges on ``buy_premium`` and ``sell_premium`` (INR) for ``executed_orders``.

        Example: buy 65 @ 100 and sell 65 @ 120 in two orders (premiums 6500 and 7800) under the
        2026 rates give brokerage 40.00, STT 11.70, transaction 5.01, SEBI 0.01, stamp 0.20,
        GST 8.10: 65.02 in all.

        Raises:
            ValueError: a premium or the order count is negative.
        """
        require_non_negative("NseOptionsFee.charges", "buy_premium", buy_premium)
        require_non_negative("NseOptionsFee.charges", "sell_premium", sell_premium)
        if executed_orders < 0:
            raise ValueError(f"NseOptionsFee.charges: expected orders >= 0, was {executed_orders}")
        r = self.rates
        with exact():
            turnover = buy_premium + sell_premium
            brokerage = _to_paise(r.brokerage_per_order * executed_orders)
            transaction = _to_paise(turnover * r.transaction_rate)
            sebi = _to_paise(turnover * r.sebi_rate)
            gst = _to_paise((brokerage + transaction + sebi) * r.gst_rate)
            return NseCharges(
                brokerage=brokerage,
                stt=_to_paise(sell_premium * r.stt_sell_rate),
                transaction=transaction,
                sebi=sebi,
                stamp=_to_paise(buy_premium * r.stamp_buy_rate),
                gst=gst,
            )

    def fee(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        order_fill_index: int,
    ) -> Money:
        """The charges of one fill; the brokerage is taken on the order's first fill only.

        Raises:
            ValueError: ``instrument`` is not an INR option.
        """
        if instrument.asset_class is not AssetClass.OPTION or instrument.currency != _INR:
            raise ValueError(
                f"NseOptionsFee: expected an INR option, was {instrument.id} "
                f"({instrument.asset_class}, {instrument.currency})"
            )
        with exact():
            premium = abs(quantity * price * instrument.multiplier)
        buy, sell = (premium, _ZERO) if side is OrderSide.BUY else (_ZERO, premium)
        orders = 1 if order_fill_index == 0 else 0
        return Money(self.charges(buy, sell, orders).total, instrument.currency)
