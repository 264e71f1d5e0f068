"""NSE's F&O ban list: reading fo_secban.csv, and the file the desk keeps it in."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from algodesk.adapters.feeds.fno_ban_file import FnoBanFile
from algodesk.domain.market.fno_ban import BanList, parse_ban_list
from algodesk.testing.clock import Ticks

NSE_FILE = "Securities in Ban For Trade Date 21-NOV-2026:\n1,SAIL\n2,RBLBANK\n3,M&M\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (NSE_FILE, BanList(date(2026, 11, 21), frozenset({"SAIL", "RBLBANK", "M&M"}))),
        (
            "\ufeffSecurities in Ban For Trade Date 02-Jan-2027:\r\n",
            BanList(date(2027, 1, 2), frozenset()),
        ),
        (
            "Securities in Ban For Trade Date 02-JAN-2027\n\nNIL\n",
            BanList(date(2027, 1, 2), frozenset()),
        ),
        (  # NSE's own file on a day with nothing banned
            "Securities in Ban For Trade Date 28-JUL-2026: NIL\n",
            BanList(date(2026, 7, 28), frozenset()),
        ),
    ],
)
def test_the_ban_list_is_read_as_nse_writes_it(text: str, expected: BanList) -> None:
    assert parse_ban_list(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("<html><body>Access Denied</body></html>", "line 1 .*expected 'Securities in Ban"),
        ("Securities in Ban For Trade Date 31-FEB-2027:\n", "is not a date"),
        ("Securities in Ban For Trade Date 21-NOV-2026:\n1,SAIL\nSAIL BANNED\n", "line 3"),
    ],
)
def test_anything_else_is_no_list(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ban_list(text)


def test_the_file_is_read_when_it_changes_and_missing_or_broken_says_why(tmp_path: Path) -> None:
    ticks = Ticks()
    path = tmp_path / "fo_secban.csv"
    source = FnoBanFile(path, monotonic=ticks)
    found = source.read()
    assert isinstance(found, str)
    assert "no F&O ban list at" in found
    path.write_text(NSE_FILE)
    assert isinstance(source.read(), str)  # looked at once a second at most
    ticks.now += 1.0
    assert source.read() == parse_ban_list(NSE_FILE)
    path.write_text("Securities in Ban For Trade Date 22-NOV-2026:\n1,SAIL\n")
    os.utime(path, ns=(1, 1))  # another time: a new file
    ticks.now += 1.0
    assert source.read() == BanList(date(2026, 11, 22), frozenset({"SAIL"}))
    path.write_text("<html>Access Denied</html>")
    os.utime(path, ns=(2, 2))
    ticks.now += 1.0
    broken = source.read()
    assert isinstance(broken, str)
    assert "cannot be read" in broken
    assert "line 1" in broken
