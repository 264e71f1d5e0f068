"""The alert backlog: the wait a new alert would find, and when the webhook refuses it."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from algodesk.services.backlog import AlertBacklog
from algodesk.testing.clock import Ticks

MINUTE = timedelta(seconds=60)


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


def test_the_wait_is_the_alerts_ahead_times_the_time_per_alert(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    for alert_id in range(1, 11):
        backlog.stored(alert_id)
    assert (backlog.ahead, backlog.pace, backlog.wait()) == (10, None, 0.0)
    ticks.now += 0.4
    backlog.settled(4, 4)  # 0.1 s per alert
    assert backlog.ahead == 6
    assert backlog.wait() == pytest.approx(0.6)
    ticks.now += 6 * 0.2
    backlog.settled(10, 6)  # slower: 1.6 s for 10 alerts in all
    assert backlog.pace == pytest.approx(0.16)
    assert (backlog.ahead, backlog.wait()) == (0, 0.0)
    backlog.stored(12)  # id 11 was refused on arrival: counted, so the estimate errs high
    assert backlog.wait() == pytest.approx(2 * backlog.pace)


def test_many_batches_of_one_do_not_outweigh_the_big_batches(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    backlog.stored(10_000)
    for _ in range(50):  # 32 alerts in 32 ms, then 1 in 20 ms: 1.6 ms per alert
        ticks.now += 0.032
        backlog.settled(0, 32)
        ticks.now += 0.020
        backlog.settled(0, 1)
    # The mean of the batches' paces would be 10.5 ms.
    assert backlog.pace == pytest.approx(0.052 / 33)


def test_idle_time_is_not_counted_but_a_stalled_processor_is(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    backlog.stored(1)
    ticks.now += 0.01
    backlog.settled(1, 1)
    ticks.now += 3600  # nothing to do for an hour
    backlog.stored(2)
    ticks.now += 0.01
    backlog.settled(2, 1)
    assert backlog.pace == pytest.approx(0.01)
    # Alerts wait and the processor records nothing for 30 s (a venue call hangs): however
    # quick it was before, a new alert waits at least that long.
    backlog.stored(5)
    ticks.now += 30
    assert backlog.wait() == pytest.approx(30)
    assert backlog.over(MINUTE) == (pytest.approx(30), 10.0)
    ticks.now += 1.0  # the stuck batch ends: its time counts (the quick ones are 31 s old)
    backlog.settled(5, 3)
    assert backlog.pace == pytest.approx(31 / 3)


def test_the_pace_is_measured_over_the_last_10_s(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    backlog.stored(100)
    for n in range(1, 11):  # 10 alerts, 1 s each
        ticks.now += 1.0
        backlog.settled(n, 1)
    for n in range(11, 21):  # then 10 in 0.25 s each: the first 2 slow ones leave the window
        ticks.now += 0.25
        backlog.settled(n, 1)
    assert backlog.pace == (8 * 1.0 + 10 * 0.25) / 18
    ticks.now += 60  # stuck for a minute: the stall counts
    assert backlog.wait() == pytest.approx(60)
    ticks.now += 1  # the stuck alert ends: the window holds it alone
    backlog.settled(21, 1)
    assert backlog.pace == pytest.approx(61)


def test_ids_only_move_forward(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    backlog.stored(9)
    backlog.stored(7)  # a webhook thread that stored an older id answers later
    ticks.now += 1.0
    backlog.settled(5, 1)
    backlog.settled(3, 1)  # an older batch reported late
    assert backlog.ahead == 4


def test_a_restart_counts_the_alerts_left_pending(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    backlog.resume(40, 240)
    assert backlog.ahead == 201
    ticks.now += 12  # not one settled since the start (warming up, or stuck)
    assert backlog.wait() == pytest.approx(12)


@pytest.mark.parametrize(
    ("max_lag", "limit"),
    [(MINUTE, 10.0), (timedelta(seconds=12), 6.0), (timedelta(hours=1), 10.0)],
)
def test_a_hook_is_refused_beyond_the_desks_limit_or_half_its_max_lag(
    ticks: Ticks, max_lag: timedelta, limit: float
) -> None:
    backlog = AlertBacklog(timedelta(seconds=10), monotonic=ticks)
    backlog.stored(1)
    ticks.now += 1.0
    backlog.settled(1, 1)  # 1 s per alert
    backlog.stored(1 + int(limit))  # a wait of exactly the limit is taken
    assert backlog.over(max_lag) is None
    backlog.stored(2 + int(limit))
    assert backlog.over(max_lag) == (limit + 1, limit)


def test_retry_after_is_how_far_over_the_limit_within_1_to_60_s() -> None:
    backlog = AlertBacklog(timedelta(seconds=10))
    assert backlog.refuse(25.0, 10.0) == 15
    assert backlog.refuse(500.0, 10.0) == 60
    assert backlog.refuse(10.2, 10.0) == 1


def test_refusals_are_logged_when_they_start_every_30_s_and_when_caught_up(
    ticks: Ticks, caplog: pytest.LogCaptureFixture
) -> None:
    backlog = AlertBacklog(timedelta(seconds=10), monotonic=ticks)
    backlog.stored(1)
    ticks.now += 1.0
    backlog.settled(1, 1)
    backlog.stored(21)  # 20 s behind
    with caplog.at_level(logging.WARNING, logger="algodesk.alerts"):
        for _ in range(3):
            over = backlog.over(MINUTE)
            assert over is not None
            backlog.refuse(*over)
            assert backlog.over(timedelta(hours=2)) is not None  # no other hook is taken
        assert backlog.over(timedelta(seconds=100)) is not None
        ticks.now += 30
        backlog.refuse(*backlog.over(MINUTE))  # type: ignore[misc]
        backlog.settled(20, 19)  # one alert still waits: not caught up yet
        backlog.settled(21, 1)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "about 20.0 s behind (20 alerts ahead)" in messages[0]
    assert "1 refused so far" in messages[0]
    assert "4 refused so far" in messages[1]
    assert "caught up" in messages[2]
    assert "4 were refused" in messages[2]


def test_the_limit_must_be_above_zero() -> None:
    with pytest.raises(ValueError, match="above 0 s"):
        AlertBacklog(timedelta(0))


def test_the_warm_up_before_the_processor_begins_is_not_time_per_alert(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    backlog.resume(1, 10)  # 10 alerts left pending by the last run
    ticks.now += 5.0  # the alert thread waits for first marks
    backlog.begin()
    ticks.now += 0.02
    backlog.settled(10, 10)
    assert backlog.pace == pytest.approx(0.002)
    for alert_id in range(11, 41):  # a basket at the next bar close
        backlog.stored(alert_id)
    assert backlog.over(None) is None


def test_a_pace_measured_long_ago_does_not_refuse_a_basket_now(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    backlog.stored(1)
    ticks.now += 8.0  # one alert waited 8 s on a slow broker
    backlog.settled(1, 1)
    ticks.now += 3600
    assert backlog.pace is None
    for alert_id in range(2, 5):
        backlog.stored(alert_id)
    assert backlog.over(MINUTE) is None


def _slowed_down(backlog: AlertBacklog, ticks: Ticks, waited: float = 18.2) -> None:
    """Alert 101 is taken at an estimate of 9.1 s (91 ahead at 0.1 s each) and settled after
    ``waited`` seconds (by default the processor runs at half that speed)."""
    backlog.stored(100)
    ticks.now += 1.0
    backlog.settled(10, 10)  # 0.1 s per alert
    backlog.stored(101)
    assert backlog.wait() == pytest.approx(9.1)
    ticks.now += waited
    backlog.settled(101, 91)


def test_an_estimate_that_ran_short_lengthens_the_next_ones(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    _slowed_down(backlog, ticks)
    assert backlog.pace == pytest.approx(0.2)
    assert backlog.factor == pytest.approx(2.0)
    for alert_id in range(102, 132):  # 30 ahead: 6 s at the pace, 12 s as it turned out
        backlog.stored(alert_id)
    assert backlog.wait() == pytest.approx(12.0)
    assert backlog.over(None) == (pytest.approx(12.0), 10.0)


def test_the_correction_is_the_90th_percentile_of_the_last_minute(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    _slowed_down(backlog, ticks)  # one alert at twice its estimate
    backlog.stored(200)  # 99 ahead at 0.2 s: 19.8 s
    for alert_id in range(201, 211):  # ten more, each at its own estimate
        backlog.stored(alert_id)
    ticks.now += 21.8  # they all waited as long as the last one's estimate (109 * 0.2 s)
    backlog.settled(210, 109)
    # The ratios of the last minute: 2.0, then 21.8 s over 19.8, 20.0, ... 21.8 s: the 90th
    # percentile of the 12 is the second highest.
    assert backlog.factor == pytest.approx(21.8 / 19.8)
    ticks.now += 61.0  # a minute without a measurement: the correction is gone
    assert backlog.factor == 1.0


def test_the_correction_never_shortens_an_estimate(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    _slowed_down(backlog, ticks, waited=2.0)  # the processor sped up: 2 s for 9.1
    assert backlog.factor == 1.0


def test_short_estimates_are_not_compared(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    backlog.stored(10)
    ticks.now += 0.1
    backlog.settled(5, 5)  # 0.02 s per alert
    backlog.stored(11)  # 6 ahead: 0.12 s
    ticks.now += 0.6  # five times as long: a batch's length, not a slower processor
    backlog.settled(11, 6)
    assert backlog.factor == 1.0


def test_a_stall_lengthens_the_estimate_twice_at_most(ticks: Ticks) -> None:
    backlog = AlertBacklog(monotonic=ticks)
    _slowed_down(backlog, ticks, waited=60.0)  # a venue call hung for a minute
    assert backlog.factor == 2.0
