"""The ``algodesk`` command line."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated

import typer

from algodesk import __version__
from algodesk.bootstrap import (
    StorageUnavailableError,
    database_url,
    init_storage,
    redact_url,
)
from algodesk.domain.identifiers import AccountId
from algodesk.domain.ledger.verify import ChainHead
from algodesk.entrypoints.cli import ledger_views
from algodesk.entrypoints.cli.alerts import alerts_app
from algodesk.entrypoints.cli.backtest import backtest, sweep
from algodesk.entrypoints.cli.bots import bots_app, risk_app
from algodesk.entrypoints.cli.calendars import calendar_app
from algodesk.entrypoints.cli.client import (
    DEFAULT_URL,
    AsJson,
    DeskUrl,
    Token,
    User,
    client_from_options,
)
from algodesk.entrypoints.cli.instruments import instruments_app
from algodesk.entrypoints.cli.market import data_app
from algodesk.entrypoints.cli.options import (
    DatabaseUrl,
    DataDir,
    desk_from_options,
    fail,
    settings_from_options,
)
from algodesk.entrypoints.cli.serve import serve
from algodesk.entrypoints.cli.trading import flatten, halt, order_app, resume
from algodesk.services.demo import seed_demo

__all__ = ["app", "main"]

app = typer.Typer(
    name="algodesk",
    help="A self-hosted trading desk: risk-checked orders and a hash-chained ledger.",
    no_args_is_help=True,
    add_completion=False,
)
ledger_app = typer.Typer(
    help="Inspect and verify the ledger, and reconcile it with the desk's orders and venues.",
    no_args_is_help=True,
)
demo_app = typer.Typer(help="The demo account shown by `make run`.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(demo_app, name="demo")
app.add_typer(data_app, name="data")
app.add_typer(instruments_app, name="instruments")
app.add_typer(calendar_app, name="calendar")
app.command()(serve)
app.add_typer(alerts_app, name="alerts")
app.add_typer(bots_app, name="bots")
app.add_typer(risk_app, name="risk")
app.add_typer(order_app, name="order")
app.command("halt")(halt)
app.command("resume")(resume)
app.command("flatten")(flatten)
app.command()(backtest)
app.command()(sweep)


@app.command()
def version() -> None:
    """Print the algodesk version."""
    typer.echo(f"algodesk {__version__}")


@app.command()
def init(data_dir: DataDir = None, database_url_opt: DatabaseUrl = None) -> None:
    """Create the data directory and the database, and run the migrations (safe to repeat).

    On SQLite it also prepares the alert inbox file beside the database
    (algodesk-inbox.db), moving an older desk's alerts into it, and starts a
    new one if it was lost (its pending alerts are then lost: restore it from
    a backup first to keep them)."""
    settings = settings_from_options(data_dir, database_url_opt)
    url = redact_url(database_url(settings))
    try:
        revision = init_storage(settings)
    except StorageUnavailableError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"algodesk initialised: {url} (schema revision {revision})")


_ANCHOR = re.compile(r"^(?P<account>[^=]+)=(?P<seq>[1-9][0-9]*):(?P<hash>[0-9a-f]{12,64})$")


def _anchors(values: list[str]) -> dict[AccountId, ChainHead]:
    anchors: dict[AccountId, ChainHead] = {}
    for value in values:
        match = _ANCHOR.match(value.strip())
        if match is None:
            raise fail(
                f"--expect-head: expected ACCOUNT=SEQ:HASH, SEQ from 1 and at least 12 hex "
                f"digits of the hash (as `ledger verify` prints it), was {value!r}"
            )
        anchors[AccountId(match["account"])] = ChainHead(int(match["seq"]), match["hash"])
    return anchors


@ledger_app.command("verify")
def ledger_verify(
    data_dir: DataDir = None,
    database_url_opt: DatabaseUrl = None,
    expect_head: Annotated[
        list[str] | None,
        typer.Option(
            "--expect-head",
            metavar="ACCOUNT=SEQ:HASH",
            help="A head printed by an earlier verify and kept outside the database; the "
            "ledger must still hold that entry with that hash. Repeat per account.",
        ),
    ] = None,
) -> None:
    """Check the hash chain, the balance of every entry and the FIFO booking.

    Exits 1 and names the first bad entry of each account when anything is wrong.
    """
    anchors = _anchors(expect_head or [])
    with desk_from_options(data_dir, database_url_opt) as desk:
        report = desk.ledger.verify(anchors)
    if report.ok:
        typer.echo(
            f"OK: {report.entries} entries in {report.accounts} accounts; chain, balances and "
            "FIFO booking verified."
        )
        for account_id, head in sorted(report.heads.items(), key=lambda kv: kv[0].value):
            typer.echo(f"  {account_id}: head #{head.seq} {head.hash}")
        typer.echo(
            "Keep these heads outside the database and pass them back with --expect-head "
            "ACCOUNT=SEQ:HASH to detect a rewritten ledger."
        )
        return
    typer.echo(f"FAILED: {len(report.problems)} problem(s) in {report.entries} entries.")
    for problem in report.problems:
        typer.echo(f"  {problem}")
    raise typer.Exit(1)


@ledger_app.command("reconcile")
def ledger_reconcile(
    as_json: AsJson = False,
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Ask the running desk whether its orders, fills and ledger agree with each other and
    with the paper exchange's book (nothing is changed). Exits 1 when anything differs."""
    found = client_from_options(url, token, user).call("GET", "/api/v1/ledger/reconcile")
    venues = ", ".join(f"{v}: {n['working']} working" for v, n in found["venues"].items())
    lines = [
        f"{'OK' if found['ok'] else 'DIFFERENCES'}: {found['fills']} fills, {found['orders']} "
        f"orders" + (f"; {venues}" if venues else ""),
        *(
            f"  {d['kind']} {d['account']} {d['subject']}: {d['message']}"
            for d in found["differences"]
        ),
    ]
    if found["venues_not_listed"]:
        unlisted = ", ".join(found["venues_not_listed"])
        lines.append(f"  not compared (they cannot list their orders): {unlisted}")
    typer.echo(json.dumps(found, indent=2) if as_json else "\n".join(lines))
    if not found["ok"]:
        raise typer.Exit(1)


@ledger_app.command("show")
def ledger_show(
    data_dir: DataDir = None,
    database_url_opt: DatabaseUrl = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    limit: Annotated[int, typer.Option(min=0, help="Entries to list per account.")] = 20,
) -> None:
    """List the latest entries and each account's balances."""
    with desk_from_options(data_dir, database_url_opt) as desk:
        ledger_views.show(desk.ledger, account, limit)


@demo_app.command("seed")
def demo_seed(data_dir: DataDir = None, database_url_opt: DatabaseUrl = None) -> None:
    """Book the demo account's entries (a deposit, a bot allocation, three trades) once."""
    with desk_from_options(data_dir, database_url_opt) as desk:
        new = seed_demo(desk.ledger, datetime.now(UTC))
    typer.echo(f"demo account: {new} new entries" if new else "demo account: already seeded")


def main() -> None:
    app(prog_name="algodesk")


if __name__ == "__main__":  # pragma: no cover
    main()
