"""TradingView webhook under load: a real ``algodesk serve`` on loopback, alerts posted at a fixed
rate by a load generator in a separate process, on SQLite and on PostgreSQL.

DESIGN.md §6 targets: SQLite 1,000 alerts/s sustained for 60 s, answer p99 <= 10 ms, alert ->
paper fill booked p99 <= 50 ms, nothing lost; PostgreSQL 1,000 alerts/s, answer p99 <= 15 ms.

What runs, per backend:

* the desk: ``algodesk serve --order-rate N`` on a free loopback port with a fresh data dir
  (SQLite in WAL mode with ``synchronous=FULL``), or with ``--database-url`` pointing at a
  throwaway PostgreSQL server started from ``initdb``/``pg_ctl`` in a temp dir
  (``algodesk.testing.postgres``: fsync and synchronous_commit are off there, so the PostgreSQL
  figures are an upper bound for a durable server). The demo account's and bot's only limit
  that could deny at this rate is the order-rate gate (default 10 orders/s); ``--order-rate 0``
  (the default here) switches it off; its other limits are the price band and mark age (the
  replay feed keeps marks fresh) and buying power (alerts alternate buy/sell of 1 AAPL).
* the load generator: a ``spawn``ed process with its own asyncio loop (uvloop when installed)
  and a pool of keep-alive HTTP/1.1 connections. It is open-loop: alert ``n`` is due at
  ``start + n / rate`` whatever happened to earlier ones; it waits only when every connection
  is busy, and that wait is counted ("sent late"). The client is a minimal HTTP/1.1 writer and
  reader on asyncio streams, so the generator itself costs little CPU next to the server on the
  same cores. Each body is a TradingView JSON alert with ``timenow`` (to the second, as
  TradingView sends it) and a unique ``comment``, so no two are deduplicated; ``--untimed``
  leaves ``timenow`` out (a message without it: the webhook then looks for a twin within the
  hook's dedupe window before storing it, one alert at a time).
* the answer time of an alert is from writing the request to reading the whole answer.

Alert -> booked fill, per alert that filled: ``settled_at`` (the server's ``datetime.now(UTC)``
when the alert thread recorded the alert's fate, from ``/api/v1/alerts``) minus the wall-clock
time (``time.time()``) at which the generator wrote the request. Both are the same machine's
realtime clock. The engine books a paper fill (order, fill and ledger entry committed) inside
``Engine.handle`` before the alert is settled, so this bounds the booking from above by one
inbox update. (A fill's own ``ts`` is the time of the quote it matched, which can be before
the alert arrived, so it cannot serve.) Which orders filled is read from the ``fills`` table
after the run: ``/api/v1/fills`` returns at most the latest 1,000 fills.

After the sending window the script waits (at most ``--drain-timeout``) for the inbox to have no
pending alert; "drain after last send" is the last ``settled_at`` minus the last send. Alerts
still pending then are counted apart; "lost" counts alerts answered 2xx that are missing from
the inbox.

Prints one table per backend and MET/NOT MET against the targets; exits 0 either way (it is a
measurement). Run: ``.venv/bin/python benchmarks/webhook.py [--rate 1000 --duration 60]
[--backends sqlite,postgres] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from algodesk.adapters.storage.sql.engine import make_engine, sqlite_url
from algodesk.adapters.storage.sql.tables import fills as fills_table
from algodesk.testing.desk_server import Server
from algodesk.testing.http_load import RawConnection, percentile, run_to_file
from algodesk.testing.postgres import TemporaryPostgres

TARGET_RATE = 1_000
TARGET_SECONDS = 60
ANSWER_P99_MS = {"sqlite": 10.0, "postgres": 15.0}
FILL_P99_MS = {"sqlite": 50.0}  # no fill target for PostgreSQL in DESIGN.md
LABELS = {
    "sqlite": "SQLite (WAL, synchronous=FULL)",
    "postgres": "PostgreSQL (throwaway server, fsync=off)",
}
LATE_MS = 10.0  # a send this much after its due time counts as late
#: TradingView cancels a webhook request after 3 s: an alert still waiting for a free
#: connection that long after its due time is dropped (not sent), and an answer that takes
#: longer counts as none (its answer time is then recorded as 3 s, a lower bound).
GIVE_UP = 3.0


# -- the load generator (runs in its own process) ---------------------------------------------


def _timenow(cache: dict[int, str], wall: float) -> str:
    second = int(wall)
    text = cache.get(second)
    if text is None:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        cache.clear()
        cache[second] = text
    return text


def _read_answer(status: int, answer: bytes) -> int | str | None:
    """The alert id of a 200, the reason of a refusal (desk_behind, unavailable, ...)."""
    with contextlib.suppress(ValueError, KeyError, TypeError):
        if status == 200:
            return int(json.loads(answer)["alert_id"])
        if status > 0:
            return str(json.loads(answer)["reason"])
    return None


async def _generate(
    host: str,
    port: int,
    path: str,
    rate: float,
    duration: float,
    connections: int,
    tag: str,
    timed: bool = True,
) -> list[list[Any]]:
    """Rows ``[n, late_ms, sent_wall, answer_ms, status, alert_id or refusal reason]``; status 0
    is a connection error, -1 no answer within :data:`GIVE_UP`, -2 not sent (no free connection
    that long)."""
    loop = asyncio.get_running_loop()
    pool: asyncio.Queue[RawConnection] = asyncio.Queue()
    for _ in range(connections):
        conn = RawConnection(host, port)
        await conn.open()
        pool.put_nowait(conn)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\n\r\n"
    )
    total = max(1, round(rate * duration))
    rows: list[list[Any]] = [[] for _ in range(total)]
    stamps: dict[int, str] = {}

    async def shoot(n: int, due: float) -> None:
        try:
            async with asyncio.timeout_at(due + GIVE_UP):
                conn = await pool.get()
        except TimeoutError:  # TradingView would have given up on this alert by now
            rows[n] = [n, GIVE_UP * 1000, time.time(), 0.0, -2, None]
            return
        late_ms = (loop.time() - due) * 1000
        sent = time.time()
        side = "buy" if n % 2 == 0 else "sell"
        stamp = f'"timenow":"{_timenow(stamps, sent)}",' if timed else ""
        body = (
            f'{{"action":"{side}","ticker":"AAPL","qty":"1",{stamp}"comment":"bench-{tag}-{n}"}}'
        ).encode()
        data = head.format(len(body)).encode() + body
        start = time.perf_counter()
        try:
            async with asyncio.timeout(GIVE_UP):
                status, answer = await conn.request(data)
        except TimeoutError:
            status, answer = -1, b""
            conn.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status, answer = 0, b""
            conn.close()
        answer_ms = (time.perf_counter() - start) * 1000
        pool.put_nowait(conn)
        alert_id = _read_answer(status, answer)
        rows[n] = [n, late_ms, sent, answer_ms, status, alert_id]

    tasks = []
    start = loop.time() + 0.05
    for n in range(total):
        due = start + n / rate
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(shoot(n, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return rows


def _generator_main(settings: dict[str, Any], out: str) -> None:
    """The load generator process: post the alerts, write the rows to ``out`` as JSON."""
    run_to_file(_generate(**settings), out)


# -- the desk under test ------------------------------------------------------------------------


# -- measuring ----------------------------------------------------------------------------------


def _wall(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Result:
    backend: str
    rate: float
    duration: float
    connections: int
    order_rate: int
    timed: bool
    rows: list[list[Any]]
    alerts: dict[int, dict[str, Any]]
    filled_orders: set[str]
    drained: bool
    desk_log: list[str] = field(default_factory=list)


def _all_alerts(client: httpx.Client, headers: dict[str, str]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    before: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if before is not None:
            params["before"] = before
        answer = client.get("/api/v1/alerts", params=params, headers=headers)
        answer.raise_for_status()
        page = answer.json()["alerts"]
        if not page:
            return found
        for alert in page:
            found[int(alert["id"])] = alert
        before = min(int(a["id"]) for a in page)


def _wait_drained(client: httpx.Client, headers: dict[str, str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(
            "/api/v1/alerts", params={"status": "PENDING", "limit": 1}, headers=headers
        )
        answer.raise_for_status()
        if not answer.json()["alerts"]:
            return True
        time.sleep(0.2)
    return False


def _filled_orders(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                str(c) for c in conn.execute(sa.select(fills_table.c.client_order_id)).scalars()
            }
    finally:
        engine.dispose()


def run_backend(backend: str, args: argparse.Namespace) -> Result:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="algodesk-bench-")))
        data_dir = tmp / "data"
        serve_args = ["--order-rate", str(args.order_rate)]
        if backend == "postgres":
            pg = stack.enter_context(TemporaryPostgres())
            url = pg.create_database("bench")
            serve_args += ["--database-url", url]
        else:
            url = sqlite_url(data_dir)
        desk = Server(data_dir, *serve_args).start(timeout=90)
        stack.callback(desk.stop)
        out = tmp / "rows.json"
        settings = {
            "host": "127.0.0.1",
            "port": desk.port,
            "path": desk.webhook_path,
            "rate": args.rate,
            "duration": args.duration,
            "connections": args.connections,
            "tag": f"{os.getpid()}-{backend}",
            "timed": not args.untimed,
        }
        generator = multiprocessing.get_context("spawn").Process(
            target=_generator_main, args=(settings, str(out)), name="webhook-load"
        )
        generator.start()
        generator.join(args.duration + args.drain_timeout + 120)
        if generator.is_alive():
            generator.terminate()
            generator.join(10)
            raise RuntimeError("the load generator did not finish")
        if generator.exitcode != 0:
            raise RuntimeError(f"the load generator failed (exit code {generator.exitcode})")
        rows: list[list[Any]] = json.loads(out.read_text())
        with httpx.Client(base_url=desk.base, timeout=120) as client:
            headers = desk.login()
            drained = _wait_drained(client, headers, args.drain_timeout)
            alerts = _all_alerts(client, headers)
        desk.stop()
        filled = _filled_orders(url)
        return Result(
            backend,
            args.rate,
            args.duration,
            args.connections,
            args.order_rate,
            not args.untimed,
            rows,
            alerts,
            filled,
            drained,
            desk.output[-20:],
        )
    raise AssertionError("unreachable")  # pragma: no cover - the with block returns


# -- the table ----------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.1f} ms"


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def report(result: Result) -> list[str]:  # noqa: PLR0915 - one table, row by row
    rows = [r for r in result.rows if r[4] != -2] or result.rows
    unsent = len(result.rows) - len(rows)
    sends = sorted(r[2] for r in rows)
    first_send, last_send = sends[0], sends[-1]
    window = max(last_send - first_send, 1e-9)
    ok_rows = [r for r in rows if 200 <= r[4] < 300]
    answers = sorted(r[3] for r in rows if r[4] > 0 or r[4] == -1)
    statuses = Counter(
        (r[4], r[5] if isinstance(r[5], str) else "") for r in rows if not 200 <= r[4] < 300
    )
    late = sum(1 for r in rows if r[1] > LATE_MS)
    last_answer = max(r[2] + r[3] / 1000 for r in rows)
    accepted_rate = len(ok_rows) / max(last_answer - first_send, 1e-9)
    sent_at = {int(r[5]): float(r[2]) for r in ok_rows if r[5] is not None}

    fates: Counter[str] = Counter()
    to_fill: list[float] = []
    settled_times: list[float] = []
    lost = 0
    pending = 0
    filled = 0
    for alert_id, sent in sent_at.items():
        alert = result.alerts.get(alert_id)
        if alert is None:
            lost += 1
            continue
        if alert["status"] == "PENDING":
            pending += 1
            continue
        status = alert["status"]
        fates[status if status == "EXECUTED" else f"{status} {alert['reason']}"] += 1
        settled = _wall(alert["settled_at"])
        if settled is not None:
            settled_times.append(settled)
        orders = alert["fate"].get("orders", [])
        coids = [o.get("client_order_id") for o in orders]
        if coids and all(c in result.filled_orders for c in coids) and settled is not None:
            filled += 1
            to_fill.append((settled - sent) * 1000)
    to_fill.sort()
    processed = sum(1 for t in settled_times if t <= last_send)
    backlog = sum(
        1
        for alert_id, sent in sent_at.items()
        if (a := result.alerts.get(alert_id)) is not None
        and ((s := _wall(a["settled_at"])) is None or s > last_send)
        and sent <= last_send
    )
    drain = max(settled_times) - last_send if settled_times else math.nan

    target_answer = ANSWER_P99_MS[result.backend]
    target_fill = FILL_P99_MS.get(result.backend)
    p99 = percentile(answers, 99)
    fill_p99 = percentile(to_fill, 99)
    sustained = result.duration >= TARGET_SECONDS and accepted_rate >= TARGET_RATE * 0.99

    lines = [
        f"webhook, {LABELS[result.backend]}: {result.rate:,.0f} alerts/s offered for "
        f"{result.duration:g} s over {result.connections} keep-alive connections; "
        + (
            "order-rate gate off (--order-rate 0)"
            if result.order_rate == 0
            else f"order-rate gate {result.order_rate}/s (--order-rate)"
        )
        + ("" if result.timed else "; alerts without timenow (--untimed)"),
        f"{'measure':<36} {'value':>16}  {'target':<22} verdict",
    ]

    def row(name: str, value: str, target: str = "", verdict: str = "") -> None:
        lines.append(f"{name:<36} {value:>16}  {target:<22} {verdict}".rstrip())

    row("alerts due", f"{len(result.rows):,}")
    row(f"not sent (no free connection {GIVE_UP:g} s)", f"{unsent:,}")
    row("offered rate", f"{result.rate:,.0f}/s")
    row("achieved send rate", f"{len(rows) / window:,.0f}/s")
    row(
        "accepted (2xx) alerts/s",
        f"{accepted_rate:,.0f}/s",
        f">= {TARGET_RATE:,}/s for {TARGET_SECONDS} s",
        _verdict(sustained),
    )
    row(f"sends late > {LATE_MS:g} ms (pool busy)", f"{late:,}")
    row("answer p50", _ms(percentile(answers, 50)))
    row("answer p99", _ms(p99), f"<= {target_answer:g} ms", _verdict(p99 <= target_answer))
    row("answer max", _ms(answers[-1] if answers else math.nan))
    if statuses:
        for (status, reason), count in sorted(statuses.items()):
            what = {0: "connection errors", -1: f"no answer in {GIVE_UP:g} s"}.get(
                status, f"HTTP {status} {reason}".rstrip()
            )
            row(f"non-2xx: {what}", f"{count:,}")
    else:
        row("non-2xx answers", "0")
    for fate, count in sorted(fates.items()):
        row(f"fate {fate}", f"{count:,}")
    row("filled (order filled, fill booked)", f"{filled:,}")
    row("alert -> booked fill p50", _ms(percentile(to_fill, 50)))
    if target_fill is not None:
        ok = not math.isnan(fill_p99) and fill_p99 <= target_fill
        row("alert -> booked fill p99", _ms(fill_p99), f"<= {target_fill:g} ms", _verdict(ok))
    else:
        row("alert -> booked fill p99", _ms(fill_p99), "(none)")
    row("alert -> booked fill max", _ms(to_fill[-1] if to_fill else math.nan))
    row("processed alerts/s while sending", f"{processed / window:,.0f}/s")
    row("backlog at last send", f"{backlog:,} alerts")
    drained = "" if result.drained else " (timed out)"
    row("drain after last send", f"{drain:,.2f} s{drained}")
    row("stored but not answered 2xx", f"{len(result.alerts) - len(sent_at):,}")
    row("still pending after the drain", f"{pending:,}")
    row("lost (2xx, not in the inbox)", f"{lost:,}", "0", _verdict(lost == 0))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="alerts per second")
    parser.add_argument("--duration", type=float, default=TARGET_SECONDS, help="seconds")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    parser.add_argument(
        "--order-rate",
        type=int,
        default=0,
        help="the demo account's and bot's order-rate gate, orders/s (0: off; serve's default 10)",
    )
    parser.add_argument(
        "--untimed", action="store_true", help="alerts without timenow (the windowed dedupe)"
    )
    parser.add_argument("--drain-timeout", type=float, default=300, help="seconds")
    parser.add_argument("--quick", action="store_true", help="50 alerts/s for 3 s (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.duration, args.drain_timeout = 50, 3, 60
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(LABELS)
    if unknown or not backends:
        parser.error(f"--backends: expected sqlite and/or postgres, got {args.backends!r}")
    for n, backend in enumerate(backends):
        result = run_backend(backend, args)
        if n:
            print()
        print("\n".join(report(result)), flush=True)


if __name__ == "__main__":
    main()
