"""Backtest throughput: bars per second of ``sma_cross`` through the full runner (every gate,
paper matching, ledger booking, equity curve, statistics), in process on one core.
DESIGN target: >= 1,000,000 bars/s.

The bars are a seeded random walk of hourly bars (a cross every few dozen bars, so orders and
fills are part of the measure). Loading (text to Decimal bars) is timed apart from the run.
Prints one table. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from algodesk.backtest.config import BacktestConfig
from algodesk.backtest.data import load_series
from algodesk.backtest.runner import Backtest
from algodesk.strategies.sma_cross import SmaCross, SmaCrossParams

TARGET = 1_000_000


def write_walk(path: Path, bars: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    price = 10_000  # in cents
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    lines = ["Date,Open,High,Low,Close,Volume"]
    for _ in range(bars):
        open_ = price
        close = max(100, open_ + rng.randint(-150, 152))
        high = max(open_, close) + rng.randint(0, 60)
        low = max(1, min(open_, close) - rng.randint(0, 60))
        prices = ",".join(f"{v / 100:.2f}" for v in (open_, high, low, close))
        lines.append(f"{moment.isoformat()},{prices},1000")
        price = close
        moment += timedelta(hours=1)
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "walk.csv"
        write_walk(path, args.bars)
        start = time.perf_counter()
        series = load_series(path)
        loaded = time.perf_counter() - start
    config = BacktestConfig(cash=Decimal(1_000_000), commission=Decimal("0.001"))
    start = time.perf_counter()
    runner = Backtest(SmaCross(SmaCrossParams(fast=10, slow=50)), [series], config)
    prepared = time.perf_counter() - start
    start = time.perf_counter()
    result = runner.run()
    ran = time.perf_counter() - start
    assert result.ledger_verified
    orders = len(result.orders)
    print(f"backtest: sma_cross 10/50 over {args.bars:,} hourly bars, {orders:,} orders, every")
    print(f"gate, paper matching, ledger booking (target {TARGET:,} bars/s)")
    print(f"{'phase':<34} {'seconds':>9} {'bars/s':>12} {'of target':>10}")
    rows = [
        ("load (CSV text to Decimal bars)", loaded),
        ("indicators (exact SMA signs)", prepared),
        ("run (engine, fills, ledger, stats)", ran),
        ("indicators + run", prepared + ran),
    ]
    for name, seconds in rows:
        rate = args.bars / seconds
        print(f"{name:<34} {seconds:>9.2f} {rate:>12,.0f} {rate / TARGET:>9.1%}")


if __name__ == "__main__":
    main()
