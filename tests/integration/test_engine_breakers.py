"""Circuit breakers inside the engine: trips from fills and venue errors change what the gates
allow, survive a restart, and lift only by timer or an audited reset."""

from __future__ import annotations

from decimal import Decimal

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import Venue
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.risk.breakers import BreakerConfig
from algodesk.domain.values import Currency, money, quantity
from algodesk.ports.broker import BrokerPort
from algodesk.services.engine import Engine
from algodesk.services.ledger import LedgerService
from algodesk.services.risk_context import EngineLimits
from algodesk.testing.brokers import RefusingBroker
from algodesk.testing.clock import FixedClock
from algodesk.testing.market import FakeMarket
from tests.conftest import ACCOUNT, T0
from tests.integration.test_engine import AAPL

D = Decimal
USD = Currency("USD")


class Setup:
    def __init__(
        self,
        config: BreakerConfig,
        store: InMemoryStore | None = None,
        broker: BrokerPort | None = None,
    ) -> None:
        self.store = store or InMemoryStore()
        self.clock = FixedClock(T0)
        self.market = FakeMarket([AAPL])
        self.paper = PaperBroker(PaperBrokerConfig(), self.market.instruments, self.clock.now)
        self.ledger = LedgerService(lambda: InMemoryUnitOfWork(self.store), self.clock)
        limits = EngineLimits(
            {ACCOUNT: RiskLimits(max_orders_per_second=None, price_band_pct=None)},
            breakers={ACCOUNT: config},
        )
        self.engine = Engine(
            lambda: InMemoryUnitOfWork(self.store),
            self.clock,
            self.market,
            {Venue("PAPER"): broker or self.paper},
            limits,
            self.ledger,
        )

    def price(self, last: str) -> None:
        self.market.set_mark(AAPL.id, D(last), self.clock.now())
        self.paper.on_quote(Quote(AAPL.id, self.clock.now(), D(last)))

    def trade(self, side: OrderSide, qty: str, at: str) -> str | None:
        self.price(at)
        outcome = self.engine.handle(
            SubmitOrder(
                account_id=ACCOUNT,
                instrument_id=AAPL.id,
                side=side,
                order_type=OrderType.MARKET,
                quantity=quantity(qty),
            )
        )
        return outcome.code


def test_a_drawdown_trip_halts_survives_a_restart_and_lifts_only_on_an_audited_reset() -> None:
    desk = Setup(BreakerConfig(max_drawdown_pct=D(5)))
    desk.ledger.deposit(ACCOUNT, money("10000", USD))
    assert desk.trade(OrderSide.BUY, "10", "100") is None  # equity 10,000 (peak)
    assert desk.trade(OrderSide.SELL, "10", "50.01") is None  # loss 499.90: 4.999 % below the peak
    assert desk.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
    assert desk.trade(OrderSide.BUY, "1", "100") is None
    # Marked at 99.90 the equity is 9,500.00: 5 % below the peak. The breaker sees the marks
    # before the next order is judged, so even this closing sale meets a halted account.
    assert desk.trade(OrderSide.SELL, "1", "99.90") == "TRADING_HALTED"
    assert desk.engine.trading_state(ACCOUNT) is TradingState.HALTED
    assert desk.trade(OrderSide.BUY, "1", "100") == "TRADING_HALTED"

    restarted = Setup(BreakerConfig(max_drawdown_pct=D(5)), store=desk.store)
    assert restarted.engine.trading_state(ACCOUNT) is TradingState.HALTED
    assert restarted.engine.reset_breakers(ACCOUNT, None, by="admin: reviewed").ok
    assert restarted.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
    with InMemoryUnitOfWork(desk.store) as uow:
        kinds = [r.kind for r in uow.journal.records(ACCOUNT) if r.kind.startswith("Breaker")]
        tripped = uow.journal.records(ACCOUNT, "BreakerTripped")[0]
    assert kinds == ["BreakerTripped", "BreakerReset"]
    assert tripped.payload["kind"] == "DRAWDOWN_LIMIT"
    assert tripped.payload["figures"]["equity"] == "9500"  # type: ignore[index]


def test_a_drawdown_from_marks_alone_trips_before_the_next_entry() -> None:
    desk = Setup(BreakerConfig(max_drawdown_pct=D(10)))
    desk.ledger.deposit(ACCOUNT, money("10000", USD))
    assert desk.trade(OrderSide.BUY, "50", "100") is None
    desk.price("75")  # marked equity 8,750: 12.5 % below the peak, and no fill since
    assert desk.trade(OrderSide.BUY, "1", "75") == "TRADING_HALTED"


def test_consecutive_losses_move_the_account_to_reducing() -> None:
    desk = Setup(BreakerConfig(max_consecutive_losses=2))
    desk.ledger.deposit(ACCOUNT, money("10000", USD))
    for _ in range(2):
        desk.trade(OrderSide.BUY, "1", "100")
        desk.trade(OrderSide.SELL, "1", "99")
    assert desk.engine.trading_state(ACCOUNT) is TradingState.REDUCING
    assert desk.trade(OrderSide.BUY, "1", "100") == "TRADING_STATE_REDUCING"


def test_venue_errors_trip_the_error_breaker_and_halt() -> None:
    base = Setup(BreakerConfig())  # only for its paper exchange
    refusing = RefusingBroker(base.paper, {"submit", "cancel", "modify"}, "margin check failed")
    desk = Setup(BreakerConfig(max_errors_per_hour=3), broker=refusing)
    desk.ledger.deposit(ACCOUNT, money("10000", USD))
    for _ in range(3):
        assert desk.trade(OrderSide.BUY, "1", "100") == "VENUE_REJECTED"  # sent; refused
    assert desk.engine.trading_state(ACCOUNT) is TradingState.HALTED
    assert desk.trade(OrderSide.BUY, "1", "100") == "TRADING_HALTED"


def test_a_loss_streak_and_the_day_start_survive_a_restart() -> None:
    config = BreakerConfig(max_consecutive_losses=4, daily_loss_pct=D(50))
    desk = Setup(config)
    desk.ledger.deposit(ACCOUNT, money("10000", USD))
    for _ in range(2):
        desk.trade(OrderSide.BUY, "1", "100")
        desk.trade(OrderSide.SELL, "1", "99")
    restarted = Setup(config, store=desk.store)
    assert restarted.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
    for _ in range(2):
        restarted.trade(OrderSide.BUY, "1", "100")
        restarted.trade(OrderSide.SELL, "1", "99")
    assert restarted.engine.trading_state(ACCOUNT) is TradingState.REDUCING  # 4 in a row
    with InMemoryUnitOfWork(desk.store) as uow:
        starts = uow.journal.records(ACCOUNT, "DayStart")
    assert [r.payload["equity"] for r in starts] == [
        "10000"
    ]  # one per day, kept across the restart


def test_a_withdrawal_is_not_a_drawdown_and_a_restart_remembers_the_money_put_in() -> None:
    config = BreakerConfig(max_drawdown_pct=D(10))
    desk = Setup(config)
    desk.ledger.deposit(ACCOUNT, money("10000", USD))
    assert desk.trade(OrderSide.BUY, "1", "100") is None  # the peak: 10,000
    desk.ledger.withdraw(ACCOUNT, money("2000", USD))  # profits taken out: no trading loss
    assert desk.trade(OrderSide.BUY, "1", "100") is None
    assert desk.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
    restarted = Setup(config, store=desk.store)
    restarted.ledger.withdraw(ACCOUNT, money("3000", USD))  # after a restart too
    assert restarted.trade(OrderSide.BUY, "1", "100") is None
    # A real loss still is one: of the 5,000 left, 10% is 500. Long 12 (3 + 9) with 3,800 in cash,
    # a fall to 59 loses 492 (not yet), to 58 loses 504.
    assert restarted.trade(OrderSide.BUY, "9", "100") is None
    assert restarted.trade(OrderSide.BUY, "1", "59") is None
    assert restarted.trade(OrderSide.SELL, "1", "59") is None
    assert restarted.trade(OrderSide.BUY, "1", "58") == "TRADING_HALTED"
