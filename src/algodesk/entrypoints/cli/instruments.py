"""``algodesk instruments …``: import the instrument master, resolve option contracts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from algodesk.bootstrap import (
    INSTRUMENT_FORMATS,
    InstrumentFileError,
    load_instrument_file,
    spot_instrument,
)
from algodesk.domain.instruments import AssetClass
from algodesk.domain.market.options import OptionChain, OptionChainError, ResolvedOption
from algodesk.domain.market.timeframes import Timeframe
from algodesk.entrypoints.cli.options import DatabaseUrl, DataDir, desk_from_options, fail
from algodesk.ports.market_data import BarStore

__all__ = ["instruments_app"]

instruments_app = typer.Typer(
    help="The instrument master: import it, resolve option contracts.", no_args_is_help=True
)
_IST = ZoneInfo("Asia/Kolkata")
_SHOWN_PROBLEMS = 10


@instruments_app.command("import")
def instruments_import(
    file: Annotated[Path, typer.Argument(help="The instrument file (plain or gzipped).")],
    format_: Annotated[
        str,
        typer.Option(
            "--format", help="kite: the Kite Connect instruments dump; generic: algodesk's CSV."
        ),
    ] = "kite",
    strict: Annotated[
        bool, typer.Option(help="Refuse the whole file at the first bad row.")
    ] = False,
    data_dir: DataDir = None,
    database_url_opt: DatabaseUrl = None,
) -> None:
    """Store the instruments of FILE.

    A Kite dump replaces every stored instrument of the exchanges it lists (so renamed and
    expired contracts go); a generic file adds instruments and updates those with the same id.
    Rows that cannot be represented are skipped and listed with their line and reason.
    """
    if format_ not in INSTRUMENT_FORMATS:
        raise fail(f"--format: expected one of {', '.join(INSTRUMENT_FORMATS)}, was {format_!r}")
    if not file.is_file():
        raise fail(f"{file}: no such file")
    try:
        result = load_instrument_file(file, format_, strict)
    except InstrumentFileError as exc:
        raise fail(f"{file}: {exc}") from None
    # A Kite dump is the whole master of its exchanges: it replaces what they had (renamed and
    # expired contracts go). A generic file adds to and updates the master.
    replaced = {i.venue for i in result.instruments} if format_ == "kite" else set()
    with desk_from_options(data_dir, database_url_opt) as desk:
        stored = desk.instruments.put(
            result.instruments, format_, datetime.now(UTC).date(), replace=replaced
        )
    typer.echo(f"{file.name}: {result.rows} rows, {stored} instruments stored")
    if replaced:
        names = ", ".join(sorted(v.value for v in replaced))
        typer.echo(f"replaced the instruments of {names}")
    if result.problems:
        counts = ", ".join(f"{code} {n}" for code, n in sorted(result.summary().items()))
        typer.echo(f"skipped {result.skipped} rows: {counts}")
        for problem in result.problems[:_SHOWN_PROBLEMS]:
            typer.echo(f"  {problem}")
        if len(result.problems) > _SHOWN_PROBLEMS:
            typer.echo(f"  … and {len(result.problems) - _SHOWN_PROBLEMS} more")


def _stored_spot(bars: BarStore, underlying: str, max_age: timedelta) -> tuple[Decimal, datetime]:
    spot_id = spot_instrument(underlying)
    if spot_id is None:
        raise fail(f"no spot index is known for {underlying}: pass --spot")
    latest = None
    for series in bars.series():
        if series.instrument_id == spot_id and (latest is None or series.last > latest.last):
            latest = series
    if latest is None:
        raise fail(f"no stored bars for {spot_id}: pass --spot, or import its bars first")
    found = bars.read(spot_id, latest.timeframe, start=latest.last - timedelta(microseconds=1))
    if not found:
        raise fail(f"the stored bars of {spot_id} could not be read: pass --spot")
    bar = found[-1]
    age = datetime.now(UTC) - bar.ts_close
    if age > max_age:
        raise fail(
            f"the latest {spot_id} bar closed {bar.ts_close.isoformat()}, older than "
            f"--max-spot-age {Timeframe(int(max_age.total_seconds()))}: pass --spot"
        )
    return bar.close, bar.ts_close


def _print(found: ResolvedOption) -> None:
    i = found.instrument
    typer.echo(str(i.id))
    rows = [
        ("underlying", f"{found.underlying} at {found.spot} ({found.spot_at.isoformat()})"),
        ("expiry", found.expiry.isoformat()),
        ("strike", f"{found.strike} {found.right} ({found.offset}; ATM {found.atm_strike})"),
        ("lot size", str(i.lot_size)),
        ("tick size", str(i.tick_size)),
        ("freeze quantity", str(i.freeze_quantity) if i.freeze_quantity else "none"),
    ]
    for name, value in rows:
        typer.echo(f"  {name:<16} {value}")


@instruments_app.command("option")
def instruments_option(
    underlying: Annotated[str, typer.Argument(help="NIFTY, BANKNIFTY, …")],
    expiry: Annotated[
        str,
        typer.Option(
            help="nearest, weekly, next-weekly, monthly, next-monthly, or a date (YYYY-MM-DD)."
        ),
    ] = "nearest",
    offset: Annotated[str, typer.Option(help="ATM, ITM1…ITM50, OTM1…OTM50.")] = "ATM",
    right: Annotated[str, typer.Option(help="CE or PE.")] = "CE",
    spot: Annotated[
        str | None,
        typer.Option(help="The underlying's price; default: the latest stored bar of its index."),
    ] = None,
    max_spot_age: Annotated[
        str, typer.Option(help="How old a stored spot may be (1m, 1h, 1d…).")
    ] = "1d",
    today: Annotated[
        str | None, typer.Option(help="The date expiry rules count from \\[default: today, IST].")
    ] = None,
    data_dir: DataDir = None,
    database_url_opt: DatabaseUrl = None,
) -> None:
    """Resolve an option contract from the stored instrument master and print it."""
    try:
        day = date.fromisoformat(today) if today else datetime.now(_IST).date()
    except ValueError:
        raise fail(f"--today: expected a date as YYYY-MM-DD, was {today!r}") from None
    try:
        age = Timeframe.parse(max_spot_age).delta
    except ValueError as exc:
        raise fail(f"--max-spot-age: {exc}") from None
    with desk_from_options(data_dir, database_url_opt) as desk:
        options = desk.instruments.find(
            underlying=underlying.strip().upper(), asset_class=AssetClass.OPTION
        )
        if not options:
            raise fail(
                f"no options on {underlying.upper()} in the instrument master: "
                "run `algodesk instruments import` first"
            )
        if spot is not None:
            at = datetime.now(UTC)
            try:
                price = Decimal(spot)
            except InvalidOperation:
                price = Decimal("NaN")
            if not price.is_finite():
                raise fail(f"--spot: expected a decimal number, was {spot!r}") from None
        else:
            price, at = _stored_spot(desk.bars, underlying, age)
    try:
        found = OptionChain(options).resolve(
            underlying, expiry=expiry, offset=offset, right=right, spot=price, spot_at=at, today=day
        )
    except OptionChainError as exc:
        raise fail(str(exc)) from None
    _print(found)
