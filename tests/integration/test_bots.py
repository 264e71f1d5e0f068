"""Bots through the engine: the lifecycle decides what a bot may send; a paused bot's exits
still run; stopping flattens it; the registry and its history survive a restart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.bots import Bot, BotError, BotStatus
from algodesk.domain.commands import Flatten, SubmitOrder
from algodesk.domain.exits import ExitPlan
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId, Venue
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.sizing import FixedQuantity
from algodesk.domain.values import money, price, quantity
from algodesk.services.bots import BotService
from tests.conftest import ACCOUNT
from tests.faults import FailingCommits
from tests.integration.test_engine import AAPL, USD, Desk, submit

D = Decimal
ALPHA = BotId("alpha")


class BotDesk(Desk):
    def __init__(self, store: InMemoryStore | None = None) -> None:
        super().__init__(
            store=store, limits=RiskLimits(max_orders_per_second=None), bots=BotService
        )
        assert self.bots is not None
        self.bots: BotService = self.bots


def alpha(**kw: object) -> Bot:
    args: dict[str, object] = {
        "id": ALPHA,
        "account_id": ACCOUNT,
        "venue": Venue("PAPER"),
        "allocation": money("5000", USD),
        "symbol_map": {"AAPL": AAPL.id},
        "sizing": FixedQuantity(D(10)),
    }
    args.update(kw)
    return Bot(**args)  # type: ignore[arg-type]


@pytest.fixture
def desk() -> BotDesk:
    d = BotDesk()
    d.ledger.deposit(ACCOUNT, money("100000", USD), key="seed")
    d.quote(AAPL, "100")
    d.bots.create(alpha(), by="admin")
    return d


def bot_position(desk: BotDesk) -> Decimal:
    held = desk.ledger.summary(ACCOUNT, ALPHA).positions.get(AAPL.id)
    return held.quantity if held else D(0)


def test_creating_a_bot_allocates_its_capital(desk: BotDesk) -> None:
    assert desk.ledger.summary(ACCOUNT, ALPHA).cash == {"USD": D(5000)}
    assert desk.ledger.summary(ACCOUNT, None).cash == {"USD": D(95000)}
    with pytest.raises(BotError, match="exists already"):
        desk.bots.create(alpha(), by="admin")


def test_the_lifecycle_decides_what_a_bot_may_send(desk: BotDesk) -> None:
    created = desk.engine.handle(submit(bot_id=ALPHA))
    assert created.code == "BOT_NOT_RUNNING"
    desk.bots.move(ALPHA, "start", by="admin")
    assert desk.engine.handle(
        submit(qty="10", bot_id=ALPHA, exits=ExitPlan(stop_loss=price("95")))
    ).ok
    desk.bots.move(ALPHA, "pause", by="admin", reason="news")
    assert desk.engine.handle(submit(qty="1", bot_id=ALPHA)).code == "BOT_NOT_RUNNING"
    desk.quote(AAPL, "94")
    (exit_outcome,) = desk.exits.on_mark(AAPL.id, D(94))  # a paused bot's exits still run
    assert exit_outcome.ok
    assert bot_position(desk) == D(0)
    desk.bots.move(ALPHA, "resume", by="admin")
    assert desk.engine.handle(submit(qty="1", bot_id=ALPHA)).ok
    with pytest.raises(BotError, match="cannot resume a bot that is RUNNING"):
        desk.bots.move(ALPHA, "resume", by="admin")


def test_stopping_a_bot_flattens_it_for_good(desk: BotDesk) -> None:
    desk.bots.move(ALPHA, "start", by="admin")
    desk.engine.handle(submit(qty="10", bot_id=ALPHA))
    desk.engine.handle(submit(qty="5"))  # the account's own position is not the bot's business
    desk.bots.stop(ALPHA, by="admin", reason="retired", handle=desk.engine.handle)
    assert bot_position(desk) == D(0)
    assert desk.ledger.summary(ACCOUNT).positions[AAPL.id].quantity == D(5)
    assert desk.bots.get(ALPHA).status is BotStatus.STOPPED  # type: ignore[union-attr]
    assert desk.engine.handle(submit(bot_id=ALPHA)).code == "BOT_NOT_RUNNING"
    with pytest.raises(BotError, match="cannot start a bot that is STOPPED"):
        desk.bots.move(ALPHA, "start", by="admin")


def test_a_bot_answers_to_its_own_limits(desk: BotDesk) -> None:
    desk.bots.create(alpha(id=BotId("tiny"), limits=RiskLimits(max_notional=D(500))), by="admin")
    desk.bots.move(BotId("tiny"), "start", by="admin")
    outcome = desk.engine.handle(submit(qty="6", bot_id=BotId("tiny")))
    assert outcome.code == "MAX_NOTIONAL_EXCEEDED"
    assert "scope=bot tiny" in outcome.message


def test_an_unknown_bot_is_denied(desk: BotDesk) -> None:
    assert desk.engine.handle(submit(bot_id=BotId("ghost"))).code == "BOT_NOT_FOUND"


def test_the_registry_and_its_history_survive_a_restart(desk: BotDesk) -> None:
    desk.bots.move(ALPHA, "start", by="admin")
    desk.bots.move(ALPHA, "pause", by="ops", reason="earnings")
    restarted = BotDesk(store=desk.store)
    bot = restarted.bots.get(ALPHA)
    assert bot is not None
    assert bot.status is BotStatus.PAUSED
    assert [(t.action, t.by, t.reason) for t in bot.history] == [
        ("start", "admin", ""),
        ("pause", "ops", "earnings"),
    ]
    assert bot.symbol_map == {"AAPL": AAPL.id}
    assert bot.sizing == FixedQuantity(D(10))
    assert restarted.engine.handle(submit(bot_id=ALPHA)).code == "BOT_NOT_RUNNING"


def test_a_symbol_map_stays_on_the_bot_venue() -> None:
    with pytest.raises(BotError, match="another venue"):
        alpha(symbol_map={"X": InstrumentId("X.NSE")})
    assert alpha().instrument_for("AAPL") == AAPL.id
    with pytest.raises(BotError, match="no instrument for symbol 'MSFT'"):
        alpha().instrument_for("MSFT")


def test_a_bot_can_be_changed_and_the_change_survives_a_restart(desk: BotDesk) -> None:
    desk.bots.move(ALPHA, "start", by="admin")
    desk.bots.update(
        ALPHA,
        by="risk",
        reason="tighter",
        limits=RiskLimits(max_notional=D(300)),
        sizing=FixedQuantity(D(2)),
    )
    assert desk.engine.handle(submit(qty="5", bot_id=ALPHA)).code == "MAX_NOTIONAL_EXCEEDED"
    restarted = BotDesk(store=desk.store)
    bot = restarted.bots.get(ALPHA)
    assert bot is not None
    assert bot.limits.max_notional == D(300)
    assert bot.sizing == FixedQuantity(D(2))
    with pytest.raises(BotError, match="another venue"):
        restarted.bots.update(ALPHA, by="x", symbol_map={"X": InstrumentId("X.NSE")})


def test_deleting_a_bot_returns_its_cash_and_needs_it_stopped_and_flat(desk: BotDesk) -> None:
    desk.bots.move(ALPHA, "start", by="admin")
    desk.engine.handle(submit(qty="10", bot_id=ALPHA))  # costs 1,000 of its 5,000
    holds = lambda bot: not desk.engine.position(ACCOUNT, bot, AAPL.id).is_zero()  # noqa: E731
    with pytest.raises(BotError, match="stop it first"):
        desk.bots.delete(ALPHA, by="admin", position_of=holds)
    desk.bots.move(ALPHA, "stop", by="admin")  # stopped, but not flattened
    with pytest.raises(BotError, match="still holds positions"):
        desk.bots.delete(ALPHA, by="admin", position_of=holds)
    desk.engine.handle(Flatten(account_id=ACCOUNT, bot_id=ALPHA))
    desk.bots.delete(ALPHA, by="admin", position_of=holds)
    assert desk.bots.get(ALPHA) is None
    assert desk.ledger.summary(ACCOUNT, ALPHA).cash == {"USD": D(0)}
    assert desk.ledger.summary(ACCOUNT).cash == {"USD": D(100000)}  # bought at 100, sold at 100
    assert BotDesk(store=desk.store).bots.get(ALPHA) is None
    with pytest.raises(BotError, match="never reused"):
        BotDesk(store=desk.store).bots.create(alpha(), by="admin")


def test_a_paused_bot_on_an_account_without_limits_is_denied_not_crashed(desk: BotDesk) -> None:
    stranger = AccountId("stranger")  # no limits configured for it: it cannot trade
    desk.bots.create(
        alpha(id=BotId("lost"), account_id=stranger, allocation=money("0", USD)), by="admin"
    )
    order = SubmitOrder(
        account_id=stranger,
        instrument_id=AAPL.id,
        side=OrderSide.BUY,
        order_type=OrderType.MARKET,
        quantity=quantity("1"),
        bot_id=BotId("lost"),
    )
    assert desk.engine.handle(order).code == "ACCOUNT_NOT_FOUND"


def test_a_change_that_cannot_be_journaled_does_not_happen(desk: BotDesk) -> None:
    storage = FailingCommits(desk.store)
    bots = BotService(storage, desk.clock, desk.ledger)
    bots.load([ACCOUNT])
    storage.fail_next = True
    with pytest.raises(OSError, match="disk full"):
        bots.move(ALPHA, "start", by="admin")
    bot = bots.get(ALPHA)
    assert bot is not None
    assert (bot.status, bot.history) == (BotStatus.CREATED, [])
    storage.fail_next = True
    with pytest.raises(OSError, match="disk full"):
        bots.update(ALPHA, by="risk", limits=RiskLimits(max_notional=D(1)))
    assert bot.limits == alpha().limits
    bots.move(ALPHA, "start", by="admin")  # and once storage works again, it does
    assert bot.status is BotStatus.RUNNING


class _FailingCommit(InMemoryUnitOfWork):
    """Storage whose commit of the next ``BotUpdated`` record fails (a locked database, a lost
    connection), whatever else that commit carries."""

    fail_next = False

    def commit(self) -> None:
        state = self._state
        updating = state is not None and any(
            step[0] == "append_record" and step[1][0].kind == "BotUpdated" for step in state.log
        )
        if updating and _FailingCommit.fail_next:
            _FailingCommit.fail_next = False
            raise RuntimeError("database is locked")
        super().commit()


def test_an_allocation_change_that_fails_moves_no_cash_and_a_retry_moves_it_once() -> None:
    store = InMemoryStore()
    desk = Desk(store=store, factory=lambda: _FailingCommit(store), bots=BotService)
    desk.ledger.deposit(ACCOUNT, money("100000", USD), key="seed")
    assert desk.bots is not None
    bots = desk.bots
    bots.create(alpha(allocation=money("1000", USD)), by="admin")
    _FailingCommit.fail_next = True
    with pytest.raises(RuntimeError, match="locked"):
        bots.update(ALPHA, "admin", allocation=money("3000", USD))
    assert bots.get(ALPHA).allocation == money("1000", USD)  # type: ignore[union-attr]
    assert desk.ledger.summary(ACCOUNT, ALPHA).cash == {"USD": D(1000)}
    bots.update(ALPHA, "admin", allocation=money("3000", USD))
    assert desk.ledger.summary(ACCOUNT, ALPHA).cash == {"USD": D(3000)}
    again = BotService(lambda: InMemoryUnitOfWork(store), desk.clock, desk.ledger)
    again.load([ACCOUNT])
    assert again.get(ALPHA).allocation == money("3000", USD)  # type: ignore[union-attr]


class _PausingCommit(InMemoryUnitOfWork):
    """Runs ``during`` inside the first commit that appends a ledger entry: the window in which
    another thread's write would make the engine's chain out of date."""

    during: Callable[[], None] | None = None

    def commit(self) -> None:
        run, _PausingCommit.during = _PausingCommit.during, None
        if (
            run is not None
            and self._state is not None
            and any(step[0] == "append_entry" for step in self._state.log)
        ):
            run()
        elif run is not None:
            _PausingCommit.during = run
        super().commit()


def test_a_bots_cash_move_from_another_thread_waits_for_the_engines_fill() -> None:
    store = InMemoryStore()
    paused_desk = Desk(
        store=store,
        factory=lambda: _PausingCommit(store),
        limits=RiskLimits(max_orders_per_second=None),
        bots=BotService,
    )
    assert paused_desk.bots is not None
    paused_desk.ledger.deposit(ACCOUNT, money("100000", USD), key="seed")
    paused_desk.quote(AAPL, "100")
    paused_desk.bots.create(alpha(), by="admin")
    placed = paused_desk.engine.handle(submit(OrderSide.BUY, "10", OrderType.LIMIT, px="99"))
    mover = threading.Thread(
        target=lambda: paused_desk.bots.update(  # type: ignore[union-attr]
            ALPHA, "admin", allocation=money("6000", USD)
        )
    )

    def another_request() -> None:
        mover.start()
        mover.join(0.3)  # with the account lock it waits for this commit to finish

    _PausingCommit.during = another_request
    paused_desk.quote(AAPL, "98")  # the limit trades through: the engine books the fill
    mover.join(10)
    order = paused_desk.order(placed.client_order_id)
    assert order.filled_quantity.value == D(10)
    with paused_desk.factory() as uow:
        kinds = [e.kind.value for e in uow.ledger.entries(ACCOUNT)]
    assert kinds == ["DEPOSIT", "ALLOCATION", "FILL", "ALLOCATION"]
    assert paused_desk.ledger.summary(ACCOUNT, ALPHA).cash["USD"] == D(6000)
    assert paused_desk.ledger.verify().ok
