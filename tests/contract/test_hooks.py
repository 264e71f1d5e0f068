"""Contract of the webhook hook store: hooks round-trip exactly, a token finds only its active
hook, revocation is immediate, and the SQL store keeps tokens and secrets encrypted at rest.
The desk's :class:`HookCache` in front of a store keeps the same contract; a change made by
another process reaches it once its copy is ``ttl`` old.

A SQL store opened with another secret key cannot read its hooks: the lookup raises
:class:`CipherError` naming the hook (never the token), rather than reporting "no such hook",
so an operator who lost the key sees why every webhook is refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from algodesk.adapters.crypto.fernet import FernetCipher
from algodesk.adapters.storage.memory.hooks import InMemoryHookStore
from algodesk.adapters.storage.sql.hooks import SqlHookStore, token_hash
from algodesk.domain.identifiers import AccountId, BotId
from algodesk.ports.secrets import CipherError
from algodesk.ports.webhooks import Hook, HookStore
from algodesk.services.webhooks import HookCache
from algodesk.testing.clock import Ticks

T0 = datetime(2026, 1, 5, 9, 15, 0, 250000, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))
BOT = BotId("bot-1")
KEY = Fernet.generate_key()
TOKEN = "tok_Zx8pQ2vR7mN4kL1wS9yT3uB6cD5eF0aH"
SECRET = "s3cr3t-body-passphrase"
_names = itertools.count(1)


def hook(n: int = 1, **kw: Any) -> Hook:
    args: dict[str, Any] = {
        "id": f"hk{n}",
        "account_id": AccountId("acct-1"),
        "bot_id": BOT,
        "token": f"{TOKEN}{n}",
        "created_at": T0 + timedelta(minutes=n),
    }
    return Hook(**(args | kw))


@pytest.fixture(params=["plain", "cached"])
def store(store_engine: sa.Engine | None, request: pytest.FixtureRequest) -> HookStore:
    """Each store, and each behind the desk's :class:`HookCache` (the same contract)."""
    inner: HookStore = (
        InMemoryHookStore()
        if store_engine is None
        else SqlHookStore(store_engine, FernetCipher(KEY))
    )
    return HookCache(inner) if request.param == "cached" else inner


@pytest.fixture
def sql_engine(migrated_engine: sa.Engine) -> sa.Engine:
    """The SQL adapters only (SQLite, PostgreSQL), for what the memory store cannot show."""
    return migrated_engine


def test_a_hook_round_trips_exactly(store: HookStore) -> None:
    full = hook(
        1,
        secret=SECRET,
        secret_field="passphrase",
        max_lag=timedelta(seconds=1, microseconds=500_001),
        dedupe_window=timedelta(minutes=5),
        source_allowlist=True,
        created_at=datetime(2026, 1, 5, 14, 45, 0, 1, tzinfo=IST),
    )
    plain = hook(2)
    store.add(full)
    store.add(plain)
    found = store.get(full.id)
    assert found == full
    assert found is not None
    assert found.created_at.utcoffset() == timedelta(0)  # kept in UTC
    assert store.get(plain.id) == plain
    assert store.get("nope") is None


def test_by_token_finds_the_active_hook_only(store: HookStore) -> None:
    first, second = hook(1, secret=SECRET), hook(2)
    store.add(first)
    store.add(second)
    assert store.by_token(first.token) == first
    assert store.by_token(second.token) == second
    assert store.by_token("tok_unknown") is None
    assert store.by_token(first.token.upper()) is None  # tokens are exact
    store.revoke(first.id, T0 + timedelta(hours=1))
    assert store.by_token(first.token) is None
    assert store.by_token(second.token) == second
    revoked = store.get(first.id)
    assert revoked is not None
    assert revoked.revoked_at == T0 + timedelta(hours=1)
    assert not revoked.active


def test_revoke_keeps_the_first_time_and_refuses_unknown_hooks(store: HookStore) -> None:
    store.add(hook(1))
    store.revoke("hk1", T0 + timedelta(hours=1))
    store.revoke("hk1", T0 + timedelta(hours=2))
    found = store.get("hk1")
    assert found is not None
    assert found.revoked_at == T0 + timedelta(hours=1)
    with pytest.raises(KeyError, match="expected an existing hook"):
        store.revoke("nope", T0)


def test_a_hook_added_revoked_is_never_found_by_token(store: HookStore) -> None:
    store.add(hook(1, revoked_at=T0))
    assert store.by_token(hook(1).token) is None


def test_for_bot_lists_active_and_revoked_oldest_first(store: HookStore) -> None:
    store.add(hook(3))
    store.add(hook(1))
    store.add(hook(2, bot_id=BotId("bot-2")))
    store.revoke("hk1", T0 + timedelta(hours=1))
    assert [h.id for h in store.for_bot(BOT)] == ["hk1", "hk3"]
    assert [h.id for h in store.for_bot(BotId("bot-2"))] == ["hk2"]
    assert store.for_bot(BotId("bot-9")) == []


def test_a_taken_id_or_token_is_refused_without_echoing_the_token(store: HookStore) -> None:
    store.add(hook(1))
    with pytest.raises(ValueError, match="expected a new id and a new token") as same_id:
        store.add(hook(1, token="tok_other"))
    with pytest.raises(ValueError, match="expected a new id and a new token") as same_token:
        store.add(replace(hook(1), id="hk9"))
    for error in (same_id, same_token):
        assert "tok_" not in str(error.value)
    assert [h.id for h in store.for_bot(BOT)] == ["hk1"]


def test_a_naive_time_is_refused(store: HookStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.add(hook(1, created_at=datetime(2026, 1, 5)))  # noqa: DTZ001
    assert store.get("hk1") is None


def test_tokens_and_secrets_are_encrypted_at_rest(sql_engine: sa.Engine) -> None:
    store = SqlHookStore(sql_engine, FernetCipher(KEY))
    store.add(hook(1, secret=SECRET))
    with sql_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM webhook_hooks")).all()
    raw = repr(rows)
    assert len(rows) == 1
    assert TOKEN not in raw
    assert SECRET not in raw
    assert token_hash(hook(1).token) in raw  # found by its SHA-256


def test_another_key_cannot_read_the_hooks(sql_engine: sa.Engine) -> None:
    SqlHookStore(sql_engine, FernetCipher(KEY)).add(hook(1, secret=SECRET))
    stranger = SqlHookStore(sql_engine, FernetCipher(Fernet.generate_key()))
    reads: list[Callable[[], object]] = [
        lambda: stranger.by_token(hook(1).token),
        lambda: stranger.get("hk1"),
    ]
    for read in reads:
        with pytest.raises(CipherError, match="hook hk1") as error:
            read()
        assert TOKEN not in str(error.value)
        assert SECRET not in str(error.value)


def test_a_revocation_by_another_store_is_seen_at_once(sql_engine: sa.Engine) -> None:
    """Another process (here: another store object) revokes a hook this one has just served."""
    serving = SqlHookStore(sql_engine, FernetCipher(KEY))
    admin = SqlHookStore(sql_engine, FernetCipher(KEY))
    serving.add(hook(1))
    assert serving.by_token(hook(1).token) == hook(1)
    admin.revoke("hk1", T0 + timedelta(hours=1))
    assert serving.by_token(hook(1).token) is None


def test_the_cache_sees_another_process_s_revocation_once_its_copy_is_ttl_old(
    sql_engine: sa.Engine,
) -> None:
    ticks = Ticks()
    serving = HookCache(
        SqlHookStore(sql_engine, FernetCipher(KEY)), ttl=timedelta(seconds=2), monotonic=ticks
    )
    admin = SqlHookStore(sql_engine, FernetCipher(KEY))  # another process
    serving.add(hook(1))
    assert serving.by_token(hook(1).token) == hook(1)  # read, and kept
    admin.revoke("hk1", T0 + timedelta(hours=1))
    ticks.now += 1.9
    assert serving.by_token(hook(1).token) == hook(1)  # its copy, not the database
    ticks.now += 0.1
    assert serving.by_token(hook(1).token) is None


def test_a_change_through_the_cache_is_seen_at_once(sql_engine: sa.Engine) -> None:
    serving = HookCache(SqlHookStore(sql_engine, FernetCipher(KEY)), ttl=timedelta(hours=1))
    serving.add(hook(1))
    assert serving.by_token(hook(1).token) == hook(1)
    serving.revoke("hk1", T0 + timedelta(hours=1))
    assert serving.by_token(hook(1).token) is None
    serving.add(hook(2))
    assert serving.by_token(hook(2).token) == hook(2)
