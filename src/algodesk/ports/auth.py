"""Ports of authentication: hashing passwords, and issuing and reading signed tokens.

The service never sees argon2 or JWT: it asks a :class:`PasswordHasher` and a
:class:`TokenCodec`. Time is always passed in (``now``), never read by the codec, so expiry
follows the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

from algodesk.domain.users import Role

__all__ = [
    "IssuedToken",
    "PasswordHasher",
    "TokenClaims",
    "TokenCodec",
    "TokenError",
    "TokenType",
]


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str  # the user id
    role: Role  # the role when issued (the service trusts the stored role, not this one)
    type: TokenType
    issued_at: datetime
    expires_at: datetime
    token_id: str  # unique per token (JWT ``jti``)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str = field(repr=False)
    claims: TokenClaims


class TokenError(Exception):
    """A token that cannot be accepted. ``code`` is ``expired`` or ``invalid_token``; the
    message never holds the token."""

    def __init__(self, code: Literal["expired", "invalid_token"], message: str) -> None:
        super().__init__(message)
        self.code: Literal["expired", "invalid_token"] = code
        self.message = message


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches; ``False`` for a mismatch or a malformed hash."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than the current ones."""
        ...


class TokenCodec(Protocol):
    @property
    def access_ttl(self) -> timedelta: ...

    @property
    def refresh_ttl(self) -> timedelta: ...

    def issue(self, subject: str, role: Role, kind: TokenType, now: datetime) -> IssuedToken:
        """A signed token of type ``kind`` for ``subject``, valid from ``now`` for the TTL of
        that type."""
        ...

    def decode(self, token: str, expected: TokenType, now: datetime) -> TokenClaims:
        """The claims of a token of the ``expected`` type that is valid at ``now``; raises
        :class:`TokenError` (``expired`` at or after its expiry, ``invalid_token`` for a bad
        signature, a malformed token, missing claims or another type)."""
        ...
