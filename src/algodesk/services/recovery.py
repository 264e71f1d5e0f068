"""Recovery of an in-process venue (the paper exchange) after a restart."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from algodesk.domain.events import OrderModifyRejected, OrderRejected
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId, Venue
from algodesk.domain.orders import Order, OrderStatus
from algodesk.domain.risk.base import TradingState
from algodesk.domain.values import Money
from algodesk.ports.clock import Clock
from algodesk.ports.storage import UnitOfWork
from algodesk.services.engine import Engine
from algodesk.services.ledger import LedgerService

__all__ = ["open_paper_account", "recover_paper"]


def recover_paper(
    engine: Engine,
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    venue: Venue,
    restore: Callable[[list[Order]], None],
    hold: Callable[[Iterable[tuple[AccountId, BotId | None, InstrumentId, Decimal]]], None],
) -> str:
    """Rebuild an in-process venue's book from storage and settle what the crash left in
    flight: working orders go back on the book; an order stored but never acknowledged never
    reached the venue (it died with the process), so it is sent now, as the alert or command
    that made it was answered as accepted; unless the account or its bot is no longer ACTIVE
    (a bot's order is judged by the stricter of the two, as the gates judge it: a halted
    account halts its bots), or its bot is not running (paused, stopped), and the order is not
    reduce-only: then it is REJECTED ``NOT_FOUND_AT_VENUE``. A pending cancel is sent again,
    one a part fill raced too (the order PARTIALLY_FILLED, its cancel still outstanding); a
    pending modify is rejected, so the order keeps its earlier terms.
    Before the orders, the venue is told what each book (each bot's, the account's own) holds in
    its instruments (``hold``: the paper exchange's ``hold_positions``), so that a reduce-only
    order on the book fills only as far as it reduces what is held. Call before trading."""
    now = clock.now()
    with uow_factory() as uow:
        open_orders = [o for o in uow.orders.list(open_only=True) if o.instrument_id.venue == venue]
    accounts = sorted({*engine.accounts, *(o.account_id for o in open_orders)}, key=str)
    hold(
        [
            (account, bot, instrument, quantity)
            for account in accounts
            for bot, instrument, quantity in engine.holdings(account)
            if instrument.venue == venue
        ]
    )
    lost = [o for o in open_orders if o.status is OrderStatus.SUBMITTED]
    working = [o for o in open_orders if o.status is not OrderStatus.SUBMITTED]
    restore(working)
    resent = 0
    for order in lost:
        state = engine.state_in_force(order.account_id, order.bot_id)
        idle = engine.bot_refuses_entries(order)
        if order.reduce_only or (state is TradingState.ACTIVE and idle is None):
            engine.resend(order)
            resent += 1
            continue
        why = f"trading is {state}" if state is not TradingState.ACTIVE else idle
        reason = f"NOT_FOUND_AT_VENUE: not acknowledged before the restart; {why}"
        engine.apply_venue_event(
            OrderRejected(client_order_id=order.client_order_id, ts=now, reason=reason)
        )
    for order in working:
        outstanding = order.outstanding  # a part fill may have moved the order on from them
        if OrderStatus.PENDING_UPDATE in outstanding:
            engine.apply_venue_event(
                OrderModifyRejected(
                    client_order_id=order.client_order_id, ts=now, reason="modify lost in a restart"
                )
            )
        if OrderStatus.PENDING_CANCEL in outstanding:
            engine.send_cancel(order)
    engine.pump()
    return (
        f"{venue}: {len(working)} working orders restored, {len(lost)} never acknowledged "
        f"({resent} sent again, {len(lost) - resent} rejected)"
    )


def open_paper_account(ledger: LedgerService, account_id: AccountId, starting_cash: Money) -> bool:
    """Fund a paper account with its starting cash, once (a keyed deposit): True when it was
    funded now, False when it had been already."""
    memo = f"paper account {account_id}: starting cash"
    return ledger.deposit(account_id, starting_cash, memo, key=f"paper-start:{account_id}").new
