"""Dashboard page loads: each page of a real demo desk, signed in, in Debian's Chromium
(headless, driven by Playwright). DESIGN/issue 7 target: every page loads in under 1 s.

A page counts as loaded when its module has filled it from the API (``body[data-ready]``),
timed from navigation start. Each page is loaded ``--rounds`` times; the table gives the median
and the worst. Prints one table. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from algodesk.entrypoints.web import PAGES
from algodesk.testing.browser import CHROMIUM_ARGS, chromium_path
from algodesk.testing.desk_server import ADMIN_PASSWORD, Server

TARGET_MS = 1000.0


def measure(base: str, rounds: int) -> dict[str, list[float]]:
    try:
        chromium = chromium_path()
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    times: dict[str, list[float]] = {p.path: [] for p in PAGES}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        page = browser.new_page()
        page.goto(f"{base}/login")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("body[data-ready]")
        for _ in range(rounds):
            for path, found in times.items():
                start = time.perf_counter()
                page.goto(f"{base}{path}")
                page.wait_for_selector("body[data-ready]", timeout=30_000)
                found.append((time.perf_counter() - start) * 1000)
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="loads per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        desk = Server(Path(tmp), "--order-rate", "0").start()
        try:
            times = measure(desk.base, args.rounds)
        finally:
            desk.stop()
    print(f"dashboard page loads, demo desk, {args.rounds} rounds (target < {TARGET_MS:,.0f} ms)")
    print(f"{'page':<14}{'median ms':>12}{'worst ms':>12}{'of target':>12}")
    for path, found in times.items():
        worst = max(found)
        print(
            f"{path:<14}{statistics.median(found):>12,.0f}{worst:>12,.0f}"
            f"{worst / TARGET_MS:>11.0%} {'MET' if worst < TARGET_MS else 'NOT MET'}"
        )


if __name__ == "__main__":
    main()
