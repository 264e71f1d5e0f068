"""Exits across failures and restarts: an exit that went (or may have) is never sent again
by another exit of its watch, keys never repeat (after a retirement, a lost record, a
restart), and a watch whose book went flat while its exit was decided is retired."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.domain.commands import SetTradingState
from algodesk.domain.exits import ExitPlan
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.values import price
from algodesk.services.engine import ListDenial
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, funded_desk, submit
from tests.integration.test_exit_cancels import SELL, D, alpha_with_a_stop, held, mark

FILLS_4 = PaperBrokerConfig(max_fill_per_quote=Decimal(4))


class _Unavailable:
    def __enter__(self) -> Any:
        raise OSError("the database went away")

    def __exit__(self, *exc: object) -> None:
        return None


def _fail_next_runner_write(desk: Desk) -> None:
    real = desk.exits._uow_factory
    left = [1]

    def factory() -> Any:
        if left:
            left.pop()
            return _Unavailable()
        return real()

    desk.exits._uow_factory = factory  # type: ignore[method-assign]


def _restart(desk: Desk) -> Desk:
    after = Desk(
        store=desk.store,
        limits=RiskLimits(max_orders_per_second=None),
        paper_config=FILLS_4,
    )
    after.recover()
    return after


def _partly_filling_entry(plan: ExitPlan | None = None) -> Desk:
    """A: a limit buy of 20 at 100 (the venue fills 4 a quote) with ``plan`` (a stop at 95)."""
    desk = funded_desk(paper_config=FILLS_4)
    desk.quote(AAPL, "101")
    plan = plan or ExitPlan(stop_loss=price("95"))
    assert desk.engine.handle(submit(qty="20", kind=OrderType.LIMIT, px="100", exits=plan)).ok
    return desk


def test_an_exit_that_went_before_its_record_failed_is_never_sent_again_by_another_kind() -> None:
    """The stop was sent (sold 10) and then its ExitFired write failed: the watch was held
    back as if nothing was sent, and the take-profit then fired under a key of its own and sold
    another 10, the other entry's position."""
    desk = funded_desk()
    plan = ExitPlan(stop_loss=price("95"), take_profit=price("105"))
    assert desk.engine.handle(submit(qty="10", exits=plan)).ok  # entry A, with exits
    assert desk.engine.handle(submit(qty="10")).ok  # entry B, no exits
    _fail_next_runner_write(desk)
    assert mark(desk, "94") == []  # the stop went; its record did not
    assert held(desk) == D(10)  # A's 10 sold: B's 10 left
    mark(desk, "106")
    assert held(desk) == D(10), "A's exit was sent twice: B's position sold"


def test_a_stop_armed_again_after_a_restart_never_reuses_the_first_stops_key() -> None:
    """A restart kept attempts only for watches it restored: an entry whose exits took all it
    had filled got no watch, and its next fill armed one at attempts 0 (the first stop's key,
    answered with that stop's outcome: nothing sold)."""
    desk = _partly_filling_entry()
    mark(desk, "99.99")  # 4 fill
    (first,) = mark(desk, "94")  # 4 more; the stop sells 8 (key ...:0)
    assert first.ok  # type: ignore[attr-defined]
    desk.quote(AAPL, "101")  # the venue fills 4 a quote (the entry, a limit at 100, waits)
    assert held(desk) == D(0)
    after = _restart(desk)
    mark(after, "99.99")  # the entry, still working, fills 4 more: a new watch
    assert held(after) == D(4)
    (stop,) = mark(after, "94")
    assert not stop.replayed, stop  # type: ignore[attr-defined]
    assert stop.ok, stop  # type: ignore[attr-defined]


def test_keys_after_a_retirement_whose_record_failed_agree_with_a_restart() -> None:
    """A retirement's record was counted whether or not it was written; when the write
    failed, a restart counted one record fewer and reused the last key used: the stop was
    answered with an old denial (TRADING_HALTED) while trading was active."""
    desk = _partly_filling_entry()
    mark(desk, "99.99")  # 4 fill
    desk.quote(AAPL, "101")
    _fail_next_runner_write(desk)  # the retirement's ExitFired is lost
    assert desk.engine.handle(submit(side=SELL, qty="4")).ok  # closed by hand: retired
    assert desk.exits.book.watches == {}
    mark(desk, "99.99")  # 4 more: armed again, attempts 1 (no record counts the 0th)
    halt = SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="drill")
    assert desk.engine.handle(halt).ok
    (denied,) = mark(desk, "94")  # denied under key ...:1, one ExitDenied record
    assert denied.code == "TRADING_HALTED"  # type: ignore[attr-defined]
    active = SetTradingState(account_id=ACCOUNT, state=TradingState.ACTIVE, reason="over")
    assert desk.engine.handle(active).ok
    after = _restart(desk)
    (stop,) = mark(after, "93.9")
    assert stop.ok, stop  # type: ignore[attr-defined]


def test_a_watch_whose_book_went_flat_while_its_exit_was_decided_never_sells_a_later_entry() -> (
    None
):
    """A retirement heard while the exit was decided was refused (the watch was fired) and not
    taken up after: the held-back watch stayed armed on a flat book and sold the owner's next
    entry at the old stop."""
    desk, alpha, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok  # the account: 0
    (first,) = mark(desk, "94")
    assert first.code == "POSITION_NOT_FOUND"  # type: ignore[attr-defined]
    real_check = desk.engine.check_list
    done = []

    def check_list(*args: Any, **kwargs: Any) -> ListDenial | None:
        if not done:  # alpha closes by hand, heard on another thread meanwhile
            done.append(True)
            assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=alpha)).ok
        return real_check(*args, **kwargs)

    desk.engine.check_list = check_list  # type: ignore[method-assign]
    desk.clock.advance(timedelta(seconds=1))
    mark(desk, "93.5")  # held back (standing denial); alpha went flat during it
    desk.engine.check_list = real_check  # type: ignore[method-assign]
    assert held(desk, alpha) == D(0)
    assert desk.engine.handle(submit(qty="20", bot_id=beta)).ok  # beta: +10
    desk.quote(AAPL, "100")
    assert desk.engine.handle(submit(qty="10", bot_id=alpha)).ok  # a new entry, no exits
    desk.clock.advance(timedelta(seconds=1))
    mark(desk, "94")
    assert held(desk, alpha) == D(10), "the old stop sold an entry that had no exits"
