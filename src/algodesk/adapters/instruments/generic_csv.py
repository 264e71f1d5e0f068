"""A generic instrument CSV, and the result types every instrument import shares.

The file has a header row. Column names are case-insensitive; unknown columns are refused (a
misspelt ``lotsize`` would otherwise be ignored without a word).

- required: ``symbol``, ``venue``, ``asset_class``, ``currency``, ``tick_size``
- optional: ``lot_size``, ``multiplier``, ``min_quantity``, ``max_quantity``,
  ``freeze_quantity``, ``underlying``, ``expiry`` (``YYYY-MM-DD``), ``strike``, ``right``
  (``CE``/``PE``/``CALL``/``PUT``), ``base_currency``; an empty cell takes the default.

``venue``, ``asset_class``, ``currency`` and ``right`` are read in any case. Numbers are read as
``Decimal`` from their text; a symbol may not contain spaces.

**Problem rows.** A row that cannot become an :class:`Instrument` is skipped and reported as a
:class:`RowProblem` (line number, column, code, message) in the :class:`InstrumentImport`; the
rest of the file still imports. Pass ``strict=True`` to raise :class:`InstrumentFileError` on the
first problem instead. A file that cannot be read at all (not UTF-8, a broken gzip stream, a
missing or unknown column) always raises. Plain and gzipped files are both accepted (recognised
by the gzip magic bytes, not the file name).
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import TypeVar

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.values import Currency, to_decimal

__all__ = [
    "InstrumentFileError",
    "InstrumentImport",
    "RowError",
    "RowProblem",
    "Source",
    "check_width",
    "collect",
    "decimal_cell",
    "iso_date_cell",
    "load_generic_instruments",
    "read_csv",
    "read_text",
]

Source = str | PathLike[str] | bytes
"""A path to a file, or the file's bytes (plain or gzipped)."""

T = TypeVar("T")


class InstrumentFileError(ValueError):
    """The file (or, with ``strict``, one row) cannot be imported."""

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None) -> None:
        where = ", ".join(
            part
            for part in (
                f"line {line}" if line is not None else "",
                f"column {column!r}" if column is not None else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why the data row on ``line`` (1-based, the header is line 1) was not imported."""

    line: int
    column: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class InstrumentImport:
    """What an import produced: the instruments, and one problem for each skipped row."""

    instruments: tuple[Instrument, ...]
    problems: tuple[RowProblem, ...]
    rows: int
    """Data rows read (blank lines are not rows)."""

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def summary(self) -> Mapping[str, int]:
        """Skipped rows counted by problem code, most frequent first."""
        return dict(Counter(p.code for p in self.problems).most_common())

    def by_id(self) -> Mapping[InstrumentId, Instrument]:
        return {inst.id: inst for inst in self.instruments}


class RowError(Exception):
    """Raised while reading one row; becomes a :class:`RowProblem` (or, if strict, a file error)."""

    def __init__(self, code: str, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.column = column

    def problem(self, line: int) -> RowProblem:
        return RowProblem(line=line, column=self.column, code=self.code, message=self.message)


# --- reading -------------------------------------------------------------------------------------


def read_text(source: Source) -> str:
    """The text of ``source``: a path or bytes, gzipped or plain, UTF-8 (a BOM is dropped)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InstrumentFileError(
                f"the file looks gzipped but cannot be unpacked: {exc}"
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InstrumentFileError(
            f"expected UTF-8 text, found byte 0x{data[exc.start]:02x}", line=line
        ) from None


def read_csv(
    text: str, required: Sequence[str], optional: Sequence[str] = (), *, allow_unknown: bool
) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]]]:
    """The header (lower-cased column name → position) and the data rows with their line numbers.

    Raises :class:`InstrumentFileError` for an empty file, a duplicated column, a missing
    required column, or (unless ``allow_unknown``) a column not in ``required`` + ``optional``.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header_row = next(reader, None)
    if header_row is None or not any(cell.strip() for cell in header_row):
        raise InstrumentFileError(
            f"expected a header row naming the columns ({', '.join(required)}), found nothing",
            line=1,
        )
    header: dict[str, int] = {}
    for position, raw in enumerate(header_row):
        name = raw.strip().lower()
        if name in header:
            raise InstrumentFileError("column named twice", line=1, column=name)
        header[name] = position
    missing = [name for name in required if name not in header]
    if missing:
        raise InstrumentFileError(
            f"missing required column(s) {', '.join(missing)}; found {', '.join(header)}",
            line=1,
        )
    if not allow_unknown:
        known = set(required) | set(optional)
        unknown = [name for name in header if name not in known]
        if unknown:
            raise InstrumentFileError(
                f"unknown column(s) {', '.join(unknown)}; expected some of "
                f"{', '.join([*required, *optional])}",
                line=1,
            )

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for row in reader:
                if not row or not any(cell.strip() for cell in row):
                    continue
                yield reader.line_num, row
        except csv.Error as exc:
            raise InstrumentFileError(f"malformed CSV: {exc}", line=reader.line_num) from None

    return header, rows()


def check_width(row: Sequence[str], width: int) -> None:
    """A row must have as many fields as the header."""
    if len(row) != width:
        raise RowError("FIELD_COUNT", f"expected {width} fields, found {len(row)}")


def decimal_cell(column: str, text: str, *, positive: bool = False) -> Decimal:
    """A decimal from its text (never through float); ``positive`` refuses zero and below."""
    try:
        value = to_decimal(text)
    except ValueError:
        raise RowError("BAD_VALUE", f"expected a decimal number, was {text!r}", column) from None
    if positive and value <= 0:
        raise RowError("BAD_VALUE", f"expected a number > 0, was {text!r}", column)
    return value


def iso_date_cell(column: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError("BAD_VALUE", f"expected a date YYYY-MM-DD, was {text!r}", column) from None


def _cell(parse: Callable[[str], T], column: str, text: str, expected: str) -> T:
    try:
        return parse(text)
    except ValueError:
        raise RowError("BAD_VALUE", f"expected {expected}, was {text!r}", column) from None


# --- the generic format --------------------------------------------------------------------------

REQUIRED = ("symbol", "venue", "asset_class", "currency", "tick_size")
OPTIONAL = (
    "lot_size",
    "multiplier",
    "min_quantity",
    "max_quantity",
    "freeze_quantity",
    "underlying",
    "expiry",
    "strike",
    "right",
    "base_currency",
)
_NUMBERS = ("lot_size", "multiplier", "min_quantity", "max_quantity", "freeze_quantity", "strike")


def _generic_row(header: Mapping[str, int], row: Sequence[str]) -> Instrument:
    check_width(row, len(header))

    def cell(name: str) -> str:
        position = header.get(name)
        return row[position].strip() if position is not None else ""

    for name in REQUIRED:
        if not cell(name):
            raise RowError("MISSING_VALUE", "expected a value, the cell is empty", name)
    venue = _cell(Venue, "venue", cell("venue").upper(), "2-32 letters, digits or '_'")
    try:
        instrument_id = InstrumentId.of(cell("symbol"), venue)
    except ValueError:
        raise RowError(
            "BAD_SYMBOL",
            "expected a symbol of 1-64 characters, no spaces, not starting with '.', "
            f"was {cell('symbol')!r}",
            "symbol",
        ) from None
    classes = ", ".join(a.value for a in AssetClass)
    asset_class = _cell(AssetClass, "asset_class", cell("asset_class").upper(), f"one of {classes}")
    currency = _cell(Currency, "currency", cell("currency").upper(), "a currency code")
    numbers: dict[str, Decimal] = {
        name: decimal_cell(name, cell(name), positive=True) for name in _NUMBERS if cell(name)
    }
    right = (
        _cell(OptionRight.parse, "right", cell("right"), "CE, PE, CALL or PUT")
        if cell("right")
        else None
    )
    base = (
        _cell(Currency, "base_currency", cell("base_currency").upper(), "a currency code")
        if cell("base_currency")
        else None
    )
    try:
        return Instrument(
            id=instrument_id,
            asset_class=asset_class,
            currency=currency,
            tick_size=decimal_cell("tick_size", cell("tick_size"), positive=True),
            underlying=cell("underlying").upper() or None,
            expiry=iso_date_cell("expiry", cell("expiry")) if cell("expiry") else None,
            right=right,
            base_currency=base,
            **numbers,
        )
    except ValueError as exc:
        raise RowError("INVALID_INSTRUMENT", str(exc)) from None


def collect(
    rows: Iterator[tuple[int, list[str]]],
    build: Callable[[list[str]], Instrument | None],
    *,
    strict: bool,
) -> tuple[list[Instrument], list[RowProblem], int, int]:
    """Run ``build`` over every row: instruments, problems, rows read, rows ``build`` passed over.

    ``build`` returns ``None`` for a row it deliberately leaves out (not a problem). A second row
    with an instrument id already imported is a ``DUPLICATE`` problem.
    """
    instruments: list[Instrument] = []
    problems: list[RowProblem] = []
    seen: dict[InstrumentId, int] = {}
    count = 0
    passed = 0
    for line, row in rows:
        count += 1
        try:
            inst = build(row)
            if inst is None:
                passed += 1
                continue
            if inst.id in seen:
                raise RowError(
                    "DUPLICATE", f"{inst.id} was already imported from line {seen[inst.id]}"
                )
        except RowError as err:
            if strict:
                raise InstrumentFileError(
                    f"{err.code}: {err.message}", line=line, column=err.column
                ) from None
            problems.append(err.problem(line))
            continue
        seen[inst.id] = line
        instruments.append(inst)
    return instruments, problems, count, passed


def load_generic_instruments(source: Source, *, strict: bool = False) -> InstrumentImport:
    """Import a generic instrument CSV from a path or bytes (plain or gzipped)."""
    header, rows = read_csv(read_text(source), REQUIRED, OPTIONAL, allow_unknown=False)
    instruments, problems, count, _ = collect(
        rows, lambda row: _generic_row(header, row), strict=strict
    )
    return InstrumentImport(tuple(instruments), tuple(problems), count)
