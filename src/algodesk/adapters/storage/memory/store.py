"""In-memory repositories and a unit of work with real commit/rollback semantics.

A unit works on a private copy of the store and logs its writes. Commit replays the log on the
store as it is now, with the same checks, so a write that conflicts with a unit committed in
the meantime fails as it would on SQL (a chain conflict, a taken id) instead of being lost.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self

from algodesk.domain.fills import Fill
from algodesk.domain.identifiers import AccountId, ClientOrderId, LedgerEntryId, TradeId, Venue
from algodesk.domain.ledger.entries import LedgerEntry
from algodesk.domain.ledger.verify import ChainHead
from algodesk.domain.orders import ConflictingFillError, Order
from algodesk.ports.storage import (
    ChainConflictError,
    DuplicateClientOrderIdError,
    JournalRecord,
    StorageError,
)

__all__ = ["DirectUnitOfWork", "InMemoryStore", "InMemoryUnitOfWork"]


@dataclass
class InMemoryStore:
    """The committed state, shared by every unit of work made on it."""

    orders: dict[ClientOrderId, Order] = field(default_factory=dict)
    fills: dict[tuple[Venue, TradeId], Fill] = field(default_factory=dict)
    entries: dict[AccountId, list[LedgerEntry]] = field(default_factory=dict)
    heads: dict[AccountId, ChainHead] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    journal: list[JournalRecord] = field(default_factory=list)


class _Fills:
    def __init__(self, state: InMemoryStore) -> None:
        self._s = state

    def add(self, fill: Fill) -> bool:
        known = self._s.fills.get(fill.key)
        if known is not None:
            if known.same_execution(fill):
                return False
            raise ConflictingFillError(
                f"trade {fill.trade_id} at {fill.venue} was stored with different data"
            )
        self._s.fills[fill.key] = fill
        return True

    def for_order(self, client_order_id: ClientOrderId) -> list[Fill]:
        found = [f for f in self._s.fills.values() if f.client_order_id == client_order_id]
        return sorted(found, key=lambda f: (f.ts, f.trade_id.value))

    def list(self, account_id: AccountId | None = None) -> list[Fill]:
        found = [f for f in self._s.fills.values() if account_id in (None, f.account_id)]
        return sorted(found, key=lambda f: (f.ts, f.venue.value, f.trade_id.value))


class _Orders:
    def __init__(self, state: InMemoryStore) -> None:
        self._s = state

    def add(self, order: Order) -> None:
        if order.client_order_id in self._s.orders:
            raise DuplicateClientOrderIdError(
                f"client order id {order.client_order_id} is taken; ids are never reused"
            )
        self._s.orders[order.client_order_id] = copy.deepcopy(order)

    def update(self, order: Order) -> None:
        if order.client_order_id not in self._s.orders:
            raise KeyError(f"order {order.client_order_id} is not stored; add it first")
        self._s.orders[order.client_order_id] = copy.deepcopy(order)

    def get(self, client_order_id: ClientOrderId) -> Order | None:
        found = self._s.orders.get(client_order_id)
        return copy.deepcopy(found) if found else None

    def list(self, account_id: AccountId | None = None, open_only: bool = False) -> list[Order]:
        found = [
            copy.deepcopy(o)
            for o in self._s.orders.values()
            if account_id in (None, o.account_id) and (not open_only or o.status.is_open)
        ]
        return sorted(found, key=lambda o: (o.created_at, o.client_order_id.value))


class _Ledger:
    def __init__(self, state: InMemoryStore) -> None:
        self._s = state

    def head(self, account_id: AccountId) -> ChainHead | None:
        return self._s.heads.get(account_id)

    def heads(self) -> dict[AccountId, ChainHead]:
        return dict(self._s.heads)

    def append(self, entry: LedgerEntry) -> None:
        head = self._s.heads.get(entry.account_id)
        expected = (head.seq + 1) if head else 1
        if entry.seq != expected or (head is not None and entry.prev_hash != head.hash):
            raise ChainConflictError(f"{entry.label()} does not follow the stored head")
        chain = self._s.entries.setdefault(entry.account_id, [])
        if any(e.entry_id == entry.entry_id for e in chain):
            raise ChainConflictError(f"{entry.label()}: entry id {entry.entry_id} is taken")
        chain.append(entry)
        self._s.heads[entry.account_id] = ChainHead(entry.seq, entry.hash)

    def entries(
        self, account_id: AccountId | None = None, after_seq: int = 0
    ) -> Iterator[LedgerEntry]:
        for acct in sorted(self._s.entries, key=lambda a: a.value):
            if account_id is not None and acct != account_id:
                continue
            yield from (e for e in self._s.entries[acct] if e.seq > after_seq)

    def find(self, account_id: AccountId, entry_id: LedgerEntryId) -> LedgerEntry | None:
        return next(
            (e for e in self._s.entries.get(account_id, []) if e.entry_id == entry_id), None
        )

    def accounts(self) -> list[AccountId]:
        return sorted(self._s.heads, key=lambda a: a.value)


class _Sequences:
    def __init__(self, state: InMemoryStore) -> None:
        self._s = state

    def next(self, name: str) -> int:
        self._s.sequences[name] = self._s.sequences.get(name, 0) + 1
        return self._s.sequences[name]


_Write = tuple[str, str, tuple[object, ...]]  # repository, method, arguments


def _copy(store: InMemoryStore) -> InMemoryStore:
    # Only containers are copied: entries and fills are immutable, and stored orders are private
    # (the order repository copies on every read and every write), so nothing shares them.
    return InMemoryStore(
        orders=dict(store.orders),
        fills=dict(store.fills),
        entries={k: list(v) for k, v in store.entries.items()},
        heads=dict(store.heads),
        sequences=dict(store.sequences),
        journal=list(store.journal),
    )


class _Repos:
    def __init__(self, state: InMemoryStore) -> None:
        self.orders, self.fills = _Orders(state), _Fills(state)
        self.ledger, self.sequences = _Ledger(state), _Sequences(state)
        self.journal = _Journal(state)


class _Logged:
    """Forwards to a repository and logs the calls that write."""

    def __init__(self, target: object, name: str, writes: frozenset[str], log: list[_Write]):
        self._target, self._name, self._writes, self._log = target, name, writes, log

    def __getattr__(self, attr: str) -> object:
        method = getattr(self._target, attr)
        if attr not in self._writes:
            return method

        def logged(*args: object) -> object:
            result = method(*args)
            self._log.append((self._name, attr, (*args, result)))
            return result

        return logged


_WRITES = {
    "orders": frozenset({"add", "update"}),
    "fills": frozenset({"add"}),
    "ledger": frozenset({"append"}),
    "sequences": frozenset({"next"}),
    "journal": frozenset({"append"}),
}


class _Journal:
    def __init__(self, state: InMemoryStore) -> None:
        self._s = state

    def append(self, record: JournalRecord) -> JournalRecord:
        if record.key is not None and self.find(record.account_id, record.key) is not None:
            raise StorageError(f"{record.account_id}: key {record.key!r} is already journaled")
        stored = replace(record, seq=len(self._s.journal) + 1)
        self._s.journal.append(stored)
        return stored

    def find(self, account_id: AccountId, key: str) -> JournalRecord | None:
        return next(
            (r for r in self._s.journal if r.account_id == account_id and r.key == key), None
        )

    def records(self, account_id: AccountId, kind: str | None = None) -> list[JournalRecord]:
        return [
            r
            for r in self._s.journal
            if r.account_id == account_id and (kind is None or r.kind == kind)
        ]


class InMemoryUnitOfWork:
    """Works on a private copy of the store; :meth:`commit` replays its writes on the store."""

    orders: _Orders
    fills: _Fills
    ledger: _Ledger
    sequences: _Sequences
    journal: _Journal

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._log: list[_Write] = []
        self._active = False

    def _begin(self) -> None:
        repos = _Repos(_copy(self._store))
        self._log = []
        for name, writes in _WRITES.items():
            setattr(self, name, _Logged(getattr(repos, name), name, writes, self._log))
        self._active = True

    def __enter__(self) -> Self:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._active = False
        self._log = []

    def commit(self) -> None:
        if not self._active:
            raise RuntimeError("commit() outside a `with` block")
        target = _copy(self._store)
        repos = _Repos(target)
        for name, method, args in self._log:
            *call_args, result = args
            again = getattr(getattr(repos, name), method)(*call_args)
            if again != result:
                raise StorageError(
                    f"commit conflict: {name}.{method} gave {result!r} in this unit of work, "
                    f"{again!r} against the store as committed meanwhile"
                )
        for field_name in ("orders", "fills", "entries", "heads", "sequences", "journal"):
            setattr(self._store, field_name, getattr(target, field_name))
        self._begin()

    def rollback(self) -> None:
        if not self._active:
            raise RuntimeError("rollback() outside a `with` block")
        self._begin()


class DirectUnitOfWork:
    """A unit of work for one thread alone (a backtest): writes go straight to the store and
    are undone, newest first, unless committed. Nothing is copied, so a unit costs the same
    however much the store holds; but another unit opened meanwhile would see uncommitted
    writes, so never share the store between threads with it."""

    orders: _Orders
    fills: _Fills
    ledger: _Ledger
    sequences: _Sequences
    journal: _Journal

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._undo: list[Callable[[], None]] = []
        self._active = False
        repos = _Repos(store)
        self.orders, self.fills, self.ledger = repos.orders, repos.fills, repos.ledger
        self.sequences, self.journal = repos.sequences, repos.journal
        for name, writes in _WRITES.items():
            for method in writes:
                self._wrap(getattr(self, name), name, method)

    def _wrap(self, repo: object, name: str, method: str) -> None:
        original = getattr(repo, method)
        store = self._store

        def write(*args: Any) -> Any:
            if not self._active:
                raise RuntimeError(f"{name}.{method}() outside a `with` block")
            self._undo.append(_undo_of(store, name, args))
            return original(*args)

        setattr(repo, method, write)

    def __enter__(self) -> Self:
        self._active = True
        self._undo = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()
        self._active = False

    def commit(self) -> None:
        if not self._active:
            raise RuntimeError("commit() outside a `with` block")
        self._undo = []

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()


def _undo_of(store: InMemoryStore, name: str, args: tuple[Any, ...]) -> Callable[[], None]:
    """What puts the store back as it was before this write."""
    if name == "orders":
        return _restore(store.orders, args[0].client_order_id)
    if name == "fills":
        return _restore(store.fills, args[0].key)
    if name == "sequences":
        return _restore(store.sequences, args[0])
    if name == "ledger":
        account = args[0].account_id
        undo_head = _restore(store.heads, account)
        size = len(store.entries.get(account, []))

        def undo_entry() -> None:
            del store.entries.setdefault(account, [])[size:]
            undo_head()

        return undo_entry
    size = len(store.journal)

    def undo_record() -> None:
        del store.journal[size:]

    return undo_record


def _restore(mapping: dict[Any, Any], key: object) -> Callable[[], None]:
    """Undo for a write of ``mapping[key]``: back to its value now, or absent."""
    known = key in mapping
    before = mapping.get(key)

    def undo() -> None:
        if known:
            mapping[key] = before
        else:
            mapping.pop(key, None)

    return undo
