"""Backtests from the desk's API, from the user's side: a series imported into the bar store,
a run asked for over HTTP, its progress, its statistics (the same as ``algodesk backtest``
prints), its report behind a one-time link, refusals, failures, and a restart."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.backtest import jobs as jobs_module
from algodesk.backtest.jobs import BacktestJobs, ProgressFile, QueueFullError, read_progress
from algodesk.bootstrap import init_storage, open_desk, read_bar_file
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.users import Role
from algodesk.entrypoints.api.app import create_app
from algodesk.entrypoints.api.backtests import REPORT_CSP, ReportTickets
from algodesk.entrypoints.cli.app import app as cli

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NVDA = DATA / "nvda-1999-2014.txt"
SERIES = "NVDA.XNAS|1d"
PASSWORD = "admin-password-123"
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:"
)


class Desk:
    def __init__(self, runtime: DeskRuntime, client: TestClient, data_dir: Path) -> None:
        self.runtime, self.client, self.data_dir = runtime, client, data_dir
        self.admin = self.login("admin", PASSWORD)
        self.viewer = self.login("watcher", "viewer-password-1")

    def login(self, user: str, password: str) -> dict[str, str]:
        answer = self.client.post(
            "/api/v1/auth/login", json={"username": user, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def start(self, **body: Any) -> dict[str, Any]:
        answer = self.client.post("/api/v1/backtests", json=body, headers=self.admin)
        assert answer.status_code == 202, answer.text
        job: dict[str, Any] = answer.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/api/v1/backtests/{job_id}", headers=self.viewer)
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        return job

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"backtest {job_id} not finished after {timeout} s: {job}")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    data_dir = tmp_path_factory.mktemp("desk")
    settings = Settings(data_dir=data_dir)
    init_storage(settings)
    opened = open_desk(settings)
    iid, daily = InstrumentId("NVDA.XNAS"), Timeframe.parse("1d")
    opened.bars.write(iid, daily, read_bar_file(NVDA, iid, daily))
    runtime = DeskRuntime(
        opened, hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    )
    runtime.load()
    runtime.ensure_admin(PASSWORD)
    runtime.auth.create_user("watcher", "viewer-password-1", Role.VIEWER, by=None)
    try:
        with TestClient(create_app(runtime)) as client:
            yield Desk(runtime, client, data_dir)
    finally:
        runtime.stop()  # ends the backtest worker
        opened.close()


@pytest.fixture(scope="module")
def finished(desk: Desk) -> dict[str, Any]:
    """One sma_cross run over NVDA, started over HTTP and polled until it ended."""
    job = desk.start(
        strategy="sma_cross", series=SERIES, params={"fast": "10", "slow": "20"}, cash="100000"
    )
    return desk.wait(job["id"])


def test_the_options_list_the_stored_series_and_the_built_in_strategies(desk: Desk) -> None:
    answer = desk.client.get("/api/v1/backtests/options", headers=desk.viewer)
    assert answer.status_code == 200, answer.text
    options = answer.json()
    assert options["series"] == [
        {
            "id": SERIES,
            "instrument": "NVDA.XNAS",
            "timeframe": "1d",
            "bars": 4012,
            "first": "1999-01-23T00:00:00+00:00",
            "last": "2015-01-01T00:00:00+00:00",  # bars are stamped at their close
        }
    ]
    strategies = {s["name"]: s["params"] for s in options["strategies"]}
    assert set(strategies) == {"sma_cross", "ema_cross", "rsi_reversion", "breakout"}
    assert strategies["sma_cross"]["fast"] == "10"
    assert strategies["sma_cross"]["slow"] == "20"
    assert strategies["ema_cross"]["kind"] == "ema"
    assert all(isinstance(v, str) for p in strategies.values() for v in p.values())
    assert desk.client.get("/api/v1/backtests/options").status_code == 401


@pytest.mark.slow
def test_a_backtest_from_the_desk_has_the_stats_of_the_command_line(
    desk: Desk, finished: dict[str, Any], tmp_path: Path
) -> None:
    assert finished["status"] == "done", finished
    assert finished["error"] is None
    assert (finished["strategy"], finished["series"]) == ("sma_cross", SERIES)
    assert (finished["params"], finished["cash"]) == ({"fast": "10", "slow": "20"}, "100000")
    assert finished["created_at"] <= finished["started_at"] <= finished["finished_at"]
    done, total = finished["progress"]["done"], finished["progress"]["total"]
    assert done == total == 4012
    assert finished["has_report"] is True
    out = tmp_path / "cli.json"
    ran = CliRunner().invoke(
        cli,
        ["backtest", "sma_cross", "--data", f"NVDA={NVDA}", "--param", "fast=10",
         "--param", "slow=20", "--cash", "100000", "--json", str(out)],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    expected = json.loads(out.read_text())["stats"]
    assert expected["trade_count"] > 50
    assert finished["stats"] == expected
    listed = desk.client.get("/api/v1/backtests", headers=desk.viewer)
    assert listed.status_code == 200
    assert finished["id"] in [j["id"] for j in listed.json()["backtests"]]


@pytest.mark.slow
def test_the_report_opens_once_with_a_ticket_and_its_own_csp(
    desk: Desk, finished: dict[str, Any]
) -> None:
    job_id = finished["id"]
    link = desk.client.post(f"/api/v1/backtests/{job_id}/report-link", headers=desk.viewer)
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert url.startswith(f"/backtests/{job_id}/report?ticket=")
    page = desk.client.get(url)  # no bearer: the ticket is the credential
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP == REPORT_CSP
    assert "Plotly" in page.text
    again = desk.client.get(url)
    assert (again.status_code, again.json()["reason"]) == (403, "bad_ticket")
    assert desk.client.get(f"/backtests/{job_id}/report?ticket=guess").status_code == 403
    assert desk.client.get(f"/backtests/{job_id}/report").status_code == 403
    other = desk.client.post(f"/api/v1/backtests/{job_id}/report-link", headers=desk.viewer)
    stolen = other.json()["url"].replace(job_id, "0" * 12)
    assert desk.client.get(stolen).status_code == 403  # a ticket is for one report
    assert desk.client.post(f"/api/v1/backtests/{job_id}/report-link").status_code == 401


def test_report_tickets_expire_after_a_minute() -> None:
    now = [100.0]
    tickets = ReportTickets(clock=lambda: now[0])
    late, soon = tickets.issue("a" * 12), tickets.issue("a" * 12)
    now[0] += 59.9
    assert tickets.redeem(soon, "a" * 12)
    now[0] += 0.2
    assert not tickets.redeem(late, "a" * 12)


def test_a_viewer_cannot_start_a_backtest(desk: Desk) -> None:
    body = {"strategy": "sma_cross", "series": SERIES, "params": {}, "cash": "1000"}
    refused = desk.client.post("/api/v1/backtests", json=body, headers=desk.viewer)
    assert (refused.status_code, refused.json()["reason"]) == (403, "forbidden")
    assert desk.client.post("/api/v1/backtests", json=body).status_code == 401


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"strategy": "nope"}, "unknown strategy 'nope'; expected one of sma_cross"),
        ({"strategy": "/tmp/evil.py:Evil"}, "unknown strategy"),
        ({"series": "NVDA.XNAS|1h"}, "unknown series 'NVDA.XNAS|1h'; expected"),
        ({"series": "garbage"}, "unknown series 'garbage'"),
        ({"params": {"fast": "ten"}}, "parameter fast: expected int, was 'ten'"),
        ({"params": {"speed": "1"}}, "unknown parameter(s) speed"),
        ({"params": {"fast": "30", "slow": "20"}}, "expected fast < slow"),
        ({"cash": "0"}, "cash: expected a decimal amount > 0, was '0'"),
        ({"cash": "-5"}, "cash: expected a decimal amount > 0"),
        ({"cash": "NaN"}, "cash: expected a decimal amount > 0"),
        ({"cash": "Infinity"}, "cash: expected a decimal amount > 0"),
        ({"cash": "lots"}, "cash: expected a decimal amount > 0"),
    ],
)
def test_bad_inputs_are_refused_before_any_job(desk: Desk, body: dict[str, Any], says: str) -> None:
    before = desk.client.get("/api/v1/backtests", headers=desk.admin).json()["backtests"]
    full = {"strategy": "sma_cross", "series": SERIES, "params": {}, "cash": "1000", **body}
    refused = desk.client.post("/api/v1/backtests", json=full, headers=desk.admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["reason"] == "invalid_backtest"
    assert says in refused.json()["message"]
    after = desk.client.get("/api/v1/backtests", headers=desk.admin).json()["backtests"]
    assert len(after) == len(before)


def test_a_malformed_body_is_refused(desk: Desk) -> None:
    refused = desk.client.post(
        "/api/v1/backtests", json={"strategy": "sma_cross"}, headers=desk.admin
    )
    assert (refused.status_code, refused.json()["reason"]) == (422, "invalid_request")


def test_an_unknown_backtest_is_not_found(desk: Desk) -> None:
    for job_id in ("0123456789ab", "nope", "..%2F..%2Fetc"):
        answer = desk.client.get(f"/api/v1/backtests/{job_id}", headers=desk.viewer)
        assert answer.status_code == 404, job_id
        link = desk.client.post(f"/api/v1/backtests/{job_id}/report-link", headers=desk.viewer)
        assert link.status_code == 404, job_id


@pytest.mark.slow
def test_a_run_that_fails_is_a_failed_job_with_the_command_s_message(desk: Desk) -> None:
    # A trend filter below the bars' own timeframe parses, but cannot be computed.
    job = desk.start(strategy="sma_cross", series=SERIES, params={"trend": "1h"}, cash="1000")
    assert job["status"] in ("queued", "running")
    ended = desk.wait(job["id"])
    assert ended["status"] == "failed"
    assert ended["error"] == "expected a timeframe above the series' 1d, was 1h"
    assert (ended["stats"], ended["has_report"]) == (None, False)
    link = desk.client.post(f"/api/v1/backtests/{job['id']}/report-link", headers=desk.viewer)
    assert link.status_code == 404


@pytest.mark.slow
def test_jobs_run_one_at_a_time_and_are_listed_newest_first(desk: Desk) -> None:
    first = desk.start(strategy="ema_cross", series=SERIES, params={}, cash="5000")
    second = desk.start(strategy="sma_cross", series=SERIES, params={"slow": "50"}, cash="5000")
    assert second["status"] == "queued"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = desk.client.get("/api/v1/backtests", headers=desk.viewer).json()["backtests"]
        mine = {j["id"]: j for j in jobs if j["id"] in (first["id"], second["id"])}
        assert sum(j["status"] == "running" for j in jobs) <= 1
        if mine[first["id"]]["status"] == "running":
            assert mine[second["id"]]["status"] == "queued"
        if all(j["status"] in ("done", "failed") for j in mine.values()):
            break
        time.sleep(0.05)
    assert [mine[first["id"]]["status"], mine[second["id"]]["status"]] == ["done", "done"]
    ids = [j["id"] for j in jobs]
    assert ids.index(second["id"]) < ids.index(first["id"])
    assert mine[first["id"]]["finished_at"] <= mine[second["id"]]["started_at"]


@pytest.mark.slow
def test_after_a_restart_finished_jobs_remain_and_a_running_one_was_interrupted(
    desk: Desk, finished: dict[str, Any]
) -> None:
    root = desk.data_dir / "backtests"
    crashed = root / "abcdef012345"
    crashed.mkdir()
    record = {**finished, "id": crashed.name, "status": "running", "finished_at": None}
    (crashed / "job.json").write_text(json.dumps(record))
    again = TestClient(create_app(desk.runtime))
    shown = again.get(f"/api/v1/backtests/{crashed.name}", headers=desk.viewer).json()
    assert shown["status"] == "failed"
    assert shown["error"] == "interrupted: the desk stopped while this backtest was running"
    kept = again.get(f"/api/v1/backtests/{finished['id']}", headers=desk.viewer).json()
    assert kept == finished
    assert json.loads((crashed / "job.json").read_text())["status"] == "failed"


def test_closing_the_desk_ends_the_running_backtest_as_interrupted(
    tmp_path: Path, desk: Desk
) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    jobs = BacktestJobs(tmp_path, desk.runtime.desk.bars, command=sleeper)
    job = jobs.submit("sma_cross", SERIES, {}, "1000")
    deadline = time.monotonic() + 10
    while (jobs.get(job["id"]) or {}).get("status") != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    queued = jobs.submit("sma_cross", SERIES, {}, "1000")
    started = time.monotonic()
    jobs.close()
    assert time.monotonic() - started < 5
    for job_id in (job["id"], queued["id"]):
        ended = jobs.get(job_id)
        assert ended is not None
        assert ended["status"] == "failed"
        assert ended["error"].startswith("interrupted: the desk stopped"), ended
    assert (
        (tmp_path / job["id"] / "bars.csv")
        .read_text()
        .startswith("Date,Open,High,Low,Close,Volume\n1999-01-22,1.75,")
    )


def test_a_full_queue_answers_429_with_retry_after(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_module, "MAX_WAITING", 0)
    answer = desk.client.post(
        "/api/v1/backtests", json={"strategy": "sma_cross", "series": SERIES}, headers=desk.admin
    )
    assert answer.status_code == 429, answer.text
    assert answer.json()["reason"] == "busy"
    assert int(answer.headers["retry-after"]) > 0


def test_the_queue_refuses_more_than_its_limit_until_jobs_finish(
    tmp_path: Path, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_module, "MAX_WAITING", 2)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    jobs = BacktestJobs(tmp_path, desk.runtime.desk.bars, command=sleeper)
    try:
        jobs.submit("sma_cross", SERIES, {}, "1000")
        jobs.submit("sma_cross", SERIES, {}, "1000")
        with pytest.raises(QueueFullError, match="2 backtests are queued or running"):
            jobs.submit("sma_cross", SERIES, {}, "1000")
    finally:
        jobs.close()


@pytest.mark.slow
def test_the_command_line_writes_its_progress_to_a_file(tmp_path: Path) -> None:
    progress = tmp_path / "progress.json"
    ran = CliRunner().invoke(
        cli, ["backtest", "sma_cross", "--data", str(NVDA), "--progress-file", str(progress)]
    )
    assert ran.exit_code == 0, ran.output
    assert json.loads(progress.read_text()) == {"done": 4012, "total": 4012}
    assert list(tmp_path.iterdir()) == [progress]


def test_the_progress_file_is_written_at_most_five_times_a_second(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    now = [0.0]
    write = ProgressFile(path, clock=lambda: now[0])
    write(0, 100)
    assert read_progress(path) == (0, 100)
    now[0] += 0.1
    write(10, 100)
    assert read_progress(path) == (0, 100)  # too soon
    now[0] += 0.15
    write(20, 100)
    assert read_progress(path) == (20, 100)
    now[0] += 0.01
    write(100, 100)  # the end is always written
    assert read_progress(path) == (100, 100)
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]
    path.write_text("{not json")
    assert read_progress(path) is None
    assert read_progress(tmp_path / "missing.json") is None
