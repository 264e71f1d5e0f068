"""The demo account that `make run` shows: a deposit, an allocation to a bot, and a few trades
in one US stock. Seeding is idempotent: every entry has a fixed key or trade id."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

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
from algodesk.domain.values import Currency, money, price, quantity
from algodesk.services.ledger import LedgerService

__all__ = ["DEMO_ACCOUNT", "DEMO_BOT", "DEMO_INSTRUMENT", "seed_demo"]

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
