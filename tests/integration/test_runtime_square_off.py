"""``algodesk serve``'s once-a-second work (:meth:`DeskRuntime.tick`): the stale-feed pause and
the intraday square-off, on the demo desk's 24/7 paper venue and on a paper venue with
exchange hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.bootstrap import init_storage, open_desk
from algodesk.bootstrap.runtime import INDIAN_SQUARE_OFF, PAPER, DeskRuntime, RuntimeOptions
from algodesk.config import Settings
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType
from algodesk.domain.values import quantity
from algodesk.services.demo import PAPER_ACCOUNT
from algodesk.services.outcomes import Outcome
from algodesk.services.square_off import SquareOffRule
from algodesk.testing.clock import FixedClock

AAPL = InstrumentId("AAPL.PAPER")
#: Friday 20 Nov 2026, 15:00 in New York (20:00 UTC; 01:30 IST on Saturday).
FRIDAY_3PM_NY = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


class Serve:
    def __init__(self, tmp_path: Path, options: RuntimeOptions, now: datetime) -> None:
        self.clock = FixedClock(now)
        settings = Settings(data_dir=tmp_path)
        init_storage(settings)
        self.desk = open_desk(settings, self.clock)
        self.runtime = DeskRuntime(
            self.desk,
            options,
            clock=self.clock,
            hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),
        )
        self.runtime.load()
        self.runtime.prepare_demo()

    def quote(self, last: str) -> None:
        self.runtime.market.on_event(Quote(AAPL, self.clock.now(), Decimal(last)))

    def buy(self, key: str) -> Outcome:
        return self.runtime.engine.handle(
            SubmitOrder(
                account_id=PAPER_ACCOUNT,
                instrument_id=AAPL,
                side=OrderSide.BUY,
                order_type=OrderType.MARKET,
                quantity=quantity("2"),
                idempotency_key=key,
            )
        )

    def position(self) -> Decimal:
        return self.runtime.engine.position(PAPER_ACCOUNT, None, AAPL)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    made = Serve(tmp_path, RuntimeOptions(), FRIDAY_3PM_NY)
    yield made
    made.desk.close()


def test_the_demo_desk_runs_the_indian_square_off_which_leaves_the_24_7_paper_venue_alone(
    serve: Serve,
) -> None:
    assert serve.runtime.options.square_off == INDIAN_SQUARE_OFF
    serve.clock.set(datetime(2026, 11, 20, 9, 45, tzinfo=UTC))  # 15:15 IST
    serve.quote("190")
    assert serve.buy("b1").ok
    for _ in range(30):  # a day and more of ticks, an hour apart
        serve.clock.advance(timedelta(hours=1))
        serve.quote("190")
        serve.runtime.tick()
    assert serve.position() == Decimal(2)


def test_the_stale_feed_pause_runs_on_the_demo_desk(serve: Serve) -> None:
    serve.quote("190")
    serve.clock.advance(timedelta(seconds=31))
    serve.runtime.tick()
    denied = serve.buy("b1")
    assert (denied.ok, denied.code) == (False, "FEED_STALE")
    serve.quote("190")  # the feed speaks again: entries resume
    assert serve.buy("b2").ok


def test_a_paper_venue_with_exchange_hours_is_squared_off_at_the_rules_time(
    tmp_path: Path,
) -> None:
    options = RuntimeOptions(
        paper_calendar="XNYS", square_off=(SquareOffRule(PAPER, time(15, 50)),)
    )
    made = Serve(tmp_path, options, FRIDAY_3PM_NY)
    try:
        made.quote("190")
        assert made.buy("b1").ok
        made.runtime.tick()
        assert made.position() == Decimal(2)  # 15:00 New York: not yet
        made.clock.advance(timedelta(minutes=51))  # 15:51 New York
        made.quote("190")
        made.runtime.tick()
        assert made.position() == Decimal(0)
    finally:
        made.desk.close()
