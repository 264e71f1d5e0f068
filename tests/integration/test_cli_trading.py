"""``algodesk order``, ``halt``, ``resume`` and ``flatten`` against a running desk (the real
app on uvicorn in this process), as a trader types them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching import Quote
from algodesk.services.demo import PAPER_ACCOUNT
from tests.integration.test_cli_bots import make_runtime, run, serving

AAPL = InstrumentId("AAPL.PAPER")


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[DeskRuntime, str]]:
    runtime = make_runtime(tmp_path)
    price = Decimal(190)
    runtime.market.on_event(Quote(AAPL, datetime.now(UTC), price, price, price))
    with serving(runtime) as url:
        yield runtime, url
    runtime.desk.close()


def test_an_order_is_submitted_listed_and_a_resting_one_cancelled(
    desk: tuple[DeskRuntime, str],
) -> None:
    runtime, base = desk
    bought = run(base, "order", "submit", "paper", "AAPL.PAPER", "buy", "3", "--key", "k1")
    assert bought.exit_code == 0, bought.output
    assert bought.output.startswith("accepted ")
    again = run(base, "order", "submit", "paper", "AAPL.PAPER", "buy", "3", "--key", "k1")
    assert again.exit_code == 0, again.output  # the same key: answered, not traded again
    runtime.engine.pump()
    assert runtime.engine.position(PAPER_ACCOUNT, None, AAPL) == Decimal(3)
    resting = run(
        base, "order", "submit", "paper", "AAPL.PAPER", "BUY", "1", "--type", "limit",
        "--price", "185", "--json",
    )  # fmt: skip
    assert resting.exit_code == 0, resting.output
    coid = json.loads(resting.output)["client_order_id"]
    listed = run(base, "order", "list", "--open")
    assert coid in listed.output
    cancelled = run(base, "order", "cancel", coid)
    assert cancelled.exit_code == 0, cancelled.output
    runtime.engine.pump()
    assert coid not in run(base, "order", "list", "--open").output


def test_a_refused_order_exits_1_with_its_code(desk: tuple[DeskRuntime, str]) -> None:
    _, base = desk
    refused = run(base, "order", "submit", "paper", "NOPE.PAPER", "BUY", "1")
    assert refused.exit_code == 1
    assert "refused" in refused.output


def test_halt_denies_new_orders_flatten_closes_and_resume_trades_again(
    desk: tuple[DeskRuntime, str],
) -> None:
    runtime, base = desk
    assert run(base, "order", "submit", "paper", "AAPL.PAPER", "BUY", "5").exit_code == 0
    runtime.engine.pump()
    halted = run(base, "halt", "--reason", "drill")
    assert halted.exit_code == 0, halted.output
    assert "paper: HALTED" in halted.output
    denied = run(base, "order", "submit", "paper", "AAPL.PAPER", "BUY", "1")
    assert denied.exit_code == 1
    assert "TRADING_HALTED" in denied.output
    flat = run(base, "flatten", "--yes")
    assert flat.exit_code == 0, flat.output
    assert "paper AAPL.PAPER" in flat.output
    runtime.engine.pump()
    assert runtime.engine.position(PAPER_ACCOUNT, None, AAPL) == 0
    assert "nothing to flatten" in run(base, "flatten", "--yes").output
    assert "paper: ACTIVE" in run(base, "resume").output
    assert run(base, "order", "submit", "paper", "AAPL.PAPER", "BUY", "1").exit_code == 0


def test_flatten_asks_first_and_the_kill_switch_halts_everything(
    desk: tuple[DeskRuntime, str],
) -> None:
    runtime, base = desk
    asked = run(base, "flatten", "--kill")  # no answer to the question: nothing happens
    assert asked.exit_code == 1
    assert runtime.engine.trading_state(PAPER_ACCOUNT).value == "ACTIVE"
    killed = run(base, "flatten", "--kill", "--yes", "--reason", "drill")
    assert killed.exit_code == 0, killed.output
    assert runtime.engine.trading_state(PAPER_ACCOUNT).value == "HALTED"


def test_flatten_cancels_working_orders_and_typos_are_errors(
    desk: tuple[DeskRuntime, str],
) -> None:
    runtime, base = desk
    resting = run(
        base, "order", "submit", "paper", "AAPL.PAPER", "BUY", "1", "--type", "limit",
        "--price", "185", "--tif", "gtc", "--json",
    )  # fmt: skip
    coid = json.loads(resting.output)["client_order_id"]
    flat = run(base, "flatten", "--yes")
    assert flat.exit_code == 0, flat.output
    runtime.engine.pump()
    assert coid not in run(base, "order", "list", "--open").output  # no position, still cancelled
    typo = run(base, "halt", "--account", "papr")
    assert typo.exit_code == 1
    assert "no account 'papr'" in typo.output
    assert runtime.engine.trading_state(PAPER_ACCOUNT).value == "ACTIVE"
    narrowed = run(base, "flatten", "--kill", "--account", "paper", "--yes")
    assert narrowed.exit_code == 2
    assert "--kill halts and flattens every account" in narrowed.output
    assert runtime.engine.trading_state(PAPER_ACCOUNT).value == "ACTIVE"
