"""``algodesk bots`` and ``algodesk risk``: the running desk's bots, limits and breakers,
through its API (see :mod:`algodesk.entrypoints.cli.client`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from algodesk.entrypoints.cli.client import (
    DEFAULT_URL,
    AccountOpt,
    AsJson,
    DeskUrl,
    Token,
    User,
    client_from_options,
    segment,
)
from algodesk.entrypoints.cli.options import fail

__all__ = ["bots_app", "risk_app"]

bots_app = typer.Typer(help="The running desk's bots (over its API).", no_args_is_help=True)
risk_app = typer.Typer(help="The running desk's limits, breakers and exits.", no_args_is_help=True)

Reason = Annotated[str, typer.Option(help="Why (kept in the bot's history).")]


def _print(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=2) if as_json else text)


def _line(bot: dict[str, Any]) -> str:
    symbols = ", ".join(f"{k}={v}" for k, v in sorted(bot["symbol_map"].items())) or "-"
    return (
        f"{bot['id']:<16} {bot['status']:<8} {bot['account']:<10} {bot['venue']:<8} "
        f"{bot['allocation']} {bot['currency']}  {symbols}"
    )


@bots_app.command("list")
def bots_list(
    as_json: AsJson = False, url: DeskUrl = DEFAULT_URL, token: Token = None, user: User = None
) -> None:
    """List the bots with their status, account, venue, allocation and symbols."""
    found = client_from_options(url, token, user).call("GET", "/api/v1/bots")
    _print(found, as_json, "\n".join(_line(b) for b in found["bots"]) or "no bots")


def _symbols(values: list[str]) -> dict[str, str]:
    mapped = {}
    for value in values:
        ticker, sep, instrument = value.partition("=")
        if not sep or not ticker or not instrument:
            raise fail(f"--symbol: expected TICKER=INSTRUMENT (AAPL=AAPL.PAPER), was {value!r}")
        mapped[ticker] = instrument
    return mapped


def _sizing(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    rule, _, amount = value.partition(":")
    field = {"fixed": "quantity", "percent_of_equity": "percent", "risk_percent": "percent"}
    if rule == "target_position" and not amount:
        return {"rule": rule}
    if rule not in field or not amount:
        raise fail(
            "--sizing: expected fixed:QTY, percent_of_equity:PCT, risk_percent:PCT or "
            f"target_position, was {value!r}"
        )
    return {"rule": rule, field[rule]: amount}


@bots_app.command("create")
def bots_create(
    name: Annotated[str, typer.Argument(help="The bot's name (never reused).")],
    allocation: Annotated[str, typer.Option(help="Capital moved from the account's cash.")],
    symbol: Annotated[
        list[str] | None,
        typer.Option(help="TICKER=INSTRUMENT, e.g. AAPL=AAPL.PAPER (repeatable)."),
    ] = None,
    account: Annotated[str, typer.Option(help="The account it trades in.")] = "paper",
    venue: Annotated[str, typer.Option(help="Its venue.")] = "PAPER",
    sizing: Annotated[
        str | None,
        typer.Option(help="fixed:QTY, percent_of_equity:PCT, risk_percent:PCT, target_position."),
    ] = None,
    as_json: AsJson = False,
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Create a bot (status CREATED) and print its TradingView webhook URL, whose token is
    shown this once."""
    client = client_from_options(url, token, user)
    body: dict[str, Any] = {
        "name": name,
        "account": account,
        "venue": venue,
        "allocation": allocation,
        "symbol_map": _symbols(symbol or []),
    }
    if sizing is not None:
        body["sizing"] = _sizing(sizing)
    made = client.call("POST", "/api/v1/bots", body)
    hook_url = client.base + made["webhook"]["path"]
    text = (
        f"created {_line(made['bot'])}\n"
        f"webhook URL (shown once; `algodesk bots rotate {name}` for a new one):\n  {hook_url}"
    )
    _print({**made, "webhook": {**made["webhook"], "url": hook_url}}, as_json, text)


def _lifecycle(action: str) -> None:
    def command(
        name: Annotated[str, typer.Argument(help="The bot.")],
        reason: Reason = "",
        as_json: AsJson = False,
        url: DeskUrl = DEFAULT_URL,
        token: Token = None,
        user: User = None,
    ) -> None:
        client = client_from_options(url, token, user)
        bot = client.call("POST", f"/api/v1/bots/{segment(name)}/{action}", {"reason": reason})
        _print(bot, as_json, _line(bot))

    command.__doc__ = {
        "start": "Start a created bot: it takes entries.",
        "pause": "Pause a running bot: no new entries; its exits still run.",
        "resume": "Resume a paused bot.",
        "stop": "Stop a bot for good and flatten it.",
    }[action]
    bots_app.command(action)(command)


for _action in ("start", "pause", "resume", "stop"):
    _lifecycle(_action)


@bots_app.command("rotate")
def bots_rotate(
    name: Annotated[str, typer.Argument(help="The bot.")],
    as_json: AsJson = False,
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Give the bot a new webhook token (the old one stops working at once); prints the new
    URL this once."""
    client = client_from_options(url, token, user)
    rotated = client.call("POST", f"/api/v1/bots/{segment(name)}/webhook/rotate")
    hook_url = client.base + rotated["webhook"]["path"]
    _print(
        {**rotated, "webhook": {**rotated["webhook"], "url": hook_url}},
        as_json,
        f"new webhook URL for {name} (shown once; the old one no longer works):\n  {hook_url}",
    )


@bots_app.command("delete")
def bots_delete(
    name: Annotated[str, typer.Argument(help="A stopped bot that holds nothing.")],
    as_json: AsJson = False,
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """Delete a stopped bot: its cash returns to the account, its webhook stops working."""
    answer = client_from_options(url, token, user).call("DELETE", f"/api/v1/bots/{segment(name)}")
    _print(answer, as_json, f"deleted {name}")


def _used(entry: dict[str, Any]) -> str:
    limit = entry["limit"]
    return f"{entry['used'] if entry['used'] is not None else '-'} / {limit or 'no limit'}"


def _scope_lines(title: str, usage: dict[str, Any]) -> list[str]:
    lines = [title]
    for key in ("gross_exposure", "net_exposure", "open_positions", "open_orders", "trades_today",
                "orders_last_second", "daily_loss_pct", "drawdown_pct"):  # fmt: skip
        if key in usage:
            lines.append(f"    {key:<20} {_used(usage[key])}")
    for pos in usage["positions"]:
        cap = pos["max_position_qty"] or "no limit"
        lines.append(f"    position {pos['instrument']:<18} {pos['quantity']} / {cap}")
    return lines


@risk_app.command("status")
def risk_status(
    as_json: AsJson = False, url: DeskUrl = DEFAULT_URL, token: Token = None, user: User = None
) -> None:
    """Each account's and bot's limits against their use, and the circuit breakers."""
    client = client_from_options(url, token, user)
    limits = client.call("GET", "/api/v1/limits")
    breakers = client.call("GET", "/api/v1/breakers?limit=10")
    if as_json:
        typer.echo(json.dumps({"limits": limits, "breakers": breakers}, indent=2))
        return
    lines: list[str] = []
    for account in limits["accounts"]:
        state = account["trading_state"]
        if not account["configured"]:
            lines.append(f"account {account['account']} [{state}]: no limits (cannot trade)")
            continue
        lines += _scope_lines(f"account {account['account']} [{state}]", account["usage"])
        for bot in account["bots"]:
            title = f"  bot {bot['bot']} ({bot['status']}) [{bot['trading_state']}]"
            lines += _scope_lines(title, bot["usage"])
    lines.append("breakers:")
    for scope in breakers["scopes"]:
        who = scope["account"] + (f"/{scope['bot']}" if scope["bot"] else "")
        tripped = [b for b in scope["breakers"] if b["tripped"]]
        lines.append(f"  {who}: {scope['state']}")
        lines += [f"    TRIPPED {b['reason']} (resets {b['resets_at']})" for b in tripped]
    if not breakers["scopes"]:
        lines.append("  none configured")
    for trip in breakers["history"]:
        reset = f"reset by {trip['reset_by']}" if trip["reset_by"] else "active"
        lines.append(f"  trip {trip['tripped_at']} {trip['account']} {trip['kind']} ({reset})")
    typer.echo("\n".join(lines))


def _exit_line(x: dict[str, Any]) -> str:
    who = x["account"] + (f"/{x['bot']}" if x["bot"] else "")
    levels = [
        f"stop {x['stop_loss']}" if x["stop_loss"] else "",
        f"target {x['take_profit']}" if x["take_profit"] else "",
    ]
    if x["trailing"]:
        unit = " %" if x["trailing"]["unit"] == "PERCENT" else ""
        levels.append(f"trailing {x['trailing_stop']} ({x['trailing']['distance']}{unit})")
    state = x["state"]
    if x["denied"]:
        why = x["denied"]
        state = f"DENIED {why['code']} since {why['since']}: {why['message']}"
    return (
        f"{x['entry']:<24} {who:<16} {x['instrument']:<16} {x['direction']} {x['quantity']}  "
        f"{'  '.join(level for level in levels if level)}  [{state}]"
    )


@risk_app.command("exits")
def risk_exits(
    account: AccountOpt = None,
    as_json: AsJson = False,
    url: DeskUrl = DEFAULT_URL,
    token: Token = None,
    user: User = None,
) -> None:
    """The stop-losses, take-profits and trailing stops that guard open positions now, and
    which of them fired and are kept out by the gates (DENIED, with the code)."""
    query = f"?account={segment(account)}" if account else ""
    found = client_from_options(url, token, user).call("GET", f"/api/v1/exits{query}")
    lines = [_exit_line(x) for x in found["exits"]] or ["no exits armed"]
    _print(found, as_json, "\n".join(lines))
