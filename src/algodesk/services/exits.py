"""The engine's exits: plans attached to entries, watches armed by their fills, and what a
mark fires. Journal records (ExitPlanned, ExitFired) bring the picture back after a restart;
a trailing stop restarts from the entry's average price (its best mark is not journaled)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from algodesk.domain.exits import ExitKind, ExitPlan, ExitWatch, Trailing, TrailingUnit
from algodesk.domain.fills import Fill
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId
from algodesk.domain.orders import Order
from algodesk.domain.values import Price
from algodesk.ports.storage import JournalRecord

__all__ = ["ExitBook", "plan_from_payload", "plan_payload"]


def plan_payload(coid: ClientOrderId, plan: ExitPlan) -> dict[str, object]:
    trail = plan.trailing
    return {
        "coid": coid.value,
        "stop_loss": str(plan.stop_loss) if plan.stop_loss else None,
        "take_profit": str(plan.take_profit) if plan.take_profit else None,
        "trailing": str(trail.distance) if trail else None,
        "trailing_unit": trail.unit.value if trail else None,
    }


def plan_from_payload(payload: dict[str, object]) -> ExitPlan:
    def px(key: str) -> Price | None:
        value = payload.get(key)
        return Price(Decimal(str(value))) if value else None

    trail = payload.get("trailing")
    trailing = (
        Trailing(Decimal(str(trail)), TrailingUnit(str(payload["trailing_unit"])))
        if trail
        else None
    )
    return ExitPlan(px("stop_loss"), px("take_profit"), trailing)


class ExitBook:
    def __init__(self) -> None:
        self.plans: dict[ClientOrderId, ExitPlan] = {}
        self.watches: dict[ClientOrderId, ExitWatch] = {}
        self.owners: dict[ClientOrderId, tuple[AccountId, BotId | None]] = {}

    def plan(self, order: Order, plan: ExitPlan) -> None:
        self.plans[order.client_order_id] = plan
        self.owners[order.client_order_id] = (order.account_id, order.bot_id)

    def on_fill(self, order: Order, fill: Fill) -> ExitWatch | None:
        """Arm (or grow) the watch of an entry that has an exit plan."""
        plan = self.plans.get(order.client_order_id)
        if plan is None:
            return None
        watch = self.watches.get(order.client_order_id)
        if watch is None:
            watch = ExitWatch(
                order.client_order_id,
                order.instrument_id,
                order.side,
                Decimal(0),
                plan,
                fill.price.value,
            )
            self.watches[order.client_order_id] = watch
        watch.quantity += fill.quantity.value
        return watch

    def on_mark(
        self, instrument_id: InstrumentId, mark: Decimal
    ) -> list[tuple[ExitWatch, ExitKind]]:
        fired = []
        for watch in self.watches.values():
            if watch.instrument_id == instrument_id:
                kind = watch.on_mark(mark)
                if kind is not None:
                    fired.append((watch, kind))
        return fired

    def restore(
        self, records: Iterable[JournalRecord], order: Callable[[ClientOrderId], Order | None]
    ) -> None:
        fired: set[str] = set()
        planned: list[tuple[ClientOrderId, ExitPlan]] = []
        for record in records:
            if record.kind == "ExitPlanned":
                planned.append(
                    (
                        ClientOrderId(str(record.payload["coid"])),
                        plan_from_payload(dict(record.payload)),
                    )
                )
            elif record.kind == "ExitFired":
                fired.add(str(record.payload["coid"]))
        for coid, plan in planned:
            entry = order(coid)
            if entry is None:
                continue
            self.plan(entry, plan)
            if coid.value in fired or entry.avg_fill_price is None:
                continue  # already fired, or the entry has not filled yet (its fills arm it)
            self.watches[coid] = ExitWatch(
                coid,
                entry.instrument_id,
                entry.side,
                entry.filled_quantity.value,
                plan,
                entry.avg_fill_price.value,
            )
