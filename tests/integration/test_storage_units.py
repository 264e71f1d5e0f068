"""The SQL storage under concurrency: group commit (concurrent writes share one commit, each
caller answered only once its write is durable, a bad write failing alone), read-only units
(they never take SQLite's write lock and refuse to write), the writer gate (this process's
SQLite writers queue for their turn in order), and the engine's use of them: reads take no
write lock, and a paper market order costs two commits, not five."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.sql import engine as engine_module
from algodesk.adapters.storage.sql.engine import make_engine, migrate, read_only
from algodesk.adapters.storage.sql.group_commit import GroupCommit
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.adapters.storage.sql.writer_gate import WriterGate, gate_for
from algodesk.domain.events import OrderCanceled, OrderEvent
from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.orders import OrderStatus
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import money
from algodesk.ports.broker import BrokerPort
from algodesk.ports.storage import JournalRecord
from algodesk.services.engine import Engine
from algodesk.services.risk_context import EngineLimits
from algodesk.testing.brokers import HangingBroker
from tests.conftest import ACCOUNT, T0
from tests.integration.test_engine import AAPL, USD, Desk, submit

pytestmark = pytest.mark.xdist_group("storage-units")


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'units.db'}")
    migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE box (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield engine
    engine.dispose()


def _put(conn: sa.Connection, item: tuple[int, str | None]) -> int:
    conn.execute(sa.text("INSERT INTO box (n, v) VALUES (:n, :v)"), {"n": item[0], "v": item[1]})
    return item[0]


def _stored(engine: sa.Engine) -> list[int]:
    other = make_engine(engine.url.render_as_string(hide_password=False))  # another pool
    try:
        with other.connect() as conn:
            return [r.n for r in conn.execute(sa.text("SELECT n FROM box ORDER BY n"))]
    finally:
        other.dispose()


class _Gate:
    """Holds the first batch inside its transaction until the other callers have queued."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def apply(self, conn: sa.Connection, item: tuple[int, str | None]) -> int:
        if item[0] == 0:
            self.entered.set()
            assert self.release.wait(30)
        return _put(conn, item)


def _run_concurrently(
    group: GroupCommit[Any, int], gate: _Gate, items: list[tuple[int, str | None]]
) -> tuple[dict[int, int], dict[int, BaseException]]:
    results: dict[int, int] = {}
    errors: dict[int, BaseException] = {}
    guard = threading.Lock()

    def call(item: tuple[int, str | None]) -> None:
        try:
            result = group.submit(item)
            with guard:
                results[item[0]] = result
        except Exception as exc:  # each caller gets its own error
            with guard:
                errors[item[0]] = exc

    first = threading.Thread(target=call, args=(items[0],))
    first.start()
    assert gate.entered.wait(30)  # the first batch (item 0 alone) is in its transaction
    rest = [threading.Thread(target=call, args=(item,)) for item in items[1:]]
    for t in rest:
        t.start()
    while group.queued < len(rest):  # every other caller waits for the leader's commit
        threading.Event().wait(0.001)
    gate.release.set()
    for t in [first, *rest]:
        t.join(30)
    return results, errors


def test_concurrent_writes_share_one_commit_and_each_returns_once_durable(
    sqlite_engine: sa.Engine,
) -> None:
    gate = _Gate()
    group: GroupCommit[tuple[int, str | None], int] = GroupCommit(sqlite_engine, gate.apply)
    items: list[tuple[int, str | None]] = [(n, f"v{n}") for n in range(12)]
    results, errors = _run_concurrently(group, gate, items)
    assert errors == {}
    assert results == {n: n for n in range(12)}
    assert (group.batches, group.items) == (2, 12)  # item 0 alone, then the 11 that queued
    assert _stored(sqlite_engine) == list(range(12))


def test_a_bad_write_fails_alone_and_its_neighbours_are_stored(sqlite_engine: sa.Engine) -> None:
    gate = _Gate()
    group: GroupCommit[tuple[int, str | None], int] = GroupCommit(sqlite_engine, gate.apply)
    items: list[tuple[int, str | None]] = [(n, None if n == 5 else f"v{n}") for n in range(8)]
    results, errors = _run_concurrently(group, gate, items)
    assert set(errors) == {5}  # NOT NULL: only its own caller hears of it
    assert isinstance(errors[5], sa.exc.IntegrityError)
    assert sorted(results) == [0, 1, 2, 3, 4, 6, 7]
    assert _stored(sqlite_engine) == [0, 1, 2, 3, 4, 6, 7]


def test_an_uncontended_write_commits_at_once(sqlite_engine: sa.Engine) -> None:
    group: GroupCommit[tuple[int, str | None], int] = GroupCommit(sqlite_engine, _put)
    assert group.submit((1, "one")) == 1
    assert _stored(sqlite_engine) == [1]
    with pytest.raises(sa.exc.IntegrityError):
        group.submit((1, "again"))  # a single failing write is not retried: one attempt
    assert (group.batches, group.items) == (1, 1)


# -- read-only units -----------------------------------------------------------------------


def test_a_read_only_unit_refuses_to_write(migrated_engine: sa.Engine) -> None:
    record = JournalRecord(ACCOUNT, "Note", T0, {"n": 1})
    with SqlUnitOfWork(migrated_engine, snapshot=True) as uow, pytest.raises(RuntimeError):
        uow.commit()
    with SqlUnitOfWork(migrated_engine, snapshot=True) as uow, pytest.raises(sa.exc.DBAPIError):
        uow.journal.append(record)  # the database refuses the statement itself
    with read_only(migrated_engine) as conn, pytest.raises(sa.exc.DBAPIError):
        conn.execute(sa.text("DELETE FROM journal"))
    # The pooled connections write again in a unit that may write.
    with SqlUnitOfWork(migrated_engine) as uow:
        uow.journal.append(record)
        uow.commit()
    with SqlUnitOfWork(migrated_engine, snapshot=True) as uow:
        assert [r.kind for r in uow.journal.records(ACCOUNT)] == ["Note"]


def test_a_read_only_unit_reads_while_a_writer_holds_the_sqlite_write_lock(
    sqlite_engine: sa.Engine,
) -> None:
    with SqlUnitOfWork(sqlite_engine) as writer:  # BEGIN IMMEDIATE: the write lock
        writer.journal.append(JournalRecord(ACCOUNT, "Uncommitted", T0, {}))
        # A writer would now wait busy_timeout (5 s) and fail; a reader reads its snapshot.
        with SqlUnitOfWork(sqlite_engine, snapshot=True) as reader:
            assert reader.journal.records(ACCOUNT) == []
        with read_only(sqlite_engine) as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM journal")).scalar() == 0
        writer.commit()


def _gate(engine: sa.Engine) -> WriterGate:
    return gate_for(str(engine.url.database))


def test_sqlite_writers_of_one_process_queue_in_its_gate_not_in_sqlites_busy_handler(
    sqlite_engine: sa.Engine,
) -> None:
    other = make_engine(sqlite_engine.url.render_as_string(hide_password=False))  # another pool
    done = threading.Event()

    def second_writer() -> None:
        with other.begin() as conn:
            _put(conn, (2, "second"))
        done.set()

    try:
        with sqlite_engine.begin() as conn:
            _put(conn, (1, "first"))
            thread = threading.Thread(target=second_writer)
            thread.start()
            deadline = time.monotonic() + 10
            while _gate(sqlite_engine).waiting == 0:  # queued for its turn, not polling SQLite
                assert time.monotonic() < deadline, "the second writer never queued"
                time.sleep(0.001)
            assert not done.is_set()
        thread.join(10)  # the commit handed it the gate
        assert done.is_set()
        assert _stored(sqlite_engine) == [1, 2]
    finally:
        other.dispose()


def test_a_writer_that_never_gets_its_turn_gets_sqlalchemys_database_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As SQLite's own busy timeout came: callers catch SQLAlchemy's errors (a webhook answers
    503, start-up reports the storage unavailable)."""
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 50)
    engine = make_engine(f"sqlite:///{tmp_path / 'locked.db'}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE box (n INTEGER PRIMARY KEY)")
        errors: list[BaseException] = []

        def second_writer() -> None:
            try:
                with engine.begin() as other:
                    other.exec_driver_sql("INSERT INTO box VALUES (2)")
            except BaseException as exc:  # handed to the test
                errors.append(exc)

        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO box VALUES (1)")
            thread = threading.Thread(target=second_writer)
            thread.start()
            thread.join(10)
        assert len(errors) == 1
        assert isinstance(errors[0], sa.exc.OperationalError)
        assert "database is locked" in str(errors[0])
        with engine.begin() as conn:  # the gate is free again
            conn.exec_driver_sql("INSERT INTO box VALUES (3)")
    finally:
        engine.dispose()


@pytest.mark.parametrize("end", ["rollback", "error", "close"])
def test_every_end_of_a_sqlite_write_transaction_frees_the_gate(
    sqlite_engine: sa.Engine, end: str
) -> None:
    if end == "rollback":
        with sqlite_engine.connect() as conn, conn.begin() as tx:
            _put(conn, (1, "undone"))
            tx.rollback()
    elif end == "error":
        with pytest.raises(sa.exc.IntegrityError), sqlite_engine.begin() as conn:
            _put(conn, (1, None))  # v is NOT NULL
    else:
        conn = sqlite_engine.connect()
        conn.begin()
        _put(conn, (1, "abandoned"))
        conn.invalidate()  # the driver connection is closed
    gate = _gate(sqlite_engine)
    assert gate.acquire(timeout=0)
    gate.release()
    with sqlite_engine.begin() as conn:
        _put(conn, (2, "after"))
    assert _stored(sqlite_engine) == [2]


class _Reporting(HangingBroker):
    """The paper exchange, plus whatever events a test makes it report."""

    def __init__(self, inner: BrokerPort) -> None:
        super().__init__(inner, set())
        self.extra: list[OrderEvent] = []

    def drain(self) -> list[OrderEvent]:
        events, self.extra = [*super().drain(), *self.extra], []
        return events


def _sql_desk(engine: sa.Engine) -> tuple[Desk, _Reporting]:
    made = Desk(factory=lambda: SqlUnitOfWork(engine))
    venue = _Reporting(made.paper)
    made.engine = Engine(
        lambda: SqlUnitOfWork(engine),
        made.clock,
        made.market,
        {AAPL.id.venue: venue},
        EngineLimits(accounts={ACCOUNT: RiskLimits(max_orders_per_second=None)}),
        made.ledger,
        read_factory=lambda: SqlUnitOfWork(engine, snapshot=True),
    )
    made.ledger.deposit(ACCOUNT, money("100000", USD), key="seed")
    made.quote(AAPL, "100")
    return made, venue


def test_the_engine_reads_without_the_write_lock(sqlite_engine: sa.Engine) -> None:
    desk, _ = _sql_desk(sqlite_engine)
    first = desk.engine.handle(submit(qty="1", idempotency_key="k-1"))
    assert first.ok
    with SqlUnitOfWork(sqlite_engine) as writer:  # someone else holds the write lock
        writer.journal.append(JournalRecord(ACCOUNT, "Busy", T0, {}))
        recorded = desk.engine.recorded(ACCOUNT, "k-1")
        assert recorded is not None
        assert recorded.client_order_id == first.client_order_id
        assert desk.engine.position(ACCOUNT, None, AAPL.id) == 1
        assert desk.engine.book(ACCOUNT).positions[AAPL.id].quantity == 1
        assert desk.engine.open_orders(ACCOUNT) == []
        replayed = desk.engine.handle(submit(qty="1", idempotency_key="k-1"))  # a known key
        assert replayed.client_order_id == first.client_order_id
        writer.commit()


def test_a_paper_market_order_costs_two_commits(sqlite_engine: sa.Engine) -> None:
    """The order with its submit, then its acceptance, fill and ledger entry together; no
    empty commit after the fill when no breaker has anything to journal."""
    desk, _ = _sql_desk(sqlite_engine)
    commits: list[int] = []

    def count(_conn: sa.Connection) -> None:
        commits.append(1)

    sa.event.listen(sqlite_engine, "commit", count)
    try:
        outcome = desk.engine.handle(submit(qty="2", idempotency_key="k-2"))
    finally:
        sa.event.remove(sqlite_engine, "commit", count)
    assert outcome.ok
    assert len(commits) == 2
    order = desk.order(outcome.client_order_id)
    assert order.status is OrderStatus.FILLED
    with SqlUnitOfWork(sqlite_engine, snapshot=True) as uow:
        kinds = [r.kind for r in uow.journal.records(ACCOUNT)]
        assert kinds[-4:] == ["SubmitOrder", "OrderSubmitted", "OrderAccepted", "OrderFilled"]
        assert len(uow.fills.for_order(ClientOrderId(outcome.client_order_id or ""))) == 1
    assert desk.ledger.verify().ok


def test_events_an_order_refuses_are_applied_one_by_one_and_journaled(
    sqlite_engine: sa.Engine,
) -> None:
    desk, venue = _sql_desk(sqlite_engine)
    outcome = desk.engine.handle(submit(qty="1"))
    coid = ClientOrderId(outcome.client_order_id or "")
    late = [OrderCanceled(client_order_id=coid, ts=T0) for _ in range(2)]  # after its fill
    venue.extra = late  # a venue reporting nonsense
    assert desk.engine.pump() == 2
    with SqlUnitOfWork(sqlite_engine, snapshot=True) as uow:
        kinds = [r.kind for r in uow.journal.records(ACCOUNT)]
    assert kinds.count("OrderEventRefused") == 2
    assert desk.order(coid.value).status is OrderStatus.FILLED
