"""A minimal HTTP/1.1 client for load generators (``benchmarks/``): one keep-alive connection
on asyncio streams that writes a request and reads one answer, and little else, so that the
generator costs little CPU next to the server it measures on the same cores."""

from __future__ import annotations

import asyncio
import json
import math
import socket
from collections.abc import Awaitable, Sequence
from pathlib import Path

__all__ = ["RawConnection", "percentile", "run_to_file"]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank ``q``-th percentile (0-100) of sorted values (NaN when there are none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_to_file(main: Awaitable[object], out: str) -> None:
    """Run ``main`` on an event loop (uvloop's when installed, as the desk's own) and write what
    it returns to ``out`` as JSON: a load generator's process, whose parent reads the file."""
    try:
        import uvloop  # noqa: PLC0415 - optional, installed with uvicorn[standard]

        uvloop.install()
    except ImportError:  # pragma: no cover - plain asyncio works too
        pass

    async def run() -> object:
        return await main

    Path(out).write_text(json.dumps(asyncio.run(run())))


class RawConnection:
    """One keep-alive HTTP/1.1 connection: write a request, read one answer (a body with a
    ``Content-Length``; the server's ``Connection: close`` closes it, and the next request
    opens it again). ``source``: the local address to connect from (a loopback address of its
    own, to look like another client to per-address limits)."""

    def __init__(self, host: str, port: int, source: str | None = None) -> None:
        self.host, self.port, self.source = host, port, source
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        local = (self.source, 0) if self.source is not None else None
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, local_addr=local
        )
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Write ``data`` (a whole request) and return the answer's status and body."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        body = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, body
