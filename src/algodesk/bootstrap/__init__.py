"""The one place that picks concrete adapters and wires services to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from algodesk.adapters.clock import LiveClock
from algodesk.adapters.feeds.csv_bars import BarFileError, read_bars_csv
from algodesk.adapters.instruments.generic_csv import (
    InstrumentFileError,
    InstrumentImport,
    load_generic_instruments,
)
from algodesk.adapters.instruments.kite_csv import load_kite_instruments, nse_reference
from algodesk.adapters.storage.parquet.bars import ParquetBarStore
from algodesk.adapters.storage.sql.engine import (
    DatabaseNotReadyError,
    ensure_current,
    head_revision,
    make_engine,
    migrate,
    sqlite_url,
)
from algodesk.adapters.storage.sql.inbox_file import (
    check_inbox_file,
    inbox_url,
    prepare_inbox_file,
)
from algodesk.adapters.storage.sql.instruments import SqlInstrumentStore
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.config import Settings
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar
from algodesk.ports.clock import Clock
from algodesk.ports.instruments import InstrumentStore
from algodesk.ports.market_data import BarStore
from algodesk.ports.storage import UnitOfWork
from algodesk.services.ledger import LedgerService

__all__ = [
    "BarFileError",
    "DatabaseNotReadyError",
    "Desk",
    "InstrumentFileError",
    "InstrumentImport",
    "database_url",
    "init_storage",
    "load_instrument_file",
    "open_desk",
    "read_bar_file",
    "redact_url",
    "spot_instrument",
]


class StorageUnavailableError(RuntimeError):
    """The database could not be reached or created; the message names it without secrets."""


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(settings.data_dir)


def redact_url(url: str) -> str:
    """The URL with any password hidden, fit for logs and messages."""
    return sa.make_url(url).render_as_string(hide_password=True)


@dataclass
class Desk:
    settings: Settings
    engine: sa.Engine
    uow_factory: Callable[[], UnitOfWork]
    ledger: LedgerService
    instruments: InstrumentStore
    bars: BarStore
    #: Read-only units of work that never wait for a writer (queries, verification).
    snapshot_factory: Callable[[], UnitOfWork]
    #: Where the alert inbox is: a SQLite file of its own beside a SQLite database (see
    #: :mod:`algodesk.adapters.storage.sql.inbox_file`), else :attr:`engine`. Use
    #: :meth:`inbox`, which checks the file first.
    inbox_engine: sa.Engine

    @property
    def url(self) -> str:
        return redact_url(database_url(self.settings))

    def inbox(self) -> sa.Engine:
        """The alert inbox's engine, once its file is ready (else
        :class:`DatabaseNotReadyError`, which says to run ``algodesk init``). Only what takes
        alerts in needs it: a desk whose inbox file is lost still opens for everything else
        (``ledger verify``, say)."""
        if self.inbox_engine is not self.engine:
            check_inbox_file(self.engine, self.inbox_engine)
        return self.inbox_engine

    def close(self) -> None:
        self.engine.dispose()
        if self.inbox_engine is not self.engine:
            self.inbox_engine.dispose()


def _engine(settings: Settings) -> sa.Engine:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(database_url(settings))


def init_storage(settings: Settings, start_new_inbox: bool = True) -> str:
    """Create the data directory and database, run the migrations; returns the schema revision.

    On SQLite it also prepares the alert inbox file; without ``start_new_inbox`` (``serve``)
    a lost inbox file of a desk that has traded alerts is refused rather than started anew
    (see :mod:`algodesk.adapters.storage.sql.inbox_file`)."""
    url = redact_url(database_url(settings))
    try:
        engine = _engine(settings)
    except OSError as exc:
        raise StorageUnavailableError(f"cannot create the data directory: {exc}") from None
    inbox = None
    try:
        migrate(engine)
        inbox_at = inbox_url(database_url(settings))
        if inbox_at is not None:
            inbox = make_engine(inbox_at)
            prepare_inbox_file(engine, inbox, start_new=start_new_inbox)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageUnavailableError(f"cannot initialise {url}: {_reason(exc)}") from None
    except DatabaseNotReadyError as exc:  # the inbox file: newer, lost, or not movable
        raise StorageUnavailableError(f"cannot initialise {url}: {exc}") from None
    finally:
        engine.dispose()
        if inbox is not None:
            inbox.dispose()
    return head_revision()


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def open_desk(settings: Settings, clock: Clock | None = None) -> Desk:
    """Wire the desk on an initialised database (raises DatabaseNotReadyError otherwise)."""
    if settings.database_url is None and not (settings.data_dir / "algodesk.db").exists():
        raise DatabaseNotReadyError(
            f"no algodesk database in {settings.data_dir}: run `algodesk init` first"
        )
    engine = _engine(settings)
    inbox_at = inbox_url(database_url(settings))
    inbox = engine if inbox_at is None else make_engine(inbox_at)
    try:
        ensure_current(engine)
    except BaseException as exc:
        engine.dispose()
        inbox.dispose()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            url = redact_url(database_url(settings))
            raise StorageUnavailableError(f"cannot open {url}: {_reason(exc)}") from None
        raise

    def uow_factory() -> UnitOfWork:
        return SqlUnitOfWork(engine)

    def snapshot_factory() -> UnitOfWork:
        return SqlUnitOfWork(engine, snapshot=True)

    ledger = LedgerService(uow_factory, clock or LiveClock(), snapshot_factory)
    bars = ParquetBarStore(settings.data_dir / "bars")
    return Desk(
        settings,
        engine,
        uow_factory,
        ledger,
        SqlInstrumentStore(engine),
        bars,
        snapshot_factory,
        inbox,
    )


def read_bar_file(
    path: Path, instrument_id: InstrumentId, timeframe: Timeframe, tz: str = "UTC"
) -> list[Bar]:
    """Bars from a CSV file (raises :class:`BarFileError` naming the line and the problem)."""
    return read_bars_csv(path, instrument_id, timeframe, tz)


INSTRUMENT_FORMATS = ("kite", "generic")


def load_instrument_file(path: Path, kind: str, strict: bool = False) -> InstrumentImport:
    """Instruments from a Kite Connect dump (``kite``, plain or gzipped) or a generic CSV.

    Rows that cannot be represented are returned as problems (or raised with ``strict``); a
    file that cannot be read at all raises :class:`InstrumentFileError`.
    """
    if kind == "kite":
        return load_kite_instruments(path, strict=strict)
    if kind == "generic":
        return load_generic_instruments(path, strict=strict)
    raise ValueError(f"expected an instrument file format in {INSTRUMENT_FORMATS}, was {kind!r}")


def spot_instrument(underlying: str) -> InstrumentId | None:
    """The index an NSE/BSE derivative underlying tracks (NIFTY → ``NIFTY_50.NSE``), from the
    dated reference table shipped with algodesk."""
    spot = nse_reference().spots.get(underlying.strip().upper())
    return spot.instrument_id if spot is not None else None
