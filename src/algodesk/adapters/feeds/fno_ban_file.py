"""The F&O ban list from a file the desk's operator keeps current: NSE's ``fo_secban.csv``,
downloaded before each trading day's open into the data directory (see the README). Read when
it changes, looked at no more than once a second."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from algodesk.domain.market.fno_ban import BanList, parse_ban_list

__all__ = ["FNO_BAN_FILE", "FnoBanFile"]

#: The file's name in the data directory (NSE's own).
FNO_BAN_FILE = "fo_secban.csv"
#: Seconds between looks at the file's modification time.
RECHECK = 1.0


class FnoBanFile:
    """A :class:`~algodesk.ports.fno_ban.FnoBanSource` over one file."""

    def __init__(self, path: Path, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._stamp: tuple[int, int] | None = None  # (mtime ns, size) of what was read
        self._found: BanList | str = self._missing()

    def _missing(self) -> str:
        return f"no F&O ban list at {self.path} (NSE's fo_secban.csv for the trade date)"

    def read(self) -> BanList | str:
        with self._lock:
            now = self._monotonic()
            if now - self._checked >= RECHECK:
                self._checked = now
                self._refresh()
            return self._found

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._found = None, self._missing()
            return
        except OSError as exc:
            self._stamp, self._found = None, f"the F&O ban list at {self.path}: {exc}"
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._found = parse_ban_list(self.path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, ValueError) as exc:
            self._found = f"the F&O ban list at {self.path} cannot be read: {exc}"
