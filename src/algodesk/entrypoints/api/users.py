"""``/api/v1/users``: an admin lists users and adds one with a role (viewer, trader, admin).

No ``from __future__ import annotations``: FastAPI reads the dependencies from the annotations
of the inner functions, which name local values.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.users import Permission, Principal, Role, User
from algodesk.entrypoints.api import pools
from algodesk.entrypoints.api.errors import refused
from algodesk.entrypoints.api.security import authenticated, require
from algodesk.ports.users import UsernameTakenError
from algodesk.services.queries import iso

__all__ = ["users_router"]

Json = dict[str, Any]


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Literal["viewer", "trader", "admin"]


def _user_json(user: User) -> Json:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role.value,
        "disabled": user.disabled,
        "created_at": iso(user.created_at),
    }


def users_router(runtime: DeskRuntime) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    admin = Annotated[Principal, Depends(require(runtime.auth, Permission.MANAGE_USERS))]
    anyone = Annotated[Principal, Depends(authenticated(runtime.auth))]

    @router.post("/auth/logout", tags=["auth"], responses={401: {}})
    def logout(who: anyone) -> Json:
        """End every session of the signed-in user: their refresh tokens stop working (access
        tokens run out within their 15 minutes)."""
        return {"ok": True, "revoked": runtime.auth.sign_out(who)}

    @router.get("/users", tags=["users"], responses={401: {}, 403: {}})
    def users(who: admin) -> Json:
        return {"users": [_user_json(u) for u in runtime.auth.users(who)]}

    @router.post(
        "/users", tags=["users"], status_code=201, responses={401: {}, 403: {}, 409: {}, 422: {}}
    )
    async def add_user(body: NewUser, who: admin) -> Json:
        """A new user; the password needs 12 to 1,024 characters."""
        try:
            user = await pools.command(
                runtime.auth.create_user, body.username, body.password, Role(body.role), who
            )
        except UsernameTakenError:
            raise refused("conflict", f"user {body.username!r} exists", 409) from None
        except ValueError as exc:
            raise refused("bad_value", str(exc)) from None
        return _user_json(user)

    return router
