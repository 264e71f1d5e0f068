"""``/api/v1/stream``: a WebSocket of desk events (orders, fills, alerts, risk, market).

Authenticate with ``?token=`` (an access token or API key: browsers cannot set headers on a
WebSocket) or an ``Authorization: Bearer`` header; choose topics with ``?topics=fills,alerts``.
A client that falls more than 1,000 messages behind is closed (code 1013): the engine never
waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.users import Permission
from algodesk.entrypoints.api import pools
from algodesk.services.auth import AuthError, AuthService, PermissionDenied
from algodesk.services.stream import TOPICS

__all__ = ["MAX_BEHIND", "stream_router"]

MAX_BEHIND = 1000


async def _allowed(runtime: DeskRuntime, ws: WebSocket, token: str | None) -> bool:
    credential = token
    header = ws.headers.get("authorization", "")
    if credential is None and header.lower().startswith("bearer "):
        credential = header[7:].strip()
    try:
        if not credential:
            return False
        who = runtime.auth.recently_authenticated(credential)
        if who is None:  # read from storage off the event loop
            who = await pools.authenticating(runtime.auth.authenticate, credential)
        AuthService.require(who, Permission.READ)
    except (AuthError, PermissionDenied):
        return False
    return True


async def _pump(
    ws: WebSocket,
    queue: asyncio.Queue[dict[str, Any] | None],
    reader: asyncio.Task[None],
    behind: list[int],
) -> None:
    """Send queued messages until the client leaves or is cut loose (None)."""
    while not reader.done():
        getter = asyncio.create_task(queue.get())
        done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
        if getter not in done:
            getter.cancel()
            return
        message = getter.result()
        if message is None:
            await ws.close(code=1013, reason="too slow: more than 1000 messages behind")
            return
        behind[0] -= 1
        await ws.send_json(message)


def stream_router(runtime: DeskRuntime) -> APIRouter:
    router = APIRouter()

    @router.websocket("/api/v1/stream")
    async def stream(ws: WebSocket, token: str | None = None, topics: str | None = None) -> None:
        if not await _allowed(runtime, ws, token):
            await ws.close(code=1008, reason="unauthenticated")
            return
        wanted = frozenset(t.strip() for t in (topics or "").split(",") if t.strip())
        if wanted - TOPICS:
            await ws.close(code=1008, reason=f"unknown topics; expected some of {sorted(TOPICS)}")
            return
        await ws.accept()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        behind = [0]

        def deliver(message: dict[str, Any] | None) -> bool:
            if message is not None:
                if behind[0] >= MAX_BEHIND:
                    return False
                behind[0] += 1
            loop.call_soon_threadsafe(queue.put_nowait, message)
            return True

        sub = runtime.hub.subscribe(wanted, deliver)

        async def watch_client() -> None:
            with contextlib.suppress(WebSocketDisconnect):
                while True:
                    await ws.receive_text()

        reader = asyncio.create_task(watch_client())
        try:
            await ws.send_json(
                {"topic": "stream", "type": "Hello", "data": {"topics": sorted(sub.topics)}}
            )
            await _pump(ws, queue, reader, behind)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            runtime.hub.unsubscribe(sub)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await reader

    return router
