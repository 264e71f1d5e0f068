"""Hypothesis strategies for times, shared by the property suites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

#: Timezone-aware instants from year 1000 (glibc's %Y pads nothing below it) to 9999, in UTC
#: and in India's +05:30.
AWARE_TIMES = st.datetimes(
    min_value=datetime(1000, 1, 2),  # noqa: DTZ001 - made aware by ``timezones``
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
