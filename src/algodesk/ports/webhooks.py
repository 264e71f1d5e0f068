"""Webhook hooks: the unguessable URL token that names a bot, with its optional body secret.

Tokens and secrets are encrypted at rest (a :class:`~algodesk.ports.secrets.Cipher`); the token
is found by its SHA-256, so looking one up never decrypts the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from algodesk.domain.identifiers import AccountId, BotId

__all__ = ["DEFAULT_MAX_LAG", "Hook", "HookStore"]


#: How old an alert may be when it fires and when it is executed.
DEFAULT_MAX_LAG = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Hook:
    id: str  # public handle (shown in the inbox), not a secret
    account_id: AccountId
    bot_id: BotId
    token: str = field(repr=False)
    created_at: datetime
    secret: str | None = field(default=None, repr=False)
    secret_field: str = "secret"  # noqa: S105 - a field name
    max_lag: timedelta = DEFAULT_MAX_LAG
    dedupe_window: timedelta = timedelta(seconds=60)
    #: Accept only TradingView's published source addresses.
    source_allowlist: bool = False
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class HookStore(Protocol):
    def add(self, hook: Hook) -> None:
        """Store a new hook (its id and token are new)."""
        ...

    def by_token(self, token: str) -> Hook | None:
        """The active hook with this token (revoked hooks are not found)."""
        ...

    def get(self, hook_id: str) -> Hook | None: ...

    def for_bot(self, bot_id: BotId) -> list[Hook]:
        """The bot's hooks, active and revoked, oldest first."""
        ...

    def revoke(self, hook_id: str, at: datetime) -> None: ...
