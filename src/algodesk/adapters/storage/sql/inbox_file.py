"""On SQLite, the alert inbox lives in a file of its own beside the desk's database.

SQLite lets one connection write to a file at a time. With the inbox in the desk's database,
a webhook's insert waited for the alert thread's engine batch (orders, fills, ledger, up to
10 ms of work) to commit, and the batch waited for the webhooks' commits: at 400 alerts/s the
answers took 160-200 ms. In a file of its own the inbox has its own write lock, so an alert
is stored and answered while the engine commits, and the two files' fsyncs overlap.

Nothing needs the two to commit together: an alert is stored before it is answered, and
processed later by idempotency keys derived from its id (``alert:{id}:...``), so a fate
recorded in the inbox and orders recorded in the journal were separate transactions before.
What must hold is that an alert id is **never used twice**: a new alert with the id of an old
one would be answered from the old one's journal and never executed. The inbox file's table
therefore takes ids with SQLite's ``AUTOINCREMENT`` (an id is never reused, even after rows
are deleted), and every ``init`` keeps its next id above every alert id the desk's journal has
seen (read off an index of migration 0008): a new inbox file, and one restored from a backup
taken before later alerts, go on above them. Migration 0008 also makes an algodesk from
before this layout refuse the database (it would number alerts from 1 in the emptied table).

``algodesk init`` (and ``serve``, which runs it) creates the file and moves the entries of the
inbox table of the desk's database into it (those of a desk from before this layout): copied
with their ids, then deleted from the database, each step a transaction; a crash between them
is finished by the next ``init``. An entry whose id or key the inbox file holds for another
alert is never deleted: the move stops there and says so. ``serve`` does not start a new
inbox file for a desk that has traded alerts (its file was lost: restore it, or run ``algodesk
init``, which starts one). :func:`check_inbox_file` refuses to take alerts in (the
desk's runtime) while the inbox file is missing, not set up, from a newer version, or while
the database still holds entries; the rest of the desk (``ledger verify`` ...) opens as before.

On PostgreSQL (rows are locked, not the database) and for an in-memory SQLite database the
inbox stays in the desk's database: :func:`inbox_url` is None.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

from algodesk.adapters.storage.sql.engine import DatabaseNotReadyError, read_only
from algodesk.adapters.storage.sql.tables import alert_inbox, journal

__all__ = [
    "INBOX_FILE_VERSION",
    "LostInboxFileError",
    "check_inbox_file",
    "inbox_url",
    "prepare_inbox_file",
]

#: The inbox file's schema version (SQLite's ``PRAGMA user_version``); 0 is a new file.
INBOX_FILE_VERSION = 1

_file_metadata = sa.MetaData()
#: The inbox table as the inbox file has it: the desk's own, with ids never reused.
_file_inbox = alert_inbox.to_metadata(_file_metadata)
_file_inbox.dialect_options["sqlite"]["autoincrement"] = True

_MOVE_CHUNK = 1000
_log = logging.getLogger("algodesk.storage")


def inbox_url(database_url: str) -> str | None:
    """The inbox file's URL for the desk's database at ``database_url``: a file beside a
    SQLite database file (``algodesk.db`` → ``algodesk-inbox.db``); None where the inbox
    stays in the database (PostgreSQL, an in-memory SQLite database)."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database_url:
        return None
    path = Path(database)
    return str(url.set(database=str(path.with_name(f"{path.stem}-inbox{path.suffix}"))))


def _version(conn: sa.Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())


def _newer(version: int) -> DatabaseNotReadyError:
    return DatabaseNotReadyError(
        f"the alert inbox file is at version {version}, this version of algodesk expects "
        f"{INBOX_FILE_VERSION}: it was written by a newer algodesk"
    )


#: The alert id of a journal key ``alert:{id}:...``, spelled as migration 0008's index has it
#: (SQLite uses the index only for the same expression and condition).
_ALERT_ID = "CAST(substr(key, 7, instr(substr(key, 7), ':') - 1) AS INTEGER)"
_ALERT_KEYS = "key LIKE 'alert:%'"


def _highest_alert_id(desk: sa.Connection) -> int:
    """The highest alert id the desk's database knows: in its inbox table and in the keys of
    its journal (``alert:{id}:{intent}:{bot}`` and the keys derived from them), by index."""
    in_table = desk.execute(sa.select(sa.func.max(alert_inbox.c.id))).scalar_one()
    in_journal = desk.exec_driver_sql(
        f"SELECT max({_ALERT_ID}) FROM {journal.name} WHERE {_ALERT_KEYS}"  # noqa: S608
    ).scalar_one()
    return max(int(in_table or 0), int(in_journal or 0))


def _keep_above(inbox: sa.Connection, floor: int) -> None:
    """The inbox file's next id above ``floor`` (SQLite takes the next ``AUTOINCREMENT`` id
    above both ``sqlite_sequence`` and the ids in the table)."""
    name = _file_inbox.name
    inbox.exec_driver_sql(
        "INSERT INTO sqlite_sequence (name, seq) SELECT ?, 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
        (name, name),
    )
    inbox.exec_driver_sql(
        "UPDATE sqlite_sequence SET seq = ? WHERE name = ? AND seq < ?", (floor, name, floor)
    )


class LostInboxFileError(DatabaseNotReadyError):
    """The inbox file of a desk that has traded alerts is missing (``serve`` does not start
    a new one by itself)."""


def prepare_inbox_file(desk: sa.Engine, inbox: sa.Engine, start_new: bool = True) -> int:
    """Create the inbox file's schema if it is new, keep its next id above every alert id
    the desk's database knows, and move the database's inbox entries into it; returns how many
    entries were moved. Safe to run again at any point. Without ``start_new``, a new inbox
    file for a desk whose journal has traded alerts (its file was lost) is refused
    (:class:`LostInboxFileError`) rather than started."""
    path = _file_path(inbox.url)
    with read_only(desk) as source:
        floor = _highest_alert_id(source)
        waiting = source.execute(sa.select(alert_inbox.c.id).limit(1)).first() is not None
    if not start_new and floor > 0 and not waiting and not path.exists():
        raise LostInboxFileError(
            f"the alert inbox file {path} is missing, and the desk has traded alerts: restore "
            "it from a backup (with the database), or run `algodesk init` to start a new one "
            "(the pending alerts of the lost file are then lost with it)"
        )
    with inbox.begin() as conn:
        version = _version(conn)
        if version > INBOX_FILE_VERSION:
            raise _newer(version)
        if version == 0:
            _file_metadata.create_all(conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {INBOX_FILE_VERSION}")
            if floor > 0 and not waiting:
                _log.warning(
                    "started a new alert inbox file %s; its alert ids go on after %d, the "
                    "highest the desk's database knows",
                    path,
                    floor,
                )
        _keep_above(conn, floor)
    return _move(desk, inbox)


def _move(desk: sa.Engine, inbox: sa.Engine) -> int:
    """Move the database's inbox entries into the inbox file, a chunk at a time: copied with
    their ids, then deleted from the database once the file holds each of them."""
    moved = 0
    columns = list(alert_inbox.c)
    copy = sa.insert(_file_inbox).prefix_with("OR IGNORE")
    held = sa.select(_file_inbox.c.id, _file_inbox.c.dedupe_key, _file_inbox.c.digest).where(
        _file_inbox.c.id.in_(sa.bindparam("ids", expanding=True))
    )
    while True:
        with read_only(desk) as source:
            rows = source.execute(
                sa.select(*columns).order_by(alert_inbox.c.id).limit(_MOVE_CHUNK)
            ).all()
        if not rows:
            return moved
        ids = [r.id for r in rows]
        with inbox.begin() as conn:  # copied with their ids (kept if copied before a crash)
            conn.execute(copy, [dict(r._mapping) for r in rows])
            there = {r.id: (r.dedupe_key, r.digest) for r in conn.execute(held, {"ids": ids})}
        for row in rows:  # the same alert, or it is not ours to delete
            if there.get(row.id) != (row.dedupe_key, row.digest):
                raise DatabaseNotReadyError(
                    f"alert {row.id} of the database cannot move into the alert inbox file: "
                    "the file holds another alert under its id or its key (was an older "
                    "algodesk run on this desk?); nothing of it was deleted"
                )
        with desk.begin() as source:  # then gone from the database
            source.execute(sa.delete(alert_inbox).where(alert_inbox.c.id.in_(ids)))
        moved += len(rows)


def _file_path(url: sa.URL) -> Path:
    """The file a SQLite URL names (``file:`` URIs too)."""
    database = url.database or ""
    if url.query.get("uri") in ("true", "1") and database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database)


def check_inbox_file(desk: sa.Engine, inbox: sa.Engine) -> None:
    """Raise :class:`DatabaseNotReadyError` unless the inbox file of the engine ``inbox`` is
    ready and the desk's database holds no inbox entries (``algodesk init`` makes it so). Call
    it before anything connects to ``inbox`` (a connection would create the file)."""
    path = _file_path(inbox.url)
    if not path.exists():
        raise DatabaseNotReadyError(
            f"the alert inbox file {path} is missing: run `algodesk init` (it starts a new one; "
            "restore the file from a backup first to keep its pending alerts)"
        )
    with read_only(inbox) as conn:
        version = _version(conn)
    if version > INBOX_FILE_VERSION:
        raise _newer(version)
    if version < INBOX_FILE_VERSION:
        raise DatabaseNotReadyError(
            f"the alert inbox file {path} is not set up: run `algodesk init`"
        )
    with read_only(desk) as conn:
        left = conn.execute(sa.select(alert_inbox.c.id).limit(1)).first()
    if left is not None:
        raise DatabaseNotReadyError(
            "the database holds alerts to move into the alert inbox file: run `algodesk init`"
        )
