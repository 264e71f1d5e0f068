"""The WebSocket feed: one reconnecting, heartbeating socket per feed, with a polling fallback.

A broker plugs in through a :class:`FeedCodec`, which knows the venue's wire format: the
subscribe, unsubscribe and heartbeat messages, and how to turn one incoming message into market
events (raising ``ValueError`` on anything it cannot read). :class:`WebSocketFeed` does the rest:

* **Connect and subscribe.** After every (re)connect the whole subscription is sent again: a
  venue forgets subscriptions with the connection.
* **Reconnect** on close, error, refused handshake or staleness, after an exponential, jittered
  :class:`Backoff` delay. The backoff is reset by the first *good message* of a connection, not
  by the open handshake, so a server that accepts and drops at once keeps the delays growing.
* **Heartbeat and staleness.** Every ``heartbeat_interval`` seconds the codec's heartbeat (or a
  WebSocket ping when the codec has none) is sent. Any incoming message counts as life; when
  none arrives for ``stale_after`` seconds the link is stale (a stalled server, a dead NAT
  mapping): it is closed and reconnected. Choose ``stale_after`` above the quietest gap the
  venue allows, or use a heartbeat the venue answers.
* **Garbage** (a message the codec refuses) is counted and logged, and the feed carries on.
* **Fallback.** While the socket is down the fallback (a :class:`~.polling.PollingFeed`) runs in
  a task of its own and the state is ``POLLING`` (``DOWN`` while the fallback fails too). On the
  first good message after a reconnect the fallback task is cancelled and the fallback polls
  *once more* before the socket's events are delivered: the socket only carries what happens
  after it subscribed, and that last poll covers what happened between the previous poll and the
  subscription. The state is then ``STREAMING`` again.
* **Guard.** Socket and fallback events go through one :class:`FeedGuard`, so the sink never sees
  a duplicate or an older event, whichever source delivered it first.

The URL is never logged: some venues put an access token in it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidURI, WebSocketException
from websockets.uri import parse_uri

from algodesk.adapters.feeds.backoff import Backoff
from algodesk.adapters.feeds.guard import FeedGuard, deliver
from algodesk.domain.identifiers import InstrumentId
from algodesk.ports.market_data import FeedState, MarketEvent, Sink

__all__ = ["Fallback", "FeedCodec", "WebSocketFeed", "WebSocketFeedCounters"]

log = logging.getLogger(__name__)

Message = str | bytes
_GARBAGE_LOG_FIRST = 10  # log the first few bad messages of a feed, then one in every thousand


class FeedCodec(Protocol):
    """A venue's wire format, for :class:`WebSocketFeed`."""

    def subscribe_message(self, instruments: Sequence[InstrumentId]) -> Message: ...

    def unsubscribe_message(self, instruments: Sequence[InstrumentId]) -> Message: ...

    def heartbeat_message(self) -> Message | None:
        """The application heartbeat, or ``None`` to send a WebSocket ping frame instead."""
        ...

    def parse(self, message: Message) -> list[MarketEvent]:
        """The events in one message (``[]`` for acks and pongs); ``ValueError`` if unreadable."""
        ...


class Fallback(Protocol):
    """A feed that can stand in for the socket: run in a task, and poll once on demand."""

    @property
    def state(self) -> FeedState: ...

    def subscribe(self, instruments: Iterable[InstrumentId]) -> None: ...

    def unsubscribe(self, instruments: Iterable[InstrumentId]) -> None: ...

    async def run(self, sink: Sink) -> None: ...

    async def poll_once(self, sink: Sink) -> bool: ...


@dataclass(frozen=True, slots=True)
class WebSocketFeedCounters:
    """What a :class:`WebSocketFeed` has been through, for metrics."""

    connects: int
    reconnects: int
    connect_failures: int
    garbage: int
    stale_drops: int
    guard_drops: int
    fallback_starts: int
    catch_up_failures: int


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # called outside the event loop
        return None


def _ignore_sink(event: MarketEvent) -> None:
    """The sink before :meth:`WebSocketFeed.run` gives one."""


class WebSocketFeed:
    """Streams market events from ``url`` decoded by ``codec``; see the module docstring."""

    def __init__(
        self,
        url: str,
        codec: FeedCodec,
        *,
        fallback: Fallback | None = None,
        heartbeat_interval: float = 15.0,
        stale_after: float = 30.0,
        open_timeout: float = 10.0,
        close_timeout: float = 2.0,
        backoff: Backoff | None = None,
        headers: Mapping[str, str] | None = None,
        proxy: str | Literal[True] | None = True,
        name: str = "websocket",
    ) -> None:
        try:
            parse_uri(url)
        except InvalidURI:
            raise ValueError(f"{name}: expected a ws:// or wss:// URL, was not one") from None
        for label, value in (
            ("heartbeat_interval", heartbeat_interval),
            ("stale_after", stale_after),
            ("open_timeout", open_timeout),
            ("close_timeout", close_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{name}: expected {label} > 0 seconds, was {value}")
        self._url = url
        self._codec = codec
        self._fallback = fallback
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self._open_timeout = open_timeout
        self._close_timeout = close_timeout
        self.backoff = backoff if backoff is not None else Backoff(base=0.5, cap=30.0)
        self._headers = dict(headers or {})
        self._proxy = proxy
        self.name = name
        self.guard = FeedGuard()
        self._subscribed: dict[InstrumentId, None] = {}  # insertion-ordered set
        self._sink: Sink = _ignore_sink
        self._ws: ClientConnection | None = None
        self._live = False  # the socket has delivered a good message since it (re)connected
        self._base_state = FeedState.STARTING
        self._fallback_task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[object] | None = None
        self._stop_requested = False
        self._connects = 0
        self._connect_failures = 0
        self._garbage = 0
        self._stale_drops = 0
        self._fallback_starts = 0
        self._catch_up_failures = 0

    # -- the Feed protocol ---------------------------------------------------------------------

    @property
    def state(self) -> FeedState:
        if self._live:
            return FeedState.STREAMING
        running = self._fallback_task is not None and not self._fallback_task.done()
        if self._fallback is not None and running:
            return FeedState.DOWN if self._fallback.state is FeedState.DOWN else FeedState.POLLING
        return self._base_state

    @property
    def instruments(self) -> list[InstrumentId]:
        """The subscribed instruments, in subscription order."""
        return list(self._subscribed)

    @property
    def counters(self) -> WebSocketFeedCounters:
        return WebSocketFeedCounters(
            connects=self._connects,
            reconnects=max(0, self._connects - 1),
            connect_failures=self._connect_failures,
            garbage=self._garbage,
            stale_drops=self._stale_drops,
            guard_drops=self.guard.dropped,
            fallback_starts=self._fallback_starts,
            catch_up_failures=self._catch_up_failures,
        )

    def subscribe(self, instruments: Iterable[InstrumentId]) -> None:
        """Add instruments; on a live socket they are subscribed at once (call on the loop)."""
        new = [i for i in dict.fromkeys(instruments) if i not in self._subscribed]
        if not new:
            return
        self._subscribed.update(dict.fromkeys(new))
        if self._fallback is not None:
            self._fallback.subscribe(new)
        self._send_soon(self._codec.subscribe_message(new))

    def unsubscribe(self, instruments: Iterable[InstrumentId]) -> None:
        gone = [i for i in dict.fromkeys(instruments) if i in self._subscribed]
        if not gone:
            return
        for instrument_id in gone:
            del self._subscribed[instrument_id]
        if self._fallback is not None:
            self._fallback.unsubscribe(gone)
        self._send_soon(self._codec.unsubscribe_message(gone))

    async def run(self, sink: Sink) -> None:
        """Connect, stream, reconnect, fall back and recover until :meth:`stop`."""
        task = _current_task()
        self._task = task
        self._sink = sink
        self._base_state = FeedState.STARTING
        try:
            while not self._stop_requested:
                await self._session()
                if self._stop_requested:
                    break
                self._link_down()
                await asyncio.sleep(self.backoff.next_delay())
        except asyncio.CancelledError:
            # Swallow only the cancellation stop() sent; one from anyone else goes on up.
            if not self._stop_requested or task is None or task.uncancel() > 0:
                raise
        finally:
            await self._stop_fallback()
            self._live = False
            self._ws = None
            self._task = None
            self._stop_requested = False
            self._sink = _ignore_sink
            self._base_state = FeedState.STOPPED

    def stop(self) -> None:
        """End :meth:`run` promptly (within ``close_timeout``). Before ``run`` starts, it makes
        the next ``run`` return at once."""
        if self._stop_requested:  # cancelling twice would leak a CancelledError out of run()
            return
        self._stop_requested = True
        if self._task is not None and self._task is not _current_task():
            self._task.cancel()

    # -- one connection ------------------------------------------------------------------------

    async def _session(self) -> None:
        opened = False
        try:
            async with connect(
                self._url,
                additional_headers=self._headers or None,
                proxy=self._proxy,
                open_timeout=self._open_timeout,
                close_timeout=self._close_timeout,
                ping_interval=None,  # heartbeats and staleness are ours, see _pump
            ) as ws:
                opened = True
                self._connects += 1
                self._ws = ws
                if self._subscribed:
                    async with asyncio.timeout(self.stale_after):
                        await ws.send(self._codec.subscribe_message(self.instruments))
                await self._pump(ws)
        except (OSError, TimeoutError, WebSocketException) as exc:
            if not opened:
                self._connect_failures += 1
            what = "lost the connection" if opened else "could not connect"
            log.warning("%s: %s: %s: %s", self.name, what, type(exc).__name__, exc)
        finally:
            self._ws = None
            self._live = False

    async def _pump(self, ws: ClientConnection) -> None:
        """Receive until the link closes (raises) or goes stale (returns)."""
        loop = asyncio.get_running_loop()
        last_message = loop.time()
        next_beat = last_message + self.heartbeat_interval
        while not self._stop_requested:
            now = loop.time()
            if now >= last_message + self.stale_after:
                self._stale_drops += 1
                log.warning(
                    "%s: no message for %.3gs; dropping the connection",
                    self.name,
                    now - last_message,
                )
                return
            if now >= next_beat:
                next_beat = now + self.heartbeat_interval
                try:  # a send into a dead link can block on a full buffer; staleness wins
                    async with asyncio.timeout_at(last_message + self.stale_after):
                        await self._heartbeat(ws)
                except TimeoutError:
                    continue
            try:
                async with asyncio.timeout_at(min(last_message + self.stale_after, next_beat)):
                    message = await ws.recv()
            except TimeoutError:
                continue
            await self._on_message(message)
            last_message = loop.time()  # after handling: a slow catch-up poll is not staleness

    async def _heartbeat(self, ws: ClientConnection) -> None:
        beat = self._codec.heartbeat_message()
        if beat is None:
            await ws.ping()  # the pong is not awaited: staleness is judged on messages
        else:
            await ws.send(beat)

    async def _on_message(self, message: Message) -> None:
        try:
            events = self._codec.parse(message)
        except Exception as exc:
            self._garbage += 1
            if self._garbage <= _GARBAGE_LOG_FIRST or self._garbage % 1000 == 0:
                expected = isinstance(exc, ValueError)
                log.warning(
                    "%s: dropped message #%d that the codec %s: %s: %s; message starts %r",
                    self.name,
                    self._garbage,
                    "refused" if expected else "failed on (a codec bug?)",
                    type(exc).__name__,
                    exc,
                    message[:120],
                )
            return
        if not self._live:
            await self._socket_back()
        if events:  # data, not just an ack or a pong: the link has proved itself
            self.backoff.reset()
        for event in events:
            self._emit(event)

    # -- fallback ------------------------------------------------------------------------------

    def _emit(self, event: MarketEvent) -> None:
        if self.guard.admit(event):
            deliver(self._sink, event, self.name)

    def _link_down(self) -> None:
        self._base_state = FeedState.DOWN
        running = self._fallback_task is not None and not self._fallback_task.done()
        if self._fallback is None or running:
            return
        self._fallback_starts += 1
        log.info("%s: socket down; polling fallback started", self.name)
        task = asyncio.create_task(self._fallback.run(self._emit), name=f"{self.name}-fallback")
        task.add_done_callback(self._fallback_ended)
        self._fallback_task = task

    def _fallback_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: the polling fallback failed", self.name, exc_info=task.exception())

    async def _socket_back(self) -> None:
        self._live = True
        if self._fallback is None or self._fallback_task is None:
            return
        await self._stop_fallback()
        if not await self._fallback.poll_once(self._emit):
            self._catch_up_failures += 1
            log.warning("%s: the catch-up poll failed; bars may be missing", self.name)
        log.info("%s: socket back; polling fallback stopped", self.name)

    async def _stop_fallback(self) -> None:
        task, self._fallback_task = self._fallback_task, None
        if task is None:
            return
        while not task.done():  # a cancellation swallowed by a library call is sent again
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)

    def _send_soon(self, message: Message) -> None:
        """Send on the live socket without waiting; a lost send is redone by the resubscribe."""
        ws = self._ws
        if ws is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(ws, message))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, ws: ClientConnection, message: Message) -> None:
        try:
            await ws.send(message)
        except WebSocketException as exc:
            log.info("%s: a (un)subscribe was lost with the connection: %s", self.name, exc)
