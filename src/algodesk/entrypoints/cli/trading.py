"""``algodesk order``, ``halt``, ``resume`` and ``flatten``: trading on the running desk, over
its API (the same calls, roles and gates as the dashboard and any other client)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from algodesk.entrypoints.cli.client import (
    DEFAULT_URL,
    AccountOpt,
    AsJson,
    DeskClient,
    DeskUrl,
    Token,
    User,
    client_from_options,
    segment,
)
from algodesk.entrypoints.cli.options import fail

__all__ = ["flatten", "halt", "order_app", "resume"]

order_app = typer.Typer(help="Orders on the running desk (over its API).", no_args_is_help=True)

ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the journal).")]


def _outcome(answer: dict[str, Any], as_json: bool) -> None:
    """Print an engine outcome; a refusal exits 1 with its code and message."""
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
    else:
        status = "accepted" if answer.get("ok") else f"refused {answer.get('code')}"
        order = answer.get("client_order_id") or ""
        typer.echo(f"{status} {order} {answer.get('message') or ''}".rstrip())
    if not answer.get("ok"):
        raise typer.Exit(1)


@order_app.command("submit")
def order_submit(
    account: Annotated[str, typer.Argument(help="The account (paper for the demo).")],
    instrument: Annotated[str, typer.Argument(help="SYMBOL.VENUE, e.g. AAPL.PAPER.")],
    side: Annotated[str, typer.Argument(help="BUY or SELL.")],
    quantity: Annotated[str, typer.Argument(help="A decimal quantity.")],
    order_type: Annotated[
        str, typer.Option("--type", help="MARKET, LIMIT, STOP or STOP_LIMIT.")
    ] = "MARKET",
    price: Annotated[str | None, typer.Option(help="The limit price.")] = None,
    trigger: Annotated[str | None, typer.Option(help="The stop's trigger price.")] = None,
    tif: Annotated[str, typer.Option(help="DAY, IOC or GTC.")] = "DAY",
    bot: Annotated[str | None, typer.Option(help="Book it to this bot.")] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="An idempotency key: the same key never trades twice (no ':' in it; the "
            "desk derives its own keys with one)."
        ),
    ] = None,
    as_json: AsJson = False,
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Submit an order through every risk gate; prints its outcome (exit 1 when refused)."""
    body: dict[str, Any] = {
        "account": account,
        "instrument": instrument,
        "side": side.upper(),
        "order_type": order_type.upper(),
        "quantity": quantity,
        "time_in_force": tif.upper(),
    }
    optional = {"price": price, "trigger_price": trigger, "bot": bot, "idempotency_key": key}
    body.update({k: v for k, v in optional.items() if v is not None})
    client = client_from_options(url, token, user)
    _outcome(client.call("POST", "/api/v1/orders", body), as_json)


@order_app.command("cancel")
def order_cancel(
    client_order_id: Annotated[str, typer.Argument(help="The order's client order id.")],
    as_json: AsJson = False,
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Cancel a working order (cancels are never blocked by the gates)."""
    client = client_from_options(url, token, user)
    _outcome(client.call("DELETE", f"/api/v1/orders/{segment(client_order_id)}"), as_json)


@order_app.command("list")
def order_list(
    account: AccountOpt = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only working orders.")] = False,
    as_json: AsJson = False,
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """The latest orders, newest first."""
    query = f"?open_only={'true' if open_only else 'false'}"
    if account:
        query += f"&account={segment(account)}"
    found = client_from_options(url, token, user).call("GET", f"/api/v1/orders{query}")
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for o in found["orders"]:
        price = o["price"] or o["trigger_price"] or ""
        typer.echo(
            f"{o['client_order_id']:<24} {o['status']:<10} {o['side']:<4} {o['quantity']:>10} "
            f"{o['instrument']:<16} {o['order_type']:<10} {price}"
        )
    if not found["orders"]:
        typer.echo("no orders")


def _accounts(client: DeskClient, account: str | None) -> list[str]:
    """Every account, or the one named: a typo is an error, never a no-op that looks done."""
    known = list(client.call("GET", "/api/v1/accounts")["accounts"])
    if account is not None and account not in known:
        raise fail(f"no account {account!r}; the desk has {', '.join(known) or 'none'}", 1)
    return [account] if account else known


def _set_state(state: str, account: str | None, reason: str, client: DeskClient) -> None:
    refused = False
    for name in _accounts(client, account):
        body = {"account": name, "state": state, "reason": reason}
        answer = client.call("POST", "/api/v1/trading-state", body)
        if answer.get("ok"):
            typer.echo(f"{name}: {state}")
        else:
            refused = True
            typer.echo(f"{name}: refused {answer.get('code')}: {answer.get('message')}", err=True)
    if refused:
        raise typer.Exit(1)


def halt(
    account: AccountOpt = None,
    reason: ReasonOpt = "halted from the command line",
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Set trading to HALTED (new orders denied; cancels and flatten still work). Admin."""
    _set_state("HALTED", account, reason, client_from_options(url, token, user))


def resume(
    account: AccountOpt = None,
    reason: ReasonOpt = "resumed from the command line",
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Set trading back to ACTIVE. Admin."""
    _set_state("ACTIVE", account, reason, client_from_options(url, token, user))


def flatten(
    account: AccountOpt = None,
    instrument: Annotated[
        str | None, typer.Option(help="Only this instrument \\[default: every position].")
    ] = None,
    kill: Annotated[
        bool,
        typer.Option("--kill", help="The kill switch: halt every account, then flatten all."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    reason: ReasonOpt = "flattened from the command line",
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Cancel working orders and close positions at market (or one instrument's).

    With --kill: the kill switch, which halts every account and flattens everything."""
    if kill and (account or instrument):
        raise fail("--kill halts and flattens every account; drop --account and --instrument")
    client = client_from_options(url, token, user)
    what = "HALT every account and flatten everything" if kill else "close positions at market"
    if not yes and not typer.confirm(f"{what}?"):
        raise typer.Exit(1)
    if kill:
        asked = client.call("POST", "/api/v1/kill-switch", {"reason": reason})
        done = client.call("POST", "/api/v1/kill-switch/confirm", {"confirm": asked["confirm"]})
        _outcome(done, as_json=False)
        return
    closed, refused = 0, False
    for name in _accounts(client, account):
        q = segment(name)
        held = {
            p["instrument"]
            for p in client.call("GET", f"/api/v1/positions?account={q}")["positions"]
        }
        working = {
            o["instrument"]
            for o in client.call("GET", f"/api/v1/orders?open_only=true&limit=1000&account={q}")[
                "orders"
            ]
        }
        for iid in sorted(held | working):
            if instrument and iid != instrument:
                continue
            answer = client.call(
                "POST", "/api/v1/positions/close", {"account": name, "instrument": iid}
            )
            closed += 1
            refused |= not answer.get("ok")
            typer.echo(f"{name} {iid}: {answer.get('message') or 'closing'}")
    if not closed:
        typer.echo("nothing to flatten: no open positions or working orders")
    if refused:
        raise typer.Exit(1)
