"""NIFTY options from the user's side: alerts whose bot maps a ticker to an option symbol
(``NIFTY:nearest:OTM2:CE``) through the intake and the processor to the engine and the paper
exchange on NFO, with the instrument master read from a Kite dump; what ``explain`` shows; each
reason an option cannot be resolved; bots created and edited with option symbols; and orders
above the freeze quantity sliced into child orders."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.instruments.kite_csv import load_kite_instruments
from algodesk.adapters.signals.tradingview import TradingViewParser
from algodesk.adapters.storage.memory.hooks import InMemoryHookStore
from algodesk.adapters.storage.memory.inbox import InMemoryInbox
from algodesk.adapters.storage.memory.instruments import InMemoryInstrumentStore
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.bootstrap import spot_instrument
from algodesk.domain.commands import Command
from algodesk.domain.identifiers import BotId, ClientOrderId, InstrumentId, Venue
from algodesk.domain.market.option_symbols import OptionSymbol, symbol_target
from algodesk.domain.matching import Quote
from algodesk.domain.orders import Order
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.signals import AlertReason
from algodesk.domain.values import Currency, money
from algodesk.ports.inbox import AlertStatus, InboxEntry
from algodesk.services.alert_orders import MappingError, OrderPlanner
from algodesk.services.alerts import AlertIntake, AlertProcessor
from algodesk.services.bot_admin import BotAdmin, BotSpec, Refused
from algodesk.services.bots import BotService
from algodesk.services.engine import Engine
from algodesk.services.ledger import LedgerService
from algodesk.services.option_symbols import OptionResolver
from algodesk.services.outcomes import Outcome
from algodesk.services.risk_context import EngineLimits
from algodesk.services.webhooks import HookService
from algodesk.testing.clock import FixedClock
from algodesk.testing.market import FakeMarket
from tests.conftest import ACCOUNT
from tests.integration.test_engine import RemoteVenue

D = Decimal
KITE = Path(__file__).parents[1] / "data" / "kite_instruments.csv"
NFO = Venue("NFO")
INR = Currency("INR")
#: Friday 20 Nov 2026, 10:30 IST: the nearest NIFTY expiry is Monday 23 Nov (moved from Tuesday
#: 24 Nov by a holiday), the next weekly 1 Dec, the next monthly 29 Dec.
T = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
SPOT = InstrumentId("NIFTY_50.NSE")
OTM2 = InstrumentId("NIFTY26NOV26100CE.NFO")  # spot 26,012.5: ATM 26,000, two strikes up
FUT = InstrumentId("NIFTY26NOVFUT.NFO")  # lot 65, freeze 1,800
BOT = BotId("nifty")


class OptionDesk:
    """An engine with a paper exchange on NFO, the instrument master of the Kite test dump, a
    bot mapping tickers to option symbols, and the alert intake and processor."""

    def __init__(self, limits: RiskLimits | None = None, *, remote: bool = False) -> None:
        """``remote``: the paper exchange seen as a remote venue (each order stored and sent
        on its own, never staged in an engine batch)."""
        self.clock = FixedClock(T)
        master = load_kite_instruments(KITE).instruments
        self.store = InMemoryStore()
        self.factory = lambda: InMemoryUnitOfWork(self.store)
        self.instruments = InMemoryInstrumentStore(master)
        self.market = FakeMarket(master)
        self.paper = PaperBroker(PaperBrokerConfig(), self.market.instruments, self.clock.now)
        self.ledger = LedgerService(self.factory, self.clock)
        self.ledger.deposit(ACCOUNT, money("10000000", INR), key="seed")
        self.bots = BotService(self.factory, self.clock, self.ledger)
        self.engine = Engine(
            self.factory,
            self.clock,
            self.market,
            {NFO: RemoteVenue(self.paper) if remote else self.paper},  # type: ignore[dict-item]
            EngineLimits(accounts={ACCOUNT: RiskLimits(max_orders_per_second=None)}),
            self.ledger,
            bots=self.bots,
        )
        self.options = OptionResolver(self.instruments, self.market, self.clock, spot_instrument)
        self.hooks = InMemoryHookStore()
        self.admin = BotAdmin(
            self.bots,
            HookService(self.hooks, self.clock),
            self.hooks,
            self.ledger,
            self.market,
            (NFO,),
            lambda account, bot: False,
            options=self.options,
        )
        created, self.hook = self.admin.create(
            BotSpec(
                name=BOT.value,
                account=ACCOUNT.value,
                venue="NFO",
                allocation="5000000",
                currency="INR",
                symbol_map={
                    "NIFTY_CE": "NIFTY:nearest:OTM2:CE",
                    "NIFTY_PE": "NIFTY:next-monthly:ITM1:PE",
                    "NIFTYFUT": "NIFTY26NOVFUT.NFO",
                },
                sizing={"rule": "fixed", "quantity": "65"},
                limits={"max_orders_per_second": None}
                if limits is None
                else {"max_orders_per_second": None, "max_position_qty": "2000"},
            ),
            by="test",
        )
        self.bots.move(created.id, "start", by="test")
        self.parser = TradingViewParser()
        self.inbox = InMemoryInbox()
        self.intake = AlertIntake(self.hooks, self.inbox, self.parser, self.clock)
        self.planner = OrderPlanner(self.engine, self.market, self.options)
        self.processor = AlertProcessor(
            self.inbox, self.hooks, self.parser, self.bots, self.engine, self.planner, self.clock
        )

    def quote(self, instrument: InstrumentId, last: str, at: datetime | None = None) -> None:
        when = at or self.clock.now()
        self.market.set_mark(instrument, D(last), when)
        if instrument.venue == NFO:
            self.paper.on_quote(Quote(instrument, when, D(last)))
            self.engine.pump()

    def run(self, message: dict[str, object]) -> InboxEntry:
        answer = self.intake.receive(self.hook.token, json.dumps(message).encode(), "127.0.0.1")
        assert answer.status == 200, answer.body
        self.processor.drain()
        entry = self.inbox.get(int(answer.body["alert_id"]))  # type: ignore[call-overload]
        assert entry is not None
        return entry

    def explain(self, message: dict[str, object]) -> dict[str, object]:
        parsed = self.parser.parse(json.dumps(message).encode())
        return self.processor.explain(BOT, parsed).as_dict()

    def position(self, instrument: InstrumentId) -> Decimal:
        return self.engine.position(ACCOUNT, BOT, instrument)

    def order(self, coid: object) -> Order:
        with self.factory() as uow:
            found = uow.orders.get(ClientOrderId(str(coid)))
        assert found is not None
        return found

    def orders(self) -> list[Order]:
        with self.factory() as uow:
            return uow.orders.list(ACCOUNT)


@pytest.fixture
def desk() -> OptionDesk:
    made = OptionDesk()
    made.quote(SPOT, "26012.5")
    return made


def rows(entry: InboxEntry) -> list[dict[str, object]]:
    return entry.fate["orders"]  # type: ignore[return-value]


def test_an_alert_buys_the_contract_the_option_symbol_names_at_the_underlyings_mark(
    desk: OptionDesk,
) -> None:
    desk.quote(OTM2, "100")
    entry = desk.run({"action": "buy", "symbol": "NIFTY_CE"})
    assert entry.status is AlertStatus.EXECUTED, entry
    [row] = rows(entry)
    assert row["symbol"] == OTM2.value
    assert row["option"] == {
        "target": "NIFTY:nearest:OTM2:CE",
        "contract": OTM2.value,
        "underlying": "NIFTY",
        "spot": "26012.5",
        "spot_at": "2026-11-20T05:00:00Z",
        "expiry": "2026-11-23",
        "strike": "26100",
        "atm_strike": "26000",
        "lot_size": "65",
        "freeze_quantity": "1800",
    }
    assert desk.position(OTM2) == D(65)

    # The spot falls: the same symbol now names a lower strike.
    desk.clock.advance(timedelta(seconds=30))
    desk.quote(SPOT, "25940")
    lower = InstrumentId("NIFTY26NOV26050CE.NFO")  # ATM 25,950 + two strikes
    desk.quote(lower, "120")
    again = desk.run({"action": "buy", "symbol": "NIFTY_CE", "n": 2})
    assert again.status is AlertStatus.EXECUTED, again
    assert rows(again)[0]["symbol"] == lower.value

    # A close addresses every contract the symbol bought, whatever the spot is now.
    closed = desk.run({"action": "close", "symbol": "NIFTY_CE"})
    assert closed.status is AlertStatus.EXECUTED, closed
    assert sorted(str(r["symbol"]) for r in rows(closed)) == sorted([lower.value, OTM2.value])
    assert (desk.position(OTM2), desk.position(lower)) == (D(0), D(0))


def test_a_target_position_is_counted_on_the_contract_the_bot_holds(desk: OptionDesk) -> None:
    desk.quote(OTM2, "100")
    desk.run({"action": "buy", "symbol": "NIFTY_CE", "position_size": "130"})
    assert desk.position(OTM2) == D(130)
    desk.clock.advance(timedelta(seconds=30))
    desk.quote(SPOT, "25940")  # OTM2 would now be the 26,050 strike
    entry = desk.run({"action": "sell", "symbol": "NIFTY_CE", "position_size": "65"})
    assert entry.status is AlertStatus.EXECUTED, entry
    assert rows(entry)[0]["symbol"] == OTM2.value
    assert desk.position(OTM2) == D(65)


def test_an_alert_may_spell_the_option_itself(desk: OptionDesk) -> None:
    contract = InstrumentId("NIFTY26D0126000PE.NFO")
    desk.quote(contract, "150")
    entry = desk.run(
        {"action": "buy", "underlying": "NIFTY", "expiry": "next-weekly", "offset": "ATM",
         "option_type": "PE", "qty": "65"}
    )  # fmt: skip
    assert entry.status is AlertStatus.EXECUTED, entry
    assert desk.position(contract) == D(65)


@pytest.mark.parametrize(
    ("target", "contract"),
    [
        ("NIFTY:nearest:OTM2:CE", "NIFTY26NOV26100CE.NFO"),
        ("NIFTY:weekly:ATM:CE", "NIFTY26NOV26000CE.NFO"),
        ("NIFTY:next-weekly:ATM:PE", "NIFTY26D0126000PE.NFO"),
        ("NIFTY:monthly:ITM1:CE", "NIFTY26NOV25950CE.NFO"),  # shares its expiry with a future
        ("NIFTY:next-monthly:OTM2:CE", "NIFTY26DEC26100CE.NFO"),
        ("NIFTY:next-monthly:ITM1:PE", "NIFTY26DEC26050PE.NFO"),  # a put's ITM is above ATM
        ("NIFTY:2026-12-29:OTM1:PE", "NIFTY26DEC25950PE.NFO"),
        ("nifty:NEXT_MONTHLY:otm2:call", "NIFTY26DEC26100CE.NFO"),
    ],
)
def test_explain_shows_the_contract_each_rule_resolves_to(
    desk: OptionDesk, target: str, contract: str
) -> None:
    desk.admin.update(BOT.value, "test", symbol_map={"OPT": target})
    shown = desk.explain({"action": "buy", "symbol": "OPT"})
    assert shown["accepted"], shown
    [order] = shown["orders"]  # type: ignore[misc]
    assert order["symbol"] == contract
    assert order["option"]["contract"] == contract
    assert order["option"]["target"] == str(symbol_target(target, NFO))


def test_explain_of_a_close_names_the_contracts_it_addresses(desk: OptionDesk) -> None:
    shown = desk.explain({"action": "close", "symbol": "NIFTY_CE"})
    assert shown["accepted"], shown
    [order] = shown["orders"]  # type: ignore[misc]
    assert order["symbol"] == "NIFTY:nearest:OTM2:CE"
    assert order["option"] == {
        "target": "NIFTY:nearest:OTM2:CE",
        "addresses": "the bot's NIFTY CALL contracts on NFO",
    }
    at_a_price = desk.explain({"action": "close", "symbol": "NIFTY_CE", "type": "limit",
                               "price": "120"})  # fmt: skip
    [order] = at_a_price["orders"]  # type: ignore[misc]
    assert (order["order_type"], order["price"]) == ("MARKET", None)  # as it is sent


def _no_mark(desk: OptionDesk) -> None:
    desk.market.marks.pop(SPOT)


def _old_mark(desk: OptionDesk) -> None:
    desk.quote(SPOT, "26012.5", at=T - timedelta(minutes=5))


def _nothing(desk: OptionDesk) -> None:
    return None


@pytest.mark.parametrize(
    ("prepare", "message", "reason", "words"),
    [
        (_no_mark, {"action": "buy", "symbol": "NIFTY_CE"}, "no_spot", "no mark for NIFTY_50.NSE"),
        (_old_mark, {"action": "buy", "symbol": "NIFTY_CE"}, "stale_spot", "300 s old"),
        (
            _nothing,
            {"action": "buy", "underlying": "FINNIFTY", "expiry": "nearest", "offset": "ATM",
             "option_type": "CE"},
            "no_option_chain",
            "no FINNIFTY options on NFO",
        ),
        (
            _nothing,
            {"action": "buy", "underlying": "NIFTY", "expiry": "2026-11-24", "offset": "ATM",
             "option_type": "CE"},
            "no_expiry",
            "no listed expiry on 2026-11-24",
        ),
        (
            _nothing,
            {"action": "buy", "underlying": "NIFTY", "expiry": "nearest", "offset": "OTM9",
             "option_type": "CE"},
            "no_strike",
            "needs 9 listed strikes above",
        ),
    ],
)  # fmt: skip
def test_an_option_that_cannot_be_resolved_is_rejected_with_its_reason(
    desk: OptionDesk,
    prepare: object,
    message: dict[str, object],
    reason: str,
    words: str,
) -> None:
    prepare(desk)  # type: ignore[operator]
    entry = desk.run(message)
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, reason), entry
    assert words in (entry.message or ""), entry.message
    assert rows(entry)[0]["code"] == reason
    shown = desk.explain(message)
    assert (shown["accepted"], shown["reason"]) == (False, reason)
    assert desk.orders() == []


@pytest.mark.parametrize(
    "close",
    [
        {"action": "close"},
        {"action": "flatten"},
        {"action": "closeall"},
        {"action": "sell", "position_size": "0"},  # a target of 0 at market is a close
        {"action": "close", "type": "limit", "price": "120"},  # contracts close at market
    ],
)
def test_a_close_goes_without_a_fresh_spot(desk: OptionDesk, close: dict[str, str]) -> None:
    desk.quote(OTM2, "100")
    desk.run({"action": "buy", "symbol": "NIFTY_CE"})
    _no_mark(desk)
    closed = desk.run({**close, "symbol": "NIFTY_CE"})
    assert closed.status is AlertStatus.EXECUTED, closed
    assert desk.position(OTM2) == D(0)
    nothing = desk.run({"action": "close", "symbol": "NIFTY_CE", "n": 2})
    assert "nothing to close" in str(rows(nothing)[0]["message"])


def test_a_reverse_of_an_option_symbol_is_refused(desk: OptionDesk) -> None:
    entry = desk.run({"action": "reverse", "symbol": "NIFTY_CE"})
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, "bad_value")


# -- bots with option symbols ------------------------------------------------------------------


def test_a_bots_option_symbols_survive_a_restart(desk: OptionDesk) -> None:
    reloaded = BotService(desk.factory, desk.clock, desk.ledger)
    reloaded.load([ACCOUNT])
    bot = reloaded.get(BOT)
    assert bot is not None
    assert bot.symbol_map == {
        "NIFTY_CE": OptionSymbol.parse("NIFTY:nearest:OTM2:CE", NFO),
        "NIFTY_PE": OptionSymbol.parse("NIFTY:next-monthly:ITM1:PE", NFO),
        "NIFTYFUT": InstrumentId("NIFTY26NOVFUT.NFO"),
    }
    assert desk.admin.view(bot)["symbol_map"] == {
        "NIFTY_CE": "NIFTY:nearest:OTM2:CE",
        "NIFTY_PE": "NIFTY:next-monthly:ITM1:PE",
        "NIFTYFUT": "NIFTY26NOVFUT.NFO",
    }


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("NIFTY:nearest:OTM2:XE", "BAD_RIGHT"),
        ("NIFTY:soon:OTM2:CE", "BAD_EXPIRY_RULE"),
        ("NIFTY:nearest:OTM:CE", "BAD_OFFSET"),
        ("NIFTY:nearest:OTM2:CE.BFO", "expected an option of the bot's venue NFO"),
        ("FINNIFTY:nearest:ATM:CE", "no_option_chain"),
        ("NIFTY:2026-11-24:ATM:CE", "no_expiry"),
        ("NIFTY:2026-11-02:ATM:CE", "no_expiry"),
        ("RELIANCE:nearest:ATM:CE", "no_option_chain"),
    ],
)
def test_a_bot_is_refused_an_option_symbol_that_can_never_resolve(
    desk: OptionDesk, target: str, words: str
) -> None:
    with pytest.raises(Refused) as refused:
        desk.admin.update(BOT.value, "test", symbol_map={"OPT": target})
    assert refused.value.reason == "bad_value"
    assert words in str(refused.value)
    assert "symbol_map.OPT" in str(refused.value)
    spec = BotSpec(
        name="other", account=ACCOUNT.value, venue="NFO", allocation="0", currency="INR",
        symbol_map={"OPT": target},
    )  # fmt: skip
    with pytest.raises(Refused):
        desk.admin.create(spec, by="test")


# -- freeze slicing ------------------------------------------------------------------------------


def test_an_alert_above_the_freeze_quantity_is_sent_as_child_orders(desk: OptionDesk) -> None:
    desk.quote(OTM2, "100")
    entry = desk.run({"action": "buy", "symbol": "NIFTY_CE", "qty": "3640"})
    assert entry.status is AlertStatus.EXECUTED, entry
    children = rows(entry)
    assert [r["quantity"] for r in children] == ["1755", "1755", "130"]
    assert all(r["ok"] and r["symbol"] == OTM2.value for r in children)
    assert len({r["client_order_id"] for r in children}) == 3
    assert desk.position(OTM2) == D(3640)
    assert sorted(o.quantity.value for o in desk.orders()) == [D(130), D(1755), D(1755)]


def test_a_retried_alert_does_not_send_its_children_again(desk: OptionDesk) -> None:
    desk.quote(OTM2, "100")
    bot = desk.bots.get(BOT)
    assert bot is not None
    intent = desk.parser.parse(b'{"action": "buy", "symbol": "NIFTY_CE", "qty": "3640"}')
    first = desk.planner.plan(bot, intent.intents[0], "alert:7:0:nifty")  # type: ignore[union-attr]
    again = desk.planner.plan(bot, intent.intents[0], "alert:7:0:nifty")  # type: ignore[union-attr]
    assert [p.command for p in first] == [p.command for p in again]
    assert len(desk.orders()) == 3
    assert desk.position(OTM2) == D(3640)


def _second_child_fails_once(desk: OptionDesk, monkeypatch: pytest.MonkeyPatch) -> list[Command]:
    """The venue link drops as the second child of a sliced order goes, once."""
    real = desk.engine.handle
    failed: list[Command] = []

    def handle(command: Command) -> Outcome:
        if (command.idempotency_key or "").endswith(":slice2") and not failed:
            failed.append(command)
            raise ConnectionError("the venue link dropped")
        return real(command)

    monkeypatch.setattr(desk.engine, "handle", handle)
    return failed


def _post(desk: OptionDesk, alert: dict[str, str]) -> int:
    answer = desk.intake.receive(desk.hook.token, json.dumps(alert).encode(), "127.0.0.1")
    assert answer.status == 200, answer.body
    return int(str(answer.body["alert_id"]))


def _fate(desk: OptionDesk, alert_id: int) -> InboxEntry:
    entry = desk.inbox.get(alert_id)
    assert entry is not None
    return entry


def _half_sent(monkeypatch: pytest.MonkeyPatch, alert: dict[str, str]) -> tuple[OptionDesk, int]:
    """A desk whose first try at ``alert`` (3,640 of OTM2) sent its first child (1,755) and
    failed at the second."""
    desk = OptionDesk(remote=True)  # each child stored as it is sent (on paper, the batch
    # would undo the first child with the second)
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    alert_id = _post(desk, alert)
    failed = _second_child_fails_once(desk, monkeypatch)
    assert desk.processor.drain() == 0
    assert failed
    assert desk.position(OTM2) == D(1755)
    return desk, alert_id


@pytest.mark.parametrize("freeze", [None, D(5000)], ids=["same freeze", "freeze raised"])
def test_a_target_position_retried_midway_through_its_children_ends_at_the_target(
    monkeypatch: pytest.MonkeyPatch, freeze: Decimal | None
) -> None:
    """The retry sends the first try's children. Planned afresh from what is held by then
    (1,755 filled), the target would give 1,885, whose first child (1,755) has the key of the
    child already filled: the position would end at 1,885, not 3,640. Nor does a freeze
    quantity raised meanwhile (an instrument-master refresh) send the first size whole."""
    desk, alert = _half_sent(
        monkeypatch, {"action": "buy", "symbol": "NIFTY_CE", "position_size": "3640"}
    )
    if freeze is not None:
        desk.market.instruments[OTM2] = replace(
            desk.market.instruments[OTM2], freeze_quantity=freeze
        )
    assert desk.processor.drain() == 1
    entry = _fate(desk, alert)
    assert entry.status is AlertStatus.EXECUTED, entry
    assert [r["quantity"] for r in rows(entry)] == ["1755", "1755", "130"]
    assert desk.position(OTM2) == D(3640)
    assert sorted(o.quantity.value for o in desk.orders()) == [D(130), D(1755), D(1755)]


def test_an_option_alert_retried_after_a_restart_without_a_spot_mark_completes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its contract is not resolved again (there is no spot mark yet after a restart): the
    retry sends the first try's children. (It used to be rejected no_spot, with 1,755 of
    3,640 live and no order listed in its fate.)"""
    desk, alert = _half_sent(monkeypatch, {"action": "buy", "symbol": "NIFTY_CE", "qty": "3640"})
    del desk.market.marks[SPOT]  # the feed has not spoken since the restart
    assert desk.processor.drain() == 1
    entry = _fate(desk, alert)
    assert entry.status is AlertStatus.EXECUTED, entry
    assert [(r["symbol"], r["quantity"]) for r in rows(entry)] == [
        (OTM2.value, "1755"),
        (OTM2.value, "1755"),
        (OTM2.value, "130"),
    ]
    assert desk.position(OTM2) == D(3640)


def test_a_sliced_alert_retried_midway_shows_its_exits_on_every_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The retry's rows come from the order as first planned: its stop, target and trailing
    distance are shown on each child (they are sent with it)."""
    alert = {
        "action": "buy",
        "symbol": "NIFTY_CE",
        "qty": "3640",
        "stop_loss": "80",
        "take_profit": "130",
        "trailing": "5%",
    }
    desk, alert_id = _half_sent(monkeypatch, alert)
    assert desk.processor.drain() == 1
    shown = [
        (r["quantity"], r["stop_loss"], r["take_profit"], r["trailing"])
        for r in rows(_fate(desk, alert_id))
    ]
    assert shown == [
        ("1755", "80", "130", "5%"),
        ("1755", "80", "130", "5%"),
        ("130", "80", "130", "5%"),
    ]


def test_a_sliced_alert_retried_too_late_lists_the_children_it_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk, alert = _half_sent(monkeypatch, {"action": "buy", "symbol": "NIFTY_CE", "qty": "3640"})
    desk.clock.advance(timedelta(minutes=5))  # the desk was down: the signal is stale now
    assert desk.processor.drain() == 1
    entry = _fate(desk, alert)
    # Partly executed, as a sliced order stopped midway is: DENIED, with the reason.
    assert (entry.status, entry.reason) == (AlertStatus.DENIED, "stale"), entry
    sent, refused = rows(entry)
    assert sent["ok"] is True
    assert sent["client_order_id"] == desk.orders()[0].client_order_id.value
    assert refused["ok"] is False
    assert str(refused["message"]).startswith("the rest of its sliced order was not sent")
    assert desk.position(OTM2) == D(1755)


def test_a_sliced_alert_sent_whole_then_retried_too_late_is_executed_not_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every child went before the first try failed (its fate was not stored): the stale
    retry must not say the rest was not sent (DENIED), since a trader reading that could
    send the order again by hand."""
    desk = OptionDesk(remote=True)
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    alert = _post(desk, {"action": "buy", "symbol": "NIFTY_CE", "qty": "3640"})
    real = desk.engine.handle

    def last_child_then_crash(command: Command) -> Outcome:
        outcome = real(command)
        if (command.idempotency_key or "").endswith(":slice3"):
            raise ConnectionError("the desk died before the alert's fate was stored")
        return outcome

    monkeypatch.setattr(desk.engine, "handle", last_child_then_crash)
    assert desk.processor.drain() == 0
    assert desk.position(OTM2) == D(3640)
    desk.clock.advance(timedelta(minutes=5))
    assert desk.processor.drain() == 1
    entry = _fate(desk, alert)
    assert entry.status is AlertStatus.EXECUTED, rows(entry)
    assert [r["ok"] for r in rows(entry)] == [True, True, True]
    assert desk.position(OTM2) == D(3640)


def test_a_reverse_retried_after_its_first_child_crossed_zero_completes_the_reverse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Long 1,040, a reverse sells 2,080 in two children (1,755 + 325). The first fills (short
    715) and the second fails; planned afresh, the retry would see a short and buy 1,430."""
    desk = OptionDesk(remote=True)
    desk.quote(FUT, "100")
    _post(desk, {"action": "buy", "symbol": "NIFTYFUT", "qty": "1040"})
    assert desk.processor.drain() == 1
    assert desk.position(FUT) == D(1040)
    alert = _post(desk, {"action": "reverse", "symbol": "NIFTYFUT"})
    failed = _second_child_fails_once(desk, monkeypatch)
    assert desk.processor.drain() == 0
    assert failed
    assert desk.position(FUT) == D(-715)
    assert desk.processor.drain() == 1
    entry = _fate(desk, alert)
    assert entry.status is AlertStatus.EXECUTED, entry
    assert [r["quantity"] for r in rows(entry)] == ["1755", "325"]
    assert desk.position(FUT) == D(-1040)


def test_children_that_only_fit_one_at_a_time_are_denied_as_a_list() -> None:
    desk = OptionDesk(limits=RiskLimits())  # the bot may hold at most 2,000
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    entry = desk.run({"action": "buy", "symbol": "NIFTY_CE", "qty": "3640"})
    assert entry.status is AlertStatus.DENIED, entry
    denied, note = rows(entry)
    assert (denied["quantity"], denied["ok"]) == ("1755", False)
    assert entry.reason == denied["code"] == "POSITION_LIMIT_EXCEEDED"
    assert note["message"] == (
        "order list denied at child 2 of 3: none sent; the other 2 children (1885 of 3640) not sent"
    )
    assert desk.position(OTM2) == D(0)
    assert [o.status.value for o in desk.orders()] == ["DENIED"]


def test_an_alert_whose_sliced_record_is_damaged_is_refused_and_sends_nothing(
    desk: OptionDesk,
) -> None:
    """Planned afresh it could trade twice; the planner refuses it with the reason."""
    desk.quote(OTM2, "100")
    bot = desk.bots.get(BOT)
    assert bot is not None
    key = "alert:7:0:nifty"
    desk.engine.note(bot.account_id, f"{key}:sliced", "OrderSliced", {"children": ["1", "2"]})
    intent = desk.parser.parse(b'{"action": "buy", "symbol": "NIFTY_CE", "qty": "3640"}')
    with pytest.raises(MappingError, match="cannot be read back") as refused:
        desk.planner.plan(bot, intent.intents[0], key)  # type: ignore[union-attr]
    assert refused.value.reason is AlertReason.BAD_VALUE
    assert desk.orders() == []


def test_a_target_sent_again_after_the_strike_moved_replaces_the_resting_order() -> None:
    desk = OptionDesk()
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    first = desk.run(
        {
            "action": "buy",
            "symbol": "NIFTY_CE",
            "position_size": "65",
            "type": "limit",
            "price": "90",
        }
    )
    assert first.status is AlertStatus.EXECUTED, first
    desk.clock.advance(timedelta(seconds=30))
    desk.quote(SPOT, "25940")  # the same symbol now names the 26,050 strike
    lower = InstrumentId("NIFTY26NOV26050CE.NFO")
    desk.quote(lower, "120")
    again = desk.run(
        {
            "action": "buy",
            "symbol": "NIFTY_CE",
            "position_size": "65",
            "type": "limit",
            "price": "110",
            "n": 2,
        }
    )
    assert again.status is AlertStatus.EXECUTED, again
    bot = desk.bots.get(desk.hook.bot_id)
    assert bot is not None
    live = desk.engine.open_orders(bot.account_id, bot.id)
    assert [(o.instrument_id, o.quantity.value) for o in live] == [(lower, D(65))]
    desk.quote(OTM2, "85")
    desk.quote(lower, "105")
    assert desk.position(OTM2) + desk.position(lower) == D(65)  # not 130
