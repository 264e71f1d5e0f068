"""The demo account that `make run` shows: a deposit, an allocation to a bot, and a few trades
in one US stock. Seeding is idempotent: every entry has a fixed key or trade id."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import (
    AccountId,
    BotId,
    ClientOrderId,
    InstrumentId,
    TradeId,
    Venue,
)
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.matching.observations import Quote
from algodesk.domain.values import Currency, money, price, quantity
from algodesk.services.ledger import LedgerService

__all__ = [
    "DEMO_ACCOUNT",
    "DEMO_BOT",
    "DEMO_INSTRUMENT",
    "DEMO_MARKET",
    "DEMO_SYMBOLS",
    "PAPER_ACCOUNT",
    "PAPER_BOT",
    "demo_quotes",
    "seed_demo",
]

DEMO_ACCOUNT = AccountId("demo")
DEMO_BOT = BotId("demo-bot")
DEMO_INSTRUMENT = Instrument(
    id=InstrumentId("AAPL.NASDAQ"),
    asset_class=AssetClass.EQUITY,
    currency=Currency("USD"),
    tick_size=Decimal("0.01"),
)
_PAPER = Venue("PAPER")
_TRADES = (  # side, quantity, price, fee
    (OrderSide.BUY, "100", "187.25", "1.00"),
    (OrderSide.BUY, "50", "185.10", "1.00"),
    (OrderSide.SELL, "120", "191.40", "1.00"),
)


def seed_demo(ledger: LedgerService, now: datetime) -> int:
    """Book the demo entries that are not booked yet; returns how many were new.

    The trades are stamped a few seconds after ``now``; a second seeding books nothing.
    """
    usd = Currency("USD")
    new = 0
    new += ledger.deposit(DEMO_ACCOUNT, money("100000", usd), "demo deposit", "demo-1").new
    new += ledger.allocate(DEMO_ACCOUNT, DEMO_BOT, money("50000", usd), "demo bot", "demo-2").new
    for n, (side, qty, px, fee) in enumerate(_TRADES, start=1):
        fill = Fill(
            account_id=DEMO_ACCOUNT,
            client_order_id=ClientOrderId(f"DEMO{n:04d}"),
            instrument_id=DEMO_INSTRUMENT.id,
            venue=_PAPER,
            trade_id=TradeId(f"demo-{n}"),
            side=side,
            quantity=quantity(qty),
            price=price(px),
            fee=money(fee, usd),
            ts=now + timedelta(seconds=n),
            bot_id=DEMO_BOT,
        )
        new += ledger.record_fill(fill, DEMO_INSTRUMENT).new
    return new


# -- the live demo desk of `algodesk serve` ---------------------------------------------------

PAPER_ACCOUNT = AccountId("paper")
PAPER_BOT = BotId("demo")
_USD = Currency("USD")
#: Demo instruments on the paper venue (open 24/7), with the price each walk starts from.
DEMO_MARKET = (
    (Instrument(InstrumentId("AAPL.PAPER"), AssetClass.EQUITY, _USD, Decimal("0.01")), "190.00"),
    (Instrument(InstrumentId("NVDA.PAPER"), AssetClass.EQUITY, _USD, Decimal("0.01")), "180.00"),
    (
        Instrument(
            InstrumentId("BTCUSD.PAPER"),
            AssetClass.CRYPTO_SPOT,
            _USD,
            Decimal("0.01"),
            lot_size=Decimal("0.0001"),
            min_quantity=Decimal("0.0001"),
            base_currency=Currency("BTC"),
        ),
        "90000.00",
    ),
)
#: TradingView tickers the demo bot understands.
DEMO_SYMBOLS = {
    "AAPL": InstrumentId("AAPL.PAPER"),
    "NVDA": InstrumentId("NVDA.PAPER"),
    "BTCUSD": InstrumentId("BTCUSD.PAPER"),
    "BTCUSDT": InstrumentId("BTCUSD.PAPER"),
}


def demo_quotes(
    start: datetime, steps: int = 3600, step: timedelta = timedelta(seconds=1), seed: int = 7
) -> list[Quote]:
    """A deterministic random walk per demo instrument (±0.05 % a step, on the tick), there
    and back, with a one-tick spread: the marks the replay feed of the demo desk loops over."""
    rng = random.Random(seed)  # noqa: S311 - demo prices, not secrets
    quotes: list[Quote] = []
    for instrument, first in DEMO_MARKET:
        walk = [Decimal(first)]
        for _ in range(steps // 2):
            move = Decimal(rng.randint(-5, 5)) / Decimal(10000)
            walk.append(instrument.make_price(walk[-1] * (1 + move), ROUND_HALF_EVEN).value)
        # There and back: a looping replay comes round to where it began, with no jump.
        path = walk + walk[-2:0:-1]
        tick = instrument.tick_size
        quotes.extend(
            Quote(instrument.id, start + step * n, last, bid=last - tick, ask=last + tick)
            for n, last in enumerate(path)
        )
    return quotes
