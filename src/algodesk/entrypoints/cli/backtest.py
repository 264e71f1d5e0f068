"""``algodesk backtest`` and ``algodesk sweep``: strategies on history, through the live engine."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from algodesk.entrypoints.cli.options import fail

if TYPE_CHECKING:
    from algodesk.backtest.config import BacktestConfig
    from algodesk.backtest.data import Series

__all__ = ["backtest", "sweep"]

# The backtester, the strategies and what they import (pandas, numpy, pyarrow: about 100 MB
# and a second) are imported by these two commands when they run, not by every command of the
# CLI: `algodesk serve` stays free of them, and the other commands start sooner.

StrategyArg = Annotated[
    str,
    typer.Argument(
        help="sma_cross, ema_cross, rsi_reversion, breakout, or path/file.py:Class / module:Class."
    ),
]
DataOpt = Annotated[
    list[str],
    typer.Option("--data", help="A CSV or Parquet bar file, or SYMBOL=FILE; repeat for more."),
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", help="A strategy parameter, name=value; repeat.")
]
CashOpt = Annotated[str, typer.Option("--cash", help="Starting cash.")]
CommissionOpt = Annotated[
    str, typer.Option("--commission", help="Commission rate per fill (0.001 = 0.1%).")
]
SlippageOpt = Annotated[str, typer.Option("--slippage", help="Adverse slippage in bps.")]
SizingOpt = Annotated[
    str, typer.Option("--sizing", help="all-in, units:N, percent:P or risk:P (of equity).")
]
FromOpt = Annotated[str | None, typer.Option("--from", help="First bar (ISO date or time).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last bar (ISO date or time).")]
FillOpt = Annotated[
    str, typer.Option("--fill-at", help="next_open (default) or close: when a decision fills.")
]
PathOpt = Annotated[str, typer.Option("--bar-path", help="adaptive, high_first or low_first.")]
PriorityOpt = Annotated[
    str,
    typer.Option(
        "--exit-priority", help="stop_loss (pessimistic) or take_profit: same-bar bracket tie."
    ),
]
LimitOpt = Annotated[
    list[str] | None,
    typer.Option("--limit", help="An account limit, name=value (max_notional=5000); repeat."),
]
TimeframeOpt = Annotated[
    str | None, typer.Option("--timeframe", help="The bars' timeframe \\[default: inferred].")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the fill model's randomness.")]
LotOpt = Annotated[str, typer.Option("--lot", help="Quantity step (0.001 for crypto).")]


def _decimal(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise fail(f"{option}: expected a number, was {text!r}") from None
    if not value.is_finite():
        raise fail(f"{option}: expected a finite number, was {text!r}")
    return value


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{option}: expected an ISO date or datetime, was {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise fail(f"{option}: expected name=value, was {value!r}")
        out[name.strip()] = text.strip()
    return out


def _config(
    cash: str,
    commission: str,
    slippage: str,
    sizing: str,
    start: str | None,
    end: str | None,
    fill_at: str,
    bar_path: str,
    exit_priority: str,
    limits: list[str] | None,
    seed: int,
    lot: str,
) -> BacktestConfig:
    from algodesk.backtest.config import (  # noqa: PLC0415 - see the top
        BacktestConfig,
        ConfigError,
        ExitPriority,
        FillAt,
        parse_limits,
        parse_sizing,
    )
    from algodesk.domain.matching import BarPathMode  # noqa: PLC0415

    try:
        return BacktestConfig(
            cash=_decimal(cash, "--cash"),
            commission=_decimal(commission, "--commission"),
            slippage_bps=_decimal(slippage, "--slippage"),
            sizing=parse_sizing(sizing),
            fill_at=FillAt(fill_at.lower()),
            bar_path=BarPathMode(bar_path.upper()),
            exit_priority=ExitPriority(exit_priority.lower()),
            start=_moment(start, "--from"),
            end=_moment(end, "--to"),
            limits=parse_limits(limits or []),
            seed=seed,
            lot_size=_decimal(lot, "--lot"),
        )
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # an enum value
        raise fail(
            f"{exc}; expected --fill-at next_open|close, --bar-path adaptive|high_first|"
            "low_first, --exit-priority stop_loss|take_profit"
        ) from None


def _series(data: list[str], timeframe: str | None) -> list[Series]:
    from algodesk.backtest.data import BarFileError, load_series  # noqa: PLC0415 - see the top

    if not data:
        raise fail("expected at least one --data FILE")
    try:
        return [load_series(d, timeframe=timeframe) for d in data]
    except (BarFileError, ValueError) as exc:
        raise fail(str(exc)) from None


@contextmanager
def _progress(label: str, console: Console) -> Iterator[Callable[[int, int], None]]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def backtest(
    strategy: StrategyArg,
    data: DataOpt,
    param: ParamOpt = None,
    cash: CashOpt = "10000",
    commission: CommissionOpt = "0",
    slippage: SlippageOpt = "0",
    sizing: SizingOpt = "all-in",
    start: FromOpt = None,
    end: ToOpt = None,
    fill_at: FillOpt = "next_open",
    bar_path: PathOpt = "adaptive",
    exit_priority: PriorityOpt = "stop_loss",
    limit: LimitOpt = None,
    timeframe: TimeframeOpt = None,
    seed: SeedOpt = 0,
    lot: LotOpt = "1",
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write trades, open trade, equity, stats.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report.")
    ] = None,
    progress_file: Annotated[
        Path | None,
        typer.Option(
            "--progress-file",
            help='Write {"done": n, "total": N} to this JSON file during the run '
            "(atomically, at most 5 times a second).",
        ),
    ] = None,
    check_lookahead_opt: Annotated[
        bool,
        typer.Option(
            "--check-lookahead",
            help="First recompute the indicators on cut data; exit 1 naming any that look ahead.",
        ),
    ] = False,
) -> None:
    """Run a strategy over bar files through the engine, its gates, paper fills and ledger."""
    # See the top for why these are imported here.
    from algodesk.backtest.lookahead import check_lookahead  # noqa: PLC0415
    from algodesk.backtest.report import write_report  # noqa: PLC0415
    from algodesk.backtest.runner import Backtest  # noqa: PLC0415
    from algodesk.strategies import StrategyNotFoundError, build_strategy  # noqa: PLC0415
    from algodesk.strategies.base import BarData, ParamError  # noqa: PLC0415

    console = Console(stderr=True)
    try:
        instance = build_strategy(strategy, _pairs(param, "--param"))
    except (StrategyNotFoundError, ParamError) as exc:
        raise fail(str(exc)) from None
    config = _config(
        cash,
        commission,
        slippage,
        sizing,
        start,
        end,
        fill_at,
        bar_path,
        exit_priority,
        limit,
        seed,
        lot,
    )
    series = _series(data, timeframe)
    if check_lookahead_opt:
        findings = []
        for s in series:
            with _progress(f"look-ahead {s.symbol}", console) as update:
                findings += check_lookahead(
                    instance, BarData(s.instrument_id, s.timeframe, s.bars), progress=update
                )
        if findings:
            for finding in findings:
                typer.echo(f"look-ahead: {finding.message()}", err=True)
            raise typer.Exit(1)
        typer.echo("look-ahead check: no indicator changes its past", err=True)
    _writable(json_path, report, progress_file)  # before the run: not lost to a bad path
    try:
        runner = Backtest(instance, series, config)
        with _progress(f"{instance.name or strategy}", console) as update:
            result = runner.run(progress=_also(update, progress_file))
    except ValueError as exc:
        raise fail(str(exc)) from None
    _print_result(result.stats, result.config.get("notes", []))
    try:
        if json_path is not None:
            json_path.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
            typer.echo(f"wrote {json_path}", err=True)
        if report is not None:
            write_report(result, report)
            typer.echo(f"wrote {report}", err=True)
    except OSError as exc:
        raise fail(f"cannot write the result: {exc}") from None


def _also(
    update: Callable[[int, int], None], progress_file: Path | None
) -> Callable[[int, int], None]:
    """``update``, and the progress file's writer when one is asked for."""
    from algodesk.backtest.jobs import ProgressFile  # noqa: PLC0415 - see the top

    if progress_file is None:
        return update
    write = ProgressFile(progress_file)

    def both(done: int, total: int) -> None:
        update(done, total)
        write(done, total)

    return both


def _writable(*paths: Path | None) -> None:
    """Make each output's folder and check it can be written, or fail before any work."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            raise fail(f"{path} is a folder; expected a file name")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise fail(f"cannot write {path}: {exc}") from None
        target = path if path.exists() else path.parent
        if not os.access(target, os.W_OK):
            raise fail(f"cannot write {path}: permission denied")


def _print_result(stats: dict[str, Any], notes: list[str]) -> None:
    table = Table(title="backtest", show_header=False)
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for name, value in stats.items():
        table.add_row(name, _fmt(value))
    Console().print(table)
    for note in notes:
        typer.echo(f"note: {note}", err=True)


def sweep(
    strategy: StrategyArg,
    data: DataOpt,
    grid: Annotated[
        list[str], typer.Option("--grid", help="name=v1,v2,...; repeat: every combination runs.")
    ],
    param: ParamOpt = None,
    cash: CashOpt = "10000",
    commission: CommissionOpt = "0",
    slippage: SlippageOpt = "0",
    sizing: SizingOpt = "all-in",
    start: FromOpt = None,
    end: ToOpt = None,
    fill_at: FillOpt = "next_open",
    limit: LimitOpt = None,
    timeframe: TimeframeOpt = None,
    executor: Annotated[
        str, typer.Option("--executor", help="process (a local pool) or ray (the ray extra).")
    ] = "process",
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Parallel runs (default: one per core, up to the grid's size). With 1, the "
            "runs share this process.",
        ),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write every row.")] = None,
    sort: Annotated[str, typer.Option("--sort", help="The statistic to rank by.")] = "sharpe",
) -> None:
    """Run a strategy over every combination of a parameter grid, in parallel. A combination
    that fails (refused parameters, a strategy or run that raises, a worker process that
    dies) is a row with its error; the others still run. Exits 1 when every combination
    failed. With one worker there is no worker process: a run that ends the process (a
    strategy calling os._exit, the memory exhausted) ends the sweep."""
    # See the top for why these are imported here.
    from algodesk.backtest.data import BarFileError  # noqa: PLC0415
    from algodesk.backtest.results import plain  # noqa: PLC0415
    from algodesk.backtest.sweep import SweepError, parse_grid, run_sweep  # noqa: PLC0415
    from algodesk.strategies import StrategyNotFoundError, load_strategy  # noqa: PLC0415
    from algodesk.strategies.base import ParamError  # noqa: PLC0415

    console = Console(stderr=True)
    config = _config(
        cash,
        commission,
        slippage,
        sizing,
        start,
        end,
        fill_at,
        "adaptive",
        "stop_loss",
        limit,
        0,
        "1",
    )
    _writable(json_path)
    try:
        points = parse_grid(grid)
        load_strategy(strategy)  # a bad name fails before any work; a bad point is a row
        with _progress(f"sweep {strategy}", console) as update:
            rows = run_sweep(
                strategy,
                data,
                points,
                config,
                base=_pairs(param, "--param"),
                timeframe=timeframe,
                executor=executor,
                workers=workers,
                progress=update,
            )
    except (SweepError, StrategyNotFoundError, ParamError, BarFileError) as exc:
        raise fail(str(exc)) from None

    def rank(row: Any) -> float:
        value = row.stats.get(sort)
        return float(value) if isinstance(value, int | float | Decimal) else float("-inf")

    ranked = sorted(rows, key=rank, reverse=True)
    table = Table(title=f"sweep {strategy} ({len(rows)} runs, by {sort})")
    for column in (
        "params",
        "final equity",
        "trades",
        "total return",
        "sharpe",
        "max drawdown",
        "error",
    ):
        table.add_column(column)
    for row in ranked:
        table.add_row(
            " ".join(f"{k}={v}" for k, v in row.params.items()),
            _fmt(row.final_equity),
            str(row.trades),
            _fmt(row.stats.get("total_return")),
            _fmt(row.stats.get("sharpe")),
            _fmt(row.stats.get("max_drawdown")),
            row.error or "",
        )
    Console(width=160).print(table)
    if json_path is not None:
        payload = [
            {
                "params": r.params,
                "final_equity": None if r.final_equity is None else str(r.final_equity),
                "trades": r.trades,
                "stats": plain(r.stats),
                "error": r.error,
            }
            for r in rows
        ]
        try:
            json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {json_path}: {exc}") from None
    failed = sum(1 for r in rows if r.error)
    if rows and failed == len(rows):
        raise fail(f"every one of the {len(rows)} runs failed; see the error column", code=1)
    if failed:
        console.print(f"[yellow]{failed} of {len(rows)} runs failed; see the error column[/]")
