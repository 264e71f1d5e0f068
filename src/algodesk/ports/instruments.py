"""The instrument master port: reference data, replaced from the broker's dump every day.

It is kept apart from the unit of work: instruments are not part of an account's history, and a
day's import (90,000 rows from Kite) is one bulk write, not a trading transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from typing import Protocol

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument

__all__ = ["InstrumentStore"]


class InstrumentStore(Protocol):
    def put(
        self,
        instruments: Iterable[Instrument],
        source: str,
        as_of: date,
        replace: Collection[Venue] = (),
    ) -> int:
        """Insert or replace instruments (by id), in one transaction; returns how many were
        written. Stored instruments of the ``replace`` venues are removed first: a broker's
        daily dump is the whole master of its exchanges, so a renamed or expired contract must
        not linger beside its successor."""
        ...

    def get(self, instrument_id: InstrumentId) -> Instrument | None: ...

    def find(
        self,
        *,
        venue: Venue | None = None,
        underlying: str | None = None,
        asset_class: AssetClass | None = None,
        symbol_prefix: str | None = None,
    ) -> list[Instrument]:
        """Instruments matching every given filter, ordered by id."""
        ...

    def count(self) -> int: ...
