"""Webhook hooks of bots: create, rotate and revoke the URL tokens TradingView posts to."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from algodesk.domain.bots import Bot
from algodesk.domain.identifiers import BotId
from algodesk.ports.clock import Clock
from algodesk.ports.webhooks import Hook, HookStore

__all__ = ["HookCache", "HookService", "webhook_path"]

_SECRET_FIELD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def webhook_path(hook: Hook) -> str:
    return f"/webhooks/tradingview/{hook.token}"


class HookCache:
    """A :class:`HookStore` that remembers the active hooks it found by token, so a webhook is
    answered without a database read for its token.

    Every change made through it (a new hook, a revocation: rotate and delete do both) empties
    the cache before it returns, so in this process a revoked token is refused from the next
    webhook on. A change made by another process is seen within ``ttl``: a cached hook is read
    again once it is that old. Unknown tokens are never cached (each is looked up; guessing is
    limited by the per-address rate limit)."""

    def __init__(
        self,
        store: HookStore,
        ttl: timedelta = timedelta(seconds=2),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl.total_seconds()
        self._monotonic = monotonic
        self._by_token: dict[str, tuple[float, Hook]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by each change: a lookup begun before it is not kept

    def add(self, hook: Hook) -> None:
        try:
            self._store.add(hook)
        finally:
            self._forget()

    def by_token(self, token: str) -> Hook | None:
        now = self._monotonic()
        found = self._by_token.get(token)
        if found is not None and now - found[0] < self._ttl:
            return found[1]
        with self._lock:
            generation = self._generation
        hook = self._store.by_token(token)
        with self._lock:
            if hook is None or generation != self._generation:
                self._by_token.pop(token, None)
            else:
                self._by_token[token] = (now, hook)
        return hook

    def get(self, hook_id: str) -> Hook | None:
        return self._store.get(hook_id)

    def for_bot(self, bot_id: BotId) -> list[Hook]:
        return self._store.for_bot(bot_id)

    def revoke(self, hook_id: str, at: datetime) -> None:
        try:
            self._store.revoke(hook_id, at)
        finally:
            self._forget()

    def _forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._by_token.clear()


class HookService:
    def __init__(self, store: HookStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def active(self, bot_id: BotId) -> Hook | None:
        """The bot's newest active hook."""
        live = [h for h in self._store.for_bot(bot_id) if h.active]
        return live[-1] if live else None

    def create(
        self,
        bot: Bot,
        *,
        secret: str | None = None,
        secret_field: str = "secret",  # noqa: S107 - a field name, not a secret
        max_lag: timedelta = timedelta(seconds=60),
        dedupe_window: timedelta = timedelta(seconds=60),
        source_allowlist: bool = False,
    ) -> Hook:
        """A new hook with an unguessable token (256 random bits)."""
        if not secret_field or not set(secret_field) <= _SECRET_FIELD_CHARS:
            raise ValueError(
                f"secret field: expected letters, digits, '_' or '-', was {secret_field!r}"
            )
        if secret is not None and len(secret) < 8:
            raise ValueError("a body secret must have at least 8 characters")
        if dedupe_window < timedelta(seconds=30):
            raise ValueError(
                f"dedupe window: expected at least 30 s (TradingView resends after 5 s, up to "
                f"3 times), was {dedupe_window.total_seconds():g} s"
            )
        if max_lag <= timedelta(0):
            raise ValueError(f"max lag: expected > 0 s, was {max_lag.total_seconds():g} s")
        hook = Hook(
            id=f"wh_{secrets.token_hex(6)}",
            account_id=bot.account_id,
            bot_id=bot.id,
            token=secrets.token_urlsafe(32),
            created_at=self._clock.now(),
            secret=secret,
            secret_field=secret_field,
            max_lag=max_lag,
            dedupe_window=dedupe_window,
            source_allowlist=source_allowlist,
        )
        self._store.add(hook)
        return hook

    def rotate(self, hook_id: str) -> Hook:
        """A new token for the hook's bot, with the same settings; the old token stops working."""
        old = self._store.get(hook_id)
        if old is None or not old.active:
            raise KeyError(f"no active hook {hook_id}")
        new = Hook(
            id=f"wh_{secrets.token_hex(6)}",
            account_id=old.account_id,
            bot_id=old.bot_id,
            token=secrets.token_urlsafe(32),
            created_at=self._clock.now(),
            secret=old.secret,
            secret_field=old.secret_field,
            max_lag=old.max_lag,
            dedupe_window=old.dedupe_window,
            source_allowlist=old.source_allowlist,
        )
        self._store.add(new)
        self._store.revoke(old.id, self._clock.now())
        return new

    def revoke_all(self, bot_id: BotId) -> int:
        """Revoke every active hook of the bot (it was deleted); returns how many."""
        live = [h for h in self._store.for_bot(bot_id) if h.active]
        for hook in live:
            self._store.revoke(hook.id, self._clock.now())
        return len(live)
