"""TradingView alerts: the webhook's fast answer, the inbox, and the processing after it.

:class:`AlertIntake` is all a webhook request does: find the hook by its URL token, check the
source and the size, parse (cheap and pure), check the body secret and the alert's age, and
store the raw body in the inbox, committed, before answering. Resends and duplicates find the
first entry by their dedupe key and are answered as it was, without a second entry.

:class:`AlertProcessor` drains the inbox in arrival order: each pending alert becomes commands
for its bots (:class:`~algodesk.services.alert_orders.OrderPlanner`), the engine applies them,
and the alert's fate is recorded. Fates are recorded a drain batch at a time (one
``Inbox.settle_many``, one commit, for all the alerts processed in a row), not one commit per
alert. That leaves a window in which an alert's orders are sent but its fate is not recorded
yet (a crash, or a failed settle); it is safe because every command carries an idempotency key
derived from the inbox entry (``alert:{entry}:{intent}:{bot}``): the alert is still pending, is
processed again, and the engine returns the first outcome of each known key, trading nothing new.
An alert whose second run would be planned afresh rather than answered from the journal (nothing
to do, a cancel or a close, a refusal that depends on the position) ends its batch, so no later
alert trades before its fate is recorded (see :meth:`AlertProcessor.drain`).

The same alerts' orders are stored in one transaction too (an engine batch, see
:meth:`~algodesk.services.engine.Engine.batch`): up to :data:`ENGINE_BATCH` alerts of one
account in a row, for at most :data:`ENGINE_BATCH_SECONDS` (on PostgreSQL
:data:`CONCURRENT_WRITERS_BATCH_SECONDS`), then one commit for their orders,
fills and ledger entries on the paper exchange, then one for their fates. A batch that fails
is undone whole (nothing of it was stored or sent), and its alerts are processed again one at a
time. A webhook that stores its alert meanwhile waits for the batch's commit at most (on
SQLite, in the writer queue of :mod:`~algodesk.adapters.storage.sql.writer_gate`).

An alert answered 200 is one the desk expects to execute: while the processor runs too far
behind for the alert's hook (see :mod:`~algodesk.services.backlog`), the webhook answers 503
``desk_behind`` and stores nothing, rather than store an alert that would be too old to trade
when its turn came.

Dedupe key: (hook, SHA-256 of the body) when the alert carries its firing time (``timenow``),
which makes every trigger's body unique; without it, a repeat counts as a duplicate only within
the hook's window (default 60 s), since the same words may be a new signal later.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from algodesk.domain.bots import Bot
from algodesk.domain.commands import CancelOrder
from algodesk.domain.identifiers import AccountId, BotId
from algodesk.domain.signals import AlertReason, AlertRejection, Intent, ParsedAlert
from algodesk.ports.clock import Clock
from algodesk.ports.inbox import (
    AlertStatus,
    Inbox,
    InboxEntry,
    NewAlert,
    Settlement,
    fate_json,
    require_final,
)
from algodesk.ports.signals import DEFAULT_SECRET_FIELD, AlertParser
from algodesk.ports.webhooks import DEFAULT_MAX_LAG, Hook, HookStore
from algodesk.services.alert_orders import MappingError, OrderPlanner, PlannedOrder, replaced_key
from algodesk.services.backlog import AlertBacklog
from algodesk.services.bots import BotService
from algodesk.services.engine import Engine
from algodesk.services.outcomes import Outcome
from algodesk.services.slicing import UnreadableSliceError, child_key, read_plan, sliced_key

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_BODY_BYTES",
    "TRADINGVIEW_SOURCES",
    "AlertIntake",
    "AlertProcessor",
    "Explanation",
    "ParseOnce",
    "WebhookAnswer",
]

_log = logging.getLogger("algodesk.alerts")

MAX_BODY_BYTES = 64 * 1024
#: Attempts at processing one alert before it is settled as an internal error.
MAX_ATTEMPTS = 5
#: Alerts of one account whose orders are stored in one transaction (an engine batch): the
#: account's other writers (and SQLite's, the inbox's) wait for a batch, so it stays short.
ENGINE_BATCH = 32
#: ... and at most this long (it then commits) where the database has one writer at a time
#: (SQLite: the alert thread, API orders and fills at marks take turns). The webhook's insert
#: does not wait for it (the inbox is a file of its own), yet at 400 alerts/s 50 ms batches
#: answered webhooks p99 388 ms (7 ms with these) and booked fills p99 3.2 s (86 ms).
ENGINE_BATCH_SECONDS = 0.01
#: ... or this long where writers do not wait for each other (PostgreSQL): a longer batch
#: shares its commits and its ledger head among more alerts when they queue (a drain of 1,500
#: alerts went from 185-221/s to 246-251/s), and only the account's other writers wait for it.
CONCURRENT_WRITERS_BATCH_SECONDS = 0.05
#: How long the webhook remembers the digest of an alert it stored (TradingView resends within
#: 15 s), and how many at most.
RECENT_SECONDS = 120.0
RECENT_MAX = 200_000
#: TradingView's published webhook source addresses (IPv4 only).
TRADINGVIEW_SOURCES = frozenset(
    ipaddress.ip_address(a)
    for a in ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
)

_HTTP_STATUS = {
    AlertReason.TOO_LARGE: 413,
    AlertReason.BAD_SECRET: 401,
    AlertReason.FORBIDDEN_SOURCE: 403,
}


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """The HTTP answer: 2xx for stored alerts (new or duplicate), 4xx with a reason, 503 when
    the desk is too far behind to take it (with ``Retry-After`` in ``headers``)."""

    status: int
    body: dict[str, object]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Explanation:
    accepted: bool
    reason: str | None
    message: str
    orders: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "reason": self.reason,
            "message": self.message,
            "orders": self.orders,
        }


def _rejected(reason: str, message: str) -> WebhookAnswer:
    status = next((s for code, s in _HTTP_STATUS.items() if code.value == reason), 422)
    return WebhookAnswer(status, {"ok": False, "reason": reason, "message": message})


class ParseOnce:
    """An :class:`AlertParser` that hands a body's parse from the webhook to the alert thread:
    the webhook keeps (:meth:`keep`) the parse of an alert it stored as pending, and the processor,
    parsing the stored body, gets that result instead of parsing it again (a parse is pure:
    the same body and secret field always give the same result). A result is handed over once,
    then forgotten. At most ``keep`` results wait, for bodies of at most ``keep_bytes`` in all
    (a parse takes several times its body's memory); the oldest are dropped, and the processor
    then parses as before."""

    def __init__(
        self, parser: AlertParser, keep: int = 4096, keep_bytes: int = 4 * 1024 * 1024
    ) -> None:
        self._parser = parser
        self._keep = keep
        self._keep_bytes = keep_bytes
        self._kept: dict[tuple[bytes, str], tuple[ParsedAlert | AlertRejection, int]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def parse(
        self, body: bytes, *, secret_field: str = DEFAULT_SECRET_FIELD
    ) -> ParsedAlert | AlertRejection:
        if self._kept:
            key = (hashlib.sha256(body).digest(), secret_field)
            with self._lock:
                found = self._kept.pop(key, None)
                if found is not None:
                    self._bytes -= found[1]
                    return found[0]
        return self._parser.parse(body, secret_field=secret_field)

    @property
    def waiting(self) -> int:
        """Parses kept and not handed over yet."""
        return len(self._kept)

    def keep(self, body: bytes, secret_field: str, result: ParsedAlert | AlertRejection) -> None:
        """Keep ``result``, the parse of ``body``, for the next :meth:`parse` of that body."""
        size = len(body)
        if size > self._keep_bytes:
            return
        key = (hashlib.sha256(body).digest(), secret_field)
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            while self._kept and (
                len(self._kept) >= self._keep or self._bytes + size > self._keep_bytes
            ):
                oldest = next(iter(self._kept))
                self._bytes -= self._kept.pop(oldest)[1]
            self._kept[key] = (result, size)
            self._bytes += size

    def redact(self, body: bytes, *, secret_field: str = DEFAULT_SECRET_FIELD) -> str:
        return self._parser.redact(body, secret_field=secret_field)


class AlertIntake:
    """The synchronous part of ``POST /webhooks/tradingview/{token}``."""

    def __init__(
        self,
        hooks: HookStore,
        inbox: Inbox,
        parser: AlertParser,
        clock: Clock,
        *,
        on_stored: Callable[[], None] | None = None,
        sources: Collection[ipaddress.IPv4Address | ipaddress.IPv6Address] = TRADINGVIEW_SOURCES,
        handover: ParseOnce | None = None,
        backlog: AlertBacklog | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``handover``: where the parse of each alert stored as pending is kept for the alert
        thread (the processor's parser). ``backlog``: how far behind the processor runs (the
        processor's); while it is too far behind for a hook, its alerts are refused with 503
        and not stored."""
        self._hooks = hooks
        self._backlog = backlog
        self._monotonic = monotonic
        # Digests of the alerts stored lately (when), oldest first: a resend is known without
        # a database read (see stored_recently).
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._in_flight: dict[str, int] = {}  # digests being stored now, by how many threads
        self._recent_lock = threading.Lock()
        self._inbox = inbox
        self._parser = parser
        self._clock = clock
        self._on_stored = on_stored
        self._handover = handover
        self._sources = frozenset(sources)
        # The windowed dedupe looks before it writes: one at a time per body, since its key
        # depends only on the hook and the body's digest (a lock for all made every webhook
        # without ``timenow`` wait for the one before it to commit, never sharing a commit).
        # A lock per (hook, digest) in use, with how many hold or wait for it.
        self._windows: dict[tuple[str, str], tuple[threading.Lock, list[int]]] = {}
        self._windows_mutex = threading.Lock()

    def hook(self, token: str) -> Hook | None:
        return self._hooks.by_token(token) if token else None

    def _source_ok(self, hook: Hook, remote: str | None) -> bool:
        if not hook.source_allowlist:
            return True
        try:
            return remote is not None and ipaddress.ip_address(remote) in self._sources
        except ValueError:
            return False

    def check(self, hook: Hook, body: bytes, now: datetime) -> ParsedAlert | AlertRejection:
        """Parse and authenticate a body for ``hook``: what both the webhook and explain do."""
        if len(body) > MAX_BODY_BYTES:
            return AlertRejection(
                AlertReason.TOO_LARGE,
                f"expected a body of at most {MAX_BODY_BYTES} bytes, was {len(body)}",
            )
        parsed = self._parser.parse(body, secret_field=hook.secret_field)
        if hook.secret is not None:
            given = parsed.secret
            if given is None and isinstance(parsed, AlertRejection) and not parsed.secret_read:
                # Refused before its secret could be read (malformed JSON, a leftover
                # placeholder): that is the reason to tell, not a "missing" secret.
                return parsed
            if given is None or not hmac.compare_digest(
                given.encode("utf-8"), hook.secret.encode("utf-8")
            ):
                what = "is missing" if given is None else "does not match"
                return AlertRejection(
                    AlertReason.BAD_SECRET,
                    f"the body secret (field {hook.secret_field!r}) {what}",
                )
        if isinstance(parsed, AlertRejection):
            return parsed
        if parsed.timenow is not None:
            lag = now - parsed.timenow
            if lag > hook.max_lag:
                return AlertRejection(
                    AlertReason.STALE,
                    f"the alert fired at {parsed.timenow.isoformat()}, {lag.total_seconds():.0f}"
                    f" s ago; the hook accepts at most {hook.max_lag.total_seconds():.0f} s",
                )
            if -lag > hook.max_lag:
                return AlertRejection(
                    AlertReason.STALE,
                    f"the alert's timenow {parsed.timenow.isoformat()} lies "
                    f"{-lag.total_seconds():.0f} s in the future (clock skew?)",
                )
        return parsed

    @staticmethod
    def _new_alert(
        hook: Hook,
        body: bytes,
        remote: str | None,
        now: datetime,
        digest: str,
        key: str,
        verdict: ParsedAlert | AlertRejection,
    ) -> NewAlert:
        rejected = isinstance(verdict, AlertRejection)
        return NewAlert(
            hook_id=hook.id,
            account_id=hook.account_id,
            bot_id=hook.bot_id,
            received_at=now,
            body=body,
            digest=digest,
            dedupe_key=key,
            remote_addr=remote,
            status=AlertStatus.REJECTED if rejected else AlertStatus.PENDING,
            reason=verdict.reason.value if isinstance(verdict, AlertRejection) else None,
            message=verdict.message if isinstance(verdict, AlertRejection) else "",
        )

    def stored_recently(self, body: bytes) -> bool:
        """Whether an alert with this body was stored in the last :data:`RECENT_SECONDS` (by
        this process, or found pending or new at start: :meth:`remember`), whatever its hook.
        No I/O: the webhook asks this on its event loop, to let a resend through when it
        refuses new alerts."""
        return self._seen(hashlib.sha256(body).hexdigest())

    def _seen(self, digest: str) -> bool:
        with self._recent_lock:
            seen = self._recent.get(digest)
        return seen is not None and self._monotonic() - seen <= RECENT_SECONDS

    def remember(self, digests: Iterable[str]) -> None:
        """Count these alerts as stored now (at start: the inbox's latest)."""
        now = self._monotonic()
        with self._recent_lock:
            for digest in digests:
                self._recent[digest] = now
                self._recent.move_to_end(digest)
            self._forget_old(now)

    def _forget_old(self, now: float) -> None:
        recent = self._recent
        while recent and (
            len(recent) > RECENT_MAX or now - next(iter(recent.values())) > RECENT_SECONDS
        ):
            recent.popitem(last=False)

    def _behind(
        self, hook: Hook, digest: str, now: datetime, *, timed: bool
    ) -> WebhookAnswer | None:
        """The 503 for an alert the desk is too far behind to take (for ``hook``): not stored.
        None when it may be taken, and when it is a delivery of an alert stored before (what
        the dedupe finds: a ``timed`` alert by its body, an untimed one within the hook's
        window) or being stored now by another thread: it goes on to the dedupe, which answers
        it as that alert (and counts the duplicate)."""
        if self._backlog is None or (over := self._backlog.over(hook.max_lag)) is None:
            return None
        if self._in_flight.get(digest, 0) > 1:  # another delivery of it is being stored
            return None
        # A resend: in memory first (no read for the many new alerts refused in a flood).
        recent = timedelta(seconds=RECENT_SECONDS)
        window = max(recent, hook.max_lag) if timed else hook.dedupe_window
        if (window > recent or self._seen(digest)) and self._inbox.find_recent(
            hook.id, digest, now - window
        ):
            return None
        return self._behind_answer(*over)

    def refuse_early(self, body: bytes) -> WebhookAnswer | None:
        """The 503 for an alert while the desk is further behind than its own limit (which no
        hook's exceeds), before its hook is looked up or it is parsed, unless it is a resend
        of an alert stored lately; else None. No I/O: the webhook asks this on its event
        loop, so that in a flood refusing costs little and leaves the CPU to the alert thread
        (the price: a bad secret or a malformed body is answered 503 then, not 4xx)."""
        if self._backlog is None or (over := self._backlog.over(None)) is None:
            return None
        if self.stored_recently(body):
            return None
        return self._behind_answer(*over)

    def _behind_answer(self, wait: float, limit: float) -> WebhookAnswer:
        assert self._backlog is not None
        retry = self._backlog.refuse(wait, limit)
        return WebhookAnswer(
            503,
            {
                "ok": False,
                "reason": "desk_behind",
                "message": f"not stored: the desk is about {wait:.0f} s behind on alerts, and "
                f"takes those it expects to reach within {limit:.0f} s; send it again later "
                "(TradingView resends a 5xx after 5 s, up to 3 times)",
            },
            {"Retry-After": str(retry)},
        )

    def receive(self, token: str, body: bytes, remote: str | None = None) -> WebhookAnswer:
        """Authenticate and check the alert (4xx), then store it and answer 200 (a duplicate:
        as the first), or answer 503 when the desk is too far behind to take it."""
        hook = self.hook(token)
        if hook is None:
            return WebhookAnswer(
                401, {"ok": False, "reason": "unknown_token", "message": "no webhook here"}
            )
        if not self._source_ok(hook, remote):
            return _rejected(
                AlertReason.FORBIDDEN_SOURCE.value,
                f"this hook accepts TradingView's addresses only, not {remote}",
            )
        now = self._clock.now()
        verdict = self.check(hook, body, now)
        if isinstance(verdict, AlertRejection) and verdict.reason is AlertReason.TOO_LARGE:
            return _rejected(verdict.reason.value, verdict.message)  # too large to store
        digest = hashlib.sha256(body).hexdigest()
        # In flight while it is taken: a twin delivered meanwhile is not refused (see _behind).
        with self._recent_lock:
            self._in_flight[digest] = self._in_flight.get(digest, 0) + 1
        try:
            return self._take(hook, body, remote, now, digest, verdict)
        finally:
            with self._recent_lock:
                if self._in_flight[digest] > 1:
                    self._in_flight[digest] -= 1
                else:
                    del self._in_flight[digest]

    @contextlib.contextmanager
    def _window(self, key: tuple[str, str]) -> Iterator[None]:
        """Hold the windowed dedupe's lock of ``key`` (a hook and a body's digest)."""
        with self._windows_mutex:
            lock, users = self._windows.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._windows_mutex:
                users[0] -= 1
                if users[0] == 0:
                    del self._windows[key]

    def _take(
        self,
        hook: Hook,
        body: bytes,
        remote: str | None,
        now: datetime,
        digest: str,
        verdict: ParsedAlert | AlertRejection,
    ) -> WebhookAnswer:
        """Store a checked alert (or refuse it: the desk is behind) and answer for it."""
        timed = isinstance(verdict, ParsedAlert) and verdict.timenow is not None
        if isinstance(verdict, ParsedAlert) and (
            behind := self._behind(hook, digest, now, timed=timed)
        ):
            return behind
        # Known before it is stored: a resend after an answer lost with the commit (503
        # unavailable) is let through to the dedupe. Not before: the resends of an alert
        # refused are refused again cheaply.
        self.remember((digest,))
        if timed:  # unique per trigger: the inbox's unique key dedupes it, concurrently too
            key = f"{hook.id}:{digest}"
            entry, new = self._inbox.add(
                self._new_alert(hook, body, remote, now, digest, key, verdict)
            )
        else:
            # A windowed key depends on the entries before it: look and write as one step.
            with self._window((hook.id, digest)):
                recent = self._inbox.find_recent(hook.id, digest, now - hook.dedupe_window)
                key = (
                    recent.dedupe_key
                    if recent
                    else _window_key(hook.id, digest, now, hook.dedupe_window)
                )
                alert = self._new_alert(hook, body, remote, now, digest, key, verdict)
                entry, new = self._inbox.add(alert)
        if new and entry.status is AlertStatus.PENDING:
            if self._handover is not None and isinstance(verdict, ParsedAlert):
                self._handover.keep(body, hook.secret_field, verdict)
            if self._backlog is not None:
                self._backlog.stored(entry.id)
            if self._on_stored is not None:
                self._on_stored()
        return _answer(entry, new)


def _answer(entry: InboxEntry, new: bool) -> WebhookAnswer:
    """The webhook's answer for a stored alert: 200 (``duplicate`` unless ``new``), or, for an
    alert rejected on arrival (never processed: no orders in its fate), its rejection; a resend
    of an alert that was accepted and failed later is a 200 duplicate."""
    rejected_on_arrival = entry.status is AlertStatus.REJECTED and "orders" not in entry.fate
    if rejected_on_arrival and entry.reason is not None:
        answer = _rejected(entry.reason, entry.message)
        answer.body.update(alert_id=entry.id, duplicate=not new)
        return answer
    return WebhookAnswer(
        200,
        {"ok": True, "alert_id": entry.id, "duplicate": not new, "status": entry.status.value},
    )


class AlertProcessor:
    """Turns pending inbox entries into engine commands and records their fate."""

    def __init__(
        self,
        inbox: Inbox,
        hooks: HookStore,
        parser: AlertParser,
        bots: BotService,
        engine: Engine,
        planner: OrderPlanner,
        clock: Clock,
        backlog: AlertBacklog | None = None,
        batch_seconds: float | None = None,
    ) -> None:
        """``backlog``: told of every batch of fates recorded (the webhook refuses alerts
        while the processor is too far behind). ``batch_seconds``: how long an engine batch
        of alerts may run (default :data:`ENGINE_BATCH_SECONDS`)."""
        self._inbox = inbox
        self._backlog = backlog
        self._batch_seconds = batch_seconds
        self._hooks = hooks
        self._parser = parser
        self._bots = bots
        self._engine = engine
        self._planner = planner
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[int, int] = {}
        # A hook's secret field never changes (a rotation makes a new hook): read it once.
        self._hook_cache: dict[str, Hook | None] = {}
        self.listeners: list[Callable[[InboxEntry], None]] = []

    @property
    def batch_seconds(self) -> float:
        """How long an engine batch of alerts may run before it commits."""
        chosen = self._batch_seconds
        return ENGINE_BATCH_SECONDS if chosen is None else chosen

    def drain(self, limit: int = 100) -> int:
        """Process pending alerts, oldest first; returns how many were settled.

        Fates are recorded a batch at a time: one ``settle_many`` (one commit) for the alerts
        processed in a row, then the listeners hear of the settled entries in arrival order.
        A batch is safe to lose (a crash, a failed settle): its alerts stay pending, are
        processed again, and each of their commands is answered from the engine's journal by
        its idempotency key (the same outcomes, no second order). An alert whose replay would
        be decided afresh instead (nothing to do, a cancel or close, a refusal that depends on
        the position) could decide otherwise once the alerts after it have traded, so it closes
        its batch: its fate is recorded before the next alert acts.

        Their orders are stored a batch at a time as well (an engine batch; see the module's
        docstring). An alert whose processing fails (the database busy, a venue error) undoes
        its engine batch; the alerts before it in that batch are processed again one at a time
        and settled, it stays pending and the drain stops there, so arrival order holds. The
        next drain tries it again, which is safe because every command it sends carries its
        idempotency key. Only after :data:`MAX_ATTEMPTS` failures is it
        settled ``REJECTED`` (``internal_error``), listing the orders the engine recorded for
        it, so one poisoned alert cannot hold the inbox forever.

        If recording a batch fails, none of it is settled and the drain stops: its alerts stay
        pending for the next drain, as above.
        """
        with self._lock:
            entries = self._inbox.pending(limit)
            done = start = 0
            while start < len(entries):
                run, settlements, failed = self._batched(entries, start)
                if settlements is None and failed:  # undone by the last one's failure
                    settled, stop = self._one_by_one(run[:-1])
                    if not stop:
                        settled, stop = self._after_failure(run[-1], settled)
                elif settlements is None:  # undone as a whole (its commit): one by one
                    settled, stop = self._one_by_one(run)
                else:
                    stop = not self._settle(settlements)
                    settled = 0 if stop else len(settlements)
                done += settled
                if stop:
                    break
                start += len(run)
            return done

    def _account(self, entry: InboxEntry) -> AccountId | None:
        bot = self._bots.get(entry.bot_id)
        return bot.account_id if bot is not None else None

    def _batched(
        self, entries: list[InboxEntry], start: int
    ) -> tuple[list[InboxEntry], list[Settlement] | None, bool]:
        """Process alerts from ``entries[start]`` on in one engine batch (one transaction for
        their orders, fills and ledger entries; see :meth:`Engine.batch`): those of one
        account in a row, at most :data:`ENGINE_BATCH`, up to and including the first whose
        replay would be planned afresh (its fate must be recorded before the next alert
        acts). Returns the alerts taken, their fates (None when the batch was undone: nothing
        of it is stored) and whether the last alert taken failed as it was processed (else
        the batch failed as a whole, at its commit, and no alert is to blame)."""
        account = self._account(entries[start])
        run: list[InboxEntry] = []
        settlements: list[Settlement] = []
        processing = False
        try:
            with ExitStack() as stack:
                if account is not None:
                    stack.enter_context(self._engine.batch(account))
                began, limit = time.monotonic(), self.batch_seconds
                for entry in entries[start : start + ENGINE_BATCH]:
                    if run and (
                        self._account(entry) != account or time.monotonic() - began >= limit
                    ):
                        break
                    run.append(entry)
                    processing = True
                    settlement, replayable = self._process(entry)
                    processing = False
                    settlements.append(settlement)
                    if not replayable:
                        break
        except Exception:
            if processing:
                _log.exception(
                    "alert %s could not be processed; the %d alerts of its batch were undone "
                    "(the ones before it are processed again, one at a time)",
                    run[-1].id,
                    len(run),
                )
            else:
                run = run or [entries[start]]
                _log.exception(
                    "a batch of %d alerts could not be stored; they are processed again, one "
                    "at a time",
                    len(run),
                )
            return run, None, processing
        return run, settlements, False

    def _one_by_one(self, entries: list[InboxEntry]) -> tuple[int, bool]:
        """Process ``entries`` one at a time with the failure rules of :meth:`drain`: how many
        were settled, and whether the drain must stop (an alert failed, or a settle did)."""
        done = 0
        batch: list[Settlement] = []
        for entry in entries:
            try:
                settlement, replayable = self._process(entry)
            except Exception:
                _log.exception("alert %s could not be processed", entry.id)
                given_up = self._count_failure(entry)
                if given_up is None:
                    return (done + len(batch) if self._settle(batch) else done), True
                settlement, replayable = given_up, False
            batch.append(settlement)
            if not replayable:
                if not self._settle(batch):
                    return done, True
                done += len(batch)
                batch = []
        if not self._settle(batch):
            return done, True
        return done + len(batch), False

    def _count_failure(self, entry: InboxEntry) -> Settlement | None:
        """One more failed attempt at ``entry``: None while it has attempts left (it stays
        pending), else the fate it is given up with."""
        failures = self._failures.get(entry.id, 0) + 1
        self._failures[entry.id] = failures
        _log.warning("alert %s: attempt %d of %d failed", entry.id, failures, MAX_ATTEMPTS)
        return self._given_up(entry, failures) if failures >= MAX_ATTEMPTS else None

    def _after_failure(self, entry: InboxEntry, settled: int) -> tuple[int, bool]:
        """The alert an undone batch failed on (already logged): counted as a failed attempt;
        given up and settled after the last one. The drain stops, unless it was given up."""
        given_up = self._count_failure(entry)
        if given_up is None:
            return settled, True
        return (settled + 1, False) if self._settle([given_up]) else (settled, True)

    def _settle(self, batch: list[Settlement]) -> bool:
        """Record the batch's fates (one transaction) and tell the listeners; False if the
        inbox refused it (logged; nothing of it is settled)."""
        if not batch:
            return True
        try:
            settled = self._inbox.settle_many(batch, self._clock.now())
        except Exception:
            recordable = _recordable(batch)
            if recordable != batch:  # a fate the inbox cannot take must not hold the others
                return self._settle(recordable)
            _log.exception(
                "the fates of %d alerts could not be recorded: they stay pending and are "
                "processed again (their orders are answered from the journal, not sent twice)",
                len(batch),
            )
            return False
        if self._backlog is not None:
            self._backlog.settled(max(s.entry_id for s in batch), len(batch))
        for entry in settled:
            self._failures.pop(entry.id, None)
            for listener in self.listeners:
                try:
                    listener(entry)
                except Exception:
                    _log.exception("alert listener %r failed", listener)
        return True

    def _given_up(self, entry: InboxEntry, failures: int) -> Settlement:
        """The fate of an alert that failed :data:`MAX_ATTEMPTS` times: ``internal_error``,
        with the orders it did send before failing (what the engine recorded for its keys)."""
        message = f"processing failed {failures} times; see the desk's log"
        try:
            orders = self._recorded(entry)
        except Exception:
            _log.exception("alert %s: the orders it sent could not be listed", entry.id)
            orders = []
            message += " (the orders it sent, if any, could not be listed)"
        return Settlement(
            entry.id, AlertStatus.REJECTED, "internal_error", message, {"orders": orders}
        )

    def _recorded(self, entry: InboxEntry) -> list[dict[str, object]]:
        """A row for every command the engine journaled under the alert's keys (as ``_execute``
        replays it): one per intent and bot, or one per child of a sliced order."""
        hook = self._hook(entry.hook_id)
        secret_field = hook.secret_field if hook is not None else "secret"
        parsed = self._parser.parse(entry.body, secret_field=secret_field)
        if isinstance(parsed, AlertRejection):
            return []
        rows: list[dict[str, object]] = []
        for n, intent in enumerate(parsed.intents):
            try:
                bots = self.targets(entry.bot_id, intent)
            except MappingError:
                continue  # it sent nothing
            for bot in bots:
                key = _leg_key(entry, n, bot)
                rows.extend(self._replaced(bot, intent, key))
                found = self._journaled(bot, key)
                action, symbol = intent.action.value, intent.symbol
                rows.extend(_row(bot.id.value, action, symbol, None, o) for o in found)
        return rows

    def _tried(self, entry: InboxEntry, legs: list[tuple[int, Intent, Bot]]) -> set[str]:
        """The keys of the legs an earlier try of the alert tried: noted as tried and not as
        failed, or that left a trace under their key (a command, a sliced order's plan, the
        orders a target replaces)."""
        tried = set()
        for n, _, bot in legs:
            key = _leg_key(entry, n, bot)
            account = bot.account_id
            noted = self._engine.noted(account, _tried_key(key)) is not None
            if (noted and self._engine.noted(account, _failed_key(key)) is None) or (
                self._journaled(bot, key)
                or any(
                    self._engine.noted(account, k) is not None
                    for k in (sliced_key(key), replaced_key(key))
                )
            ):
                tried.add(key)
        return tried

    def _replaced(self, bot: Bot, intent: Intent, key: str) -> list[dict[str, object]]:
        """Rows for the cancels a target position sent under ``key`` on an earlier try."""
        found = self._planner.replaced(bot, intent, key)
        return [_row(plan.bot, plan.action, plan.symbol, plan, outcome) for plan, outcome in found]

    def _journaled(self, bot: Bot, key: str) -> list[Outcome]:
        """The outcome the engine recorded under ``key``, else those of its slices (keyed
        ``key:slice1``, ``key:slice2``... from the first on, without gaps)."""
        first = self._engine.recorded(bot.account_id, key)
        if first is not None:
            return [first]
        found: list[Outcome] = []
        while (child := child_key(key, len(found) + 1)) is not None:
            sliced = self._engine.recorded(bot.account_id, child)
            if sliced is None:
                break
            found.append(sliced)
        return found

    def _nothing_left(self, bot: Bot, key: str, outcomes: list[Outcome]) -> bool:
        """Whether a sliced order's first try left nothing to send: every planned child has
        its answer, or one was refused (the children stop there). A plan that cannot be read
        leaves it open (the fate then says the rest was not sent)."""
        if not all(outcome.ok for outcome in outcomes):
            return True
        noted = self._engine.noted(bot.account_id, sliced_key(key))
        if noted is None:
            return False
        try:
            _, children = read_plan(key, noted)
        except UnreadableSliceError:
            return False
        return len(outcomes) >= len(children)

    def targets(self, hook_bot: BotId, intent: Intent) -> list[Bot]:
        """The bots an intent addresses: its ``bots`` (of the hook bot's account) or the hook's."""
        own = self._bots.get(hook_bot)
        if own is None:
            raise MappingError(AlertReason.UNKNOWN_BOT, f"the hook's bot {hook_bot} is gone")
        if not intent.bots:
            return [own]
        found = []
        for name in intent.bots:
            try:
                bot = self._bots.get(BotId(name))
            except ValueError:
                bot = None
            if bot is None or bot.account_id != own.account_id:
                raise MappingError(
                    AlertReason.UNKNOWN_BOT,
                    f"no bot {name!r} in account {own.account_id} (the hook's account)",
                )
            found.append(bot)
        return found

    def _hook(self, hook_id: str) -> Hook | None:
        """The entry's hook (its secret field and max lag never change: a rotated token is a
        new hook), looked up once."""
        if hook_id not in self._hook_cache:
            if len(self._hook_cache) >= 4096:
                self._hook_cache.clear()
            self._hook_cache[hook_id] = self._hooks.get(hook_id)
        return self._hook_cache[hook_id]

    def _process(self, entry: InboxEntry) -> tuple[Settlement, bool]:
        """The alert's commands, sent (or replayed), and the fate to record for it; True if
        processing it again would only replay its journaled commands (see ``drain``)."""
        hook = self._hook(entry.hook_id)
        secret_field = hook.secret_field if hook is not None else "secret"
        max_lag = hook.max_lag if hook is not None else DEFAULT_MAX_LAG
        parsed = self._parser.parse(entry.body, secret_field=secret_field)
        if isinstance(parsed, AlertRejection):  # accepted on arrival: only a parser change
            fate: dict[str, object] = {"orders": []}
            return Settlement(
                entry.id, AlertStatus.REJECTED, parsed.reason.value, parsed.message, fate
            ), True
        rows: list[dict[str, object]] = []
        replayable = True
        # How old the signal is counts from when it fired (its timenow), not when it came in:
        # an alert 55 s old on arrival may not trade 55 s later under a max lag of 60 s.
        fired = entry.received_at
        if parsed.timenow is not None and parsed.timenow < fired:
            fired = parsed.timenow
        # Judged once for the whole alert: the intents of a pair trade go, or none of them.
        # Each leg of an alert of several (an intent for a bot) is noted as tried before it
        # acts (and as failed if it raised); a retry past the max lag of an alert an earlier
        # try began (the venue link dropped between the legs of a pair) sends the legs it had
        # not tried, so that the pair is not left one-legged. A leg it had tried, unless it
        # failed without a trace in the journal, is judged stale: answered from the journal as
        # far as it went (a sliced order's rest is not sent on an old signal).
        steps: list[tuple[int, Intent, Bot] | dict[str, object]] = []
        for n, intent in enumerate(parsed.intents):
            try:
                steps.extend((n, intent, bot) for bot in self.targets(entry.bot_id, intent))
            except MappingError as exc:  # the bots, which no alert changes
                steps.append(_failed(entry.bot_id.value, intent, exc))
        legs = [step for step in steps if isinstance(step, tuple)]
        several = len(legs) > 1
        late = self._clock.now() - fired > max_lag
        tried = self._tried(entry, legs) if late and several else set()
        for step in steps:
            if not isinstance(step, tuple):
                rows.append(step)
                continue
            n, intent, bot = step
            key = _leg_key(entry, n, bot)
            stale = late and (not tried or key in tried)
            noting = several and not stale
            if noting:  # stored with the leg's first command (a batch's undo undoes both)
                self._engine.note(bot.account_id, _tried_key(key), "AlertLegTried", {})
            try:
                done, journaled = self._execute(entry, n, bot, intent, max_lag, fired, stale)
            except Exception:
                if noting:  # it failed: a retry tries it again unless it left a trace
                    with contextlib.suppress(Exception):  # (then it stays tried: not sent late)
                        self._engine.note(bot.account_id, _failed_key(key), "AlertLegFailed", {})
                raise
            rows.extend(done)
            replayable = replayable and journaled
        status, reason, message = _verdict(rows)
        return Settlement(entry.id, status, reason, message, {"orders": rows}), replayable

    def _execute(
        self,
        entry: InboxEntry,
        n: int,
        bot: Bot,
        intent: Intent,
        max_lag: timedelta,
        fired: datetime,
        stale: bool,
    ) -> tuple[list[dict[str, object]], bool]:
        """The rows of one intent for one bot, and whether a second run would be answered by
        the journal under ``key`` alone (one command sent under it, or a stale refusal, which
        time cannot undo) rather than planned again in whatever state it then finds."""
        key = _leg_key(entry, n, bot)
        # The keys of a sliced order's plan and of what a target replaces, which planning
        # asks next, in the same look-up.
        also = (sliced_key(key), replaced_key(key))
        first = self._engine.recorded(bot.account_id, key, also=also)
        # The cancels a target position sent on an earlier try are listed with its fate.
        earlier = self._replaced(bot, intent, key)
        if first is not None:  # processed before a crash: the engine's answer stands
            row = _row(bot.id.value, intent.action.value, intent.symbol, None, first)
            return [*earlier, row], True
        if stale:  # the desk was stopped or behind: never trade on an old signal
            now = self._clock.now()
            waited, age = now - entry.received_at, now - fired
            # A first try may have sent some children of a sliced order: they are listed.
            outcomes = self._journaled(bot, key)
            sent = [
                _row(bot.id.value, intent.action.value, intent.symbol, None, outcome)
                for outcome in outcomes
            ]
            sent = [*earlier, *sent]
            if outcomes and self._nothing_left(bot, key, outcomes):
                return sent, True  # the first try sent it all: its answers are the fate
            what = "the rest of its sliced order was not sent" if outcomes else "not executed"
            fired_note = (
                f", {age.total_seconds():.0f} s after it fired" if fired < entry.received_at else ""
            )
            refusal = MappingError(
                AlertReason.STALE,
                f"{what}: it waited {waited.total_seconds():.0f} s in the inbox (the desk "
                f"was stopped or behind){fired_note}; the hook acts on alerts at most "
                f"{max_lag.total_seconds():.0f} s old",
            )
            return [*sent, _failed(bot.id.value, intent, refusal)], True
        try:
            plans = self._planner.plan(bot, intent, key)
        except MappingError as exc:
            return [*earlier, _failed(bot.id.value, intent, exc)], False
        cancels = {
            p.command.client_order_id.value if isinstance(p.command, CancelOrder) else p.order
            for p in plans
            if isinstance(p.command, CancelOrder) or p.order is not None
        }
        rows = [r for r in earlier if r["client_order_id"] not in cancels]
        for plan in plans:
            if plan.command is None:
                rows.append(_row(plan.bot, plan.action, plan.symbol, plan, None))
                continue
            outcome = self._engine.handle(plan.command)
            rows.append(_row(plan.bot, plan.action, plan.symbol, plan, outcome))
        journaled = [p.command.idempotency_key for p in plans if p.command is not None]
        return rows, len(plans) == 1 and journaled == [key]

    def explain(self, hook_bot: BotId, parsed: ParsedAlert | AlertRejection) -> Explanation:
        """What the alert would do, without doing it."""
        if isinstance(parsed, AlertRejection):
            return Explanation(False, parsed.reason.value, parsed.message)
        orders: list[dict[str, object]] = []
        try:
            for intent in parsed.intents:
                for bot in self.targets(hook_bot, intent):
                    orders.append(self._planner.describe(bot, intent).explain())
        except MappingError as exc:
            return Explanation(False, exc.reason.value, exc.message)
        count = len(orders)
        return Explanation(True, None, f"{count} order{'s' if count != 1 else ''}", orders)


def _recordable(batch: list[Settlement]) -> list[Settlement]:
    """``batch`` with each fate the inbox would refuse (a bug: a value that is not JSON)
    replaced by an ``internal_error`` one, so one bad fate cannot hold the inbox for ever. The
    replacement still names the orders the alert sent (by client order id), which stand."""
    out = []
    for settlement in batch:
        try:
            fate_json(settlement.fate)
            require_final(settlement.entry_id, settlement.status)
        except ValueError as exc:
            _log.error("alert %s: its fate cannot be recorded: %s", settlement.entry_id, exc)
            rows = settlement.fate.get("orders")
            sent = [
                {"client_order_id": row["client_order_id"], "ok": row.get("ok") is True}
                for row in (rows if isinstance(rows, list) else [])
                if isinstance(row, Mapping) and isinstance(row.get("client_order_id"), str)
            ]
            out.append(
                Settlement(
                    settlement.entry_id,
                    AlertStatus.REJECTED,
                    "internal_error",
                    "its fate could not be recorded; see the desk's log (the orders it sent, "
                    "by client order id, are listed)",
                    {"orders": sent},
                )
            )
        else:
            out.append(settlement)
    return out


def _row(
    bot: str,
    action: str,
    symbol: str | None,
    plan: PlannedOrder | None,
    outcome: Outcome | None,
) -> dict[str, object]:
    row: dict[str, object] = (
        plan.explain()
        if plan is not None
        else {
            "bot": bot,
            "action": action,
            "symbol": symbol,
        }
    )
    if outcome is None:
        withheld = plan.withheld if plan else None
        message = plan.note if plan else ""
        coid = plan.order if plan else None
        row.update(ok=withheld is None, code=withheld, message=message, client_order_id=coid)
    else:
        row.update(
            ok=outcome.ok,
            code=outcome.code,
            message=outcome.message,
            client_order_id=outcome.client_order_id,
            status=outcome.status,
        )
    return row


def _failed(bot: str, intent: Intent, exc: MappingError) -> dict[str, object]:
    return {
        "bot": bot,
        "action": intent.action.value,
        "symbol": intent.symbol,
        "ok": False,
        "code": exc.reason.value,
        "message": exc.message,
        "client_order_id": None,
        "mapped": False,
    }


def _verdict(rows: Iterable[dict[str, object]]) -> tuple[AlertStatus, str | None, str]:
    rows = list(rows)
    failed = [r for r in rows if not r["ok"]]
    if not failed:
        return AlertStatus.EXECUTED, None, f"{len(rows)} order{'s' if len(rows) != 1 else ''}"
    first = failed[0]
    reason = str(first["code"])
    message = str(first["message"])
    if all(r.get("mapped") is False for r in rows):
        return AlertStatus.REJECTED, reason, message
    return AlertStatus.DENIED, reason, message


def _leg_key(entry: InboxEntry, n: int, bot: Bot) -> str:
    """The idempotency key of an alert's ``n``-th intent for ``bot`` (one leg)."""
    return f"alert:{entry.id}:{n}:{bot.id}"


def _tried_key(key: str) -> str:
    """Where a leg of an alert of several is noted as tried (see ``AlertProcessor._process``)."""
    return f"{key}:tried"


def _failed_key(key: str) -> str:
    """Where a leg of an alert of several is noted as failed (see ``AlertProcessor._process``)."""
    return f"{key}:failed"


def _window_key(hook_id: str, digest: str, now: datetime, window: timedelta) -> str:
    seconds = max(int(window.total_seconds()), 1)
    return f"{hook_id}:{digest}:{int(now.timestamp()) // seconds}"
