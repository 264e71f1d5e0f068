"""``GET /api/v1/ledger/reconcile``, from the trader's side: after trading, our orders, fills and
ledger agree with each other and with the paper exchange's book; a fill without its ledger
entry, an order the exchange no longer works and one it works that we do not know are each
reported, with what differs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from algodesk.domain.identifiers import AccountId, ClientOrderId, TradeId
from tests.integration.test_api_exits import Desk, served_demo


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    with served_demo(tmp_path) as served:
        yield served


def reconciled(desk: Desk) -> dict[str, Any]:
    answer = desk.client.get("/api/v1/ledger/reconcile", headers=desk.admin)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def resting_buy(desk: Desk) -> str:
    order = {"account": "paper", "instrument": "AAPL.PAPER", "side": "BUY", "quantity": "1"}
    order |= {"order_type": "LIMIT", "price": "90"}
    answer = desk.client.post("/api/v1/orders", json=order, headers=desk.admin)
    assert answer.status_code == 200, answer.text
    coid: str = answer.json()["client_order_id"]
    return coid


def test_after_trading_everything_agrees(desk: Desk) -> None:
    desk.alert({"action": "buy", "symbol": "AAPL", "qty": "3"})
    desk.alert({"action": "sell", "symbol": "AAPL", "qty": "1"})
    resting_buy(desk)
    found = reconciled(desk)
    assert found["ok"] is True, found
    assert (found["fills"], found["orders"], found["differences"]) == (2, 3, [])
    assert found["venues"] == {"PAPER": {"working": 1}}
    assert found["venues_not_listed"] == []


def test_each_disagreement_is_reported_with_what_differs(desk: Desk) -> None:
    desk.alert({"action": "buy", "symbol": "AAPL", "qty": "3"})
    forgotten = resting_buy(desk)
    runtime = desk.runtime
    runtime.paper.withdraw(ClientOrderId(forgotten))  # the exchange no longer works it
    with runtime.desk.uow_factory() as uow:  # a fill stored without its ledger entry
        (fill,) = uow.fills.list(AccountId("paper"))
        stray = replace(fill, trade_id=TradeId("STRAY1"))
        assert uow.fills.add(stray)
        uow.commit()
        known = uow.orders.get(ClientOrderId(forgotten))
    assert known is not None
    stranger = replace(known.clone(), client_order_id=ClientOrderId("NOTOURS1"))
    runtime.paper.restore([stranger])  # and works one we never sent
    found = reconciled(desk)
    assert found["ok"] is False
    kinds = {(d["kind"], d["subject"]) for d in found["differences"]}
    assert kinds == {
        ("FILL_NOT_BOOKED", "PAPER:STRAY1"),
        ("FILLED_QUANTITY_DIFFERS", fill.client_order_id.value),
        ("NOT_WORKING_AT_VENUE", forgotten),
        ("UNKNOWN_AT_VENUE", "NOTOURS1"),
    }, found["differences"]
    messages = " ".join(d["message"] for d in found["differences"])
    assert "says 3 filled, its stored fills come to 6" in messages, messages


def test_a_viewer_may_reconcile_and_a_stranger_may_not(desk: Desk) -> None:
    viewer = desk.login("watcher", "viewer-password-1")
    assert desk.client.get("/api/v1/ledger/reconcile", headers=viewer).status_code == 200
    assert desk.client.get("/api/v1/ledger/reconcile").status_code == 401


@pytest.mark.parametrize(
    ("column", "value"),
    [("bot_id", None), ("fee_currency", "EUR"), ("instrument_id", "NVDA.PAPER")],
)
def test_a_fill_stored_otherwise_than_its_entry_books_it_is_reported(
    desk: Desk, column: str, value: str | None
) -> None:
    """The demo bot's buy is stored and booked; its stored fill is then changed to disagree
    with its FILL entry (the book it belongs to, its fee's currency, its instrument)."""
    desk.alert({"action": "buy", "symbol": "AAPL", "qty": "3"})
    runtime = desk.runtime
    with runtime.desk.uow_factory() as uow:
        (fill,) = uow.fills.list(AccountId("paper"))
    assert fill.bot_id is not None
    with runtime.desk.engine.begin() as conn:
        changed = conn.execute(
            sa.text(f"UPDATE fills SET {column} = :v WHERE trade_id = :t"),
            {"v": value, "t": fill.trade_id.value},
        )
        assert changed.rowcount == 1
    found = reconciled(desk)
    assert found["ok"] is False, found
    assert [d["kind"] for d in found["differences"]] == ["FILL_BOOKED_DIFFERENTLY"], found
