"""Exchange calendars computed in a child process (``calendars_in_child``): the same answers as
a registry that runs exchange_calendars itself, the same errors, and this process left without
the library when nothing else asks for it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from algodesk.adapters.feeds.calendar_snapshot import LibrarySnapshot, calendars_in_child
from algodesk.adapters.feeds.calendars import ExchangeCalendars, InProcessLibrary
from tests.session_tables import SYNTHETIC_2027

START = date(2026, 6, 1)  # a narrow range builds quickly
VENUES = {"PAPER": "24/7", "LSE": "XLON"}


def test_every_venue_answers_as_with_the_library_in_this_process(tmp_path: Path) -> None:
    user_file = tmp_path / "sessions.toml"
    user_file.write_text(SYNTHETIC_2027, encoding="utf-8")  # a declared year, 2027
    here = ExchangeCalendars(VENUES, start=START, user_file=user_file)
    child = calendars_in_child(VENUES, start=START, user_file=user_file)
    assert child.venues == here.venues
    for code in here.venues:
        ours, theirs = child.for_venue(code), here.for_venue(code)
        assert ours.coverage() == theirs.coverage(), code
        first, last = ours.coverage().first, ours.coverage().last
        assert ours.sessions(first, last) == theirs.sessions(first, last), code
        assert ours.timezone == theirs.timezone
    assert child.for_venue("NSE").coverage().last == date(2027, 12, 31)  # the declared year


def test_a_bad_user_file_raises_what_the_registry_raises(tmp_path: Path) -> None:
    user_file = tmp_path / "sessions.toml"
    skipped_2027 = SYNTHETIC_2027.replace("2027", "2028")  # XBOM's data ends with 2026
    user_file.write_text(skipped_2027, encoding="utf-8")
    expected = "the first declared year must be 2027"
    with pytest.raises(ValueError, match=expected) as here:
        ExchangeCalendars(start=START, user_file=user_file)
    with pytest.raises(ValueError, match=expected) as child:
        calendars_in_child(start=START, user_file=user_file)
    assert str(child.value) == str(here.value)


def test_a_venue_mapped_to_no_calendar_is_refused_as_in_this_process() -> None:
    with pytest.raises(ValueError, match="expected a calendar of the session table"):
        calendars_in_child({"PAPER": "NOPE"}, start=START)


def test_a_child_that_cannot_finish_leaves_the_library_to_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        calendars = calendars_in_child(VENUES, start=START, timeout=0.001)
    assert "exchange_calendars runs here" in caplog.text
    here = ExchangeCalendars(VENUES, start=START)
    assert calendars.for_venue("LSE").coverage() == here.for_venue("LSE").coverage()


def test_what_the_child_did_not_compute_is_computed_here() -> None:
    library = InProcessLibrary()
    snapshot = LibrarySnapshot(library.names(), {}, {})  # asked nothing in a child
    days = snapshot.days("XLON", START, None, (), "sessions.toml")
    assert days == library.days("XLON", START, None, (), "sessions.toml")
    assert snapshot.resolve("LSE") == library.resolve("LSE") == "XLON"


def test_the_process_does_not_import_the_library_nor_pandas_nor_code_in_its_directory(
    tmp_path: Path,
) -> None:
    """Declared years included; a calendar.py where the desk is started (a shared directory)
    is not run in the child's place of the standard library's."""
    (tmp_path / "sessions.toml").write_text(SYNTHETIC_2027, encoding="utf-8")
    (tmp_path / "calendar.py").write_text("open('planted-ran', 'w').close()\n", encoding="utf-8")
    script = (
        "import sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from algodesk.adapters.feeds.calendar_snapshot import calendars_in_child\n"
        "c = calendars_in_child({'PAPER': '24/7'}, start=date(2026, 6, 1),\n"
        "                       user_file=Path('sessions.toml'))\n"
        "assert c.for_venue('NYSE').session(date(2026, 11, 27)).early_close\n"  # Black Friday
        "assert c.for_venue('NSE').coverage().last == date(2027, 12, 31)\n"  # declared 2027
        "print(sorted(m for m in ('pandas', 'numpy', 'exchange_calendars') if m in sys.modules))"
    )
    # The parent as `algodesk serve` runs (its directory not on its path), started where the
    # planted file is.
    done = subprocess.run(
        [sys.executable, "-P", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    assert done.stdout.strip() == "[]"
    assert not (tmp_path / "planted-ran").exists()


def test_a_child_whose_answer_is_spoilt_leaves_the_library_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "sitecustomize.py").write_text("print('a library says hello')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    with caplog.at_level(logging.WARNING):
        calendars = calendars_in_child(VENUES, start=START)
    assert "unreadable answer from the child" in caplog.text
    here = ExchangeCalendars(VENUES, start=START)
    assert calendars.for_venue("LSE").coverage() == here.for_venue("LSE").coverage()
