"""Crash: the desk process is SIGKILLed in the middle of a burst. After a restart, with the
client sending every command again (same keys), no command is lost or applied twice, the
ledger verifies, and the paper exchange's book matches the stored open orders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algodesk.adapters.storage.sql.engine import make_engine, migrate
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.entrypoints.cli.app import app
from tests.integration.crash_worker import ACCOUNT

ROOT = Path(__file__).parents[2]
COUNT = 240


def start(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crash_worker", url, str(COUNT)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_killed_desk_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    db = make_engine(url)
    migrate(db)

    first = start(url)
    assert first.stdout is not None
    acknowledged = 0
    for line in first.stdout:
        if line.startswith("done "):
            acknowledged += 1
            if acknowledged == COUNT // 3:
                os.kill(first.pid, signal.SIGKILL)
                break
    first.wait(timeout=30)
    first.stdout.close()
    assert first.stderr is not None
    first.stderr.close()
    assert first.returncode == -signal.SIGKILL

    with SqlUnitOfWork(db) as uow:
        journaled_before = {
            r.key for r in uow.journal.records(ACCOUNT) if r.key and r.key.startswith("cmd-")
        }
    assert {
        f"cmd-{n}" for n in range(acknowledged)
    } <= journaled_before  # nothing acknowledged is lost

    second = start(url)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    lines = out.splitlines()
    assert sum(1 for line in lines if line.startswith("done ")) == COUNT

    with SqlUnitOfWork(db) as uow:
        commands = [r for r in uow.journal.records(ACCOUNT) if r.key and r.key.startswith("cmd-")]
        orders = uow.orders.list(ACCOUNT)
    keys = [r.key for r in commands]
    assert sorted(keys) == sorted(f"cmd-{n}" for n in range(COUNT))  # each command exactly once
    submits = [r for r in commands if r.kind == "SubmitOrder"]
    assert len(orders) == len(submits)  # one order per submit, none twice

    result = CliRunner().invoke(app, ["ledger", "verify", "--database-url", url])
    assert result.exit_code == 0, result.output

    book = next(line for line in lines if line.startswith("book ")).split(" ", 1)[1]
    stored = next(line for line in lines if line.startswith("stored ")).split(" ", 1)[1]
    assert book == stored
    assert book  # resting limit orders are on the book
    db.dispose()
