"""In-memory repositories and a unit of work with real commit/rollback semantics.

The store numbers its commits and keeps what each one wrote beside what it replaced, for as
long as a unit that began earlier is still open. A unit therefore reads the store as of the
commit it began at (one instant, as a database snapshot does) without copying anything: its own
writes go to an overlay, and it logs them. Commit publishes the overlay as the next commit. When
another unit committed meanwhile, the log is first replayed on the store as it is now, with the
same checks, so a write that conflicts with that commit fails as it would on SQL (a chain
conflict, a taken id) instead of being lost. Rollback drops the overlay.

Orders are the one mutable stored type: the order repository stores a copy of what it is given
and hands out copies, so no caller can change stored state through an object it passed in or
got back. Fills, ledger entries, chain heads and journal records are immutable and are shared.
"""

from __future__ import annotations

import bisect
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Self, TypeVar

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
    check_limit,
)

__all__ = ["DirectUnitOfWork", "InMemoryStore", "InMemoryUnitOfWork"]

K = TypeVar("K")
V = TypeVar("V")

_NO_READER = sys.maxsize  # the horizon when no other unit is open


class _Node(Generic[V]):
    """One committed value of a key, with the value it replaced while someone may read it."""

    __slots__ = ("older", "value", "version")

    def __init__(self, version: int, value: V, older: _Node[V] | None) -> None:
        self.version, self.value, self.older = version, value, older


class _Latest(dict[K, V]):
    """A map as committed now. An item set on it directly (a test forging stored state) is
    committed there and then, so units that begin afterwards see it."""

    def __init__(self, items: dict[K, V], versions: _Versioned[K, V]) -> None:
        super().__init__(items)
        self._versions = versions

    def __setitem__(self, key: K, value: V) -> None:
        self._versions.put(key, value, self._versions.version(), -1)


class _Versioned(Generic[K, V]):
    """A map's committed values by commit number; ``latest`` is the map as committed now."""

    def __init__(self, latest: dict[K, V], version: Callable[[], int]) -> None:
        self.latest = _Latest(latest, self)
        self.version = version
        self._nodes: dict[K, _Node[V]] = {k: _Node(0, v, None) for k, v in latest.items()}

    def get(self, key: K, at: int) -> V | None:
        """The value as of commit ``at``; None when the key did not exist then."""
        node = self._nodes.get(key)
        while node is not None and node.version > at:
            node = node.older
        return None if node is None else node.value

    def put(self, key: K, value: V, version: int, horizon: int) -> None:
        """Commit ``value`` at ``version``; ``horizon`` is the oldest commit an open unit reads
        at, so older values no one can read any more are dropped."""
        older = self._nodes.get(key)
        if older is not None:
            if horizon >= version:
                older = None
            elif older.version <= horizon and older.older is not None:
                older = _Node(older.version, older.value, None)
        self._nodes[key] = _Node(version, value, older)
        dict.__setitem__(self.latest, key, value)

    def known(self) -> list[K]:
        return list(self._nodes)


@dataclass
class InMemoryStore:
    """The committed state, shared by every unit of work made on it. The public fields are
    the state as committed now (read them, never write them); units read the versioned
    indexes beside them."""

    orders: dict[ClientOrderId, Order] = field(default_factory=dict)
    fills: dict[tuple[Venue, TradeId], Fill] = field(default_factory=dict)
    entries: dict[AccountId, list[LedgerEntry]] = field(default_factory=dict)
    heads: dict[AccountId, ChainHead] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    journal: list[JournalRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._readers: dict[int, int] = {}  # open units by the commit they read at
        now = self._now
        self._orders = _Versioned(self.orders, now)
        self._fills = _Versioned(self.fills, now)
        self._heads = _Versioned(self.heads, now)
        self._sequences = _Versioned(self.sequences, now)
        self.orders, self.fills = self._orders.latest, self._fills.latest
        self.heads, self.sequences = self._heads.latest, self._sequences.latest
        self._order_ids: dict[AccountId, list[ClientOrderId]] = {}
        for coid, order in self.orders.items():
            self._order_ids.setdefault(order.account_id, []).append(coid)
        self._fills_of: dict[ClientOrderId, list[tuple[Venue, TradeId]]] = {}
        for key, fill in self.fills.items():
            self._fills_of.setdefault(fill.client_order_id, []).append(key)
        self._entry_ids: dict[tuple[AccountId, LedgerEntryId], LedgerEntry] = {
            (e.account_id, e.entry_id): e for chain in self.entries.values() for e in chain
        }
        self._keys: dict[tuple[AccountId, str], JournalRecord] = {}
        self._records: dict[AccountId, list[JournalRecord]] = {}
        for record in self.journal:
            self._index(record)

    def _now(self) -> int:
        return self._version

    def _index(self, record: JournalRecord) -> None:
        if record.key is not None:
            self._keys[record.account_id, record.key] = record
        self._records.setdefault(record.account_id, []).append(record)

    # -- units --------------------------------------------------------------------------------

    def _open(self) -> _State:
        with self._lock:
            at = self._version
            self._readers[at] = self._readers.get(at, 0) + 1
            return _State(self, at, len(self.journal))

    def _close(self, state: _State) -> None:
        with self._lock:
            self._leave(state.at)

    def _leave(self, at: int) -> None:
        left = self._readers[at] - 1
        if left:
            self._readers[at] = left
        else:
            del self._readers[at]

    def _commit(self, state: _State) -> _State:
        """Publish ``state``'s writes as the next commit (replayed first on the store as it
        is now when another unit committed since ``state`` began); a unit state for what
        follows in the same unit."""
        with self._lock:
            began = state.at
            if began != self._version:
                replayed = _State(self, self._version, len(self.journal))
                _replay(state.log, replayed)
                state = replayed
            self._leave(began)
            self._publish(state)
            at = self._version
            self._readers[at] = self._readers.get(at, 0) + 1
            return _State(self, at, len(self.journal))

    def _publish(self, state: _State) -> None:
        version = self._version + 1
        horizon = min(self._readers, default=_NO_READER)
        for coid, order in state.orders.items():
            if coid not in self.orders:
                self._order_ids.setdefault(order.account_id, []).append(coid)
            self._orders.put(coid, order, version, horizon)
        for key, fill in state.fills.items():
            self._fills.put(key, fill, version, horizon)
            self._fills_of.setdefault(fill.client_order_id, []).append(key)
        for account, chain in state.entries.items():
            self.entries.setdefault(account, []).extend(chain)
            for entry in chain:
                self._entry_ids[account, entry.entry_id] = entry
        for account, head in state.heads.items():
            self._heads.put(account, head, version, horizon)
        for name, value in state.sequences.items():
            self._sequences.put(name, value, version, horizon)
        self.journal.extend(state.journal)
        for record in state.journal:
            self._index(record)
        self._version = version


_Write = tuple[str, tuple[object, ...], object]  # method, arguments, result


class _State:
    """What one unit sees: the store as of commit ``at`` with the unit's own writes on top."""

    __slots__ = (
        "at",
        "entries",
        "fills",
        "heads",
        "journal",
        "journal_len",
        "keys",
        "log",
        "orders",
        "sequences",
        "store",
    )

    def __init__(self, store: InMemoryStore, at: int, journal_len: int) -> None:
        self.store, self.at, self.journal_len = store, at, journal_len
        self.orders: dict[ClientOrderId, Order] = {}
        self.fills: dict[tuple[Venue, TradeId], Fill] = {}
        self.entries: dict[AccountId, list[LedgerEntry]] = {}
        self.heads: dict[AccountId, ChainHead] = {}
        self.sequences: dict[str, int] = {}
        self.journal: list[JournalRecord] = []
        self.keys: dict[tuple[AccountId, str], JournalRecord] = {}
        self.log: list[_Write] = []

    # -- orders ------------------------------------------------------------------------------

    def order(self, coid: ClientOrderId) -> Order | None:
        """The unit's own (shared) object: copy before it leaves the store."""
        found = self.orders.get(coid)
        return found if found is not None else self.store._orders.get(coid, self.at)

    def add_order(self, order: Order) -> None:
        if self.order(order.client_order_id) is not None:
            raise DuplicateClientOrderIdError(
                f"client order id {order.client_order_id} is taken; ids are never reused"
            )
        self.orders[order.client_order_id] = order

    def update_order(self, order: Order) -> None:
        if self.order(order.client_order_id) is None:
            raise KeyError(f"order {order.client_order_id} is not stored; add it first")
        self.orders[order.client_order_id] = order

    # -- fills -------------------------------------------------------------------------------

    def fill(self, key: tuple[Venue, TradeId]) -> Fill | None:
        found = self.fills.get(key)
        return found if found is not None else self.store._fills.get(key, self.at)

    def add_fill(self, fill: Fill) -> bool:
        known = self.fill(fill.key)
        if known is not None:
            if known.same_execution(fill):
                return False
            raise ConflictingFillError(
                f"trade {fill.trade_id} at {fill.venue} was stored with different data"
            )
        self.fills[fill.key] = fill
        return True

    # -- ledger ------------------------------------------------------------------------------

    def head(self, account_id: AccountId) -> ChainHead | None:
        found = self.heads.get(account_id)
        return found if found is not None else self.store._heads.get(account_id, self.at)

    def stored_chain(self, account_id: AccountId) -> list[LedgerEntry]:
        """The account's entries committed as of ``at`` (a slice: the list grows meanwhile)."""
        head = self.store._heads.get(account_id, self.at)
        if head is None:
            return []
        return self.store.entries[account_id][: head.seq]

    def find_entry(self, account_id: AccountId, entry_id: LedgerEntryId) -> LedgerEntry | None:
        for entry in self.entries.get(account_id, ()):
            if entry.entry_id == entry_id:
                return entry
        found = self.store._entry_ids.get((account_id, entry_id))
        if found is None:
            return None
        head = self.store._heads.get(account_id, self.at)
        return found if head is not None and found.seq <= head.seq else None

    def append_entry(self, entry: LedgerEntry) -> None:
        head = self.head(entry.account_id)
        expected = (head.seq + 1) if head else 1
        if entry.seq != expected or (head is not None and entry.prev_hash != head.hash):
            raise ChainConflictError(f"{entry.label()} does not follow the stored head")
        if self.find_entry(entry.account_id, entry.entry_id) is not None:
            raise ChainConflictError(f"{entry.label()}: entry id {entry.entry_id} is taken")
        self.entries.setdefault(entry.account_id, []).append(entry)
        self.heads[entry.account_id] = ChainHead(entry.seq, entry.hash)

    def accounts(self) -> list[AccountId]:
        heads = self.store._heads
        known = {a for a in heads.known() if heads.get(a, self.at) is not None}
        return sorted(known | set(self.heads), key=lambda a: a.value)

    # -- sequences and the journal -----------------------------------------------------------

    def next_value(self, name: str) -> int:
        now = self.sequences.get(name)
        if now is None:
            now = self.store._sequences.get(name, self.at) or 0
        self.sequences[name] = now + 1
        return now + 1

    def find_record(self, account_id: AccountId, key: str) -> JournalRecord | None:
        found = self.keys.get((account_id, key))
        if found is not None:
            return found
        found = self.store._keys.get((account_id, key))
        return found if found is not None and found.seq <= self.journal_len else None

    def append_record(self, record: JournalRecord) -> JournalRecord:
        if record.key is not None and self.find_record(record.account_id, record.key):
            raise StorageError(f"{record.account_id}: key {record.key!r} is already journaled")
        seq = self.journal_len + len(self.journal) + 1
        stored = JournalRecord(
            record.account_id, record.kind, record.ts, record.payload, record.key, seq
        )
        self.journal.append(stored)
        if stored.key is not None:
            self.keys[stored.account_id, stored.key] = stored
        return stored

    def stored_records(self, account_id: AccountId) -> list[JournalRecord]:
        records = self.store._records.get(account_id, [])
        size = bisect.bisect_right(records, self.journal_len, key=lambda r: r.seq)
        return records[:size]


def _replay(log: list[_Write], state: _State) -> None:
    for method, args, result in log:
        again = getattr(state, method)(*args)
        if again != result:
            raise StorageError(
                f"commit conflict: {method} gave {result!r} in this unit of work, "
                f"{again!r} against the store as committed meanwhile"
            )


class _Repository:
    __slots__ = ("_unit",)

    def __init__(self, unit: InMemoryUnitOfWork) -> None:
        self._unit = unit

    def _state(self) -> _State:
        state = self._unit._state
        if state is None:
            raise RuntimeError("a unit of work is used inside its `with` block only")
        return state

    def _write(self, method: str, *args: object) -> object:
        state = self._state()
        result = getattr(state, method)(*args)
        state.log.append((method, args, result))
        return result


class _Orders(_Repository):
    __slots__ = ()

    def add(self, order: Order) -> None:
        self._write("add_order", order.clone())

    def update(self, order: Order) -> None:
        self._write("update_order", order.clone())

    def get(self, client_order_id: ClientOrderId) -> Order | None:
        found = self._state().order(client_order_id)
        return found.clone() if found is not None else None

    def latest(
        self, limit: int, account_id: AccountId | None = None, open_only: bool = False
    ) -> list[Order]:
        return self.list(account_id, open_only)[::-1][: check_limit(limit)]

    def list(self, account_id: AccountId | None = None, open_only: bool = False) -> list[Order]:
        state = self._state()
        store = state.store
        if account_id is None:
            known = store._orders.known()
        else:
            known = list(store._order_ids.get(account_id, ()))
        seen = set(known)
        known.extend(c for c in state.orders if c not in seen)
        found = []
        for coid in known:
            order = state.order(coid)
            if (
                order is not None
                and account_id in (None, order.account_id)
                and (not open_only or order.status.is_open)
            ):
                found.append(order.clone())
        return sorted(found, key=lambda o: (o.created_at, o.client_order_id.value))


class _Fills(_Repository):
    __slots__ = ()

    def add(self, fill: Fill) -> bool:
        return bool(self._write("add_fill", fill))

    def for_order(self, client_order_id: ClientOrderId) -> list[Fill]:
        state = self._state()
        keys = list(state.store._fills_of.get(client_order_id, ()))
        keys.extend(k for k, f in state.fills.items() if f.client_order_id == client_order_id)
        found = [f for k in dict.fromkeys(keys) if (f := state.fill(k)) is not None]
        return sorted(found, key=lambda f: (f.ts, f.trade_id.value))

    def latest(self, limit: int, account_id: AccountId | None = None) -> list[Fill]:
        return self.list(account_id)[::-1][: check_limit(limit)]

    def list(self, account_id: AccountId | None = None) -> list[Fill]:
        state = self._state()
        keys = state.store._fills.known()
        keys.extend(k for k in state.fills if k not in state.store.fills)
        found = [
            f
            for k in keys
            if (f := state.fill(k)) is not None and account_id in (None, f.account_id)
        ]
        return sorted(found, key=lambda f: (f.ts, f.venue.value, f.trade_id.value))


class _Ledger(_Repository):
    __slots__ = ()

    def head(self, account_id: AccountId) -> ChainHead | None:
        return self._state().head(account_id)

    def heads(self) -> dict[AccountId, ChainHead]:
        state = self._state()
        found = {a: h for a in state.store._heads.known() if (h := state.head(a)) is not None}
        found.update(state.heads)
        return found

    def append(self, entry: LedgerEntry) -> None:
        self._write("append_entry", entry)

    def entries(
        self, account_id: AccountId | None = None, after_seq: int = 0
    ) -> Iterator[LedgerEntry]:
        state = self._state()
        accounts = state.accounts() if account_id is None else [account_id]
        for acct in accounts:
            stored = state.stored_chain(acct)
            yield from stored[after_seq:]
            yield from (e for e in state.entries.get(acct, ()) if e.seq > after_seq)

    def latest(self, limit: int, account_id: AccountId | None = None) -> list[LedgerEntry]:
        check_limit(limit)
        if account_id is not None:
            return list(self.entries(account_id))[::-1][:limit]
        newest = sorted(self.entries(), key=lambda e: (e.ts, e.account_id.value, e.seq))
        return newest[::-1][:limit]

    def find(self, account_id: AccountId, entry_id: LedgerEntryId) -> LedgerEntry | None:
        return self._state().find_entry(account_id, entry_id)

    def accounts(self) -> list[AccountId]:
        return self._state().accounts()


class _Sequences(_Repository):
    __slots__ = ()

    def next(self, name: str) -> int:
        value = self._write("next_value", name)
        assert isinstance(value, int)
        return value


class _Journal(_Repository):
    __slots__ = ()

    def append(self, record: JournalRecord) -> JournalRecord:
        stored = self._write("append_record", record)
        assert isinstance(stored, JournalRecord)
        return stored

    def append_many(self, records: Sequence[JournalRecord]) -> None:
        for record in records:
            self.append(record)

    def find(self, account_id: AccountId, key: str) -> JournalRecord | None:
        return self._state().find_record(account_id, key)

    def find_many(self, account_id: AccountId, keys: Sequence[str]) -> dict[str, JournalRecord]:
        state = self._state()
        found = ((key, state.find_record(account_id, key)) for key in keys)
        return {key: record for key, record in found if record is not None}

    def records(self, account_id: AccountId, kind: str | None = None) -> list[JournalRecord]:
        state = self._state()
        found = state.stored_records(account_id)
        found.extend(r for r in state.journal if r.account_id == account_id)
        return [r for r in found if kind is None or r.kind == kind]


class InMemoryUnitOfWork:
    """Reads the store as of the commit it began at, writes privately; :meth:`commit`
    publishes its writes (replayed with their checks when the store moved on meanwhile)."""

    orders: _Orders
    fills: _Fills
    ledger: _Ledger
    sequences: _Sequences
    journal: _Journal

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._state: _State | None = None
        self.orders, self.fills, self.ledger = _Orders(self), _Fills(self), _Ledger(self)
        self.sequences, self.journal = _Sequences(self), _Journal(self)

    def __enter__(self) -> Self:
        if self._state is not None:
            self._store._close(self._state)
        self._state = self._store._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state is not None:
            self._store._close(self._state)
            self._state = None

    def commit(self) -> None:
        if self._state is None:
            raise RuntimeError("commit() outside a `with` block")
        state, self._state = self._state, None
        try:
            following = self._store._commit(state)
        except BaseException:
            self._state = state  # still open: the caller's `with` closes it
            raise
        self._state = following

    def rollback(self) -> None:
        if self._state is None:
            raise RuntimeError("rollback() outside a `with` block")
        self._store._close(self._state)
        self._state = self._store._open()


class DirectUnitOfWork(InMemoryUnitOfWork):
    """The unit of work of a backtest (one thread). It once wrote straight to the store to
    avoid copying it; no unit copies the store any more, so it is an in-memory unit."""
