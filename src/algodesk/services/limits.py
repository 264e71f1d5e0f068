"""The configured risk limits of each account (the gates' :class:`RiskLimits` and the circuit
breakers' :class:`BreakerConfig`), changeable while the desk runs.

The engine reads them through live, read-only mappings (:meth:`LimitBook.engine_limits`), so a
change applies to the next order. Every change is journaled (``LimitsSet``, with who and why)
under the account and replayed by :meth:`LimitBook.load` at start: the last one wins. A bot's
gate limits live with the bot (:class:`~algodesk.services.bots.BotService`); its breaker
settings live here.

The JSON form (:func:`limits_json`, :func:`breakers_json`) has money and percentages as decimal
strings, counts as integers, durations in seconds as decimal strings and ``null`` for "no
limit"; :func:`patch_limits` and :func:`patch_breakers` read it back, changing only the fields
given.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from algodesk.domain.identifiers import AccountId, BotId
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.risk.breakers import BreakerConfig
from algodesk.ports.clock import Clock
from algodesk.ports.storage import JournalRecord, UnitOfWork
from algodesk.services.bots import limits_from_payload, limits_payload
from algodesk.services.risk_context import EngineLimits

__all__ = [
    "BREAKER_FIELDS",
    "LIMIT_FIELDS",
    "LimitBook",
    "LimitError",
    "breakers_json",
    "limits_json",
    "patch_breakers",
    "patch_limits",
]

#: JSON name → (dataclass field, kind, nullable). Kinds: decimal, int, bool, seconds.
LIMIT_FIELDS: Mapping[str, tuple[str, str, bool]] = MappingProxyType(
    {
        "price_band_pct": ("price_band_pct", "decimal", True),
        "mark_max_age_seconds": ("mark_max_age", "seconds", False),
        "max_notional": ("max_notional", "decimal", True),
        "max_position_qty": ("max_position_qty", "decimal", True),
        "max_position_notional": ("max_position_notional", "decimal", True),
        "max_gross_exposure": ("max_gross_exposure", "decimal", True),
        "max_net_exposure": ("max_net_exposure", "decimal", True),
        "max_underlying_exposure": ("max_underlying_exposure", "decimal", True),
        "max_open_positions": ("max_open_positions", "int", True),
        "max_open_orders": ("max_open_orders", "int", True),
        "max_open_orders_per_instrument": ("max_open_orders_per_instrument", "int", True),
        "max_trades_per_day": ("max_trades_per_day", "int", True),
        "max_orders_per_second": ("max_orders_per_second", "int", True),
        "margin_rate": ("margin_rate", "decimal", False),
        "fee_safety_bps": ("fee_safety_bps", "decimal", False),
        "slippage_buffer_bps": ("slippage_buffer_bps", "decimal", False),
        "pdt": ("pdt", "bool", False),
        "pdt_equity_threshold": ("pdt_equity_threshold", "decimal", False),
        "pdt_max_day_trades": ("pdt_max_day_trades", "int", False),
    }
)
BREAKER_FIELDS: Mapping[str, tuple[str, str, bool]] = MappingProxyType(
    {
        "max_drawdown_pct": ("max_drawdown_pct", "decimal", True),
        "daily_loss_pct": ("daily_loss_pct", "decimal", True),
        "max_consecutive_losses": ("max_consecutive_losses", "int", True),
        "max_errors_per_hour": ("max_errors_per_hour", "int", True),
        "drawdown_action": ("drawdown_action", "action", False),
        "daily_loss_action": ("daily_loss_action", "action", False),
        "consecutive_losses_action": ("consecutive_losses_action", "action", False),
        "error_rate_action": ("error_rate_action", "action", False),
        "reset_after_seconds": ("reset_after", "seconds", False),
    }
)
_PERCENTS = frozenset({"price_band_pct", "max_drawdown_pct", "daily_loss_pct"})
_POSITIVE = frozenset({"price_band_pct", "mark_max_age", "max_drawdown_pct", "daily_loss_pct",
                       "reset_after", "max_orders_per_second", "max_consecutive_losses",
                       "max_errors_per_hour"})  # fmt: skip
_MAX_DIGITS = 18  # integer digits; more is a typo, not a limit
_MAX_PLACES = 12


class LimitError(ValueError):
    """A limit value that cannot be used; the message names the field and what was expected."""


def _out(value: object, kind: str) -> object:
    if value is None:
        return None
    if kind == "seconds":
        assert isinstance(value, timedelta)
        # Plain notation: "300", never normalize()'s "3E+2".
        return f"{Decimal(str(value.total_seconds())).normalize():f}"
    if kind == "decimal":
        return str(value)
    if kind == "action":
        return str(getattr(value, "value", value))
    return value


def limits_json(limits: RiskLimits) -> dict[str, object]:
    return {name: _out(getattr(limits, f), kind) for name, (f, kind, _) in LIMIT_FIELDS.items()}


def breakers_json(config: BreakerConfig | None) -> dict[str, object] | None:
    if config is None:
        return None
    return {name: _out(getattr(config, f), kind) for name, (f, kind, _) in BREAKER_FIELDS.items()}


def _decimal(name: str, raw: object) -> Decimal:
    if not isinstance(raw, str):
        raise LimitError(f'{name}: expected a decimal string such as "10.5", was {raw!r}')
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise LimitError(f"{name}: expected a decimal number, was {raw!r}") from None
    if not value.is_finite():
        raise LimitError(f"{name}: expected a finite number, was {raw!r}")
    if value.adjusted() >= _MAX_DIGITS or value.as_tuple().exponent < -_MAX_PLACES:  # type: ignore[operator]
        raise LimitError(
            f"{name}: expected at most {_MAX_DIGITS} digits before and {_MAX_PLACES} after the "
            f"point, was {raw!r}"
        )
    return value


def _scalar(name: str, kind: str, raw: object) -> object:
    """A bool, a whole number or a trading state, checked."""
    if kind == "bool":
        if not isinstance(raw, bool):
            raise LimitError(f"{name}: expected true or false, was {raw!r}")
        return raw
    if kind == "action":
        if raw not in (TradingState.HALTED.value, TradingState.REDUCING.value):
            raise LimitError(f"{name}: expected HALTED or REDUCING, was {raw!r}")
        return TradingState(str(raw))
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise LimitError(f"{name}: expected a whole number, was {raw!r}")
    if not 0 <= raw <= 10**9:
        raise LimitError(f"{name}: expected 0 to 1000000000, was {raw}")
    return raw


def _value(name: str, field: str, kind: str, nullable: bool, raw: object) -> object:
    if raw is None:
        if not nullable:
            raise LimitError(f"{name}: a value is required (this setting cannot be switched off)")
        return None
    value: Any
    if kind in ("bool", "action", "int"):
        value = _scalar(name, kind, raw)
        if kind != "int":
            return value
    else:
        value = _decimal(name, raw)
        if value < 0:
            raise LimitError(f"{name}: expected a number >= 0, was {raw!r}")
        if field in _PERCENTS and value > 100:
            raise LimitError(f"{name}: expected a percentage of at most 100, was {raw!r}")
        if kind == "seconds":
            if value > 10**8:
                raise LimitError(f"{name}: expected at most 100000000 seconds, was {raw!r}")
            value = timedelta(seconds=float(value))
    if field in _POSITIVE and not value:
        raise LimitError(f"{name}: expected a value > 0 (or null to switch it off), was {raw!r}")
    return value


def _patch(
    current: Any, changes: Mapping[str, object], fields: Mapping[str, tuple[str, str, bool]]
) -> Any:
    unknown = set(changes) - set(fields)
    if unknown:
        raise LimitError(
            f"unknown fields {', '.join(sorted(unknown))}; expected some of {', '.join(fields)}"
        )
    new = {}
    for name, raw in changes.items():
        field, kind, nullable = fields[name]
        new[field] = _value(name, field, kind, nullable, raw)
    return dataclasses.replace(current, **new)


def patch_limits(current: RiskLimits, changes: Mapping[str, object]) -> RiskLimits:
    """``current`` with the JSON fields in ``changes`` (raises :class:`LimitError`)."""
    result: RiskLimits = _patch(current, changes, LIMIT_FIELDS)
    return result


def patch_breakers(current: BreakerConfig | None, changes: Mapping[str, object]) -> BreakerConfig:
    result: BreakerConfig = _patch(current or BreakerConfig(), changes, BREAKER_FIELDS)
    return result


def _breaker_payload(config: BreakerConfig) -> dict[str, object]:
    payload: dict[str, object] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, TradingState):
            payload[f.name] = value.value
        elif isinstance(value, Decimal):
            payload[f.name] = f"D:{value}"
        elif isinstance(value, timedelta):
            payload[f.name] = f"T:{value.total_seconds()}"
        else:
            payload[f.name] = value
    return payload


def _breaker_from(payload: Mapping[str, object]) -> BreakerConfig:
    names = {f.name for f in dataclasses.fields(BreakerConfig)}
    args: dict[str, Any] = {}
    for key, raw in payload.items():
        if key not in names:
            continue
        decoded: Any = raw
        if isinstance(raw, str) and raw.startswith("D:"):
            decoded = Decimal(raw[2:])
        elif isinstance(raw, str) and raw.startswith("T:"):
            decoded = timedelta(seconds=float(raw[2:]))
        elif key.endswith("_action"):
            decoded = TradingState(str(raw))
        args[key] = decoded
    return BreakerConfig(**args)


class _Live(Mapping[Any, Any]):
    """A read-only live view of a dict that iterates over a snapshot of its keys, so that a
    change from another thread never breaks an iteration."""

    def __init__(self, data: dict[Any, Any]) -> None:
        self._data = data

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)


class LimitBook:
    """Account limits and breaker settings (accounts and bots), journaled and live."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        defaults: Mapping[AccountId, RiskLimits],
        breakers: Mapping[AccountId, BreakerConfig] | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._limits: dict[AccountId, RiskLimits] = dict(defaults)
        self._breakers: dict[AccountId, BreakerConfig] = dict(breakers or {})
        self._bot_breakers: dict[BotId, BreakerConfig] = {}
        self._guard = threading.RLock()

    def engine_limits(self) -> EngineLimits:
        """The engine's limits as live read-only views of this book."""
        return EngineLimits(
            accounts=_Live(self._limits),
            breakers=_Live(self._breakers),
            bot_breakers=_Live(self._bot_breakers),
        )

    def load(self, accounts: Iterable[AccountId]) -> None:
        """Apply the journaled changes of ``accounts`` (at start), oldest first."""
        with self._guard, self._uow_factory() as uow:
            for account in accounts:
                for record in uow.journal.records(account, kind="LimitsSet"):
                    self._apply(account, record.payload)

    def _apply(self, account: AccountId, payload: Mapping[str, object]) -> None:
        bot = payload.get("bot")
        limits, breakers = payload.get("limits"), payload.get("breakers")
        if bot:
            if isinstance(breakers, Mapping):
                self._bot_breakers[BotId(str(bot))] = _breaker_from(breakers)
            return
        if isinstance(limits, Mapping):
            self._limits[account] = limits_from_payload(dict(limits))
        if isinstance(breakers, Mapping):
            self._breakers[account] = _breaker_from(breakers)

    def limits(self, account: AccountId) -> RiskLimits | None:
        """The account's gate limits (None: not configured, so it cannot trade)."""
        return self._limits.get(account)

    def breakers(self, account: AccountId) -> BreakerConfig | None:
        return self._breakers.get(account)

    def bot_breakers(self, bot: BotId) -> BreakerConfig | None:
        return self._bot_breakers.get(bot)

    def patch(
        self,
        account: AccountId,
        by: str,
        *,
        limit_changes: Mapping[str, object] | None = None,
        breaker_changes: Mapping[str, object] | None = None,
        reason: str = "",
    ) -> None:
        """Change only the given fields of the account's limits and breaker settings, read and
        written under one lock, so two admins changing different fields keep both changes.
        Raises :class:`LimitError` for a bad value (nothing changes)."""
        with self._guard:
            limits = (
                patch_limits(self.limits(account) or RiskLimits(), limit_changes)
                if limit_changes is not None
                else None
            )
            breakers = (
                patch_breakers(self.breakers(account), breaker_changes)
                if breaker_changes is not None
                else None
            )
            self.set(account, by, limits=limits, breakers=breakers, reason=reason)

    def set(
        self,
        account: AccountId,
        by: str,
        *,
        limits: RiskLimits | None = None,
        breakers: BreakerConfig | None = None,
        bot: BotId | None = None,
        reason: str = "",
    ) -> None:
        """Journal, then apply, new limits and/or breaker settings for the account (or the
        breaker settings of one of its bots)."""
        payload: dict[str, object] = {
            "bot": bot.value if bot else None,
            "limits": limits_payload(limits) if limits is not None and bot is None else None,
            "breakers": _breaker_payload(breakers) if breakers is not None else None,
            "by": by,
            "reason": reason,
        }
        with self._guard:
            with self._uow_factory() as uow:
                uow.journal.append(JournalRecord(account, "LimitsSet", self._clock.now(), payload))
                uow.commit()
            self._apply(account, payload)
