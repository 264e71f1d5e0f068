"""Who is calling: a bearer access token (JWT) or an API key, checked on every request.

No ``from __future__ import annotations``: FastAPI reads the dependencies from the annotations
of the inner functions, which name local values.
"""

import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from algodesk.domain.users import Permission, Principal
from algodesk.entrypoints.api import pools
from algodesk.entrypoints.api.edge import RateLimiter
from algodesk.entrypoints.api.errors import refused
from algodesk.services.auth import AuthError, AuthService, PermissionDenied

__all__ = ["authenticated", "require"]

_bearer = HTTPBearer(auto_error=False, description="An access token or an API key (ak_…)")


def _unauthorized(reason: str, message: str) -> HTTPException:
    return refused(reason, message, 401, {"WWW-Authenticate": "Bearer"})


def authenticated(auth: AuthService) -> Callable[..., Awaitable[Principal]]:
    # On the event loop: a credential that passed a moment ago costs no thread; one that
    # must be read from storage is checked in the credential checks' own pool (see pools).
    async def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        credential = credentials.credentials if credentials is not None else None
        if credential is None:
            credential = request.headers.get("x-api-key")
        if not credential:
            raise _unauthorized("unauthenticated", "send Authorization: Bearer <token or key>")
        try:
            who = auth.recently_authenticated(credential)
            if who is None:
                who = await pools.authenticating(auth.authenticate, credential)
        except AuthError as exc:
            raise _unauthorized(exc.code, str(exc)) from None
        limiter: RateLimiter | None = getattr(request.app.state, "user_limiter", None)
        wait = limiter.take(who.user_id) if limiter is not None else 0.0
        if wait:
            raise refused(
                "rate_limited",
                f"too many requests by {who.username}",
                429,
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return who

    return principal


def require(auth: AuthService, permission: Permission) -> Callable[..., Awaitable[Principal]]:
    who = authenticated(auth)

    async def allowed(principal: Annotated[Principal, Depends(who)]) -> Principal:
        try:
            AuthService.require(principal, permission)
        except PermissionDenied as exc:
            raise refused("forbidden", str(exc), 403) from None
        return principal

    return allowed
