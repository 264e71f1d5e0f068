"""``algodesk calendar …``: a venue's sessions and how far its calendar is known."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from algodesk.bootstrap.calendars import SESSIONS_FILE, desk_calendars
from algodesk.entrypoints.cli.options import DataDir, fail, settings_from_options
from algodesk.ports.calendar import CalendarUnavailableError

__all__ = ["calendar_app"]

calendar_app = typer.Typer(
    help="Exchange calendars: sessions, holidays and the last day each calendar knows.",
    no_args_is_help=True,
)


def _clock(at: datetime, zone: tzinfo, day: date) -> str:
    """``HH:MM`` in ``zone``, with the day offset when it is not ``day`` (``00:00 +1d``)."""
    local = at.astimezone(zone)
    offset = (local.date() - day).days
    return local.strftime("%H:%M") + (f" {offset:+d}d" if offset else "")


@calendar_app.command("show")
def calendar_show(
    venue: Annotated[
        str, typer.Argument(help="A venue: NSE, NFO, BSE, BFO, NYSE, NASDAQ, BINANCE…")
    ],
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=["%Y-%m-%d"],
            help="The first day, YYYY-MM-DD \\[default: today at the exchange].",
            show_default=False,
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days to show.")] = 14,
    data_dir: DataDir = None,
) -> None:
    """Print VENUE's sessions, in exchange time and UTC, and the last day its calendar covers.

    The desk's calendar: the shipped session table with DATA_DIR/sessions.toml merged in.
    """
    code = venue.upper()
    settings = settings_from_options(data_dir, None)
    try:
        calendar = desk_calendars(settings.data_dir).for_venue(code)
        coverage = calendar.coverage()
    except CalendarUnavailableError as exc:  # an unknown venue, or a range the library lacks
        raise fail(str(exc), code=1) from None
    except ValueError as exc:  # a malformed sessions.toml
        raise fail(str(exc)) from None
    zone = ZoneInfo(calendar.timezone)
    first = start.date() if start is not None else datetime.now(zone).date()
    last = first + timedelta(days=days - 1)
    lo, hi = max(first, coverage.first), min(last, coverage.last)
    if lo > hi:
        fix = coverage.extend if first > coverage.last else "choose a later --from"
        raise fail(
            f"{code}: {first} .. {last} is outside its calendar, which covers "
            f"{coverage.first} .. {coverage.last} ({coverage.source}); {fix}",
            code=1,
        )
    table = Table(title=f"{code}: {calendar.name} calendar, {calendar.timezone}, {lo} .. {hi}")
    for name in ("date", "day", "pre-open", "open", "close", "open UTC", "close UTC", "note"):
        table.add_column(name)
    for n in range((hi - lo).days + 1):
        day = lo + timedelta(days=n)
        session = calendar.session(day)
        if session is None:
            if day.weekday() < 5:
                table.add_row(day.isoformat(), f"{day:%a}", *[""] * 5, "closed")
            continue
        pre_open = "" if session.pre_open is None else _clock(session.pre_open, zone, day)
        table.add_row(
            day.isoformat(),
            f"{day:%a}",
            pre_open,
            _clock(session.open, zone, day),
            _clock(session.close, zone, day),
            _clock(session.open, UTC, day),
            _clock(session.close, UTC, day),
            "early close" if session.early_close else "",
        )
    Console(width=120).print(table)
    typer.echo(f"covered: {coverage.first} .. {coverage.last} ({coverage.source})")
    mine = settings.data_dir / SESSIONS_FILE
    typer.echo(f"session table: the shipped one {'with' if mine.exists() else 'only; no'} {mine}")
    if last > coverage.last:
        typer.echo(f"note: the calendar ends {coverage.last}: {coverage.extend}")
