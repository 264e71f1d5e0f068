"""A batch of one account's commands in one transaction (see :meth:`Engine.batch`).

Inside a batch the engine works in the batch's unit of work: each command's writes are
staged there and become durable together at the batch's one commit, instead of one commit
(on SQLite one fsync) per command. The engine's own picture of the account (its view, the
ledger's book, breaker states) moves as each command is staged, so the next command is
judged against the ones before it, exactly as if each had committed; what the engine
publishes to subscribers waits for the commit, so no one hears of a change that might not
stay. A batch that fails is undone whole: nothing is stored, the in-process venue forgets
the orders it was sent, the engine reads the account's view and ledger book from storage
again, puts its circuit breakers back as they were (their venue-error window is not
journaled) and takes back what its orders counted against the rate gates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Self

from algodesk.domain.identifiers import AccountId, ClientOrderId, Venue
from algodesk.ports.broker import InProcessVenue
from algodesk.ports.storage import (
    FillRepository,
    JournalRepository,
    LedgerRepository,
    OrderRepository,
    SequenceRepository,
    UnitOfWork,
)

__all__ = ["Batch", "BatchUnit", "confirm"]

_log = logging.getLogger("algodesk.engine")


def confirm(venue: InProcessVenue, coid: ClientOrderId) -> None:
    """Tell ``venue`` the order is stored. Its failure is logged, never raised: what is stored
    stays stored (undoing it now would withdraw an order the engine has)."""
    try:
        venue.confirm(coid)
    except Exception:  # pragma: no cover - a venue bug; the order stays as stored
        _log.exception("venue %s could not take the confirmation of %s", venue.venue, coid)


class BatchUnit:
    """The batch's unit of work as the engine's code sees it: every read and write goes to
    the batch's transaction; entering and leaving it does nothing, and a commit only marks a
    command's writes as complete (the batch commits them all at its end)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        #: A command's block left with an exception: its writes are staged only in part, so
        #: the batch must not commit (outside a batch, that unit would roll back).
        self.spoilt = False

    @property
    def orders(self) -> OrderRepository:
        return self._uow.orders

    @property
    def fills(self) -> FillRepository:
        return self._uow.fills

    @property
    def ledger(self) -> LedgerRepository:
        return self._uow.ledger

    @property
    def sequences(self) -> SequenceRepository:
        return self._uow.sequences

    @property
    def journal(self) -> JournalRepository:
        return self._uow.journal

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.spoilt = True

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        raise RuntimeError("a batch is undone whole: raise out of the batch instead")


class Batch:
    """One open batch: its account, its unit of work and what waits for its commit."""

    def __init__(
        self, account_id: AccountId, factory: Callable[[], UnitOfWork], board: object
    ) -> None:
        self.account_id = account_id
        self._factory = factory
        #: The account's circuit breakers as the batch began (restored if it is undone).
        self.board = board
        #: Order operations counted by the rate gates: taken back if the batch is undone.
        self.ops: list[tuple[AccountId, Venue, datetime]] = []
        #: Idempotency keys of the account looked up in the batch and not journaled.
        self.absent: set[str] = set()
        #: What the engine would have published, in order, held until the commit.
        self.published: list[object] = []
        #: Orders sent to in-process venues since the last commit: confirmed at the commit,
        #: withdrawn if it fails.
        self.sent: list[tuple[InProcessVenue, ClientOrderId]] = []
        self._uow: UnitOfWork | None = None
        self.unit = self.open()

    def new_key(self, key: str) -> bool:
        """Whether ``key`` was looked up in the batch and found not journaled (a look-up
        again would find the same: only the batch's thread writes the account's journal while
        it holds the account)."""
        return key in self.absent

    def open(self) -> BatchUnit:
        """Begin a new unit of work (after :meth:`close`)."""
        uow = self._factory()
        self._uow = uow.__enter__()
        self.unit = BatchUnit(self._uow)
        return self.unit

    @property
    def spoilt(self) -> bool:
        """A command failed midway inside the batch (see :attr:`BatchUnit.spoilt`)."""
        return self.unit.spoilt

    def commit(self) -> None:
        if self._uow is None:
            raise RuntimeError("the batch's unit is closed")
        self._uow.commit()
        sent, self.sent = self.sent, []
        self.ops.clear()
        for venue, coid in sent:  # stored: the venues may act on them now
            confirm(venue, coid)

    def close(self) -> None:
        """End the unit of work, rolling back what was not committed."""
        self.absent.clear()  # another writer may journal for the account until it reopens
        uow, self._uow = self._uow, None
        if uow is not None:
            uow.__exit__(None, None, None)
