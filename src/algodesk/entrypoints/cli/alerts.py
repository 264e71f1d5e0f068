"""``algodesk alerts``: what an alert message would do, before you paste it into TradingView."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from algodesk.bootstrap import DatabaseNotReadyError
from algodesk.entrypoints.cli.options import DatabaseUrl, DataDir, desk_from_options, fail

__all__ = ["alerts_app"]

alerts_app = typer.Typer(help="TradingView alerts.", no_args_is_help=True)


@alerts_app.command("explain")
def explain(
    file: Annotated[Path, typer.Argument(help="A file holding the alert message ('-': stdin).")],
    bot: Annotated[str, typer.Option("--bot", help="The bot whose webhook it is for.")],
    data_dir: DataDir = None,
    database_url_opt: DatabaseUrl = None,
) -> None:
    """Parse an alert message and show the orders it would make, without executing anything.

    Prints ``{"accepted", "reason", "message", "orders"}`` as JSON; exits 1 if not accepted.
    The body secret and the alert's age are checked by the webhook only.
    """
    try:
        body = typer.get_binary_stream("stdin").read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    # Imported here: the runtime wires the whole desk, which other commands do not need.
    from algodesk.bootstrap.runtime import DeskRuntime  # noqa: PLC0415

    with desk_from_options(data_dir, database_url_opt) as desk:
        try:
            runtime = DeskRuntime(desk)
        except DatabaseNotReadyError as exc:  # its alert inbox file lost: `algodesk init`
            raise fail(str(exc)) from None
        answer = runtime.explain(bot, body)
    typer.echo(json.dumps(answer.as_dict(), indent=2))
    if not answer.accepted:
        raise typer.Exit(1)
