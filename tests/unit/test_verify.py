"""Verification on entries in memory: each kind of damage gets its own code and names the entry."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from algodesk.domain.identifiers import AccountId, LedgerEntryId
from algodesk.domain.ledger import booking
from algodesk.domain.ledger.chain import entry_hash, seal
from algodesk.domain.ledger.entries import LedgerEntry, Posting
from algodesk.domain.ledger.verify import ChainHead, verify
from algodesk.domain.values import money
from tests.conftest import ACCOUNT, T0


def chain(n: int) -> list[LedgerEntry]:
    book = booking.AccountBook(ACCOUNT)
    out = []
    for i in range(1, n + 1):
        entry = seal(
            booking.deposit(ACCOUNT, LedgerEntryId(f"d{i}"), T0, money(str(i), "USD")),
            book.head_seq + 1,
            book.head_hash,
        )
        book.replay(entry)
        out.append(entry)
    return out


def rehash(entry: LedgerEntry) -> LedgerEntry:
    return replace(entry, hash=entry_hash(replace(entry, hash="")))


def test_an_intact_chain_verifies_against_its_head() -> None:
    entries = chain(3)
    report = verify(entries, {ACCOUNT: ChainHead(3, entries[-1].hash)})
    assert report.ok
    assert report.entries == 3
    assert report.heads[ACCOUNT] == ChainHead(3, entries[-1].hash)


def test_a_repeated_sequence_number_is_reported() -> None:
    a, b, c = chain(3)
    (problem,) = verify([a, b, b, c]).problems
    assert (problem.seq, problem.code) == (2, "DUPLICATE_SEQUENCE")


def test_unbalanced_postings_are_reported_even_with_a_valid_hash() -> None:
    a, b = chain(2)
    bad = rehash(
        replace(b, postings=(*b.postings, Posting("cash", b.postings[0].currency, Decimal("0.01"))))
    )
    (problem,) = verify([a, bad]).problems
    assert (problem.seq, problem.code) == (2, "UNBALANCED")
    assert "USD 0.01" in problem.message


def test_an_account_without_a_recorded_head_is_reported() -> None:
    entries = chain(2)
    (problem,) = verify(entries, {}).problems
    assert problem.code == "NO_HEAD"


def test_a_rewritten_chain_is_caught_by_the_head_hash() -> None:
    entries = chain(2)
    head = ChainHead(2, "e" * 64)
    (problem,) = verify(entries, {ACCOUNT: head}).problems
    assert (problem.seq, problem.code) == (2, "HEAD_MISMATCH")


def test_problems_in_one_account_do_not_hide_another() -> None:
    other = AccountId("acct-2")
    a, b = chain(2)
    moved = [replace(e, account_id=other) for e in chain(2)]
    moved = [rehash(moved[0]), moved[1]]  # the second entry's link now points at a stale hash
    report = verify([a, b, *moved])
    assert [(p.account_id, p.code) for p in report.problems] == [(other, "CHAIN_BROKEN")]
    assert str(report.problems[0]).startswith("entry acct-2 #2 (d2): CHAIN_BROKEN")


def test_an_anchor_catches_a_chain_rewritten_with_its_head() -> None:
    original = chain(3)
    anchor = {ACCOUNT: ChainHead(2, original[1].hash[:16])}
    assert verify(original, {ACCOUNT: ChainHead(3, original[2].hash)}, anchor).ok
    rewritten = chain(2)
    rewritten[1] = rehash(replace(rewritten[1], entry_id=LedgerEntryId("other")))
    (problem,) = verify(rewritten, None, anchor).problems
    assert (problem.seq, problem.code) == (2, "ANCHOR_MISMATCH")
