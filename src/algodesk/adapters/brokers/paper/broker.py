"""The paper exchange: it accepts orders, keeps them working, and fills them from marks through
:class:`~algodesk.domain.matching.MatchingEngine`, the same kernel the backtester uses.

Everything happens in process and at once: a request's events (accepted, filled, ...) are ready
for :meth:`PaperBroker.drain` when the call returns, and a quote's on return from
:meth:`PaperBroker.on_quote`. Ids derive from the client order id (venue order id
``P-<id>``, trade id ``<id>-<n>`` for the order's n-th fill), so they are deterministic and stay
unique across restarts: fill dedupe can trust them.

A reduce-only order fills only as far as it still reduces its own book, as on a venue with
reduce-only orders: the exchange keeps the positions its stored fills made in each book per
instrument (a bot's; the account's own, of its orders of no bot), seeded by
:meth:`PaperBroker.hold_positions` (empty for a new book, the stored positions at a restart). A
reduce-only order fills at most what its own book holds, the book it is booked in, and with
nothing left to reduce it is canceled (``OrderCanceled`` with :data:`NOTHING_TO_REDUCE`), on the
fill that closed the position. So other books' trades never touch an order, and closers of books
that hold opposite ways (a flatten) each close their own. An order of no bot that the gate let
through to reduce what bots hold is canceled so: its own book holds nothing. The risk gate
judges an order when it is placed; this keeps it true after, when the position shrinks under a
resting order (a take-profit left working after the trader sold at market would otherwise open
a short when it filled).

A fill of an order the engine has not stored yet (``submit_now``, before ``confirm``) counts in
its book only once it is confirmed. Orders not stored yet themselves (an engine batch's, which
are withdrawn with it) are filled against the book with those fills; a stored order at most as
far as it reduces the book with and without them, and it is canceled only when it reduces
nothing either way (a withdrawn fill never happened: nothing is canceled for it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal

from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
)
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import (
    AccountId,
    BotId,
    ClientOrderId,
    InstrumentId,
    TradeId,
    Venue,
    VenueOrderId,
)
from algodesk.domain.instruments import Instrument
from algodesk.domain.matching import Bar, MatchingEngine, MatchResult, Quote, expire_due
from algodesk.domain.orders import Order, OrderStatus, TimeInForce
from algodesk.domain.values import Price, Quantity
from algodesk.ports.broker import VenueRejectedError

__all__ = ["NOTHING_TO_REDUCE", "PaperBroker"]

_REQUESTS = frozenset({OrderStatus.PENDING_UPDATE, OrderStatus.PENDING_CANCEL})

#: Why the exchange cancels a reduce-only order of its own accord.
NOTHING_TO_REDUCE = (
    "REDUCE_ONLY_NOTHING_LEFT: the position it was to reduce was closed or shrank another way"
)


class PaperBroker:
    def __init__(
        self,
        config: PaperBrokerConfig,
        instruments: Mapping[InstrumentId, Instrument],
        clock: Callable[[], datetime],
        trading_day: Callable[[InstrumentId, datetime], date | None] | None = None,
    ) -> None:
        """``trading_day``: the session date an instant counts towards at an instrument's venue
        (``MarketCalendar.trading_day``; None when its calendar cannot say). A DAY order
        expires at the first quote after the trading day it was placed in; without
        ``trading_day`` (backtests, which place GTC orders) only when a caller says the session
        has closed."""
        self._config = config
        self._trading_day = trading_day
        self._day_of: dict[ClientOrderId, date | None] = {}  # a DAY order's trading day
        self._instruments = instruments
        self._now = clock
        self._engine = MatchingEngine(config.fill_model)
        self._working: dict[ClientOrderId, Order] = {}
        self._quotes: dict[InstrumentId, Quote] = {}
        self._events: list[OrderEvent] = []
        # Bar mode (backtests): orders that reached the venue since the last bar, each bar's close
        # per instrument, and one-cancels-other pairs (first -> second, matched in that order).
        self._fresh: set[ClientOrderId] = set()
        self._last_close: dict[InstrumentId, Decimal] = {}
        self._oco: dict[ClientOrderId, ClientOrderId] = {}
        self._oco_first: dict[ClientOrderId, ClientOrderId] = {}  # second -> first
        # Orders from submit_now the engine has not confirmed stored: quotes pass them by (and
        # those a quote passed by are matched at the confirmation).
        self._unconfirmed: set[ClientOrderId] = set()
        self._passed: set[ClientOrderId] = set()
        # What each book (a bot's; None: the account's own) holds per instrument, and each
        # account in all, as hold_positions() seeded them and stored fills moved them:
        # reduce-only orders are filled against them once they are known.
        self._held: dict[tuple[AccountId, BotId | None, InstrumentId], Decimal] = {}
        self._positions_known = False
        # Fills of an order from submit_now the engine has not confirmed stored: counted at
        # its confirmation, dropped if it is withdrawn (see the module's docstring).
        self._unstored_fills: dict[ClientOrderId, list[Fill]] = {}
        self._arriving: ClientOrderId | None = None
        # Requests may come from a guard's worker threads while the engine drains events.
        self._lock = threading.RLock()

    @property
    def venue(self) -> Venue:
        return self._config.venue

    @property
    def working_orders(self) -> list[Order]:
        """The venue's view of the orders still working (for reconciliation and tests)."""
        with self._lock:
            return [o.clone() for o in self._working.values()]

    def restore(self, orders: list[Order]) -> None:
        """Put working orders back on the book after a restart (the paper exchange lives in the
        process). Only orders the exchange had acknowledged belong here; no fills are invented
        for the time the process was down."""
        with self._lock:
            for order in orders:
                live = order.clone()
                # The book holds the venue's state: the one a pending request came from.
                states = [*live.pending_from, live.status]
                live.status = next((s for s in states if s not in _REQUESTS), live.status)
                live.pending_from = []
                self._working[live.client_order_id] = live

    def hold_positions(
        self, holdings: Iterable[tuple[AccountId, BotId | None, InstrumentId, Decimal]]
    ) -> None:
        """What each book holds per instrument as the exchange starts: ``(account, bot,
        instrument, signed quantity)``, bot ``None`` for the account's own book (orders of no
        bot), flat ones left out (empty for a new book, as in a backtest; the stored positions
        at a restart). The exchange counts its stored fills on top, and from then on fills a
        reduce-only order only as far as it reduces its book (see the module's docstring).
        Until this is called it does not know the positions, and a reduce-only order fills as
        any other (the risk gate judged it when it was placed)."""
        books = {(a, b, i): q for a, b, i, q in holdings}
        with self._lock:
            self._held = books
            self._positions_known = True

    def drain(self) -> list[OrderEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events

    # -- requests ----------------------------------------------------------------------------

    def submit(self, order: Order) -> None:
        with self._lock:
            self._submit(order)

    def _submit(self, order: Order) -> None:
        if order.client_order_id in self._working:
            raise VenueRejectedError(f"order {order.client_order_id} is already working")
        instrument = self._instruments.get(order.instrument_id)
        now = self._now()
        if instrument is None:
            self._emit(
                OrderRejected(
                    client_order_id=order.client_order_id,
                    ts=now,
                    reason=f"unknown instrument {order.instrument_id}",
                )
            )
            return
        venue_id = VenueOrderId(f"P-{order.client_order_id}")
        accepted = OrderAccepted(
            client_order_id=order.client_order_id, ts=now, venue_order_id=venue_id
        )
        self._emit(accepted)
        live = order.clone()
        live.apply(accepted)
        self._working[order.client_order_id] = live
        quote = self._quotes.get(order.instrument_id)
        if quote is not None:
            self._match(live, instrument, quote, arrival=True)
        elif live.time_in_force is TimeInForce.IOC and order.instrument_id not in self._last_close:
            # No price yet to meet it (a restart, a feed that has not spoken), and no bars to
            # wait for the next of: an IOC does not wait.
            self._finish(live, OrderCanceled(client_order_id=live.client_order_id, ts=now))
        else:  # the next observation matches it (a backtest's next bar)
            self._fresh.add(order.client_order_id)

    def submit_now(self, order: Order) -> list[OrderEvent]:
        """Submit ``order`` and return its events instead of queuing them (the engine stores
        them with the order, in one transaction)."""
        with self._lock:
            mark = len(self._events)
            self._arriving = order.client_order_id
            try:
                self._submit(order)
            finally:
                self._arriving = None
                answer = self._events[mark:]
                del self._events[mark:]
            if order.client_order_id in self._working:
                self._unconfirmed.add(order.client_order_id)
        return answer

    def confirm(self, client_order_id: ClientOrderId) -> None:
        """The engine stored the order: quotes may fill it now, starting with the last one if
        a quote passed it by meanwhile."""
        with self._lock:
            self._unconfirmed.discard(client_order_id)
            for fill in self._unstored_fills.pop(client_order_id, []):
                self._book(fill)
                self._trim(fill.instrument_id, fill.ts)
            if client_order_id not in self._passed:
                return
            self._passed.discard(client_order_id)
            live = self._working.get(client_order_id)
            if live is None:
                return
            quote = self._quotes.get(live.instrument_id)
            instrument = self._instruments.get(live.instrument_id)
            if quote is not None and instrument is not None:
                self._match(live, instrument, quote, arrival=False)

    def withdraw(self, client_order_id: ClientOrderId) -> None:
        """Forget an order whose answer the engine could not store (no event, none left to
        drain): the book is as if it never came."""
        with self._lock:
            self._unstored_fills.pop(client_order_id, None)  # never happened
            self._working.pop(client_order_id, None)
            self._day_of.pop(client_order_id, None)
            self._fresh.discard(client_order_id)
            self._unconfirmed.discard(client_order_id)
            self._passed.discard(client_order_id)
            self._unlink(client_order_id)
            self._events = [e for e in self._events if e.client_order_id != client_order_id]

    def cancel(self, order: Order) -> None:
        with self._lock:
            self._cancel(order)

    def _cancel(self, order: Order) -> None:
        live = self._working.get(order.client_order_id)
        if live is None:
            raise VenueRejectedError(f"order {order.client_order_id} is not working")
        self._finish(live, OrderCanceled(client_order_id=live.client_order_id, ts=self._now()))

    def modify(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        with self._lock:
            self._modify(order, quantity, price, trigger_price)

    def _modify(
        self,
        order: Order,
        quantity: Quantity | None,
        price: Price | None,
        trigger_price: Price | None,
    ) -> None:
        live = self._working.get(order.client_order_id)
        if live is None:
            raise VenueRejectedError(f"order {order.client_order_id} is not working")
        if quantity is not None and quantity <= live.filled_quantity:
            raise VenueRejectedError(
                f"order {live.client_order_id}: quantity {quantity} must exceed the filled "
                f"{live.filled_quantity}"
            )
        updated = OrderUpdated(
            client_order_id=live.client_order_id,
            ts=self._now(),
            quantity=quantity,
            price=price,
            trigger_price=trigger_price,
        )
        live.apply(updated)
        self._emit(updated)
        quote = self._quotes.get(live.instrument_id)
        if quote is not None:
            self._match(live, self._instruments[live.instrument_id], quote, arrival=True)

    # -- market data -------------------------------------------------------------------------

    def on_quote(self, quote: Quote, session_closed: bool = False) -> None:
        """A new mark: every working order in the instrument is matched against it, oldest
        first."""
        with self._lock:
            self._on_quote(quote, session_closed)

    def _on_quote(self, quote: Quote, session_closed: bool) -> None:
        self._quotes[quote.instrument_id] = quote
        instrument = self._instruments.get(quote.instrument_id)
        if instrument is None:
            return
        today: list[date | None] = []  # the trading day now, looked up once, if needed
        for live in [o for o in self._working.values() if o.instrument_id == quote.instrument_id]:
            if live.client_order_id not in self._working:  # a partner's fill canceled it
                continue
            if live.client_order_id in self._unconfirmed:
                self._passed.add(live.client_order_id)
                continue
            closed = session_closed or self._day_over(live, today)
            self._match(live, instrument, quote, arrival=False, session_closed=closed)

    def _day_over(self, live: Order, today: list[date | None]) -> bool:
        """Whether ``live`` is a DAY order whose trading day has ended (``today`` caches the
        trading day now)."""
        if live.time_in_force is not TimeInForce.DAY or self._trading_day is None:
            return False
        coid = live.client_order_id
        if coid not in self._day_of:
            self._day_of[coid] = self._trading_day(live.instrument_id, live.created_at)
        placed = self._day_of[coid]
        if not today:
            today.append(self._trading_day(live.instrument_id, self._now()))
        return placed is not None and today[0] is not None and today[0] > placed

    def one_cancels_other(self, first: ClientOrderId, second: ClientOrderId) -> None:
        """Link two working orders (a bracket's stop-loss and take-profit): when either fills,
        the other is canceled. On a bar where both could fill, ``first`` is matched first, so
        it wins (put the stop-loss first for the pessimistic rule)."""
        with self._lock:
            for coid in (first, second):
                if coid not in self._working:
                    raise VenueRejectedError(f"order {coid} is not working")
            self._oco[first] = second
            self._oco[second] = first
            self._oco_first[second] = first

    def on_bar(
        self,
        bar: Bar,
        *,
        session_closed: bool = False,
        fill_at_close: bool = False,
        only: frozenset[ClientOrderId] | None = None,
    ) -> None:
        """Backtests: a bar of the instrument; its working orders are matched against the
        bar's price path (:func:`~algodesk.domain.matching.bar_path`), oldest first, bracket
        partners in their linked order. Orders placed since the previous bar arrive at this
        bar's open. Fills are stamped with the clock's time.

        Args:
            bar: the bar.
            session_closed: the session's last bar (DAY orders then expire).
            fill_at_close: afterwards, orders submitted before the next bar fill at this bar's
                close (the ``same_bar_close`` mode); otherwise they wait for the next bar.
            only: match just these orders, on the path after the open (exits placed by a fill
                at this bar's open).
        """
        with self._lock:
            instrument = self._instruments.get(bar.instrument_id)
            if instrument is None:
                return
            self._quotes.pop(bar.instrument_id, None)
            after_open = only is not None
            prev_close = bar.open if after_open else self._last_close.get(bar.instrument_id)
            for live in self._bar_order(bar.instrument_id, only):
                if live.client_order_id not in self._working:
                    continue  # canceled by its bracket partner on this bar
                if expire_due(live, self._now()):  # its time ran out before this bar began
                    self._finish(
                        live, OrderExpired(client_order_id=live.client_order_id, ts=self._now())
                    )
                    continue
                arrival = not after_open and live.client_order_id in self._fresh
                self._fresh.discard(live.client_order_id)
                cap = self._cap(live, self._now())
                if cap is not None and cap <= 0:
                    continue  # a reduce-only order with nothing to reduce: canceled
                result = self._engine.on_bar(
                    live,
                    instrument,
                    bar,
                    prev_close=prev_close,
                    arrival=arrival,
                    session_closed=session_closed,
                    max_fill_quantity=cap,
                )
                self._apply_result(live, result, self._now())
            self._last_close[bar.instrument_id] = bar.close
            if fill_at_close:
                self._quotes[bar.instrument_id] = Quote(bar.instrument_id, bar.ts_close, bar.close)

    def _bar_order(
        self, instrument_id: InstrumentId, only: frozenset[ClientOrderId] | None
    ) -> list[Order]:
        orders = [
            o
            for o in self._working.values()
            if o.instrument_id == instrument_id and (only is None or o.client_order_id in only)
        ]
        ordered: dict[ClientOrderId, Order] = {}
        for order in orders:
            lead = self._oco_first.get(order.client_order_id)
            if lead is not None and lead in self._working and lead not in ordered:
                ordered[lead] = self._working[lead]  # the bracket's first is matched first
            ordered.setdefault(order.client_order_id, order)
        return list(ordered.values())

    # -- internals ---------------------------------------------------------------------------

    def _emit(self, event: OrderEvent) -> None:
        self._events.append(event)

    def _finish(self, live: Order, event: OrderEvent) -> None:
        live.apply(event)
        self._emit(event)
        if live.status.is_terminal:
            self._working.pop(live.client_order_id, None)
            self._day_of.pop(live.client_order_id, None)
            self._fresh.discard(live.client_order_id)
            if not isinstance(event, OrderFilled):  # a filled leg cancels its partner next
                self._unlink(live.client_order_id)

    def _unlink(self, coid: ClientOrderId) -> ClientOrderId | None:
        partner = self._oco.pop(coid, None)
        if partner is not None:
            self._oco.pop(partner, None)
            self._oco_first.pop(partner, None)
        self._oco_first.pop(coid, None)
        return partner

    def _cancel_partner(self, coid: ClientOrderId, now: datetime) -> None:
        partner = self._unlink(coid)
        if partner is None:
            return
        live = self._working.get(partner)
        if live is not None:
            self._finish(live, OrderCanceled(client_order_id=partner, ts=now))

    def _match(
        self,
        live: Order,
        instrument: Instrument,
        quote: Quote,
        *,
        arrival: bool,
        session_closed: bool = False,
    ) -> None:
        # Never before the order itself: a quote older than the order (the last mark when a
        # market order arrives, or a feed that lags the clock) fills it at its acceptance time.
        accepted = live.updated_at
        ts = quote.ts if accepted is None or quote.ts >= accepted else accepted
        cap = self._cap(live, ts)
        if cap is not None and cap <= 0:
            return  # a reduce-only order with nothing to reduce: canceled
        result: MatchResult = self._engine.on_quote(
            live,
            instrument,
            quote,
            arrival=arrival,
            session_closed=session_closed,
            max_fill_quantity=cap,
        )
        self._apply_result(live, result, ts)

    def _apply_result(self, live: Order, result: MatchResult, now: datetime) -> None:
        if result.triggered:
            self._finish(live, OrderTriggered(client_order_id=live.client_order_id, ts=now))
        for execution in result.executions:
            fill = Fill(
                account_id=live.account_id,
                client_order_id=live.client_order_id,
                instrument_id=live.instrument_id,
                venue=self.venue,
                trade_id=TradeId(f"{live.client_order_id}-{len(live.fills) + 1}"),
                side=live.side,
                quantity=Quantity(execution.quantity),
                price=Price(execution.price),
                fee=execution.fee,
                ts=now,
                bot_id=live.bot_id,
            )
            self._finish(live, OrderFilled(client_order_id=live.client_order_id, ts=now, fill=fill))
            self._cancel_partner(live.client_order_id, now)  # (a partner goes as such)
            if live.client_order_id == self._arriving:  # counted at its confirmation
                self._unstored_fills.setdefault(live.client_order_id, []).append(fill)
            else:
                self._book(fill)
                self._trim(live.instrument_id, now)
        if live.status.is_terminal:
            return
        if result.expired:
            self._finish(live, OrderExpired(client_order_id=live.client_order_id, ts=now))
        elif result.canceled_remainder:
            self._finish(live, OrderCanceled(client_order_id=live.client_order_id, ts=now))

    # -- reduce-only ------------------------------------------------------------------------

    def _book(self, fill: Fill) -> None:
        """Count a stored fill in its book."""
        delta = fill.quantity.value if fill.side is OrderSide.BUY else -fill.quantity.value
        key = (fill.account_id, fill.bot_id, fill.instrument_id)
        self._held[key] = self._held.get(key, Decimal(0)) + delta

    def _room(self, order: Order, unstored: bool) -> Decimal:
        """How much of reduce-only ``order`` would take its own book toward flat, counting
        the fills not yet stored when ``unstored``."""
        book = self._held.get((order.account_id, order.bot_id, order.instrument_id), Decimal(0))
        if unstored:
            for fills in self._unstored_fills.values():
                for fill in fills:
                    if (fill.account_id, fill.bot_id, fill.instrument_id) == (
                        order.account_id,
                        order.bot_id,
                        order.instrument_id,
                    ):
                        qty = fill.quantity.value
                        book += qty if fill.side is OrderSide.BUY else -qty
        return max(-book if order.side is OrderSide.BUY else book, Decimal(0))

    def _stored(self, coid: ClientOrderId) -> bool:
        """Whether the engine has the order stored (not one of submit_now's unconfirmed)."""
        return coid != self._arriving and coid not in self._unconfirmed

    def _cap(self, live: Order, ts: datetime) -> Decimal | None:
        """The most ``live`` may fill now (None: no cap). A reduce-only order fills at most
        what it reduces (see the module's docstring); with nothing to reduce it is canceled
        here (0 returned); a stored order that reduces nothing only one way waits."""
        cap = self._config.max_fill_per_quote
        if not live.reduce_only or not self._positions_known:
            return cap
        room = self._room(live, True)
        if self._stored(live.client_order_id):
            room = min(room, self._room(live, False))
        if self._reduces_nothing(live):
            self._nothing_to_reduce(live, ts)
            return Decimal(0)
        return room if cap is None else min(cap, room)

    def _reduces_nothing(self, live: Order) -> bool:
        """Whether reduce-only ``live`` has nothing left to reduce: with the fills not yet
        stored, and, for a stored order, without them too (an order not stored yet is
        withdrawn with the fills it is judged against, if they are)."""
        if self._room(live, True) > 0:
            return False
        return not self._stored(live.client_order_id) or self._room(live, False) <= 0

    def _trim(self, instrument_id: InstrumentId, ts: datetime) -> None:
        """After a stored fill in ``instrument_id``: cancel the working reduce-only orders in
        it with nothing left to reduce."""
        if not self._positions_known:
            return
        for live in list(self._working.values()):
            if (
                live.instrument_id == instrument_id
                and live.reduce_only
                and live.client_order_id != self._arriving
                and self._reduces_nothing(live)
            ):
                self._nothing_to_reduce(live, ts)

    def _nothing_to_reduce(self, live: Order, ts: datetime) -> None:
        reason = NOTHING_TO_REDUCE
        self._finish(
            live, OrderCanceled(client_order_id=live.client_order_id, ts=ts, reason=reason)
        )
