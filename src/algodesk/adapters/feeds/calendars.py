"""Exchange calendars: when each venue trades, as :class:`Session` objects in UTC.

Trading days (weekends, holidays) come from the maintained ``exchange_calendars`` library: XBOM
for the Indian venues (NSE and BSE share their trading holidays), XNYS for NYSE and NASDAQ, 24/7
for crypto. The Indian session *times* change by circular, so they come from the dated table
``data/sessions.toml`` (:func:`load_session_table`); other calendars take their times, early
closes and DST from the library. The table's overrides add holidays and special sessions.

The registry imports the library when it is made (to check venue mappings; pandas makes that
about 3 s); each calendar's sessions are built on first use, once, for the registry's date
range; afterwards
:meth:`VenueCalendar.is_open` is a dict lookup and two comparisons. A question outside the range
raises :class:`CalendarRangeError`, which names the range.
"""

from __future__ import annotations

import functools
import itertools
import threading
import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from algodesk.domain.fills import require_utc
from algodesk.domain.identifiers import Venue
from algodesk.domain.market.sessions import Session
from algodesk.ports.calendar import CalendarUnavailableError, UnknownVenueError

__all__ = [
    "DEFAULT_START",
    "DEFAULT_VENUES",
    "CalendarRangeError",
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


@dataclass(frozen=True, slots=True)
class SessionTable:
    """The dated session times of the table calendars, plus overrides for any calendar."""

    calendars: Mapping[str, TableCalendar]
    holidays: tuple[ExtraHoliday, ...] = ()
    special_sessions: tuple[SpecialSession, ...] = ()

    def __post_init__(self) -> None:
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
        )


_KINDS: Mapping[str, type] = {
    "effective_from": date, "checked": date, "day": date,
    "open": time, "close": time, "pre_open": time,
    "source": str, "reason": str, "description": str, "timezone": str, "trading_days": str,
    "calendars": list, "times": list, "holidays": list, "sessions": list,
}  # fmt: skip
_TIMES = ("effective_from", "open", "close", "source", "checked")
_HOLIDAY = ("calendars", "day", "reason", "source")
_SPECIAL = ("calendars", "day", "open", "close", "reason", "source")
_OVERRIDES = ("holidays", "sessions")


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
        if not isinstance(item, kind) or (kind is date and isinstance(item, datetime)):
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
    """Parse a session table: ``[calendars.NAME]`` with ``[[...times]]`` rows, ``[overrides]``.

    Either part may be missing: a file of overrides only can be merged into the shipped table
    with :meth:`SessionTable.with_overrides`.

    Raises:
        ValueError: not TOML, unknown or missing keys, a value of the wrong type, an unknown time
            zone, or two rows or overrides for the same calendar and date.
    """
    document = tomllib.loads(text)
    calendars = document.get("calendars", {})
    if set(document) - {"calendars", "overrides"} or not isinstance(calendars, dict):
        raise ValueError(
            "Session table: expected [calendars.NAME] tables and [overrides], "
            f"found keys {sorted(document)}"
        )
    overrides = _fields("Session overrides", document.get("overrides", {}), (), _OVERRIDES)
    return SessionTable(
        {name: _parse_calendar(name, body) for name, body in calendars.items()},
        tuple(_holiday(i, h) for i, h in enumerate(overrides["holidays"] or ())),
        tuple(_special(i, s) for i, s in enumerate(overrides["sessions"] or ())),
    )


def _holiday(i: int, value: object) -> ExtraHoliday:
    where = f"Extra holiday {i + 1}"
    return ExtraHoliday(**_names(where, _fields(where, value, _HOLIDAY)))


def _special(i: int, value: object) -> SpecialSession:
    where = f"Special session {i + 1}"
    return SpecialSession(**_names(where, _fields(where, value, _SPECIAL, ("pre_open",))))


def load_session_table() -> SessionTable:
    """The session table shipped with algodesk (reads a package file)."""
    resource = resources.files(__package__ or __name__).joinpath("data").joinpath(_TABLE_FILE)
    return parse_session_table(resource.read_text(encoding="utf-8"))


_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class _LibraryDays:
    """What algodesk takes from one exchange_calendars calendar, as plain Python values."""

    timezone: str
    first: date
    last: date
    sessions: tuple[Session, ...]


def _library_module() -> Any:
    """exchange_calendars, imported on first need: it pulls in pandas, which takes seconds."""
    import exchange_calendars  # type: ignore[import-untyped]  # noqa: PLC0415 - see above

    return exchange_calendars


def _utc(timestamp: Any) -> datetime:
    value = timestamp.to_pydatetime()
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise TypeError(f"exchange_calendars: expected an aware timestamp, was {timestamp!r}")
    return value.astimezone(UTC)


def _load_library(name: str, start: date, end: date | None) -> _LibraryDays:
    """Library calendar ``name`` over ``start .. end`` (``None``: the library's default end)."""
    try:
        calendar: Any = _library_module().get_calendar(
            name, start=start.isoformat(), end=None if end is None else end.isoformat()
        )
    except ValueError as error:
        raise CalendarRangeError(
            f"exchange_calendars {name} cannot cover {start} .. {end or 'its default end'}: {error}"
        ) from error
    if bool(calendar.break_starts.notna().any()):
        raise ValueError(
            f"exchange_calendars {name}: has a midday break, which Session cannot hold"
        )
    early = {label.date() for label in calendar.early_closes}
    sessions = tuple(
        Session(day=label.date(), open=_utc(o), close=_utc(c), early_close=label.date() in early)
        for label, o, c in zip(calendar.sessions, calendar.opens, calendar.closes, strict=True)
    )
    last: date = end if end is not None else calendar.last_session.date()
    return _LibraryDays(str(calendar.tz), start, last, sessions)


def _local(zone: ZoneInfo, day: date, wall: time) -> datetime:
    if wall.tzinfo is not None:
        raise ValueError(f"Expected an exchange-local wall time without tzinfo, was {wall!r}")
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


class _Index:
    """One calendar's sessions over its range, indexed for fast questions."""

    __slots__ = (
        "by_day", "by_utc_day", "closes", "days", "end", "first", "last", "name", "opens",
        "origin", "sessions", "start", "zone",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        zone: ZoneInfo,
        first: date,
        last: date,
        origin: str,
        sessions: list[Session],
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
        self.sessions = sessions
        self.by_day = {s.day: s for s in sessions}
        self.by_utc_day = {d: tuple(s) for d, s in by_utc_day.items()}
        self.days = [s.day for s in sessions]
        self.opens = [s.open for s in sessions]
        self.closes = [s.close for s in sessions]
        self.start = _local(zone, first, time())
        self.end = _local(zone, last + _DAY, time())

    def outside(self, what: object) -> CalendarRangeError:
        return CalendarRangeError(
            f"{self.name} calendar: expected a time in {self.first} .. {self.last} "
            f"({self.origin}), was {what}; widen ExchangeCalendars(start=..., end=...) "
            "or update exchange_calendars"
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
                f"{self.name} calendar: no session after {at} up to {self.last} ({self.origin})"
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
            year for XBOM, about a year ahead for rule-based calendars).
    """

    def __init__(
        self,
        venues: Mapping[str, str] | None = None,
        *,
        table: SessionTable | None = None,
        start: date = DEFAULT_START,
        end: date | None = None,
    ) -> None:
        if end is not None and end < start:
            raise ValueError(f"ExchangeCalendars: expected start <= end, was {start} .. {end}")
        self._table = load_session_table() if table is None else table
        self._start, self._end = start, end
        mapping = {**DEFAULT_VENUES, **(venues or {})}
        library = set(_library_module().get_calendar_names(include_aliases=True))
        for code, name in mapping.items():
            Venue(code)
            if name not in self._table.calendars and name not in library:
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
        self._libraries: dict[str, _LibraryDays] = {}
        self._lock = threading.Lock()

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

    def _library(self, name: str) -> _LibraryDays:
        """The library calendar ``name`` (or its alias), built once per registry."""
        with self._lock:
            key: str = _library_module().resolve_alias(name)
            days = self._libraries.get(key)
            if days is None:
                days = self._libraries[key] = _load_library(key, self._start, self._end)
            return days

    def _build(self, name: str) -> _Index:
        spec = self._table.calendars.get(name)
        library = self._library(name if spec is None else spec.trading_days)
        if spec is None:
            zone, first, origin = (
                ZoneInfo(library.timezone),
                library.first,
                f"exchange_calendars {name}",
            )
            sessions = {s.day: s for s in library.sessions}
        else:
            zone, first = ZoneInfo(spec.timezone), max(library.first, spec.times[0].effective_from)
            origin = (
                f"days from exchange_calendars {spec.trading_days}, times from the session table"
            )
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
        return _Index(name, zone, first, library.last, origin, ordered)


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
