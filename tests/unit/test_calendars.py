"""Exchange calendars: NSE/BSE holidays and IST session edges, the F&O close moving to 15:40, a
NYSE early close, US DST, 24/7 crypto, trading-day roll-over, overrides and clear errors.

Expected instants are written from exchange-local wall time with ``zoneinfo`` (or as literal UTC),
never computed by the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from algodesk.adapters.feeds.calendars import (
    CalendarRangeError,
    ExchangeCalendars,
    ExtraHoliday,
    SessionTimes,
    SpecialSession,
    load_session_table,
    parse_session_table,
)
from algodesk.domain.identifiers import Venue
from algodesk.domain.market.sessions import Session
from algodesk.ports.calendar import Calendars, MarketCalendar, UnknownVenueError
from tests.session_tables import NSE_CALENDAR

IST = ZoneInfo("Asia/Kolkata")
START, END = date(2025, 10, 1), date(2026, 12, 31)  # a narrow range builds quickly


def ist(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=IST).astimezone(UTC)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


@pytest.fixture(scope="module")
def calendars() -> ExchangeCalendars:
    return ExchangeCalendars(start=START, end=END)


def cal(calendars: Calendars, venue: str) -> MarketCalendar:
    return calendars.for_venue(Venue(venue))


NSE_HOLIDAYS_2026 = {
    date(2026, 1, 26): "Republic Day",
    date(2026, 11, 10): "Diwali Balipratipada",
    date(2026, 11, 24): "Guru Nanak Jayanti",
    date(2026, 12, 25): "Christmas",
}


@pytest.mark.parametrize("venue", ["NSE", "NFO", "BSE", "BFO"])
@pytest.mark.parametrize("day", sorted(NSE_HOLIDAYS_2026))
def test_known_2026_nse_holidays_are_closed(
    calendars: ExchangeCalendars, venue: str, day: date
) -> None:
    calendar = cal(calendars, venue)
    assert calendar.session(day) is None, NSE_HOLIDAYS_2026[day]
    assert not calendar.is_open(ist(day, 11, 0))


@pytest.mark.parametrize("day", [date(2026, 1, 24), date(2026, 1, 25)])
def test_weekends_are_closed_on_indian_and_us_venues(
    calendars: ExchangeCalendars, day: date
) -> None:
    weekday_open = {
        "NSE": ist(day, 11, 0),
        "NFO": ist(day, 11, 0),
        "NYSE": utc(2026, 1, day.day, 16),
    }
    for venue, at in weekday_open.items():
        assert cal(calendars, venue).session(day) is None
        assert not cal(calendars, venue).is_open(at)
        assert cal(calendars, venue).is_open(at - timedelta(days=day.weekday() - 4))  # Friday


def test_nse_continuous_trading_runs_from_0915_to_1530_ist(calendars: ExchangeCalendars) -> None:
    nse, day = cal(calendars, "NSE"), date(2026, 1, 27)
    assert not nse.is_open(ist(day, 9, 14, 59))
    assert nse.is_open(ist(day, 9, 15))
    assert nse.is_open(ist(day, 15, 29, 59))
    assert not nse.is_open(ist(day, 15, 30))
    session = nse.session(day)
    assert session is not None
    assert (session.open, session.close) == (ist(day, 9, 15), ist(day, 15, 30))
    assert session.open == utc(2026, 1, 27, 3, 45)


def test_nse_pre_open_is_not_continuous_trading(calendars: ExchangeCalendars) -> None:
    nse, day = cal(calendars, "NSE"), date(2026, 1, 27)
    session = nse.session(day)
    assert session is not None
    assert session.pre_open == ist(day, 9, 0)
    for at in (ist(day, 9, 0), ist(day, 9, 8), ist(day, 9, 14, 59)):
        assert session.in_pre_open(at)
        assert not nse.is_open(at)
    assert not session.in_pre_open(ist(day, 8, 59, 59))
    assert not session.in_pre_open(ist(day, 9, 15))


def test_fo_close_moves_from_1530_to_1540_ist_on_3_aug_2026(calendars: ExchangeCalendars) -> None:
    nfo, before, after = cal(calendars, "NFO"), date(2026, 7, 31), date(2026, 8, 3)
    old, new = nfo.session(before), nfo.session(after)
    assert old is not None
    assert new is not None
    assert old.close == ist(before, 15, 30)
    assert new.close == ist(after, 15, 40)
    assert not nfo.is_open(ist(before, 15, 35))
    assert nfo.is_open(ist(after, 15, 39, 59))
    assert not nfo.is_open(ist(after, 15, 40))
    assert (old.pre_open, new.pre_open) == (None, None)  # options have no pre-open
    assert cal(calendars, "BFO").session(after) == Session(
        after, ist(after, 9, 15), ist(after, 15, 40)
    )
    assert cal(calendars, "NSE").is_open(ist(after, 15, 29, 59))
    assert not cal(calendars, "NSE").is_open(ist(after, 15, 35))  # the cash market still 15:30


def test_nyse_closes_early_at_1300_et_on_the_day_after_thanksgiving(
    calendars: ExchangeCalendars,
) -> None:
    nyse = cal(calendars, "NYSE")
    session = nyse.session(date(2026, 11, 27))
    assert session is not None
    assert session.close == utc(2026, 11, 27, 18, 0)
    assert session.early_close
    assert nyse.is_open(utc(2026, 11, 27, 17, 59, 59))
    assert not nyse.is_open(utc(2026, 11, 27, 18, 0))
    assert nyse.session(date(2026, 11, 26)) is None  # Thanksgiving
    regular = nyse.session(date(2026, 11, 25))
    assert regular is not None
    assert regular.close == utc(2026, 11, 25, 21, 0)
    assert not regular.early_close


@pytest.mark.parametrize("venue", ["NYSE", "NASDAQ"])
def test_us_open_follows_daylight_saving_time(calendars: ExchangeCalendars, venue: str) -> None:
    us = cal(calendars, venue)
    opens = {
        date(2026, 3, 6): utc(2026, 3, 6, 14, 30),  # EST, before the 8 Mar change
        date(2026, 3, 9): utc(2026, 3, 9, 13, 30),  # EDT
        date(2026, 10, 30): utc(2026, 10, 30, 13, 30),  # EDT, before the 1 Nov change
        date(2026, 11, 2): utc(2026, 11, 2, 14, 30),  # EST
    }
    for day, expected in opens.items():
        session = us.session(day)
        assert session is not None
        assert session.open == expected
        assert us.at(day, time(9, 30)) == expected
    assert not us.is_open(utc(2026, 3, 9, 13, 29, 59))
    assert us.is_open(utc(2026, 3, 9, 13, 30))
    assert us.timezone == "America/New_York"


def test_crypto_trades_on_a_saturday_and_each_utc_day_is_a_session(
    calendars: ExchangeCalendars,
) -> None:
    binance, saturday = cal(calendars, "BINANCE"), date(2026, 11, 21)
    assert binance.is_open(utc(2026, 11, 21, 3, 0))
    session = binance.session(saturday)
    assert session is not None
    assert (session.open, session.close) == (utc(2026, 11, 21), utc(2026, 11, 22))
    assert binance.trading_day(utc(2026, 11, 21, 23, 59, 59)) == saturday
    assert binance.trading_day(utc(2026, 11, 22)) == date(2026, 11, 22)
    assert binance.next_open(utc(2026, 11, 21, 12)) == utc(2026, 11, 22)


def test_trading_day_rolls_to_the_next_session_at_the_close_over_weekend_and_holiday(
    calendars: ExchangeCalendars,
) -> None:
    nse, friday, tuesday = cal(calendars, "NSE"), date(2026, 1, 23), date(2026, 1, 27)
    assert nse.trading_day(ist(friday, 6, 0)) == friday
    assert nse.trading_day(ist(friday, 15, 29, 59)) == friday
    assert nse.trading_day(ist(friday, 15, 30)) == tuesday  # Sat, Sun, Republic Day Mon
    assert nse.trading_day(ist(date(2026, 1, 26), 12, 0)) == tuesday
    assert nse.trading_day(ist(tuesday, 9, 0)) == tuesday


def test_next_open_crosses_a_weekend_and_a_holiday(calendars: ExchangeCalendars) -> None:
    nse = cal(calendars, "NSE")
    assert nse.next_open(ist(date(2026, 1, 23), 15, 30)) == ist(date(2026, 1, 27), 9, 15)
    assert nse.next_open(ist(date(2026, 1, 27), 9, 15)) == ist(date(2026, 1, 28), 9, 15)
    nyse = cal(calendars, "NYSE")
    assert nyse.next_open(utc(2026, 3, 6, 21)) == utc(2026, 3, 9, 13, 30)


def test_sessions_lists_every_trading_day_in_a_range(calendars: ExchangeCalendars) -> None:
    january = [date(2026, 1, d) for d in range(1, 32)]
    expected = [
        d for d in january if d.weekday() < 5 and d not in (date(2026, 1, 15), date(2026, 1, 26))
    ]
    sessions = cal(calendars, "NSE").sessions(date(2026, 1, 1), date(2026, 1, 31))
    assert [s.day for s in sessions] == expected


def test_an_override_adds_a_special_session_on_a_closed_day() -> None:
    sunday = date(2026, 11, 8)  # synthetic: not a verified Muhurat date
    special = SpecialSession(
        calendars=("NSE",),
        day=sunday,
        open=time(18, 0),
        close=time(19, 0),
        pre_open=time(17, 45),
        reason="test special session",
        source="test",
    )
    calendars = ExchangeCalendars(
        table=load_session_table().with_overrides(special_sessions=[special]), start=START, end=END
    )
    nse = cal(calendars, "NSE")
    session = nse.session(sunday)
    assert session is not None
    assert (session.pre_open, session.open, session.close) == (
        ist(sunday, 17, 45),
        ist(sunday, 18, 0),
        ist(sunday, 19, 0),
    )
    assert not session.early_close
    assert nse.is_open(ist(sunday, 18, 30))
    assert not nse.is_open(ist(sunday, 19, 0))
    assert nse.next_open(ist(date(2026, 11, 7), 12, 0)) == ist(sunday, 18, 0)
    assert nse.trading_day(ist(sunday, 19, 0)) == date(2026, 11, 9)
    assert cal(calendars, "NFO").session(sunday) is None  # only the listed calendars


def test_an_override_adds_a_holiday_read_from_toml() -> None:
    extra = parse_session_table(
        """
        [[overrides.holidays]]
        calendars = ["NSE", "NFO"]
        day = 2026-01-27
        reason = "synthetic closure"
        source = "test"
        """
    )
    assert extra.holidays == (
        ExtraHoliday(("NSE", "NFO"), date(2026, 1, 27), "synthetic closure", "test"),
    )
    table = load_session_table().with_overrides(holidays=extra.holidays)
    calendars = ExchangeCalendars(table=table, start=START, end=END)
    nse, tuesday = cal(calendars, "NSE"), date(2026, 1, 27)
    assert nse.session(tuesday) is None
    assert not nse.is_open(ist(tuesday, 11, 0))
    assert nse.next_open(ist(date(2026, 1, 23), 15, 30)) == ist(date(2026, 1, 28), 9, 15)
    assert cal(calendars, "NFO").session(tuesday) is None
    assert cal(calendars, "BSE").session(tuesday) == Session(
        tuesday, ist(tuesday, 9, 15), ist(tuesday, 15, 30), ist(tuesday, 9, 0)
    )


def test_the_shipped_table_dates_and_sources_every_row() -> None:
    table = load_session_table()
    assert set(table.calendars) == {"NSE", "BSE", "NFO", "BFO"}
    for calendar in table.calendars.values():
        assert calendar.timezone == "Asia/Kolkata"
        for row in calendar.times:
            assert row.source
            assert isinstance(row.checked, date)
    assert (table.holidays, table.special_sessions) == ((), ())
    assert table.years == ()  # no year before its circular: a desk declares it (README)


def test_the_table_reads_dated_rows_and_rejects_unknown_keys_and_wrong_types() -> None:
    (row,) = parse_session_table(_TABLE_TEXT).calendars["NSE"].times
    assert row == SessionTimes(
        date(2020, 1, 1), time(9, 15), time(15, 30), time(9, 0), "test", date(2026, 11, 21)
    )
    with pytest.raises(ValueError, match=r"unknown \['colour'\]"):
        parse_session_table(_TABLE_TEXT.replace("[overrides]", "[overrides]\ncolour = 1"))
    with pytest.raises(ValueError, match="expected open to be a time"):
        parse_session_table(_TABLE_TEXT.replace("open = 09:15:00", 'open = "09:15"', 1))


def test_an_unknown_venue_names_the_known_venues(calendars: ExchangeCalendars) -> None:
    with pytest.raises(UnknownVenueError, match=r"'LSE'.*BINANCE.*NFO.*NSE.*NYSE"):
        calendars.for_venue(Venue("LSE"))


def test_extra_venues_map_to_any_calendar() -> None:
    calendars = ExchangeCalendars({"PAPER": "24/7", "NSE_PAPER": "NSE"}, start=START, end=END)
    assert cal(calendars, "PAPER").is_open(utc(2026, 11, 22, 3))  # a Sunday
    assert cal(calendars, "NSE_PAPER") is cal(calendars, "NSE")
    with pytest.raises(ValueError, match=r"Venue FOO: expected a calendar .* was 'NOPE'"):
        ExchangeCalendars({"FOO": "NOPE"})


def test_questions_outside_the_built_range_fail_and_name_the_range(
    calendars: ExchangeCalendars,
) -> None:
    nse = cal(calendars, "NSE")
    with pytest.raises(CalendarRangeError, match=r"2025-10-01 \.\. 2026-12-31"):
        nse.session(date(2027, 1, 4))
    with pytest.raises(CalendarRangeError, match=r"2025-10-01 \.\. 2026-12-31"):
        nse.is_open(ist(date(2025, 9, 30), 11, 0))
    with pytest.raises(CalendarRangeError, match="no session after"):
        nse.next_open(ist(date(2026, 12, 31), 15, 30))
    with pytest.raises(CalendarRangeError, match="XBOM"):
        cal(ExchangeCalendars(start=START, end=date(2030, 12, 31)), "NSE").session(START)


def test_times_must_be_utc(calendars: ExchangeCalendars) -> None:
    with pytest.raises(ValueError, match="expected UTC"):
        cal(calendars, "NSE").is_open(datetime(2026, 1, 27, 10, 0, tzinfo=IST))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal(calendars, "NSE").trading_day(datetime(2026, 1, 27, 10, 0))  # noqa: DTZ001


_TABLE_TEXT = (
    NSE_CALENDAR
    + """
[overrides]
holidays = []
sessions = []
"""
)
