"""``POST /api/v1/orders`` above an instrument's freeze quantity: child orders through every
gate, checked as one list (a denied child sends none), at most ten, paced under the order rate,
and a retry that sends nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.identifiers import AccountId
from algodesk.domain.matching import Quote
from algodesk.domain.values import Currency, money
from algodesk.entrypoints.api.app import create_app
from tests.desks import PASSWORD, demo_runtime
from tests.integration.test_slicing_engine import LOTS

USD = Currency("USD")


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[DeskRuntime, TestClient, dict[str, str]]]:
    runtime = demo_runtime(tmp_path)
    runtime.desk.instruments.put([LOTS], "test", runtime.clock.now().date())
    runtime.market.on_event(Quote(LOTS.id, runtime.clock.now(), Decimal(10)))
    with TestClient(create_app(runtime)) as client:
        answer = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        yield runtime, client, headers
    runtime.desk.close()


def order(quantity: str, key: str | None = None) -> dict[str, str]:
    body = {"account": "paper", "instrument": LOTS.id.value, "side": "BUY", "quantity": quantity}
    return body | ({"idempotency_key": key} if key else {})


def orders(client: TestClient, headers: dict[str, str]) -> list[str]:
    found = client.get("/api/v1/orders", headers=headers).json()["orders"]
    return sorted(o["quantity"] for o in found if o["instrument"] == LOTS.id.value)


def test_an_order_above_the_freeze_quantity_goes_as_child_orders_once(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]],
) -> None:
    _, client, headers = desk
    answer = client.post("/api/v1/orders", json=order("3640", "big-1"), headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is True, body
    assert [c["quantity"] for c in body["children"]] == ["1755", "1755", "130"]
    assert all(c["ok"] for c in body["children"])
    assert body["client_order_id"] == body["children"][0]["client_order_id"]
    assert "sliced into 3 child orders (1755, 1755, 130)" in body["message"]
    assert orders(client, headers) == ["130", "1755", "1755"]

    # The same request again (a client's retry): every child is answered from the journal.
    again = client.post("/api/v1/orders", json=order("3640", "big-1"), headers=headers).json()
    assert again["replayed"] is True
    assert [c["client_order_id"] for c in again["children"]] == [
        c["client_order_id"] for c in body["children"]
    ]
    assert orders(client, headers) == ["130", "1755", "1755"]


@pytest.mark.parametrize(
    ("first", "again"),
    [("1755", "3640"), ("3640", "65"), ("3510", "3640")],
    ids=["unsliced, then sliced", "sliced, then unsliced", "sliced, then sliced otherwise"],
)
def test_a_key_sent_again_with_another_quantity_is_refused_and_trades_once(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]], first: str, again: str
) -> None:
    """A key only ever means one order, whether either request was sliced or not. (Each
    request used to be checked only against the keys its own slicing gave: both traded.)"""
    _, client, headers = desk
    answer = client.post("/api/v1/orders", json=order(first, "k-1"), headers=headers).json()
    assert answer["ok"] is True, answer
    traded = orders(client, headers)
    retry = client.post("/api/v1/orders", json=order(again, "k-1"), headers=headers).json()
    assert (retry["ok"], retry["code"]) == (False, "IDEMPOTENCY_KEY_REUSED"), retry
    assert orders(client, headers) == traded
    same = client.post("/api/v1/orders", json=order(first, "k-1"), headers=headers).json()
    assert (same["ok"], same["replayed"]) == (True, True)  # the first order's answer
    assert orders(client, headers) == traded


def test_an_order_within_the_freeze_quantity_is_one_order(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]],
) -> None:
    _, client, headers = desk
    body = client.post("/api/v1/orders", json=order("1755"), headers=headers).json()
    assert body["ok"] is True
    assert "children" not in body
    odd = client.post("/api/v1/orders", json=order("1900"), headers=headers).json()
    assert (odd["ok"], odd["code"]) == (False, "QUANTITY_NOT_LOT_MULTIPLE")
    assert orders(client, headers) == ["1755", "1900"]


def test_children_are_checked_as_one_list_and_a_denied_one_sends_none(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]],
) -> None:
    _, client, headers = desk
    limits = {"limits": {"max_position_qty": "2000"}, "reason": "test"}
    assert client.put("/api/v1/limits/paper", json=limits, headers=headers).status_code == 200
    body = client.post("/api/v1/orders", json=order("3640", "big-2"), headers=headers).json()
    assert (body["ok"], body["code"]) == (False, "POSITION_LIMIT_EXCEEDED")
    first, second, third = body["children"]
    # Each child alone fits under 2,000; the first two together do not: nothing goes.
    assert (first["ok"], first["code"]) == (False, "NOT_SENT")
    assert (second["ok"], second["code"]) == (False, "POSITION_LIMIT_EXCEEDED")
    assert "order list of 3 slices, child 2" in second["message"]
    assert (third["ok"], third["code"]) == (False, "NOT_SENT")
    assert "checked as one list: child 2 (1755) denied POSITION_LIMIT_EXCEEDED" in body["message"]
    assert body["message"].endswith("none sent")
    assert orders(client, headers) == ["1755"]  # the second child, recorded denied
    assert client.get("/api/v1/positions", headers=headers).json()["positions"] == []

    # A retry answers the same from the journal and sends nothing.
    again = client.post("/api/v1/orders", json=order("3640", "big-2"), headers=headers).json()
    assert (again["ok"], again["code"], again["replayed"]) == (
        False,
        "POSITION_LIMIT_EXCEEDED",
        True,
    )
    assert orders(client, headers) == ["1755"]


def test_an_order_needing_more_than_ten_children_is_denied_whole(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]],
) -> None:
    runtime, client, headers = desk
    runtime.desk.ledger.deposit(AccountId("paper"), money("1000000", USD), key="for-ten")
    # 11 children of 27 lots (1,755) = 19,305: one child too many.
    body = client.post("/api/v1/orders", json=order("19305", "huge"), headers=headers).json()
    assert (body["ok"], body["code"]) == (False, "TOO_MANY_SLICES")
    assert "needs 11 child orders" in body["message"]
    assert "limit=10" in body["message"]
    assert "children" not in body
    assert orders(client, headers) == ["19305"]  # recorded denied, nothing sent
    ten = client.post("/api/v1/orders", json=order("17550", "ten"), headers=headers).json()
    assert ten["ok"] is True, ten
    assert len(ten["children"]) == 10


def test_children_wait_for_room_under_the_order_rate_instead_of_being_denied(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]],
) -> None:
    _, client, headers = desk
    limits = {"limits": {"max_orders_per_second": 2}, "reason": "test"}
    assert client.put("/api/v1/limits/paper", json=limits, headers=headers).status_code == 200
    body = client.post("/api/v1/orders", json=order("3640", "paced"), headers=headers).json()
    assert body["ok"] is True, body
    found = client.get("/api/v1/orders", headers=headers).json()["orders"]
    made = sorted(
        datetime.fromisoformat(o["created_at"]) for o in found if o["instrument"] == LOTS.id.value
    )
    assert len(made) == 3
    # Two fit in the first second; the third waited for the first to leave the window.
    assert made[2] - made[0] >= timedelta(seconds=1)


def test_a_key_with_a_colon_is_refused_with_422(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]],
) -> None:
    """The desk derives keys with ':' from a client's key (a sliced order's record and its
    children): a client key with one could take those, so it is refused, and nothing trades."""
    _, client, headers = desk
    answer = client.post("/api/v1/orders", json=order("3640", "k-1:sliced"), headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["reason"] == "invalid_request"
    assert "idempotency_key" in answer.text
    assert orders(client, headers) == []


def test_a_damaged_sliced_record_sends_nothing_and_says_why(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]],
) -> None:
    runtime, client, headers = desk
    runtime.engine.note(
        AccountId("paper"),
        "api:k-1:sliced",
        "OrderSliced",
        {"command": {"side": "BUY"}, "children": ["1755", "1885"]},
    )
    answer = client.post("/api/v1/orders", json=order("3640", "k-1"), headers=headers).json()
    assert (answer["ok"], answer["code"]) == (False, "SLICED_ORDER_UNREADABLE"), answer
    assert "key=api:k-1 cannot be read back" in answer["message"]
    assert orders(client, headers) == []


def test_a_request_that_finds_its_key_sliced_meanwhile_follows_that_plan(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests under one key at once: the second looked before the first journaled its
    plan, then found the plan when it went to journal its own. It must not slice again."""
    runtime, client, headers = desk
    first = client.post("/api/v1/orders", json=order("3640", "k-1"), headers=headers).json()
    assert first["ok"] is True, first
    traded = orders(client, headers)
    monkeypatch.setattr(runtime.engine, "noted", lambda *_: None)  # the lookup came too early
    other = client.post("/api/v1/orders", json=order("3510", "k-1"), headers=headers).json()
    assert (other["ok"], other["code"]) == (False, "IDEMPOTENCY_KEY_REUSED"), other
    same = client.post("/api/v1/orders", json=order("3640", "k-1"), headers=headers).json()
    assert same["ok"] is True, same
    assert orders(client, headers) == traded
