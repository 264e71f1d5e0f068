"""The equity curve of a run: at each bar close, cash plus every position at its last close."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext

from algodesk.backtest.data import Series
from algodesk.backtest.results import EquityPoint
from algodesk.domain.identifiers import InstrumentId

__all__ = ["Change", "equity_curve"]

Change = tuple[int, Decimal, dict[InstrumentId, Decimal]]  # step, cash, positions after it


def equity_curve(
    series: Sequence[Series],
    steps: Sequence[tuple[int, int]],
    changes: Sequence[Change],
    cash: Decimal,
) -> list[EquityPoint]:
    """One point per distinct bar close (the last step at that time), from the state recorded
    after each step that changed it (``changes``, in step order)."""
    points: list[EquityPoint] = []
    last: dict[InstrumentId, Decimal] = {}
    positions: dict[InstrumentId, Decimal] = {}
    pending = iter(changes)
    upcoming = next(pending, None)
    with localcontext() as ctx:
        ctx.prec = 60
        for step, (which, index) in enumerate(steps):
            s = series[which]
            bar = s.bars[index]
            last[s.instrument_id] = bar.close
            while upcoming is not None and upcoming[0] <= step:
                _, cash, positions = upcoming
                upcoming = next(pending, None)
            exposure = Decimal(0)
            for iid, qty in positions.items():
                if qty:
                    exposure += abs(qty * last[iid])
            equity = cash + sum(
                (qty * last[iid] for iid, qty in positions.items() if qty), Decimal(0)
            )
            point = EquityPoint(bar.ts_close, equity, cash, exposure)
            if points and points[-1].time == bar.ts_close:
                points[-1] = point
            else:
                points.append(point)
    return points
