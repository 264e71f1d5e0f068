"""A trading session of one venue on one day, as UTC instants (exchange time lives at the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from algodesk.domain.fills import require_utc

__all__ = ["Session"]


@dataclass(frozen=True, slots=True)
class Session:
    """``day`` is the session's date in the exchange's time zone.

    Continuous trading runs over ``[open, close)``. ``pre_open`` (when the venue has one) is the
    start of the pre-open order-entry phase, which ends at ``open``; orders entered then match at
    the open. ``early_close`` is true when ``close`` is earlier than the venue's regular close.
    """

    day: date
    open: datetime
    close: datetime
    pre_open: datetime | None = None
    early_close: bool = False

    def __post_init__(self) -> None:
        require_utc("Session.open", self.open)
        require_utc("Session.close", self.close)
        if self.close <= self.open:
            raise ValueError(
                f"Session {self.day}: expected open < close, was {self.open} .. {self.close}"
            )
        if self.pre_open is not None:
            require_utc("Session.pre_open", self.pre_open)
            if self.pre_open >= self.open:
                raise ValueError(f"Session {self.day}: pre-open must start before the open")

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` is inside continuous trading."""
        return self.open <= at < self.close

    def in_pre_open(self, at: datetime) -> bool:
        return self.pre_open is not None and self.pre_open <= at < self.open
