"""The API's worker threads, in pools of their own.

Reads (the ``def`` endpoints) run in anyio's default pool, made small (:data:`READ_THREADS`):
under a crowd of readers a few threads answer more than forty, which only fight over the
interpreter lock and keep the event loop waiting for it. Commands (orders, cancels, flatten,
trading state, breakers, limits, bot changes and lifecycle, webhook token rotation, new users,
the kill switch) and the readiness probe's count run in a pool of their own; so do the
credential checks that must read storage, and sign-in in another, so no number of slow reads
(or failed sign-ins) can hold up a cancel or the kill switch, nor the sign-in or the credential
check of its caller. The webhook takes alerts in on threads of its own (:mod:`.intake_queue`);
``/health`` answers on the loop.

Each pool belongs to its event loop (an anyio ``RunVar``), made on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

__all__ = [
    "AUTH_THREADS",
    "COMMAND_THREADS",
    "READ_THREADS",
    "SIGN_IN_THREADS",
    "authenticating",
    "command",
    "signing_in",
    "size",
]

#: anyio's default pool, where FastAPI runs the ``def`` endpoints (the reads).
READ_THREADS = 4
COMMAND_THREADS = 8
AUTH_THREADS = 4
#: Sign-in and refresh (a password hash costs about 0.15 s): apart from the credential checks,
#: so failed sign-ins cannot hold up the check of a signed-in admin's token.
SIGN_IN_THREADS = 2

T = TypeVar("T")

_COMMANDS: RunVar[CapacityLimiter] = RunVar("algodesk_command_threads")
_AUTH: RunVar[CapacityLimiter] = RunVar("algodesk_auth_threads")
_SIGN_IN: RunVar[CapacityLimiter] = RunVar("algodesk_sign_in_threads")


def _pool(var: RunVar[CapacityLimiter], threads: int) -> CapacityLimiter:
    try:
        return var.get()
    except LookupError:
        limiter = CapacityLimiter(threads)
        var.set(limiter)
        return limiter


def size() -> None:
    """Size the current event loop's default pool for the reads (call it in the loop)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = READ_THREADS


async def _run(
    var: RunVar[CapacityLimiter], threads: int, fn: Callable[..., T], *args: object
) -> T:
    call = functools.partial(fn, *args)
    return await anyio.to_thread.run_sync(call, limiter=_pool(var, threads))


async def command(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in the commands' pool."""
    return await _run(_COMMANDS, COMMAND_THREADS, fn, *args)


async def authenticating(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in the pool of credential checks that read storage."""
    return await _run(_AUTH, AUTH_THREADS, fn, *args)


async def signing_in(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in the sign-in pool."""
    return await _run(_SIGN_IN, SIGN_IN_THREADS, fn, *args)
