"""One alert's fields: normalised names → (name as written, value), shared by every dialect.

JSON objects are flattened (``{"stopLoss": {"percent": 2}}`` is the field ``stoplosspercent``,
shown as ``stopLoss.percent``); KEY=VALUE text and the positional dialects build the same
mapping. Two names that normalise alike (``stopLoss`` and ``stop_loss``) are AMBIGUOUS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

from algodesk.adapters.signals.tradingview.errors import JsonValue, Reject, show, show_value
from algodesk.adapters.signals.tradingview.numbers import is_sentinel
from algodesk.adapters.signals.tradingview.vocabulary import (
    normalise_key,
    normalise_word,
)
from algodesk.domain.signals import AlertReason

__all__ = [
    "MAX_DEPTH",
    "Field",
    "Fields",
    "agree",
    "check_placeholders",
    "flatten",
    "from_pairs",
    "present",
    "word",
]

MAX_DEPTH: Final = 8
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Field:
    key: str  # as written, for messages: "stopLoss.percent", "qty", "field 3"
    value: JsonValue


Fields = dict[str, Field]


def from_pairs(pairs: Iterable[tuple[str, JsonValue]]) -> Fields:
    """Fields from (name, value) pairs, refusing two names that normalise alike."""
    out: Fields = {}
    for key, value in pairs:
        _put(out, normalise_key(key), key, value)
    return out


def flatten(obj: Mapping[str, JsonValue]) -> Fields:
    """Fields of a JSON object; nested objects join their names (at most MAX_DEPTH deep)."""
    out: Fields = {}
    _walk(obj, "", "", out, 1)
    return out


def _walk(obj: Mapping[str, JsonValue], norm: str, raw: str, out: Fields, depth: int) -> None:
    for key, value in obj.items():
        name = f"{raw}.{key}" if raw else key
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                raise Reject(
                    AlertReason.BAD_VALUE,
                    f"{show(name)}: objects nested deeper than {MAX_DEPTH} levels",
                )
            _walk(value, norm + normalise_key(key), name, out, depth + 1)
        else:
            _put(out, norm + normalise_key(key), name, value)


def _put(out: Fields, norm: str, key: str, value: JsonValue) -> None:
    before = out.get(norm)
    if before is not None:
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"{show(before.key)} and {show(key)} are the same field: expected it once",
        )
    out[norm] = Field(key, value)


_CLOSING: Final = re.compile(r"\S{0,30}\}\}")


def check_placeholders(fields: Fields) -> None:
    """A ``}}`` left in a name or a value (the ``{{`` were refused earlier, on the whole
    body). Runs after the secrets are taken out, so a secret is never quoted."""
    for field in fields.values():
        texts = [field.key]
        if isinstance(field.value, str):
            texts.append(field.value)
        elif isinstance(field.value, list):
            texts.extend(v for v in field.value if isinstance(v, str))
        for text in texts:
            found = _CLOSING.search(text)
            if found is not None:
                raise Reject(
                    AlertReason.UNRESOLVED_PLACEHOLDER,
                    f"{show(field.key)}: unresolved placeholder {show(found.group())}: expected "
                    "TradingView to substitute every {{...}}",
                )


def agree(
    found: Iterable[tuple[Field, T]], what: str, fmt: Callable[[T], str] | None = None
) -> T | None:
    """The one value several fields give for ``what``; AMBIGUOUS when two differ."""
    first: tuple[Field, T] | None = None
    for field, value in found:
        if first is None:
            first = (field, value)
        elif value != first[1]:
            one = fmt(first[1]) if fmt else show_value(first[0].value)
            two = fmt(value) if fmt else show_value(field.value)
            raise Reject(
                AlertReason.AMBIGUOUS,
                f"{what}: {show(first[0].key)} says {one} but {show(field.key)} says {two}: "
                f"expected one {what}",
            )
    return None if first is None else first[1]


def present(fields: Fields, names: Iterable[str]) -> list[Field]:
    """The fields of ``names`` the alert has, in the order of ``names``."""
    return [fields[name] for name in names if name in fields]


def word(field: Field, expected: str) -> str:
    """A word field's value, normalised; BAD_VALUE when empty, ``na`` or not text."""
    if is_sentinel(field.value) or not isinstance(field.value, str):
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{show(field.key)} {show_value(field.value)}: expected {expected}",
        )
    return normalise_word(field.value)
