"""Properties of the SQL column types: a time written to SQLite reads back as the same instant,
UTC-aware, exactly as the ``strptime`` reader it replaced read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given

from algodesk.adapters.storage.sql.types import UtcDateTime, parse_utc_text
from tests.property.times import AWARE_TIMES

_SQLITE = sa.create_engine("sqlite://").dialect
_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@given(AWARE_TIMES)
def test_a_time_reads_back_as_the_same_utc_instant(when: datetime) -> None:
    column = UtcDateTime()
    text = column.process_bind_param(when, _SQLITE)
    back = column.process_result_value(text, _SQLITE)
    assert back == when
    assert back is not None
    assert back.utcoffset() == timedelta(0)
    assert back == datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
    assert text == when.astimezone(UTC).strftime(_FORMAT)  # the text strftime wrote


@pytest.mark.parametrize(
    "text", ["2026-01-05 09:15:00", "2026-01-05T09:15:00.250000", "2026-01-05T09:15:00+05:30"]
)
def test_text_not_in_the_stored_format_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="does not match format"):
        parse_utc_text(text)
