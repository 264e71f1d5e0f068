"""The square-off closes every book's intraday position, also where bots hold opposite ways and
the account nets to nothing (it skipped the instrument: both positions stayed open overnight)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import BotId, Venue
from algodesk.domain.values import money
from algodesk.services.square_off import SquareOff, SquareOffRule
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, USD, funded_desk, submit


def test_the_square_off_closes_bots_that_hold_opposite_ways() -> None:
    desk = funded_desk()
    alpha, beta = BotId("alpha"), BotId("beta")
    for bot in (alpha, beta):
        desk.ledger.allocate(ACCOUNT, bot, money("20000", USD))
    assert desk.engine.handle(submit(qty="10", bot_id=alpha)).ok
    assert desk.engine.handle(submit(side=OrderSide.SELL, qty="10", bot_id=beta)).ok
    now = desk.clock.now()

    class Calendar:  # the session closes in an hour; the square-off time passed a minute ago
        def trading_day(self, ts: datetime) -> date:
            return ts.date()

        def session(self, day: date) -> SimpleNamespace:
            return SimpleNamespace(close=now + timedelta(hours=1))

        def at(self, day: date, t: time) -> datetime:
            return now - timedelta(minutes=1)

    calendars = SimpleNamespace(for_venue=lambda venue: Calendar())
    rule = SquareOffRule(Venue("PAPER"), time(15, 10))
    square = SquareOff(desk.engine, calendars, [rule], desk.clock)  # type: ignore[arg-type]
    square.run_due()
    desk.quote(AAPL, "100")
    assert desk.engine.holdings(ACCOUNT) == []
