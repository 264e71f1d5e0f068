"""SQL repositories: each works on the connection (and so the transaction) of its unit of work."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from algodesk.adapters.storage.sql import codec
from algodesk.adapters.storage.sql.prepared import Prepared
from algodesk.adapters.storage.sql.tables import (
    fills,
    journal,
    ledger_entries,
    ledger_heads,
    ledger_postings,
    orders,
    sequences,
)
from algodesk.domain.fills import Fill
from algodesk.domain.identifiers import AccountId, ClientOrderId, LedgerEntryId, TradeId, Venue
from algodesk.domain.ledger.entries import LedgerEntry
from algodesk.domain.ledger.verify import ChainHead
from algodesk.domain.orders import ConflictingFillError, Order, OrderStatus
from algodesk.ports.storage import (
    ChainConflictError,
    DuplicateClientOrderIdError,
    JournalRecord,
    StorageError,
    check_limit,
)

__all__ = [
    "SqlFillRepository",
    "SqlJournal",
    "SqlLedgerRepository",
    "SqlOrderRepository",
    "SqlSequences",
]

_OPEN = [s.value for s in OrderStatus if s.is_open]
_BATCH = 5000
#: Keys per ``IN (...)`` list (far below SQLite's and PostgreSQL's limits on bound parameters).
_IN_CHUNK = 500

_K = TypeVar("_K")


def _chunks(keys: Sequence[_K]) -> Iterator[Sequence[_K]]:
    for start in range(0, len(keys), _IN_CHUNK):
        yield keys[start : start + _IN_CHUNK]


# The statements a trade runs, built once: SQLAlchemy then reuses their compiled form instead
# of building and keying a new statement on every call; those a trade runs every time are
# Prepared (compiled once, run on the DBAPI cursor: see prepared.py). Bound names that are not
# column names mark the WHERE values; an UPDATE's SET columns are the other keys of its
# parameters.
_bind = sa.bindparam
_ORDER = Prepared(sa.select(orders).where(orders.c.client_order_id == _bind("coid")))


def _if_new(table: sa.Table, returned: sa.Column[Any]) -> sa.TextualSelect:
    """An INSERT that skips a row whose key is taken (no error, so the transaction goes on)
    and returns ``returned`` of a stored row: no row returned, nothing stored. The same text
    on SQLite and PostgreSQL (``ON CONFLICT DO NOTHING``), written out because SQLAlchemy
    compiles the dialects' own upsert constructs anew on every call; the columns' types
    still convert the values (every column but an autoincremented key)."""
    columns = [c for c in table.columns if c.autoincrement is not True]
    names = ", ".join(f'"{c.name}"' for c in columns)
    values = ", ".join(f":{c.name}" for c in columns)
    sql = (  # names from our own table definitions; the values are bound
        f'INSERT INTO "{table.name}" ({names}) VALUES ({values}) '  # noqa: S608
        f'ON CONFLICT DO NOTHING RETURNING "{returned.name}"'
    )
    binds = [sa.bindparam(c.name, type_=c.type) for c in columns]
    return sa.text(sql).bindparams(*binds).columns(returned)


_ORDER_INSERT = Prepared(_if_new(orders, orders.c.client_order_id))
_ORDER_UPDATE = Prepared(sa.update(orders).where(orders.c.client_order_id == _bind("w_coid")))
_FILL = sa.select(fills).where(
    fills.c.venue == _bind("w_venue"), fills.c.trade_id == _bind("w_trade")
)
_FILL_INSERT = Prepared(_if_new(fills, fills.c.trade_id))
_FILLS_OF_ORDER = (
    sa.select(fills)
    .where(fills.c.client_order_id == _bind("coid"))
    .order_by(fills.c.ts, fills.c.trade_id)
)
_HEAD = sa.select(ledger_heads.c.seq, ledger_heads.c.hash).where(
    ledger_heads.c.account_id == _bind("account")
)
_HEAD_INSERT = Prepared(sa.insert(ledger_heads))
_HEAD_MOVE = Prepared(
    sa.update(ledger_heads).where(
        ledger_heads.c.account_id == _bind("w_account"),
        ledger_heads.c.seq == _bind("w_seq"),
        ledger_heads.c.hash == _bind("w_hash"),
    )
)
_ENTRY_INSERT = Prepared(sa.insert(ledger_entries))
_POSTINGS_INSERT = Prepared(sa.insert(ledger_postings))
_ENTRY_FIND = sa.select(ledger_entries).where(
    ledger_entries.c.account_id == _bind("account"),
    ledger_entries.c.entry_id == _bind("entry_id"),
)
_ENTRY_POSTINGS = (
    sa.select(ledger_postings)
    .where(
        ledger_postings.c.account_id == _bind("account"), ledger_postings.c.seq == _bind("w_seq")
    )
    .order_by(ledger_postings.c.idx)
)
_SEQUENCE_NEXT = Prepared(
    sa.update(sequences)
    .where(sequences.c.name == _bind("w_name"))
    .values(value=sequences.c.value + 1)
    .returning(sequences.c.value)
)
_SEQUENCE_INSERT = Prepared(sa.insert(sequences))
_JOURNAL_INSERT = Prepared(_if_new(journal, journal.c.seq))
_JOURNAL_INSERT_MANY = Prepared(sa.insert(journal))
_JOURNAL_FIND = Prepared(
    sa.select(journal).where(
        journal.c.account_id == _bind("account"), journal.c.key == _bind("w_key")
    )
)


#: The journal look-up of N keys at once, by N (kept for the few counts callers use).
_JOURNAL_FIND_MANY: dict[int, Prepared] = {}


def _journal_find_many(count: int) -> Prepared:
    found = _JOURNAL_FIND_MANY.get(count)
    if found is None:
        keys: list[sa.BindParameter[str]] = [_bind(f"w_key{n}") for n in range(count)]
        where = (journal.c.account_id == _bind("account"), journal.c.key.in_(keys))
        found = Prepared(sa.select(journal).where(*where))
        if count <= 4:
            _JOURNAL_FIND_MANY[count] = found
    return found


class SqlFillRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def _get(self, venue: Venue, trade_id: TradeId) -> Fill | None:
        found = self._conn.execute(_FILL, {"w_venue": venue.value, "w_trade": trade_id.value})
        row = found.mappings().first()
        return codec.fill_from_row(row) if row else None

    def add(self, fill: Fill) -> bool:
        if _FILL_INSERT.execute(self._conn, codec.fill_row(fill)).returned() is not None:
            return True
        known = self._get(fill.venue, fill.trade_id)  # the trade is known: the same one?
        if known is None:  # pragma: no cover - the insert skipped a row that exists
            raise StorageError(f"trade {fill.trade_id} at {fill.venue} was neither new nor known")
        if known.same_execution(fill):
            return False
        raise ConflictingFillError(
            f"trade {fill.trade_id} at {fill.venue} was stored as {known.side} "
            f"{known.quantity} @ {known.price} for {known.client_order_id}, now reported as "
            f"{fill.side} {fill.quantity} @ {fill.price} for {fill.client_order_id}"
        )

    def for_order(self, client_order_id: ClientOrderId) -> list[Fill]:
        found = self._conn.execute(_FILLS_OF_ORDER, {"coid": client_order_id.value})
        return [codec.fill_from_row(r) for r in found.mappings()]

    def latest(self, limit: int, account_id: AccountId | None = None) -> list[Fill]:
        f = fills.c
        query = (
            sa.select(fills)
            .order_by(f.ts.desc(), f.venue.desc(), f.trade_id.desc())
            .limit(check_limit(limit))
        )
        if account_id is not None:
            query = query.where(f.account_id == account_id.value)
        return [codec.fill_from_row(r) for r in self._conn.execute(query).mappings()]

    def of_orders(self, coids: Collection[str]) -> dict[str, list[Fill]]:
        """The fills of the orders ``coids``, by order (as :meth:`for_order` orders them)."""
        found: dict[str, list[Fill]] = {coid: [] for coid in coids}
        for chunk in _chunks(sorted(coids)):
            query = (
                sa.select(fills)
                .where(fills.c.client_order_id.in_(chunk))
                .order_by(fills.c.client_order_id, fills.c.ts, fills.c.trade_id)
            )
            for row in self._conn.execute(query).mappings():
                found[row["client_order_id"]].append(codec.fill_from_row(row))
        return found

    def list(self, account_id: AccountId | None = None) -> list[Fill]:
        query = sa.select(fills).order_by(fills.c.ts, fills.c.venue, fills.c.trade_id)
        if account_id is not None:
            query = query.where(fills.c.account_id == account_id.value)
        return [codec.fill_from_row(r) for r in self._conn.execute(query).mappings()]


class SqlOrderRepository:
    def __init__(self, conn: sa.Connection, fill_repo: SqlFillRepository) -> None:
        self._conn = conn
        self._fills = fill_repo

    def add(self, order: Order) -> None:
        row = codec.order_row(order)
        if _ORDER_INSERT.execute(self._conn, row).returned() is None:
            raise DuplicateClientOrderIdError(
                f"client order id {order.client_order_id} is taken; ids are never reused"
            )

    def update(self, order: Order) -> None:
        row = codec.order_row(order)
        coid = row.pop("client_order_id")
        if _ORDER_UPDATE.execute(self._conn, {"w_coid": coid, **row}).rowcount != 1:
            raise KeyError(f"order {coid} is not stored; add it first")

    def get(self, client_order_id: ClientOrderId) -> Order | None:
        row = _ORDER.first(self._conn, {"coid": client_order_id.value})
        if row is None:
            return None
        return codec.order_from_row(row, self._fills.for_order(client_order_id))

    def latest(
        self, limit: int, account_id: AccountId | None = None, open_only: bool = False
    ) -> list[Order]:
        o = orders.c
        query = (
            sa.select(orders)
            .order_by(o.created_at.desc(), o.client_order_id.desc())
            .limit(check_limit(limit))
        )
        if account_id is not None:
            query = query.where(o.account_id == account_id.value)
        if open_only:
            query = query.where(o.status.in_(_OPEN))
        rows = list(self._conn.execute(query).mappings())
        of = self._fills.of_orders([r["client_order_id"] for r in rows])  # one read, not N
        return [codec.order_from_row(r, of[r["client_order_id"]]) for r in rows]

    def list(self, account_id: AccountId | None = None, open_only: bool = False) -> list[Order]:
        query = sa.select(orders).order_by(orders.c.created_at, orders.c.client_order_id)
        if account_id is not None:
            query = query.where(orders.c.account_id == account_id.value)
        if open_only:
            query = query.where(orders.c.status.in_(_OPEN))
        rows = list(self._conn.execute(query).mappings())
        return [
            codec.order_from_row(r, self._fills.for_order(ClientOrderId(r["client_order_id"])))
            for r in rows
        ]


class SqlLedgerRepository:
    """Within one transaction a chain's head is read once: later reads return it as read or
    as this transaction moved it (an engine's order reads it three times).

    The stored head is moved once per transaction, at :meth:`flush` (the unit's commit; reads
    of the heads in the meantime see the moves to come), from
    the head this transaction first read to its last entry: a batch of entries costs one
    statement, not one each. The move still compares the head it read with the stored one, so
    a writer that moved it meanwhile is refused (``ChainConflictError``, the transaction is
    rolled back); so is an entry whose place another writer took first. The unit forgets the
    heads at each commit and rollback."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._heads: dict[AccountId, ChainHead | None] = {}
        #: Chains this transaction appended to: the head as first read, and the last entry's.
        self._moves: dict[AccountId, tuple[ChainHead | None, ChainHead]] = {}

    def forget(self) -> None:
        """The transaction ended: the next read of a head goes to the database, and what was
        not flushed is dropped (a rollback took its entries)."""
        self._heads.clear()
        self._moves.clear()

    def head(self, account_id: AccountId) -> ChainHead | None:
        if account_id in self._heads:
            return self._heads[account_id]
        row = self._conn.execute(_HEAD, {"account": account_id.value}).first()
        head = self._heads[account_id] = ChainHead(int(row.seq), row.hash) if row else None
        return head

    def heads(self) -> dict[AccountId, ChainHead]:
        rows = self._conn.execute(sa.select(ledger_heads))
        stored = {AccountId(r.account_id): ChainHead(int(r.seq), r.hash) for r in rows}
        return {**stored, **{account: last for account, (_, last) in self._moves.items()}}

    def append(self, entry: LedgerEntry) -> None:
        head = self.head(entry.account_id)
        expected = (head.seq + 1) if head else 1
        if entry.seq != expected or (head is not None and entry.prev_hash != head.hash):
            raise ChainConflictError(
                f"{entry.label()} does not follow the stored head "
                f"#{head.seq if head else 0} of {entry.account_id}"
            )
        try:
            _ENTRY_INSERT.execute(self._conn, codec.entry_row(entry))
        except IntegrityError:  # the transaction is spoilt: the caller rolls back
            self._heads.pop(entry.account_id, None)
            raise ChainConflictError(
                f"{entry.label()}: another writer appended #{entry.seq} to this account's "
                f"chain, or its entry id is taken"
            ) from None
        _POSTINGS_INSERT.executemany(self._conn, codec.posting_rows(entry))
        moved = ChainHead(entry.seq, entry.hash)
        first = self._moves[entry.account_id][0] if entry.account_id in self._moves else head
        self._moves[entry.account_id] = (first, moved)
        self._heads[entry.account_id] = moved

    def flush(self) -> None:
        """Move the stored heads of the chains this transaction appended to (the unit calls
        it before committing).

        Raises:
            ChainConflictError: another writer moved or started a chain meanwhile; the
                transaction must be rolled back.
        """
        moves, self._moves = self._moves, {}
        for account_id, (first, last) in moves.items():
            self._heads.pop(account_id, None)  # read again unless the move succeeds
            if first is None:
                try:
                    _HEAD_INSERT.execute(
                        self._conn,
                        {"account_id": account_id.value, "seq": last.seq, "hash": last.hash},
                    )
                except IntegrityError:
                    raise ChainConflictError(
                        f"{account_id}: another writer started this account's chain"
                    ) from None
            else:
                ran = _HEAD_MOVE.execute(
                    self._conn,
                    {
                        "w_account": account_id.value,
                        "w_seq": first.seq,
                        "w_hash": first.hash,
                        "seq": last.seq,
                        "hash": last.hash,
                    },
                )
                if ran.rowcount != 1:
                    raise ChainConflictError(
                        f"{account_id}: another writer moved the head past #{first.seq}"
                    )
            self._heads[account_id] = last

    def _binary(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        """Order text by code point on every database, as Python compares strings."""
        collation = "C" if self._conn.dialect.name == "postgresql" else "BINARY"
        return column.collate(collation)

    def entries(
        self, account_id: AccountId | None = None, after_seq: int = 0
    ) -> Iterator[LedgerEntry]:
        e, p = ledger_entries.c, ledger_postings.c
        entry_q = sa.select(ledger_entries).order_by(self._binary(e.account_id), e.seq)
        posting_q = sa.select(ledger_postings).order_by(self._binary(p.account_id), p.seq, p.idx)
        if account_id is not None:
            entry_q = entry_q.where(e.account_id == account_id.value, e.seq > after_seq)
            posting_q = posting_q.where(p.account_id == account_id.value, p.seq > after_seq)
        # Two streams in the same order, merged on (account, seq); postings whose entry is gone
        # are skipped (verification reports the missing entry).
        entry_result = self._conn.execute(entry_q.execution_options(yield_per=_BATCH))
        posting_result = self._conn.execute(posting_q.execution_options(yield_per=_BATCH))
        try:
            postings = iter(posting_result.mappings())
            current = next(postings, None)
            for row in entry_result.mappings():
                key = (row["account_id"], int(row["seq"]))
                while current is not None and (current["account_id"], int(current["seq"])) < key:
                    current = next(postings, None)
                mine = []
                while current is not None and (current["account_id"], int(current["seq"])) == key:
                    mine.append(current)
                    current = next(postings, None)
                yield codec.entry_from_row(row, mine)
        finally:  # server-side cursors on PostgreSQL: close them even when abandoned early
            entry_result.close()
            posting_result.close()

    def latest(self, limit: int, account_id: AccountId | None = None) -> list[LedgerEntry]:
        e, p = ledger_entries.c, ledger_postings.c
        query = sa.select(ledger_entries).limit(check_limit(limit))
        if account_id is not None:
            query = query.where(e.account_id == account_id.value).order_by(e.seq.desc())
        else:
            query = query.order_by(e.ts.desc(), self._binary(e.account_id).desc(), e.seq.desc())
        rows = list(self._conn.execute(query).mappings())
        postings: dict[tuple[str, int], list[sa.RowMapping]] = {
            (r["account_id"], int(r["seq"])): [] for r in rows
        }
        by_account: dict[str, list[int]] = {}
        for account, seq in postings:
            by_account.setdefault(account, []).append(seq)
        for account, seqs in by_account.items():  # by the primary key, not a scan
            for chunk in _chunks(sorted(seqs)):
                query_p = (
                    sa.select(ledger_postings)
                    .where(p.account_id == account, p.seq.in_(chunk))
                    .order_by(p.seq, p.idx)
                )
                for row in self._conn.execute(query_p).mappings():
                    postings[(account, int(row["seq"]))].append(row)
        return [codec.entry_from_row(r, postings[(r["account_id"], int(r["seq"]))]) for r in rows]

    def find(self, account_id: AccountId, entry_id: LedgerEntryId) -> LedgerEntry | None:
        account = account_id.value
        found = self._conn.execute(_ENTRY_FIND, {"account": account, "entry_id": entry_id.value})
        row = found.mappings().first()
        if row is None:
            return None
        postings = self._conn.execute(
            _ENTRY_POSTINGS, {"account": account, "w_seq": row["seq"]}
        ).mappings()
        return codec.entry_from_row(row, postings)

    def accounts(self) -> list[AccountId]:
        rows = self._conn.execute(
            sa.select(ledger_heads.c.account_id).order_by(ledger_heads.c.account_id)
        )
        stored = [AccountId(r.account_id) for r in rows]
        started = [a for a, (first, _) in self._moves.items() if first is None]
        return sorted([*stored, *started], key=str) if started else stored


class SqlSequences:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def next(self, name: str) -> int:
        moved = _SEQUENCE_NEXT.execute(self._conn, {"w_name": name}).returned()
        if moved is not None:
            return int(moved[0])
        _SEQUENCE_INSERT.execute(self._conn, {"name": name, "value": 1})
        return 1


def _journal_row(record: JournalRecord) -> dict[str, object]:
    return {
        "account_id": record.account_id.value,
        "kind": record.kind,
        "key": record.key,
        "ts": record.ts,
        "payload": json.dumps(record.payload, sort_keys=True, separators=(",", ":")),
    }


class SqlJournal:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def append(self, record: JournalRecord) -> JournalRecord:
        row = _journal_row(record)
        # A taken key (unique index) skips the row, also when another writer journaled it
        # first: no error spoils the transaction.
        stored = _JOURNAL_INSERT.execute(self._conn, row).returned()
        if stored is None:
            raise StorageError(f"{record.account_id}: key {record.key!r} is already journaled")
        return JournalRecord(
            record.account_id, record.kind, record.ts, record.payload, record.key, int(stored[0])
        )

    def append_many(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        try:  # one statement for all (executemany; one round trip on PostgreSQL)
            _JOURNAL_INSERT_MANY.executemany(self._conn, [_journal_row(r) for r in records])
        except IntegrityError:  # a taken key (unique index): the transaction is spoilt
            keys = [r.key for r in records if r.key is not None]
            raise StorageError(f"one of the keys {keys!r} is already journaled") from None

    def _record(self, row: Mapping[Any, Any]) -> JournalRecord:
        return JournalRecord(
            account_id=AccountId(row["account_id"]),
            kind=row["kind"],
            ts=row["ts"],
            payload=json.loads(row["payload"]),
            key=row["key"],
            seq=int(row["seq"]),
        )

    def find(self, account_id: AccountId, key: str) -> JournalRecord | None:
        row = _JOURNAL_FIND.first(self._conn, {"account": account_id.value, "w_key": key})
        return self._record(row) if row else None

    def find_many(self, account_id: AccountId, keys: Sequence[str]) -> dict[str, JournalRecord]:
        if not keys:
            return {}
        params = {f"w_key{n}": key for n, key in enumerate(keys)}
        params["account"] = account_id.value
        rows = _journal_find_many(len(keys)).all(self._conn, params)
        return {row["key"]: self._record(row) for row in rows}

    def records(self, account_id: AccountId, kind: str | None = None) -> list[JournalRecord]:
        query = sa.select(journal).where(journal.c.account_id == account_id.value)
        if kind is not None:
            query = query.where(journal.c.kind == kind)
        rows = self._conn.execute(query.order_by(journal.c.seq)).mappings()
        return [self._record(r) for r in rows]
