"""``algodesk serve``: the desk over HTTP, with the paper exchange and the demo feed."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from algodesk.bootstrap import (
    DatabaseNotReadyError,
    StorageUnavailableError,
    init_storage,
    open_desk,
)
from algodesk.bootstrap.tuning import tune_gc, tune_switching
from algodesk.entrypoints.cli.options import DatabaseUrl, DataDir, fail, settings_from_options
from algodesk.services.backlog import DEFAULT_LIMIT as DEFAULT_BACKLOG_LIMIT

if TYPE_CHECKING:
    from fastapi import FastAPI

    from algodesk.bootstrap.runtime import DeskRuntime, RuntimeOptions
    from algodesk.config import Settings

__all__ = ["addresses", "serve"]

_LOCAL = frozenset({"127.0.0.1", "localhost", "::1"})


def serve(
    data_dir: DataDir = None,
    database_url_opt: DatabaseUrl = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    behind_proxy: Annotated[
        bool,
        typer.Option(
            "--behind-proxy",
            help="Listen beyond localhost without TLS: a TLS-terminating proxy stands in front.",
        ),
    ] = False,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(help="A proxy address whose X-Forwarded-For is believed (repeatable)."),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    order_rate: Annotated[
        int,
        typer.Option(
            min=0,
            help="Orders per second for the demo account paper, and the demo bot when first made "
            "(0: no rate gate); limits set over the API win.",
        ),
    ] = 10,
    feed_speed: Annotated[
        float, typer.Option(min=0.01, help="Speed of the demo replay feed (1: real time).")
    ] = 1.0,
    alert_backlog: Annotated[
        float,
        typer.Option(
            min=0.1,
            max=3600,
            help="Seconds: a TradingView alert the desk expects to execute later than this (or "
            "than half its hook's max lag) is refused with 503 desk_behind, not stored.",
        ),
    ] = DEFAULT_BACKLOG_LIMIT.total_seconds(),
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "warning",
) -> None:
    """Start the desk: SQLite (or PostgreSQL), the paper exchange, a demo account and bot, a
    replay feed of demo marks, the TradingView webhook and the API."""
    if host not in _LOCAL and not behind_proxy and not (tls_cert and tls_key):
        raise fail(
            f"refusing to listen on {host} without TLS: give --tls-cert and --tls-key, or "
            "--behind-proxy when a TLS-terminating proxy stands in front"
        )
    if (tls_cert is None) != (tls_key is None):
        raise fail("give both --tls-cert and --tls-key, or neither")
    # Imported here: every other command starts faster without the server and the runtime.
    import uvicorn  # noqa: PLC0415

    from algodesk.bootstrap.runtime import RuntimeOptions  # noqa: PLC0415
    from algodesk.entrypoints.api.app import create_app  # noqa: PLC0415
    from algodesk.entrypoints.api.edge import RequestIdFilter  # noqa: PLC0415

    options = RuntimeOptions(
        order_rate=order_rate or None,
        feed_speed=feed_speed,
        alert_backlog=timedelta(seconds=alert_backlog),
        calendars_in_child=True,  # the server's process stays free of pandas
    )
    runtime = _loaded(settings_from_options(data_dir, database_url_opt), options)
    desk = runtime.desk
    hook = runtime.prepare_demo()
    given = os.environ.get("ALGODESK_ADMIN_PASSWORD") or None
    password = runtime.ensure_admin(given)
    scheme = "https" if tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown}:{port}"
    if password is not None and given is None:
        typer.echo("created user admin; its password is shown this once:")
        typer.echo(f"  {password}")
    elif password is not None:  # the operator's own secret is never echoed
        typer.echo("created user admin with the password in $ALGODESK_ADMIN_PASSWORD")
    app = create_app(runtime, trusted_proxies=trusted_proxy or (), manage_runtime=True)
    for line in addresses(base, app, hook.token, desk.url):
        typer.echo(line)
    # Logging before the start: it warns of calendars that end soon (declare the next year).
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # every line carries its request's id
        handler.addFilter(RequestIdFilter())
    tune_gc()  # what start-up loaded lives as long as the process
    tune_switching()  # the web server's loop gets its turns sooner
    runtime.start(feed=runtime.demo_feed())
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            access_log=False,
            # The desk reads X-Forwarded-For itself, and only from --trusted-proxy addresses;
            # uvicorn's own handling would believe it from any local client.
            proxy_headers=False,
        )
    finally:
        runtime.stop()
        desk.close()


def _loaded(settings: Settings, options: RuntimeOptions) -> DeskRuntime:
    """The desk's runtime, its state rebuilt from storage (what it rebuilt is printed); a
    clear error, not a traceback, for a database it cannot open or a journal it cannot read."""
    from algodesk.bootstrap.runtime import DeskRuntime  # noqa: PLC0415
    from algodesk.services.exits import UnreadableExitPlanError  # noqa: PLC0415

    try:
        init_storage(settings, start_new_inbox=False)  # a lost inbox file: said, not replaced
        desk = open_desk(settings)
    except StorageUnavailableError as exc:
        raise fail(str(exc)) from None
    try:
        runtime = DeskRuntime(desk, options, secret_key=os.environ.get("ALGODESK_SECRET_KEY"))
    except (ValueError, DatabaseNotReadyError) as exc:  # a bad key, sessions.toml, the inbox
        desk.close()
        raise fail(str(exc)) from None
    try:
        typer.echo(runtime.load())
    except UnreadableExitPlanError as exc:  # a damaged journal
        desk.close()
        raise fail(str(exc)) from None
    return runtime


def addresses(base: str, app: FastAPI, token: str, database: str) -> list[str]:
    """The lines ``serve`` prints for where things are: the dashboard, the API docs (or why
    there are none), the demo bot's webhook and the database (its URL without a password)."""
    missing = getattr(app.state, "docs_missing", None)
    docs = f"{base}/docs" if missing is None else f"none here ({missing}; reinstall algodesk)"
    return [
        f"dashboard:     {base}/",
        f"API docs:      {docs}",
        f"demo webhook:  {base}/webhooks/tradingview/{token}",
        f"database:      {database}",
    ]
