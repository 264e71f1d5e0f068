"""Client order ids: assigned before the gates, never reused, stable across restarts.

* Signal orders: derived from (account, signal idempotency key, leg), so a redelivered alert
  yields the same id and is refused as a duplicate instead of trading twice.
* Strategy orders: tag + trading date + sequence; the sequence is kept in storage.

Both fit the canonical form of :class:`~algodesk.domain.identifiers.ClientOrderId`: at most 20
characters ``[A-Z0-9]`` (Kite's ``tag`` is the tightest venue field).
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date

from algodesk.domain.identifiers import AccountId, ClientOrderId

__all__ = ["for_signal", "for_strategy"]

_LENGTH = 20
_TAG = re.compile(r"^[A-Z0-9]{1,8}$")


def for_signal(account_id: AccountId, idempotency_key: str, leg: int = 0) -> ClientOrderId:
    """A deterministic id for leg ``leg`` of the signal with ``idempotency_key``."""
    if leg < 0:
        raise ValueError(f"expected a leg >= 0, was {leg}")
    digest = hashlib.sha256(f"{account_id}\x1f{idempotency_key}\x1f{leg}".encode()).digest()
    text = base64.b32encode(digest).decode("ascii").rstrip("=")
    return ClientOrderId("S" + text[: _LENGTH - 1])


def for_strategy(tag: str, trading_day: date, sequence: int) -> ClientOrderId:
    """``TAG`` + ``YYMMDD`` + the zero-padded sequence, e.g. ``SMA2611210000000042``."""
    tag = tag.upper()
    if not _TAG.match(tag):
        raise ValueError(f"expected a strategy tag of 1-8 letters or digits, was {tag!r}")
    width = _LENGTH - len(tag) - 6
    if not 0 < sequence < 10**width:
        raise ValueError(f"sequence {sequence} does not fit in {width} digits for tag {tag}")
    day = trading_day  # YYMMDD, as strftime's %y%m%d writes it (which costs more)
    return ClientOrderId(
        f"{tag}{day.year % 100:02d}{day.month:02d}{day.day:02d}{sequence:0{width}d}"
    )
