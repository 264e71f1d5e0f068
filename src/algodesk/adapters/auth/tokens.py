"""Access and refresh tokens as JWTs (PyJWT, HS256), behind the ``TokenCodec`` port.

Claims: ``sub`` (user id), ``role``, ``typ`` (``access``/``refresh``), ``iat``, ``exp`` (whole
seconds since the epoch) and ``jti`` (a random id). PyJWT would check ``exp`` against the real
time; expiry here follows the injected clock instead, so PyJWT's own time checks are off and
:meth:`JwtTokenCodec.decode` compares ``exp`` with the ``now`` it is given, with no leeway.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from algodesk.domain.users import Role
from algodesk.ports.auth import IssuedToken, TokenClaims, TokenError, TokenType

__all__ = ["MIN_KEY_BYTES", "JwtTokenCodec"]

MIN_KEY_BYTES = 32  # HS256: a key shorter than the hash output weakens it
_ALGORITHM = "HS256"
_CLAIMS = ("sub", "role", "typ", "iat", "exp", "jti")


def _seconds(ttl: timedelta, what: str) -> int:
    seconds = ttl.total_seconds()
    if seconds <= 0 or seconds != int(seconds):
        raise ValueError(f"expected a positive whole number of seconds for {what}, was {ttl}")
    return int(seconds)


def _epoch(now: datetime) -> int:
    if now.tzinfo is None:
        raise ValueError(f"expected a timezone-aware time, was {now!r}")
    return int(now.timestamp())


def _invalid(reason: str) -> TokenError:
    return TokenError("invalid_token", reason)


class JwtTokenCodec:
    def __init__(
        self,
        key: bytes,
        *,
        access_ttl: timedelta = timedelta(minutes=15),
        refresh_ttl: timedelta = timedelta(days=7),
    ) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            found = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
            raise ValueError(
                f"expected a signing key of at least {MIN_KEY_BYTES} bytes, found {found}"
            )
        self._key = key
        self._ttl = {
            TokenType.ACCESS: _seconds(access_ttl, "the access token lifetime"),
            TokenType.REFRESH: _seconds(refresh_ttl, "the refresh token lifetime"),
        }

    @property
    def access_ttl(self) -> timedelta:
        return timedelta(seconds=self._ttl[TokenType.ACCESS])

    @property
    def refresh_ttl(self) -> timedelta:
        return timedelta(seconds=self._ttl[TokenType.REFRESH])

    def issue(self, subject: str, role: Role, kind: TokenType, now: datetime) -> IssuedToken:
        iat = _epoch(now)
        exp = iat + self._ttl[kind]
        jti = secrets.token_urlsafe(16)
        payload: dict[str, Any] = {
            "sub": subject,
            "role": role.value,
            "typ": kind.value,
            "iat": iat,
            "exp": exp,
            "jti": jti,
        }
        token = jwt.encode(payload, self._key, algorithm=_ALGORITHM)
        claims = TokenClaims(
            subject=subject,
            role=role,
            type=kind,
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(exp, UTC),
            token_id=jti,
        )
        return IssuedToken(token, claims)

    def decode(self, token: str, expected: TokenType, now: datetime) -> TokenClaims:
        payload = self._verified(token)
        sub, role, typ, iat, exp, jti = (payload[name] for name in _CLAIMS)
        if not (isinstance(sub, str) and sub and isinstance(jti, str) and jti):
            raise _invalid("expected 'sub' and 'jti' claims that are non-empty strings")
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in (iat, exp)):
            raise _invalid("expected 'iat' and 'exp' claims that are whole seconds")
        if role not in Role.__members__.values():
            raise _invalid(f"expected a 'role' claim of {', '.join(Role)}, found {role!r}")
        if typ != expected.value:
            raise _invalid(
                f"expected a token of type {expected.value!r}, found one of type {typ!r}"
            )
        expires_at = datetime.fromtimestamp(exp, UTC)
        if _epoch(now) >= exp:
            raise TokenError(
                "expired",
                f"the {expected.value} token expired at {expires_at.isoformat()}; "
                f"it is {now.astimezone(UTC).isoformat()}",
            )
        return TokenClaims(
            subject=sub,
            role=Role(role),
            type=expected,
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=expires_at,
            token_id=jti,
        )

    def _verified(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or not token:
            raise _invalid("expected a token, found none")
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                options={
                    "verify_signature": True,
                    "verify_exp": False,  # checked against the injected clock, below
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": list(_CLAIMS),
                },
            )
        except jwt.MissingRequiredClaimError as e:
            raise _invalid(
                f"expected the claims {', '.join(_CLAIMS)}; {e.claim!r} is missing"
            ) from None
        except jwt.InvalidTokenError:
            # PyJWT's message is dropped with the cause: nothing of the token may leak.
            raise _invalid(
                "expected a token signed by this desk with HS256, found one that is malformed, "
                "altered, or signed with another key"
            ) from None
