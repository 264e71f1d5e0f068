"""The instrument master in memory (tests, the demo desk)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument

__all__ = ["InMemoryInstrumentStore"]


class InMemoryInstrumentStore:
    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._items: dict[InstrumentId, Instrument] = {}
        self.put(instruments, "memory", date.min)

    def put(
        self,
        instruments: Iterable[Instrument],
        source: str,
        as_of: date,
        replace: Collection[Venue] = (),
    ) -> int:
        items = list(instruments)
        if replace:
            self._items = {k: v for k, v in self._items.items() if v.venue not in replace}
        self._items.update((i.id, i) for i in items)
        return len(items)

    def get(self, instrument_id: InstrumentId) -> Instrument | None:
        return self._items.get(instrument_id)

    def find(
        self,
        *,
        venue: Venue | None = None,
        underlying: str | None = None,
        asset_class: AssetClass | None = None,
        symbol_prefix: str | None = None,
    ) -> list[Instrument]:
        return sorted(
            (
                i
                for i in self._items.values()
                if (venue is None or i.venue == venue)
                and (underlying is None or i.underlying == underlying)
                and (asset_class is None or i.asset_class is asset_class)
                and (symbol_prefix is None or i.symbol.startswith(symbol_prefix))
            ),
            key=lambda i: i.id.value,
        )

    def count(self) -> int:
        return len(self._items)
