"""Ledger verification: the chain, the balance of every entry and a FIFO recomputation.

Checks are pure: they read entries and return problems as values. Each account's chain is
checked from its first entry; the first problem in an account is reported and that account's
later entries are not judged (they cannot be trusted once the chain is broken).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from algodesk.domain.identifiers import AccountId
from algodesk.domain.ledger.booking import AccountBook, FillTerms
from algodesk.domain.ledger.chain import entry_hash
from algodesk.domain.ledger.entries import EntryKind, LedgerEntry, Posting, imbalance
from algodesk.domain.values import canonical_decimal, exact_arithmetic

__all__ = ["ChainHead", "Problem", "VerifyReport", "verify"]


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last sequence number and hash recorded for an account, kept apart from the entries."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Problem:
    account_id: AccountId
    seq: int
    entry_id: str
    code: str
    message: str

    def __str__(self) -> str:
        who = f"entry {self.account_id} #{self.seq}"
        if self.entry_id:
            who += f" ({self.entry_id})"
        return f"{who}: {self.code}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    entries: int = 0
    accounts: int = 0
    problems: list[Problem] = field(default_factory=list)
    heads: dict[AccountId, ChainHead] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _short(h: str) -> str:
    return h[:12] + "…"


_PostingKey = tuple[str, str, str | None]


@exact_arithmetic
def _posting_map(postings: Iterable[Posting]) -> dict[_PostingKey, Decimal]:
    out: dict[_PostingKey, Decimal] = {}
    for p in postings:
        key = (p.book, p.currency.code, p.bot_id.value if p.bot_id else None)
        out[key] = out.get(key, Decimal(0)) + p.amount
    return {k: v for k, v in out.items() if not v.is_zero()}


def _fifo_problem(book: AccountBook, entry: LedgerEntry) -> str | None:
    try:
        terms = FillTerms.of(entry.details)
        expected = _posting_map(book.expected_postings(terms, entry.bot_id))
    except (ValueError, ArithmeticError) as exc:
        return f"cannot recompute the booking: {exc}"
    recorded = _posting_map(entry.postings)
    for key in sorted(set(expected) | set(recorded), key=lambda k: (k[0], k[1], k[2] or "")):
        want = expected.get(key, Decimal(0))
        have = recorded.get(key, Decimal(0))
        if want != have:
            book_name, ccy, _bot = key
            return (
                f"{book_name} {ccy}: recorded {canonical_decimal(have)}, FIFO recomputation "
                f"from the fills gives {canonical_decimal(want)}"
            )
    return None


class _AccountCheck:
    __slots__ = ("anchor", "book", "broken", "past_head_id", "watch_seq")

    def __init__(
        self, account_id: AccountId, head: ChainHead | None, anchor: ChainHead | None
    ) -> None:
        self.book = AccountBook(account_id)
        self.broken = False
        self.watch_seq = head.seq + 1 if head else 1
        self.past_head_id = ""
        self.anchor = anchor

    def check(self, entry: LedgerEntry) -> Problem | None:
        found = self._check(entry)
        anchor = self.anchor
        if found is not None or anchor is None or entry.seq != anchor.seq:
            return found
        if entry.hash.startswith(anchor.hash):
            return None
        return Problem(
            entry.account_id,
            entry.seq,
            entry.entry_id.value,
            "ANCHOR_MISMATCH",
            f"you recorded hash {_short(anchor.hash)} for this entry, the ledger has "
            f"{_short(entry.hash)} (the chain was rewritten from here or earlier)",
        )

    def _check(self, entry: LedgerEntry) -> Problem | None:
        if entry.seq == self.watch_seq:
            self.past_head_id = entry.entry_id.value
        book = self.book
        expected_seq = book.head_seq + 1

        def problem(code: str, message: str) -> Problem:
            return Problem(entry.account_id, entry.seq, entry.entry_id.value, code, message)

        if entry.seq > expected_seq:
            missing = (
                f"#{expected_seq}"
                if entry.seq == expected_seq + 1
                else f"#{expected_seq}..#{entry.seq - 1}"
            )
            return problem(
                "MISSING_ENTRY",
                f"expected entry #{expected_seq} next, found #{entry.seq}: {missing} is missing "
                "(removed?)",
            )
        if entry.seq < expected_seq:
            return problem(
                "DUPLICATE_SEQUENCE",
                f"entry #{entry.seq} appears again after #{book.head_seq} (a forged or copied row)",
            )
        if entry.prev_hash != book.head_hash:
            return problem(
                "CHAIN_BROKEN",
                f"previous-hash link expected {_short(book.head_hash)}, found "
                f"{_short(entry.prev_hash)} (an entry before it was removed, reordered or forged)",
            )
        computed = entry_hash(entry)
        if computed != entry.hash:
            return problem(
                "HASH_MISMATCH",
                f"content does not match its hash: stored {_short(entry.hash)}, computed "
                f"{_short(computed)} (the entry was changed after it was written)",
            )
        unbalanced = imbalance(entry.postings)
        if unbalanced:
            sums = ", ".join(f"{c} {canonical_decimal(v)}" for c, v in sorted(unbalanced.items()))
            return problem("UNBALANCED", f"postings do not sum to zero: {sums}")
        if entry.kind is EntryKind.FILL:
            fifo = _fifo_problem(book, entry)
            if fifo is not None:
                return problem("FIFO_MISMATCH", fifo)
        book.replay(entry)
        return None


def verify(
    entries: Iterable[LedgerEntry],
    heads: Mapping[AccountId, ChainHead] | None = None,
    anchors: Mapping[AccountId, ChainHead] | None = None,
) -> VerifyReport:
    """Verify ``entries`` (each account's in sequence order, accounts in any order).

    ``heads`` are the chain heads recorded in the database; an account whose chain ends
    elsewhere has entries missing from its end or forged onto it. ``anchors`` are heads the user
    recorded outside the database (a hash prefix is enough): the chain must still hold that
    entry with that hash, which catches an intruder who rewrites entries and heads together.
    """
    anchors = anchors or {}
    report = VerifyReport()
    checks: dict[AccountId, _AccountCheck] = {}
    for entry in entries:
        report.entries += 1
        check = checks.get(entry.account_id)
        if check is None:
            head = heads.get(entry.account_id) if heads is not None else None
            check = checks[entry.account_id] = _AccountCheck(
                entry.account_id, head, anchors.get(entry.account_id)
            )
        if check.broken:
            continue
        found = check.check(entry)
        if found is not None:
            check.broken = True
            report.problems.append(found)
    for account_id, check in checks.items():
        report.heads[account_id] = ChainHead(check.book.head_seq, check.book.head_hash)
    report.accounts = len(checks)
    if heads is not None:
        report.problems.extend(_head_problems(checks, heads))
    for account_id, anchor in sorted(anchors.items(), key=lambda kv: kv[0].value):
        check = checks.get(account_id)
        if check is not None and check.broken:
            continue
        seq = check.book.head_seq if check else 0
        if seq < anchor.seq:
            report.problems.append(
                Problem(
                    account_id,
                    anchor.seq,
                    "",
                    "ANCHOR_MISSING",
                    f"you recorded entry #{anchor.seq}, the ledger ends at #{seq} "
                    "(entries were removed)",
                )
            )
    return report


def _head_problems(
    checks: Mapping[AccountId, _AccountCheck], heads: Mapping[AccountId, ChainHead]
) -> list[Problem]:
    problems = []
    for account_id in sorted(set(checks) | set(heads), key=lambda a: a.value):
        check = checks.get(account_id)
        if check is not None and check.broken:
            continue
        seq = check.book.head_seq if check else 0
        last_hash = check.book.head_hash if check else ""
        head = heads.get(account_id)
        if head is None:
            problems.append(
                Problem(
                    account_id,
                    1,
                    check.past_head_id if check else "",
                    "NO_HEAD",
                    f"the account has {seq} entries but no recorded chain head (forged account?)",
                )
            )
        elif seq > head.seq:
            problems.append(
                Problem(
                    account_id,
                    head.seq + 1,
                    check.past_head_id if check else "",
                    "PAST_HEAD",
                    f"the recorded chain head is #{head.seq}, but entries run to #{seq} "
                    "(appended outside algodesk?)",
                )
            )
        elif seq < head.seq:
            problems.append(
                Problem(
                    account_id,
                    seq + 1,
                    "",
                    "MISSING_ENTRY",
                    f"the recorded chain head is #{head.seq}, but entries end at #{seq} "
                    "(the last entries were removed)",
                )
            )
        elif last_hash != head.hash:
            problems.append(
                Problem(
                    account_id,
                    seq,
                    "",
                    "HEAD_MISMATCH",
                    f"entry #{seq} has hash {_short(last_hash)}, the recorded head "
                    f"{_short(head.hash)} (the chain was rewritten)",
                )
            )
    return problems
