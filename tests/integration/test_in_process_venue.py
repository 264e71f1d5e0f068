"""The paper exchange lives in the process: the engine stores a paper order together with the
exchange's answer (accepted, filled, booked) in one transaction. These tests hold it to what
that must mean for a trader: when that transaction fails, nothing happened on either side."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.adapters.storage.sql.engine import make_engine, migrate
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.domain.events import OrderAccepted, OrderEvent, OrderFilled, OrderSubmitted
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, ClientOrderId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import Order, OrderStatus, OrderType
from algodesk.domain.risk.base import RiskLimits
from algodesk.ports.storage import UnitOfWork
from tests.conftest import ACCOUNT
from tests.faults import FailingCommits
from tests.integration.test_engine import AAPL, Desk, funded_desk, submit


@pytest.fixture
def failing() -> tuple[Desk, FailingCommits]:
    store = InMemoryStore()
    storage = FailingCommits(store)
    desk = funded_desk(RiskLimits(max_orders_per_second=None), store=store, factory=storage)
    return desk, storage


def _journal_kinds(desk: Desk) -> list[str]:
    with desk.factory() as uow:
        return [r.kind for r in uow.journal.records(ACCOUNT)]


def test_a_resting_order_whose_commit_fails_is_not_left_on_the_paper_book(
    failing: tuple[Desk, FailingCommits],
) -> None:
    desk, storage = failing
    before = _journal_kinds(desk)
    limit = submit(kind=OrderType.LIMIT, px="95", idempotency_key="dip")
    storage.fail_next = True
    with pytest.raises(OSError, match="disk full"):
        desk.engine.handle(limit)
    assert desk.paper.working_orders == []  # the exchange forgot it: no ghost order
    assert _journal_kinds(desk) == before
    answer = desk.engine.handle(limit)  # the retry, once storage works again
    assert answer.ok
    assert not answer.replayed
    assert [o.client_order_id.value for o in desk.paper.working_orders] == [answer.client_order_id]
    desk.quote(AAPL, "94")  # and it trades as any working order does
    stored = desk.order(str(answer.client_order_id))
    assert stored.status is OrderStatus.FILLED


def test_a_market_order_whose_commit_fails_books_nothing_and_its_retry_trades_once(
    failing: tuple[Desk, FailingCommits],
) -> None:
    desk, storage = failing
    cash = desk.engine.book(ACCOUNT).cash
    buy = submit(qty="5", idempotency_key="entry-1")
    storage.fail_next = True
    with pytest.raises(OSError, match="disk full"):
        desk.engine.handle(buy)
    assert desk.engine.book(ACCOUNT).cash == cash
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == 0
    first = desk.engine.handle(buy)
    again = desk.engine.handle(buy)
    assert first.ok
    assert again.replayed
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(5)
    assert desk.ledger.verify().ok


def test_a_filled_paper_order_is_journaled_and_published_in_the_order_it_happened() -> None:
    desk = funded_desk(RiskLimits(max_orders_per_second=None))
    desk.events.clear()
    answer = desk.engine.handle(submit(OrderSide.BUY, "3"))
    coid = ClientOrderId(str(answer.client_order_id))
    assert (answer.ok, answer.status) == (True, "SUBMITTED")  # the answer to the submit itself
    kinds = _journal_kinds(desk)
    assert kinds[-4:] == ["SubmitOrder", "OrderSubmitted", "OrderAccepted", "OrderFilled"]
    published = [type(e) for e in desk.events if getattr(e, "client_order_id", None) == coid]
    assert published == [OrderSubmitted, OrderAccepted, OrderFilled]
    assert desk.order(coid.value).status is OrderStatus.FILLED
    assert desk.engine.open_orders(ACCOUNT) == []


@pytest.fixture(params=["memory", "sqlite"])
def any_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], UnitOfWork]]:
    if request.param == "memory":
        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(store)
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    migrate(engine)
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()


def test_a_quote_before_an_order_is_stored_fills_it_once_it_is_stored(
    any_factory: Callable[[], UnitOfWork],
) -> None:
    """The paper exchange has a new limit order before the engine has stored it. A quote
    that crosses it in that moment (the market thread) passes it by; once the order is stored
    it is matched against that quote, and the fill is booked (not taken for an unknown
    order's, which left the order working forever)."""
    desk = funded_desk(RiskLimits(max_orders_per_second=None), factory=any_factory)
    market_thread: list[threading.Thread] = []
    real = desk.paper.submit_now

    def submit_now_then_a_quote(order: Order) -> list[OrderEvent]:
        answer = real(order)  # the order rests on the paper book; not stored yet

        def quote() -> None:  # what the desk's market thread does on a mark
            desk.market.set_mark(AAPL.id, Decimal(94), desk.clock.now())
            desk.paper.on_quote(Quote(AAPL.id, desk.clock.now(), Decimal(94)))
            desk.engine.pump()

        thread = threading.Thread(target=quote)
        thread.start()
        thread.join(5)
        market_thread.append(thread)
        return answer

    desk.paper.submit_now = submit_now_then_a_quote  # type: ignore[method-assign]
    answer = desk.engine.handle(submit(OrderSide.BUY, "10", kind=OrderType.LIMIT, px="95"))
    market_thread[0].join(5)
    assert not market_thread[0].is_alive()
    assert desk.order(str(answer.client_order_id)).status is OrderStatus.FILLED
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(10)
    assert desk.engine.open_orders(ACCOUNT) == []
    with desk.factory() as uow:
        assert uow.journal.records(AccountId("unknown")) == []
    assert desk.ledger.verify().ok


def test_an_order_the_paper_exchange_took_is_withdrawn_when_its_answer_fails() -> None:
    """The exchange took the order, then failed before answering (a bug in matching, say):
    the order must not stay on its book unstored, to fill later as nobody's."""
    desk = funded_desk(RiskLimits(max_orders_per_second=None))
    real = desk.paper.submit_now

    def take_then_fail(order: Order) -> list[OrderEvent]:
        real(order)
        raise ArithmeticError("matching broke")

    desk.paper.submit_now = take_then_fail  # type: ignore[method-assign]
    with pytest.raises(ArithmeticError):
        desk.engine.handle(submit(OrderSide.BUY, "1", kind=OrderType.LIMIT, px="95"))
    assert desk.paper.working_orders == []
    assert desk.engine.open_orders(ACCOUNT) == []
