"""The user store: users, their API keys, and the refresh tokens handed out to them.

Like the instrument master it is kept apart from the unit of work: a login is not part of an
account's trading history. Every method is its own transaction.

Refresh tokens are single-use: :meth:`UserStore.use_refresh_token` marks one used atomically, so
of two requests racing with the same token only one wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from algodesk.domain.users import ApiKey, Role, User

__all__ = ["ApiKeyNotFoundError", "UserNotFoundError", "UserStore", "UsernameTakenError"]


class UsernameTakenError(ValueError):
    """Another user has this username (compared lower-cased)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"expected a new username, but {username!r} is taken")
        self.username = username


class UserNotFoundError(LookupError):
    """No user has this id (from a store) or this username (from the auth service)."""

    def __init__(self, who: str) -> None:
        super().__init__(f"expected an existing user, found none for {who!r}")
        self.who = who


class ApiKeyNotFoundError(LookupError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"expected an existing API key, found none with id {key_id!r}")
        self.key_id = key_id


class UserStore(Protocol):
    def add(self, user: User) -> None:
        """Store a new user; raises :class:`UsernameTakenError` if the username is taken."""
        ...

    def get(self, user_id: str) -> User | None: ...

    def by_username(self, username: str) -> User | None:
        """The user of that name, compared lower-cased."""
        ...

    def users(self) -> list[User]:
        """Every user, disabled ones too, ordered by username."""
        ...

    def count(self) -> int: ...

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Raises :class:`UserNotFoundError` for an unknown id (so do the two below)."""
        ...

    def set_role(self, user_id: str, role: Role) -> None: ...

    def set_disabled(self, user_id: str, disabled: bool) -> None: ...

    def add_api_key(self, key: ApiKey) -> None:
        """Store a new key of an existing user (raises :class:`UserNotFoundError` if not)."""
        ...

    def get_api_key(self, key_id: str) -> ApiKey | None: ...

    def api_keys_for(self, user_id: str) -> list[ApiKey]:
        """The user's keys, active and revoked, oldest first."""
        ...

    def revoke_api_key(self, key_id: str, at: datetime) -> bool:
        """Revoke an active key; ``False`` if it is unknown or revoked already."""
        ...

    def add_refresh_token(self, token_id: str, user_id: str, expires_at: datetime) -> None: ...

    def use_refresh_token(self, token_id: str, at: datetime) -> bool:
        """Mark an unused, unrevoked refresh token used, atomically; ``False`` if it is unknown,
        used already, or revoked."""
        ...

    def revoke_refresh_tokens(self, user_id: str, at: datetime) -> int:
        """Revoke every unused refresh token of the user (signs them out); returns how many."""
        ...

    def purge_refresh_tokens(self, expired_before: datetime) -> int:
        """Delete the records of refresh tokens that expired before the given time."""
        ...
