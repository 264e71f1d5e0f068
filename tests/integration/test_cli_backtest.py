"""`algodesk backtest` and `algodesk sweep` from the user's side."""

from __future__ import annotations

import json
import sys
import types
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from algodesk.entrypoints.cli.app import app

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NVDA = str(DATA / "nvda-1999-2014.txt")
YHOO = str(DATA / "yhoo-1996-2015.txt")
runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def sweep(tmp_path: Path, strategy: str, *args: str, code: int = 0) -> tuple[str, list[Any]]:
    """``algodesk sweep`` over NVDA: its output and the rows it wrote as JSON."""
    out_json = tmp_path / "sweep.json"
    out = run("sweep", strategy, "--data", NVDA, *args, "--json", str(out_json), code=code)
    return out, json.loads(out_json.read_text())


@pytest.mark.slow
def test_backtest_writes_json_and_a_self_contained_report(tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "run.json", tmp_path / "run.html"
    out = run(
        "backtest",
        "sma_cross",
        "--data",
        NVDA,
        "--param",
        "fast=10",
        "--param",
        "slow=20",
        "--cash",
        "10000",
        "--commission",
        "0.001",
        "--sizing",
        "all-in",
        "--json",
        str(out_json),
        "--report",
        str(out_html),
    )
    assert "sharpe" in out
    assert "trade_count" in out
    doc = json.loads(out_json.read_text())
    assert set(doc) >= {"trades", "open_trade", "final_equity", "stats"}
    first = doc["trades"][0]
    assert set(first) >= {
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "quantity",
        "pnl",
        "commission",
    }
    assert first["entry_time"].startswith("1999-")
    Decimal(first["pnl"])  # money is a decimal string
    Decimal(doc["final_equity"])
    assert doc["stats"]["trade_count"] == len(doc["trades"])
    assert doc["ledger_verified"] is True
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") or "<html" in page
    assert 'src="http' not in page
    assert "sma_cross" in page


def test_backtest_on_several_files_and_a_date_range(tmp_path: Path) -> None:
    out_json = tmp_path / "run.json"
    run(
        "backtest",
        "sma_cross",
        "--data",
        NVDA,
        "--data",
        YHOO,
        "--from",
        "2005-01-01",
        "--to",
        "2006-12-31",
        "--sizing",
        "percent:40",
        "--json",
        str(out_json),
    )
    doc = json.loads(out_json.read_text())
    names = {t["instrument"] for t in doc["trades"]}
    assert names == {"NVDA", "YHOO"}
    assert all("2005-01-01" <= t["entry_time"][:10] <= "2006-12-31" for t in doc["trades"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown strategy 'nope'"),
        (["sma_cross", "--param", "fast=x"], "parameter fast: expected int"),
        (["sma_cross", "--param", "speed=1"], "unknown parameter(s) speed"),
        (["sma_cross", "--param", "fast=30"], "expected fast < slow"),
        (["sma_cross", "--commission", "2"], "commission: expected a rate"),
        (["sma_cross", "--sizing", "lots"], "sizing: expected all-in"),
        (["sma_cross", "--fill-at", "noon"], "--fill-at next_open|close"),
        (["sma_cross", "--from", "2030-01-01"], "no bars between"),
        (["sma_cross", "--limit", "max_cats=1"], "limit: expected name=value"),
    ],
)
def test_bad_options_are_refused_with_what_was_expected(args: list[str], message: str) -> None:
    out = run("backtest", args[0], "--data", NVDA, *args[1:], code=2)
    assert message in out


def test_a_missing_data_file_is_named() -> None:
    out = run("backtest", "sma_cross", "--data", "/nowhere/bars.csv", code=2)
    assert "/nowhere/bars.csv: no such file" in out


LOOKS_AHEAD = """
from dataclasses import dataclass
from algodesk.strategies.base import Strategy


@dataclass(frozen=True)
class Params:
    length: int = 5


class Peeks(Strategy):
    name = "peeks"
    Params = Params

    def indicators(self, data):
        close = data.frame["close"]
        return {
            "honest": close.rolling(self.params.length).mean().to_numpy(),
            "tomorrow": close.shift(-1).to_numpy(),
            "centered": close.rolling(self.params.length, center=True).mean().to_numpy(),
        }

    def on_bar(self, ctx):
        if ctx.position == 0 and ctx.value("tomorrow") > ctx.bar.close:
            ctx.buy()
"""


def test_check_lookahead_names_the_indicators_that_use_the_future(tmp_path: Path) -> None:
    source = tmp_path / "peeks.py"
    source.write_text(LOOKS_AHEAD)
    out = run("backtest", f"{source}:Peeks", "--data", NVDA, "--check-lookahead", code=1)
    assert "look-ahead: tomorrow:" in out
    assert "look-ahead: centered:" in out
    assert "honest" not in out


def test_check_lookahead_passes_the_builtins() -> None:
    for name in ("sma_cross", "rsi_reversion", "breakout"):
        out = run("backtest", name, "--data", NVDA, "--to", "2003-12-31", "--check-lookahead")
        assert "no indicator changes its past" in out


@pytest.mark.slow
def test_sweep_runs_every_combination_and_reports_bad_ones(tmp_path: Path) -> None:
    out, rows = sweep(
        tmp_path, "sma_cross", "--grid", "fast=5,10,30", "--grid", "slow=20,40", "--workers", "2"
    )
    assert "6 runs" in out
    assert [(r["params"]["fast"], r["params"]["slow"]) for r in rows] == [
        ("5", "20"),
        ("5", "40"),
        ("10", "20"),
        ("10", "40"),
        ("30", "20"),
        ("30", "40"),
    ]
    bad = rows[4]
    assert "expected fast < slow" in bad["error"]
    assert all(r["error"] is None for i, r in enumerate(rows) if i != 4)
    # The pool's rows equal one backtest run alone with the same parameters.
    alone = tmp_path / "alone.json"
    run(
        "backtest",
        "sma_cross",
        "--data",
        NVDA,
        "--param",
        "fast=10",
        "--param",
        "slow=40",
        "--json",
        str(alone),
    )
    assert rows[3]["final_equity"] == json.loads(alone.read_text())["final_equity"]


FAILS_AT_ZERO = """
from dataclasses import dataclass
from algodesk.strategies.base import Strategy


@dataclass(frozen=True)
class Params:
    step: int = 1


class FailsAtZero(Strategy):
    name = "fails_at_zero"
    Params = Params

    def indicators(self, data):
        return {}

    def on_bar(self, ctx):
        if ctx.position == 0 and int(ctx.bar.close) % (self.params.step or 0) == 0:
            ctx.buy()
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_point_whose_run_raises_is_a_row_with_its_error_and_the_others_run(
    tmp_path: Path, workers: str
) -> None:
    source = tmp_path / "fails.py"
    source.write_text(FAILS_AT_ZERO)
    out, (failed, ran) = sweep(
        tmp_path, f"{source}:FailsAtZero", "--grid", "step=0,7", "--workers", workers
    )
    assert "2 runs" in out
    assert "1 of 2 runs failed" in out
    assert failed["params"]["step"] == "0"
    assert failed["error"].startswith("the run failed: ZeroDivisionError")
    assert (ran["params"]["step"], ran["error"]) == ("7", None)
    assert ran["final_equity"] is not None


def test_a_point_whose_worker_dies_is_a_row_with_its_error(tmp_path: Path) -> None:
    """Every point failing is also the command's failure: its exit status says so."""
    source = tmp_path / "dies.py"
    source.write_text(FAILS_AT_ZERO.replace("ctx.buy()", "import os; os._exit(3)"))
    out, rows = sweep(
        tmp_path, f"{source}:FailsAtZero", "--grid", "step=1,1", "--workers", "2", code=1
    )
    assert "every one of the 2 runs failed" in out
    assert len(rows) == 2
    assert all(r["error"].startswith("the worker failed: BrokenProcessPool") for r in rows)


def test_sweep_on_ray_runs_or_says_how_to_install_it(tmp_path: Path) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        out = run(
            "sweep", "sma_cross", "--data", NVDA, "--grid", "fast=5,10", "--executor", "ray", code=2
        )
        assert "pip install 'algodesk[ray]'" in out
        return
    out = run("sweep", "sma_cross", "--data", NVDA, "--grid", "fast=5,10", "--executor", "ray")
    assert "2 runs" in out


class _FakeRay(types.ModuleType):
    """The part of Ray's API the sweep uses (``init``, ``remote``, ``get``), run in this
    process; ``get`` raises for the point with ``crash`` as Ray's does for a task whose
    worker died past its retries (``WorkerCrashedError``)."""

    class WorkerCrashedError(Exception):
        pass

    def __init__(self, crash: dict[str, str]) -> None:
        super().__init__("ray")
        self.crash = crash

    def init(self, **_: object) -> None:
        pass

    def remote(self, fn: Any) -> Any:
        crash = self.crash

        class Remote:
            @staticmethod
            def remote(*args: Any) -> Any:
                return (fn, args, args[3] == crash)

        return Remote

    def get(self, ref: Any) -> Any:
        fn, args, crashed = ref
        if crashed:
            raise self.WorkerCrashedError("The worker died unexpectedly while executing this task")
        return fn(*args)


def test_a_ray_worker_that_dies_is_its_points_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a traceback that loses the other points' results."""
    monkeypatch.setitem(sys.modules, "ray", _FakeRay({"fast": "10"}))
    out, rows = sweep(tmp_path, "sma_cross", "--grid", "fast=5,10,15", "--executor", "ray")
    assert "1 of 3 runs failed" in out
    assert [r["params"]["fast"] for r in rows] == ["5", "10", "15"]
    assert rows[1]["error"].startswith("the worker failed: WorkerCrashedError(")
    assert rows[0]["error"] is None
    assert rows[2]["error"] is None


def test_denied_orders_are_reported_not_silently_missing(tmp_path: Path) -> None:
    out_json = tmp_path / "run.json"
    out = run(
        "backtest",
        "sma_cross",
        "--data",
        NVDA,
        "--to",
        "2001-12-31",
        "--limit",
        "max_notional=500",
        "--json",
        str(out_json),
    )
    assert "order(s) denied MAX_NOTIONAL_EXCEEDED; the first: BUY" in out
    doc = json.loads(out_json.read_text())
    assert doc["trades"] == []
    assert {o["status"] for o in doc["orders"]} == {"DENIED"}


def test_an_output_that_cannot_be_written_fails_before_the_run(tmp_path: Path) -> None:
    out = run("backtest", "sma_cross", "--data", NVDA, "--json", str(tmp_path), code=2)
    assert "is a folder; expected a file name" in out
    blocked = tmp_path / "file"
    blocked.write_text("")
    out = run("backtest", "sma_cross", "--data", NVDA, "--report", str(blocked / "r.html"), code=2)
    assert f"cannot write {blocked / 'r.html'}" in out
    assert "sharpe" not in out  # nothing ran


def test_only_the_point_that_kills_its_worker_fails(tmp_path: Path) -> None:
    """A dying worker breaks its pool and fails the points still waiting in it; they run
    again, each alone, so their rows are kept and only the killer's is an error."""
    source = tmp_path / "dies.py"
    source.write_text(FAILS_AT_ZERO.replace("ctx.buy()", "import os; os._exit(3)"))
    out, rows = sweep(
        tmp_path, f"{source}:FailsAtZero", "--grid", "step=1,1000000000,999999999", "--workers", "2"
    )
    assert "1 of 3 runs failed" in out
    assert [r["params"]["step"] for r in rows] == ["1", "1000000000", "999999999"]
    assert rows[0]["error"].startswith("the worker failed: BrokenProcessPool")
    assert [r["error"] for r in rows[1:]] == [None, None]


@pytest.mark.parametrize("refused", ["1", "2"], ids=["its default", "another"])
def test_a_strategy_whose_constructor_raises_is_a_row_with_its_error(
    tmp_path: Path, refused: str
) -> None:
    """Also at its default parameters (it was tried with them before the sweep, and the
    traceback ended the command before any point ran)."""
    source = tmp_path / "bad_init.py"
    source.write_text(
        FAILS_AT_ZERO.replace(
            "    def indicators(self, data):",
            "    def __init__(self, params):\n        super().__init__(params)\n"
            f"        if params.step == {refused}:\n"
            f"            raise TypeError('no step {refused}')\n\n"
            "    def indicators(self, data):",
        )
    )
    out, (failed, ran) = sweep(
        tmp_path, f"{source}:FailsAtZero", "--grid", f"step={refused},7", "--workers", "1"
    )
    assert "1 of 2 runs failed" in out
    assert failed["error"] == f"the strategy failed: TypeError: no step {refused}"
    assert ran["error"] is None
