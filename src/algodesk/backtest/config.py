"""A backtest's settings: cash, fees, slippage, sizing, fill rules and the account's limits.

Every knob is recorded with the run's result (:meth:`BacktestConfig.describe`), so a result
always says how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from algodesk.domain.matching import (
    BarPathMode,
    BpsSlippage,
    FeeModel,
    FillModel,
    NoFees,
    NoSlippage,
    PercentFee,
    SlippageModel,
)
from algodesk.domain.risk.base import RiskLimits
from algodesk.strategies.base import AllIn, PercentOfEquity, RiskPercent, Sizing, Units

__all__ = [
    "BacktestConfig",
    "ConfigError",
    "ExitPriority",
    "FillAt",
    "parse_limits",
    "parse_sizing",
]


class ConfigError(ValueError):
    """A setting that cannot be used; the message says what was expected."""


class FillAt(StrEnum):
    """When an order decided at bar t's close reaches the market."""

    NEXT_OPEN = "next_open"  # bar t+1's path, from its open (the default)
    CLOSE = "close"  # bar t's close


class ExitPriority(StrEnum):
    """Which bracket leg wins when the stop-loss and the take-profit both lie in one bar."""

    STOP_LOSS = "stop_loss"  # pessimistic (the default)
    TAKE_PROFIT = "take_profit"  # optimistic


def _structural_limits() -> RiskLimits:
    # The structural gates (instrument, tick, lot, buying power) always run; the others are off
    # until the run's configuration sets them.
    return RiskLimits(price_band_pct=None, max_orders_per_second=None)


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    cash: Decimal = Decimal(10000)
    currency: str = "USD"
    commission: Decimal = Decimal(0)
    fees: FeeModel | None = None
    slippage_bps: Decimal = Decimal(0)
    sizing: Sizing = field(default_factory=AllIn)
    fill_at: FillAt = FillAt.NEXT_OPEN
    bar_path: BarPathMode = BarPathMode.ADAPTIVE
    exit_priority: ExitPriority = ExitPriority.STOP_LOSS
    limit_fill_prob: Decimal = Decimal(0)
    seed: int = 0
    lot_size: Decimal = Decimal(1)
    start: datetime | None = None
    end: datetime | None = None
    limits: RiskLimits = field(default_factory=_structural_limits)

    def __post_init__(self) -> None:
        if self.cash <= 0:
            raise ConfigError(f"cash: expected an amount > 0, was {self.cash}")
        if self.commission < 0 or self.commission >= 1:
            raise ConfigError(
                f"commission: expected a rate in [0, 1) such as 0.001 (0.1%), was {self.commission}"
            )
        if self.slippage_bps < 0:
            raise ConfigError(f"slippage: expected basis points >= 0, was {self.slippage_bps}")
        if self.lot_size <= 0:
            raise ConfigError(f"lot size: expected > 0, was {self.lot_size}")
        if self.start and self.end and self.start > self.end:
            raise ConfigError(f"expected --from before --to, was {self.start} > {self.end}")

    @property
    def fee_model(self) -> FeeModel:
        if self.fees is not None:
            return self.fees
        if self.commission:
            return PercentFee(self.commission, self.commission)
        return NoFees()

    @property
    def fee_rate(self) -> Decimal:
        """The percent-of-notional rate sizing allows for (0 for other fee models)."""
        model = self.fee_model
        return model.taker_rate if isinstance(model, PercentFee) else Decimal(0)

    @property
    def slippage(self) -> SlippageModel:
        return BpsSlippage(self.slippage_bps) if self.slippage_bps else NoSlippage()

    def fill_model(self) -> FillModel:
        return FillModel(
            limit_fill_prob=self.limit_fill_prob,
            slippage=self.slippage,
            fees=self.fee_model,
            bar_path_mode=self.bar_path,
            seed=self.seed,
        )

    def describe(self) -> dict[str, Any]:
        """The settings as plain values, for the result and the report."""
        limits = {
            f.name: getattr(self.limits, f.name)
            for f in fields(self.limits)
            if getattr(self.limits, f.name) != getattr(_structural_limits(), f.name)
        }
        return {
            "cash": self.cash,
            "currency": self.currency,
            "commission": self.commission,
            "fees": type(self.fee_model).__name__,
            "slippage_bps": self.slippage_bps,
            "sizing": describe_sizing(self.sizing),
            "fill_at": self.fill_at.value,
            "bar_path": self.bar_path.value,
            "exit_priority": self.exit_priority.value,
            "limit_fill_prob": self.limit_fill_prob,
            "seed": self.seed,
            "lot_size": self.lot_size,
            "from": self.start,
            "to": self.end,
            "limits": {k: str(v) for k, v in limits.items()},
        }


def describe_sizing(sizing: Sizing) -> str:
    if isinstance(sizing, AllIn):
        return "all-in"
    if isinstance(sizing, Units):
        return f"units:{sizing.quantity}"
    if isinstance(sizing, PercentOfEquity):
        return f"percent:{sizing.percent}"
    return f"risk:{sizing.percent}"


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"{what}: expected a number, was {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{what}: expected a number > 0, was {text!r}")
    return value


def parse_sizing(text: str) -> Sizing:
    """``all-in``, ``units:N`` (or just ``N``), ``percent:P`` (of equity) or ``risk:P`` (of
    equity lost at the stop-loss)."""
    kind, _, value = text.strip().lower().partition(":")
    if kind == "all-in" and not value:
        return AllIn()
    if kind == "units" and value:
        return Units(_decimal(value, "sizing units"))
    if kind == "percent" and value:
        return PercentOfEquity(_decimal(value, "sizing percent"))
    if kind == "risk" and value:
        return RiskPercent(_decimal(value, "sizing risk"))
    if not value:
        try:
            return Units(_decimal(kind, "sizing"))
        except ConfigError:
            pass
    raise ConfigError(f"sizing: expected all-in, units:N, percent:P or risk:P, was {text!r}")


_INT_LIMITS = {
    "max_open_positions",
    "max_open_orders",
    "max_open_orders_per_instrument",
    "max_trades_per_day",
    "max_orders_per_second",
    "pdt_max_day_trades",
}
_DECIMAL_LIMITS = {
    "price_band_pct",
    "max_notional",
    "max_position_qty",
    "max_position_notional",
    "max_gross_exposure",
    "max_net_exposure",
    "max_underlying_exposure",
    "margin_rate",
    "fee_safety_bps",
    "slippage_buffer_bps",
    "pdt_equity_threshold",
}


def parse_limits(pairs: list[str], base: RiskLimits | None = None) -> RiskLimits:
    """Account limits from ``name=value`` pairs (the names of ``RiskLimits``; ``none`` turns a
    limit off)."""
    limits = base or _structural_limits()
    known = sorted(_INT_LIMITS | _DECIMAL_LIMITS | {"pdt"})
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise ConfigError(
                f"limit: expected name=value with a name of {', '.join(known)}, was {pair!r}"
            )
        text = text.strip()
        value: object
        if text.lower() == "none":
            value = None
        elif name == "pdt":
            value = text.lower() in ("1", "true", "yes", "on")
        elif name in _INT_LIMITS:
            try:
                value = int(text)
            except ValueError:
                raise ConfigError(f"limit {name}: expected a whole number, was {text!r}") from None
        else:
            value = _decimal(text, f"limit {name}")
        limits = replace(limits, **{name: value})  # type: ignore[arg-type]
    return limits
