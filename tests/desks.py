"""The wired desk the API tests run against: storage initialised in a temp dir, the demo
account and bot, an admin, and a password hasher fast enough for tests."""

from __future__ import annotations

from pathlib import Path

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.bootstrap import init_storage, open_desk
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.services.backlog import AlertBacklog

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
