"""A table of bad ticks: each is rejected with its reason and counted; the good ones pass.

Each case feeds a good reference tick first (unless it is None), then the tick under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.validation import Rejection, TickRules, TickValidator
from algodesk.domain.matching.observations import Bar, Quote, TradeTick

IID = InstrumentId("BTC-USDT.BINANCE")
T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
RULES = TickRules(max_jump_pct=Decimal(10), confirm_ticks=3)


def q(s: int, last: str, bid: str | None = None, ask: str | None = None) -> Quote:
    b, a = (None if x is None else Decimal(x) for x in (bid, ask))
    return Quote(IID, T + timedelta(seconds=s), Decimal(last), b, a)


def tr(s: int, px: str) -> TradeTick:
    return TradeTick(IID, T + timedelta(seconds=s), Decimal(px), Decimal(1))


def bar(s: int, o: str, h: str, lo: str, c: str) -> Bar:
    return Bar(
        IID, T + timedelta(seconds=s), Decimal(o), Decimal(h), Decimal(lo), Decimal(c), Decimal(1)
    )


REF = q(0, "100")
BAR = bar(60, "100", "101", "99", "100")
CASES = [
    # name,                         reference, tick,                      expected
    ("zero last",                   REF,  q(1, "0"),                           Rejection.NON_POSITIVE_PRICE),
    ("negative last",               REF,  q(1, "-100"),                        Rejection.NON_POSITIVE_PRICE),
    ("zero bid",                    REF,  q(1, "100", "0", "100.1"),           Rejection.NON_POSITIVE_PRICE),
    ("zero trade",                  REF,  tr(1, "0"),                          Rejection.NON_POSITIVE_PRICE),
    ("bar with a zero low",         None, bar(60, "100", "101", "0", "100"),   Rejection.NON_POSITIVE_PRICE),
    ("crossed quote",               REF,  q(1, "100", "100.2", "100.1"),       Rejection.CROSSED_QUOTE),
    ("a quote in the same second",  REF,  q(0, "100.1"),                       None),
    ("older timestamp",             REF,  q(-1, "100.1"),                      Rejection.OUT_OF_ORDER),
    ("jump up just over 10%",       REF,  q(1, "110.01"),                      Rejection.PRICE_JUMP),
    ("jump down just over 10%",     REF,  q(1, "89.99"),                       Rejection.PRICE_JUMP),
    ("trade print 100x (paise)",    REF,  tr(1, "10000"),                      Rejection.PRICE_JUMP),
    ("bar close jumps",             REF,  bar(60, "100", "120", "100", "120"), Rejection.PRICE_JUMP),
    ("jump five minutes later",     REF,  q(300, "111"),                       Rejection.PRICE_JUMP),
    ("a bar closing at the same time", BAR, bar(60, "100", "101", "99", "100.5"), Rejection.OUT_OF_ORDER),
    ("exactly 10% is allowed",      REF,  q(1, "110"),                         None),
    ("a trade may share a quote's time", REF, tr(0, "100.5"),                  None),
    ("a lone jump a day later",     REF,  q(86400, "1.00"),                    Rejection.PRICE_JUMP),
    ("first tick has nothing to jump from", None, q(0, "12345"),               None),
    ("good quote",                  REF,  q(1, "100.5", "100.4", "100.6"),     None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "ref", "tick", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_ticks_are_rejected_and_counted(
    name: str, ref: Quote | Bar | None, tick: Quote | TradeTick | Bar, expected: Rejection | None
) -> None:
    v = TickValidator(RULES)
    if ref is not None:
        assert v.check(ref) is None
    verdict = v.check(tick)
    assert (verdict.code if verdict else None) is expected, name
    if expected is None:
        assert v.rejected == {}
        assert v.last_good(IID) is not None
    else:
        assert v.counts() == {expected: 1}
        assert v.rejected[(IID, expected)] == 1
        assert str(IID) in verdict.message  # type: ignore[union-attr]
        good = None
        if isinstance(ref, Quote):
            good = (ref.last, ref.ts)
        elif isinstance(ref, Bar):
            good = (ref.close, ref.ts_close)
        assert v.last_good(IID) == good


def test_a_rejected_tick_does_not_move_the_reference() -> None:
    """After a bad print of 10,000 the next good tick near 100 still passes, and a second bad
    print is still refused: the bad tick never became the mark."""
    v = TickValidator(RULES)
    assert v.check(q(0, "100")) is None
    assert v.check(tr(1, "10000")) is not None
    assert v.check(q(2, "101")) is None
    assert v.check(tr(3, "10000")) is not None
    assert v.counts() == {Rejection.PRICE_JUMP: 2}
    assert v.accepted == 2


def test_per_instrument_rules_override_the_default() -> None:
    option = InstrumentId("NIFTY26DEC26000CE.NFO")
    v = TickValidator(RULES, overrides={option: TickRules(max_jump_pct=Decimal(60))})
    assert v.check(Quote(option, T, Decimal(100))) is None
    assert v.check(Quote(option, T + timedelta(seconds=1), Decimal(150))) is None
    assert v.check(q(0, "100")) is None
    assert v.check(q(1, "150")) is not None


def test_a_real_move_is_confirmed_by_agreeing_prices_and_a_lone_print_is_not() -> None:
    v = TickValidator(RULES)
    assert v.check(q(0, "100")) is None
    # Overnight gap up 15 %: two agreeing prices are refused, the third confirms the move.
    assert v.check(q(3600, "115")) is not None
    assert v.check(q(3601, "115.2")) is not None
    assert v.check(q(3602, "115.1")) is None
    assert v.last_good(IID) == (Decimal("115.1"), T + timedelta(seconds=3602))
    # A bad print between two jumped prices breaks the run: nothing is confirmed.
    assert v.check(q(3603, "1")) is not None
    assert v.check(q(3604, "115.3")) is None  # near the reference: fine
    assert v.check(q(3605, "200")) is not None
    assert v.check(q(3606, "1")) is not None
    assert v.check(q(3607, "200")) is not None
    assert v.last_good(IID) == (Decimal("115.3"), T + timedelta(seconds=3604))


def test_an_older_event_of_another_kind_does_not_rewind_the_reference() -> None:
    v = TickValidator(RULES)
    assert v.check(q(20, "101")) is None
    assert v.check(tr(0, "100")) is None  # a late trade print: accepted as a trade...
    assert v.last_good(IID) == (Decimal(101), T + timedelta(seconds=20))  # ...not as the mark
