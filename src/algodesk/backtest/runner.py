"""The backtest runner: bars through the live engine, gates, paper matching and ledger.

Per bar of an instrument, in time order across instruments:

1. **open** (the clock at the bar's start, the mark at its open): orders decided at the previous
   close are sized and submitted through :meth:`Engine.handle` (every gate runs); the paper
   exchange then matches the working orders against the bar's path (open → extremes → close,
   :func:`~algodesk.domain.matching.bar_path`); an entry that filled gets its bracket (stop-loss
   and take-profit, one cancels the other, the stop-loss matched first unless configured
   otherwise), matched on the rest of the bar.
2. **close** (the clock at the bar's close, the mark at its close): the strategy decides.
   With ``fill_at=close`` its orders are submitted now and market orders fill at this close.

A bar where nothing is working, nothing is pending and the strategy is not active is skipped,
so a strategy with vectorised signals costs little per quiet bar. Fills are stamped with the
bar's start when made on its path, with its close when made at the close.

Sizing is resolved when the order is sent, on the price it is expected to fill at (the open,
or the close with ``fill_at=close``), adjusted by the configured slippage: ``all-in`` buys
``floor(cash / (price × (1 + commission rate)))`` lots.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.memory.store import DirectUnitOfWork, InMemoryStore
from algodesk.backtest.book import RunBook
from algodesk.backtest.config import BacktestConfig, ExitPriority, FillAt
from algodesk.backtest.data import Series
from algodesk.backtest.equity import Change, equity_curve
from algodesk.backtest.market import BacktestMarket, SimulatedClock
from algodesk.backtest.results import BacktestResult, EquityPoint, OrderRecord
from algodesk.backtest.stats import compute_stats
from algodesk.domain.commands import CancelOrder, SubmitOrder
from algodesk.domain.events import OrderFilled
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, ClientOrderId, InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.orders import OrderType, TimeInForce
from algodesk.domain.values import Currency, Price, Quantity, money
from algodesk.services.engine import Engine
from algodesk.services.ledger import LedgerService
from algodesk.services.risk_context import EngineLimits
from algodesk.strategies.base import (
    AllIn,
    BarData,
    Intent,
    IntentKind,
    PercentOfEquity,
    RiskPercent,
    Sizing,
    Strategy,
    Units,
)

__all__ = ["ACCOUNT", "Backtest", "Progress"]

ACCOUNT = AccountId("backtest")
Progress = Callable[[int, int], None]
_ZERO = Decimal(0)


@dataclass(slots=True)
class _Instrument:
    series: Series
    data: BarData
    instrument: Instrument
    columns: dict[str, Any]
    active: npt.NDArray[np.bool_] | None
    pending: list[Intent] = field(default_factory=list)
    working: set[ClientOrderId] = field(default_factory=set)
    brackets: dict[ClientOrderId, tuple[Decimal | None, Decimal | None]] = field(
        default_factory=dict
    )
    legs: set[ClientOrderId] = field(default_factory=set)


class _Context:
    """The :class:`~algodesk.strategies.base.BarContext` of one bar."""

    def __init__(self, run: Backtest, inst: _Instrument, index: int) -> None:
        self._run, self._inst, self._index = run, inst, index

    @property
    def instrument_id(self) -> InstrumentId:
        return self._inst.instrument.id

    @property
    def index(self) -> int:
        return self._index

    @property
    def time(self) -> datetime:
        return self._inst.series.bars[self._index].ts_close

    @property
    def bar(self) -> Any:
        return self._inst.series.bars[self._index]

    @property
    def position(self) -> Decimal:
        return self._run.book.positions.get(self._inst.instrument.id, _ZERO)

    @property
    def cash(self) -> Decimal:
        return self._run.book.cash

    @property
    def equity(self) -> Decimal:
        return self._run.equity_now()

    @property
    def working_orders(self) -> Sequence[str]:
        return sorted(c.value for c in self._inst.working)

    def value(self, name: str, offset: int = 0) -> Any:
        if offset > 0:
            raise ValueError(f"value({name!r}, offset={offset}): a later bar is the future")
        try:
            column = self._inst.columns[name]
        except KeyError:
            known = ", ".join(sorted(self._inst.columns))
            raise KeyError(f"no indicator {name!r}; the strategy computed: {known}") from None
        at = self._index + offset
        return column[at] if at >= 0 else None

    def _add(self, kind: IntentKind, **values: Any) -> None:
        intent = Intent(kind, self._inst.instrument.id, self.time, **values)
        self._run.decide(self._inst, intent)

    def buy(self, quantity: Decimal | None = None, **kw: Any) -> None:
        self._add(IntentKind.BUY, quantity=quantity, **kw)

    def sell(self, quantity: Decimal | None = None, **kw: Any) -> None:
        self._add(IntentKind.SELL, quantity=quantity, **kw)

    def target(self, quantity: Decimal, *, tag: str = "") -> None:
        self._add(IntentKind.TARGET, quantity=quantity, tag=tag)

    def close(self, *, tag: str = "") -> None:
        self._add(IntentKind.CLOSE, tag=tag)

    def cancel(self, order_id: str | None = None) -> None:
        self._add(IntentKind.CANCEL, order_id=order_id)


class Backtest:
    """One run of ``strategy`` over ``series`` with ``config``; call :meth:`run` once."""

    def __init__(
        self, strategy: Strategy, series: Sequence[Series], config: BacktestConfig
    ) -> None:
        if not series:
            raise ValueError("expected at least one series of bars")
        ids = [s.instrument_id for s in series]
        if len(set(ids)) != len(ids):
            raise ValueError(f"expected one file per instrument, got {', '.join(map(str, ids))}")
        self.strategy = strategy
        self.config = config
        self._series = [_clip(s, config) for s in series]
        venue = Venue(ids[0].venue.value)
        ccy = Currency(config.currency)
        instruments = [
            Instrument(s.instrument_id, AssetClass.EQUITY, ccy, s.tick_size, config.lot_size)
            for s in self._series
        ]
        start = min(s.starts[0] for s in self._series)
        self.clock = SimulatedClock(start)
        self.market = BacktestMarket(instruments)
        self._store = InMemoryStore()
        factory = lambda: DirectUnitOfWork(self._store)  # noqa: E731  (one thread: no copies)
        paper_config = PaperBrokerConfig(venue=venue, fill_model=config.fill_model())
        self.paper = PaperBroker(paper_config, self.market.instruments, self.clock.now)
        self.paper.hold_positions([])  # a backtest starts flat
        self.ledger = LedgerService(factory, self.clock)
        self.engine = Engine(
            factory,
            self.clock,
            self.market,
            {venue: self.paper},
            EngineLimits({ACCOUNT: config.limits}),
            self.ledger,
            fees={venue: config.fee_model},
        )
        self.ledger.deposit(ACCOUNT, money(config.cash, ccy), memo="backtest cash")
        self.book = RunBook(config.cash, {i.id: i.multiplier for i in instruments})
        self._by_id: dict[InstrumentId, _Instrument] = {}
        self._bar_of: dict[InstrumentId, int] = {}
        self._tags: dict[ClientOrderId, str] = {}
        self._seq = itertools.count(1)
        self._notes: list[str] = []
        self.engine.subscribe(self._on_event)
        for s, inst in zip(self._series, instruments, strict=True):
            data = BarData(s.instrument_id, s.timeframe, s.bars)
            columns = {
                k: np.asarray(v) if not isinstance(v, list) else v
                for k, v in strategy.indicators(data).items()
            }
            for name, column in columns.items():
                if len(column) != len(s.bars):
                    raise ValueError(
                        f"indicator {name!r}: expected {len(s.bars)} values, was {len(column)}"
                    )
            mask = strategy.active(data, columns)
            active = None if mask is None else np.asarray(mask, dtype=bool)
            self._by_id[s.instrument_id] = _Instrument(s, data, inst, columns, active)

    # -- the loop ----------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> BacktestResult:
        steps = _timeline(self._series)
        total = len(steps)
        insts = [self._by_id[s.instrument_id] for s in self._series]
        every = max(total // 200, 1)
        changes: list[Change] = [(-1, self.book.cash, {})]
        step = 0
        while step < total:
            # Bars closing together: every open phase first, then every close phase.
            end = step + 1
            close_time = self._close_time(steps[step])
            while end < total and self._close_time(steps[end]) == close_time:
                end += 1
            bars: list[tuple[_Instrument, int, bool]] = []
            for which, index in steps[step:end]:
                inst = insts[which]
                quiet = not inst.pending and not inst.working
                skip = quiet and inst.active is not None and not inst.active[index]
                bars.append((inst, index, not skip))
            before = self.book.cash, len(self.book.trades)
            self._step(bars)
            if (self.book.cash, len(self.book.trades)) != before:
                changes.append((end - 1, self.book.cash, dict(self.book.positions)))
            if progress is not None and step // every != end // every:
                progress(end, total)
            step = end
        if progress is not None:
            progress(total, total)
        for inst in insts:
            for intent in inst.pending:
                self._notes.append(
                    f"{intent.kind} {intent.instrument_id} decided at "
                    f"{intent.decided_at.isoformat()} was not sent: no bar after it"
                )
        return self._result(steps, changes)

    def _step(self, bars: Sequence[tuple[_Instrument, int, bool]]) -> None:
        """Bars closing together: every open phase, then every close phase, in the timeline's
        order. A skipped bar (quiet, nothing working) runs neither, but its price still moves
        as it would have (its open, then its close): another instrument's sizing values the
        positions at their marks, so skipping must not change a single order."""
        for inst, index, busy in bars:
            if busy:
                self._open_phase(inst, index)
            else:
                bar = inst.series.bars[index]
                self.market.set_mark(inst.instrument.id, bar.open, inst.series.starts[index])
        for inst, index, busy in bars:
            if busy:
                self._close_phase(inst, index)
            else:
                bar = inst.series.bars[index]
                self.market.set_mark(inst.instrument.id, bar.close, bar.ts_close)

    def _close_time(self, step: tuple[int, int]) -> datetime:
        return self._series[step[0]].bars[step[1]].ts_close

    def _open_phase(self, inst: _Instrument, index: int) -> None:
        bar = inst.series.bars[index]
        iid = inst.instrument.id
        self._bar_of[iid] = index
        self.clock.set(inst.series.starts[index])
        self.market.set_mark(iid, bar.open, inst.series.starts[index])
        pending, inst.pending = inst.pending, []
        for intent in pending:
            self._send(inst, intent, bar.open)
        if inst.working:
            self.paper.on_bar(bar, fill_at_close=self.config.fill_at is FillAt.CLOSE)
            self.engine.pump()
            self._after_fills(inst, bar, index, within_bar=True)

    def _close_phase(self, inst: _Instrument, index: int) -> None:
        bar = inst.series.bars[index]
        iid = inst.instrument.id
        self.clock.set(bar.ts_close)
        self.market.set_mark(iid, bar.close, bar.ts_close)
        if inst.active is not None and not inst.active[index]:
            return
        self.strategy.on_bar(_Context(self, inst, index))
        if self.config.fill_at is FillAt.CLOSE and inst.pending:
            self.paper.on_bar(bar, fill_at_close=True, only=frozenset())
            pending, inst.pending = inst.pending, []
            for intent in pending:
                self._send(inst, intent, bar.close)
            self._after_fills(inst, bar, index, within_bar=False)

    def decide(self, inst: _Instrument, intent: Intent) -> None:
        """A strategy's instruction: sent at the next open, or now with ``fill_at=close``."""
        inst.pending.append(intent)

    # -- orders ------------------------------------------------------------------------------

    def _coid(self, tag: str) -> ClientOrderId:
        coid = ClientOrderId(f"BT{next(self._seq):010d}")
        self._tags[coid] = tag
        return coid

    def _send(self, inst: _Instrument, intent: Intent, reference: Decimal) -> None:
        iid = inst.instrument.id
        position = self.book.positions.get(iid, _ZERO)
        if intent.kind in (IntentKind.CANCEL, IntentKind.CLOSE):
            targets = (
                [ClientOrderId(intent.order_id)]
                if intent.order_id is not None
                else sorted(inst.working, key=lambda c: c.value)
            )
            for coid in targets:
                self.engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=coid))
            self._forget_terminal(inst)
            if intent.kind is IntentKind.CANCEL or position == 0:
                return
            side = OrderSide.SELL if position > 0 else OrderSide.BUY
            self._submit(inst, intent, side, abs(position), reduce_only=True)
            return
        if intent.kind is IntentKind.TARGET:
            assert intent.quantity is not None
            delta = intent.quantity - position
            if delta == 0:
                return
            side = OrderSide.BUY if delta > 0 else OrderSide.SELL
            shrinks = abs(intent.quantity) < abs(position) and (intent.quantity * position >= 0)
            if delta * position < 0:
                self._drop_bracket(inst)
            self._submit(inst, intent, side, abs(delta), reduce_only=shrinks)
            return
        side = OrderSide.BUY if intent.kind is IntentKind.BUY else OrderSide.SELL
        quantity = intent.quantity
        if quantity is None and side is OrderSide.SELL and position > 0:
            quantity = position  # "sell" while long: the whole position
        if quantity is None:
            quantity = self._size(inst, intent, side, reference)
        if quantity <= 0:
            self._notes.append(
                f"{intent.kind} {iid} decided at {intent.decided_at.isoformat()}: "
                f"sizing {intent.sizing or self.config.sizing} gives no quantity at {reference}"
            )
            return
        closes = (side is OrderSide.SELL and 0 < quantity <= position) or (
            side is OrderSide.BUY and 0 < quantity <= -position
        )
        if (side is OrderSide.SELL) == (position > 0) and position != 0:
            self._drop_bracket(inst)
        self._submit(inst, intent, side, quantity, reduce_only=closes)

    def _drop_bracket(self, inst: _Instrument) -> None:
        """The strategy's own exit replaces the position's bracket: its legs are canceled
        first (they would otherwise count ahead of the exit, and outlive the position)."""
        for coid in sorted(inst.legs, key=lambda c: c.value):
            self.engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=coid))
        self._forget_terminal(inst)

    def _size(self, inst: _Instrument, intent: Intent, side: OrderSide, ref: Decimal) -> Decimal:
        sizing: Sizing = intent.sizing or self.config.sizing
        lot = inst.instrument.lot_size
        if isinstance(sizing, Units):
            return _floor(sizing.quantity, lot)
        price = intent.limit or intent.stop or ref
        with localcontext() as ctx:
            ctx.prec = 60
            if self.config.slippage_bps:
                price = price * (1 + self.config.slippage_bps / 10000)
            unit = price * inst.instrument.multiplier * (1 + self.config.fee_rate)
            if isinstance(sizing, AllIn):
                return _floor(self.book.cash / unit, lot)
            equity = self.equity_now()
            if isinstance(sizing, PercentOfEquity):
                return _floor(equity * sizing.percent / 100 / unit, lot)
            assert isinstance(sizing, RiskPercent)
            if intent.stop_loss is None or intent.stop_loss == price:
                self._notes.append(f"risk sizing for {inst.instrument.id} needs a stop_loss")
                return _ZERO
            risk = abs(price - intent.stop_loss) * inst.instrument.multiplier
            return _floor(equity * sizing.percent / 100 / risk, lot)

    def _submit(
        self,
        inst: _Instrument,
        intent: Intent,
        side: OrderSide,
        quantity: Decimal,
        *,
        reduce_only: bool,
        oco_with: ClientOrderId | None = None,
    ) -> ClientOrderId | None:
        """Submit through the engine; the order's id when it is working."""
        order_type = OrderType.MARKET
        if intent.limit is not None and intent.stop is not None:
            order_type = OrderType.STOP_LIMIT
        elif intent.limit is not None:
            order_type = OrderType.LIMIT
        elif intent.stop is not None:
            order_type = OrderType.STOP
        coid = self._coid(intent.tag)
        outcome = self.engine.handle(
            SubmitOrder(
                account_id=ACCOUNT,
                instrument_id=inst.instrument.id,
                side=side,
                order_type=order_type,
                quantity=Quantity(quantity),
                price=Price(intent.limit) if intent.limit is not None else None,
                trigger_price=Price(intent.stop) if intent.stop is not None else None,
                time_in_force=TimeInForce.GTC,
                reduce_only=reduce_only,
                client_order_id=coid,
                oco_with=oco_with,
            )
        )
        if not outcome.ok:
            return None
        inst.working.add(coid)
        if intent.stop_loss is not None or intent.take_profit is not None:
            inst.brackets[coid] = (intent.stop_loss, intent.take_profit)
        self._forget_terminal(inst)
        return coid if coid in inst.working else None

    def _forget_terminal(self, inst: _Instrument) -> None:
        if not inst.working:
            return
        open_ids = {o.client_order_id for o in self.engine.open_orders(ACCOUNT)}
        inst.working &= open_ids
        inst.legs &= open_ids

    def _after_fills(self, inst: _Instrument, bar: Any, index: int, *, within_bar: bool) -> None:
        """Place the brackets of entries that filled; cancel leftover legs once flat."""
        self._forget_terminal(inst)
        done = [c for c in inst.brackets if c not in inst.working]
        placed: set[ClientOrderId] = set()
        for entry in done:
            stop_loss, take_profit = inst.brackets.pop(entry)
            placed |= self._bracket(inst, entry, stop_loss, take_profit)
        if placed and within_bar:
            self.paper.on_bar(bar, only=frozenset(placed))
            self.engine.pump()
            self._forget_terminal(inst)
        if self.book.positions.get(inst.instrument.id, _ZERO) == 0 and inst.legs:
            self._drop_bracket(inst)

    def _bracket(
        self,
        inst: _Instrument,
        entry: ClientOrderId,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
    ) -> set[ClientOrderId]:
        position = self.book.positions.get(inst.instrument.id, _ZERO)
        if position == 0:
            return set()
        side = OrderSide.SELL if position > 0 else OrderSide.BUY
        legs: list[tuple[str, Intent]] = []
        tag = self._tags.get(entry, "")
        if stop_loss is not None:
            legs.append(
                (
                    "stop_loss",
                    Intent(
                        IntentKind.SELL,
                        inst.instrument.id,
                        self.clock.now(),
                        stop=stop_loss,
                        tag=f"{tag} stop-loss".strip(),
                    ),
                )
            )
        if take_profit is not None:
            legs.append(
                (
                    "take_profit",
                    Intent(
                        IntentKind.SELL,
                        inst.instrument.id,
                        self.clock.now(),
                        limit=take_profit,
                        tag=f"{tag} take-profit".strip(),
                    ),
                )
            )
        ids: dict[str, ClientOrderId] = {}
        for name, leg in legs:
            partner = next(iter(ids.values()), None)
            coid = self._submit(inst, leg, side, abs(position), reduce_only=True, oco_with=partner)
            if coid is not None:
                ids[name] = coid
        inst.legs |= set(ids.values())
        if len(ids) == 2:
            first, second = ids["stop_loss"], ids["take_profit"]
            if self.config.exit_priority is ExitPriority.TAKE_PROFIT:
                first, second = second, first
            self.paper.one_cancels_other(first, second)
        return set(ids.values())

    # -- events and results ------------------------------------------------------------------

    def _on_event(self, item: object) -> None:
        if isinstance(item, OrderFilled):
            fill = item.fill
            self.book.apply(fill, self._bar_of.get(fill.instrument_id, 0))

    def equity_now(self) -> Decimal:
        marks = {
            iid: m.price for iid in self.book.positions if (m := self.market.mark(iid)) is not None
        }
        return self.book.equity(marks)

    def _result(
        self,
        steps: Sequence[tuple[int, int]],
        changes: list[Change],
    ) -> BacktestResult:
        last_closes = {
            s.instrument_id: self._by_id[s.instrument_id].series.bars[-1].close
            for s in self._series
        }
        last_bars = {s.instrument_id: len(s.bars) - 1 for s in self._series}
        curve: list[EquityPoint] = equity_curve(self._series, steps, changes, self.config.cash)
        final = self.book.equity(last_closes)
        verified = self._reconcile(last_closes)
        with DirectUnitOfWork(self._store) as uow:
            stored = uow.orders.list(ACCOUNT)
        orders = [
            OrderRecord(
                order_id=o.client_order_id.value,
                instrument=o.instrument_id.symbol,
                side=o.side.value,
                order_type=o.order_type.value,
                quantity=o.quantity.value,
                status=o.status.value,
                created_at=o.created_at,
                price=o.price.value if o.price else None,
                trigger_price=o.trigger_price.value if o.trigger_price else None,
                filled_quantity=o.filled_quantity.value,
                avg_fill_price=o.avg_fill_price.value if o.avg_fill_price else None,
                reason=o.last_reason,
                tag=self._tags.get(o.client_order_id, ""),
            )
            for o in stored
        ]
        prices = {
            s.symbol: [
                (b.ts_close, float(b.open), float(b.high), float(b.low), float(b.close))
                for b in s.bars
            ]
            for s in self._series
        }
        trades = list(self.book.trades)
        open_trades = self.book.open_trades(last_closes, last_bars)
        return BacktestResult(
            strategy=self.strategy.name or type(self.strategy).__name__,
            params=_params(self.strategy),
            config={**self.config.describe(), "notes": [*self._notes, *_refusals(orders)]},
            trades=trades,
            open_trades=open_trades,
            orders=orders,
            equity=curve,
            initial_cash=self.config.cash,
            final_equity=final,
            prices=prices,
            ledger_verified=verified,
            stats=compute_stats(curve, [*trades, *open_trades], self.config.cash),
        )

    def _reconcile(self, marks: Mapping[InstrumentId, Decimal]) -> bool:
        """The ledger's chain verifies, and it agrees with the run's book on cash and
        positions; a disagreement is a bug, raised, never reported as a result."""
        report = self.ledger.verify()
        summary = self.engine.book(ACCOUNT)
        cash = summary.cash.get(self.config.currency, _ZERO)
        held = {i: p.quantity for i, p in summary.positions.items() if p.quantity}
        mine = {i: q for i, q in self.book.positions.items() if q}
        if cash != self.book.cash or held != mine:
            raise AssertionError(
                f"ledger and run disagree: cash {cash} vs {self.book.cash}, "
                f"positions {held} vs {mine}"
            )
        return bool(report.ok)


def _refusals(orders: Sequence[OrderRecord]) -> list[str]:
    """One line per refusal code (denied by a gate, rejected by the venue), with its count
    and its first order, so a run with fewer trades than expected says why."""
    first: dict[str, OrderRecord] = {}
    counts: dict[str, int] = {}
    for order in orders:
        if order.status not in ("DENIED", "REJECTED"):
            continue
        code = (order.reason or order.status).split(":", 1)[0]
        counts[code] = counts.get(code, 0) + 1
        first.setdefault(code, order)
    return [
        f"{counts[code]} order(s) {o.status.lower()} {code}; the first: {o.side} {o.quantity} "
        f"{o.instrument} at {o.created_at.isoformat()}: {o.reason}"
        for code, o in first.items()
    ]


def _floor(value: Decimal, lot: Decimal) -> Decimal:
    if value <= 0:
        return _ZERO
    return (value / lot).to_integral_value(rounding=ROUND_DOWN) * lot


def _params(strategy: Strategy) -> dict[str, Any]:
    params = strategy.params
    fields = getattr(params, "__dataclass_fields__", {})
    return {name: getattr(params, name) for name in fields}


def _clip(series: Series, config: BacktestConfig) -> Series:
    if config.start is None and config.end is None:
        return series
    keep = [
        i
        for i, b in enumerate(series.bars)
        if (config.start is None or series.starts[i] >= config.start)
        and (config.end is None or series.starts[i] <= config.end)
    ]
    if not keep:
        raise ValueError(
            f"{series.source}: no bars between {config.start} and {config.end} "
            f"(the file runs {series.starts[0]} .. {series.starts[-1]})"
        )
    return Series(
        series.instrument_id,
        series.timeframe,
        [series.bars[i] for i in keep],
        [series.starts[i] for i in keep],
        series.tick_size,
        series.source,
    )


def _timeline(series: Sequence[Series]) -> list[tuple[int, int]]:
    """(series number, bar number) in time order of the bars' closes; ties by series order."""
    if len(series) == 1:
        return [(0, i) for i in range(len(series[0].bars))]
    keys = [(b.ts_close, n, i) for n, s in enumerate(series) for i, b in enumerate(s.bars)]
    keys.sort()
    return [(n, i) for _, n, i in keys]
