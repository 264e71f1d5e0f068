"""NSE's F&O ban list: the stocks whose derivatives take no new positions on a trade date
(their market-wide open interest passed 95% of its limit). Index derivatives are never banned.

NSE publishes ``fo_secban.csv`` for the next trade date. It is not strict CSV: the first line
is a title, ``Securities in Ban For Trade Date 21-NOV-2026:``, and each further line is
``<serial>,<SYMBOL>``. On a day with nothing banned the title ends ``: NIL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

__all__ = ["INDEX_UNDERLYINGS", "BanList", "parse_ban_list"]

#: The index underlyings of NSE's and BSE's derivatives: never on the ban list.
INDEX_UNDERLYINGS: Final = frozenset(
    {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", "SENSEX", "BANKEX", "SENSEX50"}
)

_TITLE = re.compile(
    r"^\s*Securities in Ban For Trade Date\s+(\d{1,2}-[A-Za-z]{3}-\d{4})\s*:?\s*(NIL)?\s*$",
    re.IGNORECASE,
)
_ROW = re.compile(r"^\s*(\d+)\s*,\s*([A-Za-z0-9&_-]+)\s*,?\s*$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_NONE = re.compile(r"^\s*(NIL|NONE|-)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class BanList:
    """The underlyings in the ban period on ``trade_date``."""

    trade_date: date
    symbols: frozenset[str]


def parse_ban_list(text: str) -> BanList:
    """Read ``fo_secban.csv``. Raises ValueError, naming the line, for anything else (a page
    of HTML from a blocked download, another file): a list that cannot be read is no list."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError("the F&O ban list is empty: expected its title line first")
    first, title = lines[0]
    found = _TITLE.match(title.lstrip("\ufeff"))
    if found is None:
        raise ValueError(
            f"line {first} of the F&O ban list: expected 'Securities in Ban For Trade Date "
            f"DD-MON-YYYY:', was {title.strip()[:80]!r}"
        )
    day, month, year = found.group(1).split("-")
    try:
        trade_date = date(int(year), _MONTHS.index(month.upper()) + 1, int(day))
    except ValueError:
        raise ValueError(
            f"line {first} of the F&O ban list: {found.group(1)!r} is not a date"
        ) from None
    symbols = set()
    for n, line in lines[1:]:
        if _NONE.match(line):
            continue
        row = _ROW.match(line)
        if row is None:
            raise ValueError(
                f"line {n} of the F&O ban list: expected '<serial>,<SYMBOL>', "
                f"was {line.strip()[:80]!r}"
            )
        symbols.add(row.group(2).upper())
    return BanList(trade_date, frozenset(symbols))
