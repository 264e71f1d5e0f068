"""Webhook hooks in SQL. The token and the body secret are stored encrypted (the ``Cipher``);
a token is found by its SHA-256, so a lookup decrypts only the row it finds.

Every lookup reads the row, so a hook revoked by any process is refused at once. What is kept in
process is only the decryption of ciphertexts already seen (a pure function of the ciphertext
under this store's key), which spares the cipher on the webhook's hot path.

A row that this store's key cannot decrypt (the secret key changed) raises
:class:`~algodesk.ports.secrets.CipherError` naming the hook, never the token.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from algodesk.adapters.storage.sql.engine import read_only
from algodesk.adapters.storage.sql.tables import webhook_hooks
from algodesk.domain.identifiers import AccountId, BotId
from algodesk.ports.secrets import Cipher, CipherError
from algodesk.ports.webhooks import Hook

__all__ = ["SqlHookStore", "token_hash"]

_t = webhook_hooks.c
_MEMO_SIZE = 4096


def token_hash(token: str) -> str:
    """The SHA-256 of the token, hex: how a hook is looked up without decrypting the table."""
    return hashlib.sha256(token.encode()).hexdigest()


def _micros(value: timedelta) -> int:
    return value // timedelta(microseconds=1)


# Built once (every webhook looks its hook up): the compiled form is then reused.
_BY_TOKEN = sa.select(webhook_hooks).where(
    _t.token_hash == sa.bindparam("hash"), _t.revoked_at.is_(None)
)
_BY_ID = sa.select(webhook_hooks).where(_t.id == sa.bindparam("id"))


class SqlHookStore:
    """:class:`~algodesk.ports.webhooks.HookStore` on SQLite or PostgreSQL.

    ``add`` raises :class:`ValueError` when the id or the token is taken; ``revoke`` raises
    :class:`KeyError` for an unknown id and keeps the first revocation time of a revoked hook.
    """

    def __init__(self, engine: sa.Engine, cipher: Cipher) -> None:
        self._engine = engine
        self._cipher = cipher
        self._lock = threading.Lock()
        self._plain: dict[str, str] = {}  # ciphertext -> plaintext, bounded

    def _decrypt(self, hook_id: str, ciphertext: str) -> str:
        with self._lock:
            plain = self._plain.get(ciphertext)
        if plain is not None:
            return plain
        try:
            plain = self._cipher.decrypt(ciphertext)
        except CipherError:
            raise CipherError(
                f"hook {hook_id}: expected its token and secret to open with this secret key, "
                "found they do not (was ALGODESK_SECRET_KEY or secret.key changed?)"
            ) from None
        with self._lock:
            if len(self._plain) >= _MEMO_SIZE:
                self._plain.pop(next(iter(self._plain)))
            self._plain[ciphertext] = plain
        return plain

    def _hook(self, r: sa.Row[Any]) -> Hook:
        return Hook(
            id=r.id,
            account_id=AccountId(r.account_id),
            bot_id=BotId(r.bot_id),
            token=self._decrypt(r.id, r.token_enc),
            created_at=r.created_at,
            secret=self._decrypt(r.id, r.secret_enc) if r.secret_enc is not None else None,
            secret_field=r.secret_field,
            max_lag=timedelta(microseconds=int(r.max_lag_us)),
            dedupe_window=timedelta(microseconds=int(r.dedupe_window_us)),
            source_allowlist=bool(r.source_allowlist),
            revoked_at=r.revoked_at,
        )

    def add(self, hook: Hook) -> None:
        for name, value in (("created_at", hook.created_at), ("revoked_at", hook.revoked_at)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"hook {hook.id}: {name}: expected a timezone-aware datetime")
        row = {
            "id": hook.id,
            "account_id": hook.account_id.value,
            "bot_id": hook.bot_id.value,
            "token_hash": token_hash(hook.token),
            "token_enc": self._cipher.encrypt(hook.token),
            "secret_enc": self._cipher.encrypt(hook.secret) if hook.secret is not None else None,
            "secret_field": hook.secret_field,
            "max_lag_us": _micros(hook.max_lag),
            "dedupe_window_us": _micros(hook.dedupe_window),
            "source_allowlist": hook.source_allowlist,
            "created_at": hook.created_at,
            "revoked_at": hook.revoked_at,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(webhook_hooks), row)
        except IntegrityError:
            raise ValueError(
                f"hook {hook.id}: expected a new id and a new token, found one of them taken"
            ) from None

    def by_token(self, token: str) -> Hook | None:
        with read_only(self._engine) as conn:
            row = conn.execute(_BY_TOKEN, {"hash": token_hash(token)}).first()
        return self._hook(row) if row else None

    def get(self, hook_id: str) -> Hook | None:
        with read_only(self._engine) as conn:
            row = conn.execute(_BY_ID, {"id": hook_id}).first()
        return self._hook(row) if row else None

    def for_bot(self, bot_id: BotId) -> list[Hook]:
        query = (
            sa.select(webhook_hooks).where(_t.bot_id == bot_id.value).order_by(_t.created_at, _t.id)
        )
        with read_only(self._engine) as conn:
            rows = conn.execute(query).all()
        return [self._hook(r) for r in rows]

    def revoke(self, hook_id: str, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError(f"hook {hook_id}: revoked_at: expected a timezone-aware datetime")
        with self._engine.begin() as conn:
            revoked = conn.execute(
                sa.update(webhook_hooks)
                .where(_t.id == hook_id, _t.revoked_at.is_(None))
                .values(revoked_at=at)
            ).rowcount
            if (
                revoked == 0
                and conn.execute(sa.select(_t.id).where(_t.id == hook_id)).first() is None
            ):
                raise KeyError(f"hook {hook_id}: expected an existing hook, found none")
