"""Contract of the user store: every adapter keeps users unique by lower-cased name, updates them
by id, stores API keys by their public id, and uses each refresh token at most once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.memory.users import InMemoryUserStore
from algodesk.adapters.storage.sql.users import SqlUserStore
from algodesk.domain.users import ApiKey, Role, User
from algodesk.ports.users import UsernameTakenError, UserNotFoundError, UserStore

T0 = datetime(2026, 11, 22, 9, 15, 30, 123456, tzinfo=UTC)
_names = itertools.count(1)


def user(name: str, role: Role = Role.TRADER, uid: str | None = None) -> User:
    return User(uid or f"id-{name}", name, role, f"$argon2id$hash-of-{name}", T0)


def key(key_id: str, user_id: str, minutes: int = 0) -> ApiKey:
    return ApiKey(
        key_id, user_id, f"bot {key_id}", "ab" * 32, T0 + timedelta(minutes=minutes), "wxyz"
    )


@pytest.fixture
def store(store_engine: sa.Engine | None) -> UserStore:
    if store_engine is None:
        return InMemoryUserStore()
    return SqlUserStore(store_engine)


def test_users_round_trip_exactly(store: UserStore) -> None:
    alice, bob = user("alice", Role.ADMIN), user("bob", Role.VIEWER)
    store.add(bob)
    store.add(alice)
    assert store.get(alice.id) == alice
    assert store.get("nobody") is None
    assert store.users() == [alice, bob]  # by username
    assert store.count() == 2


def test_usernames_are_found_and_unique_regardless_of_case(store: UserStore) -> None:
    alice = user("alice")
    store.add(alice)
    assert store.by_username("ALICE") == alice
    assert store.by_username(" Alice ") == alice
    assert store.by_username("alicia") is None
    with pytest.raises(UsernameTakenError, match="'alice' is taken"):
        store.add(user("alice", uid="another-id"))
    assert store.count() == 1


def test_updates_by_id(store: UserStore) -> None:
    store.add(user("carol"))
    store.set_password_hash("id-carol", "$argon2id$new")
    store.set_role("id-carol", Role.ADMIN)
    store.set_disabled("id-carol", True)
    found = store.get("id-carol")
    assert found is not None
    assert (found.password_hash, found.role, found.disabled) == ("$argon2id$new", Role.ADMIN, True)
    store.set_disabled("id-carol", False)
    assert store.get("id-carol") == User("id-carol", "carol", Role.ADMIN, "$argon2id$new", T0)


def test_updating_an_unknown_user_raises(store: UserStore) -> None:
    with pytest.raises(UserNotFoundError, match="'ghost'"):
        store.set_password_hash("ghost", "x")
    with pytest.raises(UserNotFoundError, match="'ghost'"):
        store.set_role("ghost", Role.ADMIN)
    with pytest.raises(UserNotFoundError, match="'ghost'"):
        store.set_disabled("ghost", True)


def test_api_keys(store: UserStore) -> None:
    store.add(user("dave"))
    store.add(user("erin"))
    second, first, other = (
        key("k2222222", "id-dave", 5),
        key("k1111111", "id-dave"),
        key("k3333333", "id-erin"),
    )
    for k in (second, first, other):
        store.add_api_key(k)
    assert store.get_api_key("k1111111") == first
    assert store.get_api_key("k9999999") is None
    assert store.api_keys_for("id-dave") == [first, second]  # oldest first
    assert store.api_keys_for("id-nobody") == []


def test_revoking_a_key(store: UserStore) -> None:
    store.add(user("dave"))
    store.add_api_key(key("k1111111", "id-dave"))
    at = T0 + timedelta(hours=1)
    assert store.revoke_api_key("k1111111", at) is True
    assert store.revoke_api_key("k1111111", at + timedelta(hours=1)) is False  # already
    assert store.revoke_api_key("k9999999", at) is False  # unknown
    revoked = store.get_api_key("k1111111")
    assert revoked is not None
    assert revoked.revoked_at == at
    assert not revoked.active


def test_a_key_or_refresh_token_needs_an_existing_user(store: UserStore) -> None:
    with pytest.raises(UserNotFoundError):
        store.add_api_key(key("k1111111", "id-ghost"))
    with pytest.raises(UserNotFoundError):
        store.add_refresh_token("r1", "id-ghost", T0)


def test_a_refresh_token_is_used_once(store: UserStore) -> None:
    store.add(user("frank"))
    store.add_refresh_token("r1", "id-frank", T0 + timedelta(days=7))
    assert store.use_refresh_token("r1", T0) is True
    assert store.use_refresh_token("r1", T0) is False
    assert store.use_refresh_token("unknown", T0) is False


def test_revoking_refresh_tokens_signs_the_user_out(store: UserStore) -> None:
    store.add(user("frank"))
    store.add(user("grace"))
    for token_id, owner in [("r1", "id-frank"), ("r2", "id-frank"), ("r3", "id-grace")]:
        store.add_refresh_token(token_id, owner, T0 + timedelta(days=7))
    assert store.use_refresh_token("r1", T0)
    assert store.revoke_refresh_tokens("id-frank", T0) == 1  # r2; r1 is used already
    assert store.use_refresh_token("r2", T0) is False
    assert store.use_refresh_token("r3", T0) is True  # another user's tokens are untouched


def test_purging_expired_refresh_tokens(store: UserStore) -> None:
    store.add(user("heidi"))
    store.add_refresh_token("old", "id-heidi", T0)
    store.add_refresh_token("new", "id-heidi", T0 + timedelta(days=7))
    assert store.purge_refresh_tokens(T0 + timedelta(seconds=1)) == 1
    assert store.use_refresh_token("old", T0) is False
    assert store.use_refresh_token("new", T0) is True
