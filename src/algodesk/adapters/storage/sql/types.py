"""Column types that keep money exact and time in UTC on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from algodesk.domain.values import canonical_decimal, canonical_utc, to_decimal

__all__ = ["ExactDecimal", "UtcDateTime", "parse_utc_text"]


class ExactDecimal(TypeDecorator[Decimal]):
    """``NUMERIC`` (unbounded, exact) on PostgreSQL; canonical decimal text on SQLite, whose
    NUMERIC affinity would turn values into binary floats."""

    impl = sa.String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(asdecimal=True))
        return dialect.type_descriptor(sa.String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = to_decimal(value)  # refuses floats
        if dialect.name == "postgresql":
            return exact
        return canonical_decimal(exact)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        return Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """``timestamptz`` on PostgreSQL; ISO text to the microsecond on SQLite. Always UTC-aware."""

    impl = sa.String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        return dialect.type_descriptor(sa.String(32))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, was {value!r}")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return canonical_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return parse_utc_text(str(value))


_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TEXT_LENGTH = len("2026-01-05T09:15:00.250000Z")


def parse_utc_text(text: str) -> datetime:
    """A time as SQLite holds it (``%Y-%m-%dT%H:%M:%S.%fZ``), UTC-aware. ``fromisoformat``
    reads it some 30 times faster than ``strptime``, which is kept for text of another shape
    (it refuses what does not match the format)."""
    if len(text) == _TEXT_LENGTH and text[-1] == "Z" and text[10] == "T":
        return datetime.fromisoformat(text)  # 'Z': UTC-aware
    return datetime.strptime(text, _TEXT_FORMAT).replace(tzinfo=UTC)
