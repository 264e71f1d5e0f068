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

**A denied child stops the slicing.** Children go one at a time, in order; the first that is
not accepted (a gate's denial, the venue's rejection) ends it: the children before it stand (they
may already be filled), the ones after it are not sent, and the answer says how many went. A
trader who asked for 3,640 and got a position-limit denial on the second child expects to hold
1,755 and to be told so, not to find the third child sent past a limit that just refused one.

An order that is not above its freeze quantity (or whose instrument has none, or whose quantity
is not a whole number of lots: the gates deny it as usual) goes to the engine unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from algodesk.domain.commands import SubmitOrder
from algodesk.domain.market.slicing import SlicingError, slice_order
from algodesk.domain.values import canonical_decimal
from algodesk.ports.market import MarketView
from algodesk.services.engine import Engine
from algodesk.services.outcomes import Outcome

__all__ = ["OrderSlicer", "SliceResult", "child_key"]


def child_key(key: str | None, n: int) -> str | None:
    """The idempotency key of child ``n`` (from 1) of a parent keyed ``key``."""
    return f"{key}:slice{n}" if key is not None else None


def _n(value: Decimal) -> str:
    return canonical_decimal(value)


@dataclass(frozen=True, slots=True)
class SliceResult:
    """The children planned and the outcomes of those sent, in order (the last one sent is
    the refusal when the slicing stopped)."""

    parent: SubmitOrder
    children: tuple[SubmitOrder, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def sliced(self) -> bool:
        return len(self.children) > 1

    @property
    def ok(self) -> bool:
        return len(self.outcomes) == len(self.children) and all(o.ok for o in self.outcomes)

    @property
    def sent(self) -> int:
        """How many children were accepted."""
        return sum(1 for o in self.outcomes if o.ok)

    def summary(self) -> Outcome:
        """One outcome for the parent: the single order's, or for a sliced order the first
        child's id and status with a message counting the children (the refusal's code and
        message when one stopped it)."""
        if not self.sliced:
            return self.outcomes[0]
        total = len(self.children)
        sizes = ", ".join(_n(c.quantity.value) for c in self.children)
        parent_qty = _n(self.parent.quantity.value)
        first = self.outcomes[0]
        if self.ok:
            return Outcome(
                True,
                first.client_order_id,
                first.status,
                None,
                f"sliced into {total} child orders ({sizes}) at the freeze quantity; all sent",
                all(o.replayed for o in self.outcomes),
            )
        refused = self.outcomes[-1]
        n = len(self.outcomes)
        went = sum((c.quantity.value for c in self.children[: n - 1]), Decimal(0))
        message = (
            f"child {n} of {total} ({_n(self.children[n - 1].quantity.value)}) refused "
            f"{refused.code}: {refused.message}; {n - 1} of {total} children sent "
            f"({_n(went)} of {parent_qty}), {total - n} not sent"
        )
        return Outcome(
            False,
            first.client_order_id,
            first.status,
            refused.code,
            message,
            all(o.replayed for o in self.outcomes),
        )

    def stop_note(self) -> str:
        """For a sliced order that stopped: which children were not sent ("" otherwise)."""
        if self.ok or not self.sliced:
            return ""
        n, total = len(self.outcomes), len(self.children)
        if n == total:
            return ""
        left = sum((c.quantity.value for c in self.children[n:]), Decimal(0))
        went = sum((c.quantity.value for c in self.children[: n - 1]), Decimal(0))
        rest = f"child {total}" if n + 1 == total else f"children {n + 1}-{total}"
        return (
            f"slicing stopped at child {n} of {total}: {n - 1} sent "
            f"({_n(went)} of {_n(self.parent.quantity.value)}); {rest} ({_n(left)}) not sent"
        )


class OrderSlicer:
    """Sends a submit through the engine, sliced at its instrument's freeze quantity."""

    def __init__(self, engine: Engine, market: MarketView) -> None:
        self._engine = engine
        self._market = market

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
        return tuple(
            replace(
                command,
                quantity=part,
                idempotency_key=child_key(command.idempotency_key, n),
                client_order_id=None,
            )
            for n, part in enumerate(parts, start=1)
        )

    def submit(self, command: SubmitOrder) -> SliceResult:
        """Send the children in order; stop at the first one not accepted."""
        children = self.children(command)
        outcomes: list[Outcome] = []
        for child in children:
            outcome = self._engine.handle(child)
            outcomes.append(outcome)
            if not outcome.ok:
                break
        return SliceResult(command, children, tuple(outcomes))
