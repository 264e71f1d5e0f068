"""Where and how an order would fill on one observation, before quantity, slippage and fees.

Pure rules of ``execution-rules.md`` §d and §e, for one side (sells mirror buys):

* MARKET takes the ask (buy) or bid (sell) of a quote, else its last; on a bar, the open.
* LIMIT fills at the limit price when the market trades strictly through it (a quote's ask at or
  below a buy limit counts); a touch fills only when ``touch()`` says so. On arrival the book
  decides: an ask at or inside a buy limit fills at once at that ask, as taker; an ask outside
  it leaves the order resting, whatever the last print (it predates the order). Without a book,
  a last strictly through the limit on arrival fills at that last, as taker.
* STOP triggers when the last (or a bar's path) reaches the trigger, then fills as MARKET: a bar
  that crosses the trigger fills at the trigger, a bar that opens beyond it fills at the open.
* STOP_LIMIT triggers the same way, then is a LIMIT that has just arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from algodesk.domain.fills import OrderSide
from algodesk.domain.matching.fees import Liquidity
from algodesk.domain.matching.observations import Bar, Quote
from algodesk.domain.orders import Order, OrderStatus, OrderType

__all__ = ["Decision", "decide_on_bar", "decide_on_quote", "is_triggered"]

Touch = Callable[[], bool]
_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT)


@dataclass(frozen=True, slots=True)
class Decision:
    """A fill price (``None``: no fill), its liquidity, whether slippage applies, and why."""

    price: Decimal | None
    liquidity: Liquidity = Liquidity.TAKER
    slip: bool = False
    triggered: bool = False
    reason: str = ""


def _through(side: OrderSide, price: Decimal, limit: Decimal) -> bool:
    """The market trades strictly beyond the limit in the order's favour."""
    return price < limit if side is OrderSide.BUY else price > limit


def _reached(side: OrderSide, price: Decimal, trigger: Decimal) -> bool:
    """A buy stop triggers at or above its trigger, a sell stop at or below."""
    return price >= trigger if side is OrderSide.BUY else price <= trigger


def _limit(order: Order) -> Decimal:
    if order.price is None:
        raise ValueError(f"order {order.client_order_id}: a {order.order_type} needs a limit price")
    return order.price.value


def _trigger(order: Order) -> Decimal:
    if order.trigger_price is None:
        raise ValueError(f"order {order.client_order_id}: a {order.order_type} needs a trigger")
    return order.trigger_price.value


def is_triggered(order: Order) -> bool:
    """A stop has triggered: its state says so, a pending request started there, or it filled."""
    return (
        order.status is OrderStatus.TRIGGERED
        or OrderStatus.TRIGGERED in order.pending_from
        or not order.filled_quantity.is_zero()
    )


def _label(order: Order) -> str:
    return f"{order.order_type} {order.side}"


def _touch(order: Order, limit: Decimal, touch: Touch, triggered: bool) -> Decision:
    if touch():
        return Decision(limit, Liquidity.MAKER, triggered=triggered, reason=f"touched {limit}")
    reason = f"{_label(order)} at {limit}: touched, not traded through; touch fill not drawn"
    return Decision(None, triggered=triggered, reason=reason)


def _limit_on_quote(
    order: Order, quote: Quote, arrival: bool, touch: Touch, triggered: bool
) -> Decision:
    side, limit, last = order.side, _limit(order), quote.last
    book = quote.ask if side is OrderSide.BUY else quote.bid
    book_name = "ask" if side is OrderSide.BUY else "bid"
    book_crossed = book is not None and (book == limit or _through(side, book, limit))
    if arrival:  # judged against the book when there is one: the last print predates the order
        ref, ref_name = (book, book_name) if book is not None else (last, "last")
        if book_crossed or (book is None and _through(side, last, limit)):
            why = f"marketable on arrival: {ref_name} {ref} within limit {limit}"
            return Decision(ref, Liquidity.TAKER, triggered=triggered, reason=why)
        if book is not None:
            why = f"{_label(order)} at {limit} rests: {book_name} {book} is outside the limit"
            return Decision(None, triggered=triggered, reason=why)
    if book_crossed or _through(side, last, limit):
        why = f"traded through limit {limit} (last {last}, {book_name} {book})"
        return Decision(limit, Liquidity.MAKER, triggered=triggered, reason=why)
    if last == limit:
        return _touch(order, limit, touch, triggered)
    reason = f"{_label(order)} at {limit} not reached: last {last}, {book_name} {book}"
    return Decision(None, triggered=triggered, reason=reason)


def decide_on_quote(order: Order, quote: Quote, *, arrival: bool, touch: Touch) -> Decision:
    """The fill an order gets from one quote.

    Args:
        order: a working order (read only).
        quote: the observation.
        arrival: the order has just reached the venue (a marketable limit then takes liquidity).
        touch: draws whether a limit that is only touched fills.
    """
    side, triggered = order.side, False
    if order.order_type in _STOPS and not is_triggered(order):
        trigger = _trigger(order)
        if not _reached(side, quote.last, trigger):
            why = f"{_label(order)} trigger {trigger} not reached: last {quote.last}"
            return Decision(None, reason=why)
        triggered = True
    if order.order_type in (OrderType.MARKET, OrderType.STOP):
        book = quote.ask if side is OrderSide.BUY else quote.bid
        name = ("ask" if side is OrderSide.BUY else "bid") if book is not None else "last"
        ref = book if book is not None else quote.last
        why = f"{_label(order)} at {name} {ref}"
        return Decision(ref, Liquidity.TAKER, slip=True, triggered=triggered, reason=why)
    decision = _limit_on_quote(order, quote, arrival or triggered, touch, triggered)
    if triggered:
        why = f"trigger {_trigger(order)} reached at last {quote.last}; {decision.reason}"
        return replace(decision, reason=why)
    return decision


def _limit_on_path(
    order: Order, points: Sequence[Decimal], arrival: bool, touch: Touch, triggered: bool
) -> Decision:
    side, limit = order.side, _limit(order)
    for i, point in enumerate(points):
        if _through(side, point, limit):
            liquidity = Liquidity.TAKER if arrival and i == 0 else Liquidity.MAKER
            why = f"path point {point} through limit {limit}; filled at the limit"
            return Decision(limit, liquidity, triggered=triggered, reason=why)
    if limit in points:
        return _touch(order, limit, touch, triggered)
    reason = f"{_label(order)} at {limit} not reached on path {[str(p) for p in points]}"
    return Decision(None, triggered=triggered, reason=reason)


def decide_on_bar(
    order: Order, bar: Bar, points: Sequence[Decimal], *, arrival: bool, touch: Touch
) -> Decision:
    """The fill an order gets on one bar's path.

    Args:
        order: a working order (read only).
        bar: the bar; its open is where a market order fills and where a gap is judged.
        points: the path to test limits and triggers against (see ``bar_path``).
        arrival: the order has just reached the venue.
        touch: draws whether a limit that is only touched fills.
    """
    side, kind = order.side, order.order_type
    if kind is OrderType.MARKET or (kind is OrderType.STOP and is_triggered(order)):
        why = f"{_label(order)} at the open {bar.open}"
        return Decision(bar.open, Liquidity.TAKER, slip=True, reason=why)
    if kind is OrderType.LIMIT or is_triggered(order):
        return _limit_on_path(order, points, arrival, touch, triggered=False)
    trigger = _trigger(order)
    if _reached(side, bar.open, trigger):  # opened beyond the trigger: the open, which is worse
        fill_at = bar.open
        rest = list(points) if points and points[0] == bar.open else [bar.open, *points]
        why = f"{_label(order)} gapped through trigger {trigger} at the open {bar.open}"
    else:
        crossed = next((i for i, p in enumerate(points) if _reached(side, p, trigger)), None)
        if crossed is None:
            shown = [str(p) for p in points]
            return Decision(
                None, reason=f"{_label(order)} trigger {trigger} not reached on {shown}"
            )
        fill_at, rest = trigger, [trigger, *points[crossed:]]
        why = f"{_label(order)} crossed trigger {trigger} inside the bar"
    if kind is OrderType.STOP:
        why += f"; filled at {fill_at}"
        return Decision(fill_at, Liquidity.TAKER, slip=True, triggered=True, reason=why)
    decision = _limit_on_path(order, rest, True, touch, triggered=True)
    return replace(decision, reason=f"{why}; {decision.reason}")
