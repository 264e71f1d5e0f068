"""The benchmark scripts still run (tiny sizes; nothing is timed or asserted about speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("ledger_verify.py", ["--entries", "200"]),
        ("engine.py", ["--orders", "20"]),
        ("backtest.py", ["--bars", "2000"]),
    ],
)
def test_a_benchmark_prints_its_table(script: str, args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "of target" in result.stdout
