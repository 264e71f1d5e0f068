"""The desk's exchange calendars: the shipped session table merged with the desk's own
``<data_dir>/sessions.toml`` (declared trading years, overrides, session times), and the
warnings for calendars whose data ends soon."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from algodesk.adapters.feeds.calendar_snapshot import calendars_in_child
from algodesk.adapters.feeds.calendars import ExchangeCalendars
from algodesk.domain.identifiers import Venue
from algodesk.ports.calendar import CalendarUnavailableError

__all__ = ["CALENDAR_WARNING", "SESSIONS_FILE", "coverage_warnings", "desk_calendars"]

SESSIONS_FILE = "sessions.toml"
"""The desk's own session table, in its data directory."""

CALENDAR_WARNING = timedelta(days=30)
"""How long before a calendar's last covered day the desk warns at start."""


def desk_calendars(
    data_dir: Path, venues: Mapping[str, str] | None = None, *, in_child: bool = False
) -> ExchangeCalendars:
    """The calendars of a desk whose data directory is ``data_dir`` (``venues``: extra venue
    mappings, e.g. the paper venue's). ``in_child``: the library's days are computed in a
    child process, so this one does not import pandas (``serve``: about 100 MB less).

    Raises:
        ValueError: ``<data_dir>/sessions.toml`` is malformed (the message names it and the
            row), or one of its declared years does not continue its library calendar.
    """
    if in_child:
        return calendars_in_child(venues, user_file=data_dir / SESSIONS_FILE)
    return ExchangeCalendars(venues, user_file=data_dir / SESSIONS_FILE)


def coverage_warnings(
    calendars: ExchangeCalendars,
    venues: Iterable[Venue],
    now: datetime,
    within: timedelta = CALENDAR_WARNING,
) -> list[str]:
    """A warning for each of ``venues`` whose calendar ends before ``now + within`` (or has
    no calendar): past its last covered day the venue counts as closed."""
    warnings = []
    for code in sorted({str(v) for v in venues}):
        try:
            calendar = calendars.for_venue(code)
            coverage = calendar.coverage()
        except CalendarUnavailableError as exc:
            warnings.append(f"{code}: {exc}; {code} orders are denied MARKET_CLOSED")
            continue
        today = now.astimezone(ZoneInfo(calendar.timezone)).date()
        if coverage.last - today >= within:
            continue
        ends = "ended" if coverage.last < today else "ends"
        warnings.append(
            f"{code} calendar {ends} {coverage.last} ({coverage.source}): {coverage.extend}; "
            f"after {coverage.last} {code} orders are denied MARKET_CLOSED"
        )
    return warnings
