"""``/docs``: the API's interactive documentation (Swagger UI), served by the desk itself.

FastAPI's own page loads Swagger UI from a CDN, so on a desk without internet access (or behind
a strict proxy) it stayed blank. Here the page loads the Swagger UI files shipped in the
``fastapi-swagger`` package (Swagger UI 5, which reads the OpenAPI 3.1 spec FastAPI writes)
from ``/vendor/swagger-ui/<version>/``: a new version is a new address, so browsers never mix
a cached old file with a new page. The page's one inline script is allowed by its SHA-256 in
the page's content security policy (the desk's own, see :data:`.edge.CSP`); nothing else
inline runs. Below a ``root_path`` (the desk mounted in another ASGI app, or uvicorn's
``root_path``) the page's addresses carry it.

The package's own ``patch_fastapi`` is not used: it reads the 1 MB bundle on every request,
sets no content security policy and no caching, and redirects ``/``, the dashboard's page.

The docs are not worth the desk: if the package's files are missing (or the desk's policy has
no ``script-src 'self'`` to add the page's hash to), the desk starts without ``/docs`` and
says why.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from algodesk.entrypoints.api.edge import CSP
from algodesk.entrypoints.api.errors import refusal

__all__ = ["mount_docs"]

_log = logging.getLogger("algodesk.api")

_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
_INLINE = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_SCRIPTS = "script-src 'self';"  # the directive of the desk's policy the hashes go into


def _swagger_files() -> tuple[Path, str]:
    """Where the installed ``fastapi_swagger`` package keeps Swagger UI (found, not imported),
    and the package's version."""
    spec = find_spec("fastapi_swagger")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the fastapi-swagger package is not installed")
    folder = Path(spec.origin).parent / "resources"
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"Swagger UI files missing from {folder}: {', '.join(missing)}")
    try:
        return folder, version("fastapi-swagger")
    except PackageNotFoundError:  # pragma: no cover - found above
        return folder, "0"


def _policy(page: bytes) -> str:
    """The desk's content security policy, its scripts also allowed by the hashes of the
    page's inline scripts."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
        for s in _INLINE.findall(page)
    )
    return CSP.replace(_SCRIPTS, f"script-src 'self'{hashes};", 1)


def mount_docs(app: FastAPI, path: str = "/docs") -> str | None:
    """Add ``path`` (the page) and ``/vendor/swagger-ui/<version>/*`` (its files) to
    ``app``, which must be made with ``docs_url=None``: None, or why there are no docs
    (logged too)."""
    if _SCRIPTS not in CSP:  # the edge's policy changed shape: the page's script would not run
        reason = f"the desk's content security policy has no {_SCRIPTS!r} for the page's script"
        _log.error("no API docs at %s: %s", path, reason)
        return reason
    try:
        folder, release = _swagger_files()
    except FileNotFoundError as exc:
        _log.warning("no API docs at %s: %s; reinstall algodesk to have them", path, exc)
        return str(exc)
    assets = f"/vendor/swagger-ui/{release}"

    @functools.lru_cache(maxsize=8)  # by root path: a desk has one
    def page_for(root: str) -> tuple[bytes, str]:
        html = bytes(
            get_swagger_ui_html(
                openapi_url=root + (app.openapi_url or "/openapi.json"),
                title=f"{app.title} - API",
                swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{assets}/swagger-ui.css",
                swagger_favicon_url=f"{root}{assets}/favicon-32x32.png",
            ).body
        )
        return html, _policy(html)

    async def docs(request: Request) -> HTMLResponse:
        html, policy = page_for(request.scope.get("root_path", "").rstrip("/"))
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})

    async def asset(name: str) -> Response:
        kind = _FILES.get(name)
        if kind is None:
            return refusal(404, "not_found", f"no file {name!r} in Swagger UI {release}")
        return FileResponse(
            folder / name, media_type=kind, headers={"Cache-Control": "public, max-age=86400"}
        )

    both = ["GET", "HEAD"]
    app.add_api_route(path, docs, methods=both, include_in_schema=False)
    app.add_api_route(f"{assets}/{{name}}", asset, methods=both, include_in_schema=False)
    return None
