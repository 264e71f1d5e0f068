"""``/docs``: the API's interactive documentation (Swagger UI), served by the desk itself.

FastAPI's own page loads Swagger UI from a CDN, so on a desk without internet access (or behind
a strict proxy) it stayed blank. Here the page loads the Swagger UI files shipped in the
``fastapi-swagger`` package (Swagger UI 5, which reads the OpenAPI 3.1 spec FastAPI writes)
from ``/vendor/swagger-ui/``. The page's one inline script is allowed by its SHA-256 in the
page's own content security policy; nothing else inline runs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

__all__ = ["mount_docs"]

_ASSETS = "/vendor/swagger-ui"
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
_INLINE = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _swagger_dir() -> Path:
    """Where the installed ``fastapi_swagger`` package keeps Swagger UI (found, not imported)."""
    spec = find_spec("fastapi_swagger")
    if spec is None or spec.origin is None:
        raise RuntimeError("the fastapi-swagger package is not installed; reinstall algodesk")
    return Path(spec.origin).parent / "resources"


def _policy(page: bytes) -> str:
    """The page's content security policy: the desk's own, with its inline scripts' hashes."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
        for s in _INLINE.findall(page)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def mount_docs(app: FastAPI, path: str = "/docs") -> None:
    """Add ``path`` (the page) and ``/vendor/swagger-ui/*`` (its files) to ``app``, which
    must be made with ``docs_url=None``."""
    folder = _swagger_dir()
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"Swagger UI files missing from {folder}: {', '.join(missing)}")
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - API",
        swagger_js_url=f"{_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{_ASSETS}/favicon-32x32.png",
    ).body
    policy = _policy(bytes(page))

    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    async def asset(name: str) -> Response:
        kind = _FILES.get(name)
        if kind is None:
            return Response(status_code=404)
        return FileResponse(
            folder / name, media_type=kind, headers={"Cache-Control": "public, max-age=86400"}
        )

    app.add_api_route(path, docs, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{_ASSETS}/{{name}}", asset, methods=["GET"], include_in_schema=False)
