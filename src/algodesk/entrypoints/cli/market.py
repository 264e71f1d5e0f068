"""``algodesk data …`` and ``algodesk instruments …``: bars and the instrument master."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from algodesk.bootstrap import BarFileError, read_bar_file
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.entrypoints.cli.options import DatabaseUrl, DataDir, desk_from_options, fail

__all__ = ["data_app"]

data_app = typer.Typer(help="Import and inspect stored bars (Parquet).", no_args_is_help=True)


def _instrument(symbol: str, venue: str | None) -> InstrumentId:
    text = symbol if "." in symbol and venue is None else f"{symbol}.{venue or 'PAPER'}"
    try:
        return InstrumentId(text)
    except ValueError as exc:
        raise fail(f"--symbol: {exc}") from None


def _timeframe(text: str) -> Timeframe:
    try:
        return Timeframe.parse(text)
    except ValueError as exc:
        raise fail(f"--timeframe: {exc}") from None


Symbol = Annotated[
    str,
    typer.Option(
        "--symbol", help="SYMBOL or SYMBOL.VENUE (AAPL.NASDAQ); --venue gives the venue apart."
    ),
]
Venue = Annotated[
    str | None, typer.Option(help="The venue when --symbol has none \\[default: PAPER].")
]
TimeframeOpt = Annotated[str, typer.Option("--timeframe", help="1m, 5m, 15m, 1h, 1d, 1w…")]


def _stamp(ts: datetime, timeframe: Timeframe) -> str:
    """A bar's label as vendors print it: its start (the date alone for daily bars)."""
    start = ts - timeframe.delta
    return start.date().isoformat() if not timeframe.is_intraday else start.isoformat()


@data_app.command("import")
def data_import(
    file: Annotated[
        Path, typer.Argument(help="A CSV file: Date, Open, High, Low, Close[, Volume].")
    ],
    symbol: Symbol,
    venue: Venue = None,
    timeframe: TimeframeOpt = "1d",
    tz: Annotated[str, typer.Option(help="Time zone of times written without one.")] = "UTC",
    data_dir: DataDir = None,
    database_url_opt: DatabaseUrl = None,
) -> None:
    """Store the bars of FILE (merged with what is stored; a bar at a stored time is replaced)."""
    iid, frame = _instrument(symbol, venue), _timeframe(timeframe)
    if not file.is_file():
        raise fail(f"{file}: no such file")
    try:
        bars = read_bar_file(file, iid, frame, tz)
    except BarFileError as exc:
        raise fail(str(exc)) from None
    except LookupError as exc:  # an unknown time zone
        raise fail(f"--tz: unknown time zone {tz!r} ({exc})") from None
    if not bars:
        raise fail(f"{file}: no bars in the file")
    with desk_from_options(data_dir, database_url_opt) as desk:
        try:
            new = desk.bars.write(iid, frame, bars)
        except ValueError as exc:
            raise fail(str(exc)) from None
    typer.echo(
        f"{iid} {frame}: {len(bars)} bars read, {new} new, "
        f"{_stamp(bars[0].ts_close, frame)} .. {_stamp(bars[-1].ts_close, frame)}"
    )


@data_app.command("show")
def data_show(
    symbol: Annotated[str, typer.Argument(help="SYMBOL or SYMBOL.VENUE.")],
    venue: Venue = None,
    timeframe: TimeframeOpt = "1d",
    last: Annotated[int, typer.Option(min=1, help="How many of the latest bars to print.")] = 10,
    data_dir: DataDir = None,
    database_url_opt: DatabaseUrl = None,
) -> None:
    """Print the latest stored bars of SYMBOL, and what is stored."""
    iid, frame = _instrument(symbol, venue), _timeframe(timeframe)
    with desk_from_options(data_dir, database_url_opt) as desk:
        bars = desk.bars.read(iid, frame)
        stored = [s for s in desk.bars.series() if s.instrument_id == iid]
    if not bars:
        have = ", ".join(str(s.timeframe) for s in stored) or "none"
        raise fail(f"no {frame} bars stored for {iid} (stored timeframes: {have})", code=1)
    table = Table(title=f"{iid} {frame}: {len(bars)} bars, last {min(last, len(bars))}")
    for name in ("time", "open", "high", "low", "close", "volume"):
        table.add_column(name, justify="left" if name == "time" else "right")
    for b in bars[-last:]:
        table.add_row(
            _stamp(b.ts_close, frame), *(str(v) for v in (b.open, b.high, b.low, b.close, b.volume))
        )
    Console(width=120).print(table)
    age = datetime.now(UTC) - bars[-1].ts_close
    if age > timedelta(days=7):
        typer.echo(f"note: the latest bar closed {age.days} days ago")
