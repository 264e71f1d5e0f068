"""A retirement record whose write failed waits while its watch's exit is in flight: written
then, it moved the watch's key count past that exit's key, a restart looked the wrong key up,
and the stop went again and sold another entry's shares."""

from __future__ import annotations

import threading
from typing import Any

from tests.integration.test_exit_cancels import D, held, mark
from tests.integration.test_exit_failures import _restart
from tests.integration.test_exit_retries import _then_b, a_flat_in_flight_refilling


class _Gate:
    """Refuses to commit a unit whose journal got a POSITION_CLOSED record (``closed``) or an
    exit's own record (``exit``). ``slow``: once not ``closed``, the first unit opened on
    another thread than the test's waits (``entered`` set) until ``go`` is set, as a busy
    database makes a writer wait."""

    def __init__(self, factory: Any, *, slow: bool = False) -> None:
        self.factory, self.closed, self.exit, self.slow = factory, True, False, slow
        self.entered, self.go = threading.Event(), threading.Event()

    def __call__(self) -> Any:
        gate, uow = self, self.factory()

        class Unit:
            def __enter__(self) -> Any:
                elsewhere = threading.current_thread() is not threading.main_thread()
                if gate.slow and elsewhere and not gate.closed and not gate.entered.is_set():
                    gate.entered.set()
                    assert gate.go.wait(10)
                inner = uow.__enter__()
                journal = inner.journal

                class Journal:
                    def __getattr__(self, name: str) -> Any:
                        return getattr(journal, name)

                    def append(self, record: Any) -> None:
                        kind = record.payload.get("kind")
                        if gate.closed and kind == "POSITION_CLOSED":
                            raise OSError("database is locked")
                        if gate.exit and "mark" in record.payload:
                            raise OSError("database is locked")
                        journal.append(record)

                class Proxy:
                    def __getattr__(self, name: str) -> Any:
                        return getattr(inner, name)

                proxy = Proxy()
                proxy.journal = Journal()  # type: ignore[attr-defined]
                return proxy

            def __exit__(self, *exc: object) -> Any:
                return uow.__exit__(*exc)

        return Unit()


def test_a_late_retirement_record_does_not_hide_an_in_flight_exit_from_a_restart() -> None:
    desk = a_flat_in_flight_refilling()
    gate = _Gate(desk.exits._uow_factory)
    desk.exits._uow_factory = gate  # type: ignore[method-assign]
    mark(desk, "94")  # A's dropped 8: its record fails, queued
    assert desk.exits._unwritten
    _then_b(desk)
    gate.exit = True  # A's stop goes; its record fails (kept for retry, key N)
    for last in ("93.9", "93.85", "93.84"):
        mark(desk, last)
    assert held(desk) == D(8)
    assert desk.exits._retry
    gate.closed = False  # the record could be written now, but A's exit is in flight:
    mark(desk, "93.8")  # it waits (written at once, it moved the count past the exit's key)
    assert desk.exits._unwritten
    after = _restart(desk)  # the exit's record never written
    for last in ("93.4", "93.3", "93.2", "93.1", "93.0"):
        mark(after, last)
    assert held(after) == D(8), "after a restart A's stop was sent again and sold B's 8"
