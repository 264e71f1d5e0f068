"""The instrument master in SQL: one row per instrument, replaced by id on every import."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import date
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from algodesk.adapters.storage.sql.engine import read_only
from algodesk.adapters.storage.sql.tables import instruments
from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.values import Currency

__all__ = ["SqlInstrumentStore"]

_BATCH = 2_000
_COLUMNS = [c.name for c in instruments.columns if c.name != "instrument_id"]


def _row(i: Instrument, source: str, as_of: date) -> dict[str, Any]:
    return {
        "instrument_id": i.id.value,
        "venue": i.venue.value,
        "symbol": i.symbol,
        "asset_class": i.asset_class.value,
        "currency": i.currency.code,
        "tick_size": i.tick_size,
        "lot_size": i.lot_size,
        "multiplier": i.multiplier,
        "min_quantity": i.min_quantity,
        "max_quantity": i.max_quantity,
        "freeze_quantity": i.freeze_quantity,
        "underlying": i.underlying,
        "expiry": i.expiry,
        "strike": i.strike,
        "option_right": i.right.value if i.right else None,
        "base_currency": i.base_currency.code if i.base_currency else None,
        "source": source,
        "as_of": as_of,
    }


def _instrument(r: sa.Row[Any]) -> Instrument:
    return Instrument(
        id=InstrumentId(r.instrument_id),
        asset_class=AssetClass(r.asset_class),
        currency=Currency(r.currency),
        tick_size=r.tick_size,
        lot_size=r.lot_size,
        multiplier=r.multiplier,
        min_quantity=r.min_quantity,
        max_quantity=r.max_quantity,
        freeze_quantity=r.freeze_quantity,
        underlying=r.underlying,
        expiry=r.expiry,
        strike=r.strike,
        right=OptionRight(r.option_right) if r.option_right else None,
        base_currency=Currency(r.base_currency) if r.base_currency else None,
    )


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(rows, _BATCH)):
        yield batch


class SqlInstrumentStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def _upsert(self) -> Any:
        dialect = self._engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(instruments)
        return stmt.on_conflict_do_update(
            index_elements=[instruments.c.instrument_id],
            set_={name: stmt.excluded[name] for name in _COLUMNS},
        )

    def put(
        self,
        items: Iterable[Instrument],
        source: str,
        as_of: date,
        replace: Collection[Venue] = (),
    ) -> int:
        written = 0
        stmt = self._upsert()
        rows = (_row(i, source, as_of) for i in items)
        with self._engine.begin() as conn:  # one transaction: an import lands whole or not at all
            if replace:
                venues = sorted(v.value for v in replace)
                conn.execute(sa.delete(instruments).where(instruments.c.venue.in_(venues)))
            for batch in _batches(rows):
                conn.execute(stmt, batch)
                written += len(batch)
        return written

    def get(self, instrument_id: InstrumentId) -> Instrument | None:
        with read_only(self._engine) as conn:
            row = conn.execute(
                sa.select(instruments).where(instruments.c.instrument_id == instrument_id.value)
            ).first()
        return _instrument(row) if row else None

    def find(
        self,
        *,
        venue: Venue | None = None,
        underlying: str | None = None,
        asset_class: AssetClass | None = None,
        symbol_prefix: str | None = None,
    ) -> list[Instrument]:
        query = sa.select(instruments).order_by(instruments.c.instrument_id)
        if venue is not None:
            query = query.where(instruments.c.venue == venue.value)
        if underlying is not None:
            query = query.where(instruments.c.underlying == underlying)
        if asset_class is not None:
            query = query.where(instruments.c.asset_class == asset_class.value)
        if symbol_prefix is not None:
            query = query.where(instruments.c.symbol.startswith(symbol_prefix, autoescape=True))
        with read_only(self._engine) as conn:
            return [_instrument(r) for r in conn.execute(query)]

    def count(self) -> int:
        with read_only(self._engine) as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(instruments)).scalar_one()
            )
