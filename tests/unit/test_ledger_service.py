"""The ledger service over in-memory storage: idempotent keys, cash checks, bots, conflicts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import BotId
from algodesk.domain.ledger.entries import EntryKind
from algodesk.domain.portfolio import ALL_BOTS, summarize
from algodesk.domain.values import Currency, money
from algodesk.ports.storage import ChainConflictError
from algodesk.services.ledger import InsufficientCashError, LedgerService
from algodesk.testing.clock import FixedClock
from tests.conftest import AAPL, ACCOUNT, make_fill

USD = Currency("USD")
BOT = BotId("alpha")


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def ledger(store: InMemoryStore) -> LedgerService:
    return LedgerService(lambda: InMemoryUnitOfWork(store), FixedClock())


def test_a_key_makes_a_deposit_idempotent(ledger: LedgerService) -> None:
    first = ledger.deposit(ACCOUNT, money("1000", USD), key="wire-42")
    again = ledger.deposit(ACCOUNT, money("1000", USD), key="wire-42")
    assert first.new
    assert not again.new
    assert again.entry == first.entry
    assert ledger.summary(ACCOUNT).cash == {"USD": Decimal(1000)}


def test_a_retried_withdrawal_answers_as_the_first_even_when_cash_is_gone(
    ledger: LedgerService,
) -> None:
    ledger.deposit(ACCOUNT, money("100", USD))
    first = ledger.withdraw(ACCOUNT, money("100", USD), key="payout-1")
    again = ledger.withdraw(ACCOUNT, money("100", USD), key="payout-1")
    assert (first.new, again.new) == (True, False)
    assert again.entry == first.entry


def test_a_replayed_fill_books_nothing(ledger: LedgerService) -> None:
    fill = make_fill(1, OrderSide.BUY, "10", "100", "1")
    assert ledger.record_fill(fill, AAPL).new
    replay = ledger.record_fill(fill, AAPL)
    assert not replay.new
    assert replay.entry.kind is EntryKind.FILL
    assert len(ledger.entries(ACCOUNT)) == 1


def test_withdrawals_and_allocations_cannot_exceed_cash(ledger: LedgerService) -> None:
    ledger.deposit(ACCOUNT, money("1000", USD))
    ledger.allocate(ACCOUNT, BOT, money("600", USD))
    with pytest.raises(InsufficientCashError, match=r"holds 400 USD in cash, asked for 500 USD"):
        ledger.withdraw(ACCOUNT, money("500", USD))
    with pytest.raises(InsufficientCashError, match="bot alpha holds 600 USD"):
        ledger.allocate(ACCOUNT, BOT, money("-700", USD))
    ledger.allocate(ACCOUNT, BOT, money("-100", USD))
    ledger.withdraw(ACCOUNT, money("500", USD))
    assert ledger.summary(ACCOUNT).cash == {"USD": Decimal(500)}
    assert ledger.summary(ACCOUNT, BOT).cash == {"USD": Decimal(500)}
    assert ledger.summary(ACCOUNT, None).cash == {"USD": Decimal(0)}
    assert ledger.verify().ok


def test_fees_and_adjustments_are_new_entries_with_reasons(ledger: LedgerService) -> None:
    ledger.deposit(ACCOUNT, money("100", USD))
    ledger.charge_fee(ACCOUNT, money("2.5", USD), "platform fee, November")
    ledger.adjust(ACCOUNT, money("-0.5", USD), "broker rounding, contract note 123")
    with pytest.raises(ValueError, match="a reason"):
        ledger.adjust(ACCOUNT, money("1", USD), " ")
    summary = ledger.summary(ACCOUNT)
    assert summary.cash == {"USD": Decimal(97)}
    assert summary.fees == {"USD": Decimal("2.5")}
    assert [e.kind for e in ledger.entries(ACCOUNT)] == [
        EntryKind.DEPOSIT,
        EntryKind.FEE,
        EntryKind.ADJUSTMENT,
    ]


def test_a_second_writer_cannot_fork_the_chain(store: InMemoryStore) -> None:
    one = LedgerService(lambda: InMemoryUnitOfWork(store), FixedClock())
    two = LedgerService(lambda: InMemoryUnitOfWork(store), FixedClock())
    one.deposit(ACCOUNT, money("1", USD))
    two.deposit(ACCOUNT, money("1", USD))  # catches up from storage before writing
    one.record_fill(make_fill(1), AAPL)  # `one` catches up too
    assert [e.seq for e in one.entries(ACCOUNT)] == [1, 2, 3]
    assert one.verify().ok


def test_a_stale_book_is_refused_by_storage_and_reloaded(store: InMemoryStore) -> None:
    ledger = LedgerService(lambda: InMemoryUnitOfWork(store), FixedClock())
    ledger.deposit(ACCOUNT, money("1", USD))
    # Someone appends behind the service's back by forging the stored head forward.
    from algodesk.domain.ledger.verify import ChainHead

    store.heads[ACCOUNT] = ChainHead(1, "f" * 64)
    with pytest.raises(ChainConflictError):
        ledger.deposit(ACCOUNT, money("1", USD))
    assert not ledger.verify().ok  # the head no longer matches the chain: reported, not hidden


def test_summary_of_a_short_position(ledger: LedgerService) -> None:
    ledger.deposit(ACCOUNT, money("10000", USD))
    ledger.record_fill(make_fill(1, OrderSide.SELL, "10", "50", "1"), AAPL)
    summary = ledger.summary(ACCOUNT)
    (pos,) = summary.open_positions
    assert pos.quantity == Decimal(-10)
    assert pos.average_price == Decimal(50)
    marks = {AAPL.id: Decimal(45)}
    assert summary.unrealized(marks) == {"USD": Decimal(50)}
    assert summary.equity(marks) == {"USD": Decimal(10000 + 500 - 1 - 450)}


def test_each_bot_closes_only_its_own_lots(ledger: LedgerService) -> None:
    beta = BotId("beta")
    ledger.deposit(ACCOUNT, money("10000", USD))
    ledger.record_fill(make_fill(1, OrderSide.BUY, "10", "100", bot=BOT), AAPL)
    ledger.record_fill(make_fill(2, OrderSide.SELL, "10", "110", bot=beta), AAPL)
    marks = {AAPL.id: Decimal(110)}
    alpha_view, beta_view = ledger.summary(ACCOUNT, BOT), ledger.summary(ACCOUNT, beta)
    assert alpha_view.realized == {}
    assert alpha_view.unrealized(marks) == {"USD": Decimal(100)}
    assert beta_view.realized == {}
    assert beta_view.open_positions[0].average_price == Decimal(110)
    assert beta_view.unrealized(marks) == {"USD": Decimal(0)}
    account = ledger.summary(ACCOUNT)
    assert account.open_positions == []  # net flat at the broker
    assert account.equity(marks) == {"USD": Decimal(10100)}


def test_fills_at_computed_average_prices_balance_exactly(ledger: LedgerService) -> None:
    from algodesk.domain.fills import Fill
    from algodesk.domain.values import Price

    third = Decimal(100) / Decimal(3)  # 28 significant digits, as an adapter's average might be
    buy = make_fill(1, OrderSide.BUY, "1.5", "1")
    sell = make_fill(2, OrderSide.SELL, "0.7", "1")
    ledger.record_fill(Fill(**{**_fields(buy), "price": Price(third)}), AAPL)
    ledger.record_fill(Fill(**{**_fields(sell), "price": Price(Decimal(200) / Decimal(7))}), AAPL)
    assert ledger.verify().ok


def _fields(fill: object) -> dict[str, object]:
    return {name: getattr(fill, name) for name in fill.__dataclass_fields__}  # type: ignore[attr-defined]


def test_a_summary_moves_on_with_the_ledger_and_one_given_out_never_changes(
    ledger: LedgerService,
) -> None:
    ledger.deposit(ACCOUNT, money("10000", USD))
    ledger.allocate(ACCOUNT, BOT, money("5000", USD))
    ledger.record_fill(make_fill(1, OrderSide.BUY, "10", "100", "1", bot=BOT), AAPL)
    first, first_bot = ledger.summary(ACCOUNT), ledger.summary(ACCOUNT, BOT)
    assert ledger.summary(ACCOUNT) is first  # nothing new: the same one
    ledger.record_fill(make_fill(2, OrderSide.SELL, "4", "110", "1", bot=BOT), AAPL)
    ledger.withdraw(ACCOUNT, money("100", USD))
    later, later_bot = ledger.summary(ACCOUNT), ledger.summary(ACCOUNT, BOT)
    # What reading every entry again gives, for the account and for the bot.
    for moved, whose in ((later, ALL_BOTS), (later_bot, BOT)):
        full = summarize(ledger.entries(ACCOUNT), whose)
        assert (moved.cash, moved.realized, moved.fees, moved.entries) == (
            full.cash,
            full.realized,
            full.fees,
            full.entries,
        )
        assert moved.positions == full.positions
    # The earlier ones still say what they said.
    assert first.cash == {"USD": Decimal(10000 - 1000 - 1)}
    assert first.positions[AAPL.id].quantity == Decimal(10)
    assert first_bot.cash == {"USD": Decimal(5000 - 1000 - 1)}
    assert later.positions[AAPL.id].quantity == Decimal(6)
    assert later.cash == {"USD": Decimal(10000 - 1000 - 1 + 440 - 1 - 100)}


def test_a_summary_of_a_shorter_chain_is_read_afresh() -> None:
    """A summary kept for a longer chain than the one read now (a reader's older snapshot, or
    another database) is not moved backwards: the chain read is summed afresh."""
    stores = [InMemoryStore()]
    ledger = LedgerService(lambda: InMemoryUnitOfWork(stores[-1]), FixedClock())
    ledger.deposit(ACCOUNT, money("10", USD))
    ledger.deposit(ACCOUNT, money("20", USD))
    assert ledger.summary(ACCOUNT).cash == {"USD": Decimal(30)}
    stores.append(InMemoryStore())  # the storage now holds a chain of one entry
    ledger.forget(ACCOUNT)
    ledger.deposit(ACCOUNT, money("5", USD))
    assert ledger.summary(ACCOUNT).cash == {"USD": Decimal(5)}


def test_the_money_put_into_a_book_counts_deposits_withdrawals_and_allocations(
    ledger: LedgerService,
) -> None:
    ledger.deposit(ACCOUNT, money("10000", USD))
    ledger.allocate(ACCOUNT, BOT, money("4000", USD))
    ledger.withdraw(ACCOUNT, money("1000", USD))
    ledger.record_fill(make_fill(1, OrderSide.BUY, "10", "100", "1", bot=BOT), AAPL)  # trading
    assert ledger.summary(ACCOUNT).contributed("USD") == Decimal(9000)
    assert ledger.summary(ACCOUNT, BOT).contributed("USD") == Decimal(4000)
    assert ledger.summary(ACCOUNT, None).contributed("USD") == Decimal(5000)  # unallocated
