"""Parameter sweeps: one backtest per point of a grid, on a local process pool or on Ray.

``--grid fast=5,10,20 --grid slow=50,100`` runs the 6 combinations. A combination the
strategy refuses (``fast >= slow``) is a row with its error, not a failed sweep; so is a
point whose run raises (a user strategy's bug at some parameters) or whose worker process
dies: the other points' rows are kept. Each worker loads the data once. Ray is used only when
asked (``--executor ray``) and installed (the ``ray`` extra).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from algodesk.backtest.config import BacktestConfig
from algodesk.backtest.data import Series, load_series
from algodesk.backtest.runner import Backtest
from algodesk.strategies import build_strategy
from algodesk.strategies.base import ParamError

__all__ = ["SweepError", "SweepRow", "parse_grid", "run_sweep"]


class SweepError(ValueError):
    """A sweep that cannot start: a bad grid, or an executor that is not available."""


@dataclass(frozen=True, slots=True)
class SweepRow:
    params: dict[str, str]
    final_equity: Decimal | None = None
    trades: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def parse_grid(pairs: Sequence[str]) -> list[dict[str, str]]:
    """The combinations of ``name=v1,v2,...`` pairs, in order (the last name varies fastest)."""
    axes: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, values = pair.partition("=")
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not name.strip() or not items:
            raise SweepError(f"--grid: expected name=v1,v2,..., was {pair!r}")
        if name.strip() in axes:
            raise SweepError(f"--grid: {name.strip()} is given twice")
        axes[name.strip()] = items
    if not axes:
        raise SweepError("expected at least one --grid name=v1,v2,...")
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())]


_SERIES: dict[tuple[tuple[str, ...], str | None], list[Series]] = {}


def _series(data: tuple[str, ...], timeframe: str | None) -> list[Series]:
    key = (data, timeframe)
    if key not in _SERIES:
        _SERIES[key] = [load_series(d, timeframe=timeframe) for d in data]
    return _SERIES[key]


def run_one(
    strategy: str,
    data: tuple[str, ...],
    timeframe: str | None,
    params: dict[str, str],
    config: BacktestConfig,
) -> SweepRow:
    """One point of the grid (what a worker runs)."""
    try:
        instance = build_strategy(strategy, params)
    except (ParamError, ValueError) as exc:
        return SweepRow(params, error=str(exc))
    except Exception as exc:  # a user strategy's bug in its constructor: this point's failure
        return SweepRow(params, error=f"the strategy failed: {type(exc).__name__}: {exc}")
    try:
        result = Backtest(instance, _series(data, timeframe), config).run()
    except Exception as exc:  # this point's failure, not the sweep's
        return SweepRow(params, error=f"the run failed: {type(exc).__name__}: {exc}")
    return SweepRow(params, result.final_equity, len(result.trades), result.stats)


def run_sweep(
    strategy: str,
    data: Sequence[str],
    grid: Sequence[Mapping[str, str]],
    config: BacktestConfig,
    *,
    base: Mapping[str, str] | None = None,
    timeframe: str | None = None,
    executor: str = "process",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[SweepRow]:
    """Every combination of ``grid`` (over the ``base`` parameters), rows in grid order."""
    points = [{**(base or {}), **dict(p)} for p in grid]
    files = tuple(str(d) for d in data)
    _series(files, timeframe)  # fail early, in this process, on unreadable data
    if executor == "ray":
        return _on_ray(strategy, files, timeframe, points, config, workers, progress)
    if executor != "process":
        raise SweepError(f"--executor: expected process or ray, was {executor!r}")
    count = workers or min(len(points), os.cpu_count() or 1)
    rows: dict[int, SweepRow] = {}
    if count <= 1:
        for i, p in enumerate(points):
            rows[i] = run_one(strategy, files, timeframe, p, config)
            if progress:
                progress(len(rows), len(points))
        return [rows[i] for i in range(len(points))]

    def done() -> None:
        if progress:
            progress(len(rows), len(points))

    run = (strategy, files, timeframe, points, config)
    broken = _on_pool(*run, range(len(points)), count, rows, done)
    # A worker that dies breaks its pool: every point still waiting fails with it. Each such
    # point runs again alone, so only the point that kills its worker is a failed row.
    for n in broken:
        _on_pool(*run, [n], 1, rows, done)
    return [rows[i] for i in range(len(points))]


def _on_pool(
    strategy: str,
    files: tuple[str, ...],
    timeframe: str | None,
    points: Sequence[dict[str, str]],
    config: BacktestConfig,
    which: Sequence[int],
    count: int,
    rows: dict[int, SweepRow],
    done: Callable[[], None],
) -> list[int]:
    """Run the points ``which`` on a pool of ``count`` processes into ``rows``; the points
    whose worker died (their row says so), in order."""
    broken: list[int] = []
    with ProcessPoolExecutor(max_workers=count) as pool:
        futures: dict[Future[SweepRow], int] = {
            pool.submit(run_one, strategy, files, timeframe, points[i], config): i for i in which
        }
        for future in as_completed(futures):
            n = futures[future]
            try:
                rows[n] = future.result()
            except Exception as exc:  # the worker died (killed, out of memory)
                rows[n] = SweepRow(points[n], error=f"the worker failed: {exc!r}")
                broken.append(n)
            done()
    return sorted(broken)


def _on_ray(
    strategy: str,
    files: tuple[str, ...],
    timeframe: str | None,
    points: list[dict[str, str]],
    config: BacktestConfig,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
) -> list[SweepRow]:
    try:
        import ray  # noqa: PLC0415
    except ImportError:
        raise SweepError(
            "--executor ray needs Ray, which is not installed; install the extra "
            "(pip install 'algodesk[ray]') or use --executor process"
        ) from None
    ray.init(ignore_reinit_error=True, num_cpus=workers, include_dashboard=False)
    remote = ray.remote(run_one)
    refs = [remote.remote(strategy, files, timeframe, p, config) for p in points]
    rows: list[SweepRow] = []
    for n, (point, ref) in enumerate(zip(points, refs, strict=True), 1):
        try:
            rows.append(ray.get(ref))
        except Exception as exc:  # its worker died past Ray's retries, or its node went away
            rows.append(SweepRow(point, error=f"the worker failed: {exc!r}"))
        if progress:
            progress(n, len(refs))
    return rows
