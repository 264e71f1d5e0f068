"""API reads under concurrent clients, and the server's idle memory. DESIGN targets: API reads
p95 <= 20 ms under 100 concurrent clients; the server idle in <= 200 MB RSS.

* the desk: ``algodesk serve`` on a free loopback port with a fresh data dir, on SQLite and (with
  ``--backends``) a throwaway PostgreSQL server, seeded with ``--alerts`` TradingView alerts
  through its webhook, executed on the paper exchange before the clients start: there are
  orders, fills, ledger entries and alert fates to read.
* the clients: ``--clients`` of them in a separate process, each on its own keep-alive
  connection from its own loopback address (127.0.0.2, 127.0.0.3, ...: the desk limits
  requests per address, as it would limit a hundred users' machines), signed in as one of
  ``--users`` viewers (the desk limits requests per user too: each viewer's clients stay under
  its 30 per second). Each client reads in a closed loop, pausing ``--think`` seconds between
  answers, for ``--duration`` seconds, going round what a dashboard or a program polls: the
  account summary, positions, orders, fills, ledger entries, alert fates and bots (50 rows).
* the answer time is from writing the request to reading the whole answer.
* memory: the server process's resident set (``VmRSS``) after it is ready and idle for 3 s,
  after the alerts were executed, and after the clients are done.

Prints one table per backend and MET/NOT MET against the targets; exits 0 either way (it is a
measurement). Run: ``.venv/bin/python benchmarks/api.py [--clients 100 --duration 20]
[--backends sqlite,postgres] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from algodesk.testing.desk_server import Server
from algodesk.testing.http_load import RawConnection, percentile, run_to_file
from algodesk.testing.postgres import TemporaryPostgres

P95_MS = 20.0
RSS_MB = 200.0
CLIENTS = 100
LABELS = {
    "sqlite": "SQLite (WAL, synchronous=FULL)",
    "postgres": "PostgreSQL (throwaway server, fsync=off)",
}
#: What the clients read, in turn (``{account}``: the demo account).
READS = (
    "/api/v1/accounts/{account}/summary",
    "/api/v1/positions",
    "/api/v1/orders?limit=50",
    "/api/v1/fills?limit=50",
    "/api/v1/ledger/entries?limit=50",
    "/api/v1/alerts?limit=50",
    "/api/v1/bots",
)
VIEWER_PASSWORD = "bench-viewer-password"
GIVE_UP = 10.0  # seconds: an answer that takes longer counts as none


# -- the clients (run in their own process) ------------------------------------------------------


async def _client(
    n: int, settings: dict[str, Any], until: float, rows: list[tuple[int, float, int]]
) -> None:
    host, port = settings["host"], settings["port"]
    token = settings["tokens"][n % len(settings["tokens"])]
    requests = [
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        for path in settings["paths"]
    ]
    conn = RawConnection(host, port, source=f"127.0.0.{2 + n % 250}")
    turn = n % len(requests)
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(GIVE_UP):
                status, _ = await conn.request(requests[turn])
        except TimeoutError:
            status = -1
            conn.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status = 0
            conn.close()
        rows.append((turn, (time.perf_counter() - start) * 1000, status))
        turn = (turn + 1) % len(requests)
        await asyncio.sleep(settings["think"])
    conn.close()


async def _clients(settings: dict[str, Any]) -> list[tuple[int, float, int]]:
    rows: list[tuple[int, float, int]] = []
    until = asyncio.get_running_loop().time() + settings["duration"]
    await asyncio.gather(*(_client(n, settings, until, rows) for n in range(settings["clients"])))
    return rows


def _clients_main(settings: dict[str, Any], out: str) -> None:
    """The clients' process: read for the duration, write the rows to ``out`` as JSON."""
    run_to_file(_clients(settings), out)


# -- the desk under test ------------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _seed(desk: Server, client: httpx.Client, headers: dict[str, str], alerts: int) -> None:
    """Post ``alerts`` alerts to the demo bot's webhook and wait until they are executed."""
    for n in range(alerts):
        side = "buy" if n % 2 == 0 else "sell"
        body = {"action": side, "ticker": "AAPL", "qty": "1", "comment": f"seed-{n}"}
        client.post(desk.webhook_path, json=body).raise_for_status()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pending = client.get(
            "/api/v1/alerts", params={"status": "PENDING", "limit": 1}, headers=headers
        )
        pending.raise_for_status()
        if not pending.json()["alerts"]:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the {alerts} seed alerts were not executed within 120 s")


def _viewers(client: httpx.Client, headers: dict[str, str], users: int) -> list[str]:
    """Sign ``users`` new viewers up and in: their access tokens."""
    tokens = []
    for n in range(users):
        name = f"viewer{n}"
        client.post(
            "/api/v1/users",
            json={"username": name, "password": VIEWER_PASSWORD, "role": "viewer"},
            headers=headers,
        ).raise_for_status()
        login = client.post(
            "/api/v1/auth/login", json={"username": name, "password": VIEWER_PASSWORD}
        )
        login.raise_for_status()
        tokens.append(str(login.json()["access_token"]))
    return tokens


@dataclass
class Result:
    backend: str
    clients: int
    duration: float
    rows: list[tuple[int, float, int]]
    rss_mb: dict[str, float]


def run_backend(backend: str, args: argparse.Namespace) -> Result:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="algodesk-bench-")))
        serve_args: list[str] = []
        if backend == "postgres":
            pg = stack.enter_context(TemporaryPostgres())
            serve_args += ["--database-url", pg.create_database("bench")]
        desk = Server(tmp / "data", *serve_args).start(timeout=90)
        stack.callback(desk.stop)
        assert desk.proc is not None
        pid = desk.proc.pid
        rss: dict[str, float] = {}
        time.sleep(3)
        rss["started, idle 3 s"] = _rss_mb(pid)
        client = stack.enter_context(httpx.Client(base_url=desk.base, timeout=30))
        headers = desk.login()
        _seed(desk, client, headers, args.alerts)
        rss[f"{args.alerts:,} alerts executed"] = _rss_mb(pid)
        account = client.get("/api/v1/accounts", headers=headers).json()["accounts"][0]
        settings = {
            "host": "127.0.0.1",
            "port": desk.port,
            "tokens": _viewers(client, headers, args.users),
            "paths": [path.format(account=account) for path in READS],
            "clients": args.clients,
            "duration": args.duration,
            "think": args.think,
        }
        out = tmp / "rows.json"
        process = multiprocessing.get_context("spawn").Process(
            target=_clients_main, args=(settings, str(out)), name="api-clients"
        )
        process.start()
        process.join(args.duration + 120)
        if process.exitcode != 0:
            raise RuntimeError(f"the clients' process failed (exit code {process.exitcode})")
        rows = [tuple(row) for row in json.loads(out.read_text())]
        time.sleep(3)
        rss["after the clients, idle 3 s"] = _rss_mb(pid)
        return Result(backend, args.clients, args.duration, rows, rss)


# -- the table ----------------------------------------------------------------------------------


def report(result: Result) -> list[str]:
    ok = sorted(ms for _, ms, status in result.rows if status == 200)
    by_read: dict[int, list[float]] = defaultdict(list)
    for turn, ms, status in result.rows:
        if status == 200:
            by_read[turn].append(ms)
    failed = Counter(status for _, _, status in result.rows if status != 200)
    lines = [
        f"API reads, {LABELS[result.backend]}: {result.clients} clients for "
        f"{result.duration:g} s (the reads of a dashboard, in turn)",
        f"{'measure':<44} {'value':>12}  {'target':<14} verdict",
    ]

    def row(name: str, value: str, target: str = "", verdict: str = "") -> None:
        lines.append(f"{name:<44} {value:>12}  {target:<14} {verdict}".rstrip())

    row("answers 200", f"{len(ok):,}")
    row("answers/s", f"{len(ok) / result.duration:,.0f}/s")
    p95 = percentile(ok, 95)
    row("answer p50", f"{percentile(ok, 50):,.1f} ms")
    met = p95 <= P95_MS and len(ok) > 0
    row("answer p95", f"{p95:,.1f} ms", f"<= {P95_MS:g} ms", "MET" if met else "NOT MET")
    row("answer p99", f"{percentile(ok, 99):,.1f} ms")
    row("answer max", f"{ok[-1] if ok else float('nan'):,.1f} ms")
    for status, count in sorted(failed.items()):
        name = {-1: "no answer within 10 s", 0: "connection errors"}.get(status, f"HTTP {status}")
        row(f"not 200: {name}", f"{count:,}")
    for turn, path in enumerate(READS):
        times = sorted(by_read.get(turn, []))
        row(
            f"  p95 {path.split('?')[0].replace('{account}', '<id>')}",
            f"{percentile(times, 95):,.1f} ms",
        )
    for when, mb in result.rss_mb.items():
        verdict = "MET" if mb <= RSS_MB else "NOT MET"
        target, verdict = (f"<= {RSS_MB:g} MB", verdict) if "idle" in when else ("", "")
        row(f"server RSS, {when}", f"{mb:,.0f} MB", target, verdict)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds")
    parser.add_argument("--think", type=float, default=0.2, help="seconds between answers")
    parser.add_argument("--users", type=int, default=25, help="viewers the clients sign in as")
    parser.add_argument("--alerts", type=int, default=500, help="alerts executed beforehand")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="10 clients for 2 s (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.duration, args.users, args.alerts = 10, 2.0, 2, 20
    if not 1 <= args.clients <= 250:
        parser.error(
            f"--clients: expected 1 to 250 (one loopback address each), was {args.clients}"
        )
    for backend in args.backends.split(","):
        if backend not in LABELS:
            parser.error(f"--backends: expected sqlite and/or postgres, was {backend!r}")
        print("\n".join(report(run_backend(backend, args))), flush=True)
        print()


if __name__ == "__main__":
    main()
