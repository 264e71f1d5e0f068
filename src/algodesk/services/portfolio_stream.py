"""The ``positions`` and ``pnl`` topics of the live stream.

The engine's subscriber and the market listener only note what changed (a fill's account,
bot and instrument; a marked instrument) under a lock and wake a worker thread, which reads
the books and publishes. The engine thus never computes for the stream, and a burst of fills
becomes one message per position. ``positions``: after a fill, the account's (``bot`` null)
and the fill's bot's position in the instrument. ``pnl``: an account's realized, unrealized and
equity after a fill or a mark of an instrument it holds, at most once per ``interval`` per
account. Nothing is computed while no client wants either topic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from algodesk.domain.events import OrderFilled
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId
from algodesk.domain.portfolio import BookSummary
from algodesk.ports.clock import Clock
from algodesk.ports.market import MarketView
from algodesk.services.stream import EventHub

__all__ = ["PortfolioStream"]

_log = logging.getLogger("algodesk.stream")

Books = Callable[[AccountId, BotId | None], BookSummary]


class PortfolioStream:
    def __init__(
        self,
        hub: EventHub,
        books: Books,
        market: MarketView,
        clock: Clock,
        accounts: Callable[[], list[AccountId]],
        interval: float = 1.0,
    ) -> None:
        self._hub = hub
        self._accounts = accounts
        self._seeded = False
        self._books = books
        self._market = market
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._positions: set[tuple[AccountId, BotId | None, InstrumentId]] = set()
        self._pnl: set[AccountId] = set()
        self._marked: set[InstrumentId] = set()
        self._held: dict[AccountId, frozenset[InstrumentId]] = {}
        self._last: dict[AccountId, float] = {}
        self._thread: threading.Thread | None = None

    # -- noted on the engine's and the market's threads: cheap, never blocking --------------

    def on_engine(self, item: object) -> None:
        if not isinstance(item, OrderFilled) or not self._wanted():
            return
        fill = item.fill
        with self._lock:
            self._positions.add((fill.account_id, None, fill.instrument_id))
            if fill.bot_id is not None:
                self._positions.add((fill.account_id, fill.bot_id, fill.instrument_id))
            self._pnl.add(fill.account_id)
        self._wake.set()

    def on_mark(self, instrument: InstrumentId) -> None:
        if not self._hub.wants("pnl"):
            return
        with self._lock:
            self._marked.add(instrument)

    def _wanted(self) -> bool:
        return self._hub.wants("positions") or self._hub.wants("pnl")

    # -- the worker ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="algodesk-portfolio", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval / 4)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                _log.exception("positions/pnl stream failed; going on")

    def flush(self, force: bool = False) -> None:
        """Publish what changed (pnl only where ``interval`` has passed, unless ``force``)."""
        seed = not self._seeded and self._hub.wants("pnl")
        accounts = self._accounts() if seed else []
        with self._lock:
            if seed:  # which accounts hold what, so that marks move their P&L
                self._seeded = True
                self._pnl.update(accounts)
            positions, self._positions = self._positions, set()
            marked, self._marked = self._marked, set()
            for account, held in self._held.items():
                if held & marked:
                    self._pnl.add(account)
            now = time.monotonic()
            due = {
                a
                for a in self._pnl
                if force or now - self._last.get(a, float("-inf")) >= self._interval
            }
            self._pnl -= due
            for account in due:
                self._last[account] = now
        for account, bot, instrument in sorted(positions, key=str):
            self._publish_position(account, bot, instrument)
        for account in sorted(due, key=lambda a: a.value):
            self._publish_pnl(account)

    def _mark(self, instrument: InstrumentId, fallback: Decimal) -> Decimal:
        mark = self._market.mark(instrument)
        return mark.price if mark is not None else fallback

    def _publish_position(
        self, account: AccountId, bot: BotId | None, instrument: InstrumentId
    ) -> None:
        book = self._books(account, bot)
        pos = book.positions.get(instrument)
        quantity = pos.quantity if pos is not None else Decimal(0)
        average = pos.average_price if pos is not None else None
        mark = self._mark(instrument, pos.last_price) if pos is not None else None
        unrealized = pos.unrealized(mark) if pos is not None and mark is not None else None
        data = {
            "account": account.value,
            "bot": bot.value if bot else None,
            "instrument": instrument.value,
            "quantity": str(quantity),
            "average_price": str(average) if average is not None else None,
            "mark": str(mark) if mark is not None else None,
            "unrealized": str(unrealized) if unrealized is not None else None,
            "ts": _iso(self._clock),
        }
        self._hub.publish({"topic": "positions", "type": "PositionChanged", "data": data})

    def _publish_pnl(self, account: AccountId) -> None:
        book = self._books(account, None)
        marks = {iid: self._mark(iid, p.last_price) for iid, p in book.positions.items()}
        with self._lock:
            self._held[account] = frozenset(
                iid for iid, p in book.positions.items() if not p.quantity.is_zero()
            )
        data = {
            "account": account.value,
            "cash": {k: str(v) for k, v in book.cash.items()},
            "realized": {c: str(book.realized_net(c)) for c in book.currencies},
            "unrealized": {k: str(v) for k, v in book.unrealized(marks).items()},
            "equity": {k: str(v) for k, v in book.equity(marks).items()},
            "ts": _iso(self._clock),
        }
        self._hub.publish({"topic": "pnl", "type": "PnlChanged", "data": data})


def _iso(clock: Clock) -> str:
    return clock.now().isoformat().replace("+00:00", "Z")
