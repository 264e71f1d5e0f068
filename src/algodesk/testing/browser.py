"""Debian's Chromium for the dashboard's browser tests and benchmark, driven by Playwright.

Playwright never downloads a browser here: it launches the system's ``chromium`` (installed by
``make browser-setup``) by ``executable_path`` with :data:`CHROMIUM_ARGS`.
"""

from __future__ import annotations

import shutil

__all__ = ["CHROMIUM_ARGS", "chromium_path"]

#: Headless on a machine without a network beyond loopback: no sandbox as root, and none of the
#: background connections Chromium would otherwise try (and log as failures).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str:
    """The installed Chromium; raises with the fix when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("Debian's chromium is not installed: run `make browser-setup`")
    return found
