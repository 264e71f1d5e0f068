"""The ledger service: books fills and cash movements into the hash-chained ledger, answers
summaries and verifies the chain.

Writes for one account must come from one writer at a time (the engine, from issue 3). The
storage refuses an append that does not follow the stored head, so a second writer fails loudly
instead of forking the chain; this service then reloads the account's book from storage.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from algodesk.domain.fills import Fill
from algodesk.domain.identifiers import AccountId, BotId, LedgerEntryId
from algodesk.domain.instruments import Instrument
from algodesk.domain.ledger import booking
from algodesk.domain.ledger.booking import AccountBook
from algodesk.domain.ledger.chain import seal
from algodesk.domain.ledger.entries import LedgerEntry, NewEntry
from algodesk.domain.ledger.verify import ChainHead, VerifyReport, verify
from algodesk.domain.portfolio import ALL_BOTS, AllBots, BookSummary, summarize
from algodesk.domain.values import Money
from algodesk.ports.clock import Clock
from algodesk.ports.storage import ChainConflictError, UnitOfWork

__all__ = ["InsufficientCashError", "LedgerService", "Recorded"]


class InsufficientCashError(ValueError):
    """A withdrawal or allocation asked for more cash than is free."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """The entry a call produced; ``new`` is False when it was already in the ledger."""

    entry: LedgerEntry
    new: bool


class LedgerService:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        snapshot_factory: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        """``snapshot_factory`` makes read-only units that see one instant of the database
        (reads and verification while the desk is trading: they never wait for a writer);
        by default ``uow_factory``."""
        self._uow_factory = uow_factory
        self._snapshot_factory = snapshot_factory or uow_factory
        self._clock = clock
        self._books: dict[AccountId, AccountBook] = {}
        # The summaries read lately, by account and bot: (the sequence number they cover, it).
        self._summaries: dict[tuple[AccountId, BotId | AllBots | None], tuple[int, BookSummary]]
        self._summaries = {}
        self._summaries_lock = threading.Lock()

    # -- writing ------------------------------------------------------------------------------

    def _book(self, uow: UnitOfWork, account_id: AccountId) -> AccountBook:
        """The account's book, caught up with storage (replaying only what it has not seen)."""
        book = self._books.get(account_id)
        stored = uow.ledger.head(account_id)
        stored_seq = stored.seq if stored else 0
        if book is None or book.head_seq > stored_seq:
            book = AccountBook(account_id)
        if book.head_seq < stored_seq:
            for entry in uow.ledger.entries(account_id, after_seq=book.head_seq):
                book.replay(entry)
        self._books[account_id] = book
        return book

    def _append(self, uow: UnitOfWork, book: AccountBook, new: NewEntry) -> LedgerEntry:
        entry = seal(new, book.head_seq + 1, book.head_hash)
        try:
            uow.ledger.append(entry)
        except ChainConflictError:
            self._books.pop(book.account_id, None)
            raise
        return entry

    def _commit_one(self, uow: UnitOfWork, book: AccountBook, new: NewEntry) -> Recorded:
        known = uow.ledger.find(new.account_id, new.entry_id)
        if known is not None:
            return Recorded(known, new=False)
        entry = self._append(uow, book, new)
        uow.commit()
        book.replay(entry)
        return Recorded(entry, new=True)

    def record_fill(self, fill: Fill, instrument: Instrument) -> Recorded:
        """Store ``fill`` and book it; an exact replay of a known trade books nothing."""
        with self._uow_factory() as uow:
            recorded, entry = self.book_fill(uow, fill, instrument)
            if entry is not None:
                uow.commit()
                self.committed(entry)
            return recorded

    def book_fill(
        self, uow: UnitOfWork, fill: Fill, instrument: Instrument
    ) -> tuple[Recorded, LedgerEntry | None]:
        """Store and book ``fill`` inside the caller's unit of work, which must commit and then
        call :meth:`committed` with the new entry (the second item; None for a replay)."""
        book = self._book(uow, fill.account_id)
        if not uow.fills.add(fill):
            known = uow.ledger.find(fill.account_id, booking.fill_entry_id(fill))
            if known is None:  # pragma: no cover - fills and entries commit together
                raise RuntimeError(f"fill {fill.trade_id} is stored but not booked")
            return Recorded(known, new=False), None
        entry = self._append(uow, book, book.fill_entry(fill, instrument))
        return Recorded(entry, new=True), entry

    def forget(self, account_id: AccountId) -> None:
        """Drop the cached book of ``account_id``: it is read again from storage when next
        used (after a batch that booked entries was rolled back)."""
        self._books.pop(account_id, None)

    def committed(self, entry: LedgerEntry) -> None:
        """Move the cached book past an entry its caller has committed."""
        book = self._books.get(entry.account_id)
        if book is not None and book.head_seq + 1 == entry.seq:
            book.replay(entry)
        else:
            self._books.pop(entry.account_id, None)

    def _record(
        self,
        account_id: AccountId,
        kind: str,
        key: str | None,
        build: Callable[[LedgerEntryId, datetime], NewEntry],
        check: Callable[[UnitOfWork], None] | None = None,
        also: Callable[[UnitOfWork], None] | None = None,
    ) -> Recorded:
        """Book the entry ``build`` makes, once per ``key``: a known key returns its entry
        before any check runs, so a retried call answers as the first one did. ``also``
        writes more (a journal record) in the same unit of work: both commit, or neither."""
        entry_id = LedgerEntryId(f"{kind}:{key or uuid.uuid4().hex}")
        with self._uow_factory() as uow:
            book = self._book(uow, account_id)
            known = uow.ledger.find(account_id, entry_id)
            if known is not None:
                return Recorded(known, new=False)
            if check is not None:
                check(uow)
            if also is not None:
                also(uow)
            return self._commit_one(uow, book, build(entry_id, self._clock.now()))

    def deposit(
        self, account_id: AccountId, amount: Money, memo: str = "", key: str | None = None
    ) -> Recorded:
        """Book a deposit. ``key`` makes the call idempotent: the same key books once."""
        return self._record(
            account_id,
            "deposit",
            key,
            lambda entry_id, ts: booking.deposit(account_id, entry_id, ts, amount, memo),
        )

    def withdraw(
        self, account_id: AccountId, amount: Money, memo: str = "", key: str | None = None
    ) -> Recorded:
        """Book a withdrawal of unallocated cash; refuses to take more than is there."""
        return self._record(
            account_id,
            "withdrawal",
            key,
            lambda entry_id, ts: booking.withdrawal(account_id, entry_id, ts, amount, memo),
            lambda uow: self._require_cash(uow, account_id, None, amount),
        )

    def allocate(
        self,
        account_id: AccountId,
        bot_id: BotId,
        amount: Money,
        memo: str = "",
        key: str | None = None,
        also: Callable[[UnitOfWork], None] | None = None,
    ) -> Recorded:
        """Move cash to a bot (a negative amount returns it to the account). ``also`` writes
        in the same unit of work (see :meth:`_record`)."""

        def check(uow: UnitOfWork) -> None:
            if amount.amount > 0:
                self._require_cash(uow, account_id, None, amount)
            else:
                self._require_cash(uow, account_id, bot_id, -amount)

        return self._record(
            account_id,
            "allocation",
            key,
            lambda entry_id, ts: booking.allocation(account_id, entry_id, ts, bot_id, amount, memo),
            check,
            also,
        )

    def charge_fee(
        self,
        account_id: AccountId,
        amount: Money,
        memo: str,
        bot_id: BotId | None = None,
        key: str | None = None,
    ) -> Recorded:
        """A charge not attached to a fill (a platform fee, DP charges, funding)."""
        return self._record(
            account_id,
            "fee",
            key,
            lambda entry_id, ts: booking.fee(account_id, entry_id, ts, amount, memo, bot_id),
        )

    def adjust(
        self,
        account_id: AccountId,
        amount: Money,
        memo: str,
        bot_id: BotId | None = None,
        key: str | None = None,
    ) -> Recorded:
        """A correction: always a new entry with a reason, never an edit."""
        return self._record(
            account_id,
            "adjustment",
            key,
            lambda entry_id, ts: booking.adjustment(account_id, entry_id, ts, amount, memo, bot_id),
        )

    def _require_cash(
        self, uow: UnitOfWork, account_id: AccountId, bot_id: BotId | None, amount: Money
    ) -> None:
        cash = summarize(uow.ledger.entries(account_id), bot_id).cash
        have = cash.get(amount.currency.code, Decimal(0))
        if have < amount.amount:
            whose = f"bot {bot_id}" if bot_id else f"account {account_id} (unallocated)"
            raise InsufficientCashError(
                f"{whose} holds {have} {amount.currency} in cash, asked for {amount}"
            )

    # -- reading ------------------------------------------------------------------------------

    def entries(self, account_id: AccountId | None = None) -> list[LedgerEntry]:
        with self._snapshot_factory() as uow:
            return list(uow.ledger.entries(account_id))

    def accounts(self) -> list[AccountId]:
        with self._snapshot_factory() as uow:
            return uow.ledger.accounts()

    def latest(self, limit: int, account_id: AccountId | None = None) -> list[LedgerEntry]:
        """The newest ``limit`` entries, newest first (see ``LedgerRepository.latest``)."""
        with self._snapshot_factory() as uow:
            return uow.ledger.latest(limit, account_id)

    def summary(
        self, account_id: AccountId, bot_id: BotId | AllBots | None = ALL_BOTS
    ) -> BookSummary:
        """Balances of an account, of one of its bots, or (``None``) of its unallocated part.

        The summary of the last call is moved past the entries booked since (reading the whole
        ledger at every call took as long as the history was: a dashboard polls this). A
        summary once returned is never changed: the next one is a copy moved on."""
        key = (account_id, bot_id)
        with self._snapshot_factory() as uow:
            head = uow.ledger.head(account_id)
            seq = head.seq if head is not None else 0
            with self._summaries_lock:
                known = self._summaries.get(key)
            if known is not None and known[0] == seq:
                return known[1]
            if known is None or known[0] > seq:  # new, or a ledger that is not the one read
                summary, after = BookSummary(), 0
            else:
                summary, after = known[1].copy(), known[0]
            covered = after  # the entries added, by what they are (not what the head said)
            for entry in uow.ledger.entries(account_id, after_seq=after):
                summary.add(entry, bot_id)
                covered = entry.seq
        with self._summaries_lock:
            latest = self._summaries.get(key)
            if latest is None or latest[0] <= covered:
                self._summaries[key] = (covered, summary)
        return summary

    def verify(self, anchors: Mapping[AccountId, ChainHead] | None = None) -> VerifyReport:
        """Check every account's chain, balances and FIFO booking against the recorded heads
        and against ``anchors``: heads the user kept outside the database."""
        with self._snapshot_factory() as uow:
            heads = uow.ledger.heads()
            return verify(uow.ledger.entries(), heads, anchors)
