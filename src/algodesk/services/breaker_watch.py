"""The circuit breakers at work in the engine: what they are fed, and what they journal.

After each fill the account's and the bot's equity at marks (and a closing fill's net P&L);
before each order the equity at marks, so a drawdown that marks alone caused trips before the
order is judged; after a venue error, the error. Trips and the records that let a restart
resume (peaks, the day's start, closed trades) are journaled and published. The equity is read
through a read-only unit; a write unit is opened only when there is something to journal.

The daily-loss breaker's day starts (UTC) from the equity the scope had at 00:00: its positions
then at the day's reference prices (``day_marks``: the last marks before midnight), worked out
at the day's first observation (which may follow the day's first fill: that fill is taken back
for it). Without ``day_marks`` it starts from the equity at that first observation, which
misses a loss that came before it (a gap at the open, before the day's first order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal

from algodesk.domain.identifiers import AccountId, BotId, InstrumentId
from algodesk.domain.ledger.booking import FillTerms
from algodesk.domain.ledger.entries import CASH, FEES, PNL_REALIZED, EntryKind, LedgerEntry
from algodesk.domain.orders import Order
from algodesk.domain.portfolio import BookSummary
from algodesk.ports.clock import Clock
from algodesk.ports.market import MarketView
from algodesk.ports.storage import UnitOfWork
from algodesk.services.breakers import BreakerBoard, ScopedTrip
from algodesk.services.risk_context import AccountView

__all__ = ["BreakerWatch"]


class BreakerWatch:
    def __init__(
        self,
        board: BreakerBoard,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        market: MarketView,
        view: Callable[[UnitOfWork, AccountId], AccountView],
        publish: Callable[..., None],
        read_factory: Callable[[], UnitOfWork] | None = None,
        day_marks: Callable[[date], Mapping[InstrumentId, Decimal]] | None = None,
    ) -> None:
        self._board = board
        self._day_marks = day_marks
        self._uow_factory = uow_factory
        self._read_factory = read_factory or uow_factory
        self._clock = clock
        self._market = market
        self._view = view
        self._publish = publish

    def _watched(self, account_id: AccountId, bot_id: BotId | None) -> bool:
        """Whether the account or the bot has a breaker: without one there is nothing to feed
        (the board skips a scope without a breaker)."""
        return self._board.breaker(account_id) is not None or (
            bot_id is not None and self._board.breaker(account_id, bot_id) is not None
        )

    def _equity(self, summary: BookSummary, ccy: str) -> Decimal:
        marks = {}
        for iid, pos in summary.positions.items():
            mark = self._market.mark(iid)
            marks[iid] = mark.price if mark else pos.last_price
        return summary.equity(marks).get(ccy, Decimal(0))

    def _start_equity(
        self, summary: BookSummary, ccy: str, fill: LedgerEntry | None, bot: BotId | None
    ) -> Decimal | None:
        """The scope's equity at 00:00 UTC today: its cash and positions then (``fill``, the
        day's first, taken back), at the day's reference prices (else the latest mark, else
        the last fill price). None without ``day_marks``."""
        if self._day_marks is None:
            return None
        refs = self._day_marks(self._clock.now().date())
        cash = summary.cash.get(ccy, Decimal(0))
        moved: dict[InstrumentId, Decimal] = {}
        if fill is not None and fill.kind is EntryKind.FILL:
            for p in fill.postings:
                if p.book == CASH and p.currency.code == ccy and (bot is None or p.bot_id == bot):
                    cash -= p.amount
            if bot is None or fill.bot_id == bot:
                terms = FillTerms.of(fill.details)
                moved[terms.instrument_id] = terms.quantity * terms.side.sign
        equity = cash
        for iid, pos in summary.positions.items():
            quantity = pos.quantity - moved.get(iid, Decimal(0))
            if pos.currency != ccy or quantity.is_zero():
                continue
            mark = self._market.mark(iid)
            price = refs.get(iid)  # a reference of 0 is a price (not "none": no `or`)
            if price is None:
                price = mark.price if mark else pos.last_price
            equity += quantity * price * pos.multiplier
        return equity

    def _feed(
        self,
        view: AccountView,
        account: AccountId,
        bot: BotId | None,
        ccy: str,
        closed: Decimal | None,
        fill: LedgerEntry | None = None,
    ) -> list[ScopedTrip]:
        """Feed the board; journal what it produced (a write unit only when there is any).
        Equity is worked out for the scopes that have a breaker only; the day's starting
        equity only at the day's first observation of a scope."""
        now = self._clock.now()
        equity: dict[BotId | None, Decimal] = {}
        contributed: dict[BotId | None, Decimal] = {}
        day_start: dict[BotId | None, Decimal] = {}
        for scope in (None, bot) if bot is not None else (None,):
            if self._board.breaker(account, scope) is None:
                continue
            summary = view.account if scope is None else view.bot(scope)
            equity[scope] = self._equity(summary, ccy)
            contributed[scope] = summary.contributed(ccy)
            if not self._board.day_started(account, scope, now.date()):
                start = self._start_equity(summary, ccy, fill, scope)
                if start is not None:
                    day_start[scope] = start
        trips, records = self._board.observe_fill(
            now, account, bot, equity, closed, contributed, day_start
        )
        if records or trips:
            with self._uow_factory() as uow:
                for record in records:
                    uow.journal.append(record)
                for scoped in trips:
                    uow.journal.append(scoped.record())
                uow.commit()
        return trips

    def after_fill(self, order: Order, entry: LedgerEntry) -> None:
        """The scope's equity at marks and, for a closing fill, its net P&L."""
        if not self._watched(order.account_id, order.bot_id):
            return
        realized = -sum((p.amount for p in entry.postings if p.book == PNL_REALIZED), Decimal(0))
        fees = sum((p.amount for p in entry.postings if p.book == FEES), Decimal(0))
        closed = realized - fees if not realized.is_zero() else None
        with self._read_factory() as uow:
            view = self._view(uow, order.account_id)
        ccy = entry.postings[0].currency.code
        trips = self._feed(view, order.account_id, order.bot_id, ccy, closed, entry)
        self._publish(*trips)

    def observe(self, account_id: AccountId, bot_id: BotId | None) -> None:
        """Before an order is judged: the equity at current marks."""
        if not self._watched(account_id, bot_id):
            return
        with self._read_factory() as uow:
            view = self._view(uow, account_id)
        ccys = set(view.account.cash) | {p.currency for p in view.account.positions.values()}
        if len(ccys) != 1:
            return  # equity in several currencies: breakers judge single-currency books
        (ccy,) = ccys
        trips = self._feed(view, account_id, bot_id, ccy, None)
        self._publish(*trips)

    def after_error(self, account_id: AccountId) -> None:
        """A venue refusal or timeout."""
        trips = self._board.observe_error(self._clock.now(), account_id)
        if not trips:
            return
        with self._uow_factory() as uow:
            for scoped in trips:
                uow.journal.append(scoped.record())
            uow.commit()
        self._publish(*trips)
