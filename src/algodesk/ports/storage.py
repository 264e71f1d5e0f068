"""Storage ports: repositories for orders, fills and the ledger, inside a unit of work.

A unit of work is one transaction: what its repositories write becomes visible together on
:meth:`UnitOfWork.commit`, and nothing of it on :meth:`UnitOfWork.rollback` or on leaving the
``with`` block without a commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from algodesk.domain.fills import Fill
from algodesk.domain.identifiers import AccountId, ClientOrderId, LedgerEntryId
from algodesk.domain.ledger.entries import LedgerEntry
from algodesk.domain.ledger.verify import ChainHead
from algodesk.domain.orders import Order

__all__ = [
    "ChainConflictError",
    "DuplicateClientOrderIdError",
    "FillRepository",
    "JournalRecord",
    "JournalRepository",
    "LedgerRepository",
    "OrderRepository",
    "SequenceRepository",
    "StorageError",
    "UnitOfWork",
    "check_limit",
]


class StorageError(Exception):
    """Base class for storage rule violations."""


class DuplicateClientOrderIdError(StorageError):
    """An order with this client order id exists already; ids are never reused."""


class ChainConflictError(StorageError):
    """An append did not follow the stored chain head (another writer, or a stale book)."""


class OrderRepository(Protocol):
    def add(self, order: Order) -> None:
        """Store a new order. Raises DuplicateClientOrderIdError if the id was used before."""
        ...

    def update(self, order: Order) -> None:
        """Store the order's current state."""
        ...

    def get(self, client_order_id: ClientOrderId) -> Order | None: ...

    def latest(
        self, limit: int, account_id: AccountId | None = None, open_only: bool = False
    ) -> list[Order]:
        """The newest ``limit`` orders (of ``account_id``; only open ones with ``open_only``),
        newest first: by creation time, then client order id, both descending. Reads only
        those (a desk's lists, after years of orders). Raises ValueError for ``limit`` < 0."""
        ...

    def list(self, account_id: AccountId | None = None, open_only: bool = False) -> list[Order]: ...


class FillRepository(Protocol):
    def add(self, fill: Fill) -> bool:
        """Store a fill; False for an exact replay of a known ``(venue, trade_id)``.

        Raises:
            ConflictingFillError: the key is known with different data.
        """
        ...

    def for_order(self, client_order_id: ClientOrderId) -> list[Fill]: ...

    def latest(self, limit: int, account_id: AccountId | None = None) -> list[Fill]:
        """The newest ``limit`` fills (of ``account_id``), newest first: by time, then venue
        and trade id, all descending. Reads only those. Raises ValueError for ``limit`` < 0."""
        ...

    def list(self, account_id: AccountId | None = None) -> list[Fill]: ...


class LedgerRepository(Protocol):
    def append(self, entry: LedgerEntry) -> None:
        """Append ``entry`` to its account's chain and move the recorded head (an adapter
        may store the move at the unit's commit; the unit's reads of the head see it).

        Raises:
            ChainConflictError: ``entry`` does not follow the head, or another writer took
                its place in the chain.
        """
        ...

    def head(self, account_id: AccountId) -> ChainHead | None: ...

    def heads(self) -> dict[AccountId, ChainHead]: ...

    def entries(
        self, account_id: AccountId | None = None, after_seq: int = 0
    ) -> Iterator[LedgerEntry]:
        """Entries by account, then sequence number."""
        ...

    def latest(self, limit: int, account_id: AccountId | None = None) -> list[LedgerEntry]:
        """The newest ``limit`` entries, newest first: of ``account_id``, by sequence number;
        of every account, by time, then account and sequence number (all descending). Reads
        only those. Raises ValueError for ``limit`` < 0."""
        ...

    def find(self, account_id: AccountId, entry_id: LedgerEntryId) -> LedgerEntry | None: ...

    def accounts(self) -> list[AccountId]: ...


def check_limit(limit: int) -> int:
    """``limit`` for a :meth:`~OrderRepository.latest` read, checked."""
    if limit < 0:
        raise ValueError(f"expected a limit of 0 or more rows, was {limit}")
    return limit


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One line of an account's journal: a command with its outcome, or an event.

    ``payload`` holds JSON values only (strings, numbers as strings, lists, objects).
    """

    account_id: AccountId
    kind: str
    ts: datetime
    payload: Mapping[str, object] = field(default_factory=dict)
    key: str | None = None
    seq: int = 0  # given by storage on append


class JournalRepository(Protocol):
    """The append-only journal of commands and events, per account."""

    def append(self, record: JournalRecord) -> JournalRecord:
        """Store ``record`` and return it with its sequence number.

        Raises:
            StorageError: a command with the same (account, key) is already journaled.
        """
        ...

    def append_many(self, records: Sequence[JournalRecord]) -> None:
        """Store ``records`` in order, in one go, when their sequence numbers are not needed
        back (a command and its events).

        Raises:
            StorageError: a key among them is already journaled (the unit of work must then
                be rolled back).
        """
        ...

    def find(self, account_id: AccountId, key: str) -> JournalRecord | None:
        """The record journaled under an idempotency key, if any."""
        ...

    def find_many(self, account_id: AccountId, keys: Sequence[str]) -> dict[str, JournalRecord]:
        """The records journaled under any of ``keys``, by key (a key with none is left out):
        one look-up, one round trip, where a caller needs several keys at once."""
        ...

    def records(self, account_id: AccountId, kind: str | None = None) -> list[JournalRecord]: ...


class SequenceRepository(Protocol):
    def next(self, name: str) -> int:
        """The next value (from 1) of the named counter; survives restarts."""
        ...


class UnitOfWork(Protocol):
    @property
    def orders(self) -> OrderRepository: ...

    @property
    def fills(self) -> FillRepository: ...

    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def sequences(self) -> SequenceRepository: ...

    @property
    def journal(self) -> JournalRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make the unit's writes durable; the unit stays usable.

        Raises:
            ChainConflictError: another writer moved a chain this unit appended to; nothing
                of the unit is kept (it is rolled back).
        """
        ...

    def rollback(self) -> None: ...
