"""Build the snapshot the risk gates judge an order by: one scope for the account and one for
the order's bot, from the ledger, the working orders and the configured limits."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from algodesk.domain.day_trades import count_day_trades, window_start
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId, Venue
from algodesk.domain.instruments import Instrument
from algodesk.domain.ledger.entries import EntryKind, LedgerEntry
from algodesk.domain.matching import FeeModel, Liquidity, estimate_round_trip_bps
from algodesk.domain.orders import Order, OrderStatus
from algodesk.domain.portfolio import BookSummary
from algodesk.domain.risk.base import (
    Mark,
    PositionMark,
    RiskContext,
    RiskLimits,
    Scope,
    TradingState,
    WorkingOrder,
    reference_price,
    underlying_of,
)
from algodesk.domain.risk.breakers import BreakerConfig
from algodesk.domain.values import Price
from algodesk.ports.fno_ban import FnoBanSource
from algodesk.ports.market import MarketView
from algodesk.ports.storage import UnitOfWork

__all__ = ["AccountView", "EngineLimits", "RateCounter", "build_context", "with_fees"]

_INDIA = ZoneInfo("Asia/Kolkata")


@dataclass(frozen=True, slots=True)
class EngineLimits:
    """Limits per account and per bot; an account without limits cannot trade (fail closed).

    ``venue_burst``: per venue, (operations, window). ``breakers`` / ``bot_breakers``: circuit
    breaker settings; a scope without one has no breaker.
    """

    accounts: Mapping[AccountId, RiskLimits]
    bots: Mapping[BotId, RiskLimits] = field(default_factory=dict)
    breakers: Mapping[AccountId, BreakerConfig] = field(default_factory=dict)
    bot_breakers: Mapping[BotId, BreakerConfig] = field(default_factory=dict)
    venue_burst: Mapping[Venue, tuple[int, timedelta]] = field(default_factory=dict)
    banned_underlyings: frozenset[str] = frozenset()
    #: The day's F&O ban list (a deployment's); with it, a list that is not the trade date's
    #: denies new positions in Indian stock derivatives (fail closed).
    fno_ban: FnoBanSource | None = None


class RateCounter:
    """Operations in a sliding window."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._times: deque[datetime] = deque()
        self._lock = threading.Lock()  # a venue's counter is shared by its accounts' writers

    def count(self, now: datetime) -> int:
        with self._lock:
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            return len(self._times)

    def add(self, now: datetime) -> None:
        with self._lock:
            self._times.append(now)

    def remove(self, at: datetime) -> None:
        """Take back an operation counted at ``at`` that did not happen (an undone batch)."""
        with self._lock, contextlib.suppress(ValueError):  # else: out of the window already
            self._times.remove(at)

    def wait(self, now: datetime, limit: int) -> timedelta:
        """How long from ``now`` until one more operation fits under ``limit`` (zero when it
        fits now)."""
        with self._lock:
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            over = len(self._times) - limit
            if over < 0:
                return timedelta(0)
            return self._times[over] + self.window - now


class AccountView:
    """The engine's running picture of one account, so that a check reads no storage: ledger
    summaries for the account and for each bot (caught up by sequence number, so entries
    booked outside the engine, such as deposits, are seen too), the open orders, and the
    entries made today. Only the account's single writer updates it."""

    def __init__(self, account_id: AccountId) -> None:
        self.account_id = account_id
        self.seq = 0
        self.account = BookSummary()
        self.bots: dict[BotId | None, BookSummary] = {}
        self.open: dict[ClientOrderId, Order] = {}
        self._orders_loaded = False
        self._day: date | None = None
        # Opening orders per day and scope, counted once from storage, then as they are made.
        self._entries: dict[tuple[date, BotId | None], int] = {}
        self._counted = False
        self.fills: list[LedgerEntry] = []
        self._day_trades: dict[tuple[BotId | None, date], tuple[int, int]] = {}

    def catch_up(self, uow: UnitOfWork, today: date) -> None:
        head = uow.ledger.head(self.account_id)
        if head is not None and head.seq > self.seq:  # else nothing new: skip reading entries
            for entry in uow.ledger.entries(self.account_id, after_seq=self.seq):
                self._add(entry)
        if not self._orders_loaded:
            self.open = {
                o.client_order_id: o for o in uow.orders.list(self.account_id, open_only=True)
            }
            self._orders_loaded = True
        self._day = today
        if not self._counted:
            self._counted = True
            for order in uow.orders.list(self.account_id):
                self._count(order)

    def _add(self, entry: LedgerEntry) -> None:
        self.account.add(entry)
        if entry.kind is EntryKind.FILL:
            self.fills.append(entry)
        for bot in {p.bot_id for p in entry.postings}:
            summary = self.bots.get(bot)
            if summary is None:
                summary = self.bots[bot] = BookSummary()
            summary.add(entry, bot)
        self.seq = entry.seq

    def booked(self, entry: LedgerEntry) -> None:
        """The account's writer committed ``entry``: take it in now when it is the next one,
        instead of reading it back at the next catch-up (which still covers any other)."""
        if entry.seq == self.seq + 1:
            self._add(entry)

    def day_trades(self, bot_id: BotId | None, today: date) -> int:
        """Day trades in the last five weekdays, for the account (``None``) or one bot."""
        key = (bot_id, today)
        cached = self._day_trades.get(key)
        if cached is not None and cached[0] == len(self.fills):
            return cached[1]
        fills = self.fills if bot_id is None else [f for f in self.fills if f.bot_id == bot_id]
        count = count_day_trades(fills, window_start(today))
        self._day_trades[key] = (len(self.fills), count)
        return count

    def bot(self, bot_id: BotId) -> BookSummary:
        return self.bots.get(bot_id) or BookSummary()

    def _count(self, order: Order, step: int = 1) -> None:
        if order.status is OrderStatus.DENIED or order.reduce_only:
            return
        day = order.created_at.date()
        self._entries[day, None] = self._entries.get((day, None), 0) + step
        if order.bot_id is not None:
            key = (day, order.bot_id)
            self._entries[key] = self._entries.get(key, 0) + step

    def entries_today(self, bot_id: BotId | None = None) -> int:
        """Opening orders sent today, for the account (``None``) or one bot."""
        if self._day is None:
            return 0
        return self._entries.get((self._day, bot_id), 0)

    def created(self, order: Order) -> None:
        """A new order was stored (after commit)."""
        if self._counted:
            self._count(order)
        self.track(order)

    def track(self, order: Order) -> None:
        """An order was stored with its current state (after commit)."""
        if order.status.is_open:
            self.open[order.client_order_id] = order
        else:
            self.open.pop(order.client_order_id, None)

    @contextmanager
    def without(self, orders: Collection[ClientOrderId]) -> Iterator[None]:
        """Within the block, the working ``orders`` do not count as working (an order checked
        as if the orders it replaces were canceled); they still count as made today."""
        kept = self.open
        self.open = {coid: o for coid, o in kept.items() if coid not in orders}
        try:
            yield
        finally:
            self.open = kept

    @contextmanager
    def assuming(self, orders: Sequence[Order]) -> Iterator[None]:
        """Within the block, ``orders`` (not stored) count as working and as made today: the
        earlier legs of an order list while its next leg is checked."""
        added = [o for o in orders if o.client_order_id not in self.open]
        for order in added:
            self.open[order.client_order_id] = order
            if self._counted:
                self._count(order)
        try:
            yield
        finally:
            for order in added:
                self.open.pop(order.client_order_id, None)
                if self._counted:
                    self._count(order, -1)


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
        underlying_of(inst, order.instrument_id),
    )


def _scope(
    label: str,
    limits: RiskLimits,
    state: TradingState,
    summary: BookSummary,
    order: Order,
    working: tuple[WorkingOrder, ...],
    market: MarketView,
    ccy: str,
    entries_today: int,
    day_trades: Callable[[], int],
) -> Scope:
    positions: dict[InstrumentId, PositionMark] = {}
    marks: dict[InstrumentId, Decimal] = {}
    for iid, pos in summary.positions.items():
        mark = market.mark(iid)
        marks[iid] = mark.price if mark else pos.last_price
        under = underlying_of(market.instrument(iid), iid)
        positions[iid] = PositionMark(pos.quantity, marks[iid], pos.multiplier, under)
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
        day_trades_5d=day_trades() if limits.pdt else 0,
    )


def _ban_list(limits: EngineLimits, now: datetime) -> tuple[frozenset[str], str | None]:
    """The underlyings banned today, and why there is no ban list for today (None: there is,
    or the deployment keeps none). The trade date is India's date now."""
    if limits.fno_ban is None:
        return limits.banned_underlyings, None
    found = limits.fno_ban.read()
    if isinstance(found, str):
        return limits.banned_underlyings, found
    today = now.astimezone(_INDIA).date()
    if found.trade_date != today:
        return limits.banned_underlyings, (
            f"the F&O ban list is for trade date {found.trade_date}, not today's {today}"
        )
    return limits.banned_underlyings | found.symbols, None


def build_context(
    view: AccountView,
    order: Order,
    now: datetime,
    market: MarketView,
    limits: EngineLimits,
    states: Mapping[tuple[AccountId, BotId | None], TradingState],
    account_ops: int,
    venue_ops: int,
    target_price: Price | None,
    oco_with: ClientOrderId | None = None,
) -> RiskContext:
    """The risk context of ``order``, from ``view`` (caught up by the caller) and the market;
    ``oco_with``, the other leg of a one-cancels-other pair, is not counted as working."""
    account = order.account_id
    account_limits = limits.accounts.get(account)
    instrument = market.instrument(order.instrument_id)
    ccy = instrument.currency.code if instrument else ""
    skip = {order.client_order_id, oco_with}
    open_orders = [o for o in view.open.values() if o.client_order_id not in skip]
    marks = {o.instrument_id: market.mark(o.instrument_id) for o in open_orders}
    scopes: list[Scope] = []
    if account_limits is not None:
        working = tuple(_working(o, marks, market.instrument(o.instrument_id)) for o in open_orders)
        scopes.append(
            _scope(
                f"account {account}",
                account_limits,
                states.get((account, None), TradingState.ACTIVE),
                view.account,
                order,
                working,
                market,
                ccy,
                view.entries_today(),
                lambda: view.day_trades(None, now.date()),
            )
        )
        if order.bot_id is not None:
            bot = order.bot_id
            bot_working = tuple(
                w for w, o in zip(working, open_orders, strict=True) if o.bot_id == bot
            )
            scopes.append(
                _scope(
                    f"bot {bot}",
                    limits.bots.get(bot, RiskLimits()),
                    states.get((account, bot), TradingState.ACTIVE),
                    view.bot(bot),
                    order,
                    bot_working,
                    market,
                    ccy,
                    view.entries_today(bot),
                    lambda: view.day_trades(bot, now.date()),
                )
            )
    burst = limits.venue_burst.get(order.instrument_id.venue)
    banned, ban_missing = _ban_list(limits, now)
    return RiskContext(
        now=now,
        instrument=instrument,
        mark=market.mark(order.instrument_id),
        scopes=tuple(scopes),
        market_open=market.is_open(order.instrument_id.venue, now),
        feed_stale=market.feed_stale(order.instrument_id),
        banned_underlyings=banned,
        fno_ban_missing=ban_missing,
        account_ops_last_second=account_ops,
        venue_ops_in_window=venue_ops,
        venue_burst_limit=burst[0] if burst else None,
        venue_burst_window=burst[1] if burst else timedelta(seconds=1),
        target_price=target_price,
    )


def with_fees(context: RiskContext, order: Order, model: FeeModel | None) -> RiskContext:
    """``context`` with the venue's estimated fees: this order's (for buying power) and a
    round trip's in basis points (for fee coverage)."""
    instrument = context.instrument
    px = reference_price(order, context.mark)
    if model is None or instrument is None or px is None or px <= 0:
        return context
    entry = model.fee(instrument, order.side, order.quantity.value, px, Liquidity.TAKER, 0)
    round_trip = estimate_round_trip_bps(
        model, instrument, order.quantity.value, px, entry_side=order.side
    )
    return replace(context, entry_fee_estimate=entry.amount, round_trip_cost_bps=round_trip)
