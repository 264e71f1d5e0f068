"""Exits beside the engine: plans attached to entries, watches armed by their fills, and the
reduce-only orders a mark fires.

:class:`ExitRunner` subscribes to the engine's events: an ``ExitPlanned`` journal record tells
it a plan, an ``OrderFilled`` arms or grows the entry's watch. :meth:`ExitRunner.on_mark` sends
what fires through :meth:`Engine.handle`, so exits pass the same gates (entry-only limits never
block them). Journal records bring the picture back after a restart; a trailing stop restarts
from the entry's average price (its best mark is not journaled).

An exit that fires first cancels the owner's resting reduce-only orders that would leave it no
room (:meth:`ExitRunner._clear_way`). An entry's watches retire with its position: the runner
keeps each book's position from the fills it hears, in their order, and when the owner's book
goes flat or turns the other way the watches on it are journaled as fired (``POSITION_CLOSED``);
at a start the ledger's fills are replayed to retire restored watches the same way.

An exit the gates deny stays armed and is tried at every mark that crosses its level. Once
denied, it is first checked without sending (:meth:`Engine.check_list`) while its denial
stands: it goes when the check passes, is journaled again when the reason changes, and is
otherwise held back, journaled at most once per :data:`DENIAL_REPEAT` (each try wrote a
command, its denial and an ``ExitDenied`` record: about three journal records per mark for as
long as, say, a halted account or another bot's opposite position kept it out).

A watch a mark fired is in flight until :meth:`ExitBook.conclude`: fills of its entry heard
meanwhile wait there and are protected whatever the exit did. A failure while one exit is
decided is logged, and the mark's other exits are still tried: one not sent is tried again at
the next mark; one sent (its answer lost, or its record not written) is sent again exactly as
it was, under its key, until the engine's answer is recorded, and nothing else of its watch
goes meanwhile; one the engine recorded nothing for was not sent, and is decided afresh (and
retired if its owner's book went flat while it was in flight). At a start, what the engine
answered under a restored watch's next keys without a record of the exits is recorded
(:meth:`ExitRunner._resolve_unrecorded`).

:meth:`ExitRunner.views` lists what guards each position now (the API's ``/exits``): each armed
watch, its levels, and whether a fired exit is kept out; the journaled exit records also go to
:attr:`ExitRunner.listeners` (the stream's risk topic).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from algodesk.domain.commands import CancelOrder, SubmitOrder
from algodesk.domain.events import OrderFilled
from algodesk.domain.exits import ExitKind, ExitPlan, ExitWatch, Trailing, TrailingUnit
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId
from algodesk.domain.ledger.entries import EntryKind
from algodesk.domain.orders import Order, OrderStatus, OrderType
from algodesk.domain.risk.base import Mark, TradingState
from algodesk.domain.values import Price, Quantity
from algodesk.ports.clock import Clock
from algodesk.ports.storage import JournalRecord, UnitOfWork
from algodesk.services.breakers import worst
from algodesk.services.outcomes import Outcome

if TYPE_CHECKING:
    from algodesk.services.engine import Engine, ListDenial

_log = logging.getLogger("algodesk.exits")

#: Orders the venue or the gates refused: an exit answered ok whose order ended so did not go.
_REFUSED = (OrderStatus.REJECTED, OrderStatus.DENIED)

#: The codes of the trading-state gate: a denial for one of them stands while the states do
#: (TRADING_STATE_REDUCING, which also depends on the books, only while the exit's state is
#: HALTED or the last mark still fires the exit).
_STATE_CODES = frozenset({"TRADING_HALTED", "TRADING_STATE_REDUCING"})

#: A denied exit whose denial stands (the same code) is tried, and journaled, again at most
#: this often; the marks between only check it without sending.
DENIAL_REPEAT = timedelta(seconds=60)

__all__ = [
    "ExitBook",
    "ExitDenialView",
    "ExitRunner",
    "ExitView",
    "UnreadableExitPlanError",
    "check_plan",
    "plan_from_payload",
    "plan_payload",
]


def check_plan(order: Order, plan: ExitPlan | None, mark: Mark | None) -> tuple[str, str]:
    """``INVALID_EXITS`` and why, when a plan does not fit its entry (a long's stop above the
    price...); two empty strings when it fits or there is none."""
    if plan is None or plan.empty:
        return "", ""
    reference = order.price.value if order.price else (mark.price if mark else None)
    if reference is None:
        return "INVALID_EXITS", "no price to place the exits against"
    try:
        plan.check_against(order.side, reference)
    except ValueError as exc:
        return "INVALID_EXITS", str(exc)
    return "", ""


def plan_payload(order: Order, plan: ExitPlan) -> dict[str, object]:
    trail = plan.trailing
    return {
        "coid": order.client_order_id.value,
        "bot": order.bot_id.value if order.bot_id else None,
        "stop_loss": str(plan.stop_loss) if plan.stop_loss else None,
        "take_profit": str(plan.take_profit) if plan.take_profit else None,
        "trailing": str(trail.distance) if trail else None,
        "trailing_unit": trail.unit.value if trail else None,
    }


class UnreadableExitPlanError(ValueError):
    """A journaled exit plan that cannot be read: its entry's exits would not be watched."""


def plan_from_payload(payload: dict[str, object]) -> ExitPlan:
    """The plan :func:`plan_payload` wrote; :class:`UnreadableExitPlanError` (naming the entry
    and what was found) for one that is damaged, never a plan made up from what is left."""

    def number(key: str, *, positive: bool = False) -> Decimal | None:
        value = payload.get(key)
        if value is None or value == "":
            return None
        try:
            found = Decimal(value) if isinstance(value, str) else None
        except ArithmeticError:
            found = None
        if found is None or not found.is_finite():
            raise ValueError(f"{key}: expected a decimal text, was {value!r}")
        if positive and found <= 0:  # a price level may be negative where its market allows
            raise ValueError(f"{key}: expected a number above 0, was {value!r}")
        return found

    try:
        stop, target = number("stop_loss"), number("take_profit")
        distance = number("trailing", positive=True)
        trailing = None
        if distance is not None:
            trailing = Trailing(distance, TrailingUnit(str(payload.get("trailing_unit"))))
        return ExitPlan(
            Price(stop) if stop is not None else None,
            Price(target) if target is not None else None,
            trailing,
        )
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise UnreadableExitPlanError(
            f"the exit plan of order {payload.get('coid')!r} cannot be read ({exc}); its "
            "stop-loss, take-profit and trailing stop would not be watched"
        ) from None


@dataclass(frozen=True, slots=True)
class ExitDenialView:
    """Why an armed exit was kept out: the exit (``kind``) that fired, what the gates said,
    since when they have said it, and when it was last tried (journaled)."""

    kind: ExitKind
    code: str
    message: str
    since: datetime
    tried: datetime


@dataclass(frozen=True, slots=True)
class ExitView:
    """An armed watch as :meth:`ExitRunner.views` shows it. ``side`` is the entry's;
    ``state``: ``armed`` (watching), ``denied`` (it fired and the gates keep it out: tried
    again at the marks that cross its level), ``in_flight`` (fired, being decided now) or
    ``retrying`` (sent, and its answer not recorded: sent again as it was at each mark)."""

    entry: ClientOrderId
    account: AccountId
    bot: BotId | None
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    plan: ExitPlan
    trailing_stop: Decimal | None
    state: str
    denied: ExitDenialView | None


class ExitBook:
    """Plans by entry, their owners, and the armed watches. Marks come on the market thread
    while fills arm watches on whichever thread stored them: a lock keeps the book whole (a
    watch armed during a mark made the mark fail, its stops unchecked)."""

    def __init__(self) -> None:
        self.plans: dict[ClientOrderId, ExitPlan] = {}
        self.watches: dict[ClientOrderId, ExitWatch] = {}
        self.owners: dict[ClientOrderId, tuple[AccountId, BotId | None]] = {}
        # Watches a mark fired whose exit is not concluded yet (see :meth:`conclude`), with
        # what their entries filled meanwhile.
        self._in_flight: dict[ClientOrderId, Decimal] = {}
        # The attempts (journaled exit records, each an idempotency key) of entries that have
        # no watch now (retired, or all exited before a restart): a later fill of the entry
        # arms a watch that goes on from there, as a restart does (it counts the records).
        self._keys_used: dict[ClientOrderId, int] = {}
        # In-flight watches whose owner's book went flat or turned meanwhile (a retirement
        # refused while the exit was decided): retired when it concludes without going.
        self.went_flat: set[ClientOrderId] = set()
        # ... and those whose quantity before it is gone with it (counted afresh from then).
        self._base_gone: set[ClientOrderId] = set()
        # Entries whose retirement record is being written: no exit of theirs goes meanwhile
        # (its key would be counted under the record, committed first).
        self._recording: set[ClientOrderId] = set()
        self._lock = threading.RLock()

    def plan(
        self, coid: ClientOrderId, owner: tuple[AccountId, BotId | None], plan: ExitPlan
    ) -> None:
        with self._lock:
            self.plans[coid] = plan
            self.owners[coid] = owner

    def arm(self, fill: Fill) -> ExitWatch | None:
        """Arm (or grow) the watch of an entry that has a plan, by one of its fills."""
        with self._lock:
            return self._arm(fill)

    def _arm(self, fill: Fill) -> ExitWatch | None:
        coid = fill.client_order_id
        plan = self.plans.get(coid)
        if plan is None:
            return None
        watch = self.watches.get(coid)
        if watch is not None and coid in self._in_flight:  # counted when its exit concludes
            self._in_flight[coid] += fill.quantity.value
            return watch
        if watch is None:
            watch = ExitWatch(
                coid,
                fill.instrument_id,
                fill.side,
                Decimal(0),
                plan,
                fill.price.value,
                attempts=self._keys_used.pop(coid, 0),
            )
            self.watches[coid] = watch
        if watch.fired is not None:
            # The exit already went for what had filled; this fill is new and unprotected.
            watch.quantity = Decimal(0)
            watch.rearm()
        watch.quantity += fill.quantity.value
        return watch

    def live(
        self,
        owner: tuple[AccountId, BotId | None],
        instrument_id: InstrumentId,
        besides: ClientOrderId,
    ) -> list[ExitWatch]:
        """The owner's armed watches in the instrument (not fired), but the entry ``besides``."""
        with self._lock:
            return [
                w
                for coid, w in self.watches.items()
                if coid != besides
                and w.instrument_id == instrument_id
                and w.fired is None
                and w.quantity > 0
                and self.owners.get(coid) == owner
            ]

    def retire(self, entry: ClientOrderId) -> bool:
        """Stop watching ``entry`` (its position is gone), unless it fired meanwhile: whether
        it was retired."""
        with self._lock:
            watch = self.watches.get(entry)
            if watch is None or watch.fired is not None:
                return False
            del self.watches[entry]
            self._keys_used[entry] = watch.attempts  # its retirement's record: counted()
            return True

    def counted(self, entry: ClientOrderId) -> None:
        """A record of ``entry``'s exits was journaled outside an exit's try (its retirement):
        one more key for a restart to count, so one more here."""
        with self._lock:
            if entry in self._keys_used:
                self._keys_used[entry] += 1
            elif (watch := self.watches.get(entry)) is not None:
                watch.attempts += 1

    def begin_record(self, entry: ClientOrderId) -> bool:
        """Whether a retirement record of ``entry`` may be written now (no exit of its watch
        in flight); if so, none goes until :meth:`end_record`."""
        with self._lock:
            if entry in self._in_flight:
                return False
            self._recording.add(entry)
            return True

    def end_record(self, entry: ClientOrderId, written: bool) -> None:
        with self._lock:
            self._recording.discard(entry)
            if written:
                self.counted(entry)

    def base_gone(self, entry: ClientOrderId) -> bool:
        """Whether the book of ``entry``'s in-flight watch went flat or turned since it fired
        (what the watch held then is gone)."""
        with self._lock:
            return entry in self._base_gone

    def armed(self) -> list[tuple[ExitWatch, tuple[AccountId, BotId | None], bool]]:
        """Copies of the watches that guard a position now (a fired one only while its exit
        is in flight), each with its owner and whether its exit is in flight."""
        with self._lock:
            return [
                (replace(watch), self.owners[coid], coid in self._in_flight)
                for coid, watch in self.watches.items()
                if watch.quantity > 0 and (watch.fired is None or coid in self._in_flight)
            ]

    def in_flight(self, entry: ClientOrderId) -> bool:
        """Whether ``entry``'s watch has an exit fired and not concluded yet."""
        with self._lock:
            return entry in self._in_flight

    def flying(
        self, owner: tuple[AccountId, BotId | None], instrument_id: InstrumentId
    ) -> list[ExitWatch]:
        """The owner's in-flight watches in the instrument."""
        with self._lock:
            return [
                w
                for coid, w in self.watches.items()
                if coid in self._in_flight
                and w.instrument_id == instrument_id
                and self.owners.get(coid) == owner
            ]

    def mark_flat(self, entry: ClientOrderId) -> None:
        """The owner's book of the in-flight ``entry`` went flat or turned by other orders:
        what the watch held is gone; only the entry's fills from now count."""
        with self._lock:
            if entry in self._in_flight:
                self.went_flat.add(entry)
                self._base_gone.add(entry)
                self._in_flight[entry] = Decimal(0)

    def conclude(self, watch: ExitWatch, went: bool, attempt_used: bool = True) -> Decimal:
        """The exit a mark fired for ``watch`` is concluded: it ``went`` (or there was nothing
        left to exit), or it was denied (tried: ``attempt_used``; or held back) and the watch
        is armed again. What its entry filled meanwhile is protected either way: added to the
        watch when the exit did not go, watched anew when it went for what had filled before
        (a fill heard while the exit was decided was taken for one the exit had covered).
        Returns what the watch held before its book went flat in flight, now dropped (zero
        when it did not, or the exit went)."""
        with self._lock:
            if watch.entry not in self._in_flight:  # concluded already
                return Decimal(0)
            arriving = self._in_flight.pop(watch.entry)
            base_gone = watch.entry in self._base_gone
            self._base_gone.discard(watch.entry)
            if went:
                if arriving > 0:
                    watch.quantity = arriving
                    watch.rearm()
                return Decimal(0)
            if attempt_used:
                watch.rearm()
            else:
                watch.hold_back()
            dropped = watch.quantity if base_gone else Decimal(0)
            watch.quantity = arriving + (watch.quantity - dropped)
            return dropped

    def on_mark(
        self, instrument_id: InstrumentId, mark: Decimal
    ) -> list[tuple[ExitWatch, ExitKind]]:
        """The watches ``mark`` fires, each to be concluded (:meth:`conclude`)."""
        fired = []
        with self._lock:
            for watch in self.watches.values():
                if watch.instrument_id != instrument_id:
                    continue
                kind = watch.on_mark(mark)  # a trailing stop follows every mark
                if kind is not None and watch.entry in self._recording:
                    watch.fired = None  # not while its record is written: at the next mark
                elif kind is not None:
                    fired.append((watch, kind))
                    self._in_flight[watch.entry] = Decimal(0)
        return fired

    def restore(
        self, records: Iterable[JournalRecord], order: Callable[[ClientOrderId], Order | None]
    ) -> None:
        """Plans from ``ExitPlanned`` records; a watch for what each entry filled less what its
        exits already took (``ExitFired`` records)."""
        exited: dict[str, Decimal] = {}
        attempts: dict[str, int] = {}  # each ExitFired or ExitDenied used one idempotency key
        planned: list[tuple[ClientOrderId, ExitPlan]] = []
        for record in records:
            if record.kind == "ExitPlanned":
                try:
                    coid = ClientOrderId(str(record.payload.get("coid")))
                    planned.append((coid, plan_from_payload(dict(record.payload))))
                except ValueError as exc:  # the order id too (UnreadableExitPlanError is one)
                    raise UnreadableExitPlanError(
                        f"account {record.account_id}, journal record {record.seq}: {exc}. "
                        "The desk does not start with an entry whose exits it cannot read: "
                        "restore the database from a backup"
                    ) from None
            elif record.kind in ("ExitFired", "ExitDenied"):
                key = str(record.payload["coid"])
                attempts[key] = attempts.get(key, 0) + 1
                if record.kind == "ExitFired":
                    size = Decimal(str(record.payload["size"]))
                    exited[key] = exited.get(key, Decimal(0)) + size
        with self._lock:
            self._restore(planned, exited, attempts, order)

    def _restore(
        self,
        planned: list[tuple[ClientOrderId, ExitPlan]],
        exited: dict[str, Decimal],
        attempts: dict[str, int],
        order: Callable[[ClientOrderId], Order | None],
    ) -> None:
        for coid, plan in planned:
            entry = order(coid)
            if entry is None:
                continue
            self.plan(coid, (entry.account_id, entry.bot_id), plan)
            left = entry.filled_quantity.value - exited.get(coid.value, Decimal(0))
            if left <= 0 or entry.avg_fill_price is None:
                # All exited, or the entry has not filled yet: its later fills arm a watch,
                # which goes on from the keys used.
                if coid.value in attempts:
                    self._keys_used[coid] = attempts[coid.value]
                continue
            self.watches[coid] = ExitWatch(
                coid,
                entry.instrument_id,
                entry.side,
                left,
                plan,
                entry.avg_fill_price.value,
                attempts=attempts.get(coid.value, 0),
            )


class ExitRunner:
    def __init__(self, engine: Engine, uow_factory: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._engine = engine
        self._uow_factory = uow_factory
        self._clock = clock
        self.book = ExitBook()
        # What each book (a bot's; None: the account's own) holds per instrument, as of the
        # fills heard so far, in their order: a batch's fills are heard after its commit, when
        # the engine's book already shows the batch's end (a close and a re-entry in one batch
        # looked like no close at all).
        self._held: dict[tuple[AccountId, BotId | None, InstrumentId], Decimal] = {}
        # The standing denial of each exit that was denied (by entry and kind): see the module.
        self._denied: dict[tuple[ClientOrderId, ExitKind], _Denial] = {}
        # Trading states set (and breakers reset) per account: a denial made before the
        # account's last change is tried afresh, not held back as standing (the gates said it
        # under another state), and its "since" starts again.
        self._epochs: dict[AccountId, int] = {}
        # The last mark heard per instrument (for the views: whether an exit still fires).
        self._last: dict[InstrumentId, Decimal] = {}
        # Exits sent whose try then failed (unanswered, or its record not written): sent
        # again as they were at the next mark, the engine answering what it recorded for the
        # key, before anything else of the watch.
        self._retry: dict[ClientOrderId, tuple[ExitKind, SubmitOrder]] = {}
        # Retirement records whose write failed, written before anything else at a mark.
        self._unwritten: list[tuple[ClientOrderId, JournalRecord]] = []
        self._unwritten_lock = threading.Lock()  # the list only, never held while writing
        self._writing = threading.Lock()
        #: Told each exit record once journaled (``ExitFired``, ``ExitDenied``): the stream.
        self.listeners: list[Callable[[object], None]] = []
        engine.subscribe(self._on_event)

    def views(self) -> list[ExitView]:
        """What guards each position now: the armed watches, with their levels and state
        (any thread; a consistent copy of each watch, the states as of the call)."""
        # Copied first (C-level copies, whole under the GIL): the market thread changes them.
        denied = list(self._denied.items())
        retrying = list(self._retry)  # a few at most
        views = []
        for watch, (account, bot), flying in self.book.armed():
            mine = [(kind, d) for (entry, kind), d in denied if entry == watch.entry]
            strictest = worst(*self._states(account, bot)) if mine else None
            last = self._last.get(watch.instrument_id)
            denial = next(
                (
                    ExitDenialView(kind, d.code, d.message, d.since, d.at)
                    for kind, d in mine
                    # Shown while the exit's strictest state (its account's or its bot's: the
                    # gate denies on either) is no less strict than when it was denied (a
                    # breaker lapses without a record; another bot's state is not its own);
                    # a denial for another reason (the order rate, the position, the market's
                    # hours), whatever the states did since, only while the last mark still
                    # fires it: each such mark checks it afresh, and what lapsed since is not
                    # known. TRADING_STATE_REDUCING depends on the books too: shown while the
                    # states stand and the exit's state is HALTED or the last mark fires it.
                    if d.states
                    and strictest is not None
                    and (d.code not in _STATE_CODES or worst(strictest, *d.states) is strictest)
                    and (
                        (d.code in _STATE_CODES and strictest is TradingState.HALTED)
                        or (last is not None and replace(watch, fired=None).on_mark(last) is kind)
                    )
                ),
                None,
            )
            if watch.entry in retrying:
                state = "retrying"
            elif flying:
                state = "in_flight"
            else:
                state = "denied" if denial is not None else "armed"
            views.append(
                ExitView(
                    watch.entry,
                    account,
                    bot,
                    watch.instrument_id,
                    watch.side,
                    watch.quantity,
                    watch.plan,
                    watch.trailing_stop(),
                    state,
                    denial,
                )
            )
        return views

    def load(self, accounts: Iterable[AccountId]) -> None:
        """Rebuild plans and watches from the journal, and the books' positions (at start,
        before marks arrive)."""
        accounts = list(accounts)
        closed: set[ClientOrderId] = set()
        with self._uow_factory() as uow:
            for account in accounts:
                self.book.restore(uow.journal.records(account), uow.orders.get)
        with self._uow_factory() as uow:
            wrote = [self._resolve_unrecorded(uow, account) for account in accounts]
            if any(wrote):
                uow.commit()
        refilled: dict[ClientOrderId, Decimal] = {}
        with self._uow_factory() as uow:
            for account in accounts:
                shut, again = self._closed_since_armed(uow, account)
                closed |= shut
                refilled.update(again)
        loaded = set(accounts)
        self._held = {k: q for k, q in self._held.items() if k[0] not in loaded}
        for account in accounts:
            for bot, instrument, quantity in self._engine.holdings(account):
                self._held[account, bot, instrument] = quantity
        # A watch restored on a book that no longer holds its side (its retirement was not
        # journaled: a crash after the fill, a failed write) is retired now.
        now = self._clock.now()
        for coid, (account, bot) in list(self.book.owners.items()):
            watch = self.book.watches.get(coid)
            if account not in loaded or watch is None or watch.fired is not None:
                continue
            position = self._held.get((account, bot, watch.instrument_id), Decimal(0))
            gone = coid in closed or position * watch.side.sign <= 0
            if gone and self.book.retire(coid):
                self._journal_retired(account, watch, position, "load", now)
            elif not gone and watch.quantity > refilled.get(coid, watch.quantity):
                # Closed and filled again since: only the fills since are its to watch.
                dropped = watch.quantity - refilled[coid]
                watch.quantity = refilled[coid]
                self._journal_retired(account, watch, position, "load", now, dropped)

    def _resolve_unrecorded(self, uow: UnitOfWork, account: AccountId) -> bool:
        """Exits the engine answered whose own record is missing (the desk stopped, or the
        write failed, between the two): each restored watch's next key, of every kind, looked
        up in the engine's journal; one found is recorded now as the engine answered it (went:
        the watch is done; denied: its key is used). Left alone, an exit that went was armed
        again and another exit of the watch, under a key of its own, sold another entry's
        position. Whether anything was journaled (to commit)."""
        keys: dict[str, tuple[ExitWatch, ExitKind]] = {}
        for coid, watch in self.book.watches.items():
            if self.book.owners.get(coid, (None, None))[0] == account and watch.fired is None:
                for kind in ExitKind:
                    keys[f"exit:{coid}:{kind.value}:{watch.attempts}"] = (watch, kind)
        if not keys:
            return False
        found = uow.journal.find_many(account, list(keys))
        if not found:
            return False
        records = uow.journal.records(account)  # the fills heard after each exit, in order
        for key, seen in found.items():
            watch, kind = keys[key]
            outcome = dict(seen.payload.get("outcome") or {})  # type: ignore[call-overload]
            went = bool(outcome.get("ok"))
            coid = outcome.get("client_order_id")
            order = uow.orders.get(ClientOrderId(str(coid))) if coid else None
            if went and order is not None and order.status in _REFUSED:  # as replay tells it
                went = False
                outcome.update(ok=False, status=order.status.value, code="VENUE_REJECTED")
            # Fills of the entry heard after the exit began (its first record: a cancel that
            # cleared its way, else its command) are not what it exited; the running desk
            # watches them anew. (A cancel's handling hears the venue's fills waiting.)
            began = min(
                (
                    r.seq or 0
                    for r in records
                    if r.key is not None and (r.key == key or r.key.startswith(f"{key}:cancel:"))
                ),
                default=seen.seq or 0,
            )
            later = sum(
                (
                    Decimal(str(r.payload.get("qty")))
                    for r in records
                    if r.kind == "OrderFilled"
                    and r.payload.get("coid") == watch.entry.value
                    and (r.seq or 0) > began
                ),
                Decimal(0),
            )
            size = max(watch.quantity - later, Decimal(0)) if went else watch.quantity
            payload: dict[str, object] = {
                "coid": watch.entry.value,
                "kind": kind.value,
                "size": str(size),
                "outcome": outcome,
                "recovered": True,
            }
            uow.journal.append(
                JournalRecord(
                    account, "ExitFired" if went else "ExitDenied", self._clock.now(), payload
                )
            )
            watch.attempts += 1  # the key the record stands for
            if went and later > 0:
                watch.quantity = later  # watched anew
            elif went:
                watch.fired = kind  # done with what it watched
                watch.attempts -= 1  # as the running desk: a later fill rearms (+1)
        return True

    def _closed_since_armed(
        self, uow: UnitOfWork, account: AccountId
    ) -> tuple[set[ClientOrderId], dict[ClientOrderId, Decimal]]:
        """The restored watches of ``account`` whose owner's book went flat or turned the
        other way after their entry's last fill, by the ledger's fills in order (a book long
        again by a later entry at the start still had its old watch retired in between; its
        record may have been lost); and, for those whose entry filled again after such a
        close, what it filled since the last one (all the watch may hold)."""
        watches = {
            coid: (w, self.book.owners[coid])
            for coid, w in list(self.book.watches.items())
            if self.book.owners.get(coid, (None, None))[0] == account and w.fired is None
        }
        if not watches:
            return set(), {}
        books = {(bot, w.instrument_id) for w, (_, bot) in watches.values()}
        running: dict[tuple[BotId | None, InstrumentId], Decimal] = {}
        armed: set[ClientOrderId] = set()
        closed: set[ClientOrderId] = set()
        since: dict[ClientOrderId, Decimal] = {}  # filled since the last close
        for entry in uow.ledger.entries(account):
            if entry.kind is not EntryKind.FILL:
                continue
            details = entry.details
            instrument, quantity = details.get("instrument"), details.get("quantity")
            if not instrument or not quantity:
                continue  # not a fill of an instrument (nothing to replay)
            book = (entry.bot_id, InstrumentId(instrument))
            if book not in books:
                continue
            qty = Decimal(quantity)
            signed = qty if details.get("side") == OrderSide.BUY.value else -qty
            position = running[book] = running.get(book, Decimal(0)) + signed
            coid = (
                ClientOrderId(details["client_order_id"])
                if details.get("client_order_id")
                else None
            )
            if coid is not None and coid in watches:  # its entry's fill: armed from here
                armed.add(coid)
                closed.discard(coid)
                if coid in since:
                    since[coid] += qty
            for other in armed:
                if other == coid:
                    continue  # an entry's own fill never closes its watch (as when running)
                watch, (_, bot) = watches[other]
                if (bot, watch.instrument_id) == book and position * watch.side.sign <= 0:
                    closed.add(other)
                    since[other] = Decimal(0)
        return closed, {c: q for c, q in since.items() if c not in closed}

    def _on_event(self, item: object) -> None:
        if isinstance(item, JournalRecord) and item.kind == "ExitPlanned":
            coid = ClientOrderId(str(item.payload["coid"]))
            bot = item.payload.get("bot")
            owner = (item.account_id, BotId(str(bot)) if bot else None)
            self.book.plan(coid, owner, plan_from_payload(dict(item.payload)))
        elif isinstance(item, JournalRecord) and item.kind in ("TradingStateSet", "BreakerReset"):
            self._epochs[item.account_id] = self._epochs.get(item.account_id, 0) + 1
        elif isinstance(item, OrderFilled):
            self.book.arm(item.fill)
            self._retire_closed(item.fill)

    def _retire_closed(self, fill: Fill) -> None:
        """After a fill in an owner's book: its armed watches on positions that are gone (the
        book flat, or turned the other way by other orders: a flatten, a sale by hand) are
        retired, journaled as fired (``POSITION_CLOSED``) so a restart does not arm them
        again. Left armed, an old entry's stop sold a later entry that had no exits."""
        key = (fill.account_id, fill.bot_id, fill.instrument_id)
        qty = fill.quantity.value
        position = self._held.get(key, Decimal(0)) + (qty if fill.side is OrderSide.BUY else -qty)
        self._held[key] = position
        for watch in self.book.flying(key[:2], fill.instrument_id):
            if watch.entry == fill.client_order_id:
                if position * watch.side.sign > 0:  # its own entry's fill: held from here
                    self.book.went_flat.discard(watch.entry)
            elif position * watch.side.sign <= 0:
                self.book.mark_flat(watch.entry)  # retired if its exit does not go
        watching = self.book.live(key[:2], fill.instrument_id, fill.client_order_id)
        for watch in watching:
            if position * watch.side.sign > 0:
                continue  # still held: the exit sizes itself on what is left
            if not self.book.retire(watch.entry):
                continue  # it fired meanwhile (its own record says so)
            self._journal_retired(
                fill.account_id, watch, position, fill.client_order_id.value, fill.ts
            )

    def _journal_retired(
        self,
        account: AccountId,
        watch: ExitWatch,
        position: Decimal,
        by: str,
        at: datetime,
        size: Decimal | None = None,
    ) -> None:
        """Journal a retired watch (or ``size`` of it, what its book held before it went flat)
        as fired (``POSITION_CLOSED``); a failure is logged, not raised, and the record is
        written at the next mark (:meth:`_write_unwritten`)."""
        payload: dict[str, object] = {
            "coid": watch.entry.value,
            "kind": "POSITION_CLOSED",
            "size": str(watch.quantity if size is None else size),
            "position": str(position),
            "by": by,
        }
        record = JournalRecord(account, "ExitFired", at, payload)
        with self._unwritten_lock:
            self._unwritten.append((watch.entry, record))
        self._write_unwritten()

    def _write_unwritten(self) -> None:
        """Journal the retirement records not written yet, oldest first (one that failed is
        tried again at the next mark; a restart would take the ledger's word without it,
        and could not tell a part of a watch dropped from what its exits sold since)."""
        # One writer at a time, in order; a thread that finds another writing leaves its
        # record to it (it never waits: a fill's thread may hold the engine's lock).
        if not self._writing.acquire(blocking=False):
            return
        try:
            while True:
                with self._unwritten_lock:
                    # Not while the watch's exit is in flight, and no exit of it goes while
                    # its record is written (checked and reserved at once, in the book).
                    chosen = next(
                        ((e, r) for e, r in self._unwritten if self.book.begin_record(e)), None
                    )
                if chosen is None:
                    return
                entry, record = chosen
                written = False
                try:
                    with self._uow_factory() as uow:
                        uow.journal.append(record)
                        uow.commit()
                    written = True
                except Exception:
                    _log.exception(
                        "the retirement of the exits of %s could not be journaled; "
                        "trying again at the next mark",
                        entry,
                    )
                    return
                finally:
                    if written:
                        with self._unwritten_lock:
                            self._unwritten.remove((entry, record))
                    self.book.end_record(entry, written)  # a key's worth, as a restart counts
                self._tell(record)
        finally:
            self._writing.release()

    def on_mark(self, instrument_id: InstrumentId, price: Decimal) -> list[Outcome]:
        """A new mark: send the exits it crosses; returns their outcomes. An exit denied for a
        passing reason (halted, rate) tries again on the next mark; one with nothing left to
        exit (the position was closed another way) stops."""
        outcomes = []
        now = self._clock.now()
        self._last[instrument_id] = price
        self._write_unwritten()
        tries: list[tuple[ExitWatch, ExitKind, _Try]] = []
        for entry, (kind, command) in list(self._retry.items()):
            watch = self.book.watches.get(entry)
            if watch is None or not self.book.in_flight(entry):
                del self._retry[entry]
            elif watch.instrument_id == instrument_id:
                del self._retry[entry]
                tries.append((watch, kind, _Try(command=command)))  # still fired, in flight
        tries += [(w, k, _Try()) for w, k in self.book.on_mark(instrument_id, price)]
        for watch, kind, attempt in tries:
            try:
                outcomes.append(self._fire(watch, kind, price, now, attempt))
            except Exception:  # the others are still tried; this one at the next mark
                _log.exception("the %s of %s failed", kind.value, watch.entry)
                if not self.book.in_flight(watch.entry):
                    continue  # concluded; what failed came after
                if attempt.command is not None and (attempt.sending or attempt.retry):
                    # Sent, and no answer or no record of it (it may have gone): the same
                    # command under the same key next; nothing else of the watch meanwhile.
                    self._retry[watch.entry] = (kind, attempt.command)
                else:  # nothing was sent
                    self._conclude(watch, False, attempt_used=False)
        if self._denied:  # forget the exits of retired or fired watches
            live = self.book.watches
            for entry, kind in [k for k in self._denied if k[0] not in live]:
                del self._denied[entry, kind]
        return outcomes

    def _conclude(self, watch: ExitWatch, went: bool, attempt_used: bool) -> None:
        """Conclude ``watch``'s exit (:meth:`ExitBook.conclude`); one that did not go is
        retired when its owner's book went flat or turned meanwhile (a retirement heard while
        the exit was decided was refused: the watch was fired)."""
        account, bot = self.book.owners[watch.entry]
        # Under the account's lock, as its fills are heard: a fill of the entry between the
        # conclusion and the look at the book would be armed on the watch, then retired with it.
        with self._engine.account_lock(account):
            dropped = self.book.conclude(watch, went=went, attempt_used=attempt_used)
            flat_meanwhile = watch.entry in self.book.went_flat
            self.book.went_flat.discard(watch.entry)
            if went:
                return
            position = self._held.get((account, bot, watch.instrument_id), Decimal(0))
            gone = flat_meanwhile or position * watch.side.sign <= 0
            now = self._clock.now()
            if gone and self.book.retire(watch.entry):
                retired = watch.quantity + dropped
                self._journal_retired(account, watch, position, "exit", now, retired)
            elif dropped > 0:  # its own entry filled again since: only those fills are watched
                self._journal_retired(account, watch, position, "exit", now, dropped)

    def _fire(
        self, watch: ExitWatch, kind: ExitKind, price: Decimal, now: datetime, attempt: _Try
    ) -> Outcome:
        """Send (or hold back) the exit ``kind`` of ``watch`` that a mark fired, journal it and
        conclude it; ``attempt`` tells how far it got, should it fail."""
        account, bot = self.book.owners[watch.entry]
        instrument_id = watch.instrument_id
        position = self._engine.position(account, bot, instrument_id)
        held = position * watch.side.sign > 0
        size = min(watch.quantity, abs(position)) if held else Decimal(0)
        outcome = Outcome(False, None, None, "POSITION_NOT_FOUND", "nothing left to exit")
        key = f"exit:{watch.entry}:{kind.value}:{watch.attempts}"
        canceled: list[str] = []
        if attempt.retry and attempt.command is not None:  # as it was: it may have gone
            if not self._recorded(account, attempt.command.idempotency_key):
                # The engine never took it (its transaction undone): nothing was sent. Decided
                # afresh from the next mark, retired if its book went flat meanwhile.
                self._conclude(watch, False, attempt_used=False)
                return Outcome(
                    False, None, None, "EXIT_NOT_SENT", "its try never reached the engine"
                )
            size = attempt.command.quantity.value
            attempt.sending = True
            outcome = self._engine.handle(attempt.command)
        elif size > 0:
            exit_order = SubmitOrder(
                account_id=account,
                instrument_id=instrument_id,
                side=watch.exit_side,
                order_type=OrderType.MARKET,
                quantity=Quantity(size),
                bot_id=bot,
                reduce_only=True,
                idempotency_key=key,
            )
            standing = self._standing(watch.entry, kind, exit_order, position, now)
            if standing is not None:  # denied as before: not sent, not journaled
                self._conclude(watch, False, attempt_used=False)
                return Outcome(False, None, None, standing.code, standing.message)
            canceled = self._clear_way(exit_order, position, key)
            # Nothing moves the book from the check to the send; the venues' events are
            # applied after the lock (those of other accounts take their own locks).
            with self._engine.pump_after(), self._engine.account_lock(account):
                if self.book.base_gone(watch.entry):  # closed since the position was read
                    self._conclude(watch, False, attempt_used=False)
                    return Outcome(
                        False, None, None, "POSITION_NOT_FOUND", "its position closed meanwhile"
                    )
                attempt.command, attempt.sending = exit_order, True
                outcome = self._engine.handle(exit_order)
        # ExitFired: the watch is done with this quantity (sent, or nothing left to exit).
        # ExitDenied: it stays armed and tries again; after a restart it is armed again.
        # Nothing left is judged on the owner's own position: a bot's exit the gate denies
        # POSITION_NOT_FOUND because the account is flat (another bot holds the other way)
        # is denied, not done (the bot's position would have been left without its stop).
        done = outcome.ok or size == 0
        payload: dict[str, object] = {
            "coid": watch.entry.value,
            "kind": kind.value,
            "mark": str(price),
            # What the watch is done with: all of it once the exit went (a restart arms
            # nothing of it again; what was sent is in the outcome).
            "size": str(watch.quantity),
            "outcome": outcome.payload(),
        }
        if canceled:
            payload["canceled"] = canceled
        record_kind = "ExitFired" if done else "ExitDenied"
        record = JournalRecord(account, record_kind, self._clock.now(), payload)
        with self._uow_factory() as uow:
            uow.journal.append(record)
            uow.commit()
        self._conclude(watch, done, attempt_used=True)
        prior = self._denied.pop((watch.entry, kind), None)
        if not done and attempt.command is not None and not attempt.retry:
            epoch = self._epochs.get(account, 0)  # read before the check: it is of this state
            states = self._states(account, bot)
            check = self._check(replace(attempt.command, idempotency_key=None), position)
            if check is not None:  # what the next marks compare with
                same = prior is not None and (prior.code, prior.epoch) == (check.code, epoch)
                since = prior.since if prior is not None and same else now
                self._denied[watch.entry, kind] = _Denial(
                    check.code, check.message, now, since, epoch, states
                )
        self._tell(record)
        return outcome

    def _states(self, account: AccountId, bot: BotId | None) -> tuple[TradingState, ...]:
        """The trading states in force for an exit of ``account`` (and ``bot``): the gates
        judge it by both."""
        scopes: tuple[BotId | None, ...] = (None,) if bot is None else (None, bot)
        return tuple(self._engine.trading_state(account, scope) for scope in scopes)

    def _tell(self, record: JournalRecord) -> None:
        """Pass a journaled exit record to the listeners (the live stream); one that fails is
        logged and never stops the exits."""
        for listener in self.listeners:
            try:
                listener(record)
            except Exception:
                _log.exception("exit listener %r failed on %s", listener, record.kind)

    def _recorded(self, account: AccountId, key: str | None) -> bool:
        """Whether the engine journaled a command under ``key``."""
        if key is None:
            return False
        with self._uow_factory() as uow:
            return uow.journal.find(account, key) is not None

    def _standing(
        self,
        entry: ClientOrderId,
        kind: ExitKind,
        exit_order: SubmitOrder,
        position: Decimal,
        now: datetime,
    ) -> ListDenial | None:
        """The denial that still stands for an exit denied before, checked without sending;
        None when it is to be tried (never denied, the check passes, the reason changed, or
        :data:`DENIAL_REPEAT` has passed since it was last journaled)."""
        denied = self._denied.get((entry, kind))
        if denied is None or now - denied.at >= DENIAL_REPEAT:
            return None
        if denied.epoch != self._epochs.get(exit_order.account_id, 0):
            return None  # said under another trading state: tried (and journaled) afresh
        check = self._check(replace(exit_order, idempotency_key=None), position)
        return check if check is not None and check.code == denied.code else None

    def _check(self, exit_order: SubmitOrder, position: Decimal) -> ListDenial | None:
        """What the gates would deny ``exit_order`` for once the orders :meth:`_clear_way`
        cancels are gone, sending nothing. Orders whose cancel is on its way still count, as
        in the gates (an exit waiting for a venue to confirm a cancel was tried, and
        journaled, at every mark)."""
        chosen, _ = self._in_the_way(exit_order, position)
        return self._engine.check_list([exit_order], without=[o.client_order_id for o in chosen])

    def _clear_way(self, exit_order: SubmitOrder, position: Decimal, key: str) -> list[str]:
        """Cancel the owner's resting reduce-only orders on the exit's side in the instrument
        that, with the exit, come to more than is held, newest first until the exit fits; the
        ids canceled. The exit goes first: reduce-only orders may not add up to more than is
        held, so a trader's reduce-only take-profit for the whole position would deny the
        stop-loss at every mark while the price fell.

        Only resting orders go (an exit at market in flight stays); one whose cancel is on its
        way counts as gone. Nothing is canceled unless the exit would then pass every gate: an
        exit denied for another reason keeps the take-profits. (When the cancels use up the
        order rate, or on a remote venue until it confirms them, the exit is denied and tried
        again at the next mark.)"""
        account = exit_order.account_id
        chosen, going = self._in_the_way(exit_order, position)
        if not chosen:
            return []
        if self._engine.check_list([exit_order], without=going) is not None:
            return []  # denied anyway: nothing is canceled for it
        for order in chosen:
            self._engine.handle(
                CancelOrder(
                    account_id=account,
                    client_order_id=order.client_order_id,
                    idempotency_key=f"{key}:cancel:{order.client_order_id}",
                )
            )
        with self._uow_factory() as uow:  # canceled, or on the way (not refused, not filled)
            now = [uow.orders.get(o.client_order_id) for o in chosen]
        return [
            o.client_order_id.value
            for o in now
            if o is not None and (o.status is OrderStatus.CANCELED or o.cancel_pending)
        ]

    def _in_the_way(
        self, exit_order: SubmitOrder, position: Decimal
    ) -> tuple[list[Order], list[ClientOrderId]]:
        """The owner's resting reduce-only orders that :meth:`_clear_way` would cancel for
        ``exit_order``, and every order to count as gone (those and the ones whose cancel is
        on its way)."""
        account, bot = exit_order.account_id, exit_order.bot_id
        mine = [
            o
            for o in self._engine.open_orders(account, bot)
            if o.instrument_id == exit_order.instrument_id
            and o.bot_id == bot
            and o.reduce_only
            and o.side is exit_order.side
        ]
        live = [o for o in mine if not o.cancel_pending]
        ahead = sum((o.leaves_quantity.value for o in live), Decimal(0))
        chosen: list[Order] = []
        for order in reversed(live):  # the newest first
            if ahead + exit_order.quantity.value <= abs(position):
                break
            if order.order_type is not OrderType.MARKET:
                chosen.append(order)
                ahead -= order.leaves_quantity.value
        going = [o.client_order_id for o in mine if o not in live] + [
            o.client_order_id for o in chosen
        ]
        return chosen, going


@dataclass(slots=True)
class _Try:
    """One exit's try: the command sent (given: a retry of one sent before, as it was), and
    whether it went to the engine."""

    command: SubmitOrder | None = None
    sending: bool = False
    retry: bool = field(init=False)

    def __post_init__(self) -> None:
        self.retry = self.command is not None


@dataclass(frozen=True, slots=True)
class _Denial:
    """An exit's standing denial: the code and message its check gives, when it was last
    journaled (``at``), since when it has been denied for this code, and under which of its
    account's trading states (``epoch``: the count of states set and breakers reset)."""

    code: str
    message: str
    at: datetime
    since: datetime
    epoch: int = 0
    states: tuple[TradingState, ...] = ()  # the account's (and the bot's) when it was denied
