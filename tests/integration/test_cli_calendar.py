"""`algodesk calendar show` from the user's side: a venue's sessions in exchange time and UTC,
the last day its calendar covers, and a year declared in <data_dir>/sessions.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from algodesk.entrypoints.cli.app import app
from tests.session_tables import SYNTHETIC_2027 as YEAR_2027

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "desk"


def lines(out: str) -> dict[str, str]:
    """Table rows by their date."""
    return {line.split()[1]: line for line in out.splitlines() if line.startswith("│ 20")}


def test_show_prints_the_sessions_and_where_the_calendar_ends(data_dir: Path) -> None:
    out = run(
        "calendar",
        "show",
        "NSE",
        "--from",
        "2026-12-24",
        "--days",
        "14",
        "--data-dir",
        str(data_dir),
    )
    rows = lines(out)
    assert rows["2026-12-24"].split("│")[3:8] == [
        " 09:00    ",
        " 09:15 ",
        " 15:30 ",
        " 03:45    ",
        " 10:00     ",
    ]
    assert "closed" in rows["2026-12-25"]  # Christmas
    assert "2026-12-26" not in rows  # a Saturday
    assert "2027-01-04" not in rows
    assert "covered: 2020-01-01 .. 2026-12-31" in out
    assert "note: the calendar ends 2026-12-31" in out
    assert f"declare 2027 in {data_dir / 'sessions.toml'}" in out


def test_show_reads_a_year_declared_in_the_desks_sessions_toml(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "sessions.toml").write_text(YEAR_2027)
    out = run(
        "calendar",
        "show",
        "nfo",
        "--from",
        "2027-01-25",
        "--days",
        "3",
        "--data-dir",
        str(data_dir),
    )
    rows = lines(out)
    assert set(rows) == {"2027-01-25", "2027-01-26", "2027-01-27"}
    assert "09:15" in rows["2027-01-25"]
    assert "15:40" in rows["2027-01-25"]  # F&O closes at 15:40 IST: 10:10 UTC
    assert "10:10" in rows["2027-01-25"]
    assert "closed" in rows["2027-01-26"]
    assert "covered: 2020-01-01 .. 2027-12-31" in out
    assert "declared years 2027" in out
    assert "note:" not in out


def test_show_beyond_the_calendar_says_how_to_extend_it(data_dir: Path) -> None:
    out = run(
        "calendar", "show", "NSE", "--from", "2027-01-04", "--data-dir", str(data_dir), code=1
    )
    assert "2027-01-04 .. 2027-01-17 is outside its calendar" in out
    assert "covers 2020-01-01 .. 2026-12-31" in out
    assert "declare 2027 in" in out
    assert "[[years]]" in out


def test_show_refuses_an_unknown_venue_and_a_malformed_file(data_dir: Path) -> None:
    assert "No calendar for venue 'LSE'" in run(
        "calendar", "show", "LSE", "--data-dir", str(data_dir), code=1
    )
    data_dir.mkdir()
    (data_dir / "sessions.toml").write_text(YEAR_2027.replace("2027-01-26", "2027-01-30"))
    out = run("calendar", "show", "NSE", "--data-dir", str(data_dir), code=2)
    assert f"{data_dir / 'sessions.toml'}: Declared year 1 (XBOM 2027)" in out
    assert "2027-01-30 is a Saturday" in out
