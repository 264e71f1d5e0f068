"""Settings, read at the edge: environment variables (``ALGODESK_*``) and command-line options.

Unknown fields are refused, so a misspelt option fails at start instead of being ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/algodesk``, else ``~/.local/share/algodesk``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "algodesk"


class Settings(BaseSettings):
    """Where the desk keeps its state.

    ``database_url`` (``ALGODESK_DATABASE_URL``) selects PostgreSQL, e.g.
    ``postgresql://user:password@host/algodesk``; when unset the desk uses SQLite in WAL mode at
    ``<data_dir>/algodesk.db``.
    """

    model_config = SettingsConfigDict(env_prefix="ALGODESK_", extra="forbid", frozen=True)

    data_dir: Path = default_data_dir()
    database_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError(
                "expected a sqlite:// or postgresql:// URL, was "
                f"{value.split(':', 1)[0]!r}:// (only SQLite and PostgreSQL are supported)"
            )
        return value
