"""The SQL unit of work: one connection, one transaction, the repositories on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import sqlalchemy as sa

from algodesk.adapters.storage.sql.engine import READ_ONLY
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
        """``snapshot``: every read sees the database as of one instant (PostgreSQL
        REPEATABLE READ, read only); for reports that read several tables, such as verify.
        SQLite transactions in WAL mode read from one snapshot already."""
        self._engine = engine
        self._snapshot = snapshot
        self._conn: sa.Connection | None = None
        self._tx: sa.RootTransaction | None = None

    def __enter__(self) -> Self:
        conn = self._engine.connect()
        if self._snapshot and conn.dialect.name == "postgresql":
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        elif self._snapshot:
            conn = conn.execution_options(**{READ_ONLY: True})
        self._conn = conn
        self._tx = conn.begin()
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
        try:
            if self._tx is not None and self._tx.is_active:
                self._tx.rollback()
        finally:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._tx = None

    def commit(self) -> None:
        if self._tx is None:
            raise RuntimeError("commit() outside a `with` block")
        self._tx.commit()
        assert self._conn is not None
        self._tx = self._conn.begin()

    def rollback(self) -> None:
        if self._tx is None:
            raise RuntimeError("rollback() outside a `with` block")
        self._tx.rollback()
        assert self._conn is not None
        self._tx = self._conn.begin()
