"""Serves the dashboard's pages, its static modules and Plotly's JavaScript.

The pages carry no data: each is a shell (navigation, headings, empty tables with labels) and
an ES module that signs in against ``/api/v1`` and fills it. Plotly's bundle is served from the
installed ``plotly`` package, so the dashboard needs no CDN and no JavaScript build; a page loads it
when it first draws a chart (``plotly()`` in ``static/js/ui.js``), never before it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from algodesk import __version__

__all__ = ["PAGES", "Page", "mount_dashboard"]

_HERE = Path(__file__).parent


def _plotly_js() -> Path:
    """plotly.min.js as shipped in the installed ``plotly`` package (found, not imported)."""
    spec = find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package is not installed; reinstall algodesk")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    path: str
    title: str


#: The pages, in navigation order.
PAGES: tuple[Page, ...] = (
    Page("overview", "/", "Overview"),
    Page("positions", "/positions", "Positions & orders"),
    Page("bots", "/bots", "Bots"),
    Page("alerts", "/alerts", "Alerts"),
    Page("risk", "/risk", "Risk"),
    Page("ledger", "/ledger", "Ledger"),
    Page("backtests", "/backtests", "Backtests"),
)


def mount_dashboard(app: FastAPI, *, idle_minutes: int = 30) -> None:
    """Add the pages, ``/static`` and ``/vendor/plotly.min.js`` to ``app``.

    ``idle_minutes``: a signed-in browser that sees no keyboard, pointer or touch input for
    this long is signed out (its tokens are dropped).
    """
    templates = Jinja2Templates(directory=_HERE / "templates")
    plotly_path = _plotly_js()
    common = {"pages": PAGES, "version": __version__, "idle_minutes": idle_minutes}

    def route(page: Page) -> None:
        async def show(request: Request) -> HTMLResponse:
            return templates.TemplateResponse(
                request, f"{page.name}.html", {**common, "page": page}
            )

        app.add_api_route(
            page.path, show, methods=["GET"], include_in_schema=False, name=f"page_{page.name}"
        )

    for page in PAGES:
        route(page)

    async def login(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "login.html", {**common, "page": None})

    async def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_path,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.add_api_route("/login", login, methods=["GET"], include_in_schema=False)
    app.add_api_route("/vendor/plotly.min.js", plotly_js, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
