"""The calendar port: when a venue trades. Backed by a maintained calendar library plus the
dated session table shipped with algodesk (adapters/feeds/calendars)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Protocol

from algodesk.domain.identifiers import Venue
from algodesk.domain.market.sessions import Session

__all__ = ["CalendarUnavailableError", "Calendars", "MarketCalendar", "UnknownVenueError"]


class CalendarUnavailableError(LookupError):
    """The calendar cannot answer: no calendar for the venue, or a date outside the range its
    holiday data covers. Callers fail closed (the market counts as closed)."""


class UnknownVenueError(CalendarUnavailableError):
    """No calendar is configured for a venue."""


class MarketCalendar(Protocol):
    """One venue's (or segment's) sessions; every time in and out is timezone-aware UTC."""

    @property
    def name(self) -> str: ...

    @property
    def timezone(self) -> str:
        """The exchange's IANA time zone, e.g. ``Asia/Kolkata``."""
        ...

    def session(self, day: date) -> Session | None:
        """The session on ``day`` (exchange-local date), or ``None`` on a holiday or weekend."""
        ...

    def is_open(self, at: datetime) -> bool:
        """Whether continuous trading is on at ``at``."""
        ...

    def next_open(self, at: datetime) -> datetime:
        """The first session open strictly after ``at``."""
        ...

    def trading_day(self, at: datetime) -> date:
        """The session date ``at`` counts towards: today's session while it has not closed,
        else the next session's date (a daily counter resets at that boundary)."""
        ...

    def at(self, day: date, local: time) -> datetime:
        """The UTC instant of exchange-local wall time ``local`` on ``day`` (DST-aware)."""
        ...

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session with ``start <= day <= end``."""
        ...


class Calendars(Protocol):
    def for_venue(self, venue: Venue) -> MarketCalendar:
        """The calendar of ``venue``; raises :class:`UnknownVenueError` when none is set."""
        ...
