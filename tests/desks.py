"""The wired desk the API tests run against: storage initialised in a temp dir, the demo
account and bot, an admin, and a password hasher fast enough for tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.bootstrap import init_storage, open_desk
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.services.backlog import AlertBacklog
from algodesk.testing.desk_server import ALGODESK

PASSWORD = "admin-password-123"
FAST_HASHER = Argon2PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def demo_runtime(
    data_dir: Path, admin_password: str | None = PASSWORD, backlog: AlertBacklog | None = None
) -> DeskRuntime:
    """A loaded desk on SQLite in ``data_dir`` with the demo set up and, unless None, an
    ``admin`` with ``admin_password``; close it with ``runtime.desk.close()``."""
    settings = Settings(data_dir=data_dir)
    init_storage(settings)
    runtime = DeskRuntime(open_desk(settings), hasher=FAST_HASHER, backlog=backlog)
    runtime.load()
    runtime.prepare_demo()
    if admin_password is not None:
        runtime.ensure_admin(admin_password)
    return runtime


def refused_serve(data_dir: Path) -> str:
    """Run ``algodesk serve`` on ``data_dir`` expecting it to refuse to start (exit 2, no
    traceback); what it said. A process with a timeout: a serve that started anyway would
    listen until stopped."""
    result = subprocess.run(
        [ALGODESK, "serve", "--data-dir", str(data_dir), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    assert "Traceback" not in said
    return said
