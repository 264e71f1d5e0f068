"""The benchmark scripts still run (tiny sizes; nothing is timed or asserted about speed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def run(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a benchmark script; it must exit 0 (its stderr is the failure's message)."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("ledger_verify.py", ["--entries", "200"]),
        ("engine.py", ["--orders", "20"]),
        ("backtest.py", ["--bars", "2000"]),
    ],
)
def test_a_benchmark_prints_its_table(script: str, args: list[str]) -> None:
    result = run(script, *args)
    assert "of target" in result.stdout


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.xdist_group("e2e")
def test_the_webhook_benchmark_prints_a_table_per_backend() -> None:
    """A real desk on SQLite, then on a throwaway PostgreSQL, 50 alerts/s for 3 s."""
    result = run("webhook.py", "--quick", timeout=600)
    out = result.stdout
    assert "webhook, SQLite" in out, out
    assert "webhook, PostgreSQL" in out, out
    for measure in (
        r"accepted \(2xx\) alerts/s +[\d,]+/s",
        r"answer p99 +[\d,.]+ ms",
        r"alert -> booked fill p99 +[\d,.]+ ms",
        r"drain after last send +[\d,.]+ s",
        r"fate EXECUTED +[\d,]+",
        r"lost \(2xx, not in the inbox\) +0 ",
    ):
        assert len(re.findall(measure, out)) == 2, (measure, out)


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")
def test_the_api_benchmark_prints_its_reads_and_the_servers_memory() -> None:
    """A real desk on SQLite, 20 alerts executed, then 10 clients reading for 2 s."""
    result = run("api.py", "--quick", "--backends", "sqlite")
    out = result.stdout
    assert "API reads, SQLite" in out, out
    assert re.search(r"^answers 200 +[1-9][\d,]*$", out, re.M), out
    assert re.search(r"^answer p95 +[\d,.]+ ms +<= 20 ms +(MET|NOT MET)$", out, re.M), out
    assert not re.search(r"^not 200", out, re.M), out  # no refusal, no error
    for read in ("/api/v1/orders", "/api/v1/fills", "/api/v1/ledger/entries", "/api/v1/alerts"):
        assert re.search(rf"^  p95 {re.escape(read)} +[\d,.]+ ms$", out, re.M), (read, out)
    assert re.search(r"^server RSS, started, idle 3 s +[\d,]+ MB +<= 200 MB", out, re.M), out


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_the_dashboard_benchmark_prints_each_page_load() -> None:
    """A real demo desk and Debian's Chromium; one load of each page."""
    result = run("dashboard.py", "--rounds", "1")
    for path in ("/", "/positions", "/bots", "/alerts", "/risk", "/ledger", "/backtests"):
        assert re.search(rf"^{re.escape(path)} +[\d,]+ +[\d,]+ +\d+% ", result.stdout, re.M), (
            path,
            result.stdout,
        )
