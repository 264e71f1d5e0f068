"""The SQLite writer gate: first come, first served, handed over at release."""

from __future__ import annotations

import threading
import time

import pytest

from algodesk.adapters.storage.sql.writer_gate import WriterGate


def _queue_in_order(gate: WriterGate, names: list[str], order: list[str]) -> list[threading.Thread]:
    """Start one thread per name, each queued before the next starts; each records its turn
    and releases."""

    def writer(name: str) -> None:
        assert gate.acquire(timeout=10)
        order.append(name)
        gate.release()

    threads = []
    for n, name in enumerate(names, start=1):
        thread = threading.Thread(target=writer, args=(name,))
        thread.start()
        deadline = time.monotonic() + 10
        while gate.waiting < n:  # queued before the next one starts
            assert time.monotonic() < deadline
            time.sleep(0.001)
        threads.append(thread)
    return threads


def test_an_uncontended_gate_is_taken_at_once_and_released() -> None:
    gate = WriterGate()
    assert gate.acquire(timeout=0)
    assert gate.waiting == 0
    gate.release()
    assert gate.acquire(timeout=0)
    gate.release()


def test_waiters_get_the_gate_in_the_order_they_came() -> None:
    gate = WriterGate()
    assert gate.acquire(timeout=0)
    order: list[str] = []
    threads = _queue_in_order(gate, ["b", "c", "d", "e"], order)
    assert gate.waiting == 4
    order.append("a")
    gate.release()  # handed to b, then each to the next
    for thread in threads:
        thread.join(10)
    assert order == ["a", "b", "c", "d", "e"]
    assert gate.waiting == 0
    assert gate.acquire(timeout=0)  # and free again


def test_the_releasing_writer_cannot_take_the_gate_back_before_a_waiter() -> None:
    gate = WriterGate()
    assert gate.acquire(timeout=0)
    order: list[str] = []
    threads = _queue_in_order(gate, ["waiter"], order)
    gate.release()
    assert gate.acquire(timeout=10)  # queued behind the waiter it handed the gate to
    order.append("releaser")
    gate.release()
    threads[0].join(10)
    assert order == ["waiter", "releaser"]


def test_a_writer_that_times_out_leaves_the_queue() -> None:
    gate = WriterGate()
    assert gate.acquire(timeout=0)
    began = time.monotonic()
    assert not gate.acquire(timeout=0.05)
    assert time.monotonic() - began >= 0.04  # (a timed wait may end a hair early)
    assert gate.waiting == 0
    gate.release()
    assert gate.acquire(timeout=0)  # not handed to the writer that gave up
    gate.release()


def test_releasing_a_gate_not_held_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not held"):
        WriterGate().release()
