"""The engine: the one writer of orders, fills and ledger entries, one account at a time.

Commands are applied in order under the account's lock. A submit (and a modify) passes the risk
gates; a cancel, a flatten and a change of trading state never do. Every command is journaled
with its outcome, and every order event with the order; a command whose idempotency key was
seen before returns its first outcome and does nothing new.

The engine never waits on a venue's answer: it sends a request through the venue port and
applies what the venue reports when :meth:`Engine.pump` drains it. The paper exchange answers at
once; put a :class:`~algodesk.services.venue_guard.GuardedBroker` in front of a real venue, so a
call that hangs times out instead of holding the account.
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from algodesk.domain import client_order_ids
from algodesk.domain.commands import (
    CancelOrder,
    Command,
    Flatten,
    ModifyOrder,
    SetTradingState,
    SubmitOrder,
)
from algodesk.domain.events import (
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
)
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId, Venue
from algodesk.domain.ledger.entries import LedgerEntry
from algodesk.domain.market.slicing import slice_closing
from algodesk.domain.matching import FeeModel
from algodesk.domain.orders import Order, OrderError, OrderStatus, OrderType
from algodesk.domain.portfolio import BookSummary
from algodesk.domain.risk.base import TradingState, reduces
from algodesk.domain.risk.pipeline import check_order
from algodesk.domain.values import Price, Quantity
from algodesk.ports.broker import (
    BrokerPort,
    InProcessVenue,
    VenueNotSentError,
    VenueRejectedError,
    VenueUnavailableError,
)
from algodesk.ports.clock import Clock
from algodesk.ports.market import MarketView
from algodesk.ports.storage import JournalRecord, UnitOfWork
from algodesk.services.bots import BotService
from algodesk.services.breaker_watch import BreakerWatch
from algodesk.services.breakers import BreakerBoard, ScopeUsage, worst
from algodesk.services.engine_batch import Batch, confirm
from algodesk.services.exits import check_plan, plan_payload
from algodesk.services.ledger import LedgerService
from algodesk.services.outcomes import Outcome, event_payload, fingerprint, replay
from algodesk.services.risk_context import (
    AccountView,
    EngineLimits,
    RateCounter,
    build_context,
    with_fees,
)
from algodesk.services.unsent import Request, Unsent

__all__ = ["Engine", "ListDenial", "Outcome"]

_log = logging.getLogger("algodesk.engine")  # Outcome is re-exported from services.outcomes

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class ListDenial:
    """The first leg of an order list the gates would deny: its index (from 0) and denial."""

    index: int
    code: str
    message: str


class Engine:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        market: MarketView,
        brokers: Mapping[Venue, BrokerPort],
        limits: EngineLimits,
        ledger: LedgerService,
        bots: BotService | None = None,
        fees: Mapping[Venue, FeeModel] | None = None,
        read_factory: Callable[[], UnitOfWork] | None = None,
        day_marks: Callable[[date], Mapping[InstrumentId, Decimal]] | None = None,
    ) -> None:
        """``read_factory`` makes read-only units of work (on SQLite they take no write lock):
        the engine reads through them and writes through ``uow_factory``; by default it reads
        through ``uow_factory`` too. ``day_marks``: each instrument's price at the start of a
        UTC day (``MarketService.day_marks``), from which the daily-loss breaker's day starts
        (see :mod:`~algodesk.services.breaker_watch`)."""
        self._uow_factory = uow_factory
        self._read_factory = read_factory or uow_factory
        self._clock = clock
        self._market = market
        self._brokers = brokers
        self._limits = limits
        self._ledger = ledger
        self._locks: defaultdict[AccountId, threading.RLock] = defaultdict(threading.RLock)
        self._locks_guard = threading.Lock()
        self._states: dict[tuple[AccountId, BotId | None], TradingState] = {}
        self._loaded: set[AccountId] = set()
        self._account_ops: defaultdict[AccountId, RateCounter] = defaultdict(
            lambda: RateCounter(_SECOND)
        )
        self._venue_ops: dict[Venue, RateCounter] = {
            venue: RateCounter(window) for venue, (_, window) in limits.venue_burst.items()
        }
        self._subscribers: list[Callable[[object], None]] = []
        self._views: dict[AccountId, AccountView] = {}
        self._board = BreakerBoard(limits.breakers, limits.bot_breakers)
        self._local = threading.local()  # .batch: the thread's open batch, if any
        self._watch = BreakerWatch(
            self._board, self._unit, clock, market, self._view, self._publish, self._read, day_marks
        )
        self._bots = bots
        if bots is not None:  # a bot's cash moves take this engine's account lock
            bots.serialize_with(self.account_lock)
        self._fees = fees or {}
        self._in_process_venues: dict[BrokerPort, InProcessVenue | None] = {}
        self._unsent = Unsent()  # requests a venue was down for, to send when it answers
        self._sequence_day: tuple[date | None, str] = (None, "")  # the day's order sequence

    # -- plumbing ----------------------------------------------------------------------------

    def subscribe(self, subscriber: Callable[[object], None]) -> None:
        """``subscriber`` receives every order event and trading-state change, in order."""
        self._subscribers.append(subscriber)

    def _unit(self) -> UnitOfWork:
        """A unit of work to write in: the batch's, inside a batch."""
        batch = self._batch()
        return batch.unit if batch is not None else self._uow_factory()

    def _read(self) -> UnitOfWork:
        """A unit of work to read in: the batch's inside a batch (it sees what the batch
        staged), else a read-only one."""
        batch = self._batch()
        return batch.unit if batch is not None else self._read_factory()

    def _batch(self) -> Batch | None:
        batch: Batch | None = getattr(self._local, "batch", None)
        return batch

    def _publish(self, *items: object) -> None:
        """Deliver to every subscriber; a failing subscriber (a notifier down) is logged and
        never stops the engine or the other subscribers. Inside a batch, at its commit."""
        batch = self._batch()
        if batch is not None:
            batch.published.extend(items)
            return
        self._deliver(items)

    def _deliver(self, items: Iterable[object]) -> None:
        for item in items:
            for subscriber in self._subscribers:
                try:
                    subscriber(item)
                except Exception:
                    _log.exception("subscriber %r failed on %s", subscriber, type(item).__name__)

    def account_lock(self, account_id: AccountId) -> threading.RLock:
        """The lock the engine holds while it changes the account: another writer of the
        account's ledger (a bot's cash move) holds it too, so the chain has one writer at a
        time. Re-entrant."""
        return self._lock(account_id)

    def _lock(self, account_id: AccountId) -> threading.RLock:
        with self._locks_guard:
            return self._locks[account_id]

    def _load_states(self, uow: UnitOfWork, account_id: AccountId) -> None:
        if account_id in self._loaded:
            return
        breaker_records = []
        for record in uow.journal.records(account_id):
            if record.kind == "TradingStateSet":
                bot = record.payload.get("bot")
                key = (account_id, BotId(str(bot)) if bot else None)
                self._states[key] = TradingState(str(record.payload["state"]))
            elif record.kind in (
                "BreakerTripped",
                "BreakerReset",
                "EquityPeak",
                "DayStart",
                "ClosedTrade",
            ):
                breaker_records.append(record)
        self._board.restore(account_id, breaker_records)
        self._loaded.add(account_id)

    def _effective(self, account_id: AccountId, bot_id: BotId | None) -> TradingState:
        """The stricter of the state set by command and the state breakers impose."""
        explicit = self._states.get((account_id, bot_id), TradingState.ACTIVE)
        return worst(explicit, self._board.state(account_id, bot_id, self._clock.now()))

    def trading_state(self, account_id: AccountId, bot_id: BotId | None = None) -> TradingState:
        """The trading state in force for the account (or one of its bots)."""
        with self._lock(account_id), self._read() as uow:
            self._load_states(uow, account_id)
        return self._effective(account_id, bot_id)

    def state_in_force(self, account_id: AccountId, bot_id: BotId | None) -> TradingState:
        """The state an order of ``bot_id`` (or of the account itself) is judged by: the
        stricter of the account's and the bot's (the trading-state gate denies on either)."""
        state = self.trading_state(account_id)
        return state if bot_id is None else worst(state, self.trading_state(account_id, bot_id))

    def bot_refuses_entries(self, order: Order) -> str | None:
        """Why ``order``'s bot takes no new entries now (not running, or not found), as the
        gates would say it; None for an order of no bot, or a bot that is running."""
        if order.bot_id is None or self._bots is None:
            return None
        bot = self._bots.get(order.bot_id)
        if bot is None or bot.account_id != order.account_id:
            return f"BOT_NOT_FOUND: bot={order.bot_id}"
        return None if bot.takes_entries else f"BOT_NOT_RUNNING: bot {bot.id} is {bot.status}"

    def reset_breakers(self, account_id: AccountId, bot_id: BotId | None, by: str) -> Outcome:
        """An explicit, audited reset of the scope's tripped breakers."""
        if not by.strip():
            return Outcome(False, None, None, "REASON_REQUIRED", "say who resets the breakers")
        with self._lock(account_id), self._unit() as uow:
            self._load_states(uow, account_id)
            record = self._board.reset(self._clock.now(), account_id, bot_id, by)
            if record is None:
                return Outcome(False, None, None, "NO_BREAKER", f"no breaker for {account_id}")
            uow.journal.append(record)
            uow.commit()
        self._publish(record)
        return Outcome(
            True,
            None,
            self._effective(account_id, bot_id).value,
            None,
            str(record.payload["closed"]),
        )

    def _view(self, uow: UnitOfWork, account_id: AccountId) -> AccountView:
        view = self._views.get(account_id)
        if view is None:
            view = self._views[account_id] = AccountView(account_id)
        view.catch_up(uow, self._clock.now().date())
        return view

    def _track(self, order: Order) -> None:
        view = self._views.get(order.account_id)
        if view is not None:
            view.track(order)

    def _broker(self, order: Order) -> BrokerPort | None:
        return self._brokers.get(order.instrument_id.venue)

    def _in_process(self, order: Order) -> InProcessVenue | None:
        """The order's venue when it lives in this process."""
        broker = self._broker(order)
        return None if broker is None else self._in_process_broker(broker)

    def _in_process_broker(self, broker: BrokerPort) -> InProcessVenue | None:
        """``broker`` when it lives in this process (checked once per venue object: a
        protocol check costs more than the rest of the routing)."""
        if broker not in self._in_process_venues:
            found = broker if isinstance(broker, InProcessVenue) else None
            self._in_process_venues[broker] = found
        return self._in_process_venues[broker]

    def _count_op(self, account_id: AccountId, venue: Venue) -> datetime:
        """Count a send against the account's order rate and the venue's burst limit; the
        time counted, for :meth:`_uncount_op`."""
        now = self._clock.now()
        self._account_ops[account_id].add(now)
        counter = self._venue_ops.get(venue)
        if counter is not None:
            counter.add(now)
        batch = self._batch()
        if batch is not None:  # taken back if the batch is undone
            batch.ops.append((account_id, venue, now))
        return now

    @contextmanager
    def _assumed_sends(self, account_id: AccountId, venues: Sequence[Venue]) -> Iterator[None]:
        """Within the block, one request to each of ``venues`` counts as made now against the
        account's order rate and the venues' burst limits (taken back after)."""
        now = self._clock.now()
        for venue in venues:
            self._account_ops[account_id].add(now)
            counter = self._venue_ops.get(venue)
            if counter is not None:
                counter.add(now)
        try:
            yield
        finally:
            for venue in venues:
                self._uncount_op(account_id, venue, now)

    def _uncount_op(self, account_id: AccountId, venue: Venue, at: datetime) -> None:
        """Take back a send counted at ``at`` that did not happen (its unit was undone)."""
        self._account_ops[account_id].remove(at)
        counter = self._venue_ops.get(venue)
        if counter is not None:
            counter.remove(at)

    def _journal(
        self,
        uow: UnitOfWork,
        command: Command,
        outcome: Outcome,
        events: list[OrderEvent],
    ) -> None:
        uow.journal.append_many(self._journal_records(command, outcome, events))

    def _journal_records(
        self, command: Command, outcome: Outcome, events: list[OrderEvent]
    ) -> list[JournalRecord]:
        """The records that journal ``command``, its outcome and ``events``, to be written in
        the unit of work they are made for."""
        now = self._clock.now()
        payload = {
            "command": type(command).__name__,
            "fingerprint": fingerprint(command),
            "outcome": outcome.payload(),
        }
        account, key = command.account_id, command.idempotency_key
        batch = self._batch()
        if batch is not None and key is not None:
            batch.absent.discard(key)  # journaled in this unit
        return [
            JournalRecord(account, type(command).__name__, now, payload, key),
            *(
                JournalRecord(account, type(event).__name__, event.ts, event_payload(event))
                for event in events
            ),
        ]

    # -- commands ----------------------------------------------------------------------------

    @contextmanager
    def batch(self, account_id: AccountId) -> Iterator[None]:
        """Apply the commands :meth:`handle` gets in the block, on this thread, in one
        transaction: one commit for all instead of one each (see
        :mod:`~algodesk.services.engine_batch`). The account's lock is held throughout, so
        keep a batch short. Submits of ``account_id`` to an in-process venue (the paper
        exchange) are staged; any other command first commits what is staged and then runs
        on its own, as outside a batch (a real venue is only ever sent an order already
        stored). Reads inside the block see what the batch staged. Only the account's
        commands and reads belong in the block. If the block raises, nothing it staged
        is stored, the in-process venue forgets the orders it was sent, the engine reloads
        the account from storage, and the exception goes on; the caller may then apply the
        commands one by one. A batch inside a batch of the same account joins it."""
        current = self._batch()
        if current is not None:
            if current.account_id != account_id:
                raise ValueError(f"a batch of {current.account_id} is open on this thread")
            yield
            return
        with self._lock(account_id):
            with self._read_factory() as uow:  # the breakers as stored, before the snapshot
                self._load_states(uow, account_id)
            batch = Batch(account_id, self._uow_factory, self._board.snapshot(account_id))
            self._local.batch = batch
            try:
                yield
                published = self._commit_batch(batch)
            except BaseException:
                self._local.batch = None
                try:
                    batch.close()
                finally:
                    self._undo_batch(batch)
                raise
            finally:
                self._local.batch = None
                batch.close()
            self._deliver(published)  # outside the batch: what subscribers do is their own
        try:  # the batch is stored: what follows is not its failure
            self.pump()
        except Exception:
            _log.exception("venue events after a batch could not be applied")

    def _commit_batch(self, batch: Batch) -> list[object]:
        """Make what the batch staged durable; what it would have published, to deliver once
        the batch is closed (a subscriber that acts must not act inside it)."""
        if batch.spoilt:
            raise RuntimeError(
                "a command failed inside the batch and its caller went on: the batch is undone"
            )
        batch.commit()
        published, batch.published = batch.published, []
        return published

    def _undo_batch(self, batch: Batch) -> None:
        """After a failed batch (its unit is rolled back as it closes): the in-process venues
        forget what they were sent, and the account is reloaded from storage when next
        used."""
        for venue, coid in batch.sent:
            try:
                venue.withdraw(coid)
            except Exception:  # pragma: no cover - withdraw only forgets
                _log.exception("could not withdraw %s after a failed batch", coid)
        for account_id, venue_id, at in batch.ops:  # sends that did not happen count for none
            self._uncount_op(account_id, venue_id, at)
        account = batch.account_id
        self._views.pop(account, None)
        self._ledger.forget(account)
        self._board.restore_snapshot(account, batch.board)  # with its unjournaled error window

    @contextmanager
    def _outside_batch(self, batch: Batch) -> Iterator[None]:
        """Commit what ``batch`` staged and run the block as outside any batch."""
        published = self._commit_batch(batch)
        batch.close()
        self._local.batch = None
        try:
            self._deliver(published)
            yield
        finally:
            self._local.batch = batch
            # What is stored now stays if the rest of the batch is undone.
            batch.board = self._board.snapshot(batch.account_id)
            batch.open()  # a new transaction: it sees what the block stored

    @contextmanager
    def pause(self) -> Iterator[None]:
        """For a caller about to wait inside a batch (pacing an order list): commit what the
        batch staged and let go of the account until the block ends, so the kill switch and
        other writers go first. Outside a batch it does nothing."""
        batch = self._batch()
        if batch is None:
            yield
            return
        with self._outside_batch(batch):
            lock = self._lock(batch.account_id)
            lock.release()
            try:
                yield
            finally:
                lock.acquire()

    @contextmanager
    def pump_after(self) -> Iterator[None]:
        """Hold this thread's pumps until the block ends, then pump once: for a caller that
        holds an account's lock in the block. A pump applies every account's venue events,
        each under its account's lock: two threads pumping under two accounts' locks would
        wait for each other for good."""
        if getattr(self._local, "pump_after", False):
            yield
            return
        self._local.pump_after = True
        try:
            yield
        finally:
            self._local.pump_after = False
        self.pump()

    def _batchable(self, batch: Batch, command: Command) -> bool:
        if not isinstance(command, SubmitOrder) or command.account_id != batch.account_id:
            return False
        broker = self._brokers.get(command.instrument_id.venue)
        return broker is not None and self._in_process_broker(broker) is not None

    def handle(self, command: Command) -> Outcome:
        """Apply ``command`` and return its outcome (the first one, for a repeated key)."""
        batch = self._batch()
        if batch is not None and not self._batchable(batch, command):
            with self._outside_batch(batch):
                return self._handle(command, None)
        return self._handle(command, batch)

    def _handle(self, command: Command, batch: Batch | None) -> Outcome:
        with self._lock(command.account_id):
            key = command.idempotency_key
            # In a batch, a key just looked up and not found (by :meth:`recorded`, say) is
            # not looked up again: nothing but this thread journals for the account meanwhile.
            known_new = batch is not None and key is not None and batch.new_key(key)
            if (key is not None and not known_new) or command.account_id not in self._loaded:
                with self._read() as uow:
                    self._load_states(uow, command.account_id)
                    if key is not None and not known_new:
                        seen = uow.journal.find(command.account_id, key)
                        if seen is not None:
                            return replay(uow, command, seen)
            if isinstance(command, SubmitOrder):
                outcome = self._submit(command)
            elif isinstance(command, CancelOrder):
                outcome = self._cancel(command)
            elif isinstance(command, ModifyOrder):
                outcome = self._modify(command)
            elif isinstance(command, Flatten):
                outcome = self._flatten(command)
            elif isinstance(command, SetTradingState):
                outcome = self._set_state(command)
            else:  # pragma: no cover - every command type is handled above
                raise TypeError(f"unknown command {type(command).__name__}")
        if batch is None:  # a batch pumps after its commit
            self.pump()
        return outcome

    def _send(self, order: Order, outcome: Outcome) -> Outcome:
        """Hand a stored, SUBMITTED order to its venue; the answer to the submit."""
        coid = order.client_order_id
        self._count_op(order.account_id, order.instrument_id.venue)
        broker = self._broker(order)
        assert broker is not None
        try:
            broker.submit(order)
        except VenueRejectedError as exc:
            self._apply(
                OrderRejected(client_order_id=coid, ts=self._clock.now(), reason=str(exc)),
                order.account_id,
            )
            self._watch.after_error(order.account_id)
            rejected = OrderStatus.REJECTED.value
            return Outcome(False, coid.value, rejected, "VENUE_REJECTED", str(exc))
        except VenueNotSentError as exc:  # never left (see services.unsent)
            if order.reduce_only:  # a close or an exit: it goes once the venue answers
                self._unsent.add(order.account_id, coid, Request.SUBMIT)
                return outcome
            reason = f"VENUE_UNAVAILABLE: {exc}"
            self._apply(
                OrderRejected(client_order_id=coid, ts=self._clock.now(), reason=reason),
                order.account_id,
            )
            rejected = OrderStatus.REJECTED.value
            return Outcome(False, coid.value, rejected, "VENUE_UNAVAILABLE", str(exc))
        except VenueUnavailableError:
            # In flight: reconciliation decides; never resend a submit of unknown outcome.
            self._watch.after_error(order.account_id)
        return outcome

    def _new_coid(self, uow: UnitOfWork, command: SubmitOrder) -> ClientOrderId:
        if command.client_order_id is not None:
            return command.client_order_id
        if command.idempotency_key is not None:
            return client_order_ids.for_signal(command.account_id, command.idempotency_key)
        day = self._clock.now().date()
        known, name = self._sequence_day  # one read: another account's writer may replace it
        if known != day:
            name = f"ORD{day:%y%m%d}"
            self._sequence_day = (day, name)
        return client_order_ids.for_strategy("ORD", day, uow.sequences.next(name))

    def deny(self, command: SubmitOrder, code: str, message: str) -> Outcome:
        """Record ``command`` as a denied order with ``code`` and ``message`` without checking
        it (a caller's own refusal, such as a denied order list); a repeated key replays."""
        with self._lock(command.account_id):
            key = command.idempotency_key
            if key is not None:
                with self._read() as uow:
                    seen = uow.journal.find(command.account_id, key)
                    if seen is not None:
                        return replay(uow, command, seen)
            return self._submit(command, gated=False, denial=(code, message))

    def check_list(
        self,
        commands: Sequence[SubmitOrder],
        without: Collection[ClientOrderId] = (),
        sends: Sequence[Venue] = (),
    ) -> ListDenial | None:
        """Check an order list (a sliced order's children) as one unit, sending nothing: each
        leg through every gate with the legs before it counted as working orders and as made
        today, the working orders ``without`` as if they were canceled, and one request to
        each venue in ``sends`` as if made now (the cancels of the orders a new one is to
        replace, against the rate limits). The first leg that would be denied, or ``None``
        when all pass.

        A leg whose key was seen is its recorded answer: a refused one denies the list, a
        sent one is in the account already. The rate gates see what the first leg sees: the
        caller paces the legs (:meth:`rate_wait`) rather than have them denied. All legs are of
        one account."""
        if not commands:
            return None
        account = commands[0].account_id
        with self._lock(account), self._read() as uow, self._assumed_sends(account, sends):
            self._load_states(uow, account)
            view = self._view(uow, account)
            assumed: list[Order] = []
            for index, command in enumerate(commands):
                if command.account_id != account:
                    raise ValueError("check_list: expected the legs of one account")
                if command.idempotency_key is not None:
                    seen = uow.journal.find(account, command.idempotency_key)
                    if seen is not None:
                        first = replay(uow, command, seen)
                        if not first.ok:
                            return ListDenial(index, first.code or "", first.message)
                        continue
                self._watch.observe(account, command.bot_id)
                try:
                    unsent = client_order_ids.for_signal(account, f"list-check:{uuid.uuid4().hex}")
                    order = _order(command, unsent, self._clock.now())
                except ValueError as exc:
                    return ListDenial(index, "INVALID_ORDER", str(exc))
                with view.without(without), view.assuming(assumed):
                    code, message = self._judge(uow, order, command, gated=True)
                if code:
                    return ListDenial(index, code, message)
                assumed.append(order)
        return None

    def rate_wait(self, account_id: AccountId, venue: Venue) -> timedelta:
        """How long until one more order operation of ``account_id`` on ``venue`` fits under
        the account's order rate and the venue's burst limit (zero when it fits now)."""
        now = self._clock.now()
        waits = [timedelta(0)]
        account_limits = self._limits.accounts.get(account_id)
        if account_limits is not None and account_limits.max_orders_per_second is not None:
            waits.append(
                self._account_ops[account_id].wait(now, account_limits.max_orders_per_second)
            )
        burst = self._limits.venue_burst.get(venue)
        counter = self._venue_ops.get(venue)
        if burst is not None and counter is not None:
            waits.append(counter.wait(now, burst[0]))
        return max(waits)

    def _submit(
        self,
        command: SubmitOrder,
        gated: bool = True,
        denial: tuple[str, str] | None = None,
    ) -> Outcome:
        """Store and send a new order; ``denial`` (code, message) records it denied instead,
        unchecked."""
        now = self._clock.now()
        if gated:
            self._watch.observe(command.account_id, command.bot_id)
        with self._unit() as uow:
            coid = self._new_coid(uow, command)
            if uow.orders.get(coid) is not None:
                outcome = Outcome(
                    False, coid.value, None, "DUPLICATE_CLIENT_ORDER_ID", f"client_order_id={coid}"
                )
                self._journal(uow, command, outcome, [])
                uow.commit()
                return outcome
            try:
                order = _order(command, coid, now)
            except ValueError as exc:
                outcome = Outcome(False, coid.value, None, "INVALID_ORDER", str(exc))
                self._journal(uow, command, outcome, [])
                uow.commit()
                return outcome
            plan_record: JournalRecord | None = None
            denial_code, denial_message = denial or self._judge(uow, order, command, gated)
            if denial_code:
                event: OrderEvent = OrderDenied(
                    client_order_id=coid, ts=now, code=denial_code, message=denial_message
                )
                order.apply(event)
                outcome = Outcome(
                    False, coid.value, order.status.value, denial_code, denial_message
                )
            else:
                event = OrderSubmitted(client_order_id=coid, ts=now)
                order.apply(event)
                outcome = Outcome(True, coid.value, order.status.value)
                if command.exits is not None and not command.exits.empty:
                    planned = plan_payload(order, command.exits)
                    plan_record = uow.journal.append(
                        JournalRecord(order.account_id, "ExitPlanned", now, planned)
                    )
            journal = self._journal_records(command, outcome, [event])
            venue = None if denial_code else self._in_process(order)
            if venue is not None:  # journaled with the venue's answer: one statement
                return self._send_in_process(
                    uow, order, [event, plan_record], outcome, venue, journal
                )
            uow.journal.append_many(journal)
            uow.orders.add(order)
            uow.commit()
        self._stored(order, [e for e in (event, plan_record) if e is not None], None, new=True)
        if denial_code:
            return outcome
        return self._send(order, outcome)

    def _send_in_process(
        self,
        uow: UnitOfWork,
        order: Order,
        published: list[OrderEvent | JournalRecord | None],
        outcome: Outcome,
        venue: InProcessVenue,
        journal: list[JournalRecord],
    ) -> Outcome:
        """Send a new, SUBMITTED order to an in-process venue and store it with the venue's
        answer up to its first fill (accepted, filled, booked) in the submit's unit of work:
        one commit instead of two (see :class:`~algodesk.ports.broker.InProcessVenue`). If that
        commit fails, the venue forgets the order. An answer the order refuses is applied
        after the commit, one event at a time, as :meth:`pump` would. ``journal``: the
        submit's records, written in the same statement as the answer's, ahead of them."""
        coid = order.client_order_id
        counted = self._count_op(order.account_id, order.instrument_id.venue)
        batch = self._batch()
        if batch is not None:  # confirmed at the batch's commit, withdrawn if it is undone
            batch.sent.append((venue, coid))
        refused = False
        stored, applied, entry = order, list[OrderEvent](), None
        try:
            try:
                answer = venue.submit_now(order)
            except VenueRejectedError as exc:
                answer = [
                    OrderRejected(client_order_id=coid, ts=self._clock.now(), reason=str(exc))
                ]
                refused = True
            groups = _groups(answer)
            first = groups.pop(0) if groups else []
            done = self._apply_events(uow, order.clone(), first, journal) if first else None
            if done is None:
                uow.journal.append_many(journal)
                groups.insert(0, first)  # applied after the commit, one by one
            else:
                stored, applied, entry = done
            uow.orders.add(stored)
            uow.commit()
        except BaseException:  # nothing stored: the venue forgets it, the limits too
            venue.withdraw(coid)
            if batch is None:  # (in a batch, when the batch is undone)
                self._uncount_op(order.account_id, order.instrument_id.venue, counted)
            raise
        if batch is None:  # stored: the venue may act on it now (in a batch, at its commit)
            confirm(venue, coid)
        self._stored_in_process(stored, published, applied, entry, groups)
        if refused:
            self._watch.after_error(order.account_id)
        if stored.status is OrderStatus.REJECTED:
            rejected = OrderStatus.REJECTED.value
            return Outcome(False, coid.value, rejected, "VENUE_REJECTED", stored.last_reason or "")
        return outcome

    def _stored_in_process(
        self,
        stored: Order,
        published: list[OrderEvent | JournalRecord | None],
        applied: list[OrderEvent],
        entry: LedgerEntry | None,
        later: list[list[OrderEvent]],
    ) -> None:
        """After an in-process venue's order and answer are stored: the engine's view and
        ledger book, the subscribers, the breakers, then the answer's events past its first
        fill."""
        events = [*(item for item in published if item is not None), *applied]
        self._stored(stored, events, entry, new=True)
        self._apply_groups([group for group in later if group])

    def _stored(
        self, order: Order, events: Sequence[object], entry: LedgerEntry | None, new: bool = False
    ) -> None:
        """What follows the commit of an order's change (``new``: the order itself) and of
        its fill's ledger entry: the ledger's book and the engine's view move past them,
        subscribers hear ``events``, the breakers see the fill."""
        if entry is not None:
            self._ledger.committed(entry)
            if order.account_id not in self._loaded:
                # A fill pumped after a restart, before any command of the account: the
                # breakers take in what the journal kept first, or the journal's closed trades
                # would be counted again on top of this one when it is read later.
                with self._read() as uow:
                    self._load_states(uow, order.account_id)
        view = self._views.get(order.account_id)
        if view is not None:
            if new:
                view.created(order)
            else:
                view.track(order)
            if entry is not None:
                view.booked(entry)
        self._publish(*events)
        if entry is not None:
            self._watch.after_fill(order, entry)

    def position(
        self, account_id: AccountId, bot_id: BotId | None, instrument_id: InstrumentId
    ) -> Decimal:
        """The signed position of an account (``bot_id`` None) or a bot in one instrument."""
        with self._lock(account_id), self._read() as uow:
            view = self._view(uow, account_id)
        summary = view.bot(bot_id) if bot_id is not None else view.account
        held = summary.positions.get(instrument_id)
        return held.quantity if held else Decimal(0)

    def book_position(
        self, account_id: AccountId, bot_id: BotId | None, instrument_id: InstrumentId
    ) -> Decimal:
        """The signed position of one book in an instrument: a bot's, or (``bot_id`` None) the
        account's own, of its orders of no bot (not the account's whole position)."""
        with self._lock(account_id), self._read() as uow:
            view = self._view(uow, account_id)
        book = view.bots.get(bot_id)
        held = book.positions.get(instrument_id) if book is not None else None
        return held.quantity if held else Decimal(0)

    def holdings(self, account_id: AccountId) -> list[tuple[BotId | None, InstrumentId, Decimal]]:
        """Every position in the account's books, as ``(bot, instrument, signed quantity)``:
        each bot's, and (bot ``None``) the account's own book, of its orders of no bot; flat
        ones are left out. They add up to the account's positions."""
        with self._lock(account_id), self._read() as uow:
            view = self._view(uow, account_id)
            return [
                (bot, instrument, held.quantity)
                for bot, book in view.bots.items()
                for instrument, held in book.positions.items()
                if held.quantity != 0
            ]

    def book(self, account_id: AccountId, bot_id: BotId | None = None) -> BookSummary:
        """A copy of the account's (or one bot's) balances and positions as the engine sees
        them now."""
        with self._lock(account_id), self._read() as uow:
            view = self._view(uow, account_id)
            summary = view.bot(bot_id) if bot_id is not None else view.account
            return copy.deepcopy(summary)

    def open_orders(self, account_id: AccountId, bot_id: BotId | None = None) -> list[Order]:
        """The account's (or one bot's) working orders, oldest first."""
        with self._lock(account_id), self._read() as uow:
            view = self._view(uow, account_id)
            return [o.clone() for o in view.open.values() if bot_id in (None, o.bot_id)]

    def usage(self, account_id: AccountId, bot_id: BotId | None = None) -> ScopeUsage:
        """Read-only, for the limit and breaker views: the scope's counters and a copy of its
        circuit breaker (timers expired as of now)."""
        now = self._clock.now()
        with self._lock(account_id), self._read() as uow:
            self._load_states(uow, account_id)
            view = self._view(uow, account_id)
            self._board.state(account_id, bot_id, now)
            breaker = self._board.breaker(account_id, bot_id)
            counter = self._account_ops.get(account_id)
            return ScopeUsage(
                view.entries_today(bot_id),
                counter.count(now) if counter is not None else 0,
                copy.deepcopy(breaker),
                self._board.day_start(account_id, bot_id),
            )

    def recorded(
        self, account_id: AccountId, key: str, *, also: Sequence[str] = ()
    ) -> Outcome | None:
        """The first outcome of the command journaled under ``key``, or None if no command
        carried that key yet (what a retry after a crash asks before deciding again).

        Inside a batch of the account, the keys ``also`` are looked up in the same query,
        and those not journaled are known absent for the rest of the batch: a
        :meth:`noted` or :meth:`handle` under one of them needs no look-up of its own (a
        round trip less on PostgreSQL). Outside a batch ``also`` is not looked up."""
        with self._lock(account_id), self._read() as uow:
            batch = self._batch()
            if batch is None or batch.account_id != account_id:
                seen = uow.journal.find(account_id, key)
            else:
                keys = [key, *also] if also else [key]
                found = uow.journal.find_many(account_id, keys)
                batch.absent.update(k for k in keys if k not in found)
                seen = found.get(key)
            if seen is None or "outcome" not in seen.payload:
                return None
            first = Outcome(**dict(seen.payload["outcome"]))  # type: ignore[call-overload]
            return replace(first, replayed=True)

    def note(
        self, account_id: AccountId, key: str, kind: str, payload: Mapping[str, object]
    ) -> Mapping[str, object]:
        """Journal ``payload`` as a ``kind`` record under ``key``, unless a record has that
        key already: the payload journaled first under it, either way. For what a caller
        decided that its retries must decide the same (a sliced order and its children's
        quantities); inside a batch, stored with it."""
        with self._lock(account_id), self._unit() as uow:
            absent = self._known_absent(account_id, key)
            seen = None if absent else uow.journal.find(account_id, key)
            if seen is not None:
                return seen.payload
            now = self._clock.now()
            uow.journal.append(JournalRecord(account_id, kind, now, dict(payload), key))
            uow.commit()
        batch = self._batch()
        if batch is not None:
            batch.absent.discard(key)  # journaled now
        return payload

    def noted(self, account_id: AccountId, key: str) -> Mapping[str, object] | None:
        """The payload :meth:`note` journaled under ``key``, if any."""
        with self._lock(account_id):
            if self._known_absent(account_id, key):
                return None
            with self._read() as uow:
                seen = uow.journal.find(account_id, key)
        return None if seen is None else seen.payload

    def _known_absent(self, account_id: AccountId, key: str) -> bool:
        """Whether ``key`` was looked up in the account's running batch and not found (see
        :meth:`recorded`); it is still not journaled: only the batch's thread journals for
        the account meanwhile, and journaling it takes it off the batch's list."""
        batch = self._batch()
        return batch is not None and batch.account_id == account_id and batch.new_key(key)

    def open_instruments(self, account_id: AccountId) -> list[InstrumentId]:
        """Instruments in which one of the account's books holds a position (also where bots
        hold opposite ways and the account nets to nothing) or that have a working order."""
        with self._lock(account_id), self._read() as uow:
            view = self._view(uow, account_id)
        books = [view.account, *view.bots.values()]
        held = {i for book in books for i, p in book.positions.items() if p.quantity != 0}
        held |= {o.instrument_id for o in view.open.values()}
        return sorted(held, key=lambda i: i.value)

    def _scope_states(self, order: Order) -> dict[tuple[AccountId, BotId | None], TradingState]:
        account = order.account_id
        states: dict[tuple[AccountId, BotId | None], TradingState] = {
            (account, None): self._effective(account, None)
        }
        if order.bot_id is not None:
            states[(account, order.bot_id)] = self._effective(account, order.bot_id)
        return states

    def _judge(
        self, uow: UnitOfWork, order: Order, command: SubmitOrder, gated: bool
    ) -> tuple[str, str]:
        """The denial code and message for a new order (its exits' plan, then
        :meth:`_decide`), or two empty strings to send it."""
        code, message = check_plan(order, command.exits, self._market.mark(order.instrument_id))
        return (code, message) if code else self._decide(uow, order, command, gated)

    def _decide(
        self, uow: UnitOfWork, order: Order, command: SubmitOrder, gated: bool
    ) -> tuple[str, str]:
        """The denial code and message for a new order, or two empty strings to send it."""
        if command.oco_with is not None:
            partner = self._view(uow, order.account_id).open.get(command.oco_with)
            if partner is None or (partner.instrument_id, partner.side) != (
                order.instrument_id,
                order.side,
            ):
                return (
                    "OCO_PARTNER_NOT_WORKING",
                    f"oco_with={command.oco_with}: expected a working {order.side} order in "
                    f"{order.instrument_id} of this account",
                )
        if gated:
            code, message = self._gate(uow, order, command.target_price, command.oco_with)
            if code:
                return code, message
        if self._broker(order) is None:
            return "NO_VENUE_ROUTE", f"venue={order.instrument_id.venue}"
        return "", ""

    def _gate(
        self,
        uow: UnitOfWork,
        order: Order,
        target: Price | None,
        oco_with: ClientOrderId | None = None,
    ) -> tuple[str, str]:
        """Every check a new or modified order passes: its bot, then the ordered gates with the
        states the breakers impose and the venue's estimated fees."""
        now = self._clock.now()
        view = self._view(uow, order.account_id)
        limits = self._limits
        bot = None
        if order.bot_id is not None and self._bots is not None:
            bot = self._bots.get(order.bot_id)
            if bot is None or bot.account_id != order.account_id:
                return "BOT_NOT_FOUND", f"bot={order.bot_id}, account={order.account_id}"
            limits = replace(limits, bots={**limits.bots, bot.id: bot.limits})
        counter = self._venue_ops.get(order.instrument_id.venue)
        context = build_context(
            view,
            order,
            now,
            self._market,
            limits,
            self._scope_states(order),
            self._account_ops[order.account_id].count(now),
            counter.count(now) if counter else 0,
            target,
            oco_with,
        )
        # A bot that is not running may only reduce. (No scopes: the account has no limits;
        # the gates deny that below with ACCOUNT_NOT_FOUND.)
        idle = bot is not None and not bot.takes_entries
        if bot is not None and idle and context.scopes and not reduces(order, context.scopes[-1]):
            scope = context.scopes[-1]
            return (
                "BOT_NOT_RUNNING",
                f"bot={bot.id}, status={bot.status}, position={scope.position}",
            )
        context = with_fees(context, order, self._fees.get(order.instrument_id.venue))
        denial = check_order(order, context)
        return (denial.code, denial.message) if denial is not None else ("", "")

    def _gate_modified(self, uow: UnitOfWork, proposed: Order) -> tuple[str, str]:
        """The gates for an order as a modify would leave it, judged on what is left to fill:
        its filled part is in the position already (a partly filled exit of 10 with 4 filled
        against a long of 6 was judged as a sale of 10, and refused)."""
        filled = proposed.filled_quantity
        if proposed.quantity <= filled:
            return (
                "INVALID_ORDER",
                f"order {proposed.client_order_id}: expected a quantity above the "
                f"{filled.value} filled, was {proposed.quantity.value}",
            )
        unfilled = Order.restore(
            **{
                **{
                    name: getattr(proposed, name)
                    for name in Order.__dataclass_fields__
                    if name != "fills"
                },
                "quantity": proposed.quantity - filled,
                "filled_quantity": Quantity(Decimal(0)),
                "avg_fill_price": None,
            }
        )
        return self._gate(uow, unfilled, None)

    def _open_order(
        self, uow: UnitOfWork, account_id: AccountId, coid: ClientOrderId
    ) -> Order | Outcome:
        order = uow.orders.get(coid)
        if order is None or order.account_id != account_id:
            return Outcome(False, coid.value, None, "ORDER_NOT_FOUND", f"client_order_id={coid}")
        if not order.status.is_open:
            return Outcome(
                False, coid.value, order.status.value, "ORDER_NOT_OPEN", f"status={order.status}"
            )
        return order

    def _request(
        self,
        command: Command,
        coid: ClientOrderId,
        pending: type[OrderPendingCancel | OrderPendingUpdate],
        send: Callable[[BrokerPort, Order], None],
        rejected: Callable[[str], OrderEvent],
    ) -> Outcome:
        """Send a cancel or modify. A refused cancel is not counted as a venue error: it mostly
        means a fill won the race."""
        now = self._clock.now()
        with self._unit() as uow:
            found = self._open_order(uow, command.account_id, coid)
            if isinstance(found, Outcome):
                self._journal(uow, command, found, [])
                uow.commit()
                return found
            order = found
            event = pending(client_order_id=coid, ts=now)
            order.apply(event)
            uow.orders.update(order)
            outcome = Outcome(True, coid.value, order.status.value)
            self._journal(uow, command, outcome, [event])
            uow.commit()
        self._track(order)
        self._publish(event)
        self._count_op(command.account_id, order.instrument_id.venue)
        broker = self._broker(order)
        try:
            if broker is None:
                raise VenueRejectedError(f"no route to venue {order.instrument_id.venue}")
            send(broker, order)
        except VenueRejectedError as exc:
            self._apply(rejected(str(exc)), order.account_id)
            if pending is OrderPendingUpdate:
                self._watch.after_error(order.account_id)
        except VenueNotSentError as exc:  # never left (see services.unsent)
            if pending is OrderPendingCancel:  # the order must not work on: sent again later
                self._unsent.add(order.account_id, coid, Request.CANCEL)
            else:  # a modify: the order keeps its terms
                self._apply(rejected(f"VENUE_UNAVAILABLE: {exc}"), order.account_id)
        except VenueUnavailableError:
            # The request is pending until the venue answers or reconciliation decides.
            self._watch.after_error(order.account_id)
        return outcome

    def _cancel(self, command: CancelOrder) -> Outcome:
        coid = command.client_order_id
        if self._unsent.claim(coid, Request.SUBMIT, command.account_id):  # never sent
            try:
                return self._cancel_unsent(command)
            except BaseException:
                self._unsent.add(command.account_id, coid, Request.SUBMIT)
                raise
        return self._request(
            command,
            coid,
            OrderPendingCancel,
            lambda broker, order: broker.cancel(order),
            lambda reason: OrderCancelRejected(
                client_order_id=coid, ts=self._clock.now(), reason=reason
            ),
        )

    def _cancel_unsent(self, command: CancelOrder) -> Outcome:
        """Cancel an order whose submit a venue was down for and that is kept to be sent
        (:mod:`~algodesk.services.unsent`): it never left, so it is canceled here at once, and
        the venue is not asked (it would refuse a cancel of an order it never had)."""
        coid = command.client_order_id
        with self._unit() as uow:
            found = self._open_order(uow, command.account_id, coid)
            if isinstance(found, Outcome):
                self._journal(uow, command, found, [])
                uow.commit()
                return found
            order = found
            reason = "CANCELED_UNSENT: canceled before it was sent (its venue was down)"
            event = OrderCanceled(client_order_id=coid, ts=self._clock.now(), reason=reason)
            order.apply(event)
            uow.orders.update(order)
            outcome = Outcome(True, coid.value, order.status.value)
            self._journal(uow, command, outcome, [event])
            uow.commit()
        self._track(order)
        self._publish(event)
        return outcome

    def _modify(self, command: ModifyOrder) -> Outcome:
        coid = command.client_order_id
        now = self._clock.now()
        self._watch.observe(command.account_id, None)
        with self._read() as uow:
            found = self._open_order(uow, command.account_id, coid)
            if isinstance(found, Outcome):
                return found
            try:
                proposed = Order.restore(
                    **{
                        **{
                            name: getattr(found, name)
                            for name in Order.__dataclass_fields__
                            if name != "fills"
                        },
                        "quantity": command.quantity or found.quantity,
                        "price": command.price or found.price,
                        "trigger_price": command.trigger_price or found.trigger_price,
                    }
                )
            except ValueError as exc:
                code, message = "INVALID_ORDER", str(exc)
            else:
                code, message = self._gate_modified(uow, proposed)
        if not code and found.cancel_pending:
            code = "ORDER_CANCEL_PENDING"
            message = "the order's cancel is on its way: it is not modified"
        if not code and self._unsent.holds(coid, Request.SUBMIT):
            code = "ORDER_NOT_SENT"
            message = "the order waits to be sent (its venue was down): cancel it and place another"
        if code:
            event = OrderModifyRejected(client_order_id=coid, ts=now, reason=f"{code}: {message}")
            outcome = Outcome(False, coid.value, found.status.value, code, message)
            with self._unit() as uow:
                self._journal(uow, command, outcome, [event])
                uow.commit()
            self._publish(event)
            return outcome
        return self._request(
            command,
            coid,
            OrderPendingUpdate,
            lambda broker, order: broker.modify(
                order, command.quantity, command.price, command.trigger_price
            ),
            lambda reason: OrderModifyRejected(
                client_order_id=coid, ts=self._clock.now(), reason=reason
            ),
        )

    def _set_state(self, command: SetTradingState) -> Outcome:
        if not command.reason.strip():
            return Outcome(
                False, None, None, "REASON_REQUIRED", "a change of trading state needs a reason"
            )
        now = self._clock.now()
        payload = {
            "bot": command.bot_id.value if command.bot_id else None,
            "state": command.state.value,
            "reason": command.reason,
        }
        outcome = Outcome(True, None, command.state.value)
        record = JournalRecord(command.account_id, "TradingStateSet", now, payload)
        with self._unit() as uow:
            self._journal(uow, command, outcome, [])
            uow.journal.append(record)
            uow.commit()
        self._states[(command.account_id, command.bot_id)] = command.state
        self._publish(record)  # the stream's risk topic (the command was published: not streamed)
        return outcome

    def _flatten(self, command: Flatten) -> Outcome:
        """Cancel the scope's working orders, then close its positions with market orders that
        pass no gate. Returns at once; fills arrive as the venue reports them.

        Each (bot, instrument) book is closed by its own order carrying its bot, so the bots'
        books end flat too. A close above the instrument's freeze quantity goes as whole-lot
        children at most the freeze quantity (:func:`slice_closing`); unlike an entry's
        children these are neither capped in number nor paced: a close is never held back.
        Closing market orders already in flight (an earlier flatten whose venue hangs) are
        neither canceled nor repeated: only the rest is closed. A retry after a crash midway
        (a finished flatten's key replays its answer) closes what is still open and not in
        flight, with ids its first run did not use (:meth:`_closer_ids`).
        """
        account = command.account_id
        base = command.idempotency_key or uuid.uuid4().hex
        with self._read() as uow:
            view = self._view(uow, account)
        in_scope = [
            o
            for o in view.open.values()
            if command.bot_id in (None, o.bot_id)
            and command.instrument_id in (None, o.instrument_id)
        ]
        closers = [o for o in in_scope if o.reduce_only and o.order_type is OrderType.MARKET]
        to_cancel = [o for o in in_scope if o not in closers]
        for order in to_cancel:
            self._cancel(CancelOrder(account_id=account, client_order_id=order.client_order_id))
        books = [command.bot_id] if command.bot_id is not None else list(view.bots)
        closing = children = 0
        for bot in books:
            summary = view.bot(bot) if bot is not None else view.bots.get(None, view.account)
            for pos in summary.open_positions:
                if command.instrument_id not in (None, pos.instrument_id):
                    continue
                side = OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY
                in_flight = sum(
                    (
                        o.leaves_quantity.value
                        for o in closers
                        if o.bot_id == bot
                        and o.instrument_id == pos.instrument_id
                        and o.side is side
                    ),
                    Decimal(0),
                )
                rest = abs(pos.quantity) - in_flight
                if rest <= 0:
                    continue
                closing += 1
                book = f"{bot.value if bot else '-'}:{pos.instrument_id}"
                instrument = self._market.instrument(pos.instrument_id)
                parts = (
                    slice_closing(instrument, Quantity(rest))
                    if instrument is not None
                    else (Quantity(rest),)
                )
                children += len(parts) if len(parts) > 1 else 0
                ids = self._closer_ids(account, f"flatten:{base}:{book}", len(parts))
                for part, coid in zip(parts, ids, strict=True):
                    self._submit(
                        SubmitOrder(
                            account_id=account,
                            instrument_id=pos.instrument_id,
                            side=side,
                            order_type=OrderType.MARKET,
                            quantity=part,
                            bot_id=bot,
                            reduce_only=True,
                            client_order_id=coid,
                        ),
                        gated=False,
                    )
        message = f"canceled {len(to_cancel)} orders, closing {closing} positions"
        if children:
            message += f" ({children} orders in freeze-quantity slices)"
        outcome = Outcome(True, None, None, None, message)
        with self._unit() as uow:
            self._journal(uow, command, outcome, [])
            uow.commit()
        return outcome

    def _closer_ids(self, account: AccountId, name: str, count: int) -> list[ClientOrderId]:
        """``count`` unused client order ids for the closing orders of one book: ``name``, then
        ``name:2``, ``name:3``... A retry after a crash midway takes up after the ids its first
        run used (reusing one would be refused as a duplicate, leaving that part open)."""
        ids: list[ClientOrderId] = []
        n = 1
        with self._read() as uow:
            while len(ids) < count:
                coid = client_order_ids.for_signal(account, name if n == 1 else f"{name}:{n}")
                n += 1
                if uow.orders.get(coid) is None:
                    ids.append(coid)
        return ids

    # -- venue events ------------------------------------------------------------------------

    def apply_venue_event(self, event: OrderEvent) -> None:
        """Apply one event a venue reported (reconciliation uses this; ``pump`` drains)."""
        self._apply(event, None)

    def resend(self, order: Order) -> None:
        """Send again an order stored SUBMITTED that an in-process venue (the paper exchange)
        lost in a restart: its book died with the process, so the order never reached it and
        sending it now cannot make a second one. Never use it for a remote venue, where the
        outcome of an unacknowledged submit is unknown (reconciliation decides there)."""
        broker = self._broker(order)
        assert broker is not None, f"no venue route for {order.instrument_id}"
        try:
            broker.submit(order)
        except VenueRejectedError as exc:
            self._apply(
                OrderRejected(
                    client_order_id=order.client_order_id, ts=self._clock.now(), reason=str(exc)
                ),
                order.account_id,
            )

    def send_cancel(self, order: Order) -> None:
        """Send a cancel for an order already PENDING_CANCEL (recovery after a restart)."""
        broker = self._broker(order)
        if broker is not None:
            broker.cancel(order)

    @property
    def unsent(self) -> int:
        """How many requests wait for a venue that was down (see :mod:`~.unsent`)."""
        return len(self._unsent)

    def send_unsent(self) -> bool:
        """Send the requests a venue refused while it was down (its guard's cool-off), each
        under its account's lock, if still wanted: a cancel of an order still working, a
        reduce-only order still unsent. A venue still down keeps the rest of its requests for
        the next pump; one that refuses a request settles it (the cancel or the order is
        rejected); one that times out leaves it in flight. A reduce-only order whose book holds
        nothing on its side any more is canceled unsent. :meth:`pump` calls this once it has
        applied the venues' events. True when some request went out."""
        if getattr(self._local, "sending_unsent", False):
            return False
        self._local.sending_unsent = True
        try:
            down: set[Venue] = set()
            went = False
            for coid, account, request in self._unsent.items():
                try:
                    with self._lock(account):
                        went = self._send_unsent(coid, account, request, down) or went
                except Exception:  # kept (put back): tried again at the next pump
                    _log.exception("could not settle the %s of %s kept unsent", request, coid)
            return went
        finally:
            self._local.sending_unsent = False

    def _send_unsent(
        self, coid: ClientOrderId, account: AccountId, request: Request, down: set[Venue]
    ) -> bool:
        """Send one kept request, taken out of the kept ones while it is looked at (so that a
        pump on another thread passes it by) and put back when it cannot go yet."""
        if not self._unsent.claim(coid, request):
            return False  # another thread's pump has it
        keep = True
        try:
            with self._read() as uow:
                order = uow.orders.get(coid)
            if order is None or not request.wanted(order):
                keep = False
                return False
            broker = self._broker(order)
            if broker is None or order.instrument_id.venue in down:
                return False
            now = self._clock.now()
            trimmed = self._trimmed(order, now) if request is Request.SUBMIT else None
            if trimmed is not None:
                keep = False
                return trimmed
            try:
                if request is Request.CANCEL:
                    broker.cancel(order)
                else:
                    broker.submit(order)
            except VenueNotSentError:
                down.add(order.instrument_id.venue)
                return False
            except VenueRejectedError as exc:
                refused: OrderEvent = (
                    OrderCancelRejected(client_order_id=coid, ts=now, reason=str(exc))
                    if request is Request.CANCEL
                    else OrderRejected(client_order_id=coid, ts=now, reason=str(exc))
                )
                self._apply(refused, account)  # not recorded: asked again at the next pump
                keep = False
                return False
            except VenueUnavailableError:  # it went; its outcome is unknown: in flight
                keep = False
                self._watch.after_error(account)
                return True
            keep = False
            return True
        finally:
            if keep:
                self._unsent.add(account, coid, request)

    def _trimmed(self, order: Order, now: datetime) -> bool | None:
        """None when a reduce-only order kept unsent still fits its book. Otherwise it is
        canceled unsent and, when its book still holds some for it, replaced by one for that
        (True: the replacement was sent)."""
        room = self._room_to_reduce(order)
        if order.leaves_quantity.value <= room:
            return None
        rest = f"; replaced by one of {room}" if room > 0 else ""
        reason = (
            f"NOT_SENT: its venue was down, and its book has {room} left to reduce for it "
            f"now, less than its {order.leaves_quantity}: not sent, as on a venue without "
            f"reduce-only orders it would open a position{rest}"
        )
        if room > 0:  # what is left is closed all the same; first, so that a failed write
            # leaves the order kept, to be trimmed again (the replacement then counts ahead)
            self._submit(_remainder(order, Quantity(room)), gated=False)
        self._apply(
            OrderCanceled(client_order_id=order.client_order_id, ts=now, reason=reason),
            order.account_id,
        )
        return room > 0

    def _room_to_reduce(self, order: Order) -> Decimal:
        """How much a reduce-only order kept unsent may still fill without turning its book
        over: what the book holds on the other side, less the other reduce-only orders on the
        order's side working or kept in the book (a venue without reduce-only orders would
        fill them all); one whose cancel is on its way counts as gone, as for an exit."""
        held = self.book_position(order.account_id, order.bot_id, order.instrument_id)
        room = held if order.side is OrderSide.SELL else -held
        ahead = sum(
            (
                o.leaves_quantity.value
                for o in self.open_orders(order.account_id, order.bot_id)
                if o.client_order_id != order.client_order_id
                and o.bot_id == order.bot_id
                and o.reduce_only
                and o.instrument_id == order.instrument_id
                and o.side is order.side
                and not o.cancel_pending
            ),
            Decimal(0),
        )
        return max(room - ahead, Decimal(0))

    @property
    def accounts(self) -> list[AccountId]:
        """The configured accounts, in order."""
        return sorted(self._limits.accounts, key=lambda a: a.value)

    def pump(self) -> int:
        """Apply every event the venues have reported since the last pump; returns the count.

        Consecutive events of one order up to its next fill (a paper order's acceptance and
        fill, say) are applied in one transaction: the order moves from its last committed
        state to its new one at once, as if the venue had answered in one message. When that
        cannot be done cleanly (an unknown order, an event the order refuses, any error), the
        group's transaction is rolled back and its events are applied one by one as before.
        Then the requests a venue was down for are sent (:meth:`send_unsent`), on what the
        events just applied tell, and their answers applied.
        """
        if self._batch() is not None or getattr(self._local, "pump_after", False):
            return 0  # inside a batch (or pump_after): its end pumps
        applied = self._drain()
        if self._unsent and self.send_unsent():
            applied += self._drain()
        return applied

    def _drain(self) -> int:
        applied = 0
        for broker in self._brokers.values():
            applied += self._apply_groups(_groups(broker.drain()))
        return applied

    def _apply_groups(self, groups: list[list[OrderEvent]]) -> int:
        """Apply venue events grouped by :func:`_groups`; returns how many there were."""
        applied = 0
        for group in groups:
            applied += len(group)
            if len(group) > 1 and self._apply_group(group):
                continue
            for event in group:
                try:
                    self._apply(event, None)
                except Exception:  # one bad event must not cost the rest of the batch
                    _log.exception("venue event %s could not be applied", event)
                    self._incident(event, "event could not be applied; see the log")
        return applied

    def _apply_group(self, group: list[OrderEvent]) -> bool:
        """Apply events of one order (at most one fill, last) in one unit of work; False, with
        nothing stored, when the events must be applied one at a time instead."""
        account_id = self._account_of(group[0].client_order_id)
        if account_id is None:
            return False
        with self._lock(account_id):
            try:
                done = self._apply_group_locked(group, account_id)
            except Exception:
                _log.debug("venue events %s: applying them one by one", group, exc_info=True)
                return False
            if done is None:
                return False
            order, applied, entry = done
            self._stored(order, applied, entry)
        return True

    def _apply_group_locked(
        self, group: list[OrderEvent], account_id: AccountId
    ) -> tuple[Order, list[OrderEvent], LedgerEntry | None] | None:
        with self._unit() as uow:
            order = uow.orders.get(group[0].client_order_id)
            if order is None or order.account_id != account_id:
                return None
            done = self._apply_events(uow, order, group)
            if done is None:
                return None
            if done[1]:
                uow.orders.update(order)
                uow.commit()
        return done

    def _apply_events(
        self,
        uow: UnitOfWork,
        order: Order,
        events: list[OrderEvent],
        before: Sequence[JournalRecord] = (),
    ) -> tuple[Order, list[OrderEvent], LedgerEntry | None] | None:
        """Apply venue events of ``order`` (at most one fill, last) to it, journal them (after
        ``before``, in one statement) and book the fill in ``uow`` (the caller stores the order
        and commits): the order, the events that changed it and the new ledger entry. None,
        with nothing written (``before`` neither), when the order refuses an event or its
        instrument is unknown: the one-by-one path records that."""
        applied: list[OrderEvent] = []
        for event in events:
            try:
                if order.apply(event):
                    applied.append(event)
            except OrderError:
                return None
        fill = applied[-1] if applied and isinstance(applied[-1], OrderFilled) else None
        instrument = self._market.instrument(order.instrument_id) if fill is not None else None
        if fill is not None and instrument is None:
            return None
        uow.journal.append_many(
            [
                *before,
                *(
                    JournalRecord(order.account_id, type(e).__name__, e.ts, event_payload(e))
                    for e in applied
                ),
            ]
        )
        entry: LedgerEntry | None = None
        if fill is not None and instrument is not None:
            _, entry = self._ledger.book_fill(uow, fill.fill, instrument)
        return order, applied, entry

    def _incident(self, event: OrderEvent, problem: str) -> None:
        """Journal an event we could not apply (with a fill's details), and publish it."""
        payload = {**event_payload(event), "problem": problem}
        account = AccountId("unknown")
        if isinstance(event, OrderFilled):
            account = event.fill.account_id
            payload.update(instrument=event.fill.instrument_id.value)
        with self._unit() as uow:
            record = uow.journal.append(
                JournalRecord(account, "EventNotApplied", event.ts, payload)
            )
            uow.commit()
        self._publish(record)

    def _apply(self, event: OrderEvent, account_id: AccountId | None) -> None:
        if account_id is None:
            account_id = self._account_of(event.client_order_id)
        if account_id is None:
            self._apply_locked(event, None)
            return
        with self._lock(account_id):
            self._apply_locked(event, account_id)

    def _account_of(self, coid: ClientOrderId) -> AccountId | None:
        """The account of a stored order: a working one's is in its account's view (an
        order's account never changes), any other's is read from storage."""
        for view in list(self._views.values()):
            if coid in view.open:
                return view.account_id
        with self._read() as uow:
            known = uow.orders.get(coid)
        return known.account_id if known else None

    def _apply_locked(self, event: OrderEvent, account_id: AccountId | None) -> None:
        entry: LedgerEntry | None = None
        with self._unit() as uow:
            order = uow.orders.get(event.client_order_id)
            if order is None:
                uow.journal.append(
                    JournalRecord(
                        account_id or AccountId("unknown"),
                        "UnknownOrderEvent",
                        event.ts,
                        event_payload(event),
                    )
                )
                uow.commit()
                return
            try:
                changed = order.apply(event)
            except OrderError as exc:
                payload = {**event_payload(event), "error": str(exc)}
                incident = uow.journal.append(
                    JournalRecord(order.account_id, "OrderEventRefused", event.ts, payload)
                )
                uow.commit()
                self._publish(incident)
                return
            if not changed:
                return
            uow.orders.update(order)
            uow.journal.append(
                JournalRecord(
                    order.account_id, type(event).__name__, event.ts, event_payload(event)
                )
            )
            if isinstance(event, OrderFilled):
                instrument = self._market.instrument(order.instrument_id)
                if instrument is None:
                    raise RuntimeError(f"fill for {order.instrument_id}, which is no longer known")
                _, entry = self._ledger.book_fill(uow, event.fill, instrument)
            uow.commit()
        self._stored(order, [event], entry)


def _order(command: SubmitOrder, coid: ClientOrderId, now: datetime) -> Order:
    """The new order ``command`` asks for, as ``coid``, made at ``now`` (ValueError when the
    order is not valid)."""
    return Order.create(
        client_order_id=coid,
        account_id=command.account_id,
        instrument_id=command.instrument_id,
        side=command.side,
        order_type=command.order_type,
        quantity=command.quantity,
        created_at=now,
        time_in_force=command.time_in_force,
        price=command.price,
        trigger_price=command.trigger_price,
        expire_time=command.expire_time,
        bot_id=command.bot_id,
        reduce_only=command.reduce_only,
    )


def _remainder(order: Order, left: Quantity) -> SubmitOrder:
    """A reduce-only order as ``order`` (kept unsent, too large now) for what its book still
    holds for it; its id follows from the order's, so it is made once."""
    return SubmitOrder(
        account_id=order.account_id,
        instrument_id=order.instrument_id,
        side=order.side,
        order_type=order.order_type,
        quantity=left,
        price=order.price,
        trigger_price=order.trigger_price,
        time_in_force=order.time_in_force,
        expire_time=order.expire_time,
        bot_id=order.bot_id,
        reduce_only=True,
        client_order_id=client_order_ids.for_signal(
            order.account_id, f"rest:{order.client_order_id}"
        ),
    )


def _groups(events: Iterable[OrderEvent]) -> list[list[OrderEvent]]:
    """Runs of consecutive events of one order, each closed by a fill (a fill moves the
    ledger: one per group keeps the ledger's book cache in step with what is committed)."""
    groups: list[list[OrderEvent]] = []
    current: list[OrderEvent] = []
    for event in events:
        if current and current[0].client_order_id != event.client_order_id:
            groups.append(current)
            current = []
        current.append(event)
        if isinstance(event, OrderFilled):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups
