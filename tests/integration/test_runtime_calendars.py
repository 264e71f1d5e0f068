"""The desk's calendars: `algodesk serve` reads <data_dir>/sessions.toml (a declared trading
year keeps NSE open past the library's data), warns at start of a calendar that ends within 30
days, and refuses to start on a malformed file."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.bootstrap import Desk, init_storage, open_desk
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.domain.identifiers import Venue
from algodesk.entrypoints.cli.app import app
from algodesk.testing.clock import FixedClock
from tests.session_tables import SYNTHETIC_2027 as YEAR_2027

IST = ZoneInfo("Asia/Kolkata")
DEC_10 = datetime(2026, 12, 10, 6, 0, tzinfo=UTC)  # 21 days before XBOM's data ends


def ist(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=IST).astimezone(UTC)


def desk(tmp_path: Path, now: datetime = DEC_10) -> tuple[Desk, DeskRuntime]:
    settings = Settings(data_dir=tmp_path)
    init_storage(settings)
    made = open_desk(settings)
    try:
        runtime = DeskRuntime(
            made,
            clock=FixedClock(now),
            hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),
        )
    except BaseException:
        made.close()
        raise
    return made, runtime


def test_the_desk_reads_a_year_declared_in_its_sessions_toml(tmp_path: Path) -> None:
    (tmp_path / "sessions.toml").write_text(YEAR_2027)
    made, runtime = desk(tmp_path)
    try:
        monday, holiday = date(2027, 1, 4), date(2027, 1, 26)
        assert runtime.market.is_open(Venue("NSE"), ist(monday, 9, 15))
        assert runtime.market.is_open(Venue("NFO"), ist(monday, 15, 39))
        assert not runtime.market.is_open(Venue("NSE"), ist(holiday, 11, 0))
        assert runtime.calendars.for_venue(Venue("NSE")).coverage().last == date(2027, 12, 31)
        assert runtime.check_calendars() == []
    finally:
        made.close()


def test_without_it_the_desk_warns_at_start_of_calendars_that_end_within_30_days(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made, runtime = desk(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="algodesk.runtime"):
            runtime.start()
            runtime.stop()
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert [w.split()[0] for w in warned] == ["BFO", "BSE", "NFO", "NSE"]  # not PAPER
        nse = warned[-1]
        assert nse.startswith("NSE calendar ends 2026-12-31 (days from exchange_calendars XBOM")
        assert f"declare 2027 in {tmp_path / 'sessions.toml'}" in nse
        assert "NSE orders are denied MARKET_CLOSED" in nse
    finally:
        made.close()
    other, later = desk(tmp_path, datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    try:
        assert later.check_calendars() == []  # 40 days ahead: no warning yet
    finally:
        other.close()


def test_a_running_desk_warns_once_a_day_from_30_days_before_a_calendar_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Started 40 days before (no warning then), it warns on the first tick of the first day
    within 30 days, once that day, and again the next day."""
    made, runtime = desk(tmp_path, datetime(2026, 11, 21, 6, 0, tzinfo=UTC))
    clock = runtime.clock
    assert isinstance(clock, FixedClock)
    try:
        assert runtime.check_calendars() == []

        def nse_warnings_after_ticks() -> int:
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="algodesk.runtime"):
                for _ in range(3):
                    runtime.tick()
            return sum(r.getMessage().startswith("NSE calendar ends") for r in caplog.records)

        assert nse_warnings_after_ticks() == 0  # 40 days ahead
        clock.set(datetime(2026, 12, 2, 0, 0, 1, tzinfo=UTC))
        assert nse_warnings_after_ticks() == 1  # 29 days ahead: once that day
        clock.advance(timedelta(hours=23))
        assert nse_warnings_after_ticks() == 0
        clock.advance(timedelta(hours=1))
        assert nse_warnings_after_ticks() == 1  # and again the next day
    finally:
        made.close()


def test_a_failing_coverage_check_is_logged_once_a_day_not_every_tick(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    made, runtime = desk(tmp_path)
    try:

        def broken() -> list[object]:
            raise RuntimeError("the bot store is unreadable")

        monkeypatch.setattr(runtime.bots, "list", broken)
        with caplog.at_level(logging.ERROR, logger="algodesk.runtime"):
            for _ in range(5):
                runtime.tick()  # the market thread goes on
        failed = [r for r in caplog.records if "calendar coverage check failed" in r.getMessage()]
        assert len(failed) == 1
    finally:
        made.close()


def test_a_malformed_sessions_toml_stops_the_desk_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "sessions.toml"
    path.write_text(YEAR_2027.replace("year = 2027", "year = 2028"))
    with pytest.raises(ValueError, match=rf"{path}: .*expected holidays in 2028, was 2027-01-26"):
        desk(tmp_path)
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert f"error: {path}: Declared year 1 (XBOM 2028)" in result.output
    assert "Traceback" not in result.output
