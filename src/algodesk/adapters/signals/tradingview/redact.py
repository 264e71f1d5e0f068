"""Where the secrets are in a body, and the body with them replaced by ``***``.

Works on the text, not on a parse, so it also covers bodies that do not parse: a JSON pair
``"<name>": <value>`` (a string, even an unterminated one with garbage up to the next ``,``
``}`` ``]`` or line end; a list; an object; a bare token) and a KEY=VALUE entry (the value runs
to the next ``; KEY=`` / ``, KEY=`` or the line end, so a secret holding ``,`` is covered).
``<name>`` is the hook's secret field or any known secret name (:func:`is_secret_name`),
compared like every field name (:func:`normalise_key`). Over-redaction is preferred to a leak.
"""

from __future__ import annotations

import json
import re
from typing import Final

from algodesk.adapters.signals.tradingview.vocabulary import is_secret_name, normalise_key

__all__ = ["MASK", "inside", "redact_text", "secret_spans"]

MASK: Final = "***"

_JSON_KEY: Final = re.compile(r'"(?P<key>(?:[^"\\\n]|\\.){1,200})"\s*:\s*')
_JSON_VALUE: Final = re.compile(
    r'"(?:[^"\\\n]|\\.)*"?[^,}\]\n]*'  # a string, maybe broken, and what sticks to it
    r"|\[[^\]\n]*\]?"
    r"|\{[^}\n]*\}?"
    r"|[^,}\]\s]+"
)
_KV_KEY: Final = re.compile(r"(?m)(?:^|(?<=[;,]))[ \t]*(?P<key>[A-Za-z_][\w.\-]{0,100})[ \t]*=")
_KV_END: Final = re.compile(r"[;,][ \t]*[A-Za-z_][\w.\-]{0,100}[ \t]*=|\n")


def _is_secret(raw_key: str, secret_norm: str) -> bool:
    try:
        key = json.loads(f'"{raw_key}"')
    except ValueError:
        key = raw_key
    norm = normalise_key(key if isinstance(key, str) else raw_key)
    return norm == secret_norm or is_secret_name(norm)


def secret_spans(text: str, secret_field: str = "secret") -> list[tuple[int, int]]:  # noqa: S107
    """The (start, end) of every secret value in ``text``, in order, not overlapping."""
    secret_norm = normalise_key(secret_field)
    spans: list[tuple[int, int]] = []
    for m in _JSON_KEY.finditer(text):
        if _is_secret(m["key"], secret_norm):
            value = _JSON_VALUE.match(text, m.end())
            if value is not None:
                spans.append((m.end(), m.end() + len(value.group().rstrip())))
    for m in _KV_KEY.finditer(text):
        if _is_secret(m["key"], secret_norm):
            end = _KV_END.search(text, m.end())
            stop = end.start() if end is not None else len(text)
            start = m.end() + (len(text[m.end() : stop]) - len(text[m.end() : stop].lstrip()))
            spans.append((start, max(start, len(text[:stop].rstrip()))))
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) touches a secret span."""
    return any(start < s_end and s_start < end for s_start, s_end in spans)


def redact_text(text: str, secret_field: str = "secret") -> str:  # noqa: S107
    """``text`` with every secret value replaced by ``***`` (``"***"`` when it was quoted)."""
    out: list[str] = []
    at = 0
    for start, end in secret_spans(text, secret_field):
        out.append(text[at:start])
        out.append(f'"{MASK}"' if text.startswith('"', start) else MASK)
        at = end
    out.append(text[at:])
    return "".join(out)
