"""The SQLite writer gate: first come, first served, handed over at release."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.sql import engine as sql_engine
from algodesk.adapters.storage.sql.engine import make_engine, migrate
from algodesk.adapters.storage.sql.writer_gate import WriterGate, gate_for


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


def test_one_gate_per_database_file_however_its_path_is_written(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    plain = gate_for(str(tmp_path / "desk.db"))
    assert gate_for(str(tmp_path / "sub" / ".." / "desk.db")) is plain
    assert gate_for(str(tmp_path / "other.db")) is not plain


def test_a_begin_that_fails_gives_the_gate_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write lock is taken after the gate; if BEGIN IMMEDIATE fails (another process
    holds the database past the busy timeout), the next writer of this process still gets
    its turn at once."""
    monkeypatch.setattr(sql_engine, "BUSY_TIMEOUT_MS", 50)
    engine = make_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    migrate(engine)
    other = sqlite3.connect(tmp_path / "desk.db", timeout=0, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process's writer
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"), engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        other.execute("ROLLBACK")
        other.close()
    gate = gate_for(str(tmp_path / "desk.db"))
    assert gate.acquire(timeout=0)  # not left held by the failed writer
    gate.release()
    engine.dispose()
