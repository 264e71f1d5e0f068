"""`algodesk data …` and `algodesk instruments …` from the user's side."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algodesk.entrypoints.cli.app import app

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
KITE = Path(__file__).resolve().parents[1] / "data" / "kite_instruments.csv"
runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    path = str(tmp_path / "desk")
    assert runner.invoke(app, ["init", "--data-dir", path]).exit_code == 0
    return path


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_data_import_and_show_the_nvda_series(data_dir: str) -> None:
    source = str(DATA / "nvda-1999-2014.txt")
    out = run("data", "import", source, "--symbol", "NVDA.NASDAQ", "--data-dir", data_dir)
    assert "4012 bars read, 4012 new, 1999-01-22 .. 2014-12-31" in out
    again = run(
        "data", "import", source, "--symbol", "NVDA", "--venue", "NASDAQ", "--data-dir", data_dir
    )
    assert "4012 bars read, 0 new" in again
    shown = run("data", "show", "NVDA.NASDAQ", "--last", "2", "--data-dir", data_dir)
    # The last two rows of the file, exactly as written (no float noise).
    assert "2014-12-30" in shown
    assert "20.370001" in shown
    assert "2014-12-31" in shown
    assert "20.049999" in shown
    assert "4157500" in shown
    assert "2014-12-29" not in shown
    missing = run(
        "data", "show", "NVDA.NASDAQ", "--timeframe", "1h", "--data-dir", data_dir, code=1
    )
    assert "no 1h bars stored for NVDA.NASDAQ (stored timeframes: 1d)" in missing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbol", "NVDA.NASDAQ", "--timeframe", "1M"], "months are not a fixed length"),
        (["--symbol", "NV DA"], "--symbol"),
        (["--symbol", "NVDA.NASDAQ", "--tz", "Mars/Olympus"], "unknown time zone"),
    ],
)
def test_data_import_refuses_bad_options(data_dir: str, args: list[str], message: str) -> None:
    out = run(
        "data", "import", str(DATA / "yhoo-1996-2015.txt"), *args, "--data-dir", data_dir, code=2
    )
    assert message in out


def test_data_import_names_the_bad_line(data_dir: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Open,High,Low,Close\n2026-11-19,1,2,0.5,1\n2026-11-20,1,2,0.5,x\n")
    out = run("data", "import", str(bad), "--symbol", "X.NSE", "--data-dir", data_dir, code=2)
    assert "line 3: expected a decimal number, was 'x'" in out
    assert "no 1d bars" in run("data", "show", "X.NSE", "--data-dir", data_dir, code=1)


def test_instruments_import_and_option_resolution(data_dir: str, tmp_path: Path) -> None:
    zipped = tmp_path / "instruments.csv.gz"
    zipped.write_bytes(gzip.compress(KITE.read_bytes()))
    out = run("instruments", "import", str(zipped), "--data-dir", data_dir)
    assert "instruments stored" in out
    assert "skipped" not in out
    out = run(
        "instruments", "option", "NIFTY", "--expiry", "nearest", "--offset", "OTM2",
        "--right", "CE", "--spot", "26012.5", "--today", "2026-11-21", "--data-dir", data_dir,
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "NIFTY26NOV26100CE.NFO"
    assert "2026-11-23" in out
    assert "ATM 26000" in out
    assert "freeze quantity  1800" in out


def test_option_spot_from_stored_bars_must_be_fresh(data_dir: str, tmp_path: Path) -> None:
    run("instruments", "import", str(KITE), "--data-dir", data_dir)
    ask = (
        "instruments",
        "option",
        "NIFTY",
        "--offset",
        "ATM",
        "--right",
        "PE",
        "--today",
        "2026-11-21",
    )
    assert "no stored bars for NIFTY_50.NSE" in run(*ask, "--data-dir", data_dir, code=2)
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    bars = tmp_path / "nifty.csv"
    bars.write_text(f"Datetime,Open,High,Low,Close\n{start.isoformat()},26000,26100,25900,26020\n")
    run(
        "data",
        "import",
        str(bars),
        "--symbol",
        "NIFTY_50.NSE",
        "--timeframe",
        "1m",
        "--data-dir",
        data_dir,
    )
    assert "older than" in run(*ask, "--max-spot-age", "1h", "--data-dir", data_dir, code=2)
    out = run(*ask, "--data-dir", data_dir)
    assert "NIFTY at 26020" in out
    assert "PUT (ATM; ATM 26000)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["option", "BANKNIFTY", "--spot", "0"], "SPOT_NOT_POSITIVE"),
        (["option", "NIFTY", "--spot", "26000", "--offset", "OTM51"], "BAD_OFFSET"),
        (["option", "NIFTY", "--spot", "26000", "--offset", "OTM40"], "STRIKE_OFF_CHAIN"),
        (["option", "NIFTY", "--spot", "abc"], "--spot: expected a decimal number"),
        (["option", "NIFTY", "--spot", "NaN"], "--spot: expected a decimal number"),
        (["option", "NIFTY", "--spot", "Infinity"], "--spot: expected a decimal number"),
        (["option", "SENSEX", "--spot", "80000"], "no options on SENSEX"),
        (["option", "NIFTY", "--spot", "1", "--today", "21-11-2026"], "--today: expected a date"),
        (["option", "NIFTY", "--max-spot-age", "soon"], "--max-spot-age: expected a timeframe"),
    ],
)
def test_option_refusals(data_dir: str, args: list[str], message: str) -> None:
    run("instruments", "import", str(KITE), "--data-dir", data_dir)
    today = [] if "--today" in args else ["--today", "2026-11-21"]
    out = run("instruments", *args, *today, "--data-dir", data_dir, code=2)
    assert message in out


def test_instruments_import_reports_skipped_rows(data_dir: str, tmp_path: Path) -> None:
    text = KITE.read_text().splitlines()
    broken = [*text, "1,2,BROKEN,NIFTY,0,2026-12-29,abc,0.05,65,CE,NFO-OPT,NFO"]
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(broken) + "\n")
    out = run("instruments", "import", str(path), "--data-dir", data_dir)
    assert "skipped 1 rows" in out
    assert f"line {len(broken)}" in out
    strict = run("instruments", "import", str(path), "--strict", "--data-dir", data_dir, code=2)
    assert "strike" in strict
    assert "--format" in run(
        "instruments", "import", str(path), "--format", "csv", "--data-dir", data_dir, code=2
    )


def test_a_new_kite_dump_replaces_renamed_contracts(data_dir: str, tmp_path: Path) -> None:
    run("instruments", "import", str(KITE), "--data-dir", data_dir)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(KITE.read_text().replace("NIFTY26D01", "NIFTY26DEC01"))
    out = run("instruments", "import", str(renamed), "--data-dir", data_dir)
    assert "replaced the instruments of NFO, NSE" in out
    resolved = run(
        "instruments", "option", "NIFTY", "--expiry", "2026-12-01", "--spot", "26000",
        "--today", "2026-11-21", "--data-dir", data_dir,
    )  # fmt: skip
    assert resolved.splitlines()[0].startswith("NIFTY26DEC01")
