"""The running desk of ``algodesk serve``: engine, paper exchange, market data, alerts, stream.

Threads, each with one job:

* the HTTP server (uvicorn) answers requests; a webhook only stores its alert and returns;
* the market thread runs the feed (an asyncio loop) and, for every validated mark, moves the
  paper exchange, drains its fills into the engine and checks the exits; once a second it runs
  the stale-feed watch and the intraday square-off (:meth:`DeskRuntime.tick`);
* the alert thread drains the inbox into the engine, woken by each stored alert. At start it
  waits for the first marks (at most a few seconds), then processes what a crash left pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from decimal import Decimal

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.adapters.auth.tokens import JwtTokenCodec
from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.clock import LiveClock
from algodesk.adapters.crypto.fernet import FernetCipher, load_or_create_key
from algodesk.adapters.feeds.fno_ban_file import FNO_BAN_FILE, FnoBanFile
from algodesk.adapters.feeds.replay import ReplayFeed
from algodesk.adapters.signals.tradingview import TradingViewParser
from algodesk.adapters.storage.sql.hooks import SqlHookStore
from algodesk.adapters.storage.sql.inbox import SqlInbox
from algodesk.adapters.storage.sql.users import SqlUserStore
from algodesk.bootstrap import Desk, spot_instrument
from algodesk.bootstrap.calendars import CALENDAR_WARNING, coverage_warnings, desk_calendars
from algodesk.domain.bots import Bot, BotStatus
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId, Venue
from algodesk.domain.instruments import Instrument
from algodesk.domain.matching.observations import Quote
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.sizing import FixedQuantity
from algodesk.domain.values import Currency, money
from algodesk.ports.auth import PasswordHasher
from algodesk.ports.clock import Clock
from algodesk.ports.inbox import AlertStatus
from algodesk.ports.market_data import MarketEvent
from algodesk.ports.signals import DEFAULT_SECRET_FIELD
from algodesk.ports.webhooks import Hook
from algodesk.services.alert_orders import OrderPlanner
from algodesk.services.alerts import (
    CONCURRENT_WRITERS_BATCH_SECONDS,
    ENGINE_BATCH_SECONDS,
    RECENT_SECONDS,
    AlertIntake,
    AlertProcessor,
    Explanation,
    ParseOnce,
)
from algodesk.services.auth import AuthService
from algodesk.services.backlog import DEFAULT_LIMIT as DEFAULT_BACKLOG_LIMIT
from algodesk.services.backlog import AlertBacklog
from algodesk.services.bot_admin import BotAdmin
from algodesk.services.bots import BotService
from algodesk.services.demo import DEMO_MARKET, DEMO_SYMBOLS, PAPER_ACCOUNT, PAPER_BOT, demo_quotes
from algodesk.services.engine import Engine
from algodesk.services.exits import ExitRunner
from algodesk.services.kill_switch import pull_kill_switch
from algodesk.services.limits import LimitBook
from algodesk.services.market import MarketService
from algodesk.services.option_symbols import OptionResolver
from algodesk.services.outcomes import Outcome
from algodesk.services.portfolio_stream import PortfolioStream
from algodesk.services.reconcile import Reconciliation, reconcile
from algodesk.services.recovery import open_paper_account, recover_paper
from algodesk.services.risk_views import RiskViews
from algodesk.services.slicing import DEFAULT_MAX_SLICES, OrderSlicer
from algodesk.services.square_off import SquareOff, SquareOffRule
from algodesk.services.stream import EventHub
from algodesk.services.webhooks import HookCache, HookService

__all__ = ["DeskRuntime", "RuntimeOptions"]

_log = logging.getLogger("algodesk.runtime")

PAPER = Venue("PAPER")

#: Intraday square-off of the Indian segments at 15:10 IST (brokers square off MIS positions
#: from about 15:15). A rule acts only when its venue holds positions or working orders.
INDIAN_SQUARE_OFF = tuple(
    SquareOffRule(Venue(code), time(15, 10)) for code in ("NSE", "NFO", "BSE", "BFO")
)


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    #: Orders per second per account and per bot (the rate gate); None switches it off.
    order_rate: int | None = 10
    #: Replay speed of the demo feed (1.0: real time).
    feed_speed: float = 1.0
    #: How long the alert thread waits for first marks before processing.
    warmup: timedelta = timedelta(seconds=5)
    starting_cash: Decimal = Decimal(100000)
    bot_allocation: Decimal = Decimal(50000)
    #: The paper venue's calendar: 24/7, or an exchange's (e.g. "XNYS") to paper-trade its hours.
    paper_calendar: str = "24/7"
    #: Most child orders one order above its freeze quantity may become (then TOO_MANY_SLICES).
    max_slices: int = DEFAULT_MAX_SLICES
    #: Square-off rules (venue, exchange-local time); only for venues with sessions.
    square_off: tuple[SquareOffRule, ...] = INDIAN_SQUARE_OFF
    #: The longest a new alert may expect to wait for the alert thread; beyond it (or half its
    #: hook's max lag, if less) the webhook refuses alerts with 503 (see services.backlog).
    alert_backlog: timedelta = DEFAULT_BACKLOG_LIMIT
    #: Compute the exchange calendars' days in a child process (``serve``: the desk's process
    #: then never imports pandas for them, about 100 MB less resident).
    calendars_in_child: bool = False


class DeskRuntime:
    """Everything ``serve`` runs, wired on a :class:`Desk` (its database and data directory)."""

    def __init__(
        self,
        desk: Desk,
        options: RuntimeOptions | None = None,
        clock: Clock | None = None,
        secret_key: str | None = None,
        hasher: PasswordHasher | None = None,
        backlog: AlertBacklog | None = None,
    ) -> None:
        """``backlog``: how the alert thread's lag is measured (default: on the monotonic
        clock, with ``options.alert_backlog`` as its limit). Raises
        :class:`~algodesk.adapters.storage.sql.engine.DatabaseNotReadyError` when the desk's
        alert inbox file is not ready (``algodesk init`` makes it so)."""
        inbox_engine = desk.inbox()  # before anything else is started
        self.desk = desk
        self.options = options or RuntimeOptions()
        self.clock: Clock = clock or LiveClock()
        factory = desk.uow_factory
        key = load_or_create_key(desk.settings.data_dir, secret_key)
        self.cipher = FernetCipher(key)
        self.users = SqlUserStore(desk.engine)
        signing_key = hashlib.sha256(b"algodesk jwt signing key\0" + key).digest()
        self.auth = AuthService(
            self.users, hasher or Argon2PasswordHasher(), JwtTokenCodec(signing_key), self.clock
        )
        self.hub = EventHub()
        # The shipped session table with the desk's own <data_dir>/sessions.toml (declared
        # trading years, overrides); a malformed file raises ValueError naming it.
        self.calendars = desk_calendars(
            desk.settings.data_dir,
            {PAPER.value: self.options.paper_calendar},
            in_child=self.options.calendars_in_child,
        )
        self.market = MarketService(desk.instruments, self.calendars, self.clock, bars=desk.bars)
        self.paper = PaperBroker(
            PaperBrokerConfig(),
            _Instruments(self.market),
            self.clock.now,
            trading_day=self.market.trading_day,  # DAY orders expire with their session
        )
        self.bots = BotService(factory, self.clock, desk.ledger)
        # The demo account's limits until changed over the API (then the journal's win).
        self.limits = LimitBook(
            factory,
            self.clock,
            {PAPER_ACCOUNT: RiskLimits(max_orders_per_second=self.options.order_rate)},
        )
        self.engine = Engine(
            factory,
            self.clock,
            self.market,
            {PAPER: self.paper},
            replace(
                self.limits.engine_limits(),
                # NSE's fo_secban.csv, kept current in the data directory (fail closed: no list
                # for today denies new positions in stock derivatives; see the README).
                fno_ban=FnoBanFile(desk.settings.data_dir / FNO_BAN_FILE),
            ),
            desk.ledger,
            bots=self.bots,
            read_factory=desk.snapshot_factory,
            day_marks=self.market.day_marks,  # the daily-loss breaker's day starts from them
        )
        self.engine.subscribe(self.hub.publish)
        #: Orders above their freeze quantity go as child orders (the API's and the alerts').
        self.slicer = OrderSlicer(self.engine, self.market, max_slices=self.options.max_slices)
        #: Option symbols of symbol maps (NIFTY:nearest:OTM2:CE), resolved at alert time.
        self.option_symbols = OptionResolver(
            desk.instruments, self.market, self.clock, spot_instrument
        )
        self.portfolio_stream = PortfolioStream(
            self.hub, self.engine.book, self.market, self.clock, self._accounts
        )
        self.engine.subscribe(self.portfolio_stream.on_engine)
        self.risk = RiskViews(self.engine, self.bots, self.limits, self.market, self._accounts)
        self.exits = ExitRunner(self.engine, factory, self.clock)
        self.exits.listeners.append(self.hub.publish)
        self.square_off = SquareOff(
            self.engine, self.calendars, list(self.options.square_off), self.clock
        )
        self.parser = TradingViewParser()
        # The webhook keeps its parse of each pending alert here for the alert thread.
        self.handover = ParseOnce(self.parser)
        # Webhooks find their hook in memory; changes go through it and empty it.
        self.hook_store = HookCache(SqlHookStore(desk.engine, self.cipher))
        self.hooks = HookService(self.hook_store, self.clock)
        self.bot_admin = BotAdmin(
            self.bots,
            self.hooks,
            self.hook_store,
            desk.ledger,
            self.market,
            (PAPER,),
            # A bot holds something while it has a position or a working order (which could
            # still fill after its cash went back to the account).
            lambda account, bot: (
                bool(self.engine.open_orders(account, bot))
                or any(
                    not p.quantity.is_zero()
                    for p in self.engine.book(account, bot).positions.values()
                )
            ),
            self.limits.bot_breakers,
            options=self.option_symbols,
        )
        self.inbox = SqlInbox(inbox_engine)
        #: How far behind the alert thread runs; the webhook refuses alerts beyond its limit.
        self.backlog = backlog or AlertBacklog(self.options.alert_backlog)
        self._wake = threading.Event()
        self.intake = AlertIntake(
            self.hook_store,
            self.inbox,
            self.parser,
            self.clock,
            on_stored=self._wake.set,
            handover=self.handover,
            backlog=self.backlog,
        )
        self.processor = AlertProcessor(
            self.inbox,
            self.hook_store,
            self.handover,
            self.bots,
            self.engine,
            OrderPlanner(self.engine, self.market, self.option_symbols, self.slicer),
            self.clock,
            self.backlog,
            # Longer batches where the database's writers do not wait for each other.
            batch_seconds=(
                CONCURRENT_WRITERS_BATCH_SECONDS
                if desk.engine.dialect.name == "postgresql"
                else ENGINE_BATCH_SECONDS
            ),
        )
        self.processor.listeners.append(self.hub.publish)
        self.market.listen(self._on_market)
        self.feed: ReplayFeed | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._calendars_checked: date | None = None  # the UTC day of the last coverage check
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Called by :meth:`stop`, last first (e.g. the backtest jobs of the API).
        self.stop_hooks: list[Callable[[], None]] = []

    # -- set-up ------------------------------------------------------------------------------

    def prepare_demo(self) -> Hook:
        """The demo account, bot and hook, created once; returns the bot's active hook."""
        today = self.clock.now().date()
        self.desk.instruments.put([i for i, _ in DEMO_MARKET], "demo", today)
        usd = Currency("USD")
        open_paper_account(self.desk.ledger, PAPER_ACCOUNT, money(self.options.starting_cash, usd))
        bot = self.bots.get(PAPER_BOT)
        if bot is None:
            bot = self.bots.create(
                Bot(
                    id=PAPER_BOT,
                    account_id=PAPER_ACCOUNT,
                    venue=PAPER,
                    allocation=money(self.options.bot_allocation, usd),
                    limits=RiskLimits(max_orders_per_second=self.options.order_rate),
                    symbol_map=dict(DEMO_SYMBOLS),
                    sizing=FixedQuantity(Decimal(1)),
                ),
                by="serve",
            )
        if bot.status is BotStatus.CREATED:
            self.bots.move(bot.id, "start", by="serve", reason="demo desk")
        hook = self.hooks.active(bot.id)
        return hook if hook is not None else self.hooks.create(bot)

    def _accounts(self) -> list[AccountId]:
        return sorted({*self.desk.ledger.accounts(), PAPER_ACCOUNT}, key=lambda a: a.value)

    def load(self) -> str:
        """Rebuild state from storage: bots, exits, the paper book, the alert backlog. Call
        before :meth:`start`."""
        accounts = self._accounts()
        self.limits.load(accounts)
        self.bots.load(accounts)
        self.exits.load(accounts)
        # Alerts the last run left pending are ahead of every new one.
        oldest = self.inbox.pending(1)
        newest = self.inbox.list(status=AlertStatus.PENDING, limit=1)
        if oldest and newest:
            self.backlog.resume(oldest[0].id, newest[0].id)
        # ... and the latest stored are known as such to the webhook (a resend is let through).
        since = self.clock.now() - timedelta(seconds=RECENT_SECONDS)
        self.intake.remember(self.inbox.digests_since(since))
        return recover_paper(
            self.engine,
            self.desk.uow_factory,
            self.clock,
            PAPER,
            self.paper.restore,
            self.paper.hold_positions,
        )

    def explain(self, bot_name: str, body: bytes) -> Explanation:
        """What an alert body would do for a bot, without doing it (nothing is started or
        recovered; the body secret and the alert's age are not checked)."""
        self.bots.load(self._accounts())
        try:
            bot = self.bots.get(BotId(bot_name))
        except ValueError:
            bot = None
        if bot is None:
            known = ", ".join(b.id.value for b in self.bots.list()) or "none"
            return Explanation(False, "unknown_bot", f"no bot {bot_name!r} (bots: {known})")
        hook = self.hooks.active(bot.id)
        field = hook.secret_field if hook is not None else DEFAULT_SECRET_FIELD
        return self.processor.explain(bot.id, self.parser.parse(body, secret_field=field))

    def ensure_admin(self, password: str | None) -> str | None:
        """First run: the ``admin`` user (see :meth:`AuthService.ensure_admin`)."""
        return self.auth.ensure_admin(password)

    def check_calendars(self, within: timedelta = CALENDAR_WARNING) -> list[str]:
        """Log a warning for each venue in use whose calendar ends within ``within`` (past its
        end the venue counts as closed); returns the warnings. In use: the paper venue, the
        square-off rules' venues (NSE, NFO, BSE, BFO by default) and the bots' venues."""
        venues = {
            PAPER,
            *(rule.venue for rule in self.options.square_off),
            *(bot.venue for bot in self.bots.list()),
        }
        now = self.clock.now()
        self._calendars_checked = now.date()
        warnings = coverage_warnings(self.calendars, venues, now, within)
        for warning in warnings:
            _log.warning("%s", warning)
        return warnings

    def venue_status(self) -> list[dict[str, object]]:
        """Each venue of the engine and whether it answers (the paper exchange always does)."""
        return [{"venue": PAPER.value, "kind": "paper exchange", "responsive": True}]

    def reconcile(self) -> Reconciliation:
        """Our orders, fills and ledger against each other and the paper exchange's book."""
        return reconcile(self.desk.snapshot_factory, {PAPER: self.paper}, settle=self.engine.pump)

    def kill_switch(self, by: str, reason: str) -> Outcome:
        return pull_kill_switch(
            self.engine, self.desk.uow_factory, self.clock, by, reason, publish=self.hub.publish
        )

    def demo_feed(self) -> ReplayFeed:
        quotes = demo_quotes(self.clock.now())
        return ReplayFeed(quotes, speed=self.options.feed_speed, loop=True)

    # -- running -----------------------------------------------------------------------------

    def _on_market(self, event: MarketEvent) -> None:
        if not isinstance(event, Quote):
            return
        self.paper.on_quote(event)
        self.engine.pump()
        self.exits.on_mark(event.instrument_id, event.last)
        self.portfolio_stream.on_mark(event.instrument_id)
        if not self._ready.is_set() and all(
            self.market.mark(i.id) is not None for i, _ in DEMO_MARKET
        ):
            self._ready.set()

    def _deliver(self, event: MarketEvent) -> None:
        self.market.on_event(event)

    async def _market_main(self) -> None:
        tasks = []
        if self.feed is not None:
            tasks.append(asyncio.create_task(self.feed.run(self._deliver)))
        try:
            while not self._stop.is_set():
                await asyncio.sleep(1.0)
                self.tick()
        finally:
            if self.feed is not None:
                self.feed.stop()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def tick(self) -> None:
        """The market thread's once-a-second work: the stale-feed watch (entries of a silent
        instrument are denied until it speaks again), the square-off rules that are due, and
        once a UTC day the calendars' coverage (a desk running for weeks warns every day of
        the last 30 before a calendar ends, not only when it was started)."""
        try:
            self.market.check_stale()
        except Exception:
            _log.exception("stale-feed check failed")
        try:
            self.square_off.run_due()
        except Exception:
            _log.exception("square-off failed")
        today = self.clock.now().date()
        if today != self._calendars_checked:
            self._calendars_checked = today  # once a day, also when the check fails
            try:
                self.check_calendars()
            except Exception:
                _log.exception("calendar coverage check failed")

    def _market_thread(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._market_main())
        finally:
            loop.close()

    def _alert_thread(self) -> None:
        self._ready.wait(self.options.warmup.total_seconds())
        self.backlog.begin()  # the warm-up is not time spent on alerts
        while not self._stop.is_set():
            try:
                while self.processor.drain() > 0:
                    pass
            except Exception:
                _log.exception("alert processing failed; retrying")
                self._stop.wait(1.0)
            self._wake.wait(0.5)
            self._wake.clear()

    def start(self, feed: ReplayFeed | None = None) -> None:
        self.check_calendars()
        self.feed = feed
        if feed is None:
            self._ready.set()
        self.portfolio_stream.start()
        for name, target in (("market", self._market_thread), ("alerts", self._alert_thread)):
            thread = threading.Thread(target=target, name=f"algodesk-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self.portfolio_stream.stop()
        while self.stop_hooks:
            self.stop_hooks.pop()()

    def on_alert(self, listener: Callable[[object], None]) -> None:
        self.processor.listeners.append(listener)


class _Instruments(Mapping[InstrumentId, Instrument]):
    """The instrument master as the mapping the paper exchange looks instruments up in."""

    def __init__(self, market: MarketService) -> None:
        self._market = market

    def __getitem__(self, key: InstrumentId) -> Instrument:
        found = self._market.instrument(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[InstrumentId]:
        return iter(())

    def __len__(self) -> int:
        return 0
