"""Storage and venue links that fail on cue, for tests of what a failure leaves behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.identifiers import InstrumentId
from algodesk.services.engine import Engine


class FailingCommits:
    """In-memory storage (a unit-of-work factory) whose next commit, in whichever unit it
    comes, fails as a full disk or a lost connection would (``fail_next = True``)."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.fail_next = False

    def __call__(self) -> InMemoryUnitOfWork:
        uow = InMemoryUnitOfWork(self.store)
        commit = uow.commit

        def maybe_refuse() -> None:
            if self.fail_next:
                self.fail_next = False
                raise OSError("disk full")
            commit()

        uow.commit = maybe_refuse  # type: ignore[method-assign]
        return uow


def drop_link_once(
    engine: Engine, instrument_id: InstrumentId, when: Callable[[], bool] = lambda: True
) -> list[object]:
    """Make ``engine``'s next command in ``instrument_id`` (once ``when()`` holds) fail as a
    dropped venue link would, once: the commands dropped (one at most)."""
    real = engine.handle
    dropped: list[object] = []

    def handle(command: Any) -> Any:
        ours = getattr(command, "instrument_id", None) == instrument_id
        if ours and not dropped and when():
            dropped.append(command)
            raise ConnectionError("the venue link dropped")
        return real(command)

    engine.handle = handle  # type: ignore[method-assign]
    return dropped
