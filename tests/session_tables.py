"""Session-table texts shared by the calendar tests.

The 2027 holidays are synthetic (NSE publishes its 2027 circular in December): the tests only
need weekday holidays of a year exchange_calendars 4.13.2 does not record.
"""

from __future__ import annotations

SYNTHETIC_2027 = """
[[years]]
trading_days = "XBOM"
year = 2027
holidays = [2027-01-26, 2027-03-10]
source = "test: synthetic, not the NSE circular"
checked = 2026-11-22
"""

NSE_CALENDAR = """
[calendars.NSE]
timezone = "Asia/Kolkata"
trading_days = "XBOM"

[[calendars.NSE.times]]
effective_from = 2020-01-01
pre_open = 09:00:00
open = 09:15:00
close = 15:30:00
source = "test"
checked = 2026-11-21
"""
