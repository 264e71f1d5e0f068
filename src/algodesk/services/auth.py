"""Authentication and authorization of the REST API.

People sign in with a username and password and get a short-lived access token and a refresh
token; a refresh token is single-use (each refresh hands out a new pair, and a replayed one
signs the user out everywhere). Programs use API keys. Every request is then checked against
the role's permissions with :meth:`AuthService.require`.

A credential that passed is believed for :data:`RECHECK` (1 s, never past a token's expiry)
before its user and key are read again; a change made through this service (role, disabled,
key revoked, password) applies at once, one made around it (the CLI or another process on the
same database) within that second. The ``role`` claim in a token is informational: the stored
role decides.

No password, token or key is ever put in an exception message or a log line.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from algodesk.domain.users import (
    API_KEY_PREFIX,
    REQUIRED_ROLE,
    ApiKey,
    Permission,
    Principal,
    Role,
    User,
    api_key_hash,
    api_key_id,
    api_key_matches,
    format_api_key,
    normalize_username,
)
from algodesk.ports.auth import PasswordHasher, TokenClaims, TokenCodec, TokenError, TokenType
from algodesk.ports.clock import Clock
from algodesk.ports.users import (
    ApiKeyNotFoundError,
    UsernameTakenError,
    UserNotFoundError,
    UserStore,
)

__all__ = [
    "ADMIN_USERNAME",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "AuthError",
    "AuthErrorCode",
    "AuthService",
    "PermissionDenied",
    "TokenPair",
    "check_password_policy",
]

_log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"

RECHECK = timedelta(seconds=1)
"""How long a credential that passed is believed without reading its user (and key) again:
a change made through this service (a user disabled, a role changed, a key revoked, a password
changed) takes effect at once; one made around it (another process on the same database)
within this time. A credential that failed is checked again every time."""

_RECENT_KEPT = 4096

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is an attack
_KEY_NAME_LENGTH = 100

AuthErrorCode = Literal["bad_credentials", "expired", "invalid_token", "revoked", "disabled"]


class AuthError(Exception):
    """A credential that is not accepted; ``code`` is stable, the message safe to show."""

    def __init__(self, code: AuthErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: AuthErrorCode = code
        self.message = message


class PermissionDenied(Exception):
    """An authenticated principal asked for something its role (or its means) does not allow."""

    code = "forbidden"

    def __init__(self, message: str, permission: Permission | None = None) -> None:
        super().__init__(f"forbidden: {message}")
        self.message = message
        self.permission = permission

    @classmethod
    def lacking(cls, principal: Principal, permission: Permission) -> PermissionDenied:
        needed = REQUIRED_ROLE[permission]
        return cls(
            f"the permission {permission.value!r} needs the role {needed.value!r} or higher; "
            f"{principal.username!r} has the role {principal.role.value!r}",
            permission,
        )


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret


def check_password_policy(password: str) -> None:
    """Raise ``ValueError`` unless the password has 12 to 1024 characters (the message gives
    the length found, never the password)."""
    if not isinstance(password, str):
        raise ValueError(f"expected a password as text, found {type(password).__name__}")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"expected a password of {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters, "
            f"found {len(password)}"
        )
    if not password.strip():
        raise ValueError("expected a password that is not only white space")


class AuthService:
    def __init__(
        self, users: UserStore, hasher: PasswordHasher, tokens: TokenCodec, clock: Clock
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock
        # Verified against when the user is unknown, so that costs as much as a wrong password.
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(18))
        # Credentials that passed lately, by their SHA-256 (the credential itself is not
        # kept): digest -> (believed until, its principal).
        self._recent: dict[bytes, tuple[datetime, Principal]] = {}
        self._recent_lock = threading.Lock()
        self._changes = 0  # changes through this service: a check that saw one is not kept

    # -- users -------------------------------------------------------------------------------

    def ensure_admin(self, password: str | None = None) -> str | None:
        """On first run (no users at all), create the user ``admin`` with ``password``, or with
        a generated one when ``password`` is ``None``; returns the admin's password, for the
        caller to show once if it was generated. Returns ``None`` when users exist already."""
        if self._users.count() > 0:
            return None
        if password is None:
            password = secrets.token_urlsafe(18)
        check_password_policy(password)
        try:
            self._new_user(ADMIN_USERNAME, password, Role.ADMIN)
        except UsernameTakenError:  # another process got there first
            return None
        _log.info("first run: created the user %r", ADMIN_USERNAME)
        return password

    def create_user(self, username: str, password: str, role: Role, by: Principal | None) -> User:
        """A new user; ``by`` (``None``: the operator at the command line) needs
        ``manage_users``. Raises ``ValueError`` for a bad username or password and
        :class:`UsernameTakenError` for a taken one."""
        self._require_admin(by)
        name = normalize_username(username)
        check_password_policy(password)
        user = self._new_user(name, password, Role(role))
        _log.info("user %s (%s) created by %s", user.id, user.role.value, _who(by))
        return user

    def users(self, by: Principal | None) -> list[User]:
        self._require_admin(by)
        return self._users.users()

    def change_password(
        self,
        username: str,
        new_password: str,
        by: Principal | None,
        current_password: str | None = None,
    ) -> None:
        """Set a new password and sign the user out of every session (refresh tokens).
        Changing one's own password takes the current one; an admin may reset another's."""
        user = self._target(username)
        if by is not None and by.user_id == user.id:
            self._require_signed_in(by)
            if current_password is None or not self._hasher.verify(
                user.password_hash, current_password
            ):
                raise AuthError("bad_credentials", "the current password does not match")
        else:
            self._require_admin(by)
        check_password_policy(new_password)
        self._users.set_password_hash(user.id, self._hasher.hash(new_password))
        self._users.revoke_refresh_tokens(user.id, self._clock.now())
        self._forget_recent()
        _log.info("password of user %s changed by %s", user.id, _who(by))

    def set_role(self, username: str, role: Role, by: Principal | None) -> User:
        self._require_admin(by)
        user = self._target(username)
        role = Role(role)
        if user.role is Role.ADMIN and role is not Role.ADMIN:
            self._keep_an_admin(user)
        self._users.set_role(user.id, role)
        self._forget_recent()
        _log.info("role of user %s set to %s by %s", user.id, role.value, _who(by))
        return self._target(username)

    def set_disabled(self, username: str, disabled: bool, by: Principal | None) -> User:
        """Disable (or enable again) a user: a disabled user's tokens and keys stop working at
        once, and its refresh tokens are revoked."""
        self._require_admin(by)
        user = self._target(username)
        if disabled and user.role is Role.ADMIN:
            self._keep_an_admin(user)
        self._users.set_disabled(user.id, disabled)
        self._forget_recent()
        if disabled:
            self._users.revoke_refresh_tokens(user.id, self._clock.now())
        _log.info("user %s %s by %s", user.id, "disabled" if disabled else "enabled", _who(by))
        return self._target(username)

    # -- sessions ----------------------------------------------------------------------------

    def login(self, username: str, password: str) -> TokenPair:
        user = self._by_username(username)
        if user is None:
            self._hasher.verify(self._dummy_hash, password)  # the same cost as a wrong password
            raise AuthError("bad_credentials", "the username or the password does not match")
        if not self._hasher.verify(user.password_hash, password):
            raise AuthError("bad_credentials", "the username or the password does not match")
        if user.disabled:
            raise AuthError("disabled", f"the user {user.username!r} is disabled")
        if self._hasher.needs_rehash(user.password_hash):
            self._users.set_password_hash(user.id, self._hasher.hash(password))
        return self._issue(user)

    def refresh(self, refresh_token: str) -> TokenPair:
        """A new token pair for a valid, unused refresh token, which is used up. A refresh token
        presented twice means it was copied: every session of its user is signed out."""
        now = self._clock.now()
        claims = self._decode(refresh_token, TokenType.REFRESH)
        user = self._active_user(claims.subject)
        if not self._users.use_refresh_token(claims.token_id, now):
            revoked = self._users.revoke_refresh_tokens(user.id, now)
            _log.warning(
                "refresh token of user %s used twice or after revocation; %d sessions revoked",
                user.id,
                revoked,
            )
            raise AuthError(
                "revoked",
                "this refresh token was used already or revoked; sign in again",
            )
        return self._issue(user)

    def sign_out(self, principal: Principal) -> int:
        """Revoke every refresh token of the principal's user; returns how many."""
        return self._users.revoke_refresh_tokens(principal.user_id, self._clock.now())

    def authenticate(self, credential: str) -> Principal:
        """An API key (``ak_…``) or an access token, as sent in an ``Authorization`` header.
        One that passed is believed for :data:`RECHECK` (never past a token's expiry) without
        reading storage again: see :meth:`recently_authenticated`."""
        known = self.recently_authenticated(credential)
        if known is not None:
            return known
        now, changes = self._clock.now(), self._changes
        if isinstance(credential, str) and credential.startswith(f"{API_KEY_PREFIX}_"):
            who, until = self.authenticate_api_key(credential), now + RECHECK
        else:
            claims = self._decode(credential, TokenType.ACCESS)
            who, until = self._access(claims), min(now + RECHECK, claims.expires_at)
        with self._recent_lock:
            if changes != self._changes:  # read before a change this service made since
                return who
            if len(self._recent) >= _RECENT_KEPT:
                self._recent.clear()
            self._recent[_digest(credential)] = (until, who)
        return who

    def recently_authenticated(self, credential: str) -> Principal | None:
        """The principal of ``credential`` if it passed :meth:`authenticate` within
        :data:`RECHECK` and nothing has changed through this service since; reads no
        storage (the API asks this on its event loop before a thread reads storage)."""
        digest = _digest(credential)
        found = self._recent.get(digest)
        if found is None:
            return None
        if found[0] <= self._clock.now():
            # (Had another thread just stored a fresh one, it is only read again next time.)
            self._recent.pop(digest, None)
            return None
        return found[1]

    def _forget_recent(self) -> None:
        """A user, role or key changed: every credential is checked against storage again."""
        with self._recent_lock:
            self._changes += 1
            self._recent.clear()

    def authenticate_access(self, token: str) -> Principal:
        return self._access(self._decode(token, TokenType.ACCESS))

    def _access(self, claims: TokenClaims) -> Principal:
        user = self._active_user(claims.subject)
        return Principal(user.id, user.username, user.role, via="jwt")

    # -- API keys ----------------------------------------------------------------------------

    def create_api_key(self, username: str, name: str, by: Principal | None) -> tuple[ApiKey, str]:
        """A new key for the user, with the user's role; returns it with the plaintext key,
        which is not stored and must be shown once. Users make their own keys (signed in
        with a password, not with another key); ``manage_users`` makes anyone's."""
        user = self._target(username)
        self._require_self_or_admin(by, user)
        label = name.strip() if isinstance(name, str) else ""
        if not 1 <= len(label) <= _KEY_NAME_LENGTH:
            raise ValueError(
                f"expected an API key name of 1 to {_KEY_NAME_LENGTH} characters, "
                f"found {len(label)}"
            )
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        plaintext = format_api_key(key_id, secret)
        key = ApiKey(
            id=key_id,
            user_id=user.id,
            name=label,
            key_hash=api_key_hash(plaintext),
            created_at=self._clock.now(),
            last4=secret[-4:],
        )
        self._users.add_api_key(key)
        _log.info("API key %s created for user %s by %s", key_id, user.id, _who(by))
        return key, plaintext

    def api_keys(self, username: str, by: Principal | None) -> list[ApiKey]:
        user = self._target(username)
        if by is not None and by.user_id != user.id:
            self.require(by, Permission.MANAGE_USERS)
        return self._users.api_keys_for(user.id)

    def authenticate_api_key(self, key: str) -> Principal:
        key_id = api_key_id(key)
        if key_id is None:
            raise AuthError("invalid_token", "expected an API key of the form ak_<id>_<secret>")
        stored = self._users.get_api_key(key_id)
        if stored is None or not api_key_matches(key, stored.key_hash):
            raise AuthError("bad_credentials", f"no API key matches (key id {key_id!r})")
        if not stored.active:
            raise AuthError("revoked", f"the API key {key_id!r} was revoked")
        user = self._active_user(stored.user_id)
        return Principal(user.id, user.username, user.role, via="api_key", key_id=key_id)

    def revoke_api_key(self, key_id: str, by: Principal | None) -> None:
        """Revoke a key (its owner or ``manage_users``); revoking a revoked key is a no-op.
        A key may revoke itself, not other keys."""
        key = self._users.get_api_key(key_id)
        if key is None:
            raise ApiKeyNotFoundError(key_id)
        user = self._users.get(key.user_id)
        if user is None:  # pragma: no cover - keys reference users
            raise UserNotFoundError(key.user_id)
        if by is None or by.via != "api_key" or by.key_id != key_id:
            self._require_self_or_admin(by, user)
        revoked = self._users.revoke_api_key(key_id, self._clock.now())
        self._forget_recent()
        if revoked:
            _log.info("API key %s revoked by %s", key_id, _who(by))

    # -- authorization -----------------------------------------------------------------------

    @staticmethod
    def require(principal: Principal, permission: Permission) -> None:
        """Raise :class:`PermissionDenied` unless the principal's role holds the permission."""
        if not principal.can(permission):
            raise PermissionDenied.lacking(principal, permission)

    # -- helpers -----------------------------------------------------------------------------

    def _new_user(self, username: str, password: str, role: Role) -> User:
        user = User(
            id=uuid.uuid4().hex,
            username=username,
            role=role,
            password_hash=self._hasher.hash(password),
            created_at=self._clock.now(),
        )
        self._users.add(user)
        return user

    def _issue(self, user: User) -> TokenPair:
        now = self._clock.now()
        access = self._tokens.issue(user.id, user.role, TokenType.ACCESS, now)
        refresh = self._tokens.issue(user.id, user.role, TokenType.REFRESH, now)
        self._users.add_refresh_token(refresh.claims.token_id, user.id, refresh.claims.expires_at)
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh.token,
            access_expires_at=access.claims.expires_at,
            refresh_expires_at=refresh.claims.expires_at,
        )

    def _decode(self, token: str, expected: TokenType) -> TokenClaims:
        try:
            return self._tokens.decode(token, expected, self._clock.now())
        except TokenError as e:
            raise AuthError(e.code, e.message) from None

    def _active_user(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise AuthError("invalid_token", "the credential's user no longer exists")
        if user.disabled:
            raise AuthError("disabled", f"the user {user.username!r} is disabled")
        return user

    def _by_username(self, username: str) -> User | None:
        try:
            return self._users.by_username(normalize_username(username))
        except ValueError:
            return None

    def _target(self, username: str) -> User:
        user = self._by_username(username)
        if user is None:
            raise UserNotFoundError(username)
        return user

    def _require_admin(self, by: Principal | None) -> None:
        if by is not None:
            self.require(by, Permission.MANAGE_USERS)

    @staticmethod
    def _require_signed_in(by: Principal) -> None:
        if by.via == "api_key":
            raise PermissionDenied(
                "an API key may not manage passwords or API keys; sign in with a password"
            )

    def _require_self_or_admin(self, by: Principal | None, user: User) -> None:
        if by is None:
            return
        self._require_signed_in(by)
        if by.user_id != user.id:
            self.require(by, Permission.MANAGE_USERS)

    def _keep_an_admin(self, user: User) -> None:
        others = [
            u
            for u in self._users.users()
            if u.role is Role.ADMIN and not u.disabled and u.id != user.id
        ]
        if not user.disabled and not others:
            raise ValueError(
                f"expected another active admin besides {user.username!r}, found none: "
                "the desk would have no admin left"
            )


def _who(by: Principal | None) -> str:
    return "the command line" if by is None else f"user {by.user_id}"


def _digest(credential: str) -> bytes:
    return hashlib.sha256(credential.encode("utf-8", "surrogatepass")).digest()
