"""Engines and migrations: SQLite (WAL) in a data directory by default, PostgreSQL on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

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
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


READ_ONLY = "algodesk_read_only"


def _sqlite_begin(conn: sa.Connection) -> None:
    # A deferred BEGIN that reads and then writes fails at once (SQLITE_BUSY, no waiting) when
    # another connection wrote in between; busy_timeout cannot help it. Every transaction that
    # may write therefore takes the write lock up front and waits its turn. Connections marked
    # read-only (``execution_options(algodesk_read_only=True)``) read from a WAL snapshot.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def read_only(engine: sa.Engine) -> sa.Connection:
    """A connection for reads only: on SQLite it reads a WAL snapshot instead of queueing for
    the write lock (see :func:`_sqlite_begin`)."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def make_engine(url: str) -> sa.Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


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
