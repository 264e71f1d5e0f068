"""What a start records for an exit the engine answered under a restored watch's next key,
without the exits' own record, agrees with what the running desk's retry concludes: an exit
the venue rejected is still watched, and fills of the entry after the exit are watched anew."""

from __future__ import annotations

from algodesk.domain.commands import CancelOrder
from algodesk.domain.exits import ExitPlan
from algodesk.domain.matching import Quote
from algodesk.domain.orders import Order
from algodesk.domain.values import price
from algodesk.ports.broker import VenueRejectedError
from tests.conftest import ACCOUNT
from tests.integration.test_engine import Desk, RemoteVenue, funded_desk, submit
from tests.integration.test_exit_cancels import AAPL, LIMIT, SELL, D, held, mark
from tests.integration.test_exit_failures import (
    _fail_next_runner_write,
    _partly_filling_entry,
    _restart,
)
from tests.integration.test_exit_retries import _lose_first_exit_answer


class RejectsFirstReduceOnly(RemoteVenue):
    """A remote venue that rejects the first reduce-only order it is sent."""

    rejected = False

    def submit(self, order: Order) -> None:
        if order.reduce_only and not RejectsFirstReduceOnly.rejected:
            RejectsFirstReduceOnly.rejected = True
            self._before("submit")
            raise VenueRejectedError("venue: rejected (drill)")
        super().submit(order)


def test_a_stop_the_venue_rejected_before_a_restart_is_still_watched_after_it() -> None:
    """The engine journaled the stop's submit as ok (SUBMITTED), then the venue rejected it
    (VENUE_REJECTED, nothing sold); the ExitDenied write failed. In process the retry's replay
    says VENUE_REJECTED and the stop is armed again; at a start the resolution read the
    stored payload only (ok) and recorded ExitFired: the position was left without its stop."""
    RejectsFirstReduceOnly.rejected = False
    desk = funded_desk(venue=RejectsFirstReduceOnly)
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    assert held(desk) == D(10)
    _fail_next_runner_write(desk)
    assert mark(desk, "94") == []  # rejected by the venue; its ExitDenied not written
    assert held(desk) == D(10)
    after = _restart(desk)
    mark(after, "93")
    for last in ("92.9", "92.8"):  # the restarted paper venue fills 4 a quote
        after.quote(AAPL, last)
    assert held(after) == D(0), "the stop was recorded as fired though the venue rejected it"


def test_fills_of_the_entry_after_an_unrecorded_exit_are_still_protected_after_a_restart() -> None:
    """A limit entry filled 8; the stop sold those 8, its answer lost (a retry waits). The
    entry fills 4 more, heard while the stop is in flight (in process they would be watched
    anew when it concludes). A restart: the watch is restored at 12 and _resolve_unrecorded
    recorded ExitFired size 12: the 4 bought after the stop had no stop at all."""
    desk = _partly_filling_entry()  # limit 20 at 100, 4 a quote, stop 95
    mark(desk, "99.99")  # 4 fill
    _lose_first_exit_answer(desk)
    assert mark(desk, "94") == []  # 4 more fill (8); the stop sells 8, unanswered
    desk.quote(AAPL, "101")  # the exit's rest fills: flat
    assert held(desk) == D(0)
    desk.quote(AAPL, "99.99")  # the entry fills 4 more: held 4, heard while in flight
    assert held(desk) == D(4)
    (entry,) = desk.exits.book.watches
    cancel = CancelOrder(account_id=ACCOUNT, client_order_id=entry)
    assert desk.engine.handle(cancel).ok  # the entry's rest is canceled: 4 held, no more
    after = _restart(desk)
    mark(after, "94")
    assert held(after) == D(0), "the 4 bought after the stop were left without a stop"


def _stop_fires_while_the_venue_reports_4_more(lose_answer: bool) -> Desk:
    """A limit entry (20 at 100, stop 95) has filled 8; a reduce-only take-profit (8 at 105)
    rests. At 94 the venue fills the entry 4 more, reported as the stop fires (not pumped
    yet): the stop's way-clearing cancels the take-profit, and that cancel's handling journals
    and publishes the 4 (heard while the stop is in flight) just before the stop's command."""
    desk = _partly_filling_entry()
    mark(desk, "99.99")
    mark(desk, "99.99")  # 8 filled
    assert held(desk) == D(8)
    tp = submit(side=SELL, qty="8", kind=LIMIT, px="105", reduce_only=True)
    assert desk.engine.handle(tp).ok
    if lose_answer:
        _lose_first_exit_answer(desk)
    desk.market.set_mark(AAPL.id, D("94"), desk.clock.now())
    desk.paper.on_quote(Quote(AAPL.id, desk.clock.now(), D("94")))  # the entry's 4, queued
    desk.exits.on_mark(AAPL.id, D("94"))
    return desk


def test_the_running_desk_watches_entry_fills_heard_while_its_stop_was_in_flight() -> None:
    desk = _stop_fires_while_the_venue_reports_4_more(lose_answer=False)
    for last in ("94", "94", "94"):
        mark(desk, last)
    assert held(desk) == D(0)


def test_fills_heard_while_an_unrecorded_exit_was_in_flight_are_protected_after_a_restart() -> None:
    """The same, but the stop's answer is lost and the desk restarts: the 4 were journaled
    before the stop's command though heard after it fired, and the start counted them as
    exited (ExitFired size 12), leaving them without a stop. The exit now begins at its first
    record (the cancel that cleared its way)."""
    desk = _stop_fires_while_the_venue_reports_4_more(lose_answer=True)
    after = _restart(desk)
    for last in ("94", "94", "94"):
        mark(after, last)
    assert held(after) == D(0), "the 4 heard while the stop was in flight lost their stop"
