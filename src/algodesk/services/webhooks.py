"""Webhook hooks of bots: create, rotate and revoke the URL tokens TradingView posts to."""

from __future__ import annotations

import secrets
from datetime import timedelta

from algodesk.domain.bots import Bot
from algodesk.domain.identifiers import BotId
from algodesk.ports.clock import Clock
from algodesk.ports.webhooks import Hook, HookStore

__all__ = ["HookService", "webhook_path"]

_SECRET_FIELD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def webhook_path(hook: Hook) -> str:
    return f"/webhooks/tradingview/{hook.token}"


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
