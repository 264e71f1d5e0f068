"""The strategy API, one for backtest, paper and live.

A strategy is a class with

* ``Params``: a frozen dataclass of typed parameters with defaults (``int``, ``float``,
  ``Decimal``, ``str`` or ``bool``); :func:`parse_params` builds it from ``name=value`` text;
* :meth:`Strategy.indicators`: computed once, vectorised, over a whole :class:`BarData`; returns
  named columns of the bars' length (floats, or exact values such as ``Decimal`` or ``int``);
* :meth:`Strategy.active` (optional): the bars where :meth:`Strategy.on_bar` has something to
  decide; the runner skips the others, so a strategy whose signals are vectorised runs at
  array speed. ``None`` (the default) means every bar; a strategy whose signals are one
  indicator names it in ``signal_column`` and gets the bars where it is not zero;
* :meth:`Strategy.on_bar`: called at each (active) bar's close with a :class:`BarContext`,
  through which it acts: ``buy``, ``sell``, ``target``, ``close``, ``cancel``, with optional
  bracket exits (``stop_loss``, ``take_profit``).

An indicator at bar ``t`` may use bars ``0..t`` only; ``algodesk backtest --check-lookahead``
recomputes them on truncated data and names any whose past values change. Higher timeframes come
from :meth:`BarData.higher`, which only ever shows completed higher bars.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.bars import bucket_start
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar

__all__ = [
    "AllIn",
    "BarContext",
    "BarData",
    "Intent",
    "IntentKind",
    "ParamError",
    "PercentOfEquity",
    "RiskPercent",
    "Sizing",
    "Strategy",
    "Units",
    "params_of",
    "parse_params",
]

Column: TypeAlias = npt.NDArray[Any] | Sequence[Any] | pd.Series


class ParamError(ValueError):
    """A strategy parameter that is unknown or of the wrong type; the message lists the known."""


# -- sizing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Units:
    """A fixed quantity."""

    quantity: Decimal


@dataclass(frozen=True, slots=True)
class AllIn:
    """As many whole lots as the cash buys at the fill price, fees included:
    ``floor(cash / (price × (1 + fee rate)))``."""


@dataclass(frozen=True, slots=True)
class PercentOfEquity:
    """Spend ``percent`` of equity (fees included) on the position."""

    percent: Decimal


@dataclass(frozen=True, slots=True)
class RiskPercent:
    """Lose at most ``percent`` of equity if the order's stop-loss is hit."""

    percent: Decimal


Sizing = Units | AllIn | PercentOfEquity | RiskPercent


# -- what a strategy asks for ------------------------------------------------------------------


class IntentKind(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    TARGET = "TARGET"  # hold ``quantity`` (signed)
    CLOSE = "CLOSE"  # flat, and cancel the instrument's working orders
    CANCEL = "CANCEL"  # cancel one working order (``order_id``) or all (None)


@dataclass(frozen=True, slots=True)
class Intent:
    """One instruction of a strategy, decided at a bar's close.

    ``quantity`` None sizes the order by ``sizing`` (or the run's default sizing).
    ``limit`` makes a limit order, ``stop`` a stop order, both a stop-limit; neither, a market
    order. ``stop_loss`` / ``take_profit`` are bracket exits placed when the entry fills.
    """

    kind: IntentKind
    instrument_id: InstrumentId
    decided_at: datetime
    quantity: Decimal | None = None
    sizing: Sizing | None = None
    limit: Decimal | None = None
    stop: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    order_id: str | None = None
    tag: str = ""


class BarContext(Protocol):
    """What a strategy sees and does at one bar's close (backtest, paper or live alike)."""

    @property
    def instrument_id(self) -> InstrumentId: ...

    @property
    def index(self) -> int:
        """The bar's position in the instrument's series."""
        ...

    @property
    def time(self) -> datetime:
        """The bar's close time (UTC)."""
        ...

    @property
    def bar(self) -> Bar: ...

    @property
    def position(self) -> Decimal:
        """The signed quantity held in this instrument."""
        ...

    @property
    def cash(self) -> Decimal: ...

    @property
    def equity(self) -> Decimal: ...

    @property
    def working_orders(self) -> Sequence[str]:
        """Ids of this instrument's working orders."""
        ...

    def value(self, name: str, offset: int = 0) -> Any:
        """Indicator ``name`` at this bar (``offset`` -1: the bar before; never a later one)."""
        ...

    def buy(
        self,
        quantity: Decimal | None = None,
        *,
        sizing: Sizing | None = None,
        limit: Decimal | None = None,
        stop: Decimal | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        tag: str = "",
    ) -> None: ...

    def sell(
        self,
        quantity: Decimal | None = None,
        *,
        sizing: Sizing | None = None,
        limit: Decimal | None = None,
        stop: Decimal | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        tag: str = "",
    ) -> None: ...

    def target(self, quantity: Decimal, *, tag: str = "") -> None:
        """Hold ``quantity`` (signed); the order is the difference from the position."""
        ...

    def close(self, *, tag: str = "") -> None:
        """Cancel this instrument's working orders and flatten its position."""
        ...

    def cancel(self, order_id: str | None = None) -> None:
        """Cancel one working order, or all of this instrument's."""
        ...


# -- bars --------------------------------------------------------------------------------------


class BarData:
    """One instrument's bars as a strategy sees them.

    ``frame``: float64 columns ``open, high, low, close, volume`` indexed by each bar's close
    time (UTC), for vectorised indicators. :meth:`exact` gives a column as the ``Decimal``
    values of the input, for signals that must be exact.
    """

    def __init__(
        self,
        instrument_id: InstrumentId,
        timeframe: Timeframe,
        bars: Sequence[Bar],
    ) -> None:
        self.instrument_id = instrument_id
        self.timeframe = timeframe
        self.bars = bars
        index = pd.DatetimeIndex([b.ts_close for b in bars], name="time")
        self.frame = pd.DataFrame(
            {
                "open": np.array([float(b.open) for b in bars], dtype=np.float64),
                "high": np.array([float(b.high) for b in bars], dtype=np.float64),
                "low": np.array([float(b.low) for b in bars], dtype=np.float64),
                "close": np.array([float(b.close) for b in bars], dtype=np.float64),
                "volume": np.array([float(b.volume) for b in bars], dtype=np.float64),
            },
            index=index,
        )

    def __len__(self) -> int:
        return len(self.bars)

    def exact(self, column: str) -> list[Decimal]:
        """``open``, ``high``, ``low``, ``close`` or ``volume`` as exact ``Decimal`` values."""
        if column not in ("open", "high", "low", "close", "volume"):
            raise KeyError(f"expected open, high, low, close or volume, was {column!r}")
        return [getattr(b, column) for b in self.bars]

    def head(self, n: int) -> BarData:
        """The first ``n`` bars (what the strategy would have seen at bar ``n - 1``)."""
        return BarData(self.instrument_id, self.timeframe, self.bars[:n])

    def higher(self, timeframe: str) -> pd.DataFrame:
        """Bars of a higher ``timeframe`` (``1d``, ``1w``...), aligned to this series without
        look-ahead: row ``t`` holds the last higher bar known complete at bar ``t``'s close, NaN
        before the first. A higher bar is complete when one of its bars closes at its end, or
        else when the first bar of a later one closes (a week of daily bars is known at the
        next week's first close). Buckets follow :func:`~algodesk.domain.market.bars.bucket_start`
        (UTC days, weeks from Monday)."""
        tf = Timeframe.parse(timeframe)
        if tf.seconds <= self.timeframe.seconds:
            raise ValueError(
                f"expected a timeframe above the series' {self.timeframe}, was {timeframe}"
            )
        n = len(self.bars)
        out = np.full((n, 5), np.nan)
        values = self.frame[["open", "high", "low", "close", "volume"]].to_numpy()
        step = self.timeframe.delta
        group_start = 0
        known: npt.NDArray[np.float64] | None = None
        key = None
        for i, bar in enumerate(self.bars):
            bucket = bucket_start(bar.ts_close - step, tf)
            if key is not None and bucket != key:
                known = _aggregate(values[group_start:i])  # the previous bucket is complete
                group_start = i
            key = bucket
            if bar.ts_close >= bucket + tf.delta:
                known = _aggregate(values[group_start : i + 1])
                group_start, key = i + 1, None
            if known is not None:
                out[i] = known
        return pd.DataFrame(out, index=self.frame.index, columns=list(self.frame.columns))


def _aggregate(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.array([rows[0, 0], rows[:, 1].max(), rows[:, 2].min(), rows[-1, 3], rows[:, 4].sum()])


# -- strategies --------------------------------------------------------------------------------


def _convert(field: dataclasses.Field[Any], text: str) -> Any:
    kind = field.type if isinstance(field.type, type) else str(field.type)
    name = kind.__name__ if isinstance(kind, type) else kind
    try:
        if name == "bool":
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if name == "int":
            return int(text)
        if name == "float":
            number = float(text)
            if not math.isfinite(number):
                raise ValueError
            return number
        if name == "Decimal":
            value = Decimal(text)
            if not value.is_finite():
                raise ValueError
            return value
    except (ValueError, InvalidOperation):
        raise ParamError(f"parameter {field.name}: expected {name}, was {text!r}") from None
    return text


def params_of(params_type: type[Any]) -> dict[str, tuple[str, Any]]:
    """Each parameter's type name and default."""
    out: dict[str, tuple[str, Any]] = {}
    for f in dataclasses.fields(params_type):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        out[f.name] = (kind, f.default)
    return out


def parse_params(params_type: type[Any], given: Mapping[str, str | Any]) -> Any:
    """Build ``params_type`` from ``given``; text values are converted to each field's type.

    Raises:
        ParamError: an unknown name (the message lists the known ones) or a value of the
            wrong type.
    """
    fields = {f.name: f for f in dataclasses.fields(params_type)}
    unknown = sorted(set(given) - set(fields))
    if unknown:
        known = ", ".join(f"{n} ({t}, default {d})" for n, (t, d) in params_of(params_type).items())
        raise ParamError(f"unknown parameter(s) {', '.join(unknown)}; expected any of: {known}")
    values = {
        name: _convert(fields[name], value if isinstance(value, str) else str(value))
        for name, value in given.items()
    }
    try:
        return params_type(**values)
    except (TypeError, ValueError) as exc:
        raise ParamError(str(exc)) from None


class Strategy:
    """Base class of strategies; see the module's documentation."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[Any]]
    #: An indicator that is non-zero exactly on the bars worth a decision (see :meth:`active`).
    signal_column: ClassVar[str | None] = None

    def __init__(self, params: Any | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def indicators(self, data: BarData) -> Mapping[str, Column]:
        """Named columns over ``data`` (each of ``len(data)``), computed once, vectorised."""
        return {}

    def active(
        self, data: BarData, indicators: Mapping[str, Column]
    ) -> npt.NDArray[np.bool_] | None:
        """The bars where :meth:`on_bar` must run; ``None``: every bar. With
        ``signal_column`` set, the bars where that indicator is not zero."""
        if self.signal_column is None:
            return None
        where: npt.NDArray[np.bool_] = np.asarray(indicators[self.signal_column]) != 0
        return where

    def on_bar(self, ctx: BarContext) -> None:
        """Decide at the close of one bar."""
