"""A small client of the running desk's API, for the commands that act on a live desk
(``algodesk bots``, ``algodesk risk``).

Where and as whom: ``--url`` (``$ALGODESK_URL``, default ``http://127.0.0.1:8000``), and
either ``--token`` (``$ALGODESK_TOKEN``: an access token or an API key) or ``--user``
(``$ALGODESK_USER``) with the password in ``$ALGODESK_PASSWORD`` or asked for. Tokens and
passwords are sent, never printed.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import typer

from algodesk.entrypoints.cli.options import fail

__all__ = [
    "DEFAULT_URL",
    "AccountOpt",
    "AsJson",
    "DeskClient",
    "DeskUrl",
    "Token",
    "User",
    "client_from_options",
    "segment",
]

DeskUrl = Annotated[
    str,
    typer.Option("--url", envvar="ALGODESK_URL", help="The desk's address."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="ALGODESK_TOKEN",
        help="An access token or API key (ak_…).",
        show_default=False,
        show_envvar=True,
    ),
]
User = Annotated[
    str | None,
    typer.Option(
        "--user",
        envvar="ALGODESK_USER",
        help="Sign in as this user (password from $ALGODESK_PASSWORD, or asked for).",
        show_default=False,
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
AccountOpt = Annotated[
    str | None, typer.Option("--account", help="One account \\[default: every account].")
]


def segment(value: str) -> str:
    """``value`` as one path segment."""
    return quote(value, safe="")


@dataclass
class DeskClient:
    base: str
    token: str

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        """The JSON answer; a 4xx/5xx or an unreachable desk exits with its message."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in client_from_options
            self.base + path, data=data, method=method
        )
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                raw = answer.read()
            try:
                return json.loads(raw or b"null")
            except ValueError:
                raise fail(
                    f"{method} {path}: the answer is not JSON; is {self.base} an algodesk desk?", 1
                ) from None
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read())
                message = f"{detail.get('reason', exc.code)}: {detail.get('message', '')}"
                problems = detail.get("problems") or []
                message += "".join(f"\n  {p['where']}: {p['problem']}" for p in problems)
            except (ValueError, AttributeError, KeyError, TypeError):
                message = f"HTTP {exc.code}"
            raise fail(f"{method} {path}: {message}", 1) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise fail(f"cannot reach the desk at {self.base}: {reason}", 1) from None


def _login(base: str, user: str, password: str) -> str:
    anonymous = DeskClient(base, "")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the caller
        base + "/api/v1/auth/login",
        data=json.dumps({"username": user, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return str(json.loads(answer.read())["access_token"])
    except urllib.error.HTTPError as exc:
        raise fail(f"cannot sign in as {user}: HTTP {exc.code}", 1) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise fail(f"cannot reach the desk at {anonymous.base}: {reason}", 1) from None


def client_from_options(url: str, token: str | None, user: str | None) -> DeskClient:
    base = url.rstrip("/")
    parts = urlsplit(base)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.netloc) and parts.port != 0
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        raise fail(f"--url: expected http://HOST:PORT or https://…, was {url!r}")
    if token:
        return DeskClient(base, token)
    if user:
        password = os.environ.get("ALGODESK_PASSWORD") or typer.prompt(
            f"password for {user}", hide_input=True
        )
        return DeskClient(base, _login(base, user, password))
    raise fail("say who you are: --token (or $ALGODESK_TOKEN), or --user (or $ALGODESK_USER)")
