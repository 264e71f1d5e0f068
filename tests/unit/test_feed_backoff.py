"""Backoff: delays grow by the factor up to the cap, jitter stays inside its band, a seeded
random source gives the same schedule, and a reset starts over."""

from __future__ import annotations

import random

import pytest

from algodesk.adapters.feeds.backoff import Backoff, Jitter


def test_without_jitter_delays_double_until_the_cap() -> None:
    backoff = Backoff(0.1, 1.0, jitter=Jitter.NONE)
    delays = [backoff.next_delay() for _ in range(7)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert backoff.attempts == 7


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    backoff = Backoff(0.1, 2.0, jitter=Jitter.FULL, rng=random.Random(7))
    for _ in range(200):
        ceiling = backoff.ceiling()
        assert 0.0 <= backoff.next_delay() <= ceiling
    assert backoff.ceiling() == 2.0


def test_equal_jitter_never_waits_less_than_half_the_ceiling() -> None:
    backoff = Backoff(0.1, 2.0, jitter=Jitter.EQUAL, rng=random.Random(7))
    for _ in range(200):
        ceiling = backoff.ceiling()
        assert ceiling / 2 <= backoff.next_delay() <= ceiling


def test_jitter_spreads_the_delays() -> None:
    backoff = Backoff(1.0, 1.0, jitter=Jitter.FULL, rng=random.Random(3))
    assert len({backoff.next_delay() for _ in range(20)}) == 20


@pytest.mark.parametrize("jitter", [Jitter.FULL, Jitter.EQUAL])
def test_the_same_seed_gives_the_same_schedule(jitter: Jitter) -> None:
    def schedule(seed: int) -> list[float]:
        backoff = Backoff(0.05, 5.0, jitter=jitter, rng=random.Random(seed))
        return [backoff.next_delay() for _ in range(10)]

    assert schedule(42) == schedule(42)
    assert schedule(42) != schedule(43)


def test_reset_starts_the_schedule_over() -> None:
    backoff = Backoff(0.5, 100.0, factor=3.0, jitter=Jitter.NONE)
    for _ in range(4):
        backoff.next_delay()
    assert backoff.ceiling() == pytest.approx(0.5 * 3**4)
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.next_delay() == pytest.approx(0.5)


def test_a_very_long_outage_stays_at_the_cap_without_overflowing() -> None:
    backoff = Backoff(0.5, 30.0, jitter=Jitter.NONE)
    for _ in range(3000):
        delay = backoff.next_delay()
    assert delay == 30.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": 0.0}, "expected base > 0 seconds, was 0.0"),
        ({"base": 2.0, "cap": 1.0}, r"expected cap >= base \(2.0\), was 1.0"),
        ({"factor": 0.5}, "expected factor >= 1, was 0.5"),
    ],
)
def test_bad_settings_are_refused_with_the_value(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)
