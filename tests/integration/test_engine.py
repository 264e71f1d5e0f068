"""The engine from the caller's side: commands in; orders, journal, ledger and the paper
exchange's view out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.commands import CancelOrder, Flatten, ModifyOrder, SetTradingState, SubmitOrder
from algodesk.domain.events import OrderEvent
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.matching import FeeModel, Quote
from algodesk.domain.orders import OrderStatus, OrderType
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.risk.breakers import BreakerConfig
from algodesk.domain.values import Currency, money, price, quantity
from algodesk.ports.broker import BrokerPort
from algodesk.ports.storage import UnitOfWork
from algodesk.services.bots import BotService
from algodesk.services.engine import Engine
from algodesk.services.exits import ExitRunner
from algodesk.services.ledger import LedgerService
from algodesk.services.recovery import recover_paper
from algodesk.services.risk_context import EngineLimits
from algodesk.testing.brokers import ForwardingBroker
from algodesk.testing.clock import FixedClock
from algodesk.testing.market import FakeMarket
from tests.conftest import ACCOUNT, T0

D = Decimal
PAPER = Venue("PAPER")
USD = Currency("USD")
AAPL = Instrument(InstrumentId("AAPL.PAPER"), AssetClass.EQUITY, USD, D("0.01"))
MSFT = Instrument(InstrumentId("MSFT.PAPER"), AssetClass.EQUITY, USD, D("0.01"))
BOT = BotId("alpha")


class Desk:
    """An engine with the paper exchange, on in-memory storage unless given a factory.

    ``paper_config`` configures the paper exchange; ``venue`` wraps it (a venue that refuses,
    hangs...); ``bots`` and ``fees`` go to the engine as they would in a deployment.
    """

    def __init__(
        self,
        store: InMemoryStore | None = None,
        limits: RiskLimits | None = None,
        factory: Callable[[], UnitOfWork] | None = None,
        *,
        paper_config: PaperBrokerConfig | None = None,
        venue: Callable[[PaperBroker], BrokerPort] | None = None,
        bots: Callable[[Callable[[], UnitOfWork], FixedClock, LedgerService], BotService]
        | None = None,
        fees: Mapping[Venue, FeeModel] | None = None,
        breakers: Mapping[AccountId, BreakerConfig] | None = None,
    ) -> None:
        self.store = store or InMemoryStore()
        self.clock = FixedClock(T0)
        self.market = FakeMarket([AAPL, MSFT])
        config = paper_config or PaperBrokerConfig()
        self.paper = PaperBroker(config, self.market.instruments, self.clock.now)
        if store is None:  # a new book: nothing held (a restart's is seeded by recover_paper)
            self.paper.hold_positions([])
        if factory is None:
            factory = lambda: InMemoryUnitOfWork(self.store)  # noqa: E731
        self.factory = factory
        self.ledger = LedgerService(factory, self.clock)
        self.bots = bots(factory, self.clock, self.ledger) if bots else None
        if self.bots is not None:
            self.bots.load([ACCOUNT])
        self.engine = Engine(
            factory,
            self.clock,
            self.market,
            {PAPER: venue(self.paper) if venue else self.paper},
            EngineLimits(accounts={ACCOUNT: limits or RiskLimits()}, breakers=breakers or {}),
            self.ledger,
            bots=self.bots,
            fees=fees,
        )
        self.events: list[object] = []
        self.engine.subscribe(self.events.append)
        self.exits = ExitRunner(self.engine, factory, self.clock)
        self.exits.load([ACCOUNT])

    def quote(self, instrument: Instrument, last: str) -> None:
        self.market.set_mark(instrument.id, D(last), self.clock.now())
        self.paper.on_quote(Quote(instrument.id, self.clock.now(), D(last)))
        self.engine.pump()

    def recover(self) -> str:
        """What a restart does before marks: the paper exchange's book rebuilt from storage
        (its working orders and the books' positions); what it printed."""
        return recover_paper(
            self.engine,
            self.factory,
            self.clock,
            PAPER,
            self.paper.restore,
            self.paper.hold_positions,
        )

    def order(self, coid: str):  # type: ignore[no-untyped-def]
        with self.factory() as uow:
            return uow.orders.get(ClientOrderId(coid))


#: The paper exchange seen as a remote venue: the same answers, but not in process (the engine
#: must store an order before it sends it, one transaction each).
RemoteVenue = ForwardingBroker


def funded_desk(limits: RiskLimits | None = None, cash: str = "100000", **desk: Any) -> Desk:
    """A desk whose account holds ``cash`` USD, with AAPL marked at 100, and no per-second
    rate gate unless ``limits`` says otherwise (the test clock stands still)."""
    made = Desk(limits=limits or RiskLimits(max_orders_per_second=None), **desk)
    made.ledger.deposit(ACCOUNT, money(cash, USD), key="seed")
    made.quote(AAPL, "100")
    return made


def submit(
    side: OrderSide = OrderSide.BUY,
    qty: str = "10",
    kind: OrderType = OrderType.MARKET,
    px: str | None = None,
    **kw: object,
) -> SubmitOrder:
    return SubmitOrder(
        account_id=ACCOUNT,
        instrument_id=kw.pop("instrument", AAPL.id),  # type: ignore[arg-type]
        side=side,
        order_type=kind,
        quantity=quantity(qty),
        price=price(px) if px else None,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def desk() -> Desk:
    d = Desk()
    d.ledger.deposit(ACCOUNT, money("100000", USD), key="seed")
    d.quote(AAPL, "100")
    return d


def test_a_market_order_is_filled_and_booked(desk: Desk) -> None:
    outcome = desk.engine.handle(submit(idempotency_key="alert-1"))
    assert outcome.ok
    order = desk.order(outcome.client_order_id)
    assert order.status is OrderStatus.FILLED
    summary = desk.ledger.summary(ACCOUNT)
    assert summary.positions[AAPL.id].quantity == D(10)
    assert summary.cash["USD"] == D(99000)
    assert desk.ledger.verify().ok
    kinds = [type(e).__name__ for e in desk.events if isinstance(e, OrderEvent)]
    assert kinds == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]


def test_a_repeated_idempotency_key_returns_the_first_outcome_and_trades_once(desk: Desk) -> None:
    first = desk.engine.handle(submit(idempotency_key="alert-1"))
    again = desk.engine.handle(submit(idempotency_key="alert-1"))
    assert again.replayed
    assert (again.ok, again.client_order_id) == (first.ok, first.client_order_id)
    assert desk.ledger.summary(ACCOUNT).positions[AAPL.id].quantity == D(10)


def test_a_client_order_id_already_taken_is_refused_and_trades_nothing(desk: Desk) -> None:
    first = desk.engine.handle(submit(client_order_id=ClientOrderId("MINE1")))
    again = desk.engine.handle(submit(client_order_id=ClientOrderId("MINE1")))
    assert first.ok
    assert (again.ok, again.code) == (False, "DUPLICATE_CLIENT_ORDER_ID")
    assert desk.ledger.summary(ACCOUNT).positions[AAPL.id].quantity == D(10)


def test_a_note_keeps_what_was_journaled_first_under_its_key(desk: Desk) -> None:
    assert desk.engine.noted(ACCOUNT, "alert-1:sliced") is None
    first = desk.engine.note(ACCOUNT, "alert-1:sliced", "OrderSliced", {"quantity": "3640"})
    again = desk.engine.note(ACCOUNT, "alert-1:sliced", "OrderSliced", {"quantity": "1885"})
    assert first == again == {"quantity": "3640"}
    assert desk.engine.noted(ACCOUNT, "alert-1:sliced") == {"quantity": "3640"}
    # A note is no command: the key answers no retry's recorded outcome.
    assert desk.engine.recorded(ACCOUNT, "alert-1:sliced") is None


def test_a_note_made_in_a_batch_is_undone_with_it(desk: Desk) -> None:
    seen: list[object] = []

    def note_then_fail() -> None:
        with desk.engine.batch(ACCOUNT):
            desk.engine.note(ACCOUNT, "k:sliced", "OrderSliced", {"quantity": "1"})
            seen.append(desk.engine.noted(ACCOUNT, "k:sliced"))  # staged, and seen so
            raise RuntimeError("undo the batch")

    with pytest.raises(RuntimeError, match="undo"):
        note_then_fail()
    assert seen == [{"quantity": "1"}]
    assert desk.engine.noted(ACCOUNT, "k:sliced") is None


def test_a_denied_order_is_recorded_and_never_reaches_the_venue(desk: Desk) -> None:
    desk.engine.handle(
        SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="test")
    )
    outcome = desk.engine.handle(submit())
    assert (outcome.ok, outcome.code) == (False, "TRADING_HALTED")
    assert desk.order(outcome.client_order_id).status is OrderStatus.DENIED
    assert desk.paper.working_orders == []
    assert desk.ledger.summary(ACCOUNT).positions == {}
    with InMemoryUnitOfWork(desk.store) as uow:
        kinds = [r.kind for r in uow.journal.records(ACCOUNT)]
    assert kinds[-2:] == ["SubmitOrder", "OrderDenied"]


def test_an_unconfigured_account_cannot_trade(desk: Desk) -> None:
    from algodesk.domain.identifiers import AccountId

    outcome = desk.engine.handle(
        SubmitOrder(
            account_id=AccountId("stranger"),
            instrument_id=AAPL.id,
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=quantity("1"),
        )
    )
    assert outcome.code == "ACCOUNT_NOT_FOUND"


def test_a_resting_limit_fills_when_the_mark_trades_through(desk: Desk) -> None:
    outcome = desk.engine.handle(submit(kind=OrderType.LIMIT, px="99"))
    assert desk.order(outcome.client_order_id).status is OrderStatus.ACCEPTED
    desk.clock.advance(timedelta(seconds=5))
    desk.quote(AAPL, "98.90")
    assert desk.order(outcome.client_order_id).status is OrderStatus.FILLED
    assert desk.ledger.summary(ACCOUNT).cash["USD"] == D(99010)


def test_cancel_and_modify_of_a_working_order(desk: Desk) -> None:
    coid = desk.engine.handle(submit(kind=OrderType.LIMIT, px="95")).client_order_id
    assert desk.engine.handle(
        ModifyOrder(account_id=ACCOUNT, client_order_id=ClientOrderId(coid), price=price("96"))
    ).ok
    assert desk.order(coid).price == price("96")
    assert desk.order(coid).status is OrderStatus.ACCEPTED
    assert desk.engine.handle(
        CancelOrder(account_id=ACCOUNT, client_order_id=ClientOrderId(coid))
    ).ok
    assert desk.order(coid).status is OrderStatus.CANCELED
    again = desk.engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=ClientOrderId(coid)))
    assert (again.ok, again.code) == (False, "ORDER_NOT_OPEN")


def test_a_modify_passes_the_gates(desk: Desk) -> None:
    coid = desk.engine.handle(submit(kind=OrderType.LIMIT, px="95")).client_order_id
    outcome = desk.engine.handle(
        ModifyOrder(account_id=ACCOUNT, client_order_id=ClientOrderId(coid), price=price("50"))
    )
    assert (outcome.ok, outcome.code) == (False, "PRICE_OUTSIDE_BAND")
    assert desk.order(coid).price == price("95")
    assert desk.order(coid).status is OrderStatus.ACCEPTED


def test_cancels_pass_even_when_halted(desk: Desk) -> None:
    coid = desk.engine.handle(submit(kind=OrderType.LIMIT, px="95")).client_order_id
    desk.engine.handle(
        SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="test")
    )
    assert desk.engine.handle(
        CancelOrder(account_id=ACCOUNT, client_order_id=ClientOrderId(coid))
    ).ok
    assert desk.order(coid).status is OrderStatus.CANCELED


def test_flatten_when_halted_cancels_orders_and_closes_positions(desk: Desk) -> None:
    desk.quote(MSFT, "50")
    desk.engine.handle(submit(qty="10"))
    desk.engine.handle(submit(side=OrderSide.SELL, qty="20", instrument=MSFT.id))
    working = desk.engine.handle(submit(kind=OrderType.LIMIT, px="90")).client_order_id
    desk.engine.handle(
        SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="kill switch")
    )
    outcome = desk.engine.handle(Flatten(account_id=ACCOUNT, idempotency_key="kill-1"))
    assert outcome.message == "canceled 1 orders, closing 2 positions"
    assert desk.order(working).status is OrderStatus.CANCELED
    summary = desk.ledger.summary(ACCOUNT)
    assert summary.open_positions == []
    assert desk.ledger.verify().ok
    assert desk.engine.handle(submit()).code == "TRADING_HALTED"
    again = desk.engine.handle(Flatten(account_id=ACCOUNT, idempotency_key="kill-1"))
    assert again.replayed
    assert again.message == outcome.message


def test_state_and_idempotency_survive_a_restart(desk: Desk) -> None:
    first = desk.engine.handle(submit(idempotency_key="alert-9"))
    desk.engine.handle(
        SetTradingState(account_id=ACCOUNT, state=TradingState.REDUCING, reason="daily loss")
    )
    restarted = Desk(store=desk.store)
    restarted.quote(AAPL, "100")  # a new process: its marks come from the feed again
    assert restarted.engine.trading_state(ACCOUNT) is TradingState.REDUCING
    again = restarted.engine.handle(submit(idempotency_key="alert-9"))
    assert again.replayed
    assert again.client_order_id == first.client_order_id
    assert (
        restarted.engine.handle(submit(idempotency_key="alert-10")).code == "TRADING_STATE_REDUCING"
    )


def test_a_bot_trades_only_its_allocation(desk: Desk) -> None:
    desk.ledger.allocate(ACCOUNT, BOT, money("500", USD))
    assert desk.engine.handle(submit(qty="5", bot_id=BOT)).ok
    outcome = desk.engine.handle(submit(qty="1", bot_id=BOT))
    assert outcome.code == "INSUFFICIENT_BUYING_POWER"
    assert "scope=bot alpha" in outcome.message


def test_concurrent_submits_never_exceed_the_position_limit() -> None:
    # The clock stands still here: switch the per-second rate gate off, or it would decide.
    desk = Desk(limits=RiskLimits(max_position_qty=D(50), max_orders_per_second=None))
    desk.ledger.deposit(ACCOUNT, money("1000000", USD))
    desk.quote(AAPL, "100")
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def fire(n: int) -> None:
        barrier.wait()
        try:
            for k in range(10):
                desk.engine.handle(submit(qty="1", idempotency_key=f"t{n}-{k}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    position = desk.ledger.summary(ACCOUNT).positions[AAPL.id].quantity
    assert position == D(50)
    with InMemoryUnitOfWork(desk.store) as uow:
        denied = [o for o in uow.orders.list(ACCOUNT) if o.status is OrderStatus.DENIED]
    assert len(denied) == 150
    assert {o.last_reason.split(":")[0] for o in denied} == {"POSITION_LIMIT_EXCEEDED"}  # type: ignore[union-attr]
    assert desk.ledger.verify().ok


def test_the_engine_runs_on_every_storage(uow_factory: Callable[[], UnitOfWork]) -> None:
    desk = Desk(factory=uow_factory)
    desk.ledger.deposit(ACCOUNT, money("10000", USD), key="seed")
    desk.quote(AAPL, "100")
    filled = desk.engine.handle(submit(idempotency_key="a1"))
    resting = desk.engine.handle(submit(kind=OrderType.LIMIT, px="95", idempotency_key="a2"))
    assert desk.order(filled.client_order_id).status is OrderStatus.FILLED
    assert desk.order(resting.client_order_id).status is OrderStatus.ACCEPTED
    restarted = Desk(factory=uow_factory)
    assert restarted.engine.handle(submit(idempotency_key="a1")).replayed
    assert restarted.ledger.verify().ok
    with uow_factory() as uow:
        kinds = [r.kind for r in uow.journal.records(ACCOUNT)]
    assert kinds == [
        "SubmitOrder",
        "OrderSubmitted",
        "OrderAccepted",
        "OrderFilled",
        "SubmitOrder",
        "OrderSubmitted",
        "OrderAccepted",
    ]


def test_cash_booked_outside_the_engine_is_seen_at_the_next_check(desk: Desk) -> None:
    assert desk.engine.handle(submit(qty="990")).ok  # the engine's view now exists: 1,000 left
    assert desk.engine.handle(submit(qty="11")).code == "INSUFFICIENT_BUYING_POWER"
    desk.ledger.deposit(ACCOUNT, money("100", USD), key="top-up")
    assert desk.engine.handle(submit(qty="11")).ok


def test_open_orders_are_copies_that_cannot_change_the_engine_view(desk: Desk) -> None:
    outcome = desk.engine.handle(submit(kind=OrderType.LIMIT, px="90"))
    assert outcome.ok
    (working,) = desk.engine.open_orders(ACCOUNT)
    assert working.status is OrderStatus.ACCEPTED
    working.status = OrderStatus.CANCELED
    working.pending_from.append(OrderStatus.SUBMITTED)
    (again,) = desk.engine.open_orders(ACCOUNT)
    assert again.status is OrderStatus.ACCEPTED
    assert again.pending_from == []
    assert desk.order(str(outcome.client_order_id)).status is OrderStatus.ACCEPTED
