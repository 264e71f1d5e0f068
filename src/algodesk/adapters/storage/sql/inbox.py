"""The alert inbox in SQL. Each call is its own transaction, apart from the unit of work: an
alert is committed before the webhook is answered.

``add`` is one statement in the common case (``INSERT .. ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id``); only a duplicate costs a second one, which counts it and reads the first entry.
Concurrent adds of one key store exactly one entry on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from algodesk.adapters.storage.sql.engine import read_only
from algodesk.adapters.storage.sql.tables import alert_inbox
from algodesk.domain.identifiers import AccountId, BotId
from algodesk.ports.inbox import AlertStatus, InboxEntry, NewAlert

__all__ = ["SqlInbox"]

_t = alert_inbox.c


def _aware(name: str, value: datetime) -> datetime:
    """``value`` in UTC, or a ValueError if it is naive."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name}: expected a timezone-aware datetime, was {value!r}")
    return value.astimezone(UTC)


def _fate_json(fate: Mapping[str, object]) -> str:
    """The fate as canonical JSON text (the journal's codec), or a ValueError."""
    try:
        return json.dumps(dict(fate), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"fate: expected JSON values only, found: {exc}") from None


def _entry(r: sa.Row[Any]) -> InboxEntry:
    return InboxEntry(
        id=int(r.id),
        hook_id=r.hook_id,
        account_id=AccountId(r.account_id),
        bot_id=BotId(r.bot_id),
        received_at=r.received_at,
        body=bytes(r.body),
        digest=r.digest,
        dedupe_key=r.dedupe_key,
        remote_addr=r.remote_addr,
        status=AlertStatus(r.status),
        reason=r.reason,
        message=r.message,
        fate=json.loads(r.fate),
        settled_at=r.settled_at,
        duplicates=int(r.duplicates),
    )


class SqlInbox:
    """:class:`~algodesk.ports.inbox.Inbox` on SQLite or PostgreSQL.

    ``settle`` raises :class:`KeyError` for an unknown id and :class:`ValueError` for an entry
    that is settled already (or a target status of PENDING).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._insert = (
            insert(alert_inbox)
            .on_conflict_do_nothing(index_elements=[_t.dedupe_key])
            .returning(_t.id)
        )
        self._count_repeat = (
            sa.update(alert_inbox)
            .where(_t.dedupe_key == sa.bindparam("key"))
            .values(duplicates=_t.duplicates + 1)
            .returning(*alert_inbox.c)
        )

    def add(self, alert: NewAlert) -> tuple[InboxEntry, bool]:
        received_at = _aware("received_at", alert.received_at)
        settled_at = None if alert.status is AlertStatus.PENDING else received_at
        row = {
            "hook_id": alert.hook_id,
            "account_id": alert.account_id.value,
            "bot_id": alert.bot_id.value,
            "received_at": received_at,
            "body": alert.body,
            "digest": alert.digest,
            "dedupe_key": alert.dedupe_key,
            "remote_addr": alert.remote_addr,
            "status": alert.status.value,
            "reason": alert.reason,
            "message": alert.message,
            "fate": "{}",
            "settled_at": settled_at,
            "duplicates": 0,
        }
        with self._engine.begin() as conn:
            new_id = conn.execute(self._insert, row).scalar()
            if new_id is None:  # the key is taken (by a committed entry: the insert waited)
                first = conn.execute(self._count_repeat, {"key": alert.dedupe_key}).one()
                return _entry(first), False
        entry = InboxEntry(
            id=int(new_id),
            hook_id=alert.hook_id,
            account_id=alert.account_id,
            bot_id=alert.bot_id,
            received_at=received_at,
            body=bytes(alert.body),
            digest=alert.digest,
            dedupe_key=alert.dedupe_key,
            remote_addr=alert.remote_addr,
            status=alert.status,
            reason=alert.reason,
            message=alert.message,
            fate={},
            settled_at=settled_at,
        )
        return entry, True

    def find_recent(self, hook_id: str, digest: str, since: datetime) -> InboxEntry | None:
        query = (
            sa.select(alert_inbox)
            .where(
                _t.hook_id == hook_id,
                _t.digest == digest,
                _t.received_at >= _aware("since", since),
            )
            .order_by(_t.received_at.desc(), _t.id.desc())
            .limit(1)
        )
        with read_only(self._engine) as conn:
            row = conn.execute(query).first()
        return _entry(row) if row else None

    def get(self, entry_id: int) -> InboxEntry | None:
        with read_only(self._engine) as conn:
            row = conn.execute(sa.select(alert_inbox).where(_t.id == entry_id)).first()
        return _entry(row) if row else None

    def pending(self, limit: int = 100) -> list[InboxEntry]:
        query = (
            sa.select(alert_inbox)
            .where(_t.status == AlertStatus.PENDING.value)
            .order_by(_t.id)
            .limit(limit)
        )
        with read_only(self._engine) as conn:
            return [_entry(r) for r in conn.execute(query)]

    def settle(
        self,
        entry_id: int,
        status: AlertStatus,
        reason: str | None,
        message: str,
        fate: Mapping[str, object],
        at: datetime,
    ) -> None:
        if status is AlertStatus.PENDING:
            raise ValueError(
                f"inbox entry {entry_id}: expected a final status to settle with "
                f"(EXECUTED, DENIED or REJECTED), was {status.value}"
            )
        values = {
            "status": status.value,
            "reason": reason,
            "message": message,
            "fate": _fate_json(fate),
            "settled_at": _aware("at", at),
        }
        with self._engine.begin() as conn:
            moved = conn.execute(
                sa.update(alert_inbox)
                .where(_t.id == entry_id, _t.status == AlertStatus.PENDING.value)
                .values(values)
            ).rowcount
            if moved == 1:
                return
            found = conn.execute(sa.select(_t.status).where(_t.id == entry_id)).scalar()
        if found is None:
            raise KeyError(f"inbox entry {entry_id}: expected an existing entry, found none")
        raise ValueError(
            f"inbox entry {entry_id}: expected a PENDING entry to settle, found it {found} "
            "already (a settled entry is never changed)"
        )

    def list(
        self,
        *,
        account_id: AccountId | None = None,
        bot_id: BotId | None = None,
        status: AlertStatus | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[InboxEntry]:
        query = sa.select(alert_inbox).order_by(_t.id.desc()).limit(limit)
        if account_id is not None:
            query = query.where(_t.account_id == account_id.value)
        if bot_id is not None:
            query = query.where(_t.bot_id == bot_id.value)
        if status is not None:
            query = query.where(_t.status == status.value)
        if before_id is not None:
            query = query.where(_t.id < before_id)
        with read_only(self._engine) as conn:
            return [_entry(r) for r in conn.execute(query)]
