"""A batch: one account's submits to the paper exchange in one transaction. From the caller's
side it must be indistinguishable from handling the commands one by one, except that nothing
is heard (and nothing is stored) until the batch ends, and a failed batch leaves no trace."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.adapters.storage.sql.engine import make_engine, migrate
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.domain.commands import CancelOrder, ModifyOrder, SetTradingState, SubmitOrder
from algodesk.domain.events import OrderEvent, OrderFilled
from algodesk.domain.exits import ExitPlan
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, ClientOrderId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import Order, OrderStatus, OrderType
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.risk.breakers import BreakerConfig
from algodesk.domain.values import money, price
from algodesk.ports.broker import VenueRejectedError
from algodesk.ports.storage import UnitOfWork
from tests.conftest import ACCOUNT
from tests.faults import FailingCommits
from tests.integration.test_engine import AAPL, USD, Desk, RemoteVenue, submit

Factory = Callable[[], UnitOfWork]


@pytest.fixture(params=["memory", "sqlite"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    if request.param == "memory":
        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(store)
        return
    engine: sa.Engine = make_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    migrate(engine)
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()


def _desk(factory: Factory, limits: RiskLimits | None = None, **kw: object) -> Desk:
    desk = Desk(
        limits=limits or RiskLimits(max_orders_per_second=None),
        factory=factory,
        **kw,  # type: ignore[arg-type]
    )
    desk.ledger.deposit(ACCOUNT, money("100000", USD), key="seed")
    desk.quote(AAPL, "100")
    desk.events.clear()
    return desk


def _journal(desk: Desk) -> list[tuple[str, object]]:
    with desk.factory() as uow:
        return [(r.kind, r.payload.get("outcome")) for r in uow.journal.records(ACCOUNT)]


COMMANDS = [
    submit(OrderSide.BUY, "10", idempotency_key="a"),
    submit(OrderSide.BUY, "5", kind=OrderType.LIMIT, px="99", idempotency_key="b"),
    submit(OrderSide.SELL, "4", idempotency_key="c"),
    submit(OrderSide.BUY, "10", kind=OrderType.LIMIT, px="90", client_order_id=ClientOrderId("X1")),
]


def test_a_batch_stores_what_one_by_one_stores_and_is_heard_only_at_its_end(
    factory: Factory,
) -> None:
    reference_store = InMemoryStore()
    one_by_one = _desk(lambda: InMemoryUnitOfWork(reference_store))
    expected = [one_by_one.engine.handle(c) for c in COMMANDS]

    desk = _desk(factory)
    with desk.engine.batch(ACCOUNT):
        answers = [desk.engine.handle(c) for c in COMMANDS]
        assert desk.events == []  # nothing is heard before the commit
        assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(6)  # reads see it
    assert answers == expected
    assert _journal(desk) == _journal(one_by_one)
    assert [type(e) for e in desk.events] == [type(e) for e in one_by_one.events]
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(6)
    assert desk.engine.book(ACCOUNT).cash == one_by_one.engine.book(ACCOUNT).cash
    assert sorted(o.client_order_id.value for o in desk.paper.working_orders) == sorted(
        o.client_order_id.value for o in one_by_one.paper.working_orders
    )
    assert desk.ledger.verify().ok


def test_each_order_in_a_batch_is_judged_with_the_ones_before_it(factory: Factory) -> None:
    desk = _desk(factory, RiskLimits(max_orders_per_second=None, max_position_qty=Decimal(25)))
    with desk.engine.batch(ACCOUNT):
        answers = [desk.engine.handle(submit(OrderSide.BUY, "10")) for _ in range(3)]
    assert [a.code for a in answers] == [None, None, "POSITION_LIMIT_EXCEEDED"]
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(20)


def test_a_repeated_key_in_a_batch_replays_the_first_answer(factory: Factory) -> None:
    desk = _desk(factory)
    with desk.engine.batch(ACCOUNT):
        first = desk.engine.handle(submit(idempotency_key="same"))
        again = desk.engine.handle(submit(idempotency_key="same"))
    assert again.replayed
    assert again.client_order_id == first.client_order_id
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(10)


def test_a_failed_batch_leaves_no_trace_and_its_commands_can_run_again(factory: Factory) -> None:
    desk = _desk(factory)
    before = _journal(desk)
    cash = desk.engine.book(ACCOUNT).cash

    def crash_midway() -> None:
        with desk.engine.batch(ACCOUNT):
            for command in COMMANDS:
                desk.engine.handle(command)
            raise RuntimeError("crash")  # say, the caller's own work after the commands

    with pytest.raises(RuntimeError, match="crash"):
        crash_midway()
    assert _journal(desk) == before
    assert desk.events == []
    assert desk.paper.working_orders == []  # the resting limits were withdrawn
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == 0  # the engine reloaded
    assert desk.engine.book(ACCOUNT).cash == cash
    assert desk.engine.open_orders(ACCOUNT) == []
    answers = [desk.engine.handle(c) for c in COMMANDS]
    assert all(a.ok and not a.replayed for a in answers)
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(6)
    assert len(desk.paper.working_orders) == 2
    assert desk.ledger.verify().ok


def test_a_cancel_in_a_batch_first_stores_what_was_staged(factory: Factory) -> None:
    desk = _desk(factory)
    with desk.engine.batch(ACCOUNT):
        resting = desk.engine.handle(submit(kind=OrderType.LIMIT, px="95"))
        coid = ClientOrderId(str(resting.client_order_id))
        canceled = desk.engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=coid))
        assert canceled.ok  # (ORDER_NOT_FOUND unless the staged order was stored first)
        after = desk.engine.handle(submit(OrderSide.BUY, "1"))
    assert after.ok
    assert desk.order(coid.value).status is OrderStatus.CANCELED
    assert desk.paper.working_orders == []
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(1)


def test_a_breaker_tripped_inside_a_batch_stops_the_orders_after_it(factory: Factory) -> None:
    desk = _desk(
        factory,
        breakers={
            ACCOUNT: BreakerConfig(
                max_consecutive_losses=1, consecutive_losses_action=TradingState.HALTED
            )
        },
    )
    with desk.engine.batch(ACCOUNT):
        assert desk.engine.handle(submit(OrderSide.BUY, "10")).ok
        desk.quote(AAPL, "90")
        assert desk.engine.handle(submit(OrderSide.SELL, "10")).ok  # a losing close: trips
        late = desk.engine.handle(submit(OrderSide.BUY, "1"))
    assert late.code == "TRADING_HALTED"
    assert desk.engine.trading_state(ACCOUNT) is TradingState.HALTED
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == 0
    assert any(isinstance(e, OrderFilled) for e in desk.events)


def test_a_batch_of_another_account_on_the_thread_is_refused(factory: Factory) -> None:
    desk = _desk(factory)
    with (
        desk.engine.batch(ACCOUNT),
        pytest.raises(ValueError, match="open on this thread"),
        desk.engine.batch(AccountId("other")),
    ):
        pass


def test_a_command_of_the_batch_kind_for_a_real_venue_is_not_staged() -> None:
    """Only in-process venues are staged: a submit to anything else first commits what is
    staged and is stored before it is sent."""

    store = InMemoryStore()
    desk = _desk(lambda: InMemoryUnitOfWork(store), venue=RemoteVenue)  # type: ignore[arg-type]
    sent_while_stored: list[bool] = []
    original = desk.paper.submit

    def submit_checked(order: object) -> None:
        coid = order.client_order_id  # type: ignore[attr-defined]
        sent_while_stored.append(store.orders.get(coid) is not None)
        original(order)  # type: ignore[arg-type]

    desk.paper.submit = submit_checked  # type: ignore[method-assign]
    with desk.engine.batch(ACCOUNT):
        desk.engine.handle(submit(OrderSide.BUY, "1"))
        desk.engine.handle(submit(OrderSide.BUY, "2"))
    assert sent_while_stored == [True, True]
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(3)


def test_a_batch_whose_commit_fails_leaves_no_trace() -> None:
    storage = FailingCommits(InMemoryStore())
    desk = _desk(storage)
    before = _journal(desk)

    def run() -> None:
        with desk.engine.batch(ACCOUNT):
            for command in COMMANDS:
                desk.engine.handle(command)
            storage.fail_next = True  # the batch's one commit comes next

    with pytest.raises(OSError, match="disk full"):
        run()
    assert _journal(desk) == before
    assert desk.events == []
    assert desk.paper.working_orders == []
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == 0
    assert [desk.engine.handle(c).ok for c in COMMANDS] == [True] * len(COMMANDS)
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(6)


def test_a_pause_in_a_batch_stores_what_was_staged_and_lets_other_writers_go_first(
    factory: Factory,
) -> None:
    """An order list paced inside a batch waits in a pause: the kill switch, pulled from
    another thread meanwhile, goes first, and the batch's next order is denied."""
    desk = _desk(factory)
    halted = threading.Event()

    def kill_switch() -> None:
        desk.engine.handle(
            SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="kill")
        )
        halted.set()

    with desk.engine.batch(ACCOUNT):
        assert desk.engine.handle(submit(OrderSide.BUY, "1")).ok
        other = threading.Thread(target=kill_switch)
        other.start()
        assert not halted.wait(0.2)  # the batch holds the account
        with desk.engine.pause():
            assert halted.wait(5)
            assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(1)  # stored
        other.join()
        late = desk.engine.handle(submit(OrderSide.BUY, "1"))
    assert late.code == "TRADING_HALTED"
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(1)


def test_a_subscriber_acting_on_what_it_hears_acts_after_the_batch(factory: Factory) -> None:
    """Subscribers hear a batch's events after its commit, outside it: an order a subscriber
    sends on a fill (as a hedger or an exit manager would) is stored on its own."""
    desk = _desk(factory)
    hedges: list[str | None] = []

    def hedge(event: object) -> None:
        if isinstance(event, OrderFilled) and event.fill.side is OrderSide.BUY:
            answer = desk.engine.handle(submit(OrderSide.SELL, "1", idempotency_key="hedge"))
            hedges.append(answer.client_order_id)

    desk.engine.subscribe(hedge)
    with desk.engine.batch(ACCOUNT):
        desk.engine.handle(submit(OrderSide.BUY, "5"))
        assert hedges == []
    assert len(hedges) == 1
    assert desk.order(str(hedges[0])).status is OrderStatus.FILLED
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(4)


def test_a_command_that_failed_midway_undoes_its_batch_even_if_its_caller_went_on(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = _desk(factory)
    before = _journal(desk)
    real = desk.ledger.book_fill
    calls = {"n": 0}

    def fail_the_second(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("the disk hiccuped")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(desk.ledger, "book_fill", fail_the_second)

    def run() -> None:
        with desk.engine.batch(ACCOUNT):
            desk.engine.handle(submit(OrderSide.BUY, "1"))
            with pytest.raises(OSError, match="hiccuped"):  # its caller swallows it...
                desk.engine.handle(submit(OrderSide.BUY, "2"))
            desk.engine.handle(submit(OrderSide.BUY, "3"))

    with pytest.raises(RuntimeError, match="batch is undone"):  # ...the batch does not
        run()
    assert _journal(desk) == before
    assert desk.paper.working_orders == []
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == 0


def _undo(desk: Desk, *commands: SubmitOrder) -> None:
    """Run ``commands`` in a batch that is then undone (its caller fails)."""
    with contextlib.suppress(RuntimeError), desk.engine.batch(ACCOUNT):
        for command in commands:
            assert desk.engine.handle(command).ok
        raise RuntimeError("undone")


def test_an_undone_batch_takes_back_what_it_counted_against_the_order_rate(
    factory: Factory,
) -> None:
    """Its orders never happened: sending them again at once fits the same rate limit."""
    desk = _desk(factory, RiskLimits(max_orders_per_second=3))  # the test clock stands still
    orders = [submit(OrderSide.BUY, "1") for _ in range(3)]
    _undo(desk, *orders)
    assert [desk.engine.handle(o).code for o in orders] == [None, None, None]
    assert desk.engine.handle(submit(OrderSide.BUY, "1")).code == "SUBMIT_RATE_EXCEEDED"


def test_an_undone_batch_keeps_the_venue_errors_the_breaker_counted(factory: Factory) -> None:
    """The error-rate breaker's window is not journaled: an undone batch must not reset it."""
    desk = _desk(
        factory,
        breakers={
            ACCOUNT: BreakerConfig(max_errors_per_hour=2, error_rate_action=TradingState.HALTED)
        },
    )
    real = desk.paper.submit_now

    def refuse_sevens(order: Order) -> list[OrderEvent]:
        if order.quantity.value == 7:
            raise VenueRejectedError("the venue refused it")
        return real(order)

    desk.paper.submit_now = refuse_sevens  # type: ignore[method-assign]
    assert desk.engine.handle(submit(OrderSide.BUY, "7")).code == "VENUE_REJECTED"  # error 1
    _undo(desk, submit(OrderSide.BUY, "1"))
    assert desk.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
    assert desk.engine.handle(submit(OrderSide.BUY, "7")).code == "VENUE_REJECTED"  # error 2
    assert desk.engine.trading_state(ACCOUNT) is TradingState.HALTED


def test_venue_events_wait_for_the_end_of_a_batch(factory: Factory) -> None:
    """A pump inside a batch applies nothing (it would store other orders' fills in the
    batch, to be undone with it); the batch's end applies them, once it is stored."""
    desk = _desk(factory)
    resting = desk.engine.handle(submit(OrderSide.BUY, "2", kind=OrderType.LIMIT, px="95"))
    with desk.engine.batch(ACCOUNT):
        desk.engine.handle(submit(OrderSide.BUY, "1"))
        desk.market.set_mark(AAPL.id, Decimal(94), desk.clock.now())
        desk.paper.on_quote(Quote(AAPL.id, desk.clock.now(), Decimal(94)))
        assert desk.engine.pump() == 0
    assert desk.order(str(resting.client_order_id)).status is OrderStatus.FILLED
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(3)


def test_a_key_found_absent_in_a_batch_and_then_used_replays_the_second_time(
    factory: Factory,
) -> None:
    """The alert path asks recorded() before it sends: the engine then skips its own look-up
    of that key, but a key it has journaled since must be found again."""
    desk = _desk(factory)
    with desk.engine.batch(ACCOUNT):
        assert desk.engine.recorded(ACCOUNT, "alert:1:0:alpha") is None
        first = desk.engine.handle(submit(idempotency_key="alert:1:0:alpha"))
        again = desk.engine.handle(submit(idempotency_key="alert:1:0:alpha"))
    assert first.ok
    assert again.replayed
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(10)


def test_keys_looked_up_together_in_a_batch_are_found_once_noted(factory: Factory) -> None:
    """recorded(also=...) reads a sliced plan's key with the alert's: noted() then answers
    from what the batch knows, and a plan note() journals since is found, not taken as
    absent (else a retry would slice afresh and could trade twice)."""
    desk = _desk(factory)
    with desk.engine.batch(ACCOUNT):
        assert desk.engine.recorded(ACCOUNT, "k", also=("k:sliced",)) is None
        assert desk.engine.noted(ACCOUNT, "k:sliced") is None
        assert desk.engine.note(ACCOUNT, "k:sliced", "OrderSliced", {"n": 1}) == {"n": 1}
        assert desk.engine.noted(ACCOUNT, "k:sliced") == {"n": 1}
        assert desk.engine.note(ACCOUNT, "k:sliced", "OrderSliced", {"n": 2}) == {"n": 1}
        assert desk.engine.recorded(ACCOUNT, "j", also=("k:sliced",)) is None
        assert desk.engine.noted(ACCOUNT, "k:sliced") == {"n": 1}
    assert desk.engine.noted(ACCOUNT, "k:sliced") == {"n": 1}
    # Outside a batch nothing is remembered: each call looks.
    assert desk.engine.recorded(ACCOUNT, "m", also=("m:sliced",)) is None
    assert desk.engine.note(ACCOUNT, "m:sliced", "OrderSliced", {"n": 3}) == {"n": 3}
    assert desk.engine.noted(ACCOUNT, "m:sliced") == {"n": 3}


def test_breaker_state_stored_midway_through_a_batch_stays_when_the_rest_is_undone(
    factory: Factory,
) -> None:
    """A command that is not staged commits on its own in the middle of a batch (here a
    modify the venue refuses: a venue error); undoing the rest of the batch must not undo
    what the breaker counted for it."""
    desk = _desk(
        factory,
        breakers={
            ACCOUNT: BreakerConfig(max_errors_per_hour=2, error_rate_action=TradingState.HALTED)
        },
    )
    resting = desk.engine.handle(submit(OrderSide.BUY, "1", kind=OrderType.LIMIT, px="95"))
    coid = ClientOrderId(str(resting.client_order_id))

    def refuse(*args: object) -> None:
        raise VenueRejectedError("the venue refused the change")

    desk.paper.modify = refuse  # type: ignore[method-assign]
    modify = ModifyOrder(account_id=ACCOUNT, client_order_id=coid, price=price("96"))
    with contextlib.suppress(RuntimeError), desk.engine.batch(ACCOUNT):
        desk.engine.handle(submit(OrderSide.BUY, "1"))
        assert desk.engine.handle(modify).ok  # sent; the venue's refusal: error 1
        raise RuntimeError("undone")
    assert desk.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
    desk.engine.handle(modify)  # error 2
    assert desk.engine.trading_state(ACCOUNT) is TradingState.HALTED


def _quote(desk: Desk, px: str) -> None:
    """A quote reaching the paper exchange (the market thread's part), no pump."""
    desk.market.set_mark(AAPL.id, Decimal(px), desk.clock.now())
    desk.paper.on_quote(Quote(AAPL.id, desk.clock.now(), Decimal(px)))


def test_a_quote_during_a_batch_that_is_undone_fills_nothing(factory: Factory) -> None:
    """A staged order is not stored yet: a quote that crosses it passes it by, so when the
    batch is undone and the alert redone under the same id, no fill of the undone attempt
    turns up on the new order (the venue and the engine agree: working, flat)."""
    desk = _desk(factory)
    entry = submit(OrderSide.BUY, "1", kind=OrderType.LIMIT, px="95", idempotency_key="alert:7")
    with contextlib.suppress(RuntimeError), desk.engine.batch(ACCOUNT):
        desk.engine.handle(entry)
        _quote(desk, "94")  # crosses the staged order
        raise RuntimeError("the next alert failed: the batch is undone")
    _quote(desk, "100")
    again = desk.engine.handle(entry)  # redone one by one: the same key, the same id
    assert again.ok
    assert desk.order(str(again.client_order_id)).status is OrderStatus.ACCEPTED
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == 0
    assert [o.client_order_id.value for o in desk.paper.working_orders] == [again.client_order_id]


def test_a_quote_that_passed_a_staged_order_by_is_matched_once_it_is_stored(
    factory: Factory,
) -> None:
    desk = _desk(factory)
    with desk.engine.batch(ACCOUNT):
        staged = desk.engine.handle(submit(OrderSide.BUY, "1", kind=OrderType.LIMIT, px="95"))
        _quote(desk, "94")
        assert desk.engine.position(ACCOUNT, None, AAPL.id) == 0
    assert desk.order(str(staged.client_order_id)).status is OrderStatus.FILLED
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(1)


def test_an_undone_first_batch_after_a_restart_keeps_the_tripped_breakers() -> None:
    store = InMemoryStore()
    breakers = {
        ACCOUNT: BreakerConfig(max_errors_per_hour=1, error_rate_action=TradingState.HALTED)
    }
    first = _desk(lambda: InMemoryUnitOfWork(store), breakers=breakers)

    def refuse(order: Order) -> list[OrderEvent]:
        raise VenueRejectedError("refused")

    first.paper.submit_now = refuse  # type: ignore[method-assign]
    first.engine.handle(submit(OrderSide.BUY, "1"))
    assert first.engine.trading_state(ACCOUNT) is TradingState.HALTED
    restarted = Desk(store=store, limits=RiskLimits(max_orders_per_second=None), breakers=breakers)
    restarted.quote(AAPL, "100")
    _undo_attempt = contextlib.suppress(RuntimeError)
    with _undo_attempt, restarted.engine.batch(ACCOUNT):
        assert restarted.engine.handle(submit(OrderSide.BUY, "1")).code == "TRADING_HALTED"
        raise RuntimeError("undone")
    assert restarted.engine.trading_state(ACCOUNT) is TradingState.HALTED
    assert restarted.engine.handle(submit(OrderSide.BUY, "1")).code == "TRADING_HALTED"


def test_a_paper_order_journals_its_command_and_events_in_order(factory: Factory) -> None:
    """The command, its acceptance and fill, and an exit plan (written first), in the order
    they happened, one by one and in a batch alike; a refusal journals its command too."""
    desk = _desk(factory)
    desk.engine.handle(submit(OrderSide.BUY, "10", exits=ExitPlan(stop_loss=price("90"))))
    with desk.engine.batch(ACCOUNT):
        desk.engine.handle(submit(OrderSide.SELL, "4", idempotency_key="k"))
    desk.engine.handle(submit(OrderSide.BUY, "10", kind=OrderType.LIMIT, px="99"))
    assert not desk.engine.handle(submit(OrderSide.BUY, "100000", idempotency_key="x")).ok
    with desk.factory() as uow:
        kinds = [r.kind for r in uow.journal.records(ACCOUNT)]
    filled = ["SubmitOrder", "OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert kinds == [
        "ExitPlanned",
        *filled,
        *filled,
        *filled[:3],
        "SubmitOrder",
        "OrderDenied",
    ]


def test_a_paper_order_is_journaled_in_one_statement(tmp_path: Path) -> None:
    """Its command and the venue's answer (accepted, filled) go in one executemany: one round
    trip on PostgreSQL, where two statements used to write them."""
    engine = make_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    migrate(engine)
    desk = _desk(lambda: SqlUnitOfWork(engine))
    journal_writes: list[int] = []

    def record(
        _c: object, _cur: object, statement: str, params: object, _x: object, many: bool
    ) -> None:
        if statement.startswith("INSERT INTO journal"):
            journal_writes.append(len(params) if many else 1)  # type: ignore[arg-type]

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert desk.engine.handle(submit(OrderSide.BUY, "10")).ok
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        engine.dispose()
    assert journal_writes == [4]  # SubmitOrder, OrderSubmitted, OrderAccepted, OrderFilled


def test_an_order_whose_unit_fails_counts_against_no_rate_limit() -> None:
    """Outside a batch, a send undone (its commit failed) is taken back from the account's
    order rate, so the next order in the same second is not refused for it (in a batch, the
    batch's undo takes it back: the next test)."""
    storage = FailingCommits(InMemoryStore())
    desk = _desk(storage, RiskLimits(max_orders_per_second=1))
    storage.fail_next = True
    with pytest.raises(OSError, match="disk full"):
        desk.engine.handle(submit(OrderSide.BUY, "1"))
    assert desk.paper.working_orders == []
    outcome = desk.engine.handle(submit(OrderSide.BUY, "1"))  # the same instant
    assert outcome.ok, outcome
    assert not desk.engine.handle(submit(OrderSide.BUY, "1")).ok  # the limit still holds


def test_an_order_that_fails_in_a_batch_is_taken_back_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a batch the failed send is taken back with the batch, not a second time on its own
    (the clock stands still: a second take-back would remove an order that did happen)."""
    store = InMemoryStore()
    desk = _desk(lambda: InMemoryUnitOfWork(store), RiskLimits(max_orders_per_second=2))
    assert desk.engine.handle(submit(OrderSide.BUY, "1")).ok  # counted, and it stands
    real = desk.paper.submit_now

    def broken(order: Order) -> list[OrderEvent]:
        raise ConnectionError("the venue link dropped")

    monkeypatch.setattr(desk.paper, "submit_now", broken)
    with pytest.raises(ConnectionError), desk.engine.batch(ACCOUNT):
        desk.engine.handle(submit(OrderSide.BUY, "1"))
    monkeypatch.setattr(desk.paper, "submit_now", real)
    assert desk.engine.handle(submit(OrderSide.BUY, "1")).ok  # the second of two this second
    refused = desk.engine.handle(submit(OrderSide.BUY, "1"))
    assert refused.code == "SUBMIT_RATE_EXCEEDED", refused
