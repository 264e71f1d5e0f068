"""Group commit: concurrent writers share one transaction and one durable commit.

Each caller of :meth:`GroupCommit.submit` queues its item and returns only after the item was
committed (or with the item's own error). Whoever finds no batch in flight leads: it takes
every item queued so far, runs them in one transaction, commits once and hands every caller
its result; callers that arrived while it committed form the next batch. Nobody waits for a
timer: an uncontended call commits at once, and under load a batch grows to what queued during
one commit (one fsync on SQLite with ``synchronous=FULL`` for all of them).

If the batch fails as a whole, nothing of it was committed (the transaction rolled back) and
each item is run again in a transaction of its own, so one bad item costs its neighbours
nothing but a retry, and each caller gets its own item's result or error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import sqlalchemy as sa

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


class _Waiter(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Run ``apply(conn, item)`` for concurrent callers in shared transactions on ``engine``.

    ``apply`` must only write through ``conn`` (no commit of its own) and may be run a second
    time for an item whose batch failed, in a fresh transaction. ``max_batch`` caps a batch.
    """

    def __init__(
        self,
        engine: sa.Engine,
        apply: Callable[[sa.Connection, T], R],
        max_batch: int = 256,
    ) -> None:
        self._engine = engine
        self._apply = apply
        self._max_batch = max_batch
        self._queue: list[_Waiter[T, R]] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()  # held by the one batch in flight
        #: Batches committed and items in them (for tests and diagnostics).
        self.batches = 0
        self.items = 0

    @property
    def queued(self) -> int:
        """Items waiting for a batch (not the one in flight)."""
        with self._queue_lock:
            return len(self._queue)

    def submit(self, item: T) -> R:
        """``item`` applied and committed: its result, or its error raised."""
        waiter: _Waiter[T, R] = _Waiter(item)
        with self._queue_lock:
            self._queue.append(waiter)
        while not waiter.done:
            with self._leader:
                if waiter.done:  # an earlier leader took it in its batch
                    break
                with self._queue_lock:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                self._run(batch)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]  # R may include None

    def _run(self, batch: Sequence[_Waiter[T, R]]) -> None:
        try:
            try:
                with self._engine.begin() as conn:
                    results = [self._apply(conn, waiter.item) for waiter in batch]
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].error = exc
                else:  # nothing of the batch was committed: each item on its own
                    for waiter in batch:
                        self._alone(waiter)
                return
            self.batches += 1
            self.items += len(batch)
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        except BaseException:  # interrupted: no caller may wait forever
            for waiter in batch:
                if waiter.result is None and waiter.error is None:
                    waiter.error = RuntimeError("the batch was interrupted; not known stored")
            raise
        finally:
            for waiter in batch:
                waiter.done = True

    def _alone(self, waiter: _Waiter[T, R]) -> None:
        try:
            with self._engine.begin() as conn:
                waiter.result = self._apply(conn, waiter.item)
        except Exception as exc:  # handed to its own caller
            waiter.error = exc
            return
        self.batches += 1
        self.items += 1
