"""Circuit breakers inside the engine: trips from fills and venue errors change what the gates
allow, survive a restart, and lift only by timer or an audited reset."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import Venue
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType, TimeInForce
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.risk.breakers import BreakerConfig
from algodesk.domain.values import Currency, money, price, quantity
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
            day_marks=self.market.day_marks,
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


def test_the_days_loss_counts_from_midnight_not_from_its_first_order() -> None:
    """The day opens with a loss on a position held overnight, and the day's first order
    comes after it: the breaker measures from the day's start, not from that order."""
    desk = Setup(BreakerConfig(daily_loss_pct=D(5)))
    desk.ledger.deposit(ACCOUNT, money("100000", USD))
    assert desk.trade(OrderSide.BUY, "500", "100") is None  # day 1: equity 100,000
    desk.clock.advance(timedelta(hours=14))
    desk.price("100")  # the last price before midnight
    desk.clock.advance(timedelta(hours=10))  # day 2, 09:15
    desk.price("100")
    desk.clock.advance(timedelta(hours=4))
    desk.price("89")  # down 5,500 on the day: 5.5%
    assert desk.trade(OrderSide.BUY, "1", "89") == "TRADING_STATE_REDUCING"


def test_the_days_start_takes_back_the_fill_that_first_observes_it() -> None:
    """A limit left from yesterday fills at today's open before anything else is observed:
    the day starts from before that fill, valued at the last price before midnight."""
    desk = Setup(BreakerConfig(daily_loss_pct=D(5)))
    desk.ledger.deposit(ACCOUNT, money("100000", USD))
    assert desk.trade(OrderSide.BUY, "500", "100") is None
    resting = SubmitOrder(
        account_id=ACCOUNT,
        instrument_id=AAPL.id,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=quantity("100"),
        price=price("95"),
        time_in_force=TimeInForce.GTC,
    )
    assert desk.engine.handle(resting).ok
    desk.clock.advance(timedelta(hours=14))
    desk.price("100")  # midnight's reference: 100, the day starts at 100,000
    desk.clock.advance(timedelta(hours=10))
    desk.price("94.50")  # the open: the limit fills at 95 (40,500 in cash, 600 shares)
    desk.engine.pump()
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == D(600)
    # At 91.50 the book is worth 95,400: 4.6% down on the day (counted from after the fill at
    # midnight's price, 100,500, it would be 5.07%); at 90.80, 94,980: 5.02%.
    assert desk.trade(OrderSide.BUY, "1", "91.50") is None
    assert desk.trade(OrderSide.SELL, "1", "91.50") is None
    assert desk.trade(OrderSide.BUY, "1", "90.80") == "TRADING_STATE_REDUCING"


def test_a_fill_after_a_restart_adds_to_the_journals_loss_streak_once() -> None:
    """The exit's first part was a loss before the restart; its next part, pumped before any
    command of the account, is the second loss in a row, and the third part the third: not
    the journal's losses counted again on top (which made the third the fourth, and tripped)."""
    base = Setup(BreakerConfig())  # for a market and a clock (neither moves here)
    venue = PaperBroker(
        PaperBrokerConfig(max_fill_per_quote=D(4)), base.market.instruments, base.clock.now
    )
    config = BreakerConfig(max_consecutive_losses=4)
    desk = Setup(config, broker=venue)
    desk.paper = venue
    desk.ledger.deposit(ACCOUNT, money("10000", USD))
    assert desk.trade(OrderSide.BUY, "12", "100") is None
    desk.price("100")
    desk.price("100")
    desk.engine.pump()
    assert desk.trade(OrderSide.SELL, "12", "99") is None  # 4 at 99: a loss
    restarted = Setup(config, store=desk.store, broker=venue)
    restarted.paper = venue
    restarted.price("99")
    restarted.engine.pump()  # 4 more at 99, before any command: the second loss
    assert restarted.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
    restarted.price("99")
    restarted.engine.pump()  # the third of 4
    assert restarted.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
