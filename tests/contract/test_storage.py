"""The storage contract: every adapter (memory, SQLite, PostgreSQL) passes the same tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.domain.events import OrderAccepted, OrderFilled, OrderPendingCancel, OrderSubmitted
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, ClientOrderId, LedgerEntryId, VenueOrderId
from algodesk.domain.ledger import booking
from algodesk.domain.ledger.chain import GENESIS_HASH, seal
from algodesk.domain.ledger.verify import ChainHead, verify
from algodesk.domain.orders import ConflictingFillError, Order, OrderStatus, OrderType, TimeInForce
from algodesk.domain.values import Currency, money, price, quantity
from algodesk.ports.storage import ChainConflictError, DuplicateClientOrderIdError, UnitOfWork
from tests.conftest import AAPL, ACCOUNT, T0, make_fill

UowFactory = Callable[[], UnitOfWork]


def _order(coid: str = "ORD1", **kw: object) -> Order:
    args: dict[str, object] = {
        "client_order_id": ClientOrderId(coid),
        "account_id": ACCOUNT,
        "instrument_id": AAPL.id,
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": quantity("10"),
        "price": price("100.25"),
        "created_at": T0,
    }
    args.update(kw)
    return Order.create(**args)  # type: ignore[arg-type]


def test_an_order_round_trips_with_its_state(uow_factory: UowFactory) -> None:
    order = _order(time_in_force=TimeInForce.GTD, expire_time=T0 + timedelta(days=1))
    order.apply(OrderSubmitted(client_order_id=order.client_order_id, ts=T0))
    order.apply(
        OrderAccepted(
            client_order_id=order.client_order_id, ts=T0, venue_order_id=VenueOrderId("V-1")
        )
    )
    fill = make_fill(1, OrderSide.BUY, "4", "100.25", coid="ORD1")
    order.apply(OrderFilled(client_order_id=order.client_order_id, ts=fill.ts, fill=fill))
    order.apply(OrderPendingCancel(client_order_id=order.client_order_id, ts=fill.ts))
    with uow_factory() as uow:
        uow.orders.add(order)
        uow.fills.add(fill)
        uow.commit()
    with uow_factory() as uow:
        back = uow.orders.get(order.client_order_id)
    assert back is not None
    assert back.status is OrderStatus.PENDING_CANCEL
    assert back.pending_from == [OrderStatus.PARTIALLY_FILLED]
    assert back.filled_quantity == quantity("4")
    assert back.avg_fill_price == price("100.25")
    assert back.venue_order_ids == [VenueOrderId("V-1")]
    assert back.expire_time == T0 + timedelta(days=1)
    assert list(back.fills) == [fill.key]
    # The restored order still dedupes the fill it had.
    assert (
        back.apply(OrderFilled(client_order_id=order.client_order_id, ts=fill.ts, fill=fill))
        is False
    )


def test_client_order_ids_are_never_reused(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.orders.add(_order())
        uow.commit()
    with uow_factory() as uow, pytest.raises(DuplicateClientOrderIdError, match="ORD1"):
        uow.orders.add(_order())


def test_a_refused_duplicate_leaves_the_unit_usable(uow_factory: UowFactory) -> None:
    """A taken order id or journal key is refused without spoiling the transaction (on
    PostgreSQL a failed statement would abort it): the unit's other writes still commit."""
    from algodesk.ports.storage import JournalRecord, StorageError

    with uow_factory() as uow:
        uow.orders.add(_order())
        uow.journal.append(JournalRecord(ACCOUNT, "SubmitOrder", T0, {}, key="k"))
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(DuplicateClientOrderIdError):
            uow.orders.add(_order())
        with pytest.raises(StorageError, match="'k'"):
            uow.journal.append(JournalRecord(ACCOUNT, "SubmitOrder", T0, {}, key="k"))
        uow.orders.add(_order("ORD2"))
        uow.journal.append(JournalRecord(ACCOUNT, "SubmitOrder", T0, {}, key="k2"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.orders.get(ClientOrderId("ORD2")) is not None
        assert [r.key for r in uow.journal.records(ACCOUNT)] == ["k", "k2"]


def test_open_orders_are_listed_per_account(uow_factory: UowFactory) -> None:
    working = _order("W1")
    working.apply(OrderSubmitted(client_order_id=working.client_order_id, ts=T0))
    with uow_factory() as uow:
        uow.orders.add(working)
        uow.orders.add(_order("N1"))
        uow.orders.add(_order("X1", account_id=AccountId("other")))
        uow.commit()
    with uow_factory() as uow:
        assert [o.client_order_id.value for o in uow.orders.list(ACCOUNT)] == ["N1", "W1"]
        assert [o.client_order_id.value for o in uow.orders.list(ACCOUNT, open_only=True)] == ["W1"]
        assert len(uow.orders.list()) == 3


def test_the_latest_orders_come_newest_first_with_their_fills(uow_factory: UowFactory) -> None:
    other = AccountId("other")
    made = [_order(f"A{n}", created_at=T0 + timedelta(minutes=n)) for n in range(1, 6)]
    made += [_order("B1", account_id=other, created_at=T0 + timedelta(minutes=3, seconds=30))]
    made += [_order(c, created_at=T0 + timedelta(minutes=9)) for c in ("T1", "T2")]  # a tie
    made[1].apply(OrderSubmitted(client_order_id=made[1].client_order_id, ts=T0))  # A2 works
    fills = [make_fill(n, qty="2", coid="A2") for n in (1, 2)]
    for fill in fills:
        made[1].apply(OrderFilled(client_order_id=made[1].client_order_id, ts=fill.ts, fill=fill))
    with uow_factory() as uow:
        for order in made:
            uow.orders.add(order)
        for fill in fills:
            uow.fills.add(fill)
        uow.commit()
    with uow_factory() as uow:
        newest = uow.orders.latest(5)
        mine = uow.orders.latest(3, ACCOUNT)
        working = uow.orders.latest(10, open_only=True)
        assert uow.orders.latest(0) == []
        with pytest.raises(ValueError, match="-1"):
            uow.orders.latest(-1)
    assert [o.client_order_id.value for o in newest] == ["T2", "T1", "A5", "A4", "B1"]
    assert [o.client_order_id.value for o in mine] == ["T2", "T1", "A5"]
    assert [o.client_order_id.value for o in working] == ["A2"]
    assert working[0].filled_quantity == quantity("4")
    assert list(working[0].fills) == [f.key for f in fills]


def test_the_latest_fills_come_newest_first(uow_factory: UowFactory) -> None:
    fills = [make_fill(n) for n in (3, 1, 2)]
    fills.append(make_fill(4, account=AccountId("other")))
    with uow_factory() as uow:
        for fill in fills:
            uow.fills.add(fill)
        uow.commit()
    with uow_factory() as uow:
        assert [f.trade_id.value for f in uow.fills.latest(3)] == ["T4", "T3", "T2"]
        assert uow.fills.latest(2, ACCOUNT) == [fills[0], fills[2]]
        assert uow.fills.latest(0) == []
        with pytest.raises(ValueError, match="-2"):
            uow.fills.latest(-2)


def test_fills_are_deduplicated_by_venue_trade_id(uow_factory: UowFactory) -> None:
    fill = make_fill(7, OrderSide.SELL, "1.5", "99.99", "0.01")
    with uow_factory() as uow:
        assert uow.fills.add(fill) is True
        assert uow.fills.add(fill) is False
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(ConflictingFillError, match="T7"):
            uow.fills.add(replace(fill, quantity=quantity("2")))
        assert uow.fills.list(ACCOUNT) == [fill]
        assert uow.fills.for_order(fill.client_order_id) == [fill]


def test_nothing_is_kept_without_a_commit(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.orders.add(_order())
        uow.fills.add(make_fill(1))
    with uow_factory() as uow:
        uow.fills.add(make_fill(2))
        uow.rollback()
        uow.fills.add(make_fill(3))
        uow.commit()
    with uow_factory() as uow:
        assert uow.orders.get(ClientOrderId("ORD1")) is None
        assert [f.trade_id.value for f in uow.fills.list()] == ["T3"]


def _chain(n: int, account: AccountId = ACCOUNT) -> list:
    book = booking.AccountBook(account)
    out = []
    for i in range(1, n + 1):
        new = booking.deposit(account, LedgerEntryId(f"dep:{i}"), T0, money(str(i), "USD"))
        entry = seal(new, book.head_seq + 1, book.head_hash)
        book.replay(entry)
        out.append(entry)
    return out


def test_ledger_entries_round_trip_and_verify(uow_factory: UowFactory) -> None:
    entries = _chain(3) + _chain(2, AccountId("acct-0"))
    with uow_factory() as uow:
        for e in entries:
            uow.ledger.append(e)
        uow.commit()
    with uow_factory() as uow:
        stored = list(uow.ledger.entries())
        heads = uow.ledger.heads()
        assert [(e.account_id.value, e.seq) for e in stored] == [
            ("acct-0", 1),
            ("acct-0", 2),
            ("acct-1", 1),
            ("acct-1", 2),
            ("acct-1", 3),
        ]
        assert stored[2:] == entries[:3]
        assert heads[ACCOUNT] == ChainHead(3, entries[2].hash)
        assert [e.seq for e in uow.ledger.entries(ACCOUNT, after_seq=1)] == [2, 3]
        assert uow.ledger.find(ACCOUNT, LedgerEntryId("dep:2")) == entries[1]
        assert uow.ledger.find(ACCOUNT, LedgerEntryId("nope")) is None
        assert uow.ledger.accounts() == [AccountId("acct-0"), ACCOUNT]
        assert verify(stored, heads).ok


def test_the_latest_entries_come_newest_first(uow_factory: UowFactory) -> None:
    """Of one account by sequence number; of all of them by time."""
    entries = []
    for account, minutes in ((ACCOUNT, (5, 1, 7)), (AccountId("acct-0"), (2, 6))):
        book = booking.AccountBook(account)
        for n, minute in enumerate(minutes, 1):
            new = booking.deposit(
                account,
                LedgerEntryId(f"dep:{n}"),
                T0 + timedelta(minutes=minute),
                money("1", "USD"),
            )
            entry = seal(new, book.head_seq + 1, book.head_hash)
            book.replay(entry)
            entries.append(entry)
    with uow_factory() as uow:
        for entry in entries:
            uow.ledger.append(entry)
        uow.commit()
    with uow_factory() as uow:
        assert [e.seq for e in uow.ledger.latest(2, ACCOUNT)] == [3, 2]
        newest = uow.ledger.latest(4)
        assert uow.ledger.latest(0, ACCOUNT) == []
        with pytest.raises(ValueError, match="-1"):
            uow.ledger.latest(-1)
    assert [(e.account_id.value, e.seq) for e in newest] == [
        (ACCOUNT.value, 3),  # minute 7
        ("acct-0", 2),  # 6
        (ACCOUNT.value, 1),  # 5
        ("acct-0", 1),  # 2
    ]
    assert newest[0] == entries[2]  # with its postings


def test_an_append_that_does_not_follow_the_head_is_refused(uow_factory: UowFactory) -> None:
    first, second, third = _chain(3)
    with uow_factory() as uow:
        uow.ledger.append(first)
        with pytest.raises(ChainConflictError):
            uow.ledger.append(third)  # skips #2
        uow.ledger.append(second)
        with pytest.raises(ChainConflictError):
            uow.ledger.append(second)  # #2 again
        uow.commit()
    forged = seal(
        booking.deposit(ACCOUNT, LedgerEntryId("dep:x"), T0, money("1", "USD")), 3, GENESIS_HASH
    )
    with uow_factory() as uow, pytest.raises(ChainConflictError):
        uow.ledger.append(forged)  # right number, wrong previous hash


def test_a_unit_reads_the_head_it_moved_and_after_a_commit_the_stored_one(
    migrated_engine: sa.Engine,
) -> None:
    """A SQL unit's next transaction sees other writers' commits (the in-memory store's unit
    goes on reading as of its own last commit instead)."""
    first, second, third = _chain(3)

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(migrated_engine)

    with uow_factory() as uow:
        assert uow.ledger.head(ACCOUNT) is None
        uow.ledger.append(first)
        assert uow.ledger.head(ACCOUNT) == ChainHead(1, first.hash)
        uow.commit()
        with uow_factory() as other:  # another writer moves the head meanwhile
            other.ledger.append(second)
            other.commit()
        # The unit's next transaction reads the head as stored now, not as it read it before.
        assert uow.ledger.head(ACCOUNT) == ChainHead(2, second.hash)
        uow.ledger.append(third)
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.head(ACCOUNT) == ChainHead(3, third.hash)


def test_a_transaction_moves_the_stored_head_once_to_its_last_entry(
    migrated_engine: sa.Engine,
) -> None:
    """A batch of entries writes the head once (one statement, not one per entry): inserted
    for a new chain, moved for a known one."""
    chain = _chain(5)
    writes: list[str] = []

    def record(_c: object, _cur: object, statement: str, *_args: object) -> None:
        if "ledger_heads" in statement and not statement.lstrip().upper().startswith("SELECT"):
            writes.append(statement.split(maxsplit=1)[0].upper())

    sa.event.listen(migrated_engine, "before_cursor_execute", record)
    try:
        with SqlUnitOfWork(migrated_engine) as uow:
            for entry in chain[:3]:
                uow.ledger.append(entry)
            assert uow.ledger.head(ACCOUNT) == ChainHead(3, chain[2].hash)
            uow.commit()
            assert writes == ["INSERT"]
            for entry in chain[3:]:
                uow.ledger.append(entry)
            uow.commit()
    finally:
        sa.event.remove(migrated_engine, "before_cursor_execute", record)
    assert writes == ["INSERT", "UPDATE"]
    with SqlUnitOfWork(migrated_engine) as uow:
        assert uow.ledger.heads() == {ACCOUNT: ChainHead(5, chain[4].hash)}
        assert verify(list(uow.ledger.entries(ACCOUNT)), uow.ledger.heads()).ok


def test_a_writing_unit_reads_the_heads_and_accounts_its_appends_made(
    uow_factory: UowFactory,
) -> None:
    """Before its commit, a unit's reads of every head see its own appends (a SQL unit moves
    the stored heads at the commit only); a rolled-back append moves no head later."""
    first, second = _chain(2)
    with uow_factory() as uow:
        uow.ledger.append(first)
        assert uow.ledger.accounts() == [ACCOUNT]
        uow.ledger.append(second)
        assert uow.ledger.heads() == {ACCOUNT: ChainHead(2, second.hash)}
        uow.rollback()
        assert uow.ledger.heads() == {}
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.head(ACCOUNT) is None
        assert uow.ledger.accounts() == []


def test_a_head_another_writer_moved_before_the_commit_refuses_the_commit(
    migrated_engine: sa.Engine,
) -> None:
    """The head is moved at the commit from the one the unit read: if it is not that one any
    more (a writer moved it between), the commit is refused and nothing of the unit stays.
    So is an entry whose place in the chain another writer took."""
    first, second = _chain(2)
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.ledger.append(first)
        uow.commit()
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.ledger.append(second)
        conn = uow.ledger._conn  # the other writer's move, as it would be seen at the commit
        conn.execute(sa.text("UPDATE ledger_heads SET seq = 9, hash = 'other'"))
        with pytest.raises(ChainConflictError, match="moved the head past #1"):
            uow.commit()
        # The refused transaction is gone: a later commit of the unit cannot store #2
        # without its head.
        conn.execute(sa.text("UPDATE ledger_heads SET seq = 1, hash = :h"), {"h": first.hash})
        uow.commit()
    with SqlUnitOfWork(migrated_engine) as uow:
        assert uow.ledger.head(ACCOUNT) == ChainHead(1, first.hash)
        assert [e.seq for e in uow.ledger.entries(ACCOUNT)] == [1]
        uow.ledger._conn.execute(  # #2 taken by another writer whose head move is to come
            sa.text(
                "INSERT INTO ledger_entries (account_id, seq, entry_id, kind, ts, details, "
                "prev_hash, hash) SELECT account_id, 2, 'theirs', kind, ts, details, hash, 'x' "
                "FROM ledger_entries WHERE seq = 1"
            )
        )
        with pytest.raises(ChainConflictError, match="another writer appended #2"):
            uow.ledger.append(second)


@pytest.mark.parametrize(
    "amount",
    ["0.3", "0.00000001", "123456789012345678.123456789", "-0.1", "1E+3", "0.10"],
)
def test_money_round_trips_exactly(uow_factory: UowFactory, amount: str) -> None:
    value = Decimal("0.1") + Decimal("0.2") if amount == "0.3" else Decimal(amount)
    fill = make_fill(1, OrderSide.BUY, "0.00000001", "65000.12345678", fee=str(abs(value)))
    with uow_factory() as uow:
        uow.fills.add(fill)
        entry = seal(
            booking.adjustment(
                ACCOUNT, LedgerEntryId("adj"), T0, money(value, Currency("USD")), "test"
            ),
            1,
            GENESIS_HASH,
        )
        uow.ledger.append(entry)
        uow.commit()
    with uow_factory() as uow:
        back = uow.fills.list()[0]
        (stored,) = list(uow.ledger.entries())
    assert back.quantity.value == Decimal("0.00000001")
    assert back.price.value == Decimal("65000.12345678")
    assert back.fee.amount == abs(value)
    assert stored.postings[0].amount == value
    assert verify([stored]).ok  # the hash still matches after the round trip


def test_sequences_count_from_one_and_persist(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert [
            uow.sequences.next("SMA"),
            uow.sequences.next("SMA"),
            uow.sequences.next("RSI"),
        ] == [1, 2, 1]
        uow.commit()
    with uow_factory() as uow:
        assert uow.sequences.next("SMA") == 3


def test_a_snapshot_unit_sees_one_instant(migrated_engine: sa.Engine) -> None:
    """Verification reads heads, then entries: an append committed in between must not show."""
    first, second = _chain(2)
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.ledger.append(first)
        uow.commit()
    with SqlUnitOfWork(migrated_engine, snapshot=True) as snap:
        heads = snap.ledger.heads()
        with SqlUnitOfWork(migrated_engine) as writer:
            writer.ledger.append(second)
            writer.commit()
        assert verify(list(snap.ledger.entries()), heads).ok
    with SqlUnitOfWork(migrated_engine, snapshot=True) as later:
        assert later.ledger.head(ACCOUNT) == ChainHead(2, second.hash)


def test_a_failed_first_append_leaves_no_head_behind(migrated_engine: sa.Engine) -> None:
    """A unit that starts an account's chain and is not committed leaves nothing behind."""
    (first,) = _chain(1)
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.ledger.append(first)
    with SqlUnitOfWork(migrated_engine) as uow:
        assert uow.ledger.head(ACCOUNT) is None
        uow.ledger.append(first)
        uow.commit()


def test_the_journal_keeps_commands_by_key_in_order(uow_factory: UowFactory) -> None:
    from algodesk.ports.storage import JournalRecord, StorageError

    with uow_factory() as uow:
        first = uow.journal.append(
            JournalRecord(ACCOUNT, "SubmitOrder", T0, {"qty": "1"}, key="k1")
        )
        second = uow.journal.append(JournalRecord(ACCOUNT, "OrderAccepted", T0, {"coid": "A"}))
        uow.journal.append(JournalRecord(AccountId("other"), "SubmitOrder", T0, {}, key="k1"))
        uow.commit()
    assert first.seq < second.seq
    with uow_factory() as uow:
        found = uow.journal.find(ACCOUNT, "k1")
        assert found == first
        assert uow.journal.find(ACCOUNT, "nope") is None
        assert [r.kind for r in uow.journal.records(ACCOUNT)] == ["SubmitOrder", "OrderAccepted"]
        assert uow.journal.records(ACCOUNT, "OrderAccepted") == [second]
        with pytest.raises(StorageError, match="k1"):
            uow.journal.append(JournalRecord(ACCOUNT, "SubmitOrder", T0, {}, key="k1"))


def test_the_journal_finds_several_keys_in_one_look_up(uow_factory: UowFactory) -> None:
    from algodesk.ports.storage import JournalRecord

    with uow_factory() as uow:
        first = uow.journal.append(JournalRecord(ACCOUNT, "SubmitOrder", T0, {"n": 1}, key="a"))
        uow.journal.append(JournalRecord(AccountId("other"), "SubmitOrder", T0, {}, key="b"))
        uow.commit()
    with uow_factory() as uow:
        # A key journaled in this unit is found too; another account's is not.
        second = uow.journal.append(JournalRecord(ACCOUNT, "OrderSliced", T0, {"n": 2}, key="c"))
        assert uow.journal.find_many(ACCOUNT, ["a", "b", "c", "nope"]) == {
            "a": first,
            "c": second,
        }
        assert uow.journal.find_many(ACCOUNT, ["c"]) == {"c": second}
        assert uow.journal.find_many(ACCOUNT, ["nope", "b"]) == {}
        assert uow.journal.find_many(ACCOUNT, []) == {}
        many = [f"k{n}" for n in range(20)]  # a count whose statement is not kept
        assert uow.journal.find_many(ACCOUNT, [*many, "a"]) == {"a": first}


def test_records_appended_together_keep_their_order_and_keys(uow_factory: UowFactory) -> None:
    from algodesk.ports.storage import JournalRecord, StorageError

    with uow_factory() as uow:
        uow.journal.append_many(
            [
                JournalRecord(ACCOUNT, "SubmitOrder", T0, {"n": 1}, key="cmd-1"),
                JournalRecord(ACCOUNT, "OrderSubmitted", T0, {"n": 2}),
                JournalRecord(ACCOUNT, "OrderFilled", T0, {"n": 3}),
            ]
        )
        uow.journal.append_many([])
        uow.commit()
    with uow_factory() as uow:
        stored = uow.journal.records(ACCOUNT)
        assert [(r.kind, r.payload["n"]) for r in stored] == [
            ("SubmitOrder", 1),
            ("OrderSubmitted", 2),
            ("OrderFilled", 3),
        ]
        seqs = [r.seq for r in stored]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 3
        found = uow.journal.find(ACCOUNT, "cmd-1")
        assert found is not None
        assert found.payload == {"n": 1}
    with uow_factory() as uow, pytest.raises(StorageError, match="cmd-1"):
        uow.journal.append_many([JournalRecord(ACCOUNT, "SubmitOrder", T0, {}, key="cmd-1")])


def test_the_database_refuses_a_journal_key_twice_even_past_the_check(
    migrated_engine: sa.Engine,
) -> None:
    """Two writers can both pass the look-up; the unique index stops the second."""
    from algodesk.adapters.storage.sql.repositories import SqlJournal
    from algodesk.ports.storage import JournalRecord, StorageError

    with SqlUnitOfWork(migrated_engine) as uow:
        uow.journal.append(JournalRecord(ACCOUNT, "SubmitOrder", T0, {}, key="race"))
        uow.commit()
    with SqlUnitOfWork(migrated_engine) as uow:
        racing = SqlJournal(uow.journal._conn)
        racing.find = lambda account, key: None  # type: ignore[method-assign]  # it looked before the first committed
        with pytest.raises(StorageError, match="race"):
            racing.append(JournalRecord(ACCOUNT, "SubmitOrder", T0, {}, key="race"))
