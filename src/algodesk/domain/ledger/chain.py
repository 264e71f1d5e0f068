"""The hash chain: each entry's SHA-256 covers a canonical encoding of the entry and the previous
entry's hash, so an edited, removed, reordered or inserted entry breaks the chain."""

from __future__ import annotations

import hashlib
import json
from typing import Final

from algodesk.domain.ledger.entries import LedgerEntry, NewEntry, Posting
from algodesk.domain.values import canonical_decimal, canonical_utc

__all__ = ["ENCODING_VERSION", "GENESIS_HASH", "canonical_bytes", "entry_hash", "seal"]

ENCODING_VERSION = 1
GENESIS_HASH = "0" * 64


def _posting(p: Posting) -> list[str | None]:
    return [
        p.book,
        p.currency.code,
        canonical_decimal(p.amount),
        p.bot_id.value if p.bot_id else None,
    ]


#: ``json.dumps`` with these options, made once (``dumps`` builds an encoder per call).
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _encode(entry: LedgerEntry | NewEntry, seq: int, prev_hash: str) -> bytes:
    payload = [
        ENCODING_VERSION,
        entry.account_id.value,
        seq,
        entry.entry_id.value,
        entry.kind.value,
        canonical_utc(entry.ts),
        entry.bot_id.value if entry.bot_id else None,
        [_posting(p) for p in entry.postings],
        sorted(entry.details.items()),
        prev_hash,
    ]
    return _ENCODER.encode(payload).encode("utf-8")


def canonical_bytes(entry: LedgerEntry) -> bytes:
    """The exact bytes that are hashed: a JSON array in a fixed field order, decimals in their
    one canonical text form, times in UTC to the microsecond, details sorted by key."""
    return _encode(entry, entry.seq, entry.prev_hash)


def entry_hash(entry: LedgerEntry) -> str:
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def seal(new: NewEntry, seq: int, prev_hash: str) -> LedgerEntry:
    """Number ``new`` as entry ``seq`` after ``prev_hash`` and compute its hash."""
    if seq < 1:
        raise ValueError(f"expected a sequence number >= 1, was {seq}")
    return LedgerEntry(
        account_id=new.account_id,
        seq=seq,
        entry_id=new.entry_id,
        kind=new.kind,
        ts=new.ts,
        postings=new.postings,
        bot_id=new.bot_id,
        details=new.details,
        prev_hash=prev_hash,
        hash=hashlib.sha256(_encode(new, seq, prev_hash)).hexdigest(),
    )
