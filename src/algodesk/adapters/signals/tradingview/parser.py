"""The parser: guards on the raw bytes, the sniff, then a dialect and the shared fields.

Guards, in order: more than :data:`MAX_BODY_BYTES` is TOO_LARGE; not UTF-8 is BAD_ENCODING;
a UTF-8 byte-order mark and surrounding whitespace are dropped; nothing left is NO_INSTRUCTION;
any ``{{`` left is UNRESOLVED_PLACEHOLDER, naming the token. Then a body starting with ``{``
or ``[`` is strict JSON (:mod:`.json_dialect`), anything else one of the text dialects
(:mod:`.text_dialect`); both give fields that :mod:`.envelope` and :mod:`.intent` read.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from algodesk.adapters.signals.tradingview.envelope import read_timenow, take_secret
from algodesk.adapters.signals.tradingview.errors import Reject, show
from algodesk.adapters.signals.tradingview.fields import Fields, check_placeholders, flatten
from algodesk.adapters.signals.tradingview.intent import read_intent
from algodesk.adapters.signals.tradingview.json_dialect import load_objects
from algodesk.adapters.signals.tradingview.redact import inside, redact_text, secret_spans
from algodesk.adapters.signals.tradingview.text_dialect import FORMS, read_text
from algodesk.domain.signals import AlertReason, AlertRejection, Intent, ParsedAlert

__all__ = ["MAX_BODY_BYTES", "TradingViewParser", "parse_alert"]

MAX_BODY_BYTES: Final = 65536
_PLACEHOLDER: Final = re.compile(r"\{\{[^{}\n]{0,60}\}\}|\{\{[^\n]{0,30}")
_JSON_SPACE: Final = frozenset(" \t\n\r")


class TradingViewParser:
    """The :class:`~algodesk.ports.signals.AlertParser` for TradingView alert bodies."""

    def parse(self, body: bytes, *, secret_field: str = "secret") -> ParsedAlert | AlertRejection:  # noqa: S107
        return parse_alert(body, secret_field=secret_field)

    def redact(self, body: bytes, *, secret_field: str = "secret") -> str:  # noqa: S107
        return redact_text(body.decode("utf-8", errors="replace"), secret_field)


def parse_alert(body: bytes, *, secret_field: str = "secret") -> ParsedAlert | AlertRejection:  # noqa: S107
    """``body`` → intents, or the reason it is refused. Never raises."""
    try:
        return _parse(body, secret_field)
    except Reject as exc:
        return AlertRejection(exc.reason, exc.message, exc.secret, exc.secret_read)


def _parse(body: bytes, secret_field: str) -> ParsedAlert:
    if len(body) > MAX_BODY_BYTES:
        raise Reject(
            AlertReason.TOO_LARGE,
            f"expected a body of at most {MAX_BODY_BYTES} bytes, found {len(body)}",
        )
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Reject(
            AlertReason.BAD_ENCODING,
            f"expected UTF-8 text, found the byte 0x{body[exc.start]:02x} at offset {exc.start}",
        ) from None
    raw = raw.removeprefix("\ufeff")
    text = raw.strip()
    if not text:
        raise Reject(
            AlertReason.NO_INSTRUCTION,
            "an empty message: no instruction, nothing placed (an empty alert_message?)",
        )
    _refuse_placeholders(text, secret_field)
    if text[0] in "{[":
        lead = raw[: len(raw) - len(raw.lstrip())]
        # keep JSON whitespace in front so line and column numbers match the body
        json_text = lead + text if set(lead) <= _JSON_SPACE else text
        return _read(
            "json", [flatten(o) for o in load_objects(json_text, secret_field)], secret_field
        )
    dialect, fields = read_text(text)
    return _read(dialect, [fields], secret_field)


def _refuse_placeholders(text: str, secret_field: str) -> None:
    found = _PLACEHOLDER.search(text)
    if found is None:
        return
    if inside(secret_spans(text, secret_field), found.start(), found.end()):
        token = "in the secret field (not shown)"  # noqa: S105 - a message
    else:
        token = show(found.group(), 64)
    raise Reject(
        AlertReason.UNRESOLVED_PLACEHOLDER,
        f"unresolved placeholder {token}: expected TradingView to substitute every {{{{...}}}} "
        "(an unknown name, or text from alert() / alert_message, is left as written)",
    )


def _read(dialect: str, items: list[Fields], secret_field: str) -> ParsedAlert:
    intents: list[Intent] = []
    secrets: set[str] = set()
    times: dict[datetime, int] = {}
    # Every item's secret first: one item may carry it for all, and a later item's fault must
    # not hide it (a refusal reports what it read, so the hook's secret is checked first).
    fault: tuple[int, Reject] | None = None
    for n, fields in enumerate(items, 1):
        try:
            secret = take_secret(fields, secret_field)
        except Reject as exc:  # (read the others' secrets: the one read is checked first)
            fault = fault or (n, exc)
            continue
        if secret is not None:
            secrets.add(secret)
    if fault is not None:
        known = next(iter(secrets), None) if len(secrets) == 1 else None
        raise _in_item(fault[1], fault[0], items, dialect, known, read=known is not None)
    if len(secrets) > 1:
        raise Reject(AlertReason.AMBIGUOUS, "the items carry different secrets: expected one")
    known = next(iter(secrets), None)
    for n, fields in enumerate(items, 1):
        try:
            check_placeholders(fields)
            timenow = read_timenow(fields)
            intents.append(read_intent(fields))
        except Reject as exc:
            raise _in_item(exc, n, items, dialect, known, read=True) from None
        if timenow is not None:
            times.setdefault(timenow, n)
    if len(times) > 1:
        shown = ", ".join(f"item {n}: {t.isoformat()}" for t, n in times.items())
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"different firing times ({shown}): expected one",
            known,
            secret_read=True,
        )
    return ParsedAlert(
        intents=tuple(intents),
        dialect=dialect,
        timenow=next(iter(times), None),
        secret=next(iter(secrets), None),
    )


def _in_item(
    exc: Reject, n: int, items: list[Fields], dialect: str, secret: str | None, *, read: bool
) -> Reject:
    """``exc`` said of item ``n`` (and of the dialect's form), with the body's secret."""
    where = f"item {n}: " if len(items) > 1 else ""
    form = FORMS.get(dialect)
    tail = f" (the {dialect} form is {form})" if form and form not in exc.message else ""
    return Reject(exc.reason, f"{where}{exc.message}{tail}", secret, secret_read=read)
