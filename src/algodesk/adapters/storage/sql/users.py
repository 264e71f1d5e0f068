"""Users, API keys and refresh tokens in SQL; each call is one short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from algodesk.adapters.storage.sql.engine import read_only
from algodesk.adapters.storage.sql.tables import api_keys, refresh_tokens, users
from algodesk.domain.users import ApiKey, Role, User
from algodesk.ports.users import UsernameTakenError, UserNotFoundError

__all__ = ["SqlUserStore"]


def _user(r: sa.Row[Any]) -> User:
    return User(
        id=r.id,
        username=r.username,
        role=Role(r.role),
        password_hash=r.password_hash,
        created_at=r.created_at,
        disabled=bool(r.disabled),
    )


def _key(r: sa.Row[Any]) -> ApiKey:
    return ApiKey(
        id=r.id,
        user_id=r.user_id,
        name=r.name,
        key_hash=r.key_hash,
        created_at=r.created_at,
        last4=r.last4,
        revoked_at=r.revoked_at,
    )


def _require_user(conn: sa.Connection, user_id: str) -> None:
    found = conn.execute(sa.select(users.c.id).where(users.c.id == user_id)).first()
    if found is None:
        raise UserNotFoundError(user_id)


class SqlUserStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add(self, user: User) -> None:
        row = {
            "id": user.id,
            "username": user.username,
            "role": user.role.value,
            "password_hash": user.password_hash,
            "created_at": user.created_at,
            "disabled": user.disabled,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(users), row)
        except sa.exc.IntegrityError:
            if self.by_username(user.username) is not None:
                raise UsernameTakenError(user.username) from None
            raise

    def get(self, user_id: str) -> User | None:
        with read_only(self._engine) as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def by_username(self, username: str) -> User | None:
        query = sa.select(users).where(users.c.username == username.strip().lower())
        with read_only(self._engine) as conn:
            row = conn.execute(query).first()
        return _user(row) if row else None

    def users(self) -> list[User]:
        with read_only(self._engine) as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.username))]

    def count(self) -> int:
        with read_only(self._engine) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def _update(self, user_id: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            done = conn.execute(sa.update(users).where(users.c.id == user_id).values(**values))
            if done.rowcount != 1:
                raise UserNotFoundError(user_id)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self._update(user_id, password_hash=password_hash)

    def set_role(self, user_id: str, role: Role) -> None:
        self._update(user_id, role=role.value)

    def set_disabled(self, user_id: str, disabled: bool) -> None:
        self._update(user_id, disabled=disabled)

    def add_api_key(self, key: ApiKey) -> None:
        row = {
            "id": key.id,
            "user_id": key.user_id,
            "name": key.name,
            "key_hash": key.key_hash,
            "last4": key.last4,
            "created_at": key.created_at,
            "revoked_at": key.revoked_at,
        }
        with self._engine.begin() as conn:
            _require_user(conn, key.user_id)
            conn.execute(sa.insert(api_keys), row)

    def get_api_key(self, key_id: str) -> ApiKey | None:
        with read_only(self._engine) as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        return _key(row) if row else None

    def api_keys_for(self, user_id: str) -> list[ApiKey]:
        query = (
            sa.select(api_keys)
            .where(api_keys.c.user_id == user_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        with read_only(self._engine) as conn:
            return [_key(r) for r in conn.execute(query)]

    def revoke_api_key(self, key_id: str, at: datetime) -> bool:
        stmt = (
            sa.update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def add_refresh_token(self, token_id: str, user_id: str, expires_at: datetime) -> None:
        row = {"token_id": token_id, "user_id": user_id, "expires_at": expires_at}
        with self._engine.begin() as conn:
            _require_user(conn, user_id)
            conn.execute(sa.insert(refresh_tokens), row)

    def use_refresh_token(self, token_id: str, at: datetime) -> bool:
        # One conditional UPDATE: of two requests racing with one token, only one changes a row.
        stmt = (
            sa.update(refresh_tokens)
            .where(
                refresh_tokens.c.token_id == token_id,
                refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(used_at=at)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def revoke_refresh_tokens(self, user_id: str, at: datetime) -> int:
        stmt = (
            sa.update(refresh_tokens)
            .where(
                refresh_tokens.c.user_id == user_id,
                refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    def purge_refresh_tokens(self, expired_before: datetime) -> int:
        stmt = sa.delete(refresh_tokens).where(refresh_tokens.c.expires_at < expired_before)
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)
