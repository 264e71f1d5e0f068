"""Market data reaching the engine: validated marks, the market-hours gate on real exchange
calendars, a stale feed pausing entries (exits still go) and resuming, and the intraday
square-off at a configured IST time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.feeds.calendars import ExchangeCalendars
from algodesk.adapters.storage.memory.instruments import InMemoryInstrumentStore
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.market.staleness import FeedResumed, FeedStale
from algodesk.domain.matching.observations import Quote, TradeTick
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import Currency, money, quantity
from algodesk.ports.market_data import MarketEvent
from algodesk.services.engine import Engine
from algodesk.services.ledger import LedgerService
from algodesk.services.market import FeedAlert, MarketService
from algodesk.services.risk_context import EngineLimits
from algodesk.services.square_off import SquareOff, SquareOffRule
from algodesk.testing.clock import FixedClock
from tests.conftest import ACCOUNT

D = Decimal
AAPL = Instrument(InstrumentId("AAPL.NASDAQ"), AssetClass.EQUITY, Currency("USD"), D("0.01"))
RELIANCE = Instrument(InstrumentId("RELIANCE.NSE"), AssetClass.EQUITY, Currency("INR"), D("0.05"))
# Wednesday 18 Nov 2026, 10:00 New York (EST, UTC-5): NASDAQ is open.
NY_MORNING = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def calendars() -> ExchangeCalendars:
    return ExchangeCalendars()


class MarketDesk:
    def __init__(self, calendars: ExchangeCalendars, now: datetime, instrument: Instrument):
        self.clock = FixedClock(now)
        store = InMemoryStore()
        factory = lambda: InMemoryUnitOfWork(store)  # noqa: E731
        self.market = MarketService(
            InMemoryInstrumentStore([instrument]),
            calendars,
            self.clock,
            max_silence=timedelta(seconds=30),
        )
        self.paper = PaperBroker(PaperBrokerConfig(), {instrument.id: instrument}, self.clock.now)
        self.market.listen(self._to_paper)
        self.alerts: list[FeedAlert] = []
        self.market.on_alert(self.alerts.append)
        self.ledger = LedgerService(factory, self.clock)
        self.engine = Engine(
            factory,
            self.clock,
            self.market,
            {instrument.venue: self.paper},
            EngineLimits(accounts={ACCOUNT: RiskLimits(max_orders_per_second=None)}),
            self.ledger,
        )
        self.ledger.deposit(ACCOUNT, money("10000000", instrument.currency), key="seed")
        self.instrument = instrument
        self.market.subscribe([instrument.id])

    def _to_paper(self, event: MarketEvent) -> None:
        if isinstance(event, Quote):
            self.paper.on_quote(event)

    def tick(self, last: str, after: timedelta = timedelta(seconds=1)) -> object:
        self.clock.advance(after)
        verdict = self.market.on_event(Quote(self.instrument.id, self.clock.now(), D(last)))
        self.engine.pump()
        return verdict

    def order(self, side: OrderSide, qty: str) -> str | None:
        """The denial code, or None when the order passed (and filled)."""
        outcome = self.engine.handle(
            SubmitOrder(
                account_id=ACCOUNT,
                instrument_id=self.instrument.id,
                side=side,
                order_type=OrderType.MARKET,
                quantity=quantity(qty),
            )
        )
        self.engine.pump()
        return None if outcome.ok else outcome.code

    def position(self) -> Decimal:
        return self.engine.position(ACCOUNT, None, self.instrument.id)


def test_a_stale_feed_pauses_entries_lets_exits_through_and_resumes(
    calendars: ExchangeCalendars,
) -> None:
    desk = MarketDesk(calendars, NY_MORNING, AAPL)
    assert desk.tick("100") is None
    assert desk.order(OrderSide.BUY, "10") is None
    assert desk.position() == 10

    desk.clock.advance(timedelta(seconds=30))
    assert desk.market.check_stale() == []  # 30 s of silence is allowed
    desk.clock.advance(timedelta(seconds=1))
    [stale] = desk.market.check_stale()
    assert isinstance(stale, FeedStale)
    assert desk.alerts == [stale]
    assert "entries paused" in stale.describe()
    assert desk.market.check_stale() == []  # reported once

    assert desk.order(OrderSide.BUY, "1") == "FEED_STALE"
    assert desk.order(OrderSide.SELL, "11") == "FEED_STALE"  # would flip to short: an entry
    assert desk.order(OrderSide.SELL, "4") is None  # an exit still goes, on the last mark
    assert desk.position() == 6

    assert desk.tick("100.5") is None
    assert isinstance(desk.alerts[-1], FeedResumed)
    assert desk.order(OrderSide.BUY, "1") is None
    assert desk.position() == 7


def test_bad_ticks_do_not_keep_a_feed_alive(calendars: ExchangeCalendars) -> None:
    desk = MarketDesk(calendars, NY_MORNING, AAPL)
    desk.tick("100")
    for _ in range(40):  # a bad print every second: all rejected, none counts as data
        assert desk.tick("0") is not None
    assert [type(a) for a in desk.market.check_stale()] == [FeedStale]
    assert desk.market.mark(AAPL.id).price == 100  # type: ignore[union-attr]
    assert desk.market.validator.counts() == {"NON_POSITIVE_PRICE": 40}


def test_silence_outside_market_hours_is_not_stale_and_orders_are_refused(
    calendars: ExchangeCalendars,
) -> None:
    # Saturday 21 Nov 2026: NASDAQ is closed all day.
    desk = MarketDesk(calendars, datetime(2026, 11, 21, 15, 0, tzinfo=UTC), AAPL)
    desk.tick("100")
    desk.clock.advance(timedelta(hours=2))
    assert desk.market.check_stale() == []
    assert desk.order(OrderSide.BUY, "1") == "MARKET_CLOSED"
    # Monday's session opens at 14:30 UTC; the weekend's silence does not make it stale at once.
    desk.clock.set(datetime(2026, 11, 23, 14, 30, 20, tzinfo=UTC))
    assert desk.market.check_stale() == []
    desk.clock.set(datetime(2026, 11, 23, 14, 30, 31, tzinfo=UTC))
    assert [a.instrument_id for a in desk.market.check_stale()] == [AAPL.id]


def test_a_venue_without_a_calendar_fails_closed(calendars: ExchangeCalendars) -> None:
    odd = Instrument(InstrumentId("XYZ.NOWHERE"), AssetClass.EQUITY, Currency("USD"), D("0.01"))
    desk = MarketDesk(calendars, NY_MORNING, odd)
    desk.tick("10")
    assert desk.order(OrderSide.BUY, "1") == "MARKET_CLOSED"


def ist(day: int, hh: int, mm: int) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=UTC) - timedelta(hours=5, minutes=30)


def test_intraday_positions_are_squared_off_at_the_configured_ist_time(
    calendars: ExchangeCalendars,
) -> None:
    desk = MarketDesk(calendars, ist(20, 10, 0), RELIANCE)  # Friday 20 Nov, 10:00 IST
    desk.tick("1500")
    assert desk.order(OrderSide.BUY, "20") is None
    square_off = SquareOff(
        desk.engine, calendars, [SquareOffRule(Venue("NSE"), time(15, 10))], desk.clock
    )
    desk.clock.set(ist(20, 15, 9))
    assert square_off.run_due() == []
    desk.tick("1501", after=timedelta(minutes=1))
    assert [o.ok for o in square_off.run_due()] == [True]
    desk.engine.pump()
    assert desk.position() == 0
    assert square_off.run_due() == []  # once per session

    # Monday 23 Nov: a new position, squared off again at 15:10 IST.
    desk.clock.set(ist(23, 10, 0))
    desk.tick("1502")
    assert desk.order(OrderSide.BUY, "5") is None
    desk.clock.set(ist(23, 15, 12))
    desk.tick("1503")
    assert len(square_off.run_due()) == 1
    desk.engine.pump()
    assert desk.position() == 0


def test_a_trade_tick_marks_the_instrument(calendars: ExchangeCalendars) -> None:
    desk = MarketDesk(calendars, NY_MORNING, AAPL)
    assert desk.market.mark(AAPL.id) is None
    desk.market.on_event(TradeTick(AAPL.id, NY_MORNING, D("101.25"), D(3)))
    assert desk.market.mark(AAPL.id).price == D("101.25")  # type: ignore[union-attr]
    assert desk.market.latest(AAPL.id) is None  # no quote yet


def test_square_off_on_a_half_day_goes_before_the_early_close(
    calendars: ExchangeCalendars,
) -> None:
    """27 Nov 2026 NASDAQ closes at 13:00 New York (18:00 UTC); a 15:50 rule would never come."""
    desk = MarketDesk(calendars, datetime(2026, 11, 27, 15, 0, tzinfo=UTC), AAPL)
    desk.tick("100")
    assert desk.order(OrderSide.BUY, "3") is None
    square_off = SquareOff(
        desk.engine, calendars, [SquareOffRule(Venue("NASDAQ"), time(15, 50))], desk.clock
    )
    desk.clock.set(datetime(2026, 11, 27, 17, 49, tzinfo=UTC))
    desk.tick("100.1")
    assert square_off.run_due() == []
    desk.clock.set(datetime(2026, 11, 27, 17, 50, tzinfo=UTC))
    desk.tick("100.2")
    assert len(square_off.run_due()) == 1
    desk.engine.pump()
    assert desk.position() == 0


def test_an_instrument_imported_after_a_miss_is_found(calendars: ExchangeCalendars) -> None:
    store = InMemoryInstrumentStore()
    market = MarketService(store, calendars, FixedClock(NY_MORNING))
    assert market.instrument(AAPL.id) is None
    store.put([AAPL], "test", NY_MORNING.date())
    assert market.instrument(AAPL.id) == AAPL


def test_the_days_reference_price_is_the_last_mark_before_midnight_utc(
    calendars: ExchangeCalendars,
) -> None:
    desk = MarketDesk(calendars, datetime(2026, 3, 2, 23, 59, 50, tzinfo=UTC), AAPL)
    desk.tick("100", after=timedelta(seconds=1))
    desk.tick("101", after=timedelta(seconds=1))  # 23:59:52, the last of Monday
    desk.tick("105", after=timedelta(seconds=20))  # Tuesday 00:00:12
    desk.tick("107", after=timedelta(seconds=1))
    assert desk.market.day_marks(date(2026, 3, 3)) == {AAPL.id: D(101)}
    assert desk.market.day_marks(date(2026, 3, 2)) == {}  # the day before is forgotten


def test_a_desk_started_during_the_day_takes_the_days_first_mark(
    calendars: ExchangeCalendars,
) -> None:
    desk = MarketDesk(calendars, datetime(2026, 3, 3, 15, tzinfo=UTC), AAPL)
    desk.tick("99")
    desk.tick("98")
    assert desk.market.day_marks(date(2026, 3, 3)) == {AAPL.id: D(99)}
