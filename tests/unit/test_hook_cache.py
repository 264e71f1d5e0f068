"""What the webhook's hook cache promises beyond the store contract (which it also passes, in
tests/contract/test_hooks.py): unknown tokens are looked up every time, every change through
it empties it (also when the store fails), and a lookup begun before a change is not kept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from algodesk.adapters.storage.memory.hooks import InMemoryHookStore
from algodesk.ports.webhooks import Hook
from algodesk.services.webhooks import HookCache
from tests.contract.test_hooks import T0, hook


class CountingStore(InMemoryHookStore):
    """An in-memory store that counts token reads; ``during_read`` runs inside the next read
    (a change made while a lookup is under way), and ``broken`` makes revocations fail."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.during_read: Callable[[], None] | None = None
        self.broken = False

    def by_token(self, token: str) -> Hook | None:
        self.reads += 1
        found = super().by_token(token)
        if self.during_read is not None:
            act, self.during_read = self.during_read, None
            act()
        return found

    def revoke(self, hook_id: str, at: datetime) -> None:
        if self.broken:
            raise OSError("disk I/O error")
        super().revoke(hook_id, at)


@pytest.fixture
def store() -> CountingStore:
    made = CountingStore()
    made.add(hook(1))
    return made


def test_a_known_token_is_read_once_and_an_unknown_one_every_time(store: CountingStore) -> None:
    cache = HookCache(store, ttl=timedelta(hours=1))
    assert cache.by_token(hook(1).token) == hook(1)
    assert cache.by_token(hook(1).token) == hook(1)
    assert store.reads == 1
    assert cache.by_token("no-such-token") is None
    assert cache.by_token("no-such-token") is None
    assert store.reads == 3


def test_a_cached_hook_is_read_again_once_it_is_ttl_old(store: CountingStore) -> None:
    now = [0.0]
    cache = HookCache(store, ttl=timedelta(seconds=2), monotonic=lambda: now[0])
    cache.by_token(hook(1).token)
    now[0] = 1.9
    cache.by_token(hook(1).token)
    assert store.reads == 1
    now[0] = 2.0
    cache.by_token(hook(1).token)
    assert store.reads == 2


def test_adding_a_hook_empties_the_cache(store: CountingStore) -> None:
    cache = HookCache(store, ttl=timedelta(hours=1))
    cache.by_token(hook(1).token)
    cache.add(hook(2))
    cache.by_token(hook(1).token)
    assert store.reads == 2


def test_a_revocation_that_fails_still_empties_the_cache(store: CountingStore) -> None:
    """The store may have revoked it before failing: the next webhook asks the store."""
    cache = HookCache(store, ttl=timedelta(hours=1))
    cache.by_token(hook(1).token)
    store.broken = True
    with pytest.raises(OSError, match="disk"):
        cache.revoke("hk1", T0 + timedelta(hours=1))
    cache.by_token(hook(1).token)
    assert store.reads == 2


def test_a_lookup_begun_before_a_revocation_is_not_kept(store: CountingStore) -> None:
    """A webhook read the hook just before it was revoked; that answer may stand for the one
    webhook, but the revoked hook must not be served from the cache afterwards."""
    cache = HookCache(store, ttl=timedelta(hours=1))
    store.during_read = lambda: cache.revoke("hk1", T0 + timedelta(hours=1))
    assert cache.by_token(hook(1).token) == hook(1)  # read before the revocation landed
    assert cache.by_token(hook(1).token) is None
