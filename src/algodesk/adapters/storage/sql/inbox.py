"""The alert inbox in SQL. Each call is its own transaction, apart from the unit of work: an
alert is committed before the webhook is answered.

``add`` is one statement in the common case (``INSERT .. ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id``); only a duplicate costs a second one, which counts it and reads the first entry.
Concurrent adds of one key store exactly one entry on SQLite and on PostgreSQL alike. Concurrent
adds share a transaction and its commit (:class:`~.group_commit.GroupCommit`): each still
returns only once its alert is committed, but a burst of webhooks costs one fsync, not one each.

``settle_many`` records a batch of fates in one transaction (one commit): one executemany of
``UPDATE .. WHERE id = ? AND status = 'PENDING'`` and one ``SELECT`` of the rows as stored.
When fewer rows changed than were given (an entry unknown, or settled already), the whole
batch is rolled back and the first such entry named, so the rule "all or none" holds on SQLite
and PostgreSQL alike without locking beyond the rows written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from algodesk.adapters.storage.sql.engine import read_only
from algodesk.adapters.storage.sql.group_commit import GroupCommit
from algodesk.adapters.storage.sql.prepared import Prepared
from algodesk.adapters.storage.sql.tables import alert_inbox
from algodesk.domain.identifiers import AccountId, BotId
from algodesk.ports.inbox import (
    AlertStatus,
    InboxEntry,
    NewAlert,
    Settlement,
    UnknownEntryError,
    aware_utc,
    fate_json,
    require_final,
)

__all__ = ["SqlInbox"]

_t = alert_inbox.c


def _entry(r: sa.Row[Any]) -> InboxEntry:
    return _entry_of(r._mapping)


def _entry_of(r: Mapping[Any, Any]) -> InboxEntry:
    return InboxEntry(
        id=int(r["id"]),
        hook_id=r["hook_id"],
        account_id=AccountId(r["account_id"]),
        bot_id=BotId(r["bot_id"]),
        received_at=r["received_at"],
        body=bytes(r["body"]),
        digest=r["digest"],
        dedupe_key=r["dedupe_key"],
        remote_addr=r["remote_addr"],
        status=AlertStatus(r["status"]),
        reason=r["reason"],
        message=r["message"],
        fate=json.loads(r["fate"]),
        settled_at=r["settled_at"],
        duplicates=int(r["duplicates"]),
    )


def _insert_or_nothing(dialect: sa.Dialect) -> sa.TextualSelect:
    """``INSERT .. ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`` (the same text on SQLite
    and PostgreSQL) as a textual statement with typed parameters. SQLAlchemy never caches the
    compiled form of its dialect-specific inserts, so that construct would be compiled anew for
    every webhook (about a millisecond); this one is compiled once."""
    quote = dialect.identifier_preparer.quote
    columns = [c for c in alert_inbox.c if c.key != "id"]
    # Names from our own table definition; every value is a bound parameter.
    names = ", ".join(quote(c.name) for c in columns)
    marks = ", ".join(":" + c.key for c in columns)
    key, new_id = quote(_t.dedupe_key.name), quote(_t.id.name)
    sql = (
        f"INSERT INTO {quote(alert_inbox.name)} ({names}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({key}) DO NOTHING RETURNING {new_id}"
    )
    binds = [sa.bindparam(c.key, type_=c.type) for c in columns]
    return sa.text(sql).bindparams(*binds).columns(_t.id)


class SqlInbox:
    """:class:`~algodesk.ports.inbox.Inbox` on SQLite or PostgreSQL.

    ``settle`` and ``settle_many`` raise :class:`~algodesk.ports.inbox.UnknownEntryError` (a
    KeyError and a ValueError) for an unknown id and :class:`ValueError` for an entry that is
    settled already (or a target status of PENDING); ``settle_many`` then writes nothing.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._insert = Prepared(_insert_or_nothing(engine.dialect))
        self._count_repeat = (
            sa.update(alert_inbox)
            .where(_t.dedupe_key == sa.bindparam("key"))
            .values(duplicates=_t.duplicates + 1)
            .returning(*alert_inbox.c)
        )
        self._adds: GroupCommit[dict[str, Any], tuple[int, sa.Row[Any] | None]] = GroupCommit(
            engine, self._store
        )
        self._get = sa.select(alert_inbox).where(_t.id == sa.bindparam("id"))
        # A windowed dedupe key looks for the alert's twin (webhooks without ``timenow``):
        # compiled once, run on the cursor (built per call it cost about 0.5 ms of the 1 ms
        # such a webhook took, under the intake's lock).
        self._recent = Prepared(
            sa.select(alert_inbox)
            .where(
                _t.hook_id == sa.bindparam("hook_id"),
                _t.digest == sa.bindparam("digest"),
                _t.received_at >= sa.bindparam("since"),
            )
            .order_by(_t.received_at.desc(), _t.id.desc())
            .limit(1)
        )
        self._pending = (
            sa.select(alert_inbox)
            .where(_t.status == AlertStatus.PENDING.value)
            .order_by(_t.id)
            .limit(sa.bindparam("limit"))
        )
        self._count_pending = sa.select(sa.func.count()).where(
            _t.status == AlertStatus.PENDING.value
        )
        self._settle = Prepared(
            sa.update(alert_inbox)
            .where(_t.id == sa.bindparam("w_id"), _t.status == AlertStatus.PENDING.value)
            .values(
                status=sa.bindparam("status"),
                reason=sa.bindparam("reason"),
                message=sa.bindparam("message"),
                fate=sa.bindparam("fate"),
                settled_at=sa.bindparam("settled_at"),
            )
        )
        self._by_ids = sa.select(alert_inbox).where(_t.id.in_(sa.bindparam("ids", expanding=True)))
        self._statuses = sa.select(_t.id, _t.status).where(
            _t.id.in_(sa.bindparam("ids", expanding=True))
        )

    def _store(self, conn: sa.Connection, row: dict[str, Any]) -> tuple[int, sa.Row[Any] | None]:
        """Insert ``row`` in the batch's transaction: its new id, or the first entry of its
        key (counted as a repeat), also when that first entry is earlier in the same batch."""
        new = self._insert.execute(conn, row).returned()
        if new is not None:
            return int(new[0]), None
        # The key is taken (by a committed entry: the insert waited; or by this batch).
        first = conn.execute(self._count_repeat, {"key": row["dedupe_key"]}).one()
        return int(first.id), first

    def add(self, alert: NewAlert) -> tuple[InboxEntry, bool]:
        received_at = aware_utc("received_at", alert.received_at)
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
        new_id, first = self._adds.submit(row)
        if first is not None:
            return _entry(first), False
        entry = InboxEntry(
            id=new_id,
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

    def digests_since(self, since: datetime) -> list[str]:
        query = (
            sa.select(_t.digest)
            .where(_t.received_at >= aware_utc("since", since))
            .order_by(_t.received_at, _t.id)
        )
        with read_only(self._engine) as conn:
            return list(conn.execute(query).scalars())

    def find_recent(self, hook_id: str, digest: str, since: datetime) -> InboxEntry | None:
        params = {"hook_id": hook_id, "digest": digest, "since": aware_utc("since", since)}
        with read_only(self._engine) as conn:
            row = self._recent.first(conn, params)
        return _entry_of(row) if row else None

    def get(self, entry_id: int) -> InboxEntry | None:
        with read_only(self._engine) as conn:
            row = conn.execute(self._get, {"id": entry_id}).first()
        return _entry(row) if row else None

    def pending(self, limit: int = 100) -> list[InboxEntry]:
        with read_only(self._engine) as conn:
            return [_entry(r) for r in conn.execute(self._pending, {"limit": limit})]

    def count_pending(self) -> int:
        with read_only(self._engine) as conn:
            return int(conn.execute(self._count_pending).scalar_one())

    def settle(
        self,
        entry_id: int,
        status: AlertStatus,
        reason: str | None,
        message: str,
        fate: Mapping[str, object],
        at: datetime,
    ) -> None:
        self.settle_many([Settlement(entry_id, status, reason, message, fate)], at)

    def settle_many(self, settlements: Sequence[Settlement], at: datetime) -> list[InboxEntry]:
        settled_at = aware_utc("at", at)
        rows = []
        for s in settlements:  # every input checked before the transaction
            require_final(s.entry_id, s.status)
            rows.append(
                {
                    "w_id": s.entry_id,
                    "status": s.status.value,
                    "reason": s.reason,
                    "message": s.message,
                    "fate": fate_json(s.fate),
                    "settled_at": settled_at,
                }
            )
        if not rows:
            return []
        ids = [s.entry_id for s in settlements]
        try:
            with self._engine.begin() as conn:  # an exception inside rolls the batch back
                if self._settle.executemany(conn, rows) != len(rows):
                    raise _NotAllPending
                stored = {r.id: r for r in conn.execute(self._by_ids, {"ids": ids})}
                return [_entry(stored[i]) for i in ids]
        except _NotAllPending:
            pass
        # Rolled back: name the first entry that is unknown, not pending, or given twice (the
        # second finds it settled by the first), in the order given.
        with read_only(self._engine) as conn:
            found = dict(conn.execute(self._statuses, {"ids": ids}).tuples().all())
        for s in settlements:
            status = found.get(s.entry_id)
            if status != AlertStatus.PENDING.value:
                raise _refused(s.entry_id, status)
            found[s.entry_id] = s.status.value  # as the batch would have left it
        raise ValueError(f"inbox entries {ids}: changed while being settled; nothing settled")

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


class _NotAllPending(Exception):
    """Fewer entries were settled than given: the batch is rolled back."""


def _refused(entry_id: int, found: str | None) -> ValueError:
    if found is None:
        return UnknownEntryError(f"inbox entry {entry_id}: expected an existing entry, found none")
    return ValueError(
        f"inbox entry {entry_id}: expected a PENDING entry to settle, found it {found} "
        "already (a settled entry is never changed)"
    )
