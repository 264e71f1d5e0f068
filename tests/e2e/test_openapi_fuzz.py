"""Schemathesis over the OpenAPI spec of the running desk: whatever it sends, no route answers
5xx (invariant 8). Requests carry an admin token, so the routes behind sign-in are reached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from algodesk.testing.desk_server import Server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(Path(tmp_path_factory.mktemp("fuzz")), "--order-rate", "0").start()
    running.headers = running.login()  # type: ignore[attr-defined]
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_schema(desk: Server) -> object:
    return schemathesis.openapi.from_url(f"{desk.base}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_5xx(case: schemathesis.Case, desk: Server) -> None:
    if case.path.startswith("/api/v1/kill-switch") or case.path.endswith("/{action}"):
        return  # state-changing controls are driven by their own tests
    response = case.call(headers=desk.headers, timeout=10)  # type: ignore[attr-defined]
    log = "\n".join(desk.output[-40:])  # the server's traceback, if any
    assert response.status_code < 500, (case.method, case.path, response.text[:500], log)
