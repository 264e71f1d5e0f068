"""Storage that fails on cue, for tests of what a failed commit leaves behind."""

from __future__ import annotations

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork


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
