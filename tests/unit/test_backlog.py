"""The alert backlog: the wait a new alert would find, and when the webhook refuses it."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from algodesk.services.backlog import AlertBacklog

MINUTE = timedelta(seconds=60)


def test_the_wait_is_the_alerts_ahead_times_the_processors_smoothed_pace() -> None:
    backlog = AlertBacklog()
    for alert_id in range(1, 11):
        backlog.stored(alert_id)
    assert (backlog.ahead, backlog.wait()) == (10, 0.0)  # not measured yet: nothing refused
    backlog.settled(4, 4, 0.4)  # 0.1 s per alert
    assert backlog.ahead == 6
    assert backlog.wait() == pytest.approx(0.6)
    backlog.settled(10, 6, 6 * 0.2)  # slower: 0.2 s per alert, weighed 0.3 against 0.1
    assert backlog.ahead == 0
    backlog.stored(12)  # id 11 was refused on arrival: counted, so the estimate errs high
    assert backlog.wait() == pytest.approx(2 * 0.13)


def test_ids_only_move_forward() -> None:
    backlog = AlertBacklog()
    backlog.stored(9)
    backlog.stored(7)  # a webhook thread that stored an older id answers later
    backlog.settled(5, 1, 1.0)
    backlog.settled(3, 0, 0.0)  # a batch of nothing moves nothing
    assert backlog.ahead == 4
    assert backlog.wait() == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("max_lag", "limit"),
    [(MINUTE, 10.0), (timedelta(seconds=12), 6.0), (timedelta(hours=1), 10.0)],
)
def test_a_hook_is_refused_beyond_the_desks_limit_or_half_its_max_lag(
    max_lag: timedelta, limit: float
) -> None:
    backlog = AlertBacklog(timedelta(seconds=10))
    assert backlog.limit_for(max_lag) == limit
    backlog.settled(0, 1, 1.0)  # 1 s per alert
    backlog.stored(int(limit))  # a wait of exactly the limit is taken
    assert backlog.refusal(max_lag) is None
    backlog.stored(int(limit) + 1)
    assert backlog.refusal(max_lag) == (limit + 1, limit, 1)


def test_retry_after_is_how_far_over_the_limit_within_1_to_60_s() -> None:
    backlog = AlertBacklog(timedelta(seconds=10))
    backlog.settled(0, 1, 0.5)
    backlog.stored(50)  # 25 s
    assert backlog.refusal(MINUTE) == (25.0, 10.0, 15)
    backlog.stored(1000)  # 500 s
    assert backlog.refusal(MINUTE) == (500.0, 10.0, 60)
    backlog.stored(1)
    backlog.settled(0, 1, 0.5)  # 0.5 s per alert still; ids never move back: 500 s yet
    assert backlog.refusal(MINUTE) == (500.0, 10.0, 60)
    backlog.settled(979, 0, 0.0)  # 21 ahead: 10.5 s, half a second over
    assert backlog.refusal(MINUTE) == (10.5, 10.0, 1)


def test_falling_behind_and_catching_up_are_logged_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backlog = AlertBacklog(timedelta(seconds=10))
    backlog.settled(0, 1, 1.0)
    backlog.stored(20)
    with caplog.at_level(logging.WARNING, logger="algodesk.alerts"):
        for _ in range(3):
            assert backlog.refusal(MINUTE) is not None
        backlog.settled(20, 20, 20.0)
        assert backlog.refusal(MINUTE) is None
        assert backlog.refusal(MINUTE) is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "20.0 s behind (20 alerts ahead, limit 10.0 s)" in messages[0]
    assert "after refusing 3" in messages[1]


def test_the_limit_must_be_above_zero() -> None:
    with pytest.raises(ValueError, match="above 0 s"):
        AlertBacklog(timedelta(0))
