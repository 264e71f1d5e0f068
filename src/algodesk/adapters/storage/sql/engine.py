"""Engines and migrations: SQLite (WAL) in a data directory by default, PostgreSQL on request."""

from __future__ import annotations

import sqlite3
import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from algodesk.adapters.storage.sql.writer_gate import GatedConnection, gated_connection

__all__ = [
    "DatabaseNotReadyError",
    "current_revision",
    "ensure_current",
    "head_revision",
    "make_engine",
    "migrate",
    "normalize_url",
    "sqlite_url",
]

_MIGRATIONS = Path(__file__).with_name("migrations")

#: How long a SQLite writer waits for its turn before "database is locked": in this process's
#: queue (:mod:`.writer_gate`), and then as long again for another process's writer (SQLite's
#: busy handler), so at most twice this in all.
BUSY_TIMEOUT_MS = 5000


class DatabaseNotReadyError(RuntimeError):
    """The database has not been initialised, or its schema is behind this version."""


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'algodesk.db').resolve()}"


def normalize_url(url: str) -> str:
    """Route ``postgresql://`` and ``postgres://`` URLs through psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 driver would open a transaction only at the first write, so reads before it
    # and SAVEPOINTs would run outside it. Take transaction control: BEGIN is issued below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # money: a committed entry survives power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


READ_ONLY = "algodesk_read_only"


def _sqlite_begin(conn: sa.Connection) -> None:
    # A deferred BEGIN that reads and then writes fails at once (SQLITE_BUSY, no waiting) when
    # another connection wrote in between; busy_timeout cannot help it. Every transaction that
    # may write therefore takes the write lock up front and waits its turn. Connections marked
    # read-only (``execution_options(algodesk_read_only=True)``) read from a WAL snapshot, take
    # no lock, and refuse to write (``PRAGMA query_only``, switched only when the pooled
    # connection changes role).
    read_only = bool(conn.get_execution_options().get(READ_ONLY, False))
    info = conn.connection.info
    if info.get(READ_ONLY, False) is not read_only:
        conn.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
        info[READ_ONLY] = read_only
    if read_only:
        conn.exec_driver_sql("BEGIN")
        return
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, GatedConnection):  # an in-memory database: no other connection
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    try:  # this process's writers queue here, not in SQLite's polling busy handler
        raw.hold_gate()
    except sqlite3.OperationalError as exc:  # what SQLite's own timeout would have raised
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, exc) from None
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        raw.release_gate()
        raise


def _sqlite_reader(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()
    record.info[READ_ONLY] = True  # see _sqlite_begin: never switched back


#: A file-based SQLite engine's pool of read-only connections: readers and writers then never
#: take each other's pooled connections, so none switches ``query_only`` back and forth.
_READERS: weakref.WeakKeyDictionary[sa.Engine, sa.Engine] = weakref.WeakKeyDictionary()


def read_only(engine: sa.Engine) -> sa.Connection:
    """A connection for reads only: on SQLite it reads a WAL snapshot instead of queueing for
    the write lock (see :func:`_sqlite_begin`); on either database a write is refused."""
    conn = _READERS.get(engine, engine).connect().execution_options(**{READ_ONLY: True})
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(postgresql_readonly=True)  # BEGIN READ ONLY
    return conn


def make_engine(url: str) -> sa.Engine:
    """The desk's engine for ``url``. Its errors never carry the statement's values
    (``hide_parameters``): they are logged, and the values can be a webhook's body with its
    secret, a password hash or a token."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        # A connection is a file handle: keep enough pooled that a burst of webhook threads
        # (up to 40) does not open and close overflow connections, each with its PRAGMAs.
        database = sa.make_url(url).database or ""
        in_memory = database in ("", ":memory:") or "mode=memory" in url
        pool = {} if in_memory else {"pool_size": 16, "max_overflow": 48}
        connect: dict[str, Any] = {"check_same_thread": False}
        if not in_memory:
            connect["factory"] = gated_connection(database, BUSY_TIMEOUT_MS / 1000)
        engine = sa.create_engine(url, connect_args=connect, hide_parameters=True, **pool)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        if not in_memory:  # (each connection to an in-memory database is another database)
            reader = sa.create_engine(
                url, connect_args={"check_same_thread": False}, hide_parameters=True, **pool
            )
            sa.event.listen(reader, "connect", _sqlite_reader)
            sa.event.listen(reader, "begin", _sqlite_begin)
            sa.event.listen(engine, "engine_disposed", lambda _engine: reader.dispose())
            _READERS[engine] = reader
        return engine
    # No pre-ping (a SELECT 1 round trip at every checkout, and a unit of work checks out a
    # connection each time): a connection the server dropped fails its next statement, which
    # invalidates the pool's older connections; callers retry (the alert thread does, and a
    # webhook answers 503 so TradingView resends). Connections are replaced after 5 minutes,
    # before idle timeouts of servers, proxies and firewalls usually cut them.
    return sa.create_engine(url, pool_recycle=300, hide_parameters=True)


def _alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(_alembic_config(sa.create_engine("sqlite://")))
    head = script.get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision``."""
    command.upgrade(_alembic_config(engine), revision)


def ensure_current(engine: sa.Engine) -> None:
    """Raise :class:`DatabaseNotReadyError` unless the schema is at this version's head."""
    current = current_revision(engine)
    if current is None:
        raise DatabaseNotReadyError(
            "the database has no algodesk schema yet: run `algodesk init` first"
        )
    if current != head_revision():
        raise DatabaseNotReadyError(
            f"the database schema is at revision {current}, this version expects "
            f"{head_revision()}: run `algodesk init` to migrate"
        )
