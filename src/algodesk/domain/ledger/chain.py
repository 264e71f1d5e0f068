"""The hash chain: each entry's SHA-256 covers a canonical encoding of the entry and the previous
entry's hash, so an edited, removed, reordered or inserted entry breaks the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime

from algodesk.domain.ledger.entries import LedgerEntry, NewEntry, Posting
from algodesk.domain.values import canonical_decimal

__all__ = ["ENCODING_VERSION", "GENESIS_HASH", "canonical_bytes", "entry_hash", "seal"]

ENCODING_VERSION = 1
GENESIS_HASH = "0" * 64


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _posting(p: Posting) -> list[str | None]:
    return [
        p.book,
        p.currency.code,
        canonical_decimal(p.amount),
        p.bot_id.value if p.bot_id else None,
    ]


def canonical_bytes(entry: LedgerEntry) -> bytes:
    """The exact bytes that are hashed: a JSON array in a fixed field order, decimals in their
    one canonical text form, times in UTC to the microsecond, details sorted by key."""
    payload = [
        ENCODING_VERSION,
        entry.account_id.value,
        entry.seq,
        entry.entry_id.value,
        entry.kind.value,
        _ts(entry.ts),
        entry.bot_id.value if entry.bot_id else None,
        [_posting(p) for p in entry.postings],
        sorted(entry.details.items()),
        entry.prev_hash,
    ]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: LedgerEntry) -> str:
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def seal(new: NewEntry, seq: int, prev_hash: str) -> LedgerEntry:
    """Number ``new`` as entry ``seq`` after ``prev_hash`` and compute its hash."""
    if seq < 1:
        raise ValueError(f"expected a sequence number >= 1, was {seq}")
    draft = LedgerEntry(
        account_id=new.account_id,
        seq=seq,
        entry_id=new.entry_id,
        kind=new.kind,
        ts=new.ts,
        postings=new.postings,
        bot_id=new.bot_id,
        details=new.details,
        prev_hash=prev_hash,
        hash="",
    )
    return replace(draft, hash=entry_hash(draft))
