"""``POST /api/v1/orders`` above an instrument's freeze quantity: child orders through every
gate, a retry that sends nothing twice, and a refused child that stops the rest."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.bootstrap import init_storage, open_desk
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.matching import Quote
from algodesk.domain.values import Currency
from algodesk.entrypoints.api.app import create_app

PASSWORD = "admin-password-123"
LOTS = Instrument(
    InstrumentId("LOTS.PAPER"),
    AssetClass.EQUITY,
    Currency("USD"),
    Decimal("0.05"),
    lot_size=Decimal(65),
    freeze_quantity=Decimal(1800),
)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[DeskRuntime, TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path)
    init_storage(settings)
    opened = open_desk(settings)
    runtime = DeskRuntime(
        opened, hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    )
    runtime.load()
    runtime.prepare_demo()
    runtime.ensure_admin(PASSWORD)
    opened.instruments.put([LOTS], "test", runtime.clock.now().date())
    runtime.market.on_event(Quote(LOTS.id, runtime.clock.now(), Decimal(10)))
    with TestClient(create_app(runtime)) as client:
        answer = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        yield runtime, client, headers
    opened.close()


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


def test_a_refused_child_stops_the_slicing_and_the_answer_counts_what_went(
    desk: tuple[DeskRuntime, TestClient, dict[str, str]],
) -> None:
    _, client, headers = desk
    limits = {"limits": {"max_position_qty": "2000"}, "reason": "test"}
    assert client.put("/api/v1/limits/paper", json=limits, headers=headers).status_code == 200
    body = client.post("/api/v1/orders", json=order("3640", "big-2"), headers=headers).json()
    assert (body["ok"], body["code"]) == (False, "POSITION_LIMIT_EXCEEDED")
    first, second, third = body["children"]
    assert first["ok"] is True
    assert (second["ok"], second["code"]) == (False, "POSITION_LIMIT_EXCEEDED")
    assert (third["ok"], third["code"]) == (False, "NOT_SENT")
    assert body["message"].startswith("child 2 of 3 (1755) refused POSITION_LIMIT_EXCEEDED")
    assert body["message"].endswith("1 of 3 children sent (1755 of 3640), 1 not sent")
    assert orders(client, headers) == ["1755", "1755"]  # the second one denied
