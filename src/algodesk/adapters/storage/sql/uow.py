"""The SQL unit of work: one connection, one transaction, the repositories on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import sqlalchemy as sa

from algodesk.adapters.storage.sql.engine import read_only
from algodesk.adapters.storage.sql.repositories import (
    SqlFillRepository,
    SqlJournal,
    SqlLedgerRepository,
    SqlOrderRepository,
    SqlSequences,
)

__all__ = ["SqlUnitOfWork"]


class SqlUnitOfWork:
    """Use as ``with SqlUnitOfWork(engine) as uow: ...; uow.commit()``.

    Leaving the block without :meth:`commit` rolls everything back.
    """

    orders: SqlOrderRepository
    fills: SqlFillRepository
    ledger: SqlLedgerRepository
    sequences: SqlSequences
    journal: SqlJournal

    def __init__(self, engine: sa.Engine, snapshot: bool = False) -> None:
        """``snapshot``: a read-only unit. Every read sees the database as of one instant
        (PostgreSQL REPEATABLE READ, read only; SQLite in WAL mode reads from one snapshot),
        it never waits for or blocks a writer (on SQLite it takes no write lock), and it
        refuses to write: the database refuses the statement and :meth:`commit` raises."""
        self._engine = engine
        self._snapshot = snapshot
        self._conn: sa.Connection | None = None

    def __enter__(self) -> Self:
        postgres = self._engine.dialect.name == "postgresql"
        if self._snapshot and postgres:
            conn = self._engine.connect().execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        elif self._snapshot:
            conn = read_only(self._engine)
        else:
            conn = self._engine.connect()
        self._conn = conn
        conn.begin()
        self.fills = SqlFillRepository(conn)
        self.orders = SqlOrderRepository(conn, self.fills)
        self.ledger = SqlLedgerRepository(conn)
        self.sequences = SqlSequences(conn)
        self.journal = SqlJournal(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            self._conn.close()  # rolls back what was not committed
        self._conn = None

    def commit(self) -> None:
        """Commit; the unit stays usable. The next transaction begins with the next statement
        (not at once: on SQLite a unit that commits last would otherwise take the write lock
        again only to give it back)."""
        if self._conn is None:
            raise RuntimeError("commit() outside a `with` block")
        if self._snapshot:
            raise RuntimeError("commit() in a read-only unit of work: it has nothing to write")
        try:
            self.ledger.flush()
        except BaseException:
            # Refused: nothing of the transaction may be committed later without its head
            # move, so it is rolled back here (the unit stays usable, as after any commit).
            self.ledger.forget()
            self._conn.rollback()
            raise
        self.ledger.forget()
        self._conn.commit()

    def rollback(self) -> None:
        if self._conn is None:
            raise RuntimeError("rollback() outside a `with` block")
        self.ledger.forget()
        self._conn.rollback()
