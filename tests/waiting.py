"""Waiting in a test for something another task or thread does."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest


async def until(condition: Callable[[], bool], what: str = "", timeout: float = 5.0) -> None:
    """Poll ``condition`` on the event loop until it holds; the test fails (rather than hang)
    when it does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"expected {what or 'the condition'} within {timeout} s; it did not happen")
        await anyio.sleep(0.005)


def waited(condition: Callable[[], bool], what: str = "", timeout: float = 5.0) -> None:
    """:func:`until` for a test on a thread of its own (no event loop): block until
    ``condition`` holds, or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"expected {what or 'the condition'} within {timeout} s; it did not happen")
        time.sleep(0.005)
