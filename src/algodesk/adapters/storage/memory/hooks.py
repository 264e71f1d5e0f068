"""Webhook hooks in memory (tests, the demo desk): the SQL store's semantics, without a cipher
(nothing leaves the process)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

from algodesk.domain.identifiers import BotId
from algodesk.ports.webhooks import Hook

__all__ = ["InMemoryHookStore"]


def _utc(hook_id: str, name: str, value: datetime) -> datetime:
    """``value`` in UTC, as the SQL store returns it, or a ValueError if it is naive."""
    if value.tzinfo is None:
        raise ValueError(f"hook {hook_id}: {name}: expected a timezone-aware datetime")
    return value.astimezone(UTC)


class InMemoryHookStore:
    """:class:`~algodesk.ports.webhooks.HookStore` in dicts, safe to share between threads.

    ``add`` raises :class:`ValueError` when the id or the token is taken; ``revoke`` raises
    :class:`KeyError` for an unknown id and keeps the first revocation time of a revoked hook.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[str, Hook] = {}  # by id, in insertion order
        self._by_token: dict[str, str] = {}  # token -> id

    def add(self, hook: Hook) -> None:
        hook = dataclasses.replace(
            hook,
            created_at=_utc(hook.id, "created_at", hook.created_at),
            revoked_at=_utc(hook.id, "revoked_at", hook.revoked_at) if hook.revoked_at else None,
        )
        with self._lock:
            if hook.id in self._hooks or hook.token in self._by_token:
                raise ValueError(
                    f"hook {hook.id}: expected a new id and a new token, found one of them taken"
                )
            self._hooks[hook.id] = hook
            self._by_token[hook.token] = hook.id

    def by_token(self, token: str) -> Hook | None:
        with self._lock:
            hook_id = self._by_token.get(token)
            hook = self._hooks[hook_id] if hook_id is not None else None
        return hook if hook is not None and hook.active else None

    def get(self, hook_id: str) -> Hook | None:
        with self._lock:
            return self._hooks.get(hook_id)

    def for_bot(self, bot_id: BotId) -> list[Hook]:
        with self._lock:
            hooks = [h for h in self._hooks.values() if h.bot_id == bot_id]
        return sorted(hooks, key=lambda h: (h.created_at, h.id))

    def revoke(self, hook_id: str, at: datetime) -> None:
        at = _utc(hook_id, "revoked_at", at)
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is None:
                raise KeyError(f"hook {hook_id}: expected an existing hook, found none")
            if hook.active:
                self._hooks[hook_id] = dataclasses.replace(hook, revoked_at=at)
