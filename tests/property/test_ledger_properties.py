"""Properties of booking: FIFO P&L equals a brute-force recomputation, postings always balance,
and equity is cash plus positions at marks, for random sequences of fills."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import BotId, InstrumentId
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.ledger.entries import imbalance
from algodesk.domain.ledger.verify import verify
from algodesk.domain.values import Currency, canonical_utc, money
from algodesk.services.ledger import LedgerService
from algodesk.testing.clock import FixedClock
from tests.conftest import ACCOUNT, make_fill
from tests.property.times import AWARE_TIMES

USD = Currency("USD")
INSTRUMENTS = [
    Instrument(InstrumentId("AAPL.NASDAQ"), AssetClass.EQUITY, USD, Decimal("0.01")),
    Instrument(
        InstrumentId("ESZ6.CME"), AssetClass.EQUITY, USD, Decimal("0.25"), multiplier=Decimal(50)
    ),
]
BOTS = [None, BotId("alpha"), BotId("beta")]

fill_spec = st.tuples(
    st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    st.integers(min_value=1, max_value=20),  # quantity
    st.integers(min_value=100, max_value=50_000),  # price in cents
    st.integers(min_value=0, max_value=500),  # fee in cents
    st.integers(min_value=0, max_value=len(INSTRUMENTS) - 1),
    st.integers(min_value=0, max_value=len(BOTS) - 1),
)


def brute_force_realized(fills: list[tuple[OrderSide, int, Decimal, Decimal]]) -> Decimal:
    """Unit by unit: every unit of a fill meets the oldest opposite unit, or queues."""
    units: deque[tuple[int, Decimal]] = deque()  # (sign, price) of each open unit
    realized = Decimal(0)
    for side, qty, px, multiplier in fills:
        sign = 1 if side is OrderSide.BUY else -1
        for _ in range(qty):
            if units and units[0][0] == -sign:
                open_sign, open_px = units.popleft()
                realized += (px - open_px) * open_sign * multiplier
            else:
                units.append((sign, px))
    return realized


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(fill_spec, min_size=1, max_size=40),
    marks=st.tuples(st.integers(100, 50_000), st.integers(100, 50_000)),
)
def test_booking_random_fills_keeps_every_ledger_invariant(
    specs: list[tuple[OrderSide, int, int, int, int, int]], marks: tuple[int, int]
) -> None:
    store = InMemoryStore()
    ledger = LedgerService(lambda: InMemoryUnitOfWork(store), FixedClock())
    ledger.deposit(ACCOUNT, money("1000000", USD), key="start")

    # FIFO books are per (instrument, bot): each bot closes only its own lots.
    per_book: dict[tuple[int, int], list[tuple[OrderSide, int, Decimal, Decimal]]] = {}
    cash = Decimal(1_000_000)
    position = {0: 0, 1: 0}
    fees = Decimal(0)
    for n, (side, qty, cents, fee_cents, i, b) in enumerate(specs, start=1):
        inst = INSTRUMENTS[i]
        px = Decimal(cents) / 100
        fee = Decimal(fee_cents) / 100
        fill = make_fill(n, side, str(qty), str(px), str(fee), instrument=inst.id, bot=BOTS[b])
        assert ledger.record_fill(fill, inst).new
        per_book.setdefault((i, b), []).append((side, qty, px, inst.multiplier))
        gross = qty * px * inst.multiplier
        cash += -gross if side is OrderSide.BUY else gross
        cash -= fee
        fees += fee
        position[i] += qty if side is OrderSide.BUY else -qty

    entries = ledger.entries(ACCOUNT)
    for entry in entries:
        assert imbalance(entry.postings) == {}, entry.label()
    assert verify(entries).ok

    summary = ledger.summary(ACCOUNT)
    expected_realized = sum((brute_force_realized(f) for f in per_book.values()), Decimal(0))
    assert summary.realized.get("USD", Decimal(0)) == expected_realized
    assert summary.fees.get("USD", Decimal(0)) == fees
    assert summary.realized_net("USD") == expected_realized - fees
    assert summary.cash["USD"] == cash

    mark_prices = {INSTRUMENTS[i].id: Decimal(marks[i]) / 100 for i in (0, 1)}
    equity = summary.equity(mark_prices).get("USD", Decimal(0))
    positions_value = sum(
        (position[i] * mark_prices[INSTRUMENTS[i].id] * INSTRUMENTS[i].multiplier for i in (0, 1)),
        Decimal(0),
    )
    assert equity == cash + positions_value
    # The accounting identity: equity = capital + realized - fees + unrealized.
    unrealized = summary.unrealized(mark_prices).get("USD", Decimal(0))
    assert equity == Decimal(1_000_000) + expected_realized - fees + unrealized

    # Bots partition the account: their equities add up to the account's.
    by_bot = [
        ledger.summary(ACCOUNT, bot).equity(mark_prices).get("USD", Decimal(0)) for bot in BOTS
    ]
    assert sum(by_bot, Decimal(0)) == equity


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([OrderSide.BUY, OrderSide.SELL]), st.integers(1, 9)),
        min_size=1,
        max_size=30,
    )
)
def test_fractional_quantities_balance_exactly(sides: list[tuple[OrderSide, int]]) -> None:
    store = InMemoryStore()
    ledger = LedgerService(lambda: InMemoryUnitOfWork(store), FixedClock())
    btc = Instrument(InstrumentId("BTCUSDT.BINANCE"), AssetClass.CRYPTO_SPOT, USD, Decimal("0.01"))
    for n, (side, k) in enumerate(sides, start=1):
        qty = str(Decimal(k) / Decimal(10**8))  # 1e-8 .. 9e-8 BTC
        ledger.record_fill(
            make_fill(n, side, qty, "65000.01", "0.00000001", instrument=btc.id), btc
        )
    entries = ledger.entries(ACCOUNT)
    assert all(imbalance(e.postings) == {} for e in entries)
    assert verify(entries).ok


@given(AWARE_TIMES)
def test_the_chain_writes_times_as_strftime_would(when: datetime) -> None:
    """The hashed text of a time must never change (stored hashes depend on it); SQLite
    stores times in the same text."""
    assert canonical_utc(when) == when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
