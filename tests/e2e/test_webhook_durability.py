"""Invariant 2 over HTTP: an alert answered 2xx is executed exactly once, through resends and
through a SIGKILL of the server."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from algodesk.testing.desk_server import Server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


def test_the_same_alert_posted_four_times_five_seconds_apart_executes_once(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "desk").start()
    try:
        auth = server.login()
        fired = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = json.dumps({"action": "buy", "ticker": "AAPL", "qty": "1", "timenow": fired})
        answers = []
        for n in range(4):
            if n:
                time.sleep(5)  # TradingView resends 5 s apart
            answers.append(httpx.post(server.base + server.webhook_path, content=body, timeout=5))
        assert [a.status_code for a in answers] == [200, 200, 200, 200]
        assert [a.json()["duplicate"] for a in answers] == [False, True, True, True]
        assert len({a.json()["alert_id"] for a in answers}) == 1
        alert = server.settled(auth, answers[0].json()["alert_id"])
        assert (alert["status"], alert["duplicates"]) == ("EXECUTED", 3)
        fills = server.get("/api/v1/fills", auth, account="paper")["fills"]
        assert len(fills) == 1
        # Without a timestamp, a repeat inside the hook's window is the same delivery.
        plain = "BUY NVDA 1"
        first = httpx.post(server.base + server.webhook_path, content=plain, timeout=5).json()
        again = httpx.post(server.base + server.webhook_path, content=plain, timeout=5).json()
        assert (first["duplicate"], again["duplicate"]) == (False, True)
        assert first["alert_id"] == again["alert_id"]
    finally:
        server.stop()


def test_every_alert_answered_2xx_is_executed_exactly_once_across_a_sigkill(
    tmp_path: Path,
) -> None:
    data = tmp_path / "desk"
    server = Server(data, "--order-rate", "0").start()
    accepted: dict[int, int] = {}  # alert id -> n
    stop = threading.Event()

    def post_steadily() -> None:
        n = 0
        with httpx.Client(timeout=2) as client:
            while not stop.is_set():
                n += 1
                side = "buy" if n % 2 else "sell"  # stays within the bot's buying power
                body = json.dumps({"action": side, "ticker": "AAPL", "qty": "1", "n": n})
                try:
                    answer = client.post(server.base + server.webhook_path, content=body)
                except httpx.HTTPError:
                    continue  # no answer: TradingView would not count it as delivered
                if answer.status_code == 200:
                    accepted[answer.json()["alert_id"]] = n
                time.sleep(0.01)

    poster = threading.Thread(target=post_steadily)
    poster.start()
    time.sleep(4)
    server.kill()
    stop.set()
    poster.join()
    assert len(accepted) > 20, "too few alerts got through before the kill"
    restarted = Server(data, "--order-rate", "0", port=server.port).start()
    try:
        auth = restarted.login()
        deadline = time.monotonic() + 60
        while restarted.get("/api/v1/alerts", auth, status="PENDING")["alerts"]:
            assert time.monotonic() < deadline, "pending alerts were never processed"
            time.sleep(0.2)
        fates = {}
        for alert_id in accepted:
            alert = restarted.get(f"/api/v1/alerts/{alert_id}", auth)
            fates[alert_id] = alert
            assert alert["status"] == "EXECUTED", (alert["reason"], alert["message"], alert["fate"])
        coids = [a["fate"]["orders"][0]["client_order_id"] for a in fates.values()]
        assert len(set(coids)) == len(coids)
        fills = restarted.get("/api/v1/fills", auth, account="paper", limit=1000)["fills"]
        per_order = Counter(f["client_order_id"] for f in fills)
        assert all(per_order[c] == 1 for c in coids), per_order
        # Nothing executed that was not stored: every fill belongs to a stored alert.
        stored = restarted.get("/api/v1/alerts", auth, limit=500)["alerts"]
        stored_coids = {o["client_order_id"] for a in stored for o in a["fate"].get("orders", [])}
        assert set(per_order) <= stored_coids
        assert restarted.get("/api/v1/ledger/verify", auth)["ok"] is True
    finally:
        restarted.stop()
