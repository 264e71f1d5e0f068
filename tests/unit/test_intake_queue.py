"""The webhook's threads: how long a new alert would wait for one."""

from __future__ import annotations

import logging
import threading

import anyio
import pytest

from algodesk.entrypoints.api.intake_queue import IntakeQueue
from algodesk.testing.clock import Ticks
from tests.waiting import until


def test_the_wait_is_the_queue_times_the_median_time_in_a_thread_or_the_heads_wait() -> None:
    ticks = Ticks(64.0)  # sums of quarters stay exact
    queue = IntakeQueue(threads=2, limit=0.625, monotonic=ticks)
    gate = threading.Event()
    seen: list[tuple[int, float, bool]] = []

    def taking(seconds: float) -> None:
        ticks.now += seconds  # the clock moves while the alert is in its thread

    def look() -> None:
        seen.append((queue.waiting, queue.wait(), queue.full()))

    async def main() -> None:
        for seconds in (0.25, 0.25, 5.0, 0.25):  # one alert stalled on the disk
            await queue.run(taking, seconds)
        assert queue.took == 0.25  # the median: the stall does not count
        async with anyio.create_task_group() as tasks:
            try:
                for _ in range(2):  # both threads busy
                    tasks.start_soon(queue.run, gate.wait)
                await until(lambda: queue.working == 2)
                look()  # nothing queued: no wait
                for _ in range(3):
                    tasks.start_soon(queue.run, gate.wait)
                await until(lambda: queue.waiting == 3)
                look()  # 3 queued: a new one waits for 4 alerts of 0.25 s on 2 threads
                tasks.start_soon(queue.run, gate.wait)
                await until(lambda: queue.waiting == 4)
                look()  # 0.625 s: as long as it may
                tasks.start_soon(queue.run, gate.wait)
                await until(lambda: queue.waiting == 5)
                look()  # 0.75 s: full
                ticks.now += 2.0
                look()  # the queue has not moved for 2 s: the head's wait counts
            finally:
                gate.set()

    anyio.run(main)
    assert seen == [
        (0, 0.0, False),
        (3, 0.5, False),
        (4, 0.625, False),
        (5, 0.75, True),
        (5, 2.0, True),
    ]
    assert (queue.waiting, queue.wait()) == (0, 0.0)


def test_an_alert_that_gives_up_waiting_leaves_the_queue() -> None:
    queue = IntakeQueue(threads=1)
    gate = threading.Event()

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            try:
                tasks.start_soon(queue.run, gate.wait)
                await until(lambda: queue.working == 1)
                with anyio.move_on_after(0.05):  # a sender that hangs up while queued
                    await queue.run(gate.wait)
                assert queue.waiting == 0
            finally:
                gate.set()

    anyio.run(main)
    assert queue.waiting == 0


def test_at_least_one_thread() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        IntakeQueue(threads=0)


def test_refusals_are_logged_when_they_start_every_30_s_and_when_the_queue_empties(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = Ticks()
    queue = IntakeQueue(threads=1, monotonic=ticks)
    with caplog.at_level(logging.WARNING, logger="algodesk.alerts"):
        for _ in range(3):
            queue.refuse()
        ticks.now += 30
        queue.refuse()
        anyio.run(queue.run, int, "1")  # the next alert finds no queue
        anyio.run(queue.run, int, "2")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "503 desk_busy; 1 refused so far" in messages[0]
    assert "4 refused so far" in messages[1]
    assert "empty again; 4 were refused" in messages[2]
