"""Option targets whose bot has orders resting in another strike: counted when they filled
before their cancel, listed after a crash, and nothing canceled for a target refused
TOO_MANY_SLICES."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching import Quote
from algodesk.ports.inbox import AlertStatus
from tests.integration.test_option_alerts import OTM2, SPOT, OptionDesk, rows

D = Decimal
LOWER = InstrumentId("NIFTY26NOV26050CE.NFO")


@pytest.mark.parametrize("remote", [False, True])
def test_an_order_in_another_strike_that_filled_before_its_cancel_is_counted(remote: bool) -> None:
    """The order the target replaces rests in the strike the symbol named before the spot
    moved, and filled before its cancel: the target is planned again on what is held in every
    contract (only the new strike was read again: 130 held for a target of 65)."""
    desk = OptionDesk(remote=remote)
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    first = desk.run(
        {"action": "buy", "symbol": "NIFTY_CE", "position_size": "65", "type": "limit",
         "price": "90"}
    )  # fmt: skip
    assert first.status is AlertStatus.EXECUTED, first
    desk.clock.advance(timedelta(seconds=30))
    desk.quote(SPOT, "25940")  # the symbol now names the 26,050 strike
    desk.quote(LOWER, "120")
    # The venue fills the resting OTM2 buy; the engine hears of it only at the cancel.
    desk.paper.on_quote(Quote(OTM2, desk.clock.now(), D(85)))
    again = desk.run({"action": "buy", "symbol": "NIFTY_CE", "position_size": "65", "n": 2})
    total = desk.position(OTM2) + desk.position(LOWER)
    assert total == D(65), (desk.position(OTM2), desk.position(LOWER), again.status)


def test_a_target_retried_after_a_crash_and_refused_on_planning_still_lists_its_cancels(
    monkeypatch,
) -> None:
    """First try: the resting order is canceled, then the desk fails before the submit. The
    retry (after a restart: no spot mark yet) is refused no_spot while planning; its fate
    still lists the cancel (it read REJECTED, as if the alert had done nothing)."""
    from algodesk.domain.commands import SubmitOrder

    desk = OptionDesk(remote=True)
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    desk.run({"action": "buy", "symbol": "NIFTY_CE", "position_size": "65", "type": "limit",
              "price": "90"})  # fmt: skip
    [resting] = desk.engine.open_orders(desk.orders()[0].account_id, desk.orders()[0].bot_id)
    answer = desk.intake.receive(
        desk.hook.token,
        b'{"action": "buy", "symbol": "NIFTY_CE", "position_size": "65", "type": "limit", '
        b'"price": "95", "n": 2}',
        "127.0.0.1",
    )
    alert_id = int(answer.body["alert_id"])
    real = desk.engine.handle

    def crash_at_submit(command):  # type: ignore[no-untyped-def]
        if isinstance(command, SubmitOrder) and f"alert:{alert_id}:" in (
            command.idempotency_key or ""
        ):
            raise ConnectionError("the desk died")
        return real(command)

    monkeypatch.setattr(desk.engine, "handle", crash_at_submit)
    assert desk.processor.drain() == 0
    assert desk.order(resting.client_order_id).status.value == "CANCELED"
    monkeypatch.setattr(desk.engine, "handle", real)
    del desk.market.marks[SPOT]  # restarted: the feed has not spoken yet
    assert desk.processor.drain() == 1
    entry = desk.inbox.get(alert_id)
    assert entry is not None
    listed = [r["client_order_id"] for r in rows(entry)]
    assert resting.client_order_id.value in listed, rows(entry)


def test_a_target_denied_too_many_slices_cancels_nothing() -> None:
    """A target that needs more slices than allowed is refused TOO_MANY_SLICES before anything
    is canceled (each of its 11 children passed the gates, and the order was canceled)."""
    desk = OptionDesk()
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    desk.run({"action": "buy", "symbol": "NIFTY_CE", "position_size": "65", "type": "limit",
              "price": "90"})  # fmt: skip
    account, bot = desk.orders()[0].account_id, desk.orders()[0].bot_id
    assert len(desk.engine.open_orders(account, bot)) == 1
    big = desk.run({"action": "buy", "symbol": "NIFTY_CE", "position_size": str(65 * 271), "n": 2})
    assert big.status is not AlertStatus.EXECUTED
    assert len(desk.engine.open_orders(account, bot)) == 1, "the refused target canceled the order"
