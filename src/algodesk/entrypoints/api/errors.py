"""The JSON of every refusal the desk answers: ``{"ok": false, "reason": code, "message":
text}``, plus what a refusal adds (the problems of a malformed request). Made here only, so
that every client reads one shape. (Explaining an alert answers in its own documented shape.)"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import HTTPException
from fastapi.responses import JSONResponse

__all__ = ["refusal", "refusal_body", "refused"]


def refusal_body(reason: str, message: str, **more: object) -> dict[str, object]:
    """A refusal's body: ``reason`` is a stable code for programs, ``message`` for people."""
    return {"ok": False, "reason": reason, "message": message, **more}


def refusal(
    status: int,
    reason: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **more: object,
) -> JSONResponse:
    """A refusal answered with ``status`` (and ``headers``)."""
    return JSONResponse(refusal_body(reason, message, **more), status_code=status, headers=headers)


def refused(reason: str, message: str, status: int = 422) -> HTTPException:
    """The exception a route raises to refuse a request: answered as :func:`refusal` by
    the app's handler."""
    return HTTPException(status, {"reason": reason, "message": message})
