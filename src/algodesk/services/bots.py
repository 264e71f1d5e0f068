"""Bots: create, start, pause, resume, stop. Each change is journaled (BotCreated,
BotTransition) with who made it and why; the registry is the replay of those records.
Creating a bot books its capital allocation in the ledger; stopping it flattens it."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from algodesk.domain.bots import Bot, BotError, BotStatus, BotTransition
from algodesk.domain.commands import Flatten
from algodesk.domain.identifiers import AccountId, BotId, Venue
from algodesk.domain.market.option_symbols import SymbolTarget, symbol_target
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.sizing import (
    FixedQuantity,
    PercentOfEquity,
    RiskPercent,
    SizingRule,
    TargetPosition,
)
from algodesk.domain.values import Currency, Money
from algodesk.ports.clock import Clock
from algodesk.ports.storage import JournalRecord, UnitOfWork
from algodesk.services.ledger import LedgerService

__all__ = ["BotChange", "BotService", "limits_from_payload", "limits_payload"]

_SIZING: Mapping[str, type] = {
    "fixed": FixedQuantity,
    "percent_of_equity": PercentOfEquity,
    "risk_percent": RiskPercent,
    "target_position": TargetPosition,
}


def _encode(value: object) -> object:
    if isinstance(value, Decimal):
        return f"D:{value}"
    if isinstance(value, timedelta):
        return f"T:{value.total_seconds()}"
    return value


def _decode(value: object) -> object:
    if isinstance(value, str) and value.startswith("D:"):
        return Decimal(value[2:])
    if isinstance(value, str) and value.startswith("T:"):
        return timedelta(seconds=float(value[2:]))
    return value


def limits_payload(limits: RiskLimits) -> dict[str, object]:
    return {f.name: _encode(getattr(limits, f.name)) for f in dataclasses.fields(limits)}


def limits_from_payload(payload: Mapping[str, object]) -> RiskLimits:
    names = {f.name for f in dataclasses.fields(RiskLimits)}
    unknown = set(payload) - names
    if unknown:
        raise BotError(f"unknown limit fields: {', '.join(sorted(unknown))}")
    return RiskLimits(**{k: _decode(v) for k, v in payload.items()})  # type: ignore[arg-type]


def _sizing_payload(rule: SizingRule) -> dict[str, object]:
    name = next(k for k, v in _SIZING.items() if isinstance(rule, v))
    fields = {f.name: _encode(getattr(rule, f.name)) for f in dataclasses.fields(rule)}
    return {"rule": name, **fields}


def _sizing_from(payload: Mapping[str, object]) -> SizingRule:
    kind = _SIZING[str(payload["rule"])]
    args = {k: _decode(v) for k, v in payload.items() if k != "rule"}
    return kind(**args)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class BotChange:
    """A journaled change of a bot's configuration: when, who, why, and which fields."""

    at: datetime
    by: str
    reason: str
    fields: tuple[str, ...]


_CHANGEABLE = ("allocation", "limits", "symbol_map", "sizing")


def _change(record: JournalRecord) -> BotChange:
    p = record.payload
    changed = tuple(f for f in _CHANGEABLE if p.get(f) is not None)
    return BotChange(record.ts, str(p.get("by", "")), str(p.get("reason", "")), changed)


class BotService:
    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], clock: Clock, ledger: LedgerService
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ledger = ledger
        self._bots: dict[BotId, Bot] = {}
        self._ever: set[BotId] = set()  # ids are never reused: keys and history derive from them
        self._changes: dict[BotId, list[BotChange]] = {}
        self._guard = threading.RLock()
        self._account_lock: Callable[[AccountId], AbstractContextManager[object]] = lambda _: (
            nullcontext()
        )

    def serialize_with(self, lock: Callable[[AccountId], AbstractContextManager[object]]) -> None:
        """Hold ``lock(account)`` (the engine's per-account lock) while writing to an account's
        ledger: only one writer appends to an account's chain at a time, so a bot's cash move
        never races the engine's booking of a fill."""
        self._account_lock = lock

    def _journal_with_cash(
        self,
        account: AccountId,
        bot_id: BotId,
        record: JournalRecord,
        move: Money | None,
        memo: str,
        key: str,
    ) -> None:
        """Journal ``record`` and, when given, move ``move`` to the bot in one unit of work:
        both are stored, or neither."""

        def journal(uow: UnitOfWork) -> None:
            uow.journal.append(record)

        with self._account_lock(account):
            if move is not None and not move.is_zero():
                self._ledger.allocate(account, bot_id, move, memo, key=key, also=journal)
                return
            with self._uow_factory() as uow:
                journal(uow)
                uow.commit()

    def load(self, accounts: Iterable[AccountId]) -> None:
        """Rebuild the registry from the accounts' journals (at start)."""
        with self._guard, self._uow_factory() as uow:
            for account in accounts:
                for record in uow.journal.records(account):
                    if record.kind == "BotCreated":
                        created = self._from_payload(account, record.payload)
                        self._bots[created.id] = created
                        self._ever.add(created.id)
                    elif record.kind == "BotUpdated":
                        bot_id = BotId(str(record.payload["bot"]))
                        self._apply_update(bot_id, record.payload)
                        self._changes.setdefault(bot_id, []).append(_change(record))
                    elif record.kind == "BotDeleted":
                        self._bots.pop(BotId(str(record.payload["bot"])), None)
                    elif record.kind == "BotTransition":
                        bot = self._bots[BotId(str(record.payload["bot"]))]
                        bot.move(
                            str(record.payload["action"]),
                            record.ts,
                            str(record.payload["by"]),
                            str(record.payload["reason"]),
                        )

    def _from_payload(self, account: AccountId, p: Mapping[str, object]) -> Bot:
        symbols = dict(p["symbol_map"])  # type: ignore[call-overload]
        venue = Venue(str(p["venue"]))
        return Bot(
            id=BotId(str(p["bot"])),
            account_id=account,
            venue=venue,
            allocation=Money(Decimal(str(p["allocation"])), Currency(str(p["currency"]))),
            limits=limits_from_payload(dict(p["limits"])),  # type: ignore[call-overload]
            symbol_map={str(k): symbol_target(str(v), venue) for k, v in symbols.items()},
            sizing=_sizing_from(dict(p["sizing"])),  # type: ignore[call-overload]
        )

    def get(self, bot_id: BotId) -> Bot | None:
        return self._bots.get(bot_id)

    def changes(self, bot_id: BotId) -> list[BotChange]:
        """The bot's configuration changes, oldest first (its lifecycle is ``bot.history``)."""
        return list(self._changes.get(bot_id, ()))

    def used(self, bot_id: BotId) -> bool:
        """True when the id was ever given to a bot (ids are never reused)."""
        return bot_id in self._ever

    def list(self, account_id: AccountId | None = None) -> list[Bot]:
        bots = list(self._bots.values())  # one step: a bot created meanwhile cannot break it
        return sorted(
            (b for b in bots if account_id in (None, b.account_id)), key=lambda b: b.id.value
        )

    def create(self, bot: Bot, by: str) -> Bot:
        """Register ``bot`` (status CREATED) and allocate its capital from the account's cash."""
        with self._guard:
            if bot.id in self._bots:
                raise BotError(f"bot {bot.id} exists already")
            if bot.id in self._ever:
                raise BotError(f"bot id {bot.id} was used before; bot ids are never reused")
            if bot.status is not BotStatus.CREATED or bot.history:
                raise BotError(f"bot {bot.id}: a new bot starts CREATED with no history")
            payload = {
                "bot": bot.id.value,
                "venue": bot.venue.value,
                "allocation": str(bot.allocation.amount),
                "currency": bot.allocation.currency.code,
                "limits": limits_payload(bot.limits),
                "symbol_map": {k: v.value for k, v in bot.symbol_map.items()},
                "sizing": _sizing_payload(bot.sizing),
                "by": by,
            }
            self._journal_with_cash(
                bot.account_id,
                bot.id,
                JournalRecord(bot.account_id, "BotCreated", self._clock.now(), payload),
                bot.allocation,
                f"allocation to {bot.id}",
                f"bot:{bot.id}",
            )
            self._bots[bot.id] = bot
            self._ever.add(bot.id)
            return bot

    def move(self, bot_id: BotId, action: str, by: str, reason: str = "") -> BotTransition:
        """start, pause, resume or stop (stop does not flatten: see :meth:`stop`)."""
        with self._guard:
            bot = self._bots.get(bot_id)
            if bot is None:
                raise BotError(f"no bot {bot_id}")
            step = bot.move(action, self._clock.now(), by, reason)
            payload = {"bot": bot_id.value, "action": action, "by": by, "reason": reason}
            try:
                with self._uow_factory() as uow:
                    record = JournalRecord(bot.account_id, "BotTransition", step.at, payload)
                    uow.journal.append(record)
                    uow.commit()
            except Exception:  # not journaled: the move did not happen
                bot.status = step.before
                bot.history.pop()
                raise
            return step

    def _apply_update(self, bot_id: BotId, p: Mapping[str, object]) -> Bot:
        bot = self._bots[bot_id]
        if p.get("allocation") is not None:
            bot.allocation = Money(Decimal(str(p["allocation"])), bot.allocation.currency)
        if p.get("symbol_map") is not None:
            symbols = dict(p["symbol_map"])  # type: ignore[call-overload]
            mapped = {str(k): symbol_target(str(v), bot.venue) for k, v in symbols.items()}
            for symbol, instrument in mapped.items():
                if instrument.venue != bot.venue:
                    raise BotError(
                        f"bot {bot_id}: symbol {symbol} maps to {instrument} on another venue"
                    )
            bot.symbol_map = mapped
        if p.get("limits") is not None:
            bot.limits = limits_from_payload(dict(p["limits"]))  # type: ignore[call-overload]
        if p.get("sizing") is not None:
            bot.sizing = _sizing_from(dict(p["sizing"]))  # type: ignore[call-overload]
        return bot

    def update(
        self,
        bot_id: BotId,
        by: str,
        *,
        limits: RiskLimits | None = None,
        symbol_map: Mapping[str, SymbolTarget] | None = None,
        sizing: SizingRule | None = None,
        allocation: Money | None = None,
        reason: str = "",
    ) -> Bot:
        """Change a bot's limits, symbol map, sizing or allocation; journaled with who and why.
        A new allocation moves the difference between the account's cash and the bot's through
        the ledger (an allocation entry) before the change is journaled."""
        with self._guard:
            bot = self._bots.get(bot_id)
            if bot is None:
                raise BotError(f"no bot {bot_id}")
            if bot.status is BotStatus.STOPPED:
                raise BotError(f"bot {bot_id} is stopped; it cannot be changed")
            if allocation is not None:
                if allocation.currency != bot.allocation.currency:
                    raise BotError(
                        f"bot {bot_id}: expected an allocation in {bot.allocation.currency}, "
                        f"was {allocation.currency}"
                    )
                if allocation.amount < 0:
                    raise BotError(f"bot {bot_id}: expected an allocation >= 0, was {allocation}")
            symbols = (
                {k: v.value for k, v in symbol_map.items()} if symbol_map is not None else None
            )
            if symbol_map is not None:
                for symbol, instrument in symbol_map.items():
                    if instrument.venue != bot.venue:
                        raise BotError(
                            f"bot {bot_id}: symbol {symbol} maps to {instrument} on another "
                            f"venue than the bot's {bot.venue}"
                        )
            payload: dict[str, object] = {
                "bot": bot_id.value,
                "by": by,
                "reason": reason,
                "limits": limits_payload(limits) if limits is not None else None,
                "symbol_map": symbols,
                "sizing": _sizing_payload(sizing) if sizing is not None else None,
                "allocation": str(allocation.amount) if allocation is not None else None,
            }
            delta = (
                Money(allocation.amount - bot.allocation.amount, allocation.currency)
                if allocation is not None
                else None
            )
            before = (bot.limits, bot.symbol_map, bot.sizing, bot.allocation)
            self._apply_update(bot_id, payload)
            record = JournalRecord(bot.account_id, "BotUpdated", self._clock.now(), payload)
            try:
                # The cash move and the record commit together: a failure leaves neither, and
                # a retry moves the difference once.
                self._journal_with_cash(
                    bot.account_id,
                    bot_id,
                    record,
                    delta,
                    f"allocation of {bot_id} set to {allocation.amount if allocation else ''}",
                    f"bot-allocation:{bot_id}:{uuid.uuid4().hex}",
                )
            except Exception:  # not stored: the change did not happen
                bot.limits, bot.symbol_map, bot.sizing, bot.allocation = before
                raise
            self._changes.setdefault(bot_id, []).append(_change(record))
            return bot

    def delete(self, bot_id: BotId, by: str, position_of: Callable[[BotId], bool]) -> None:
        """Remove a stopped bot that holds nothing (``position_of`` says whether it still holds
        a position); the cash left in it returns to the account. Its history stays in the
        journal."""
        with self._guard:
            bot = self._bots.get(bot_id)
            if bot is None:
                raise BotError(f"no bot {bot_id}")
            if bot.status is not BotStatus.STOPPED:
                raise BotError(f"bot {bot_id} is {bot.status}: stop it first")
            if position_of(bot_id):
                raise BotError(
                    f"bot {bot_id} still holds positions or working orders: flatten it first"
                )
            ccy = bot.allocation.currency
            with self._account_lock(bot.account_id):
                cash = self._ledger.summary(bot.account_id, bot_id).cash.get(ccy.code, Decimal(0))
                payload = {"bot": bot_id.value, "by": by, "returned": str(cash)}
                self._journal_with_cash(
                    bot.account_id,
                    bot_id,
                    JournalRecord(bot.account_id, "BotDeleted", self._clock.now(), payload),
                    Money(-cash, ccy) if cash > 0 else None,
                    f"{bot_id} deleted",
                    f"bot-delete:{bot_id}",
                )
            del self._bots[bot_id]

    def stop(
        self, bot_id: BotId, by: str, reason: str, handle: Callable[[Flatten], object]
    ) -> BotTransition:
        """Stop the bot for good and flatten it (cancel its orders, close its positions)."""
        step = self.move(bot_id, "stop", by, reason)
        bot = self._bots[bot_id]
        handle(
            Flatten(account_id=bot.account_id, bot_id=bot_id, idempotency_key=f"bot-stop:{bot_id}")
        )
        return step
