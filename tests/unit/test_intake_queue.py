"""The webhook's threads: how long a new alert would wait for one."""

from __future__ import annotations

import threading

import anyio
import pytest

from algodesk.entrypoints.api.intake_queue import IntakeQueue
from algodesk.testing.clock import Ticks


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
                await anyio.sleep(0.05)
                look()  # nothing queued: no wait
                for _ in range(3):
                    tasks.start_soon(queue.run, gate.wait)
                await anyio.sleep(0.05)
                look()  # 3 queued: a new one waits for 4 alerts of 0.25 s on 2 threads
                tasks.start_soon(queue.run, gate.wait)
                await anyio.sleep(0.05)
                look()  # 0.625 s: as long as it may
                tasks.start_soon(queue.run, gate.wait)
                await anyio.sleep(0.05)
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
                await anyio.sleep(0.05)
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
