"""The auth service with real parts: argon2 (cheap parameters), PyJWT, the in-memory user store
and a clock that tells the time it is told."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.adapters.auth.tokens import JwtTokenCodec
from algodesk.adapters.storage.memory.users import InMemoryUserStore
from algodesk.domain.users import REQUIRED_ROLE, Permission, Principal, Role, User
from algodesk.ports.auth import TokenType
from algodesk.ports.users import ApiKeyNotFoundError, UsernameTakenError, UserNotFoundError
from algodesk.services.auth import AuthError, AuthService, PermissionDenied, TokenPair
from algodesk.testing.clock import FixedClock

KEY = b"k" * 32
PASSWORD = "correct horse battery"
OTHER = "another long password"


def cheap_hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store() -> InMemoryUserStore:
    return InMemoryUserStore()


@pytest.fixture
def codec() -> JwtTokenCodec:
    return JwtTokenCodec(KEY)


@pytest.fixture
def auth(store: InMemoryUserStore, codec: JwtTokenCodec, clock: FixedClock) -> AuthService:
    return AuthService(store, cheap_hasher(), codec, clock)


@pytest.fixture
def admin(auth: AuthService) -> Principal:
    assert auth.ensure_admin(PASSWORD) == PASSWORD
    return auth.authenticate_access(auth.login("admin", PASSWORD).access_token)


def make_user(auth: AuthService, admin: Principal, name: str, role: Role) -> Principal:
    auth.create_user(name, PASSWORD, role, admin)
    return auth.authenticate_access(auth.login(name, PASSWORD).access_token)


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    shown = f"{exc} {exc!r} {exc.args!r} {getattr(exc, 'message', '')}"
    for secret in secrets:
        assert secret not in shown
    assert exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None


# -- first run ---------------------------------------------------------------------------------


def test_first_run_generates_an_admin_password_that_works_once(auth: AuthService) -> None:
    generated = auth.ensure_admin(None)
    assert generated is not None
    assert len(generated) >= 24
    principal = auth.authenticate_access(auth.login("admin", generated).access_token)
    assert (principal.username, principal.role, principal.via) == ("admin", Role.ADMIN, "jwt")
    assert auth.ensure_admin(None) is None  # users exist: nothing created, nothing shown
    assert auth.ensure_admin(OTHER) is None
    auth.login("admin", generated)  # the first password still stands


def test_first_run_with_a_short_password_is_refused(auth: AuthService) -> None:
    with pytest.raises(ValueError, match=r"12 to 1024 characters, found 5") as info:
        auth.ensure_admin("short")
    assert_no_secret(info.value, "short")
    assert auth.ensure_admin(None) is not None  # nothing was created by the refused call


@pytest.mark.parametrize("password", ["", "elevenchars", " " * 12, "x" * 1025])
def test_password_policy(auth: AuthService, admin: Principal, password: str) -> None:
    with pytest.raises(ValueError, match="expected a password") as info:
        auth.create_user("bob", password, Role.TRADER, admin)
    if password.strip():
        assert_no_secret(info.value, password)
    with pytest.raises(UserNotFoundError):  # nothing was created
        auth.api_keys("bob", admin)


def test_usernames_are_case_insensitive_and_unique(auth: AuthService, admin: Principal) -> None:
    created = auth.create_user("  Alice ", PASSWORD, Role.TRADER, admin)
    assert created.username == "alice"
    assert auth.authenticate_access(auth.login("ALICE", PASSWORD).access_token).username == "alice"
    with pytest.raises(UsernameTakenError, match="'alice' is taken"):
        auth.create_user("alice", OTHER, Role.VIEWER, admin)
    with pytest.raises(ValueError, match="expected a username"):
        auth.create_user("no spaces allowed", PASSWORD, Role.VIEWER, admin)


def test_repr_hides_hashes_and_tokens(auth: AuthService, admin: Principal) -> None:
    user = auth.create_user("carol", PASSWORD, Role.VIEWER, admin)
    assert "argon2" not in repr(user)
    pair = auth.login("carol", PASSWORD)
    assert pair.access_token not in repr(pair)
    assert pair.refresh_token not in repr(pair)
    key, plaintext = auth.create_api_key("carol", "script", admin)
    assert key.key_hash not in repr(key)
    assert plaintext not in repr(key)


# -- login and tokens --------------------------------------------------------------------------


def test_login(auth: AuthService, admin: Principal, clock: FixedClock) -> None:
    auth.create_user("dave", PASSWORD, Role.TRADER, admin)
    pair = auth.login("dave", PASSWORD)
    assert isinstance(pair, TokenPair)
    assert pair.token_type == "bearer"
    assert pair.access_expires_at == clock.now() + timedelta(minutes=15)
    assert pair.refresh_expires_at == clock.now() + timedelta(days=7)
    principal = auth.authenticate_access(pair.access_token)
    assert (principal.username, principal.role, principal.key_id) == ("dave", Role.TRADER, None)
    assert auth.authenticate(pair.access_token) == principal


@pytest.mark.parametrize(("username", "password"), [("dave", OTHER), ("nobody", PASSWORD)])
def test_bad_credentials(auth: AuthService, admin: Principal, username: str, password: str) -> None:
    auth.create_user("dave", PASSWORD, Role.TRADER, admin)
    with pytest.raises(AuthError) as info:
        auth.login(username, password)
    assert info.value.code == "bad_credentials"
    assert str(info.value) == "bad_credentials: the username or the password does not match"
    assert_no_secret(info.value, password)


def test_a_password_typed_as_the_username_is_not_echoed(auth: AuthService) -> None:
    with pytest.raises(AuthError) as info:
        auth.login("my secret password!", "")
    assert_no_secret(info.value, "my secret password!")


def test_access_token_expires_on_the_injected_clock(
    auth: AuthService, admin: Principal, clock: FixedClock
) -> None:
    token = auth.login("admin", PASSWORD).access_token
    clock.advance(timedelta(minutes=15) - timedelta(seconds=1))
    assert auth.authenticate_access(token).username == "admin"
    clock.advance(timedelta(seconds=1))  # exactly at exp: no leeway
    with pytest.raises(AuthError) as info:
        auth.authenticate_access(token)
    assert info.value.code == "expired"
    assert "expired at 2026-01-05T09:30:00+00:00" in str(info.value)
    assert_no_secret(info.value, token)


def test_refresh_rotates_and_a_replayed_refresh_token_signs_out(
    auth: AuthService, admin: Principal, clock: FixedClock
) -> None:
    first = auth.login("admin", PASSWORD)
    clock.advance(timedelta(minutes=20))
    second = auth.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_expires_at == clock.now() + timedelta(minutes=15)
    assert auth.authenticate_access(second.access_token).username == "admin"
    with pytest.raises(AuthError) as info:  # replayed: someone copied it
        auth.refresh(first.refresh_token)
    assert info.value.code == "revoked"
    assert_no_secret(info.value, first.refresh_token)
    with pytest.raises(AuthError) as info:  # ... so the legitimate holder is signed out too
        auth.refresh(second.refresh_token)
    assert info.value.code == "revoked"


def test_refresh_token_expires(auth: AuthService, admin: Principal, clock: FixedClock) -> None:
    pair = auth.login("admin", PASSWORD)
    clock.advance(timedelta(days=7))
    with pytest.raises(AuthError) as info:
        auth.refresh(pair.refresh_token)
    assert info.value.code == "expired"


def test_sign_out_revokes_refresh_tokens(auth: AuthService, admin: Principal) -> None:
    pair = auth.login("admin", PASSWORD)
    assert auth.sign_out(admin) == 2  # the fixture's login and this one
    with pytest.raises(AuthError, match="revoked"):
        auth.refresh(pair.refresh_token)


def test_a_token_of_the_other_type_is_refused(auth: AuthService, admin: Principal) -> None:
    pair = auth.login("admin", PASSWORD)
    with pytest.raises(AuthError, match="type 'access', found one of type 'refresh'") as info:
        auth.authenticate_access(pair.refresh_token)
    assert info.value.code == "invalid_token"
    with pytest.raises(AuthError, match="type 'refresh', found one of type 'access'") as info:
        auth.refresh(pair.access_token)
    assert info.value.code == "invalid_token"


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(_tampered, id="payload-edited"),
        pytest.param(lambda t: t[:-4] + ("AAAA" if t[-4:] != "AAAA" else "BBBB"), id="signature"),
        pytest.param(lambda t: "not.a.jwt", id="garbage"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(
            lambda t: jwt.encode(jwt.decode(t, options={"verify_signature": False}), b"x" * 32),
            id="other-key",
        ),
        pytest.param(
            lambda t: jwt.encode(
                jwt.decode(t, options={"verify_signature": False}), "", algorithm="none"
            ),
            id="alg-none",
        ),
    ],
)
def test_a_tampered_token_is_refused(
    auth: AuthService, admin: Principal, forge: Callable[[str], str]
) -> None:
    viewer = make_user(auth, admin, "victor", Role.VIEWER)
    token = auth.login("victor", PASSWORD).access_token
    bad = forge(token)
    with pytest.raises(AuthError) as info:
        auth.authenticate_access(bad)
    assert info.value.code == "invalid_token"
    if bad:
        assert_no_secret(info.value, bad, token)
    assert viewer.role is Role.VIEWER


def test_a_token_missing_a_claim_is_refused(auth: AuthService, admin: Principal) -> None:
    token = auth.login("admin", PASSWORD).access_token
    claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
    del claims["jti"]
    with pytest.raises(AuthError, match="'jti' is missing"):
        auth.authenticate_access(jwt.encode(claims, KEY, algorithm="HS256"))


def test_a_token_of_a_deleted_user_is_refused(
    auth: AuthService, codec: JwtTokenCodec, clock: FixedClock
) -> None:
    access = codec.issue("gone", Role.ADMIN, TokenType.ACCESS, clock.now()).token
    refresh = codec.issue("gone", Role.ADMIN, TokenType.REFRESH, clock.now()).token
    for attempt in (lambda: auth.authenticate_access(access), lambda: auth.refresh(refresh)):
        with pytest.raises(AuthError, match="no longer exists") as info:
            attempt()
        assert info.value.code == "invalid_token"


def test_a_disabled_user_is_refused_everywhere(auth: AuthService, admin: Principal) -> None:
    auth.create_user("erin", PASSWORD, Role.TRADER, admin)
    pair = auth.login("erin", PASSWORD)
    _, key = auth.create_api_key("erin", "bot", admin)
    auth.set_disabled("erin", True, admin)
    for attempt in (
        lambda: auth.login("erin", PASSWORD),
        lambda: auth.authenticate_access(pair.access_token),
        lambda: auth.authenticate_api_key(key),
    ):
        with pytest.raises(AuthError, match="'erin' is disabled") as info:
            attempt()
        assert info.value.code == "disabled"
    with pytest.raises(AuthError) as info:  # disabling revoked the refresh tokens
        auth.refresh(pair.refresh_token)
    assert info.value.code in {"disabled", "revoked"}
    auth.set_disabled("erin", False, admin)
    assert auth.authenticate_access(pair.access_token).username == "erin"


def test_an_outdated_hash_is_replaced_at_login(
    store: InMemoryUserStore, codec: JwtTokenCodec, clock: FixedClock
) -> None:
    old = AuthService(store, cheap_hasher(), codec, clock)
    old.ensure_admin(PASSWORD)
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    AuthService(store, stronger, codec, clock).login("admin", PASSWORD)
    admin = store.by_username("admin")
    assert admin is not None
    assert not stronger.needs_rehash(admin.password_hash)
    assert stronger.verify(admin.password_hash, PASSWORD)


# -- roles and permissions ---------------------------------------------------------------------

ALLOWED = {
    Role.VIEWER: {Permission.READ},
    Role.TRADER: {Permission.READ, Permission.TRADE, Permission.MANAGE_BOTS},
    Role.ADMIN: set(Permission),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_permission_table(
    auth: AuthService, admin: Principal, role: Role, permission: Permission
) -> None:
    principal = admin if role is Role.ADMIN else make_user(auth, admin, "someone", role)
    assert principal.can(permission) is (permission in ALLOWED[role])
    if permission in ALLOWED[role]:
        auth.require(principal, permission)
        return
    with pytest.raises(PermissionDenied) as info:
        auth.require(principal, permission)
    assert info.value.code == "forbidden"
    assert info.value.permission is permission
    assert f"'{permission.value}'" in info.value.message
    assert f"has the role '{role.value}'" in info.value.message
    assert f"needs the role '{REQUIRED_ROLE[permission].value}'" in info.value.message


def test_roles_are_ordered() -> None:
    assert [r.rank for r in (Role.VIEWER, Role.TRADER, Role.ADMIN)] == [0, 1, 2]


def test_only_admins_manage_users(auth: AuthService, admin: Principal) -> None:
    trader = make_user(auth, admin, "trent", Role.TRADER)
    with pytest.raises(PermissionDenied, match="manage_users"):
        auth.create_user("mallory", PASSWORD, Role.ADMIN, trader)
    with pytest.raises(PermissionDenied):
        auth.set_role("trent", Role.ADMIN, trader)
    with pytest.raises(PermissionDenied):
        auth.users(trader)
    assert [u.username for u in auth.users(admin)] == ["admin", "trent"]
    assert auth.create_user("ops", PASSWORD, Role.VIEWER, None).role is Role.VIEWER  # the CLI


def test_a_role_change_applies_at_once(auth: AuthService, admin: Principal) -> None:
    make_user(auth, admin, "tina", Role.TRADER)
    token = auth.login("tina", PASSWORD).access_token
    auth.set_role("tina", Role.VIEWER, admin)
    assert auth.authenticate_access(token).role is Role.VIEWER


def test_the_last_admin_stays(auth: AuthService, admin: Principal) -> None:
    with pytest.raises(ValueError, match="another active admin"):
        auth.set_role("admin", Role.TRADER, admin)
    with pytest.raises(ValueError, match="another active admin"):
        auth.set_disabled("admin", True, admin)
    auth.create_user("root2", PASSWORD, Role.ADMIN, admin)
    assert auth.set_role("admin", Role.TRADER, admin).role is Role.TRADER


def test_changing_a_password(auth: AuthService, admin: Principal) -> None:
    me = make_user(auth, admin, "frank", Role.TRADER)
    pair = auth.login("frank", PASSWORD)
    with pytest.raises(AuthError, match="current password") as info:
        auth.change_password("frank", OTHER, me, current_password="wrong password!")
    assert_no_secret(info.value, "wrong password!", OTHER)
    auth.change_password("frank", OTHER, me, current_password=PASSWORD)
    with pytest.raises(AuthError, match="revoked"):  # every session signed out
        auth.refresh(pair.refresh_token)
    with pytest.raises(AuthError, match="bad_credentials"):
        auth.login("frank", PASSWORD)
    auth.login("frank", OTHER)
    auth.change_password("frank", PASSWORD, admin)  # an admin resets it
    auth.login("frank", PASSWORD)
    other = make_user(auth, admin, "grace", Role.TRADER)
    with pytest.raises(PermissionDenied):
        auth.change_password("frank", OTHER, other, current_password=PASSWORD)


# -- API keys ----------------------------------------------------------------------------------


def test_api_key_create_authenticate_revoke(
    auth: AuthService, admin: Principal, clock: FixedClock
) -> None:
    trader = make_user(auth, admin, "heidi", Role.TRADER)
    key, plaintext = auth.create_api_key("heidi", "  backtest runner ", trader)
    prefix, key_id, secret = plaintext.split("_", 2)
    assert (prefix, key_id) == ("ak", key.id)
    assert len(secret) >= 32
    assert (key.name, key.last4, key.user_id, key.active) == (
        "backtest runner",
        secret[-4:],
        trader.user_id,
        True,
    )
    assert plaintext not in key.key_hash
    principal = auth.authenticate_api_key(plaintext)
    assert principal == Principal(trader.user_id, "heidi", Role.TRADER, "api_key", key.id)
    assert auth.authenticate(plaintext) == principal
    assert auth.api_keys("heidi", trader) == [key]

    clock.advance(timedelta(days=400))  # keys do not expire
    auth.authenticate_api_key(plaintext)
    auth.revoke_api_key(key.id, trader)
    with pytest.raises(AuthError, match="was revoked") as info:
        auth.authenticate_api_key(plaintext)
    assert info.value.code == "revoked"
    assert_no_secret(info.value, plaintext, secret)
    auth.revoke_api_key(key.id, trader)  # again: a no-op
    with pytest.raises(ApiKeyNotFoundError):
        auth.revoke_api_key("abcdef123456", trader)


@pytest.mark.parametrize(
    ("make_bad", "code"),
    [
        pytest.param(lambda k: k[:-1] + ("a" if k[-1] != "a" else "b"), "bad_credentials",
                     id="wrong-secret"),
        pytest.param(lambda k: "ak_ffffffffffff_" + k.split("_", 2)[2], "bad_credentials",
                     id="unknown-id"),
        pytest.param(lambda k: k.replace("ak_", "xk_", 1), "invalid_token", id="wrong-prefix"),
        pytest.param(lambda k: k[:20], "invalid_token", id="short-secret"),
        pytest.param(lambda k: "", "invalid_token", id="empty"),
    ],
)  # fmt: skip
def test_a_bad_api_key_is_refused(
    auth: AuthService, admin: Principal, make_bad: Callable[[str], str], code: str
) -> None:
    _, plaintext = auth.create_api_key("admin", "ops", admin)
    bad = make_bad(plaintext)
    with pytest.raises(AuthError) as info:
        auth.authenticate_api_key(bad)
    assert info.value.code == code
    assert_no_secret(info.value, plaintext.split("_", 2)[2], *([bad] if bad else []))


def test_who_manages_which_keys(auth: AuthService, admin: Principal) -> None:
    ivan = make_user(auth, admin, "ivan", Role.TRADER)
    judy = make_user(auth, admin, "judy", Role.VIEWER)
    key, plaintext = auth.create_api_key("ivan", "bot", ivan)
    via_key = auth.authenticate_api_key(plaintext)
    with pytest.raises(PermissionDenied):  # not another's key
        auth.create_api_key("ivan", "sneaky", judy)
    with pytest.raises(PermissionDenied):
        auth.revoke_api_key(key.id, judy)
    with pytest.raises(PermissionDenied):
        auth.api_keys("ivan", judy)
    with pytest.raises(PermissionDenied, match="sign in with a password"):  # a key mints no key
        auth.create_api_key("ivan", "more", via_key)
    viewer_key, _ = auth.create_api_key("judy", "dashboard", judy)  # anyone makes their own
    assert viewer_key.user_id == judy.user_id
    auth.revoke_api_key(viewer_key.id, admin)  # an admin revokes anyone's
    auth.revoke_api_key(key.id, via_key)  # a key may revoke itself
    assert not auth.api_keys("ivan", admin)[0].active
    with pytest.raises(ValueError, match="API key name of 1 to 100 characters, found 0"):
        auth.create_api_key("judy", "   ", judy)


def test_no_secret_in_any_auth_error(
    auth: AuthService, admin: Principal, clock: FixedClock
) -> None:
    _, key = auth.create_api_key("admin", "ops", admin)
    pair = auth.login("admin", PASSWORD)
    attempts: list[Callable[[], object]] = [
        lambda: auth.login("admin", PASSWORD + "x"),
        lambda: auth.refresh(pair.access_token),
        lambda: auth.authenticate_access(pair.refresh_token),
        lambda: auth.authenticate_access(pair.access_token[:-3]),
        lambda: auth.authenticate_api_key(key[:-2] + "zz"),
    ]
    clock.advance(timedelta(days=8))
    attempts.append(lambda: auth.refresh(pair.refresh_token))
    for attempt in attempts:
        with pytest.raises(AuthError) as info:
            attempt()
        assert_no_secret(
            info.value,
            PASSWORD,
            pair.access_token,
            pair.refresh_token,
            key,
            key.split("_", 2)[2],
        )


def test_signing_key_must_be_long_enough() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes, found 5 bytes"):
        JwtTokenCodec(b"short")


def test_user_is_a_frozen_value() -> None:
    with pytest.raises(ValueError, match="lower-cased username"):
        User("u1", "Alice", Role.VIEWER, "h", FixedClock().now())


def test_a_credential_that_passed_is_believed_until_a_change_through_the_service(
    auth: AuthService, admin: Principal
) -> None:
    auth.create_user("erin", PASSWORD, Role.TRADER, admin)
    token = auth.login("erin", PASSWORD).access_token
    key_row, key = auth.create_api_key("erin", "bot", admin)
    assert auth.recently_authenticated(token) is None  # not checked yet
    assert auth.authenticate(token).role is Role.TRADER
    assert auth.authenticate(key).via == "api_key"
    assert auth.recently_authenticated(token) == auth.authenticate(token)
    auth.set_role("erin", Role.VIEWER, admin)
    assert auth.recently_authenticated(token) is None
    assert auth.authenticate(token).role is Role.VIEWER  # at once, not a second later
    auth.revoke_api_key(key_row.id, admin)
    with pytest.raises(AuthError, match="revoked"):
        auth.authenticate(key)
    auth.authenticate(token)
    auth.set_disabled("erin", True, admin)
    with pytest.raises(AuthError, match="'erin' is disabled"):
        auth.authenticate(token)


def test_a_change_made_around_the_service_applies_within_a_second(
    auth: AuthService, admin: Principal, store: InMemoryUserStore, clock: FixedClock
) -> None:
    principal = make_user(auth, admin, "erin", Role.TRADER)
    token = auth.login("erin", PASSWORD).access_token
    auth.authenticate(token)
    store.set_disabled(principal.user_id, True)  # another process, say, on the same database
    clock.advance(timedelta(milliseconds=999))
    assert auth.authenticate(token).username == "erin"
    clock.advance(timedelta(milliseconds=1))
    with pytest.raises(AuthError, match="'erin' is disabled"):
        auth.authenticate(token)


def test_a_token_is_never_believed_past_its_expiry_nor_a_failed_one_remembered(
    auth: AuthService, admin: Principal, clock: FixedClock
) -> None:
    token = auth.login("admin", PASSWORD).access_token
    clock.advance(timedelta(minutes=15) - timedelta(milliseconds=500))
    assert auth.authenticate(token).username == "admin"
    clock.advance(timedelta(milliseconds=500))  # its exp, within the second believed
    with pytest.raises(AuthError, match="expired"):
        auth.authenticate(token)
    assert auth.recently_authenticated(token) is None


def test_a_check_that_read_storage_before_a_change_is_not_remembered(
    codec: JwtTokenCodec, clock: FixedClock
) -> None:
    class DisabledWhileRead(InMemoryUserStore):
        """Another thread disables the user through the service just after this read."""

        def __init__(self) -> None:
            super().__init__()
            self.then: Callable[[], object] | None = None

        def get(self, user_id: str) -> User | None:
            found = super().get(user_id)
            then, self.then = self.then, None
            if then is not None:
                then()
            return found

    store = DisabledWhileRead()
    auth = AuthService(store, cheap_hasher(), codec, clock)
    auth.ensure_admin(PASSWORD)
    admin = auth.authenticate_access(auth.login("admin", PASSWORD).access_token)
    auth.create_user("erin", PASSWORD, Role.TRADER, admin)
    token = auth.login("erin", PASSWORD).access_token
    store.then = lambda: auth.set_disabled("erin", True, admin)
    assert auth.authenticate(token).username == "erin"  # read before the change
    with pytest.raises(AuthError, match="'erin' is disabled"):
        auth.authenticate(token)
