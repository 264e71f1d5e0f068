"""Users, API keys and refresh tokens in memory (tests, the demo desk)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from threading import Lock

from algodesk.domain.users import ApiKey, Role, User
from algodesk.ports.users import UsernameTakenError, UserNotFoundError

__all__ = ["InMemoryUserStore"]


@dataclass(slots=True)
class _RefreshToken:
    user_id: str
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class InMemoryUserStore:
    def __init__(self) -> None:
        self._lock = Lock()
        self._users: dict[str, User] = {}
        self._keys: dict[str, ApiKey] = {}
        self._refresh: dict[str, _RefreshToken] = {}

    def add(self, user: User) -> None:
        with self._lock:
            if any(u.username == user.username for u in self._users.values()):
                raise UsernameTakenError(user.username)
            if user.id in self._users:
                raise ValueError(f"expected a new user id, but {user.id!r} exists")
            self._users[user.id] = user

    def get(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def by_username(self, username: str) -> User | None:
        name = username.strip().lower()
        return next((u for u in self._users.values() if u.username == name), None)

    def users(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: u.username)

    def count(self) -> int:
        return len(self._users)

    def _update(self, user_id: str, change: Callable[[User], User]) -> None:
        with self._lock:
            user = self._users.get(user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            self._users[user_id] = change(user)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self._update(user_id, lambda u: replace(u, password_hash=password_hash))

    def set_role(self, user_id: str, role: Role) -> None:
        self._update(user_id, lambda u: replace(u, role=role))

    def set_disabled(self, user_id: str, disabled: bool) -> None:
        self._update(user_id, lambda u: replace(u, disabled=disabled))

    def add_api_key(self, key: ApiKey) -> None:
        with self._lock:
            if key.user_id not in self._users:
                raise UserNotFoundError(key.user_id)
            if key.id in self._keys:
                raise ValueError(f"expected a new API key id, but {key.id!r} exists")
            self._keys[key.id] = key

    def get_api_key(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def api_keys_for(self, user_id: str) -> list[ApiKey]:
        keys = [k for k in self._keys.values() if k.user_id == user_id]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    def revoke_api_key(self, key_id: str, at: datetime) -> bool:
        with self._lock:
            key = self._keys.get(key_id)
            if key is None or not key.active:
                return False
            self._keys[key_id] = replace(key, revoked_at=at)
            return True

    def add_refresh_token(self, token_id: str, user_id: str, expires_at: datetime) -> None:
        with self._lock:
            if user_id not in self._users:
                raise UserNotFoundError(user_id)
            if token_id in self._refresh:
                raise ValueError(f"expected a new refresh token id, but {token_id!r} exists")
            self._refresh[token_id] = _RefreshToken(user_id, expires_at)

    def use_refresh_token(self, token_id: str, at: datetime) -> bool:
        with self._lock:
            token = self._refresh.get(token_id)
            if token is None or token.used_at is not None or token.revoked_at is not None:
                return False
            token.used_at = at
            return True

    def revoke_refresh_tokens(self, user_id: str, at: datetime) -> int:
        with self._lock:
            live = [
                t
                for t in self._refresh.values()
                if t.user_id == user_id and t.used_at is None and t.revoked_at is None
            ]
            for token in live:
                token.revoked_at = at
            return len(live)

    def purge_refresh_tokens(self, expired_before: datetime) -> int:
        with self._lock:
            old = [k for k, t in self._refresh.items() if t.expires_at < expired_before]
            for token_id in old:
                del self._refresh[token_id]
            return len(old)
