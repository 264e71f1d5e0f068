"""Options and helpers shared by the command groups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from algodesk.bootstrap import (
    DatabaseNotReadyError,
    Desk,
    StorageUnavailableError,
    open_desk,
)
from algodesk.config import Settings

__all__ = ["DataDir", "DatabaseUrl", "desk_from_options", "fail", "settings_from_options"]

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="ALGODESK_DATA_DIR",
        help="Directory for the SQLite database and other state "
        "\\[default: $XDG_DATA_HOME/algodesk or ~/.local/share/algodesk].",
        show_default=False,
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="ALGODESK_DATABASE_URL",
        help="A postgresql:// URL to use PostgreSQL instead of SQLite in the data directory.",
        show_default=False,
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings_from_options(data_dir: Path | None, database_url_opt: str | None) -> Settings:
    values: dict[str, object] = {}
    if data_dir is not None:
        values["data_dir"] = data_dir
    if database_url_opt:
        values["database_url"] = database_url_opt
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise fail(f"invalid settings: {problems}") from None


@contextmanager
def desk_from_options(data_dir: Path | None, database_url_opt: str | None) -> Iterator[Desk]:
    settings = settings_from_options(data_dir, database_url_opt)
    try:
        desk = open_desk(settings)
    except (DatabaseNotReadyError, StorageUnavailableError) as exc:
        raise fail(str(exc)) from None
    try:
        yield desk
    finally:
        desk.close()
