"""Exchange calendars whose library days are computed in a child process.

exchange_calendars brings pandas, numpy and pyarrow into the process that imports it: about
100 MB that stay for the life of the process, while the desk needs only what the library's
calendars come to, plain :class:`~algodesk.domain.market.sessions.Session` objects of a few
hundred kilobytes. :func:`calendars_in_child` runs the library in a short-lived child process
(``python -m algodesk.adapters.feeds.calendar_snapshot``), builds there every venue's calendar
the way this process would, and brings back what the library answered (its names, its aliases
and each calendar's days, pickled). The registry made from that answers exactly as one that
imported the library itself.

Nothing is cached between runs: each start asks the library installed then. What the child did
not compute (a venue whose calendar it could not build, a ``sessions.toml`` changed in between)
is computed in this process on first use, as without the child, so an answer is never wrong,
only dearer. A child that cannot run at all is logged and the library is imported here.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from algodesk.adapters.feeds.calendars import (
    DEFAULT_START,
    CalendarLibrary,
    DeclaredYear,
    ExchangeCalendars,
    InProcessLibrary,
    LibraryDays,
    SessionTable,
)
from algodesk.ports.calendar import CalendarUnavailableError

__all__ = ["LibrarySnapshot", "calendars_in_child"]

log = logging.getLogger(__name__)

_DaysKey = tuple[str, date, date | None, tuple[DeclaredYear, ...]]

#: How long the child may take (it imports pandas and builds a few calendars: 2-5 s).
CHILD_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class LibrarySnapshot:
    """What the library answered in the child (a :class:`CalendarLibrary`); a question it was
    not asked there is put to the library in this process."""

    known: frozenset[str]
    aliases: Mapping[str, str]
    computed: Mapping[_DaysKey, LibraryDays]
    _here: InProcessLibrary = field(default_factory=InProcessLibrary, compare=False)

    def names(self) -> frozenset[str]:
        return self.known

    def resolve(self, name: str) -> str:
        found = self.aliases.get(name)
        return self._here.resolve(name) if found is None else found

    def days(
        self, name: str, start: date, end: date | None, years: Sequence[DeclaredYear], where: str
    ) -> LibraryDays:
        found = self.computed.get((name, start, end, tuple(years)))
        if found is None:
            return self._here.days(name, start, end, years, where)
        return found


class _Recording:
    """The library in this process, remembering each calendar's days it computes."""

    def __init__(self) -> None:
        self._library = InProcessLibrary()
        self.computed: dict[_DaysKey, LibraryDays] = {}

    def names(self) -> frozenset[str]:
        return self._library.names()

    def resolve(self, name: str) -> str:
        return self._library.resolve(name)

    def days(
        self, name: str, start: date, end: date | None, years: Sequence[DeclaredYear], where: str
    ) -> LibraryDays:
        days = self._library.days(name, start, end, years, where)
        self.computed[(name, start, end, tuple(years))] = days
        return days

    def snapshot(self) -> LibrarySnapshot:
        known = self.names()
        return LibrarySnapshot(known, {n: self.resolve(n) for n in known}, dict(self.computed))


@dataclass(frozen=True, slots=True)
class _Request:
    venues: Mapping[str, str] | None
    table: SessionTable | None
    start: date
    end: date | None
    user_file: Path | None


def _answer(request: _Request) -> tuple[str, object]:
    """In the child: ("ok", snapshot), or ("error", the exception the registry raised)."""
    recording = _Recording()
    try:
        calendars = ExchangeCalendars(
            request.venues,
            table=request.table,
            start=request.start,
            end=request.end,
            user_file=request.user_file,
            library=recording,
        )
    except (ValueError, CalendarUnavailableError) as error:
        return "error", error
    for code in calendars.venues:
        try:
            calendars.for_venue(code).coverage()  # builds it, and its library days
        except (ValueError, CalendarUnavailableError):
            continue  # raised again in the parent, where and when it is used
    return "ok", recording.snapshot()


def _library_from_child(request: _Request, timeout: float) -> CalendarLibrary | None:
    # -P: the working directory is not put on the child's path (a calendar.py there would
    # run as the desk's user in place of the standard library's).
    command = [sys.executable, "-P", "-m", __name__]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            command, input=pickle.dumps(request), capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("calendars: the child process failed (%s); exchange_calendars runs here", error)
        return None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        log.warning(
            "calendars: the child process exited %d (%s); exchange_calendars runs here",
            done.returncode,
            tail[0],
        )
        return None
    try:
        kind, value = pickle.loads(done.stdout)  # noqa: S301 - written by our own child above
    except Exception as error:  # any unreadable answer: the library runs here
        log.warning("calendars: unreadable answer from the child (%r); runs here", error)
        return None
    if kind == "error" and isinstance(value, ValueError | CalendarUnavailableError):
        raise value
    if kind != "ok" or not isinstance(value, LibrarySnapshot):
        log.warning("calendars: unexpected answer from the child (%s); runs here", kind)
        return None
    return value


def calendars_in_child(
    venues: Mapping[str, str] | None = None,
    *,
    table: SessionTable | None = None,
    start: date = DEFAULT_START,
    end: date | None = None,
    user_file: Path | None = None,
    timeout: float = CHILD_TIMEOUT,
) -> ExchangeCalendars:
    """:class:`ExchangeCalendars` with these arguments, its library days computed in a child
    process: this process does not import exchange_calendars (nor pandas) unless it is asked
    something the child did not compute.

    Raises:
        ValueError: as :class:`ExchangeCalendars` (a bad mapping, user file or declared
            year), with the message the child's registry gave.
    """
    library = _library_from_child(_Request(venues, table, start, end, user_file), timeout)
    return ExchangeCalendars(
        venues, table=table, start=start, end=end, user_file=user_file, library=library
    )


def _main() -> None:
    request = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our own parent
    if not isinstance(request, _Request):
        raise SystemExit(f"expected a calendar request, was {type(request).__name__}")
    answer_to = sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever a library prints must not corrupt the answer
    answer_to.write(pickle.dumps(_answer(request)))
    answer_to.flush()


if __name__ == "__main__":
    # Run as the module by its name, not as __main__: what is pickled names its classes there.
    from algodesk.adapters.feeds.calendar_snapshot import _main as main

    main()
