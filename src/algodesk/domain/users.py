"""Users of the REST API, their roles and what each role may do, and API keys for programs.

Roles are ordered: a viewer reads; a trader also trades (orders, bot lifecycle); an admin also
manages users and the desk's safety controls (kill switch, breaker resets, trading state). The
table :data:`REQUIRED_ROLE` names the least role each permission needs.

An API key reads ``ak_<id>_<secret>``: the id is public (it names the key in lists and logs), the
secret is high-entropy. Only the SHA-256 of the whole key is stored; a fast hash is enough for a
random secret of 32+ characters, and it keeps a lookup one indexed read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

__all__ = [
    "API_KEY_PREFIX",
    "REQUIRED_ROLE",
    "ApiKey",
    "Permission",
    "Principal",
    "Role",
    "User",
    "api_key_hash",
    "api_key_id",
    "api_key_matches",
    "format_api_key",
    "normalize_username",
]

API_KEY_PREFIX = "ak"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_KEY_ID = re.compile(r"^[a-z0-9]{6,32}$")
_KEY_SECRET = re.compile(r"^[A-Za-z0-9_\-]{32,128}$")


class Permission(StrEnum):
    READ = "read"
    TRADE = "trade"  # submit, modify and cancel orders; flatten
    MANAGE_BOTS = "manage_bots"  # create, start, pause and stop bots
    MANAGE_USERS = "manage_users"  # users, their roles and other users' API keys
    KILL_SWITCH = "kill_switch"
    RESET_BREAKERS = "reset_breakers"
    SET_TRADING_STATE = "set_trading_state"


class Role(StrEnum):
    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for a viewer, 1 for a trader, 2 for an admin: a role can all that a lower one can."""
        return _RANKS[self]

    def can(self, permission: Permission) -> bool:
        return self.rank >= REQUIRED_ROLE[permission].rank


_RANKS = {Role.VIEWER: 0, Role.TRADER: 1, Role.ADMIN: 2}

#: The least role that holds each permission.
REQUIRED_ROLE: dict[Permission, Role] = {
    Permission.READ: Role.VIEWER,
    Permission.TRADE: Role.TRADER,
    Permission.MANAGE_BOTS: Role.TRADER,
    Permission.MANAGE_USERS: Role.ADMIN,
    Permission.KILL_SWITCH: Role.ADMIN,
    Permission.RESET_BREAKERS: Role.ADMIN,
    Permission.SET_TRADING_STATE: Role.ADMIN,
}


def normalize_username(username: str) -> str:
    """The stored form of a username: stripped and lower-cased, so names are unique regardless
    of case. Raises ``ValueError`` unless it is 1-64 letters, digits, '_', '.' or '-'."""
    name = username.strip().lower() if isinstance(username, str) else ""
    if not _USERNAME.match(name):
        raise ValueError(
            "expected a username of 1-64 letters, digits, '_', '.' or '-' starting with a "
            f"letter or digit, was {username!r}"
        )
    return name


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str  # lower-cased (see normalize_username)
    role: Role
    password_hash: str = field(repr=False)
    created_at: datetime
    disabled: bool = False

    def __post_init__(self) -> None:
        if normalize_username(self.username) != self.username:
            raise ValueError(f"expected a lower-cased username, was {self.username!r}")
        if self.created_at.tzinfo is None:
            raise ValueError(f"expected a timezone-aware created_at, was {self.created_at!r}")


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str  # public: the <id> part of ak_<id>_<secret>
    user_id: str
    name: str
    key_hash: str = field(repr=False)  # SHA-256 (hex) of the whole key
    created_at: datetime
    last4: str  # the secret's last four characters, to tell keys apart in a list
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request: the user, their current role, and how they proved it."""

    user_id: str
    username: str
    role: Role
    via: Literal["jwt", "api_key"]
    key_id: str | None = None  # the API key's public id when via == "api_key"

    def can(self, permission: Permission) -> bool:
        return self.role.can(permission)


def format_api_key(key_id: str, secret: str) -> str:
    """``ak_<id>_<secret>``; the id is lower-case letters and digits, the secret URL-safe."""
    if not _KEY_ID.match(key_id):
        raise ValueError("expected an API key id of 6-32 lower-case letters or digits")
    if not _KEY_SECRET.match(secret):
        raise ValueError("expected an API key secret of 32-128 URL-safe characters")
    return f"{API_KEY_PREFIX}_{key_id}_{secret}"


def api_key_id(key: str) -> str | None:
    """The public id of a well-formed key, ``None`` for anything else."""
    if not isinstance(key, str):
        return None
    parts = key.split("_", 2)  # the secret may itself hold '_'
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    if not _KEY_ID.match(parts[1]) or not _KEY_SECRET.match(parts[2]):
        return None
    return parts[1]


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_matches(key: str, key_hash: str) -> bool:
    """Whether ``key`` hashes to ``key_hash``, compared in constant time."""
    return hmac.compare_digest(api_key_hash(key), key_hash)
