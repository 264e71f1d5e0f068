"""Build the snapshot the risk gates judge an order by: one scope for the account and one for
the order's bot, from the ledger, the working orders and the configured limits."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from algodesk.domain.identifiers import AccountId, BotId, InstrumentId, Venue
from algodesk.domain.instruments import Instrument
from algodesk.domain.orders import Order, OrderStatus
from algodesk.domain.portfolio import ALL_BOTS, AllBots, BookSummary, summarize
from algodesk.domain.risk.base import (
    Mark,
    PositionMark,
    RiskContext,
    RiskLimits,
    Scope,
    TradingState,
    WorkingOrder,
)
from algodesk.domain.values import Price
from algodesk.ports.market import MarketView
from algodesk.ports.storage import UnitOfWork

__all__ = ["EngineLimits", "RateCounter", "build_context"]


@dataclass(frozen=True, slots=True)
class EngineLimits:
    """Limits per account and per bot; an account without limits cannot trade (fail closed).

    ``venue_burst``: per venue, (operations, window).
    """

    accounts: Mapping[AccountId, RiskLimits]
    bots: Mapping[BotId, RiskLimits] = field(default_factory=dict)
    venue_burst: Mapping[Venue, tuple[int, timedelta]] = field(default_factory=dict)
    banned_underlyings: frozenset[str] = frozenset()


class RateCounter:
    """Operations in a sliding window."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._times: deque[datetime] = deque()

    def count(self, now: datetime) -> int:
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        return len(self._times)

    def add(self, now: datetime) -> None:
        self._times.append(now)


def _working(
    order: Order, marks: Mapping[InstrumentId, Mark | None], inst: Instrument | None
) -> WorkingOrder:
    px: Price | None = order.price or order.trigger_price
    mark = marks.get(order.instrument_id)
    value = px.value if px is not None else (mark.price if mark else Decimal(0))
    return WorkingOrder(
        order.instrument_id,
        order.side,
        order.leaves_quantity.value,
        value,
        inst.multiplier if inst else Decimal(1),
        order.reduce_only,
    )


def _scope(
    label: str,
    limits: RiskLimits,
    state: TradingState,
    summary: BookSummary,
    order: Order,
    working: tuple[WorkingOrder, ...],
    market: MarketView,
    entries_today: int,
) -> Scope:
    positions: dict[InstrumentId, PositionMark] = {}
    marks: dict[InstrumentId, Decimal] = {}
    for iid, pos in summary.positions.items():
        mark = market.mark(iid)
        marks[iid] = mark.price if mark else pos.last_price
        positions[iid] = PositionMark(pos.quantity, marks[iid], pos.multiplier)
    inst = market.instrument(order.instrument_id)
    ccy = inst.currency.code if inst else ""
    held = summary.positions.get(order.instrument_id)
    return Scope(
        label=label,
        limits=limits,
        state=state,
        position=held.quantity if held else Decimal(0),
        positions=positions,
        working=working,
        cash=summary.cash.get(ccy, Decimal(0)),
        equity=summary.equity(marks).get(ccy, Decimal(0)),
        entries_today=entries_today,
    )


def build_context(
    uow: UnitOfWork,
    order: Order,
    now: datetime,
    market: MarketView,
    limits: EngineLimits,
    states: Mapping[tuple[AccountId, BotId | None], TradingState],
    account_ops: int,
    venue_ops: int,
    target_price: Price | None,
) -> RiskContext:
    instrument = market.instrument(order.instrument_id)
    mark = market.mark(order.instrument_id)
    account = order.account_id
    account_limits = limits.accounts.get(account)
    open_orders = uow.orders.list(account, open_only=True)
    marks = {o.instrument_id: market.mark(o.instrument_id) for o in open_orders}
    entries = list(uow.ledger.entries(account))
    scopes: list[Scope] = []
    today = [
        o
        for o in uow.orders.list(account)
        if o.created_at.date() == now.date()
        and o.status is not OrderStatus.DENIED
        and not o.reduce_only
    ]
    if account_limits is not None:
        bot_key: BotId | AllBots | None = ALL_BOTS
        working = tuple(_working(o, marks, market.instrument(o.instrument_id)) for o in open_orders)
        scopes.append(
            _scope(
                f"account {account}",
                account_limits,
                states.get((account, None), TradingState.ACTIVE),
                summarize(entries, bot_key),
                order,
                working,
                market,
                len(today),
            )
        )
        if order.bot_id is not None:
            bot = order.bot_id
            bot_working = tuple(
                _working(o, marks, market.instrument(o.instrument_id))
                for o in open_orders
                if o.bot_id == bot
            )
            scopes.append(
                _scope(
                    f"bot {bot}",
                    limits.bots.get(bot, RiskLimits()),
                    states.get((account, bot), TradingState.ACTIVE),
                    summarize(entries, bot),
                    order,
                    bot_working,
                    market,
                    sum(1 for o in today if o.bot_id == bot),
                )
            )
    burst = limits.venue_burst.get(order.instrument_id.venue)
    return RiskContext(
        now=now,
        instrument=instrument,
        mark=mark,
        scopes=tuple(scopes),
        market_open=market.is_open(order.instrument_id.venue, now),
        banned_underlyings=limits.banned_underlyings,
        account_ops_last_second=account_ops,
        venue_ops_in_window=venue_ops,
        venue_burst_limit=burst[0] if burst else None,
        venue_burst_window=burst[1] if burst else timedelta(seconds=1),
        target_price=target_price,
    )
