"""A denied exit stays armed without filling the journal: while its denial stands it is checked
at every mark without sending and journaled again only when the reason changes or once a
minute; it goes at the first mark where the gates let it, also after a restart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from algodesk.adapters.storage.memory.store import InMemoryUnitOfWork
from algodesk.domain.commands import Flatten, SetTradingState
from algodesk.domain.exits import ExitPlan, Trailing, TrailingUnit
from algodesk.domain.identifiers import BotId
from algodesk.domain.matching import Quote
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.risk.breakers import BreakerConfig
from algodesk.domain.values import price
from algodesk.services.engine import ListDenial
from algodesk.services.exits import DENIAL_REPEAT
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, funded_desk, submit
from tests.integration.test_exit_cancels import (
    LIMIT,
    SELL,
    CancelsUnanswered,
    D,
    alpha_with_a_stop,
    held,
    mark,
)
from tests.integration.test_exit_failures import _partly_filling_entry


def journaled(desk: Desk) -> dict[str, int]:
    with InMemoryUnitOfWork(desk.store) as uow:
        kinds = [r.kind for r in uow.journal.records(ACCOUNT)]
    return {kind: kinds.count(kind) for kind in ("ExitDenied", "ExitFired", "OrderDenied")}


def denied_at_every_mark(desk: Desk, marks: int) -> list[str]:
    codes = []
    for n in range(marks):
        desk.clock.advance(timedelta(seconds=1))
        (outcome,) = mark(desk, str(94 - n % 3))
        assert not outcome.ok  # type: ignore[attr-defined]
        codes.append(outcome.code)  # type: ignore[attr-defined]
    return codes


def test_a_stop_denied_at_every_mark_is_journaled_once_while_its_denial_stands() -> None:
    desk, alpha, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok  # the account: 0
    before = journaled(desk)
    codes = denied_at_every_mark(desk, 20)
    assert codes == ["POSITION_NOT_FOUND"] * 20  # each mark still answers why
    after = journaled(desk)
    assert after["ExitDenied"] - before["ExitDenied"] == 1  # it was 20, with 20 denied orders
    assert after["OrderDenied"] - before["OrderDenied"] == 1
    assert desk.engine.handle(submit(qty="10", bot_id=beta)).ok  # beta covers
    desk.clock.advance(timedelta(seconds=1))
    (outcome,) = mark(desk, "93")  # the first mark where it can go, it goes
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk, alpha) == D(0)


def test_a_standing_denial_is_journaled_again_when_its_reason_changes_and_once_a_minute() -> None:
    desk, _, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok
    start = journaled(desk)["ExitDenied"]
    denied_at_every_mark(desk, 3)
    assert journaled(desk)["ExitDenied"] == start + 1
    halt = SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="drill")
    assert desk.engine.handle(halt).ok
    codes = denied_at_every_mark(desk, 3)
    assert codes[0] != "POSITION_NOT_FOUND"
    assert len(set(codes)) == 1
    assert journaled(desk)["ExitDenied"] == start + 2  # the new reason, once
    desk.clock.advance(DENIAL_REPEAT)
    denied_at_every_mark(desk, 3)
    assert journaled(desk)["ExitDenied"] == start + 3  # still trying, a minute later


def test_a_held_back_stop_goes_after_a_restart_once_the_way_is_clear() -> None:
    """Marks that only checked the exit used no attempt: after a restart its next try has a
    key of its own, not that of the denied one (which would be answered as denied again)."""
    desk, alpha, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok
    denied_at_every_mark(desk, 2)  # tried, then held back
    desk.clock.advance(DENIAL_REPEAT)
    denied_at_every_mark(desk, 1)  # tried and journaled again: its second key
    assert desk.engine.handle(submit(qty="10", bot_id=beta)).ok
    restarted = Desk(store=desk.store)
    restarted.quote(AAPL, "93")
    (outcome,) = restarted.exits.on_mark(AAPL.id, D(93))
    assert outcome.ok, outcome
    assert restarted.engine.position(ACCOUNT, alpha, AAPL.id) == D(0)


def _records(desk: Desk) -> list[str]:
    with InMemoryUnitOfWork(desk.store) as uow:
        return [r.kind for r in uow.journal.records(ACCOUNT)]


def test_a_stop_waiting_on_an_unanswered_cancel_is_not_journaled_at_every_mark() -> None:
    """The check counted the take-profit whose cancel was on its way as gone, and passed, while
    the gates counted it: the stop was tried, denied and journaled at every mark."""
    desk = funded_desk(venue=CancelsUnanswered)
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    tp = desk.engine.handle(submit(side=SELL, qty="10", kind=LIMIT, px="105", reduce_only=True))
    assert tp.ok
    (first,) = mark(desk, "94")  # cancels the take-profit (pending: the venue has not answered)
    assert not first.ok  # type: ignore[attr-defined]
    before = _records(desk)
    codes = []
    for n in range(20):
        desk.clock.advance(timedelta(seconds=1))
        (outcome,) = mark(desk, str(93 - n % 3))
        codes.append(outcome.code)  # type: ignore[attr-defined]
    after = _records(desk)
    grown = len(after) - len(before)
    # The denial stands (the same code at every mark) for 20 s, well inside DENIAL_REPEAT.
    assert set(codes) == {first.code}, codes  # type: ignore[attr-defined]
    assert after.count("ExitDenied") - before.count("ExitDenied") <= 1, (grown, codes[:3])


def test_a_stop_re_armed_after_its_watch_retired_never_reuses_an_old_key() -> None:
    """A watch retired and armed again by a later fill of the same entry started at attempts
    0: its stop reused exit:{entry}:STOP_LOSS:0 and was answered with the old stop's outcome,
    nothing sold."""
    desk = _partly_filling_entry()
    mark(desk, "99.99")  # 4 fill
    (first,) = mark(desk, "94")  # 4 more fill; the stop sells 8 (key ...:0)
    assert first.ok  # type: ignore[attr-defined]
    mark(desk, "99.99")  # 4 more fill: the watch re-arms for them
    desk.quote(AAPL, "101")
    assert desk.engine.handle(submit(side=SELL, qty="4")).ok  # closed by hand: retired
    assert held(desk) == D(0)
    mark(desk, "99.99")
    mark(desk, "99.99")  # 8 more fill: a new watch of the same entry
    assert held(desk) == D(8)
    (stop,) = mark(desk, "94")
    assert stop.ok, stop  # type: ignore[attr-defined]
    assert not stop.replayed, stop  # type: ignore[attr-defined]
    desk.quote(AAPL, "94")  # the venue fills 4 a quote
    assert held(desk) == D(0)


def test_a_fill_heard_while_a_held_back_stop_is_checked_stays_protected() -> None:
    """A fill of the entry delivered (on another thread) while a standing denial was checked
    was taken for one the exit had covered: the watch kept only the new fill, and the 8
    filled before were left without their stop."""

    desk = _partly_filling_entry()
    mark(desk, "99.99")  # 4 fill
    halt = SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="drill")
    assert desk.engine.handle(halt).ok
    (denied,) = mark(desk, "94")  # 4 more fill; the stop is denied: halted
    assert denied.code == "TRADING_HALTED"  # type: ignore[attr-defined]
    assert held(desk) == D(8)

    real_check = desk.engine.check_list
    delivered = []

    def check_list(*args: Any, **kwargs: Any) -> ListDenial | None:
        if not delivered:  # the venue's fill is pumped by another thread meanwhile
            delivered.append(True)
            desk.paper.on_quote(Quote(AAPL.id, desk.clock.now(), D("93.5")))
            desk.engine.pump()
        return real_check(*args, **kwargs)

    desk.engine.check_list = check_list  # type: ignore[method-assign]
    desk.clock.advance(timedelta(seconds=1))
    desk.market.set_mark(AAPL.id, D("93.5"), desk.clock.now())
    (held_back,) = desk.exits.on_mark(AAPL.id, D("93.5"))
    assert held_back.code == "TRADING_HALTED"  # type: ignore[attr-defined]
    desk.engine.check_list = real_check  # type: ignore[method-assign]
    assert held(desk) == D(12)
    (watch,) = desk.exits.book.watches.values()
    assert watch.quantity == D(12), watch  # is 4: the 8 filled before are unprotected
    active = SetTradingState(account_id=ACCOUNT, state=TradingState.ACTIVE, reason="over")
    assert desk.engine.handle(active).ok
    desk.clock.advance(timedelta(seconds=1))
    for last in ("93", "92.9", "92.8", "92.7"):  # the venue fills 4 a quote
        mark(desk, last)
    assert held(desk) == D(0)  # the stop covers all 12 the entry filled


def test_a_stop_whose_mark_failed_goes_at_the_next_mark() -> None:
    """A failure while a fired stop was decided (here, reading the position) left the watch
    fired for good, and the mark's other exits unchecked: the position kept no stop."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    real_position = desk.engine.position
    failures = []

    def position(*args: Any) -> Decimal:
        if not failures:
            failures.append(True)
            raise OSError("the database went away")
        return real_position(*args)

    desk.engine.position = position  # type: ignore[method-assign]
    assert mark(desk, "94") == []  # failed and logged; nothing sent
    desk.engine.position = real_position  # type: ignore[method-assign]
    assert held(desk) == D(10)
    desk.clock.advance(timedelta(seconds=1))
    (outcome,) = mark(desk, "93.5")
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk) == D(0)


def _state(desk: Desk, state: TradingState, bot: BotId | None = None) -> None:
    command = SetTradingState(account_id=ACCOUNT, bot_id=bot, state=state, reason="drill")
    assert desk.engine.handle(command).ok


def test_a_stop_denied_while_halted_is_not_shown_denied_once_trading_resumed() -> None:
    """A's stop (95) fires at 94 while the account is halted: denied, shown so. Trading is
    resumed and the price is back at 96: the stop is armed and goes at the next cross, but
    the view (and the positions page, in red) still said 'denied: TRADING_HALTED since ...'
    on an active account: a trader closes by hand a position whose stop works, or takes the
    desk's word that no stop guards it."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    _state(desk, TradingState.HALTED)
    mark(desk, "94")
    (view,) = desk.exits.views()
    assert view.state == "denied"
    assert view.denied is not None
    assert view.denied.code == "TRADING_HALTED"
    _state(desk, TradingState.ACTIVE)
    mark(desk, "96")
    (view,) = desk.exits.views()
    assert (view.state, view.denied) == ("armed", None), view
    mark(desk, "94.5")  # and it goes
    assert held(desk) == D(0)
    assert desk.exits.views() == []
    # Halted again: the stop that fires is shown denied again (tried and journaled afresh).
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("90")))).ok
    _state(desk, TradingState.HALTED)
    mark(desk, "89")
    (view,) = desk.exits.views()
    assert view.state == "denied", view
    _state(desk, TradingState.ACTIVE)
    _state(desk, TradingState.HALTED)
    mark(desk, "88")
    (view,) = desk.exits.views()
    assert view.state == "denied", view


def test_a_stop_denied_by_a_breaker_is_not_shown_denied_once_the_breaker_expired() -> None:
    """A's stop (95) fires at 94; the drawdown (3 % of 2000) trips the account's breaker
    (HALTED, for an hour) and the stop is denied TRADING_HALTED. The price is back at 96 and
    the hour passes: the breaker lapses on its own (no record, no event) and the account is
    active, but the view still says 'denied: TRADING_HALTED' -- the very thing 33c0ced fixed
    for a state set by hand."""
    config = BreakerConfig(max_drawdown_pct=D("2.5"), reset_after=timedelta(hours=1))
    desk = funded_desk(cash="2000", breakers={ACCOUNT: config})
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    mark(desk, "94")
    assert desk.engine.trading_state(ACCOUNT) is TradingState.HALTED
    (view,) = desk.exits.views()
    assert view.denied is not None, view
    assert view.denied.code == "TRADING_HALTED", view
    desk.clock.advance(timedelta(hours=1, seconds=1))
    mark(desk, "96")
    assert desk.engine.trading_state(ACCOUNT) is TradingState.ACTIVE
    (view,) = desk.exits.views()
    assert (view.state, view.denied) == ("armed", None), view


def test_a_standing_denial_stays_shown_while_the_account_stays_halted() -> None:
    """The account is halted; A's stop (95) fires at 94 and is denied; the price is back at 96,
    shown 'denied: TRADING_HALTED' (it fired, the gates keep it out). A trading state set for a
    bot that has nothing to do with A's stop, or the account halted once more (the desk
    closed for the night), bumps the account's epoch: the view says 'armed' while the account
    is still halted and the stop cannot go."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    _state(desk, TradingState.HALTED)
    mark(desk, "94")
    mark(desk, "96")
    (view,) = desk.exits.views()
    assert view.state == "denied", view
    _state(desk, TradingState.HALTED, bot=BotId("gamma"))  # another bot, another book
    assert desk.engine.trading_state(ACCOUNT) is TradingState.HALTED
    (view,) = desk.exits.views()
    assert view.state == "denied", "a bot's state hid A's standing denial"
    _state(desk, TradingState.HALTED)  # halted again: still halted
    (view,) = desk.exits.views()
    assert view.state == "denied", "halting the halted account hid A's standing denial"


def test_a_take_profit_denied_at_a_high_still_raises_the_trailing_high() -> None:
    """A: trailing stop 5 points, take-profit 108, bought at 100. The price goes to 105 (stop
    at 100); the account is halted; the price runs to 110: the take-profit fires and is
    denied. That mark never moved the trailing high (a firing mark does not ratchet), nor do
    the marks at or above 108 after it (each fires the take-profit again): the high stays 105.
    Trading resumes and the price is at 104: the stop should be at 105 (high 110) and sell; it
    is at 100 and nothing goes -- the loss 33c0ced fixed for a fire discarded while a record
    is written."""
    plan = ExitPlan(take_profit=price("108"), trailing=Trailing(D(5), TrailingUnit.POINTS))
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=plan)).ok
    mark(desk, "105")
    _state(desk, TradingState.HALTED)
    (outcome,) = mark(desk, "110")
    assert not outcome.ok  # type: ignore[attr-defined]
    desk.clock.advance(timedelta(seconds=1))
    mark(desk, "109")  # the take-profit again: held back
    _state(desk, TradingState.ACTIVE)
    (watch,) = desk.exits.book.watches.values()
    assert watch.trailing_stop() == D(105), "the high of 110 was lost"
    mark(desk, "104")
    assert held(desk) == Decimal(0), "the trailing stop missed the high of 110"


def test_a_halt_that_moves_from_the_bot_to_the_account_does_not_hide_the_denial() -> None:
    """Bot alpha is halted; its stop (95) fires at 94 and is denied TRADING_HALTED; the price
    is back at 96. The desk halts the whole account, then resumes alpha. The stop cannot go
    (the account is halted) but the view compares scope by scope: alpha's own state is less
    strict than when denied, so it says 'armed' on a halted account."""
    desk, alpha, _ = alpha_with_a_stop()
    _state(desk, TradingState.HALTED, bot=alpha)
    (outcome,) = mark(desk, "94")
    assert outcome.code == "TRADING_HALTED"  # type: ignore[attr-defined]
    mark(desk, "96")
    (view,) = desk.exits.views()
    assert view.state == "denied", view
    _state(desk, TradingState.HALTED)  # the account
    _state(desk, TradingState.ACTIVE, bot=alpha)  # alpha itself resumes
    assert desk.engine.trading_state(ACCOUNT) is TradingState.HALTED
    (view,) = desk.exits.views()
    assert view.state == "denied", f"'armed' while the account is halted: {view}"
    desk.clock.advance(timedelta(seconds=1))
    (outcome,) = mark(desk, "94")  # and indeed it cannot go
    assert outcome.code == "TRADING_HALTED"  # type: ignore[attr-defined]
    assert held(desk, alpha) == D(10)


def test_a_denial_whose_reason_lapsed_is_not_shown_for_ever() -> None:
    """The account's order rate (2 a second) is used up when A's stop (95) fires at 94:
    denied SUBMIT_RATE_EXCEEDED. The price is back at 96 at once. The rate lapses a second
    later, no state changed: an hour on, the view still says 'denied: SUBMIT_RATE_EXCEEDED
    since <then>', though the stop is armed and goes at the next mark that crosses it."""
    desk = funded_desk(limits=RiskLimits(max_orders_per_second=2))
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    desk.clock.advance(timedelta(seconds=5))
    for px in ("101", "102"):  # the trader's resting offers use the second's two operations
        assert desk.engine.handle(submit(side=SELL, qty="1", kind=LIMIT, px=px)).ok
    (outcome,) = mark(desk, "94")
    assert outcome.code == "SUBMIT_RATE_EXCEEDED", outcome  # type: ignore[attr-defined]
    mark(desk, "96")
    desk.clock.advance(timedelta(hours=1))
    mark(desk, "96.5")
    (view,) = desk.exits.views()
    assert (view.state, view.denied) == ("armed", None), view
    (outcome,) = mark(desk, "94")
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk) == D(0)


def test_a_reducing_denial_whose_position_reason_lapsed_is_not_shown_for_ever() -> None:
    """The account is REDUCING and flat (alpha long 10, beta short 10): alpha's stop (95)
    fires at 94 and the state gate denies it TRADING_STATE_REDUCING (nothing to reduce in
    the account). The price is back at 96. Beta is flattened: the account holds alpha's 10
    and the stop would now go, the state unchanged. The view still says 'denied:
    TRADING_STATE_REDUCING' -- for as long as the account stays REDUCING."""
    desk, alpha, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok  # the account: 0
    _state(desk, TradingState.REDUCING)
    (outcome,) = mark(desk, "94")
    assert outcome.code == "TRADING_STATE_REDUCING", outcome  # type: ignore[attr-defined]
    mark(desk, "96")
    flat = Flatten(account_id=ACCOUNT, bot_id=beta, idempotency_key="flat-beta")
    assert desk.engine.handle(flat).ok
    mark(desk, "96")  # beta's cover fills
    assert held(desk, beta) == D(0)
    assert held(desk) == D(10)
    assert desk.engine.trading_state(ACCOUNT) is TradingState.REDUCING
    desk.clock.advance(timedelta(hours=1))
    mark(desk, "96.5")
    (view,) = desk.exits.views()
    assert (view.state, view.denied) == ("armed", None), view
    (outcome,) = mark(desk, "94")  # and indeed it goes
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk, alpha) == D(0)


def test_a_denial_for_another_reason_is_not_hidden_when_the_state_relaxes() -> None:
    """Bot alpha is REDUCING; beta is short 10 so the account is flat. Alpha's stop (95)
    fires at 94: the state gate lets it through (it reduces alpha's book), the reduce-only
    gate denies it POSITION_NOT_FOUND (the account's book). Alpha is made ACTIVE again:
    nothing about the reason changed and the last mark (94) still fires the stop, but the
    view says 'armed' because the state is less strict than when it was denied."""
    desk, alpha, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok
    _state(desk, TradingState.REDUCING, bot=alpha)
    (outcome,) = mark(desk, "94")
    assert outcome.code == "POSITION_NOT_FOUND", outcome  # type: ignore[attr-defined]
    (view,) = desk.exits.views()
    assert view.state == "denied", view
    _state(desk, TradingState.ACTIVE, bot=alpha)
    (view,) = desk.exits.views()
    assert view.state == "denied", f"'armed' while the stop is crossed and kept out: {view}"
    assert view.denied is not None, view
    assert view.denied.code == "POSITION_NOT_FOUND", view
    desk.clock.advance(timedelta(seconds=1))
    (outcome,) = mark(desk, "94")  # and indeed it cannot go
    assert outcome.code == "POSITION_NOT_FOUND", outcome  # type: ignore[attr-defined]
    assert held(desk, alpha) == D(10)
