"""TradingView alerts: the webhook's fast answer, the inbox, and the processing after it.

:class:`AlertIntake` is all a webhook request does: find the hook by its URL token, check the
source and the size, parse (cheap and pure), check the body secret and the alert's age, and
store the raw body in the inbox, committed, before answering. Resends and duplicates find the
first entry by their dedupe key and are answered as it was, without a second entry.

:class:`AlertProcessor` drains the inbox in arrival order: each pending alert becomes commands
for its bots (:class:`~algodesk.services.alert_orders.OrderPlanner`), the engine applies them,
and the alert's fate is recorded. Every command carries an idempotency key derived from the
inbox entry, so an alert processed again after a crash is never executed twice: the engine
returns the first outcome of a known key.

Dedupe key: (hook, SHA-256 of the body) when the alert carries its firing time (``timenow``),
which makes every trigger's body unique; without it, a repeat counts as a duplicate only within
the hook's window (default 60 s), since the same words may be a new signal later.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from algodesk.domain.bots import Bot
from algodesk.domain.identifiers import BotId
from algodesk.domain.signals import AlertReason, AlertRejection, Intent, ParsedAlert
from algodesk.ports.clock import Clock
from algodesk.ports.inbox import AlertStatus, Inbox, InboxEntry, NewAlert
from algodesk.ports.signals import AlertParser
from algodesk.ports.webhooks import DEFAULT_MAX_LAG, Hook, HookStore
from algodesk.services.alert_orders import MappingError, OrderPlanner, PlannedOrder
from algodesk.services.bots import BotService
from algodesk.services.engine import Engine
from algodesk.services.outcomes import Outcome

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_BODY_BYTES",
    "TRADINGVIEW_SOURCES",
    "AlertIntake",
    "AlertProcessor",
    "Explanation",
    "WebhookAnswer",
]

_log = logging.getLogger("algodesk.alerts")

MAX_BODY_BYTES = 64 * 1024
#: Attempts at processing one alert before it is settled as an internal error.
MAX_ATTEMPTS = 5
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
    """The HTTP answer: 2xx for stored alerts (new or duplicate), 4xx with a reason."""

    status: int
    body: dict[str, object]


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
    ) -> None:
        self._hooks = hooks
        self._inbox = inbox
        self._parser = parser
        self._clock = clock
        self._on_stored = on_stored
        self._sources = frozenset(sources)
        self._lock = threading.Lock()  # the windowed dedupe looks before it writes (only it)

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
            given = parsed.secret if isinstance(parsed, ParsedAlert) else None
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

    def receive(self, token: str, body: bytes, remote: str | None = None) -> WebhookAnswer:
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
        timed = isinstance(verdict, ParsedAlert) and verdict.timenow is not None
        if timed:  # unique per trigger: the inbox's unique key dedupes it, concurrently too
            key = f"{hook.id}:{digest}"
            entry, new = self._inbox.add(
                self._new_alert(hook, body, remote, now, digest, key, verdict)
            )
        else:
            # A windowed key depends on the entries before it: look and write as one step.
            with self._lock:
                recent = self._inbox.find_recent(hook.id, digest, now - hook.dedupe_window)
                key = (
                    recent.dedupe_key
                    if recent
                    else _window_key(hook.id, digest, now, hook.dedupe_window)
                )
                alert = self._new_alert(hook, body, remote, now, digest, key, verdict)
                entry, new = self._inbox.add(alert)
        # Rejected on arrival (never processed: no orders in its fate) is answered as it was;
        # a resend of an alert that was accepted and failed later is a 200 duplicate.
        rejected_on_arrival = entry.status is AlertStatus.REJECTED and "orders" not in entry.fate
        if rejected_on_arrival and entry.reason is not None:
            answer = _rejected(entry.reason, entry.message)
            answer.body.update(alert_id=entry.id, duplicate=not new)
            return answer
        if new and self._on_stored is not None:
            self._on_stored()
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
    ) -> None:
        self._inbox = inbox
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

    def drain(self, limit: int = 100) -> int:
        """Process pending alerts, oldest first; returns how many were settled.

        An alert whose processing fails (the database busy, a venue error) stays pending and
        the drain stops there, so arrival order holds; the next drain tries it again, which is
        safe because every command it sends carries its idempotency key. Only after
        :data:`MAX_ATTEMPTS` failures is it settled ``REJECTED`` (``internal_error``), so one
        poisoned alert cannot hold the inbox forever.
        """
        with self._lock:
            done = 0
            for entry in self._inbox.pending(limit):
                try:
                    self._process(entry)
                except Exception:
                    failures = self._failures.get(entry.id, 0) + 1
                    self._failures[entry.id] = failures
                    _log.exception(
                        "alert %s could not be processed (attempt %d of %d)",
                        entry.id,
                        failures,
                        MAX_ATTEMPTS,
                    )
                    if failures < MAX_ATTEMPTS:
                        return done
                    message = f"processing failed {failures} times; see the desk's log"
                    fate: dict[str, object] = {"orders": []}
                    self._settle(entry, AlertStatus.REJECTED, "internal_error", message, fate)
                self._failures.pop(entry.id, None)
                done += 1
            return done

    def _settle(
        self,
        entry: InboxEntry,
        status: AlertStatus,
        reason: str | None,
        message: str,
        fate: dict[str, object],
    ) -> None:
        self._inbox.settle(entry.id, status, reason, message, fate, self._clock.now())
        settled = self._inbox.get(entry.id)
        for listener in self.listeners:
            try:
                listener(settled or entry)
            except Exception:
                _log.exception("alert listener %r failed", listener)

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

    def _process(self, entry: InboxEntry) -> None:
        hook = self._hook(entry.hook_id)
        secret_field = hook.secret_field if hook is not None else "secret"
        max_lag = hook.max_lag if hook is not None else DEFAULT_MAX_LAG
        parsed = self._parser.parse(entry.body, secret_field=secret_field)
        if isinstance(parsed, AlertRejection):  # accepted on arrival: only a parser change
            self._settle(
                entry, AlertStatus.REJECTED, parsed.reason.value, parsed.message, {"orders": []}
            )
            return
        rows: list[dict[str, object]] = []
        for n, intent in enumerate(parsed.intents):
            try:
                bots = self.targets(entry.bot_id, intent)
            except MappingError as exc:
                rows.append(_failed(entry.bot_id.value, intent, exc))
                continue
            for bot in bots:
                rows.extend(self._execute(entry, n, bot, intent, max_lag))
        status, reason, message = _verdict(rows)
        self._settle(entry, status, reason, message, {"orders": rows})

    def _execute(
        self, entry: InboxEntry, n: int, bot: Bot, intent: Intent, max_lag: timedelta
    ) -> list[dict[str, object]]:
        key = f"alert:{entry.id}:{n}:{bot.id}"
        first = self._engine.recorded(bot.account_id, key)
        if first is not None:  # processed before a crash: the engine's answer stands
            return [_row(bot.id.value, intent.action.value, intent.symbol, None, first)]
        waited = self._clock.now() - entry.received_at
        if waited > max_lag:  # the desk was stopped or behind: never trade on an old signal
            stale = MappingError(
                AlertReason.STALE,
                f"not executed: it waited {waited.total_seconds():.0f} s in the inbox (the desk "
                f"was stopped or behind); the hook acts on alerts at most "
                f"{max_lag.total_seconds():.0f} s old",
            )
            return [_failed(bot.id.value, intent, stale)]
        try:
            plans = self._planner.plan(bot, intent, key)
        except MappingError as exc:
            return [_failed(bot.id.value, intent, exc)]
        rows = []
        for plan in plans:
            if plan.command is None:
                rows.append(_row(plan.bot, plan.action, plan.symbol, plan, None))
                continue
            outcome = self._engine.handle(plan.command)
            rows.append(_row(plan.bot, plan.action, plan.symbol, plan, outcome))
        return rows

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
        row.update(ok=True, code=None, message=plan.note if plan else "", client_order_id=None)
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


def _window_key(hook_id: str, digest: str, now: datetime, window: timedelta) -> str:
    seconds = max(int(window.total_seconds()), 1)
    return f"{hook_id}:{digest}:{int(now.timestamp()) // seconds}"
