"""Freeze-quantity slicing in front of the engine: an order above its instrument's freeze
quantity goes as child orders the exchange accepts.

The children come from :func:`~algodesk.domain.market.slicing.slice_order`: whole lots, each at
most the freeze quantity, largest first (NIFTY, lot 65, freeze 1,800: 3,640 → 1,755 + 1,755 +
130). Each child is an ordinary :class:`~algodesk.domain.commands.SubmitOrder` through every
gate, with the parent's side, type, prices, bot, reduce-only flag and exits (each child's exits
cover that child's fill).

**Keys.** Child ``i`` of a parent keyed ``K`` is keyed ``K:slice<i>``, so its client order id
(derived from the key) is the same on every retry: a repeated parent gets the children already
sent answered from the journal and sends only the rest. A key only ever means one command: a
retry that sizes a child differently is denied ``IDEMPOTENCY_KEY_REUSED`` (and the slicing
stops there) rather than trading twice. A parent without a key has children without keys.

**Sliced once.** Before its first child is checked, a sliced order and its children's
quantities are journaled under ``K:sliced``. A repeated command with key ``K`` is then that
order's children again, whatever the freeze quantity is by then (the same order), or is refused
``IDEMPOTENCY_KEY_REUSED`` (another order: a REST client retrying with another quantity would
otherwise have traded both); and a command sliced now whose key was sent unsliced before is
answered as the engine answers a repeated key. A caller that plans the order itself (an alert:
its sizing rule, a reverse, an option symbol) must not plan a retry afresh from what is held by
then, which counts the children already sent: a target of 3,640 with 1,755 filled before a
crash would size to 1,885 and end there, and a reverse whose first child crossed zero would turn
around and buy. Such a caller asks :meth:`OrderSlicer.first_plan` before planning and sends the
first order's children again (:meth:`OrderSlicer.resume`): the ones already sent are answered
from the journal and only the rest are sent, as first planned.

**Checked as one list.** Before any child is sent, the children go through every gate together
(:meth:`~algodesk.services.engine.Engine.check_list`): each with the ones before it counted as
working orders and as made today, so three children that only fit a position or buying-power limit
one at a time are denied as a whole. When one would be denied, nothing is sent: that child is
recorded denied with the gate's code (a retry replays it) and the answer says which child and why.
A trader who asked for 3,640 expects all of it or none of it, not 1,755 and a surprise.

**Capped and paced.** An order that needs more than ``max_slices`` children (default 10, as
brokers keep slicing under the 10 order operations per second cap) is denied
``TOO_MANY_SLICES`` whole. Children after the first wait for room under the account's order rate
and the venue's burst limit (:meth:`~algodesk.services.engine.Engine.rate_wait`) instead of being
denied by those gates; the account is not held while they wait.

**Stopped midway.** The check and the sending are not one step: while children wait, a kill
switch, a pause or another order may change what the gates say. Children still go one at a
time, each through every gate, and the first that is not accepted (a gate's denial, the venue's
rejection) ends it: the children before it stand, the ones after it are not sent, and the answer
says how many went.

An order that is not above its freeze quantity (or whose instrument has none, or whose quantity
is not a whole number of lots: the gates deny it as usual) goes to the engine unchanged. A
flatten slices its closing orders itself (:func:`~algodesk.domain.market.slicing.slice_closing`),
without cap or pacing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from algodesk.domain.commands import SubmitOrder, submit_from_payload, submit_payload
from algodesk.domain.identifiers import AccountId
from algodesk.domain.market.slicing import SlicingError, slice_order
from algodesk.domain.values import canonical_decimal, exact, quantity, to_decimal
from algodesk.ports.market import MarketView
from algodesk.services.engine import Engine
from algodesk.services.outcomes import Outcome, fingerprint

__all__ = ["DEFAULT_MAX_SLICES", "OrderSlicer", "SliceResult", "child_key", "sliced_key"]

DEFAULT_MAX_SLICES = 10
"""Children one order may become: brokers keep slicing to at most 10 under the 10 order
operations per second cap (reference india.md §7)."""


def child_key(key: str | None, n: int) -> str | None:
    """The idempotency key of child ``n`` (from 1) of a parent keyed ``key``."""
    return f"{key}:slice{n}" if key is not None else None


def sliced_key(key: str) -> str:
    """The key under which a sliced parent keyed ``key`` and its children's quantities are
    journaled (see "Sliced once")."""
    return f"{key}:sliced"


def _n(value: Decimal) -> str:
    return canonical_decimal(value)


class UnreadableSliceError(ValueError):
    """The order journaled as sliced under a key cannot be read back (a damaged record):
    nothing is sent under the key, since planning it afresh could trade it twice."""


def read_plan(key: str, first: Mapping[str, object]) -> tuple[SubmitOrder, tuple[Decimal, ...]]:
    """The order and child quantities of a ``:sliced`` record, or UnreadableSliceError."""
    try:
        command = first.get("command")
        sizes = first.get("children")
        if not isinstance(command, Mapping):
            raise ValueError("no order in it")
        if not isinstance(sizes, list) or len(sizes) < 2:
            raise ValueError(f"expected two or more child quantities, found {sizes!r}")
        order = submit_from_payload(command)
        if not all(isinstance(size, str) for size in sizes):
            raise ValueError(f"expected child quantities as text, found {sizes!r}")
        children = tuple(to_decimal(size) for size in sizes)
        with exact():
            total = sum(children, Decimal(0))
        # Sent as they stand, wrong children would trade what was never asked for.
        if any(size <= 0 for size in children) or total != order.quantity.value:
            raise ValueError(
                f"child quantities {', '.join(sizes)} do not add up to "
                f"quantity={_n(order.quantity.value)}"
            )
        return order, children
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise UnreadableSliceError(
            f"the order sliced under key={key} cannot be read back ({exc}); nothing was sent "
            f"under the key"
        ) from None


def _done(result: SliceResult) -> Callable[[], SliceResult]:
    return lambda: result


def _unreadable(exc: UnreadableSliceError) -> Outcome:
    return Outcome(False, None, None, "SLICED_ORDER_UNREADABLE", str(exc))


def _reused(command: SubmitOrder, first: SubmitOrder) -> Outcome:
    """The refusal of a key that was sliced for another order (recorded nowhere: the key
    stays the first order's)."""
    return Outcome(
        False,
        None,
        None,
        "IDEMPOTENCY_KEY_REUSED",
        f"key={command.idempotency_key} was used for a different order ({first.side.value} "
        f"{_n(first.quantity.value)} {first.instrument_id}, sliced)",
    )


@dataclass(frozen=True, slots=True)
class SliceResult:
    """The children planned and, for each, its outcome (``None``: not sent). ``listed``: the
    list check refused it before any child was sent."""

    parent: SubmitOrder
    children: tuple[SubmitOrder, ...]
    results: tuple[Outcome | None, ...]
    listed: bool = False

    @property
    def sliced(self) -> bool:
        return len(self.children) > 1

    @property
    def ok(self) -> bool:
        return all(r is not None and r.ok for r in self.results)

    @property
    def sent(self) -> int:
        """How many children were accepted."""
        return sum(1 for r in self.results if r is not None and r.ok)

    @property
    def handled(self) -> tuple[SubmitOrder, ...]:
        """The children with an outcome (sent, or recorded refused), in order."""
        return tuple(c for c, r in zip(self.children, self.results, strict=True) if r is not None)

    def _refused(self) -> tuple[int, Outcome] | None:
        for n, r in enumerate(self.results):
            if r is not None and not r.ok:
                return n, r
        return None

    def summary(self) -> Outcome:
        """One outcome for the parent: the single order's, or for a sliced order the first
        child's id and status with a message counting the children (the refusal's code and
        message when one stopped it)."""
        if not self.sliced:
            first = self.results[0]
            assert first is not None
            return first
        total = len(self.children)
        sizes = ", ".join(_n(c.quantity.value) for c in self.children)
        handled = [r for r in self.results if r is not None]
        replayed = all(r.replayed for r in handled)
        refused = self._refused()
        if refused is None:
            first = handled[0]
            message = f"sliced into {total} child orders ({sizes}) at the freeze quantity; all sent"
            return Outcome(True, first.client_order_id, first.status, None, message, replayed)
        n, outcome = refused
        child = _n(self.children[n].quantity.value)
        if self.listed:
            message = (
                f"sliced into {total} child orders ({sizes}) at the freeze quantity and checked "
                f"as one list: child {n + 1} ({child}) denied {outcome.code}: {outcome.message}; "
                "none sent"
            )
            return Outcome(
                False, outcome.client_order_id, outcome.status, outcome.code, message, replayed
            )
        went = sum((c.quantity.value for c in self.children[:n]), Decimal(0))
        message = (
            f"child {n + 1} of {total} ({child}) refused "
            f"{outcome.code}: {outcome.message}; {n} of {total} children sent "
            f"({_n(went)} of {_n(self.parent.quantity.value)}), {total - n - 1} not sent"
        )
        first = handled[0]
        return Outcome(False, first.client_order_id, first.status, outcome.code, message, replayed)

    def stop_note(self) -> str:
        """For a sliced order that was refused: which children were not sent ("" otherwise)."""
        refused = self._refused()
        if refused is None or not self.sliced:
            return ""
        n, _ = refused
        total = len(self.children)
        unsent = [i for i, r in enumerate(self.results) if r is None]
        if not unsent:
            return ""
        left = sum((self.children[i].quantity.value for i in unsent), Decimal(0))
        parent = _n(self.parent.quantity.value)
        if self.listed:
            return (
                f"order list denied at child {n + 1} of {total}: none sent; the other "
                f"{len(unsent)} children ({_n(left)} of {parent}) not sent"
            )
        went = sum((c.quantity.value for c in self.children[:n]), Decimal(0))
        rest = f"child {total}" if n + 2 == total else f"children {n + 2}-{total}"
        return (
            f"slicing stopped at child {n + 1} of {total}: {n} sent "
            f"({_n(went)} of {parent}); {rest} ({_n(left)}) not sent"
        )


class OrderSlicer:
    """Sends a submit through the engine, sliced at its instrument's freeze quantity: checked
    as one list, at most ``max_slices`` children, paced within the rate limits."""

    def __init__(
        self,
        engine: Engine,
        market: MarketView,
        *,
        max_slices: int = DEFAULT_MAX_SLICES,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: timedelta = timedelta(seconds=5),
    ) -> None:
        """``sleep`` waits for room under the rate limits (tests pass one that moves their
        clock); a child that found none after ``max_wait`` in all goes anyway, and the rate
        gate decides."""
        if max_slices < 1:
            raise ValueError(f"OrderSlicer: expected max_slices >= 1, was {max_slices}")
        self._engine = engine
        self._market = market
        self._max_slices = max_slices
        self._sleep = sleep
        self._max_wait = max_wait.total_seconds()

    @property
    def max_slices(self) -> int:
        return self._max_slices

    def children(self, command: SubmitOrder) -> tuple[SubmitOrder, ...]:
        """The child orders of ``command`` (``(command,)`` when it is not sliced)."""
        instrument = self._market.instrument(command.instrument_id)
        if (
            instrument is None
            or instrument.freeze_quantity is None
            or command.quantity.value <= instrument.freeze_quantity
        ):
            return (command,)
        try:
            parts = slice_order(instrument, command.quantity)
        except SlicingError:
            return (command,)  # not whole lots: the instrument gate denies it with the reason
        if len(parts) == 1:
            return (command,)
        return self._children(command, [part.value for part in parts])

    @staticmethod
    def _children(command: SubmitOrder, sizes: Sequence[Decimal]) -> tuple[SubmitOrder, ...]:
        return tuple(
            replace(
                command,
                quantity=quantity(size),
                idempotency_key=child_key(command.idempotency_key, n),
                client_order_id=None,
            )
            for n, size in enumerate(sizes, start=1)
        )

    def first_plan(
        self, account_id: AccountId, key: str
    ) -> tuple[SubmitOrder, tuple[Decimal, ...]] | None:
        """The order and child quantities first sliced under ``key`` (see "Sliced once"), or
        None when nothing was sliced under it; :class:`UnreadableSliceError` when the record
        is damaged."""
        first = self._engine.noted(account_id, sliced_key(key))
        return None if first is None else read_plan(key, first)

    def submit(self, command: SubmitOrder) -> SliceResult:
        """Check the children as one list, then send them in order, paced; stop at the first
        one not accepted. A key only ever means one order: a command whose key was sliced
        before is that order's children again (their answers replayed, the rest sent) when it
        is the same order, else refused ``IDEMPOTENCY_KEY_REUSED``; one whose key was sent
        unsliced before is answered as the engine answers a repeated key."""
        # What a key means is decided under the account's lock, and an order that is not
        # sliced is sent under it: two requests under one key at once (one sliced, one not)
        # must not both trade. Children are sent after it, paced. The venues' events are
        # applied after the lock (those of other accounts take their own locks).
        if command.idempotency_key is None:
            then = self._decide(command)
        else:
            with self._engine.pump_after(), self._engine.account_lock(command.account_id):
                then = self._decide(command)
        return then()

    def _decide(self, command: SubmitOrder) -> Callable[[], SliceResult]:
        """What :meth:`submit` does with ``command``: done here when it is one order, a
        refusal or a replay; else the sending of its children, to run next."""
        key = command.idempotency_key
        try:
            first = None if key is None else self.first_plan(command.account_id, key)
        except UnreadableSliceError as exc:
            return _done(SliceResult(command, (command,), (_unreadable(exc),)))
        if first is not None:
            return functools.partial(self._again, command, *first)
        children = self.children(command)
        if len(children) == 1:
            return _done(SliceResult(command, children, (self._engine.handle(command),)))
        if key is not None and self._engine.recorded(command.account_id, key) is not None:
            return _done(SliceResult(command, (command,), (self._engine.handle(command),)))
        if len(children) > self._max_slices:
            message = (
                f"quantity={_n(command.quantity.value)} needs {len(children)} child orders at "
                f"the freeze quantity, limit={self._max_slices}"
            )
            outcome = self._engine.deny(command, "TOO_MANY_SLICES", message)
            return _done(SliceResult(command, (command,), (outcome,)))
        if key is not None:
            plan = {
                "command": submit_payload(command),
                "children": [str(child.quantity.value) for child in children],
            }
            noted = self._engine.note(command.account_id, sliced_key(key), "OrderSliced", plan)
            if noted != plan:  # another request sliced under the key first: its plan stands
                try:
                    return functools.partial(self._again, command, *read_plan(key, noted))
                except UnreadableSliceError as exc:
                    return _done(SliceResult(command, (command,), (_unreadable(exc),)))
        return functools.partial(self._send, command, children)

    def _again(
        self, command: SubmitOrder, first: SubmitOrder, sizes: tuple[Decimal, ...]
    ) -> SliceResult:
        """``command`` under a key already sliced for ``first``: that order's children again
        when it is the same order, else refused ``IDEMPOTENCY_KEY_REUSED``."""
        if fingerprint(first) != fingerprint(command):
            return SliceResult(command, (command,), (_reused(command, first),))
        return self.resume(first, sizes)

    def resume(self, command: SubmitOrder, sizes: Sequence[Decimal]) -> SliceResult:
        """The children of ``command`` as :meth:`first_plan` gave them, sent again: those
        already sent are answered from the journal, the rest are sent (whatever the freeze
        quantity and ``max_slices`` are by now: the order was sliced when it was decided)."""
        return self._send(command, self._children(command, sizes))

    def _send(self, command: SubmitOrder, children: tuple[SubmitOrder, ...]) -> SliceResult:
        denial = self._engine.check_list(children)
        if denial is not None:
            n = denial.index
            message = f"order list of {len(children)} slices, child {n + 1}: {denial.message}"
            refused = self._engine.deny(children[n], denial.code, message)
            results: list[Outcome | None] = [None] * len(children)
            results[n] = refused
            return SliceResult(command, children, tuple(results), listed=True)
        results = [None] * len(children)
        for n, child in enumerate(children):
            if n:
                self._pace(child)
            outcome = self._engine.handle(child)
            results[n] = outcome
            if not outcome.ok:
                break
        return SliceResult(command, children, tuple(results))

    def _pace(self, child: SubmitOrder) -> None:
        waited = 0.0
        while waited < self._max_wait:
            wait = self._engine.rate_wait(child.account_id, child.instrument_id.venue)
            seconds = wait.total_seconds()
            if seconds <= 0:
                return
            seconds = min(seconds, self._max_wait - waited)
            with self._engine.pause():  # an engine batch waits outside the account
                self._sleep(seconds)
            waited += seconds
