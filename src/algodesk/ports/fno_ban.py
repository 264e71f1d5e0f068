"""Where the day's F&O ban list comes from (NSE's ``fo_secban.csv``)."""

from __future__ import annotations

from typing import Protocol

from algodesk.domain.market.fno_ban import BanList

__all__ = ["FnoBanSource"]


class FnoBanSource(Protocol):
    def read(self) -> BanList | str:
        """The latest ban list, or why there is none (the message a denial shows)."""
        ...
