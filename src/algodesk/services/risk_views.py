"""The read side of risk: each account's and bot's configured limits next to their current use,
and each circuit breaker's status and trip history, as JSON values (decimal strings, ISO times).

Usage is measured as the gates measure it (``domain/risk/``): positions at marks (the last fill
price when an instrument has no mark), working opening orders at their prices, opening orders
sent today, the account's order operations in the last second, and the drawdown and daily loss
the breakers judge.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from algodesk.domain.bots import Bot
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId
from algodesk.domain.orders import Order
from algodesk.domain.portfolio import BookSummary
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.risk.breakers import BreakerKind, CircuitBreaker, Trip
from algodesk.domain.values import rounded
from algodesk.ports.market import MarketView
from algodesk.services.bots import BotService
from algodesk.services.breakers import ScopeUsage
from algodesk.services.engine import Engine
from algodesk.services.limits import LimitBook, breakers_json, limits_json

__all__ = ["RiskViews"]

Json = dict[str, object]
_KIND_LIMITS = {
    BreakerKind.DRAWDOWN: ("max_drawdown_pct", "drawdown_action"),
    BreakerKind.DAILY_LOSS: ("daily_loss_pct", "daily_loss_action"),
    BreakerKind.CONSECUTIVE_LOSSES: ("max_consecutive_losses", "consecutive_losses_action"),
    BreakerKind.ERROR_RATE: ("max_errors_per_hour", "error_rate_action"),
}


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None


def _num(value: Decimal | int | None) -> str | int | None:
    if value is None or isinstance(value, int):
        return value
    return str(value)


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole <= 0:
        return None
    with rounded():
        return (part * 100 / whole).quantize(Decimal("0.0001"))


def _used(used: Decimal | int | None, limit: Decimal | int | None) -> Json:
    return {"used": _num(used), "limit": _num(limit)}


def _trip_json(account: AccountId, bot: BotId | None, trip: Trip) -> Json:
    return {
        "account": account.value,
        "bot": bot.value if bot else None,
        "kind": trip.kind.value,
        "state": trip.state.value,
        "reason": trip.reason,
        "figures": dict(trip.figures),
        "tripped_at": _iso(trip.at),
        "resets_at": _iso(trip.reset_at),
        "reset_on": _iso(trip.reset_on),
        "reset_by": trip.reset_by,
    }


class RiskViews:
    def __init__(
        self,
        engine: Engine,
        bots: BotService,
        limits: LimitBook,
        market: MarketView,
        accounts: Callable[[], list[AccountId]],
    ) -> None:
        self._engine = engine
        self._bots = bots
        self._limits = limits
        self._market = market
        self._accounts = accounts

    # -- measures ----------------------------------------------------------------------------

    def _marks(self, book: BookSummary) -> dict[InstrumentId, Decimal]:
        marks = {}
        for iid, pos in book.positions.items():
            mark = self._market.mark(iid)
            marks[iid] = mark.price if mark is not None else pos.last_price
        return marks

    def _equity(self, book: BookSummary) -> Decimal | None:
        """Equity at marks when the book is in one currency (the breakers' rule)."""
        equity = book.equity(self._marks(book))
        return next(iter(equity.values())) if len(equity) == 1 else None

    def _working_value(self, order: Order) -> Decimal:
        px = order.price or order.trigger_price
        mark = self._market.mark(order.instrument_id)
        value = px.value if px is not None else (mark.price if mark is not None else Decimal(0))
        inst = self._market.instrument(order.instrument_id)
        multiplier = inst.multiplier if inst is not None else Decimal(1)
        return order.leaves_quantity.value * value * multiplier

    def _usage(
        self,
        limits: RiskLimits | None,
        book: BookSummary,
        working: list[Order],
        counters: ScopeUsage,
        account_scope: bool,
    ) -> Json:
        lim = limits or RiskLimits(price_band_pct=None, max_orders_per_second=None)
        marks = self._marks(book)
        positions = []
        held_gross = held_net = Decimal(0)
        for iid, pos in sorted(book.positions.items(), key=lambda kv: kv[0].value):
            if pos.quantity.is_zero():
                continue
            signed = pos.quantity * marks[iid] * pos.multiplier
            gross = abs(signed)
            held_gross += gross
            held_net += signed
            positions.append(
                {
                    "instrument": iid.value,
                    "quantity": str(pos.quantity),
                    "notional": str(gross),
                    "max_position_qty": _num(lim.max_position_qty),
                    "max_position_notional": _num(lim.max_position_notional),
                }
            )
        opening = [o for o in working if not o.reduce_only]
        working_gross = sum((self._working_value(o) for o in opening), Decimal(0))
        held = {p["instrument"] for p in positions}
        pending = {o.instrument_id.value for o in opening} - held
        breaker = counters.breaker
        equity = self._equity(book)
        drawdown = daily = None
        if breaker is not None and equity is not None:
            if breaker.peak_equity is not None:
                drawdown = _pct(breaker.peak_equity - equity, breaker.peak_equity)
            if counters.day_start_equity is not None:
                daily = _pct(counters.day_start_equity - equity, counters.day_start_equity)
        config = breaker.config if breaker is not None else None
        usage: Json = {
            "positions": positions,
            "gross_exposure": {
                **_used(held_gross + working_gross, lim.max_gross_exposure),
                "held": str(held_gross),
                "working": str(working_gross),
            },
            "net_exposure": _used(held_net, lim.max_net_exposure),
            "open_positions": {**_used(len(held) + len(pending), lim.max_open_positions),
                               "pending": len(pending)},
            "open_orders": _used(len(working), lim.max_open_orders),
            "trades_today": _used(counters.entries_today, lim.max_trades_per_day),
            "daily_loss_pct": _used(daily, config.daily_loss_pct if config else None),
            "drawdown_pct": _used(drawdown, config.max_drawdown_pct if config else None),
            "equity": _num(equity),
        }  # fmt: skip
        if account_scope:
            usage["orders_last_second"] = _used(counters.ops_last_second, lim.max_orders_per_second)
        return usage

    def _bot_entry(self, account: AccountId, bot: Bot) -> Json:
        counters = self._engine.usage(account, bot.id)
        return {
            "bot": bot.id.value,
            "status": bot.status.value,
            "trading_state": self._engine.trading_state(account, bot.id).value,
            "limits": limits_json(bot.limits),
            "breakers": breakers_json(self._limits.bot_breakers(bot.id)),
            "usage": self._usage(
                bot.limits,
                self._engine.book(account, bot.id),
                self._engine.open_orders(account, bot.id),
                counters,
                account_scope=False,
            ),
        }

    def limits(self, account: AccountId | None = None) -> list[Json]:
        """Per account (and its bots): the limits, the breaker settings and their use."""
        found = []
        for acct in self._accounts():
            if account is not None and acct != account:
                continue
            limits = self._limits.limits(acct)
            found.append(
                {
                    "account": acct.value,
                    "configured": limits is not None,
                    "trading_state": self._engine.trading_state(acct).value,
                    "limits": limits_json(limits) if limits is not None else None,
                    "breakers": breakers_json(self._limits.breakers(acct)),
                    "usage": self._usage(
                        limits,
                        self._engine.book(acct),
                        self._engine.open_orders(acct),
                        self._engine.usage(acct),
                        account_scope=True,
                    ),
                    "bots": [self._bot_entry(acct, b) for b in self._bots.list(acct)],
                }
            )
        return found

    # -- breakers ----------------------------------------------------------------------------

    def _scope(self, account: AccountId, bot: BotId | None, breaker: CircuitBreaker) -> Json:
        config = breaker.config
        active = {t.kind: t for t in breaker.active}
        kinds = []
        for kind, (limit_field, action_field) in _KIND_LIMITS.items():
            trip = active.get(kind)
            limit = getattr(config, limit_field)
            kinds.append(
                {
                    "kind": kind.value,
                    "enabled": limit is not None,
                    "limit": _num(limit),
                    "action": getattr(config, action_field).value,
                    "tripped": trip is not None,
                    "reason": trip.reason if trip else None,
                    "figures": dict(trip.figures) if trip else {},
                    "tripped_at": _iso(trip.at) if trip else None,
                    "resets_at": _iso(trip.reset_at) if trip else None,
                }
            )
        return {
            "account": account.value,
            "bot": bot.value if bot else None,
            "state": breaker.state.value,
            "tripped": bool(breaker.active),
            "peak_equity": _num(breaker.peak_equity),
            "losses_in_a_row": breaker.losses_in_a_row,
            "errors_last_hour": len(breaker.errors),
            "reset_after_seconds": breakers_json(config)["reset_after_seconds"],  # type: ignore[index]
            "breakers": kinds,
        }

    def breakers(self, limit: int = 50, offset: int = 0) -> Json:
        """Every configured breaker's status, and the trips newest first (``limit`` from
        ``offset``)."""
        scopes: list[Json] = []
        trips: list[Json] = []
        for account in self._accounts():
            candidates: list[BotId | None] = [None, *(b.id for b in self._bots.list(account))]
            for bot in candidates:
                breaker = self._engine.usage(account, bot).breaker
                if breaker is None:
                    continue
                scopes.append(self._scope(account, bot, breaker))
                trips.extend(_trip_json(account, bot, t) for t in breaker.history)
        trips.sort(key=lambda t: str(t["tripped_at"]), reverse=True)
        return {
            "scopes": scopes,
            "history": trips[offset : offset + limit],
            "total_trips": len(trips),
        }
