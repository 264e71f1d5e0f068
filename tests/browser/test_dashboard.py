"""The dashboard in a real browser, from the trader's side: sign in, watch a fill arrive live,
use the kill switch through its confirmation, and check that a viewer cannot trade."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Route, expect

from algodesk.testing.desk_server import ADMIN_PASSWORD, ALGODESK, Server
from tests.browser.conftest import ARTIFACTS, PHONE, Watched, add_user, sign_in

pytestmark = pytest.mark.xdist_group("browser")

PAGES = ["/", "/positions", "/bots", "/alerts", "/risk", "/ledger", "/backtests"]


def test_signing_in_opens_the_overview_and_every_page_renders_without_errors(
    watched: Watched, desk: Server
) -> None:
    page = watched.page
    page.goto(f"{desk.base}/positions")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fpositions"))
    page.get_by_label("Username").fill("admin")
    watched.allow(r"status of 401 \(Unauthorized\)")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    # After signing in, only a page of this site: never an address that a browser would read
    # as another site's.
    page.goto(f"{desk.base}/login?next=/%5Cexample.org/x")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{desk.base}/")
    page.wait_for_selector("body[data-ready]")
    sign_in(page, desk)
    expect(page.get_by_text("admin (admin)")).to_be_visible()
    for path in PAGES:
        page.goto(f"{desk.base}{path}")
        page.wait_for_selector("body[data-ready]")
        expect(page.locator("h1")).to_be_visible()
        watched.screenshot(path.strip("/") or "overview")
    page.goto(f"{desk.base}/")
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#f-equity")).to_contain_text("USD")
    # Plotly is compiled after the page is shown; on a busy machine that takes seconds.
    expect(page.locator("#equity-chart .main-svg").first).to_be_visible(timeout=30_000)
    expect(page.locator("#feeds")).to_contain_text("AAPL.PAPER")


def test_the_overview_shows_its_figures_without_waiting_for_the_chart_library(
    watched: Watched, desk: Server
) -> None:
    page = watched.page
    held: list[Route] = []

    def hold(route: Route) -> None:  # the request is held: the bundle does not arrive yet
        held.append(route)

    page.route("**/vendor/plotly.min.js", hold)  # (Playwright cannot take a bound method)
    sign_in(page, desk)
    expect(page.locator("#f-equity")).to_contain_text("USD")
    expect(page.locator("#equity-chart .main-svg")).to_have_count(0)
    assert len(held) == 1, "the chart library is asked for once"
    held[0].continue_()
    expect(page.locator("#equity-chart .main-svg").first).to_be_visible(timeout=30_000)


def test_a_chart_library_that_fails_to_load_is_reported_and_asked_for_again(
    watched: Watched, desk: Server
) -> None:
    page = watched.page
    watched.allow(r"Failed to load resource")
    page.route("**/vendor/plotly.min.js", lambda route: route.abort())
    sign_in(page, desk)
    expect(page.locator("#toasts")).to_contain_text("The chart library could not be loaded.")
    expect(page.locator("#f-equity")).to_contain_text("USD")
    page.unroute("**/vendor/plotly.min.js")
    page.get_by_label("Account", exact=True).dispatch_event("change")  # drawn again
    expect(page.locator("#equity-chart .main-svg").first).to_be_visible(timeout=30_000)


def test_a_fill_appears_live_after_a_webhook_alert(watched: Watched, desk: Server) -> None:
    page = watched.page
    sign_in(page, desk)
    page.goto(f"{desk.base}/positions")
    page.wait_for_selector("body[data-ready]")
    page.evaluate("window.stillHere = true")
    answer = httpx.post(desk.base + desk.webhook_path, content="BUY NVDA 7", timeout=5)
    assert answer.status_code == 200, answer.text
    fills = page.locator("#fills")
    expect(fills.locator("tr", has_text="NVDA.PAPER").filter(has_text="BUY")).to_have_count(
        1, timeout=10_000
    )
    expect(page.locator("#positions")).to_contain_text("NVDA.PAPER")
    assert page.evaluate("window.stillHere") is True  # no reload: the stream brought it
    watched.screenshot("after-fill")
    page.goto(f"{desk.base}/alerts")
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#alerts")).to_contain_text("executed")
    page.get_by_role("button", name=re.compile(r"Show alert")).first.click()
    expect(page.locator("#alert-body")).to_have_text("BUY NVDA 7")
    page.keyboard.press("Escape")


def test_an_alerts_stop_loss_and_take_profit_show_on_the_positions_page(
    watched: Watched, desk: Server
) -> None:
    page = watched.page
    sign_in(page, desk)
    page.goto(f"{desk.base}/positions")
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#exits")).to_contain_text("No stop-loss, take-profit or trailing stop")
    alert = {"action": "buy", "symbol": "BTCUSD", "qty": "0.01", "sl": "20%", "tp": "20%"}
    answer = httpx.post(desk.base + desk.webhook_path, json=alert, timeout=5)
    assert answer.status_code == 200, answer.text
    row = page.locator("#exits tr", has_text="BTCUSD.PAPER")
    expect(row).to_contain_text("armed", timeout=10_000)  # the stream brought it
    exits = httpx.get(f"{desk.base}/api/v1/exits", headers=desk.login(), timeout=5).json()
    (shown,) = [x for x in exits["exits"] if x["instrument"] == "BTCUSD.PAPER"]
    expect(row).to_contain_text("long")
    for level in (shown["stop_loss"], shown["take_profit"]):
        expect(row).to_contain_text(f"{int(Decimal(level)):,}")  # as the page groups digits
    watched.screenshot("exits")


def test_a_trader_creates_a_bot_sees_its_webhook_then_starts_and_pauses_it(
    watched: Watched, desk: Server
) -> None:
    password = "trader-password-123"
    add_user(desk, "tina", "trader", password)
    page = watched.page
    sign_in(page, desk, "tina", password)
    page.goto(f"{desk.base}/bots")
    page.wait_for_selector("body[data-ready]")
    page.get_by_label("Name").fill("swing")
    page.get_by_label("Allocation").fill("20000")
    page.get_by_label(re.compile("Symbol map")).fill("AAPL=AAPL.PAPER")
    page.get_by_role("button", name="Create bot").click()
    created = page.locator("#bot-created")
    expect(created).to_contain_text("Bot swing created.")
    url = created.locator("code.url").inner_text()
    assert re.fullmatch(rf"{re.escape(desk.base)}/webhooks/tradingview/\S+", url), url
    expect(created.locator("pre")).to_contain_text("{{strategy.order.action}}")
    row = page.locator("#bots tr", has_text="swing")
    expect(row).to_contain_text("CREATED")
    row.get_by_role("button", name="Start swing").click()
    expect(row).to_contain_text("RUNNING")
    # The new bot's webhook takes an alert as shown on the page.
    answer = httpx.post(url, content="BUY AAPL 1", timeout=5)
    assert answer.status_code == 200, answer.text
    row.get_by_role("button", name="Pause swing").click()
    expect(row).to_contain_text("PAUSED")
    expect(row.get_by_role("button", name="Resume swing")).to_be_visible()
    row.get_by_role("button", name="Details of swing").click()
    expect(page.locator("#bot-history")).to_contain_text("pause")
    watched.screenshot("bots")
    bot = httpx.get(f"{desk.base}/api/v1/bots/swing", headers=desk.login(), timeout=5).json()
    assert bot["status"] == "PAUSED"
    assert [h["action"] for h in bot["history"]][-2:] == ["start", "pause"]


def test_a_viewer_sees_the_desk_but_has_no_trading_controls(watched: Watched, desk: Server) -> None:
    password = "viewer-password-123"
    add_user(desk, "watcher", "viewer", password)
    httpx.post(desk.base + desk.webhook_path, content="BUY AAPL 2", timeout=5)
    page = watched.page
    sign_in(page, desk, "watcher", password)
    expect(page.get_by_text("watcher (viewer)")).to_be_visible()
    expect(page.get_by_role("button", name="Kill switch")).to_be_hidden()
    page.goto(f"{desk.base}/positions")
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#positions")).to_contain_text("AAPL.PAPER", timeout=10_000)
    expect(page.get_by_role("button", name=re.compile("^Close"))).to_have_count(0)
    # The API refuses the viewer even when the page is bypassed.
    watched.allow(r"status of 403 \(Forbidden\)")
    status = page.evaluate(
        """async () => {
            const token = JSON.parse(sessionStorage.getItem("algodesk.session")).access;
            const r = await fetch("/api/v1/positions/close", {method: "POST",
              headers: {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"},
              body: JSON.stringify({account: "paper", instrument: "AAPL.PAPER"})});
            return r.status;
        }"""
    )
    assert status == 403
    watched.screenshot("viewer")


def test_an_idle_session_is_signed_out(watched: Watched, desk: Server) -> None:
    page = watched.page
    sign_in(page, desk)
    page.evaluate("sessionStorage.setItem('algodesk.active', String(Date.now() - 31 * 60000))")
    page.goto(f"{desk.base}/ledger")
    expect(page).to_have_url(re.compile(r"/login\?reason=idle"))
    expect(page.locator("#login-note")).to_contain_text("without activity")
    assert page.evaluate("sessionStorage.getItem('algodesk.session')") is None


def test_pages_fit_a_phone_and_the_menu_opens_from_the_keyboard(
    watched: Watched, desk: Server
) -> None:
    page = watched.page
    page.set_viewport_size(PHONE)
    page.goto(f"{desk.base}/login")
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type("e2e-admin-password-123")
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-ready]")
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    menu.focus()
    page.keyboard.press("Enter")
    expect(nav).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways: {width} px"
    watched.screenshot("phone")


@pytest.fixture
def halted_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("kill"), "--order-rate", "0").start()
    yield running
    running.stop()


def test_the_kill_switch_asks_for_confirmation_then_halts_and_flattens(
    halted_desk: Server, watched: Watched
) -> None:
    desk = halted_desk
    assert httpx.post(desk.base + desk.webhook_path, content="BUY AAPL 3", timeout=5).is_success
    page = watched.page
    sign_in(page, desk)
    page.goto(f"{desk.base}/positions")
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#positions")).to_contain_text("AAPL.PAPER", timeout=10_000)
    kill = page.get_by_role("button", name="Kill switch")
    kill.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#state-badge")).to_have_text("ACTIVE")
    kill.click()
    dialog.get_by_label(re.compile("Reason")).fill("browser test")
    watched.screenshot("kill-confirm")
    dialog.get_by_role("button", name="Halt and flatten").click()
    expect(page.locator("#state-badge")).to_have_text("HALTED", timeout=10_000)
    expect(page.locator("#positions")).to_contain_text("No open positions", timeout=10_000)
    headers = desk.login()
    states = httpx.get(f"{desk.base}/api/v1/trading-state", headers=headers, timeout=5).json()
    assert set(states["accounts"].values()) == {"HALTED"}
    denied = httpx.post(
        f"{desk.base}/api/v1/orders",
        headers=headers,
        json={"account": "paper", "instrument": "AAPL.PAPER", "side": "BUY", "quantity": "1"},
        timeout=5,
    ).json()
    assert denied["ok"] is False
    watched.screenshot("halted")


NVDA = Path(__file__).resolve().parents[3] / "shared" / "data" / "nvda-1999-2014.txt"


@pytest.fixture
def desk_with_bars(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("bars")
    made = subprocess.run(
        [ALGODESK, "init", "--data-dir", str(data_dir)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    imported = subprocess.run(
        [ALGODESK, "data", "import", str(NVDA), "--symbol", "NVDA.XNAS", "--timeframe", "1d",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    running = Server(data_dir, "--order-rate", "0").start()
    yield running
    running.stop()


@pytest.mark.slow
def test_a_backtest_started_from_the_page_shows_progress_then_opens_its_report(
    desk_with_bars: Server, watched: Watched
) -> None:
    desk = desk_with_bars
    page = watched.page
    sign_in(page, desk)
    page.goto(f"{desk.base}/backtests")
    page.wait_for_selector("body[data-ready]")
    page.get_by_label("Strategy").select_option("sma_cross")
    page.get_by_label("Bars").select_option("NVDA.XNAS|1d")
    page.get_by_label(re.compile("Parameters")).fill("fast=10 slow=20")
    page.get_by_role("button", name="Run backtest").click()
    runs = page.locator("#backtests")
    expect(runs).to_contain_text("sma_cross")
    # Progress, or already done on a fast machine.
    expect(runs.locator("td", has_text=re.compile(r"queued|starting|%|done"))).to_have_count(1)
    report = runs.get_by_role("button", name=re.compile("Open the report"))
    expect(report).to_be_visible(timeout=90_000)
    watched.screenshot("backtests")
    with page.context.expect_page() as opened:
        report.click()
    tab = opened.value
    tab.wait_for_load_state()
    expect(tab).to_have_url(re.compile(r"/backtests/\w+/report\?ticket="))
    expect(tab.locator(".plotly-graph-div").first).to_be_visible(timeout=20_000)
    tab.screenshot(path=ARTIFACTS / "backtest-report.png", full_page=True)
    print(f"screenshot: {(ARTIFACTS / 'backtest-report.png').resolve()}")


def test_the_api_docs_render_from_the_desk_alone(watched: Watched, desk: Server) -> None:
    """Swagger UI comes from the desk (no CDN: this machine has no internet), under a content
    security policy that lets only its own inline script run: any violation is a console
    error, which fails the test."""
    page = watched.page
    off_site: list[str] = []
    page.on(
        "request",
        lambda r: off_site.append(r.url) if not r.url.startswith(desk.base) else None,
    )
    page.goto(f"{desk.base}/docs")
    expect(page.get_by_text("/webhooks/tradingview/{token}").first).to_be_visible()
    expect(page.get_by_text("/api/v1/orders").first).to_be_visible()
    watched.screenshot("api-docs")
    assert off_site == []


def test_a_loss_under_half_a_cent_shows_as_zero_not_minus_zero(
    watched: Watched, desk: Server
) -> None:
    page = watched.page
    page.goto(f"{desk.base}/login")
    shown = page.evaluate(
        """async () => {
            const ui = await import("/static/js/ui.js");
            const s = (t) => { const n = ui.signed(t); return [n.textContent, n.className]; };
            return [ui.num("-0.0001"), s("-0.0001"), s("-0.005"), s("0.004"), s("12.5")];
        }"""
    )
    assert shown == ["0", ["0", ""], ["-0.01", "neg"], ["0", ""], ["12.5", "pos"]]


def test_the_ledger_page_reconciles_on_demand_and_lists_each_difference(
    watched: Watched, desk: Server
) -> None:
    page = watched.page
    sign_in(page, desk)
    answer = httpx.post(desk.base + desk.webhook_path, content="BUY NVDA 3", timeout=5)
    assert answer.status_code == 200, answer.text
    page.goto(f"{desk.base}/ledger")
    page.wait_for_selector("body[data-ready]")
    page.get_by_role("button", name="Reconcile").click()
    status = page.locator("#reconcile")
    expect(status).to_contain_text("Reconciled: ", timeout=10_000)
    expect(status).to_have_class("ok")
    found = httpx.get(
        f"{desk.base}/api/v1/ledger/reconcile", headers=desk.login(), timeout=5
    ).json()
    fills, orders = found["fills"], found["orders"]
    counted = f"{fills} fill{'' if fills == 1 else 's'}, {orders} order{'' if orders == 1 else 's'}"
    expect(status).to_contain_text(counted)
    expect(page.locator("#differences li")).to_have_count(0)
    difference = {
        "kind": "NOT_WORKING_AT_VENUE",
        "account": "paper",
        "subject": "ORD1",
        "message": "order ORD1 is ACCEPTED here, PAPER has no such working order",
    }
    disagreeing = {**found, "ok": False, "differences": [difference]}
    page.route("**/api/v1/ledger/reconcile", lambda route: route.fulfill(json=disagreeing))
    page.get_by_role("button", name="Reconcile").click()
    expect(status).to_contain_text("1 difference: ")
    expect(status).to_have_class("error")
    expect(page.locator("#differences li")).to_have_text(
        [f"NOT_WORKING_AT_VENUE (paper, ORD1): {difference['message']}"]
    )
    watched.screenshot("reconcile")
