"""Exchange calendars: when each venue trades, as :class:`Session` objects in UTC.

Trading days (weekends, holidays) come from the maintained ``exchange_calendars`` library: XBOM
for the Indian venues (NSE and BSE share their trading holidays), XNYS for NYSE and NASDAQ, 24/7
for crypto. The Indian session *times* change by circular, so they come from the dated table
``data/sessions.toml`` (:func:`load_session_table`); other calendars take their times, early
closes and DST from the library. The table's overrides add holidays and special sessions.

A library calendar whose holidays are *recorded* (XBOM: exchange_calendars 4.13.2 records them to
2026-12-31) ends with its data. A table's ``[[years]]`` (:class:`DeclaredYear`) carry it on, one
year at a time, from the exchange's holiday circular: a desk declares them in its own
``<data_dir>/sessions.toml``, which :class:`ExchangeCalendars` merges into the shipped table
(:meth:`SessionTable.merged`).

The registry asks the library when it is made (to check venue mappings): by default it imports
it in this process (pandas makes that about 3 s and 100 MB);
:func:`~algodesk.adapters.feeds.calendar_snapshot.calendars_in_child` has a child process ask it
instead. Each calendar's sessions are built on first use, once, for the registry's date range;
afterwards
:meth:`VenueCalendar.is_open` is a dict lookup and two comparisons. A question outside the range
raises :class:`CalendarRangeError`, which names the range.
"""

from __future__ import annotations

import functools
import itertools
import threading
import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from algodesk.domain.fills import require_utc
from algodesk.domain.identifiers import Venue
from algodesk.domain.market.sessions import Session
from algodesk.ports.calendar import CalendarUnavailableError, UnknownVenueError

__all__ = [
    "DEFAULT_START",
    "DEFAULT_VENUES",
    "CalendarRangeError",
    "Coverage",
    "DeclaredYear",
    "ExchangeCalendars",
    "ExtraHoliday",
    "SessionTable",
    "SessionTimes",
    "SpecialSession",
    "TableCalendar",
    "VenueCalendar",
    "load_session_table",
    "parse_session_table",
]

DEFAULT_START = date(2020, 1, 1)
"""The first day the registry covers unless told otherwise (a wider range builds slower)."""

_CRYPTO = ("BINANCE", "BYBIT", "COINBASE", "KRAKEN", "OKX")
DEFAULT_VENUES: Mapping[str, str] = MappingProxyType(
    {"NSE": "NSE", "BSE": "BSE", "NFO": "NFO", "BFO": "BFO", "NYSE": "XNYS", "NASDAQ": "XNAS"}
    | dict.fromkeys(_CRYPTO, "24/7")
)
"""Venue code → calendar name (a table calendar or an exchange_calendars name)."""

_TABLE_FILE = "sessions.toml"


class CalendarRangeError(CalendarUnavailableError, ValueError):
    """A date or instant outside the range a calendar was built for."""


@dataclass(frozen=True, slots=True)
class SessionTimes:
    """Exchange-local session times in force from ``effective_from`` until the next row."""

    effective_from: date
    open: time
    close: time
    pre_open: time | None
    source: str
    checked: date


@dataclass(frozen=True, slots=True)
class TableCalendar:
    """A calendar of the table: library trading days with dated local session times."""

    name: str
    timezone: str
    trading_days: str
    times: tuple[SessionTimes, ...]

    def times_on(self, day: date) -> SessionTimes | None:
        """The row in force on ``day``, or ``None`` before the first row."""
        i = bisect_right([t.effective_from for t in self.times], day)
        return self.times[i - 1] if i else None


@dataclass(frozen=True, slots=True)
class ExtraHoliday:
    """A day the library thinks is a session but the exchange closed."""

    calendars: tuple[str, ...]
    day: date
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class SpecialSession:
    """A session with its own local times, on a closed day or replacing a day's session."""

    calendars: tuple[str, ...]
    day: date
    open: time
    close: time
    pre_open: time | None
    reason: str
    source: str


def _weekdays(first: date, last: date) -> list[date]:
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() < 5]


def _dates(days: Iterable[date]) -> str:
    return f"[{', '.join(d.isoformat() for d in sorted(days))}]"


@dataclass(frozen=True, slots=True)
class DeclaredYear:
    """One year of trading days for a library calendar whose recorded holidays end before it.

    Its sessions are the year's weekdays minus ``holidays`` (every weekday trading holiday of the
    exchange's circular, ``source``), at the times of the table calendar that takes its days from
    ``trading_days`` (or the library's regular times for a venue on the library calendar
    itself). Special sessions and segment-only closures stay in the table's overrides.

    Only calendars with recorded holidays (XBOM and the like) take declared years, and only
    contiguously from the library's last recorded year: a gap would trade every weekday of the
    missing year. A declared year the library already records must agree with it (the same
    weekday holidays, from the registry's start) and is then ignored: upgrading
    exchange_calendars to a release that records the year must not stop a desk, while a
    disagreement is an error rather than a silently dropped list (correct a recorded year with
    ``[[overrides.holidays]]`` / ``[[overrides.sessions]]``).
    """

    trading_days: str
    year: int
    holidays: tuple[date, ...]
    source: str
    checked: date

    def trading_days_of_year(self) -> list[date]:
        """The year's weekdays that are not holidays."""
        return [
            d
            for d in _weekdays(date(self.year, 1, 1), date(self.year, 12, 31))
            if d not in self.holidays
        ]


def _check_years(where: str, years: Iterable[tuple[str, int]]) -> None:
    """Each (library, year) once, and each library's years consecutive."""
    by_library: dict[str, set[int]] = {}
    for library, year in years:
        seen = by_library.setdefault(library, set())
        if year in seen:
            raise ValueError(f"{where}: expected each year once, {library} {year} declared twice")
        seen.add(year)
    for library, numbers in by_library.items():
        missing = sorted(set(range(min(numbers), max(numbers) + 1)) - numbers)
        if missing:
            raise ValueError(
                f"{where}: expected consecutive years of {library}, declared {sorted(numbers)}: "
                f"{', '.join(map(str, missing))} missing (a year without its holidays would "
                "trade every weekday)"
            )


@dataclass(frozen=True, slots=True)
class SessionTable:
    """The dated session times of the table calendars, plus overrides for any calendar and the
    declared trading years of library calendars whose recorded data ends too early."""

    calendars: Mapping[str, TableCalendar]
    holidays: tuple[ExtraHoliday, ...] = ()
    special_sessions: tuple[SpecialSession, ...] = ()
    years: tuple[DeclaredYear, ...] = ()

    def __post_init__(self) -> None:
        _check_years("Declared years", ((y.trading_days, y.year) for y in self.years))
        seen: set[tuple[str, date]] = set()
        overrides: tuple[ExtraHoliday | SpecialSession, ...] = (
            *self.holidays,
            *self.special_sessions,
        )
        for o in overrides:
            for name in o.calendars:
                if (name, o.day) in seen:
                    raise ValueError(
                        f"Session overrides: expected one per day, {name} {o.day} twice"
                    )
                seen.add((name, o.day))

    def with_overrides(
        self,
        holidays: Iterable[ExtraHoliday] = (),
        special_sessions: Iterable[SpecialSession] = (),
    ) -> SessionTable:
        """This table with more holidays and special sessions."""
        return SessionTable(
            self.calendars,
            (*self.holidays, *holidays),
            (*self.special_sessions, *special_sessions),
            self.years,
        )

    def merged(self, other: SessionTable) -> SessionTable:
        """This table with ``other`` (a desk's own file) on top.

        A calendar of ``other`` replaces the one of the same name whole (all its ``times``
        rows: copy the shipped block and add the new row), or adds a calendar; a year of
        ``other`` replaces the same library year of this table (a release that ships a year the
        desk already declared does not stop it); overrides are added, still one per calendar
        and day.
        """
        mine = {(y.trading_days, y.year) for y in other.years}
        return SessionTable(
            {**self.calendars, **other.calendars},
            (*self.holidays, *other.holidays),
            (*self.special_sessions, *other.special_sessions),
            (*(y for y in self.years if (y.trading_days, y.year) not in mine), *other.years),
        )


_KINDS: Mapping[str, type] = {
    "effective_from": date, "checked": date, "day": date,
    "open": time, "close": time, "pre_open": time,
    "source": str, "reason": str, "description": str, "timezone": str, "trading_days": str,
    "calendars": list, "times": list, "holidays": list, "sessions": list, "year": int,
}  # fmt: skip
_TIMES = ("effective_from", "open", "close", "source", "checked")
_HOLIDAY = ("calendars", "day", "reason", "source")
_SPECIAL = ("calendars", "day", "open", "close", "reason", "source")
_OVERRIDES = ("holidays", "sessions")
_YEAR = ("trading_days", "year", "holidays", "source", "checked")


def _fields(
    where: str, value: object, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    """A TOML table's values, checked against the expected keys and their types."""
    required, optional = set(required), set(optional)
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a table, was {value!r}")
    unknown, missing = set(value) - required - optional, required - set(value)
    if unknown or missing:
        raise ValueError(
            f"{where}: expected the keys {sorted(required)} (optional {sorted(optional)}); "
            f"unknown {sorted(unknown)}, missing {sorted(missing)}"
        )
    for key, item in value.items():
        kind = _KINDS[key]
        if (
            not isinstance(item, kind)
            or (kind is date and isinstance(item, datetime))
            or (kind is int and isinstance(item, bool))
        ):
            raise ValueError(f"{where}: expected {key} to be a {kind.__name__}, was {item!r}")
    return dict.fromkeys(optional) | value


def _names(where: str, entry: dict[str, Any]) -> dict[str, Any]:
    names = entry["calendars"]
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{where}: expected calendars to be a list of names, was {names!r}")
    return entry | {"calendars": tuple(names)}


def _parse_calendar(name: str, value: object) -> TableCalendar:
    where = f"Session table, calendar {name}"
    e = _fields(where, value, ("timezone", "trading_days", "times"), ("description",))
    try:
        ZoneInfo(e["timezone"])
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{where}: expected an IANA time zone, was {e['timezone']!r}") from error
    rows = sorted(
        (
            SessionTimes(**_fields(f"{where}, times {i + 1}", row, _TIMES, ("pre_open",)))
            for i, row in enumerate(e["times"])
        ),
        key=lambda r: r.effective_from,
    )
    dates = [r.effective_from for r in rows]
    if not rows or len(set(dates)) != len(dates):
        raise ValueError(f"{where}: expected rows with distinct effective_from, was {dates}")
    return TableCalendar(name, e["timezone"], e["trading_days"], tuple(rows))


def parse_session_table(text: str) -> SessionTable:
    """Parse a session table: ``[calendars.NAME]`` with ``[[...times]]`` rows, ``[overrides]``
    and ``[[years]]`` (:class:`DeclaredYear`).

    Any part may be missing: a file of overrides or years only can be merged into the shipped
    table with :meth:`SessionTable.merged`.

    Raises:
        ValueError: not TOML, unknown or missing keys, a value of the wrong type, an unknown time
            zone, two rows or overrides for the same calendar and date, or a declared year with
            a holiday outside it or on a weekend, a holiday twice, no holidays, a year twice or
            a gap between years.
    """
    document = tomllib.loads(text)
    calendars, years = document.get("calendars", {}), document.get("years", [])
    if set(document) - {"calendars", "overrides", "years"} or not isinstance(calendars, dict):
        raise ValueError(
            "Session table: expected [calendars.NAME] tables, [overrides] and [[years]], "
            f"found keys {sorted(document)}"
        )
    if not isinstance(years, list):
        raise ValueError(f"Session table: expected [[years]] tables, was years = {years!r}")
    overrides = _fields("Session overrides", document.get("overrides", {}), (), _OVERRIDES)
    return SessionTable(
        {name: _parse_calendar(name, body) for name, body in calendars.items()},
        tuple(_holiday(i, h) for i, h in enumerate(overrides["holidays"] or ())),
        tuple(_special(i, s) for i, s in enumerate(overrides["sessions"] or ())),
        tuple(_declared_year(i, y) for i, y in enumerate(years)),
    )


def _holiday(i: int, value: object) -> ExtraHoliday:
    where = f"Extra holiday {i + 1}"
    return ExtraHoliday(**_names(where, _fields(where, value, _HOLIDAY)))


def _special(i: int, value: object) -> SpecialSession:
    where = f"Special session {i + 1}"
    return SpecialSession(**_names(where, _fields(where, value, _SPECIAL, ("pre_open",))))


def _declared_year(i: int, value: object) -> DeclaredYear:
    where = f"Declared year {i + 1}"
    e = _fields(where, value, _YEAR)
    year, holidays = e["year"], e["holidays"]
    where = f"{where} ({e['trading_days']} {year})"
    if not MINYEAR < year < MAXYEAR:
        raise ValueError(f"{where}: expected a year such as 2027, was {year}")
    if not holidays:
        raise ValueError(
            f"{where}: expected the year's weekday trading holidays from the exchange's "
            "circular, was an empty list"
        )
    seen: set[date] = set()
    for day in holidays:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise ValueError(
                f"{where}: expected holidays to be dates (YYYY-MM-DD, unquoted), was {day!r}"
            )
        if day.year != year:
            raise ValueError(f"{where}: expected holidays in {year}, was {day}")
        if day.weekday() >= 5:
            raise ValueError(
                f"{where}: expected weekday trading holidays, {day} is a {day:%A} "
                "(weekends are closed anyway; leave it out)"
            )
        if day in seen:
            raise ValueError(f"{where}: expected each holiday once, {day} twice")
        seen.add(day)
    return DeclaredYear(e["trading_days"], year, tuple(sorted(seen)), e["source"], e["checked"])


def load_session_table(user_file: Path | None = None) -> SessionTable:
    """The session table shipped with algodesk (a package file), merged with ``user_file`` when
    that file exists (:meth:`SessionTable.merged`).

    Raises:
        ValueError: the user's file cannot be read or is not a valid table; the message starts
            with its path.
    """
    resource = resources.files(__package__ or __name__).joinpath("data").joinpath(_TABLE_FILE)
    shipped = parse_session_table(resource.read_text(encoding="utf-8"))
    return shipped if user_file is None else _merge_file(shipped, user_file)


def _merge_file(table: SessionTable, path: Path) -> SessionTable:
    """``table`` with the session table at ``path`` on top, when the file exists."""
    try:
        if not path.exists():
            return table
        return table.merged(parse_session_table(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise ValueError(f"{path}: cannot read the session table: {error}") from error
    except ValueError as error:  # tomllib.TOMLDecodeError and UnicodeDecodeError included
        raise ValueError(f"{path}: {error}") from error


_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
_WIDEN = "widen ExchangeCalendars(start=..., end=...) or update exchange_calendars"


@dataclass(frozen=True, slots=True)
class Coverage:
    """The days a calendar answers for, ``first .. last``; ``source`` says where they come from
    and ``extend`` how to cover the days after ``last``."""

    calendar: str
    first: date
    last: date
    source: str
    extend: str


@dataclass(frozen=True, slots=True)
class LibraryDays:
    """What algodesk takes from one exchange_calendars calendar, as plain Python values, with
    the sessions of its declared years appended (picklable: a child process can compute it,
    see :mod:`algodesk.adapters.feeds.calendar_snapshot`)."""

    name: str
    timezone: str
    first: date
    last: date
    sessions: tuple[Session, ...]
    #: The last day of the library's recorded holidays (XBOM); None for rule-based calendars.
    recorded: date | None
    #: The years declared past ``recorded``, in order.
    declared: tuple[int, ...] = ()

    @property
    def source(self) -> str:
        if not self.declared:
            return f"exchange_calendars {self.name}"
        first, last = self.declared[0], self.declared[-1]
        years = str(first) if first == last else f"{first}-{last}"
        return f"exchange_calendars {self.name} to {self.recorded}, declared years {years}"


def _library_module() -> Any:
    """exchange_calendars, imported on first need: it pulls in pandas, which takes seconds."""
    import exchange_calendars  # type: ignore[import-untyped]  # noqa: PLC0415 - see above

    return exchange_calendars


def _utc(timestamp: Any) -> datetime:
    value = timestamp.to_pydatetime()
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise TypeError(f"exchange_calendars: expected an aware timestamp, was {timestamp!r}")
    return value.astimezone(UTC)


def _get_calendar(name: str, start: date, end: date | None, where: str) -> Any:
    try:
        return _library_module().get_calendar(
            name, start=start.isoformat(), end=None if end is None else end.isoformat()
        )
    except ValueError as error:
        fix = (
            ""
            if end is None
            else "; ask for an earlier end or, for a calendar with recorded holidays such as "
            f"XBOM, declare the years after its data in {where} ([[years]])"
        )
        raise CalendarRangeError(
            f"exchange_calendars {name} cannot cover {start} .. {end or 'its default end'}: "
            f"{error}{fix}"
        ) from error


def _library_days(name: str, calendar: Any, start: date, last: date) -> LibraryDays:
    if bool(calendar.break_starts.notna().any()):
        raise ValueError(
            f"exchange_calendars {name}: has a midday break, which Session cannot hold"
        )
    early = {label.date() for label in calendar.early_closes}
    sessions = tuple(
        Session(day=label.date(), open=_utc(o), close=_utc(c), early_close=label.date() in early)
        for label, o, c in zip(calendar.sessions, calendar.opens, calendar.closes, strict=True)
    )
    bound = calendar.bound_max()
    recorded: date | None = None if bound is None else bound.date()
    return LibraryDays(name, str(calendar.tz), start, last, sessions, recorded)


def _load_library(
    name: str, start: date, end: date | None, years: Sequence[DeclaredYear], where: str
) -> LibraryDays:
    """Library calendar ``name`` over ``start .. end`` (``None``: the library's default end, or
    the end of the last declared year), with the sessions of its declared ``years``."""
    if not years:
        calendar = _get_calendar(name, start, end, where)
        last: date = end if end is not None else calendar.last_session.date()
        return _library_days(name, calendar, start, last)
    label = f"Declared years of {name} ({where})"
    calendar = _get_calendar(name, start, None, where)
    bound = calendar.bound_max()
    if bound is None or (bound.month, bound.day) != (12, 31):
        raise ValueError(
            f"{label}: exchange_calendars computes {name} from rules (no recorded end), so it "
            "takes no declared years; correct it with [[overrides.holidays]]"
        )
    if calendar.default_end() < bound:  # the library's default end is a year from today
        calendar = _get_calendar(name, start, bound.date(), where)
    library = _library_days(name, calendar, start, bound.date())
    later = _later_years(label, library, bound.date(), years)
    zone = ZoneInfo(library.timezone)
    if calendar.open_offset or calendar.close_offset:
        raise ValueError(f"{label}: {name} sessions open or close on another day")
    opens, closes = calendar.open_times[-1][1], calendar.close_times[-1][1]  # the regular times
    extra = tuple(
        Session(d, _local(zone, d, opens), _local(zone, d, closes))
        for y in later
        for d in y.trading_days_of_year()
        if d >= start
    )
    declared_last = date(later[-1].year, 12, 31) if later else library.last
    if end is not None and end > declared_last:
        raise CalendarRangeError(
            f"exchange_calendars {name} cannot cover {start} .. {end}: it records {name} "
            f"holidays to {library.recorded}"
            + (f" and the declared years end {declared_last}" if later else "")
            + f"; declare {declared_last.year + 1} in {where} ([[years]])"
        )
    return LibraryDays(
        name,
        library.timezone,
        start,
        declared_last if end is None else end,
        library.sessions + extra,
        library.recorded,
        tuple(y.year for y in later),
    )


class CalendarLibrary(Protocol):
    """Where :class:`ExchangeCalendars` takes the library's calendars from: the names it knows
    (aliases included), an alias's calendar, and one calendar's days."""

    def names(self) -> frozenset[str]: ...

    def resolve(self, name: str) -> str: ...

    def days(
        self, name: str, start: date, end: date | None, years: Sequence[DeclaredYear], where: str
    ) -> LibraryDays: ...


class InProcessLibrary:
    """exchange_calendars in this process (imported on first use: with pandas, about 100 MB)."""

    def names(self) -> frozenset[str]:
        return frozenset(_library_module().get_calendar_names(include_aliases=True))

    def resolve(self, name: str) -> str:
        resolved: str = _library_module().resolve_alias(name)
        return resolved

    def days(
        self, name: str, start: date, end: date | None, years: Sequence[DeclaredYear], where: str
    ) -> LibraryDays:
        return _load_library(name, start, end, years, where)


def _later_years(
    label: str, library: LibraryDays, recorded: date, years: Sequence[DeclaredYear]
) -> list[DeclaredYear]:
    """The declared years after the library's ``recorded`` data, checked to continue it; a
    year it records must agree with it (see :class:`DeclaredYear`)."""
    name = library.name
    _check_years(label, ((name, y.year) for y in years))
    ordered = sorted(years, key=lambda y: y.year)
    sessions = {s.day for s in library.sessions}
    for y in ordered:
        lo, hi = max(library.first, date(y.year, 1, 1)), min(date(y.year, 12, 31), recorded)
        if y.year > recorded.year or lo > hi:
            continue  # after the data (declared), or before the registry's start (unchecked)
        closed = {d for d in _weekdays(lo, hi) if d not in sessions}
        declared = {d for d in y.holidays if lo <= d <= hi}
        if closed != declared:
            raise ValueError(
                f"{label}: exchange_calendars {name} already records {y.year} and its weekday "
                f"holidays differ from {lo}: only declared {_dates(declared - closed)}, only "
                f"the library's {_dates(closed - declared)}; a declared year extends a "
                "library past its data: drop it, or correct a recorded year with "
                "[[overrides.holidays]] and [[overrides.sessions]]"
            )
    later = [y for y in ordered if y.year > recorded.year]
    if later and later[0].year != recorded.year + 1:
        missing = ", ".join(str(n) for n in range(recorded.year + 1, later[0].year))
        raise ValueError(
            f"{label}: exchange_calendars records {name} to {recorded}, so the first declared "
            f"year must be {recorded.year + 1}, was {later[0].year} (declare {missing} first)"
        )
    return later


def _local(zone: ZoneInfo, day: date, wall: time) -> datetime:
    if wall.tzinfo is not None:
        raise ValueError(f"Expected an exchange-local wall time without tzinfo, was {wall!r}")
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


class _Index:
    """One calendar's sessions over its range, indexed for fast questions."""

    __slots__ = (
        "by_day", "by_utc_day", "closes", "days", "end", "extend", "first", "last", "name",
        "opens", "origin", "sessions", "start", "zone",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        zone: ZoneInfo,
        first: date,
        last: date,
        origin: str,
        sessions: list[Session],
        extend: str = _WIDEN,
    ) -> None:
        if first > last:
            raise CalendarRangeError(f"{name} calendar: empty range {first} .. {last} ({origin})")
        for before, after in itertools.pairwise(sessions):
            if after.open < before.close:
                raise ValueError(f"{name} calendar: sessions {before.day}, {after.day} overlap")
        by_utc_day: dict[date, list[Session]] = {}
        for s in sessions:
            d = s.open.date()
            while d <= (s.close - _TICK).date():  # every UTC date the session touches
                by_utc_day.setdefault(d, []).append(s)
                d += _DAY
        self.name, self.zone, self.first, self.last, self.origin = name, zone, first, last, origin
        self.extend = extend
        self.sessions = sessions
        self.by_day = {s.day: s for s in sessions}
        self.by_utc_day = {d: tuple(s) for d, s in by_utc_day.items()}
        self.days = [s.day for s in sessions]
        self.opens = [s.open for s in sessions]
        self.closes = [s.close for s in sessions]
        self.start = _local(zone, first, time())
        self.end = _local(zone, last + _DAY, time())

    def outside(self, what: date | datetime) -> CalendarRangeError:
        later = what >= self.end if isinstance(what, datetime) else what > self.last
        return CalendarRangeError(
            f"{self.name} calendar: expected a time in {self.first} .. {self.last} "
            f"({self.origin}), was {what}; {self.extend if later else _WIDEN}"
        )

    def require_day(self, day: date) -> None:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise TypeError(f"{self.name} calendar: expected a date, was {day!r}")
        if not self.first <= day <= self.last:
            raise self.outside(day)

    def require_instant(self, at: datetime) -> None:
        require_utc("at", at)
        if not self.start <= at < self.end:
            raise self.outside(at)

    def after(self, at: datetime, instants: list[datetime]) -> int:
        """The index of the first instant in ``instants`` strictly after ``at``."""
        self.require_instant(at)
        i = bisect_right(instants, at)
        if i == len(instants):
            raise CalendarRangeError(
                f"{self.name} calendar: no session after {at} up to {self.last} "
                f"({self.origin}); {self.extend}"
            )
        return i


class VenueCalendar:
    """One calendar (the :class:`~algodesk.ports.calendar.MarketCalendar` port).

    Built on first use, then every answer comes from memory.
    """

    __slots__ = ("_build", "_index", "_lock", "_name")

    def __init__(self, name: str, build: Callable[[], _Index]) -> None:
        self._name = name
        self._build = build
        self._index: _Index | None = None
        self._lock = threading.Lock()

    def _idx(self) -> _Index:
        index = self._index
        if index is None:
            with self._lock:
                index = self._index
                if index is None:
                    index = self._index = self._build()
        return index

    @property
    def name(self) -> str:
        return self._name

    @property
    def timezone(self) -> str:
        return self._idx().zone.key

    def session(self, day: date) -> Session | None:
        index = self._idx()
        index.require_day(day)
        return index.by_day.get(day)

    def is_open(self, at: datetime) -> bool:
        require_utc("at", at)
        index = self._index or self._idx()
        for s in index.by_utc_day.get(at.date(), ()):
            if s.open <= at < s.close:
                return True
        if not index.start <= at < index.end:
            raise index.outside(at)
        return False

    def next_open(self, at: datetime) -> datetime:
        index = self._idx()
        return index.opens[index.after(at, index.opens)]

    def trading_day(self, at: datetime) -> date:
        index = self._idx()
        return index.sessions[index.after(at, index.closes)].day

    def at(self, day: date, local: time) -> datetime:
        return _local(self._idx().zone, day, local)

    def sessions(self, start: date, end: date) -> list[Session]:
        index = self._idx()
        index.require_day(start)
        index.require_day(end)
        return index.sessions[bisect_left(index.days, start) : bisect_right(index.days, end)]

    def coverage(self) -> Coverage:
        """The days this calendar answers for (``last`` is the last covered day) and how to
        cover later ones; builds the calendar."""
        index = self._idx()
        return Coverage(index.name, index.first, index.last, index.origin, index.extend)

    def __repr__(self) -> str:
        return f"VenueCalendar({self._name!r})"


class ExchangeCalendars:
    """The :class:`~algodesk.ports.calendar.Calendars` port: venue code → calendar.

    Args:
        venues: venue codes to add or remap, on top of :data:`DEFAULT_VENUES`, e.g.
            ``{"PAPER": "24/7"}``; a target is a table calendar or an exchange_calendars name.
        table: the session table; the one shipped with algodesk when ``None``.
        start: the first day covered.
        end: the last day covered; ``None`` takes the library's default (its last recorded
            year for XBOM, or the last declared year; about a year ahead for rule-based
            calendars).
        user_file: the desk's own session table, ``<data_dir>/sessions.toml``: merged into
            ``table`` when it exists (:meth:`SessionTable.merged`), and named in messages that
            ask for a declared year.

    Raises:
        ValueError: a bad venue mapping, override or user file, or a declared year that does
            not continue its library (checked here, by building that library, so a desk stops
            at start rather than at its first order).
    """

    def __init__(
        self,
        venues: Mapping[str, str] | None = None,
        *,
        table: SessionTable | None = None,
        start: date = DEFAULT_START,
        end: date | None = None,
        user_file: Path | None = None,
        library: CalendarLibrary | None = None,
    ) -> None:
        if end is not None and end < start:
            raise ValueError(f"ExchangeCalendars: expected start <= end, was {start} .. {end}")
        table = load_session_table() if table is None else table
        self._table = table if user_file is None else _merge_file(table, user_file)
        self._where = f"<data_dir>/{_TABLE_FILE}" if user_file is None else str(user_file)
        self._start, self._end = start, end
        mapping = {**DEFAULT_VENUES, **(venues or {})}
        self._source: CalendarLibrary = InProcessLibrary() if library is None else library
        known = self._source.names()
        for code, name in mapping.items():
            Venue(code)
            if name not in self._table.calendars and name not in known:
                raise ValueError(
                    f"Venue {code}: expected a calendar of the session table "
                    f"({', '.join(sorted(self._table.calendars))}) or an exchange_calendars name "
                    f"such as XNYS or 24/7, was {name!r}"
                )
        usable = {*self._table.calendars, *mapping.values(), *DEFAULT_VENUES.values()}
        overrides: tuple[ExtraHoliday | SpecialSession, ...] = (
            *self._table.holidays,
            *self._table.special_sessions,
        )
        for override in overrides:
            unknown = set(override.calendars) - usable
            if unknown:
                raise ValueError(
                    f"Session override on {override.day}: expected calendars among "
                    f"{sorted(usable)}, was {sorted(unknown)}"
                )
        self._venues: Mapping[str, str] = MappingProxyType(mapping)
        self._calendars = {
            name: VenueCalendar(name, functools.partial(self._build, name))
            for name in set(mapping.values())
        }
        self._years: dict[str, list[DeclaredYear]] = {}
        for year in self._table.years:
            if year.trading_days not in known:
                raise ValueError(
                    f"Declared year {year.year} ({self._where}): expected trading_days to name "
                    f"an exchange_calendars calendar such as XBOM, was {year.trading_days!r}"
                )
            self._years.setdefault(self._source.resolve(year.trading_days), []).append(year)
        self._libraries: dict[str, LibraryDays] = {}
        self._lock = threading.Lock()
        for name in self._years:
            self._library(name)

    @property
    def venues(self) -> Mapping[str, str]:
        """Venue code → calendar name."""
        return self._venues

    def for_venue(self, venue: Venue | str) -> VenueCalendar:
        code = str(venue)
        name = self._venues.get(code)
        if name is None:
            raise UnknownVenueError(
                f"No calendar for venue {code!r}; known venues: {', '.join(sorted(self._venues))} "
                "(add one with ExchangeCalendars(venues={...}))"
            )
        return self._calendars[name]

    def _library(self, name: str) -> LibraryDays:
        """The library calendar ``name`` (or its alias), built once per registry."""
        with self._lock:
            key = self._source.resolve(name)
            days = self._libraries.get(key)
            if days is None:
                years = self._years.get(key, ())
                days = self._source.days(key, self._start, self._end, years, self._where)
                self._libraries[key] = days
            return days

    def _extend(self, library: LibraryDays) -> str:
        """How to cover the days after a library calendar's last one."""
        if self._end is not None or library.recorded is None:
            return _WIDEN
        year = library.last.year + 1
        return (
            f"exchange_calendars records {library.name} holidays only to {library.recorded}"
            + (f" and the declared years end {library.last}" if library.declared else "")
            + f"; declare {year} in {self._where}: a [[years]] entry with trading_days = "
            f'"{library.name}", year = {year} and the holidays of the exchange\'s circular '
            "(README: Declaring a trading year)"
        )

    def _build(self, name: str) -> _Index:
        spec = self._table.calendars.get(name)
        library = self._library(name if spec is None else spec.trading_days)
        if spec is None:
            zone, first, origin = ZoneInfo(library.timezone), library.first, library.source
            sessions = {s.day: s for s in library.sessions}
        else:
            zone, first = ZoneInfo(spec.timezone), max(library.first, spec.times[0].effective_from)
            origin = f"days from {library.source}, times from the session table"
            sessions = {}
            for s in library.sessions:
                times = spec.times_on(s.day)
                if times is not None:
                    sessions[s.day] = _session(zone, s.day, times, early_close=False)
        for holiday in self._table.holidays:
            if name in holiday.calendars:
                sessions.pop(holiday.day, None)
        for special in self._table.special_sessions:
            if name in special.calendars:
                regular = None if spec is None else spec.times_on(special.day)
                early = regular is not None and special.close < regular.close
                sessions[special.day] = _session(zone, special.day, special, early_close=early)
        ordered = [sessions[d] for d in sorted(sessions) if first <= d <= library.last]
        return _Index(name, zone, first, library.last, origin, ordered, self._extend(library))


def _session(
    zone: ZoneInfo, day: date, times: SessionTimes | SpecialSession, *, early_close: bool
) -> Session:
    return Session(
        day=day,
        open=_local(zone, day, times.open),
        close=_local(zone, day, times.close),
        pre_open=None if times.pre_open is None else _local(zone, day, times.pre_open),
        early_close=early_close,
    )
