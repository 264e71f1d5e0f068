"""The engine's circuit breakers: one per account and one per bot that has a configuration.

The board feeds them what the engine sees (equity after each fill, each closed trade, each venue
error), says which state they impose, and turns their trips and resets into journal records so
that the same picture comes back after a restart.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from algodesk.domain.identifiers import AccountId, BotId
from algodesk.domain.risk.base import TradingState
from algodesk.domain.risk.breakers import BreakerConfig, BreakerKind, CircuitBreaker, Trip
from algodesk.ports.storage import JournalRecord

__all__ = ["BreakerBoard", "ScopeUsage", "ScopedTrip"]

ScopeKey = tuple[AccountId, BotId | None]
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


@dataclass(frozen=True, slots=True)
class ScopedTrip:
    account_id: AccountId
    bot_id: BotId | None
    trip: Trip

    def record(self) -> JournalRecord:
        t = self.trip
        return JournalRecord(
            self.account_id,
            "BreakerTripped",
            t.at,
            {
                "bot": self.bot_id.value if self.bot_id else None,
                "kind": t.kind.value,
                "state": t.state.value,
                "reset_at": t.reset_at.isoformat(),
                "figures": dict(t.figures),
                "reason": t.reason,
            },
        )


@dataclass(frozen=True, slots=True)
class ScopeUsage:
    """What the engine counts for one scope (an account, or a bot), read for the limit and
    breaker views: opening orders today, the account's order operations in the last second,
    a copy of the scope's breaker (None: no breaker configured) and the day's starting
    equity the daily-loss breaker measures from."""

    entries_today: int
    ops_last_second: int
    breaker: CircuitBreaker | None
    day_start_equity: Decimal | None


def worst(*states: TradingState) -> TradingState:
    return max(states, key=lambda s: _SEVERITY[s])


@dataclass(frozen=True, slots=True)
class BoardSnapshot:
    """One account's breakers and day starts, copied (see :meth:`BreakerBoard.snapshot`)."""

    breakers: Mapping[ScopeKey, CircuitBreaker]
    day_starts: Mapping[ScopeKey, tuple[date, Decimal]]
    contributed: Mapping[ScopeKey, Decimal] = field(default_factory=dict)


class BreakerBoard:
    def __init__(
        self,
        accounts: Mapping[AccountId, BreakerConfig],
        bots: Mapping[BotId, BreakerConfig] | None = None,
    ) -> None:
        self._account_configs = accounts
        self._bot_configs = bots if bots is not None else {}
        self._breakers: dict[ScopeKey, CircuitBreaker] = {}
        self._day_start: dict[ScopeKey, tuple[date, Decimal]] = {}
        # The money put into each scope's book from outside its trading when last observed
        # (deposits, withdrawals, allocations): a change moves the peak and the day start.
        self._contributed: dict[ScopeKey, Decimal] = {}

    def breaker(self, account_id: AccountId, bot_id: BotId | None = None) -> CircuitBreaker | None:
        """The scope's breaker. The configurations may be live mappings (limits changed over
        the API): a changed configuration applies to the next observation, and the trips,
        peak and streak the breaker holds are kept."""
        key = (account_id, bot_id)
        config = self._bot_configs.get(bot_id) if bot_id else self._account_configs.get(account_id)
        found = self._breakers.get(key)
        if found is None:
            if config is None:
                return None
            found = self._breakers[key] = CircuitBreaker(config)
        elif config is not None and found.config is not config:
            found.config = config
        return found

    def snapshot(self, account_id: AccountId) -> BoardSnapshot:
        """A copy of the account's breakers (its own and its bots') and day starts, all of
        their state included (the venue-error window is not journaled)."""
        return BoardSnapshot(
            {k: copy.deepcopy(b) for k, b in self._breakers.items() if k[0] == account_id},
            {k: v for k, v in self._day_start.items() if k[0] == account_id},
            {k: v for k, v in self._contributed.items() if k[0] == account_id},
        )

    def restore_snapshot(self, account_id: AccountId, snapshot: object) -> None:
        """Put the account's breakers back as :meth:`snapshot` copied them."""
        if not isinstance(snapshot, BoardSnapshot):
            raise TypeError("expected a BreakerBoard.snapshot()")
        for key in [k for k in self._breakers if k[0] == account_id]:
            del self._breakers[key]
        for key in [k for k in self._day_start if k[0] == account_id]:
            del self._day_start[key]
        for key in [k for k in self._contributed if k[0] == account_id]:
            del self._contributed[key]
        self._breakers.update({k: copy.deepcopy(b) for k, b in snapshot.breakers.items()})
        self._day_start.update(snapshot.day_starts)
        self._contributed.update(snapshot.contributed)

    def day_started(self, account_id: AccountId, bot_id: BotId | None, day: date) -> bool:
        """Whether the scope's day ``day`` has its starting equity already."""
        found = self._day_start.get((account_id, bot_id))
        return found is not None and found[0] == day

    def day_start(self, account_id: AccountId, bot_id: BotId | None = None) -> Decimal | None:
        """The equity the scope's current day started from (None: no fill observed yet)."""
        found = self._day_start.get((account_id, bot_id))
        return found[1] if found is not None else None

    def state(self, account_id: AccountId, bot_id: BotId | None, now: datetime) -> TradingState:
        breaker = self.breaker(account_id, bot_id)
        if breaker is None:
            return TradingState.ACTIVE
        breaker.expire(now)
        return breaker.state

    def restore(self, account_id: AccountId, records: Iterable[JournalRecord]) -> None:
        """Rebuild trips and peaks from the journal (BreakerTripped, BreakerReset, EquityPeak)."""
        for record in records:
            bot_value = record.payload.get("bot")
            bot = BotId(str(bot_value)) if bot_value else None
            breaker = self.breaker(account_id, bot)
            if breaker is None:
                continue
            if record.kind in ("EquityPeak", "DayStart") and "contributed" in record.payload:
                self._contributed[(account_id, bot)] = Decimal(str(record.payload["contributed"]))
            if record.kind == "EquityPeak":
                breaker.peak_equity = Decimal(str(record.payload["peak"]))
            elif record.kind == "DayStart":
                day = date.fromisoformat(str(record.payload["day"]))
                self._day_start[(account_id, bot)] = (day, Decimal(str(record.payload["equity"])))
            elif record.kind == "ClosedTrade":
                loss = Decimal(str(record.payload["pnl"])) < 0
                breaker.losses_in_a_row = breaker.losses_in_a_row + 1 if loss else 0
            elif record.kind == "BreakerTripped":
                figures = record.payload.get("figures", {})
                trip = Trip(
                    kind=BreakerKind(str(record.payload["kind"])),
                    state=TradingState(str(record.payload["state"])),
                    at=record.ts,
                    reset_at=datetime.fromisoformat(str(record.payload["reset_at"])),
                    figures=tuple((str(k), str(v)) for k, v in dict(figures).items()),  # type: ignore[call-overload]
                )
                breaker.active.append(trip)
                breaker.history.append(trip)
            elif record.kind == "BreakerReset":
                breaker.reset(record.ts, str(record.payload.get("by", "journal")))

    def observe_fill(
        self,
        now: datetime,
        account_id: AccountId,
        bot_id: BotId | None,
        equity: Mapping[BotId | None, Decimal],
        closed_pnl: Decimal | None,
        contributed: Mapping[BotId | None, Decimal] | None = None,
        day_start: Mapping[BotId | None, Decimal] | None = None,
    ) -> tuple[list[ScopedTrip], list[JournalRecord]]:
        """After a fill: equity per scope (``None``: the account) and, when the fill closed
        something, its net P&L. Returns the trips, and the records (new peaks, the day's
        starting equity, closed trades) that let a restart pick up where this left off.

        ``contributed``: the money put into each scope's book from outside its trading
        (``BookSummary.contributed``). Since the last observation a deposit, a withdrawal or
        an allocation changed it, and the equity with it, by as much: the peak and the day's
        start move by the same amount (a withdrawal of profits is not a drawdown, a deposit
        does not hide the day's loss). ``day_start``: a scope's equity when its day began, for
        a scope whose day begins with this observation (else the equity now is taken)."""
        trips: list[ScopedTrip] = []
        peaks: list[JournalRecord] = []
        scopes: list[BotId | None] = [None] if bot_id is None else [None, bot_id]
        for bot in scopes:
            breaker = self.breaker(account_id, bot)
            if breaker is None or bot not in equity:
                continue
            value = equity[bot]
            bot_value = bot.value if bot else None
            flow = contributed.get(bot) if contributed is not None else None
            extra: dict[str, str | None] = {} if flow is None else {"contributed": str(flow)}
            peaks.extend(self._move_by_flow(now, account_id, bot, breaker, flow))
            day, start = self._day_start.get((account_id, bot), (None, value))
            if day != now.date():
                start = day_start.get(bot, value) if day_start is not None else value
                self._day_start[(account_id, bot)] = (now.date(), start)
                payload = {"bot": bot_value, "day": now.date().isoformat(), "equity": str(start)}
                peaks.append(JournalRecord(account_id, "DayStart", now, payload | extra))
            before = breaker.peak_equity
            trip = breaker.observe_equity(now, value, start)
            if breaker.peak_equity is not None and breaker.peak_equity != before:
                payload = {"bot": bot_value, "peak": str(breaker.peak_equity)}
                peaks.append(JournalRecord(account_id, "EquityPeak", now, payload | extra))
            if trip is not None:
                trips.append(ScopedTrip(account_id, bot, trip))
            if closed_pnl is not None and (bot is None or bot == bot_id):
                payload = {"bot": bot_value, "pnl": str(closed_pnl)}
                peaks.append(JournalRecord(account_id, "ClosedTrade", now, payload))
                trip = breaker.observe_closed_trade(now, closed_pnl)
                if trip is not None:
                    trips.append(ScopedTrip(account_id, bot, trip))
        return trips, peaks

    def _move_by_flow(
        self,
        now: datetime,
        account_id: AccountId,
        bot: BotId | None,
        breaker: CircuitBreaker,
        flow: Decimal | None,
    ) -> list[JournalRecord]:
        """Move the scope's peak and day start by the change of the money put into it since
        it was last observed; the records that keep the moves over a restart."""
        key = (account_id, bot)
        if flow is None:
            return []
        last = self._contributed.get(key)
        self._contributed[key] = flow
        if last is None or flow == last:
            return []
        delta = flow - last
        records = []
        bot_value = bot.value if bot else None
        if breaker.peak_equity is not None:
            breaker.peak_equity += delta
            payload = {"bot": bot_value, "peak": str(breaker.peak_equity), "contributed": str(flow)}
            records.append(JournalRecord(account_id, "EquityPeak", now, payload))
        if key in self._day_start:
            day, start = self._day_start[key]
            self._day_start[key] = (day, start + delta)
            payload = {
                "bot": bot_value,
                "day": day.isoformat(),
                "equity": str(start + delta),
                "contributed": str(flow),
            }
            records.append(JournalRecord(account_id, "DayStart", now, payload))
        return records

    def observe_error(self, now: datetime, account_id: AccountId) -> list[ScopedTrip]:
        breaker = self.breaker(account_id)
        if breaker is None:
            return []
        trip = breaker.observe_error(now)
        return [ScopedTrip(account_id, None, trip)] if trip else []

    def reset(
        self, now: datetime, account_id: AccountId, bot_id: BotId | None, by: str
    ) -> JournalRecord | None:
        breaker = self.breaker(account_id, bot_id)
        if breaker is None:
            return None
        closed = breaker.reset(now, by)
        payload = {
            "bot": bot_id.value if bot_id else None,
            "by": by,
            "closed": [t.kind.value for t in closed],
        }
        return JournalRecord(account_id, "BreakerReset", now, payload)
