"""A fake exchange for feed tests: a deterministic bar tape, a WebSocket server streaming it,
a REST-like ``fetch`` reading it, and the codec that speaks the server's protocol.

:class:`SimulatedExchange` maps real (monotonic) time to 1-minute bars: bar ``i`` covers
``[start + i·1m, start + (i+1)·1m)`` and *closes*, in real time, ``(i+1)·bar_seconds`` after
the exchange was created. Its prices follow a path derived from a hash of the instrument and
the index, so every run, every connection and the polling fetch see the very same bars.

:class:`FeedServer` serves it on ``ws://127.0.0.1:<free port>``. The protocol, JSON text
frames (client request → server answer):

* ``{"op": "subscribe", "instruments": ["AAPL.NASDAQ"]}`` →
  ``{"type": "subscribed", "instruments": ["AAPL.NASDAQ"]}``
* ``{"op": "unsubscribe", "instruments": [...]}`` → ``{"type": "unsubscribed", ...}``
* ``{"op": "ping"}`` → ``{"type": "pong"}``
* anything else → ``{"type": "error", "reason": "..."}``

and, for each subscribed instrument, every bar closing after the subscription::

    {"type": "bar", "instrument": "AAPL.NASDAQ", "ts": "2026-01-05T09:16:00+00:00",
     "o": "100.00", "h": "100.20", "l": "99.90", "c": "100.10", "v": "512"}

Prices and volumes are strings, so no float touches them. There is no history on subscribe:
bars that closed while a client was away are only available from :meth:`SimulatedExchange.fetch`.

Faults, for tests: :meth:`FeedServer.drop_connections` (abort every socket, no close frame),
:meth:`FeedServer.stall` / :meth:`FeedServer.resume` (keep sockets open and say nothing: no
bars, no acks, no pongs), :meth:`FeedServer.send_garbage`, and :meth:`FeedServer.refuse`
(answer handshakes with HTTP 503 for a while, then accept again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from http import HTTPStatus
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching.observations import Bar
from algodesk.domain.values import to_decimal
from algodesk.ports.market_data import MarketEvent

__all__ = [
    "ConnectionRecord",
    "FeedServer",
    "FeedServerCodec",
    "Garbage",
    "SimulatedExchange",
    "encode_bar",
]

_MINUTE = timedelta(minutes=1)
_CENT = Decimal("0.01")


class SimulatedExchange:
    """A deterministic tape of 1-minute bars whose closes are paced in real time."""

    def __init__(
        self,
        instruments: Iterable[InstrumentId],
        *,
        start: datetime,
        bar_seconds: float = 0.02,
        window: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if bar_seconds <= 0:
            raise ValueError(f"SimulatedExchange: expected bar_seconds > 0, was {bar_seconds}")
        self.instruments = tuple(instruments)
        self.start = start
        self.bar_seconds = bar_seconds
        self.window = window
        self._clock = clock
        self._origin = clock()
        self._closes: dict[InstrumentId, list[int]] = {}  # close prices in cents, by index
        self.fetches = 0

    def closed_count(self) -> int:
        """How many bars have closed so far (bars ``0 … n-1``)."""
        return max(0, math.floor((self._clock() - self._origin) / self.bar_seconds))

    def close_time(self, index: int) -> float:
        """The clock reading at which bar ``index`` closes."""
        return self._origin + (index + 1) * self.bar_seconds

    def index_of(self, ts_close: datetime) -> int:
        """The index of the bar closing at ``ts_close``."""
        return (ts_close - self.start) // _MINUTE - 1

    def bar(self, instrument_id: InstrumentId, index: int) -> Bar:
        """Bar ``index`` of the instrument: always the same one."""
        close = self._close_cents(instrument_id, index)
        open_ = self._close_cents(instrument_id, index - 1)
        noise = _digest(instrument_id, index)
        high = max(open_, close) + noise[2] % 10
        low = max(1, min(open_, close) - noise[3] % 10)
        return Bar(
            instrument_id=instrument_id,
            ts_close=self.start + (index + 1) * _MINUTE,
            open=Decimal(open_) * _CENT,
            high=Decimal(high) * _CENT,
            low=Decimal(low) * _CENT,
            close=Decimal(close) * _CENT,
            volume=Decimal(100 + int.from_bytes(noise[4:6], "big") % 1000),
        )

    async def fetch(self, instruments: Sequence[InstrumentId]) -> list[Bar]:
        """The REST side: the last ``window`` closed bars of each known instrument."""
        self.fetches += 1
        end = self.closed_count()
        begin = max(0, end - self.window)
        return [
            self.bar(i, n) for i in instruments if i in self.instruments for n in range(begin, end)
        ]

    def _close_cents(self, instrument_id: InstrumentId, index: int) -> int:
        closes = self._closes.setdefault(instrument_id, [])
        while len(closes) <= index:
            n = len(closes)
            previous = closes[-1] if closes else 10_000 + _digest(instrument_id, -1)[0] * 10
            step = _digest(instrument_id, n)[0] % 51 - 25
            candidate = previous + step
            closes.append(candidate if candidate >= 100 else 200 - candidate)  # stay positive
        if index < 0:
            return 10_000 + _digest(instrument_id, -1)[0] * 10
        return closes[index]


def _digest(instrument_id: InstrumentId, index: int) -> bytes:
    return hashlib.sha256(f"{instrument_id.value}|{index}".encode()).digest()


class Garbage(StrEnum):
    """What :meth:`FeedServer.send_garbage` can send."""

    NOT_JSON = "NOT_JSON"
    WRONG_SHAPE = "WRONG_SHAPE"
    HIGH_BELOW_LOW = "HIGH_BELOW_LOW"


@dataclass
class ConnectionRecord:
    """What the server saw of one accepted connection."""

    subscribe_requests: list[tuple[InstrumentId, ...]] = field(default_factory=list)
    subscribed: dict[InstrumentId, None] = field(default_factory=dict)
    bars_sent: int = 0
    closed: bool = False


class FeedServer:
    """The fake exchange's WebSocket endpoint; ``async with FeedServer(exchange) as server``."""

    def __init__(self, exchange: SimulatedExchange) -> None:
        self.exchange = exchange
        self.connections: list[ConnectionRecord] = []
        self.refused = 0
        self._open: dict[ServerConnection, ConnectionRecord] = {}
        self._stalled = False
        self._refuse_until: float | None = None
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FeedServer: expected a started server (use `async with`)")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"ws://{host}:{port}"

    async def __aenter__(self) -> FeedServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._admit,
            ping_interval=None,
            close_timeout=0.2,
        )
        self._ticker = asyncio.create_task(self._stream_bars(), name="feed-server-bars")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.wait({self._ticker})
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- faults --------------------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Abort every open connection (no close frame); how many there were."""
        connections = list(self._open)
        for connection in connections:
            connection.transport.abort()
        return len(connections)

    def stall(self) -> None:
        """Keep connections open but send nothing (no bars, acks or pongs) until resumed."""
        self._stalled = True

    def resume(self) -> None:
        self._stalled = False

    def refuse(self, seconds: float | None = None) -> None:
        """Answer new handshakes with 503 for ``seconds`` (``None``: until :meth:`accept`)."""
        self._refuse_until = math.inf if seconds is None else time.monotonic() + seconds

    def accept(self) -> None:
        self._refuse_until = None

    async def send_garbage(self, *kinds: Garbage) -> None:
        """Send each kind (all of them by default) to every open connection."""
        for kind in kinds or tuple(Garbage):
            for connection in list(self._open):
                await _send(connection, _garbage(kind, self.exchange))

    # -- serving -------------------------------------------------------------------------------

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        if self._refuse_until is not None and time.monotonic() < self._refuse_until:
            self.refused += 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "refusing connections\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        record = ConnectionRecord()
        self.connections.append(record)
        self._open[connection] = record
        try:
            async for message in connection:
                reply = self._answer(record, message)
                if reply is not None and not self._stalled:
                    await connection.send(reply)
        except ConnectionClosed:
            pass
        finally:
            record.closed = True
            self._open.pop(connection, None)

    def _answer(self, record: ConnectionRecord, message: str | bytes) -> str | None:
        try:
            request = json.loads(message)
            op = request["op"]
            if op == "ping":
                return json.dumps({"type": "pong"})
            names = request["instruments"]
            instruments = tuple(InstrumentId(str(name)) for name in names)
        except (ValueError, KeyError, TypeError) as exc:
            return json.dumps({"type": "error", "reason": f"unreadable request: {exc}"})
        if op == "subscribe":
            record.subscribe_requests.append(instruments)
            record.subscribed.update(dict.fromkeys(instruments))
        elif op == "unsubscribe":
            for instrument_id in instruments:
                record.subscribed.pop(instrument_id, None)
        else:
            return json.dumps({"type": "error", "reason": f"expected op subscribe, was {op!r}"})
        return json.dumps({"type": f"{op}d", "instruments": [i.value for i in instruments]})

    async def _stream_bars(self) -> None:
        index = self.exchange.closed_count()
        while True:
            delay = self.exchange.close_time(index) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._stalled:
                for connection, record in list(self._open.items()):
                    for instrument_id in list(record.subscribed):
                        bar = self.exchange.bar(instrument_id, index)
                        if await _send(connection, encode_bar(bar)):
                            record.bars_sent += 1
            index += 1


async def _send(connection: ServerConnection, message: str) -> bool:
    try:
        await connection.send(message)
    except ConnectionClosed:
        return False
    return True


def encode_bar(bar: Bar, **overrides: str) -> str:
    """A bar in the server's wire format (``overrides`` replace fields, for garbage)."""
    fields: dict[str, Any] = {
        "type": "bar",
        "instrument": bar.instrument_id.value,
        "ts": bar.ts_close.isoformat(),
        "o": str(bar.open),
        "h": str(bar.high),
        "l": str(bar.low),
        "c": str(bar.close),
        "v": str(bar.volume),
    }
    fields.update(overrides)
    return json.dumps(fields)


def _garbage(kind: Garbage, exchange: SimulatedExchange) -> str:
    if kind is Garbage.NOT_JSON:
        return "this is {not json"
    if kind is Garbage.WRONG_SHAPE:
        return json.dumps({"type": "bar", "instrument": 42, "price": 1.5})
    bar = exchange.bar(exchange.instruments[0], exchange.closed_count() + 1)
    return encode_bar(bar, h=str(bar.low - 1))


class FeedServerCodec:
    """The :class:`FeedServer` protocol, as a ``FeedCodec`` for the WebSocket feed."""

    def subscribe_message(self, instruments: Sequence[InstrumentId]) -> str:
        return json.dumps({"op": "subscribe", "instruments": [i.value for i in instruments]})

    def unsubscribe_message(self, instruments: Sequence[InstrumentId]) -> str:
        return json.dumps({"op": "unsubscribe", "instruments": [i.value for i in instruments]})

    def heartbeat_message(self) -> str:
        return json.dumps({"op": "ping"})

    def parse(self, message: str | bytes) -> list[MarketEvent]:
        try:
            data = json.loads(message)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected a JSON message, was not JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, was {type(data).__name__}")
        kind = data.get("type")
        if kind in ("subscribed", "unsubscribed", "pong"):
            return []
        if kind != "bar":
            raise ValueError(
                f"expected a message of type bar, subscribed, unsubscribed or pong, was {kind!r}"
            )
        return [_decode_bar(data)]


_BAR_FIELDS = ("instrument", "ts", "o", "h", "l", "c", "v")


def _decode_bar(data: dict[str, Any]) -> Bar:
    values = [data.get(name) for name in _BAR_FIELDS]
    wrong = [n for n, v in zip(_BAR_FIELDS, values, strict=True) if not isinstance(v, str)]
    if wrong:
        raise ValueError(f"expected bar fields {', '.join(wrong)} as strings, were {data!r}")
    instrument, ts, o, h, low, c, v = (str(value) for value in values)
    return Bar(
        instrument_id=InstrumentId(instrument),
        ts_close=datetime.fromisoformat(ts),
        open=to_decimal(o),
        high=to_decimal(h),
        low=to_decimal(low),
        close=to_decimal(c),
        volume=to_decimal(v),
    )
