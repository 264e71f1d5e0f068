"""The Kite Connect instrument dump (``GET /instruments``) as :class:`Instrument` values.

Columns: ``instrument_token, exchange_token, tradingsymbol, name, last_price, expiry, strike,
tick_size, lot_size, instrument_type, segment, exchange`` (gzipped or plain; extra columns are
ignored; ``exchange_token`` and ``last_price`` are not used). How a row maps:

- venue = ``exchange``; symbol = ``tradingsymbol`` with each space replaced by ``_``, because an
  :class:`InstrumentId` has no spaces: index rows ``NIFTY 50`` and ``NIFTY BANK`` become
  ``NIFTY_50.NSE`` and ``NIFTY_BANK.NSE`` (:func:`kite_symbol`). The order adapter must send the
  original tradingsymbol; :attr:`KiteImport.tokens` keeps each id's ``instrument_token``.
- ``instrument_type`` EQ → EQUITY, or INDEX when ``segment`` is ``INDICES``; FUT → FUTURE;
  CE/PE → OPTION with that right. Derivatives take ``name`` as the underlying and need an
  ``expiry`` (``YYYY-MM-DD``); options need a strike > 0; a strike of 0 or empty elsewhere is none.
- ``tick_size`` and ``lot_size`` from the row; index rows (watch-only) carry 0 in the dump and get
  tick 0.01 and lot 1. Currency INR.
- Freeze quantities are not in the dump: index derivatives get theirs from the dated table
  ``data/nse.toml`` (:func:`nse_reference`), which ``freeze_quantities`` overrides per
  underlying name (``None`` removes one).
- :attr:`KiteImport.spots` maps each derivative underlying to its spot instrument when the dump
  holds it: the index named in ``data/nse.toml`` (NIFTY → ``NIFTY 50`` on NSE), else the equity of
  the same name on the cash exchange (a stock's F&O on NFO → the NSE equity).

Only NSE, BSE, NFO and BFO rows are imported: on MCX, CDS, BCD and NCO Kite counts quantities in
lots and the dump has no contract multiplier, so an Instrument could not say what a lot is worth.
Those rows are reported (``UNSUPPORTED_EXCHANGE``); pass ``exchanges`` to leave them out quietly.

**Skipped rows.** A dump has ~90,000 rows; one bad row must not block the day. A row that cannot
be represented is skipped and reported as a :class:`RowProblem` (line, column, code, message);
:meth:`InstrumentImport.summary` counts them by code. ``strict=True`` raises on the first instead.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

from algodesk.adapters.instruments.generic_csv import (
    InstrumentImport,
    RowError,
    Source,
    check_width,
    collect,
    decimal_cell,
    iso_date_cell,
    read_csv,
    read_text,
)
from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.values import Currency, DecimalLike, canonical_decimal, to_decimal

__all__ = [
    "KITE_COLUMNS",
    "SUPPORTED_EXCHANGES",
    "FreezeQuantity",
    "KiteImport",
    "NseReference",
    "SpotIndex",
    "kite_symbol",
    "load_kite_instruments",
    "nse_reference",
]

KITE_COLUMNS: Final = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)
_READ = tuple(c for c in KITE_COLUMNS if c not in {"exchange_token", "last_price"})
SUPPORTED_EXCHANGES: Final = frozenset({"NSE", "BSE", "NFO", "BFO"})
_CASH_EXCHANGE: Final = MappingProxyType({"NFO": "NSE", "BFO": "BSE"})
_INR: Final = Currency("INR")
_INDEX_TICK: Final = Decimal("0.01")
_TYPES: Final = MappingProxyType(
    {
        "EQ": AssetClass.EQUITY,
        "FUT": AssetClass.FUTURE,
        "CE": AssetClass.OPTION,
        "PE": AssetClass.OPTION,
    }
)


def kite_symbol(tradingsymbol: str) -> str:
    """Kite's tradingsymbol as an algodesk symbol: each space becomes ``_`` (``NIFTY 50`` →
    ``NIFTY_50``); every other character is kept."""
    return tradingsymbol.strip().replace(" ", "_")


# --- the dated reference table -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpotIndex:
    """The index a derivative ``underlying`` tracks: ``tradingsymbol`` on ``exchange``."""

    underlying: str
    exchange: Venue
    tradingsymbol: str
    derivatives: Venue

    @property
    def instrument_id(self) -> InstrumentId:
        return InstrumentId.of(kite_symbol(self.tradingsymbol), self.exchange)


@dataclass(frozen=True, slots=True)
class FreezeQuantity:
    underlying: str
    quantity: Decimal
    effective: date
    source: str


@dataclass(frozen=True, slots=True)
class NseReference:
    spots: Mapping[str, SpotIndex]
    freezes: Mapping[str, FreezeQuantity]


def _table(doc: Mapping[str, Any], key: str) -> Mapping[str, Mapping[str, Any]]:
    table = doc.get(key)
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ValueError(f"data/nse.toml: expected a table [{key}.NAME] per underlying")
    return table


def _field(entry: Mapping[str, Any], where: str, name: str, kind: type[Any]) -> Any:
    value = entry.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(
            f"data/nse.toml [{where}]: expected {name} ({kind.__name__}), was {value!r}"
        )
    return value


def _reference_from(doc: Mapping[str, Any]) -> NseReference:
    spots: dict[str, SpotIndex] = {}
    for name, entry in _table(doc, "spot").items():
        where = f"spot.{name}"
        spots[name] = SpotIndex(
            underlying=name,
            exchange=Venue(_field(entry, where, "exchange", str)),
            tradingsymbol=_field(entry, where, "symbol", str),
            derivatives=Venue(_field(entry, where, "derivatives", str)),
        )
    freezes: dict[str, FreezeQuantity] = {}
    for name, entry in _table(doc, "freeze").items():
        where = f"freeze.{name}"
        quantity = to_decimal(_field(entry, where, "quantity", int))
        if quantity <= 0:
            raise ValueError(f"data/nse.toml [{where}]: expected quantity > 0, was {quantity}")
        freezes[name] = FreezeQuantity(
            underlying=name,
            quantity=quantity,
            effective=_field(entry, where, "effective", date),
            source=_field(entry, where, "source", str),
        )
    return NseReference(MappingProxyType(spots), MappingProxyType(freezes))


@functools.cache
def nse_reference() -> NseReference:
    """The spot indices and freeze quantities of ``data/nse.toml`` (each freeze dated, sourced)."""
    text = (
        resources.files("algodesk.adapters.instruments")
        .joinpath("data/nse.toml")
        .read_text(encoding="utf-8")
    )
    return _reference_from(tomllib.loads(text))


# --- the import ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KiteImport(InstrumentImport):
    """An :class:`InstrumentImport` with Kite's extras."""

    filtered: int = 0
    """Rows left out by the ``exchanges`` argument (not problems)."""
    tokens: Mapping[InstrumentId, int] = field(default_factory=dict)
    """Kite's ``instrument_token`` of each imported instrument (the ticker subscribes by it)."""
    spots: Mapping[str, Instrument] = field(default_factory=dict)
    """Derivative underlying name → its spot instrument, when the dump holds it."""

    def spot_of(self, underlying: str) -> Instrument | None:
        return self.spots.get(underlying.strip().upper())


def _freezes(overrides: Mapping[str, DecimalLike | None] | None) -> dict[str, Decimal]:
    table = {name: f.quantity for name, f in nse_reference().freezes.items()}
    for name, raw in (overrides or {}).items():
        key = name.strip().upper()
        if raw is None:
            table.pop(key, None)
            continue
        quantity = to_decimal(raw)
        if quantity <= 0:
            raise ValueError(f"freeze_quantities[{name!r}]: expected a quantity > 0, was {raw!r}")
        table[key] = quantity
    return table


@dataclass(frozen=True, slots=True)
class _RowReader:
    header: Mapping[str, int]
    exchanges: frozenset[str] | None
    freezes: Mapping[str, Decimal]
    tokens: dict[InstrumentId, int]

    def cell(self, row: list[str], name: str) -> str:
        position = self.header.get(name)
        return row[position].strip() if position is not None else ""

    def required(self, row: list[str], name: str) -> str:
        text = self.cell(row, name)
        if not text:
            raise RowError("MISSING_VALUE", "expected a value, the cell is empty", name)
        return text

    def __call__(self, row: list[str]) -> Instrument | None:
        check_width(row, len(self.header))
        exchange = self.required(row, "exchange").upper()
        if self.exchanges is not None and exchange not in self.exchanges:
            return None
        if exchange not in SUPPORTED_EXCHANGES:
            raise RowError(
                "UNSUPPORTED_EXCHANGE",
                f"{exchange}: Kite counts quantities there in lots and the dump has no contract "
                f"multiplier; supported: {', '.join(sorted(SUPPORTED_EXCHANGES))}",
                "exchange",
            )
        token_text = self.required(row, "instrument_token")
        if not token_text.isdigit():
            raise RowError(
                "BAD_VALUE", f"expected a whole number, was {token_text!r}", "instrument_token"
            )
        kind = self.required(row, "instrument_type").upper()
        asset_class = _TYPES.get(kind)
        if asset_class is None:
            raise RowError(
                "UNKNOWN_TYPE", f"expected EQ, FUT, CE or PE, was {kind!r}", "instrument_type"
            )
        if asset_class is AssetClass.EQUITY and self.cell(row, "segment").upper() == "INDICES":
            asset_class = AssetClass.INDEX
        raw_symbol = self.required(row, "tradingsymbol")
        try:
            instrument_id = InstrumentId.of(kite_symbol(raw_symbol), Venue(exchange))
        except ValueError:
            raise RowError(
                "BAD_SYMBOL",
                f"cannot make a symbol (1-64 characters, not starting with '.') of {raw_symbol!r}",
                "tradingsymbol",
            ) from None
        tick, lot = self.sizes(row, asset_class)
        terms = self.contract_terms(row, kind, asset_class)
        try:
            inst = Instrument(
                id=instrument_id,
                asset_class=asset_class,
                currency=_INR,
                tick_size=tick,
                lot_size=lot,
                **terms,
            )
        except ValueError as exc:
            raise RowError("INVALID_INSTRUMENT", str(exc)) from None
        self.tokens.setdefault(inst.id, int(token_text))
        return inst

    def sizes(self, row: list[str], asset_class: AssetClass) -> tuple[Decimal, Decimal]:
        """Tick and lot; an index row's zeros become tick 0.01 and lot 1 (it is never ordered)."""
        tick = decimal_cell("tick_size", self.cell(row, "tick_size") or "0")
        lot = decimal_cell("lot_size", self.cell(row, "lot_size") or "0")
        if asset_class is AssetClass.INDEX:
            return (tick if tick > 0 else _INDEX_TICK), (lot if lot > 0 else Decimal(1))
        for column, value in (("tick_size", tick), ("lot_size", lot)):
            if value <= 0:
                raise RowError("BAD_VALUE", f"expected a number > 0, was {value}", column)
        return tick, lot

    def contract_terms(self, row: list[str], kind: str, asset_class: AssetClass) -> dict[str, Any]:
        """Underlying, expiry, freeze quantity of a derivative; strike and right of an option."""
        strike = decimal_cell("strike", self.cell(row, "strike") or "0")
        terms: dict[str, Any] = {}
        if asset_class in (AssetClass.FUTURE, AssetClass.OPTION):
            underlying = self.required(row, "name").upper()
            terms["underlying"] = underlying
            terms["expiry"] = iso_date_cell("expiry", self.required(row, "expiry"))
            terms["freeze_quantity"] = self.freezes.get(underlying)
        if asset_class is AssetClass.OPTION:
            if strike <= 0:
                raise RowError("BAD_VALUE", f"expected a strike > 0, was {strike}", "strike")
            terms["strike"] = Decimal(canonical_decimal(strike))
            terms["right"] = OptionRight.parse(kind)
        elif strike != 0:
            raise RowError("BAD_VALUE", f"a {kind} row has no strike, was {strike}", "strike")
        return terms


def _spots(instruments: tuple[Instrument, ...]) -> dict[str, Instrument]:
    by_id = {inst.id: inst for inst in instruments}
    reference = nse_reference().spots
    spots: dict[str, Instrument] = {}
    for inst in instruments:
        name = inst.underlying
        if inst.asset_class not in (AssetClass.FUTURE, AssetClass.OPTION) or name is None:
            continue
        if name in spots:
            continue
        known = reference.get(name)
        if known is not None:
            found = by_id.get(known.instrument_id)
        else:
            cash = _CASH_EXCHANGE.get(str(inst.venue))
            try:
                found = by_id.get(InstrumentId.of(kite_symbol(name), cash)) if cash else None
            except ValueError:  # a name that cannot be a symbol has no equity row either
                found = None
        if found is not None and found.asset_class in (AssetClass.INDEX, AssetClass.EQUITY):
            spots[name] = found
    return spots


def load_kite_instruments(
    source: Source,
    *,
    freeze_quantities: Mapping[str, DecimalLike | None] | None = None,
    exchanges: Collection[str] | None = None,
    strict: bool = False,
) -> KiteImport:
    """Import a Kite instrument dump from a path or its bytes (gzipped or plain).

    ``freeze_quantities`` overrides ``data/nse.toml`` by underlying name (``None`` removes one);
    ``exchanges`` keeps only those exchanges' rows. Problems are returned, or raised if
    ``strict``; a file without the Kite header raises :class:`InstrumentFileError`.
    """
    header, rows = read_csv(read_text(source), _READ, allow_unknown=True)
    reader = _RowReader(
        header=header,
        exchanges=frozenset(e.strip().upper() for e in exchanges)
        if exchanges is not None
        else None,
        freezes=_freezes(freeze_quantities),
        tokens={},
    )
    instruments, problems, count, filtered = collect(rows, reader, strict=strict)
    kept = tuple(instruments)
    return KiteImport(
        instruments=kept,
        problems=tuple(problems),
        rows=count,
        filtered=filtered,
        tokens=MappingProxyType({inst.id: reader.tokens[inst.id] for inst in kept}),
        spots=MappingProxyType(_spots(kept)),
    )
