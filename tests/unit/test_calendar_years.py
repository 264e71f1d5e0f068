"""Declared trading years: a ``[[years]]`` entry of a session table extends a library calendar
whose recorded holidays end too early (XBOM ends 2026-12-31 in exchange_calendars 4.13.2), and
a calendar without one says how to fix a question past its end.

The 2027 holidays (``tests/session_tables.py``) are synthetic: NSE's 2027 circular is not out,
and the tests only need weekday holidays. Expected instants are written from IST wall time,
never computed by the code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from algodesk.adapters.feeds.calendars import (
    CalendarRangeError,
    DeclaredYear,
    ExchangeCalendars,
    SessionTable,
    load_session_table,
    parse_session_table,
)
from algodesk.domain.identifiers import Venue
from algodesk.domain.market.sessions import Session
from tests.session_tables import NSE_CALENDAR
from tests.session_tables import SYNTHETIC_2027 as YEAR_2027

IST = ZoneInfo("Asia/Kolkata")
START = date(2026, 10, 1)  # a narrow range builds quickly; the end is the data's (end=None)
REPUBLIC_DAY, SYNTHETIC = date(2027, 1, 26), date(2027, 3, 10)  # a Tuesday, a Wednesday
MONDAY, SATURDAY = date(2027, 1, 4), date(2027, 1, 9)


def ist(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=IST).astimezone(UTC)


def with_years(text: str) -> SessionTable:
    return load_session_table().merged(parse_session_table(text))


@pytest.fixture(scope="module")
def declared() -> ExchangeCalendars:
    return ExchangeCalendars(table=with_years(YEAR_2027), start=START)


@pytest.fixture(scope="module")
def undeclared() -> ExchangeCalendars:
    return ExchangeCalendars(start=START)


def test_a_declared_year_extends_nse_and_nfo_with_the_tables_times(
    declared: ExchangeCalendars,
) -> None:
    nse, nfo = declared.for_venue(Venue("NSE")), declared.for_venue(Venue("NFO"))
    assert nse.session(MONDAY) == Session(
        MONDAY, ist(MONDAY, 9, 15), ist(MONDAY, 15, 30), ist(MONDAY, 9, 0)
    )
    assert nfo.session(MONDAY) == Session(MONDAY, ist(MONDAY, 9, 15), ist(MONDAY, 15, 40))
    assert not nse.is_open(ist(MONDAY, 9, 14, 59))
    assert nse.is_open(ist(MONDAY, 9, 15))
    assert nfo.is_open(ist(MONDAY, 15, 39, 59))
    assert not nse.is_open(ist(MONDAY, 15, 30))
    for venue in ("NSE", "NFO", "BSE", "BFO"):
        calendar = declared.for_venue(Venue(venue))
        for closed in (REPUBLIC_DAY, SYNTHETIC, SATURDAY):
            assert calendar.session(closed) is None, (venue, closed)
            assert not calendar.is_open(ist(closed, 11, 0))
        assert calendar.coverage().last == date(2027, 12, 31)
    assert nse.is_open(ist(date(2027, 12, 31), 11, 0))  # a Friday, the last covered day


def test_the_declared_year_joins_the_librarys_last_day(declared: ExchangeCalendars) -> None:
    nse = declared.for_venue(Venue("NSE"))
    last_recorded, first_declared = date(2026, 12, 31), date(2027, 1, 1)  # Thursday, Friday
    assert nse.trading_day(ist(last_recorded, 15, 30)) == first_declared
    assert nse.next_open(ist(last_recorded, 15, 30)) == ist(first_declared, 9, 15)
    assert nse.next_open(ist(date(2027, 1, 25), 15, 30)) == ist(date(2027, 1, 27), 9, 15)
    days = [s.day for s in nse.sessions(date(2026, 12, 24), date(2027, 1, 4))]
    assert days == [
        date(2026, 12, 24),
        date(2026, 12, 28),  # 25th: Christmas (the library's)
        date(2026, 12, 29),
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
        date(2027, 1, 4),
    ]
    coverage = nse.coverage()
    assert (coverage.first, coverage.last) == (START, date(2027, 12, 31))
    assert "XBOM" in coverage.source
    assert "2027" in coverage.source


def test_overrides_keep_working_on_a_declared_year() -> None:
    sunday = date(2027, 10, 31)  # synthetic: not a verified Muhurat date
    table = with_years(
        YEAR_2027
        + """
        [[overrides.sessions]]
        calendars = ["NSE", "BSE"]
        day = 2027-10-31
        pre_open = 18:00:00
        open = 18:15:00
        close = 19:15:00
        reason = "Muhurat trading (synthetic)"
        source = "test"

        [[overrides.holidays]]
        calendars = ["NFO"]
        day = 2027-01-05
        reason = "synthetic F&O closure"
        source = "test"
        """
    )
    calendars = ExchangeCalendars(table=table, start=START)
    nse, nfo = calendars.for_venue(Venue("NSE")), calendars.for_venue(Venue("NFO"))
    assert nse.session(sunday) == Session(
        sunday, ist(sunday, 18, 15), ist(sunday, 19, 15), ist(sunday, 18, 0), early_close=False
    )
    assert nse.is_open(ist(sunday, 18, 30))
    assert nfo.session(sunday) is None
    assert nfo.session(date(2027, 1, 5)) is None
    assert nse.session(date(2027, 1, 5)) is not None


def test_without_a_declaration_a_2027_question_fails_and_names_the_fix(
    undeclared: ExchangeCalendars,
) -> None:
    nse = undeclared.for_venue(Venue("NSE"))
    assert nse.coverage().last == date(2026, 12, 31)
    fix = r"declare 2027 in .*sessions\.toml.*\[\[years\]\].*trading_days = \"XBOM\""
    with pytest.raises(CalendarRangeError, match=fix):
        nse.is_open(ist(MONDAY, 11, 0))
    with pytest.raises(CalendarRangeError, match="declare 2027"):
        nse.session(MONDAY)
    with pytest.raises(CalendarRangeError, match="declare 2027"):
        nse.next_open(ist(date(2026, 12, 31), 15, 30))
    assert "declare 2027" in nse.coverage().extend


def test_the_fix_names_the_users_file(tmp_path: Path) -> None:
    path = tmp_path / "sessions.toml"
    calendars = ExchangeCalendars(start=START, user_file=path)  # the file does not exist yet
    with pytest.raises(CalendarRangeError, match=f"declare 2027 in {path}"):
        calendars.for_venue(Venue("NFO")).is_open(ist(MONDAY, 11, 0))


def test_a_users_file_is_merged_and_a_bad_one_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "sessions.toml"
    path.write_text(YEAR_2027)
    calendars = ExchangeCalendars(start=START, user_file=path)
    assert calendars.for_venue(Venue("NSE")).session(MONDAY) is not None
    assert calendars.for_venue(Venue("NSE")).session(REPUBLIC_DAY) is None
    path.write_text(YEAR_2027.replace("2027-03-10", "2027-03-13"))
    with pytest.raises(ValueError, match=rf"{path}: Declared year 1 \(XBOM 2027\).*Saturday"):
        ExchangeCalendars(start=START, user_file=path)
    path.write_text("[[years]\n")
    with pytest.raises(ValueError, match=rf"{path}: "):
        ExchangeCalendars(start=START, user_file=path)


def test_a_users_calendar_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "sessions.toml"
    path.write_text(YEAR_2027 + NSE_CALENDAR.replace("close = 15:30:00", "close = 15:45:00"))
    calendars = ExchangeCalendars(start=START, user_file=path)
    assert calendars.for_venue(Venue("NSE")).session(MONDAY) == Session(
        MONDAY, ist(MONDAY, 9, 15), ist(MONDAY, 15, 45), ist(MONDAY, 9, 0)
    )
    nfo = calendars.for_venue(Venue("NFO")).session(MONDAY)
    assert nfo is not None
    assert nfo.close == ist(MONDAY, 15, 40)  # the other calendars keep the shipped rows


def test_a_users_year_replaces_the_same_year_of_the_shipped_table() -> None:
    shipped = with_years(YEAR_2027)
    mine = parse_session_table(YEAR_2027.replace("2027-03-10", "2027-03-11"))
    (year,) = shipped.merged(mine).years
    assert year.holidays == (REPUBLIC_DAY, date(2027, 3, 11))


def test_a_declared_year_reads_as_dated_and_sourced() -> None:
    (year,) = parse_session_table(YEAR_2027).years
    assert year == DeclaredYear(
        "XBOM",
        2027,
        (REPUBLIC_DAY, SYNTHETIC),
        "test: synthetic, not the NSE circular",
        date(2026, 11, 22),
    )
    assert year.trading_days_of_year()[:3] == [date(2027, 1, 1), MONDAY, date(2027, 1, 5)]
    assert len(year.trading_days_of_year()) == 261 - 2  # 2027 has 261 weekdays


def _year(year: int = 2027, holidays: str = "[2027-01-26]", library: str = "XBOM") -> str:
    return (
        f'[[years]]\ntrading_days = "{library}"\nyear = {year}\nholidays = {holidays}\n'
        'source = "test"\nchecked = 2026-11-22\n'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_year(holidays="[2027-01-26, 2027-01-26]"), r"XBOM 2027\).*2027-01-26 twice"),
        (_year(holidays="[2027-01-09]"), r"2027-01-09 is a Saturday"),
        (_year(holidays="[2028-01-26]"), r"expected holidays in 2027, was 2028-01-26"),
        (_year(holidays="[]"), r"expected the year's weekday trading holidays"),
        (_year(holidays='["2027-01-26"]'), r"expected holidays to be dates"),
        (_year(year=2027) + _year(year=2027), r"XBOM 2027 declared twice"),
        (_year(year=2027) + _year(year=2029, holidays="[2029-01-26]"), r"2028 missing"),
        (_year() + "colour = 1\n", r"unknown \['colour'\]"),
        (_year().replace("year = 2027", 'year = "2027"'), r"expected year to be a int"),
        ("years = 1\n", r"expected \[\[years\]\] tables"),
    ],
    ids=[
        "duplicate",
        "weekend",
        "wrong-year",
        "empty",
        "string-date",
        "year-twice",
        "gap",
        "unknown-key",
        "year-type",
        "not-tables",
    ],
)
def test_a_bad_declared_year_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_session_table(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _year(year=2028, holidays="[2028-01-26]"),
            r"XBOM to 2026-12-31, so the first declared year must be 2027, was 2028",
        ),
        (_year(library="XNYS", holidays="[2027-01-01]"), r"XNYS.*from rules"),
        (_year(library="NOPE"), r"expected trading_days to name an exchange_calendars calendar"),
        (
            _year(year=2026, holidays="[2026-01-26]"),
            r"XBOM already records 2026.*only declared \[\].*only the library's \[2026-10-02, ",
        ),
    ],
    ids=["gap-to-library", "rule-based", "unknown-library", "covered-year-differs"],
)
def test_a_declared_year_must_continue_its_library(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExchangeCalendars(table=with_years(text), start=START)


def test_a_covered_year_that_agrees_with_the_library_is_ignored(
    undeclared: ExchangeCalendars,
) -> None:
    """Agreeing with the library is accepted (upgrading exchange_calendars to a release that
    records a declared year must not stop the desk); the library's days stay in force."""
    nse = undeclared.for_venue(Venue("NSE"))
    days = nse.sessions(START, date(2026, 12, 31))
    weekdays = [
        date.fromordinal(d)
        for d in range(START.toordinal(), date(2026, 12, 31).toordinal() + 1)
        if date.fromordinal(d).weekday() < 5
    ]
    holidays = sorted(set(weekdays) - {s.day for s in days})
    text = _year(year=2026, holidays="[" + ", ".join(d.isoformat() for d in holidays) + "]")
    # Only days from the registry's start can be compared: the earlier ones are not checked.
    calendars = ExchangeCalendars(table=with_years(text), start=START)
    assert calendars.for_venue(Venue("NSE")).coverage().last == date(2026, 12, 31)
    assert calendars.for_venue(Venue("NSE")).sessions(START, date(2026, 12, 31)) == days


def test_an_explicit_end_past_the_declared_years_fails_naming_the_fix() -> None:
    calendars = ExchangeCalendars(table=with_years(YEAR_2027), start=START, end=date(2027, 6, 30))
    assert calendars.for_venue(Venue("NSE")).coverage().last == date(2027, 6, 30)
    with pytest.raises(CalendarRangeError, match="declare 2028"):
        ExchangeCalendars(table=with_years(YEAR_2027), start=START, end=date(2028, 1, 31))


def test_a_venue_on_the_library_calendar_itself_takes_the_librarys_times() -> None:
    calendars = ExchangeCalendars({"INDIA": "XBOM"}, table=with_years(YEAR_2027), start=START)
    session = calendars.for_venue(Venue("INDIA")).session(MONDAY)
    assert session == Session(MONDAY, ist(MONDAY, 9, 15), ist(MONDAY, 15, 30))
    assert calendars.for_venue(Venue("INDIA")).at(MONDAY, time(9, 15)) == ist(MONDAY, 9, 15)
