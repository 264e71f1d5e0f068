"""The alert inbox in memory (tests, the demo desk), with the SQL inbox's semantics: one entry
per dedupe key with a count of repeats, settled once, fates kept as JSON (so a fate that SQL
would refuse is refused here too, and a caller never shares a mutable fate with the store)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from algodesk.domain.identifiers import AccountId, BotId
from algodesk.ports.inbox import (
    AlertStatus,
    InboxEntry,
    NewAlert,
    Settlement,
    UnknownEntryError,
    aware_utc,
    fate_json,
    require_final,
)

__all__ = ["InMemoryInbox"]


@dataclass(frozen=True, slots=True)
class _Stored:
    entry: InboxEntry  # with an empty fate: the fate lives in ``fate_json``
    fate_json: str = "{}"

    def out(self) -> InboxEntry:
        return replace(self.entry, fate=json.loads(self.fate_json))


class InMemoryInbox:
    """:class:`~algodesk.ports.inbox.Inbox` in a dict, safe to share between threads.

    ``settle`` and ``settle_many`` raise :class:`~algodesk.ports.inbox.UnknownEntryError` (a
    KeyError and a ValueError) for an unknown id and :class:`ValueError` for an entry that is
    settled already (or a target status of PENDING); ``settle_many`` then changes nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, _Stored] = {}
        self._by_key: dict[str, int] = {}
        self._next_id = 1

    def add(self, alert: NewAlert) -> tuple[InboxEntry, bool]:
        received_at = aware_utc("received_at", alert.received_at)
        with self._lock:
            first = self._by_key.get(alert.dedupe_key)
            if first is not None:
                stored = self._rows[first]
                entry = replace(stored.entry, duplicates=stored.entry.duplicates + 1)
                self._rows[first] = replace(stored, entry=entry)
                return self._rows[first].out(), False
            entry = InboxEntry(
                id=self._next_id,
                hook_id=alert.hook_id,
                account_id=alert.account_id,
                bot_id=alert.bot_id,
                received_at=received_at,
                body=bytes(alert.body),
                digest=alert.digest,
                dedupe_key=alert.dedupe_key,
                remote_addr=alert.remote_addr,
                status=alert.status,
                reason=alert.reason,
                message=alert.message,
                settled_at=None if alert.status is AlertStatus.PENDING else received_at,
            )
            self._next_id += 1
            self._rows[entry.id] = _Stored(entry)
            self._by_key[alert.dedupe_key] = entry.id
            return entry, True

    def digests_since(self, since: datetime) -> list[str]:
        since = aware_utc("since", since)
        with self._lock:
            rows = sorted(
                (s.entry for s in self._rows.values() if s.entry.received_at >= since),
                key=lambda e: (e.received_at, e.id),
            )
        return [e.digest for e in rows]

    def find_recent(self, hook_id: str, digest: str, since: datetime) -> InboxEntry | None:
        since = aware_utc("since", since)
        with self._lock:
            found = [
                s
                for s in self._rows.values()
                if s.entry.hook_id == hook_id
                and s.entry.digest == digest
                and s.entry.received_at >= since
            ]
            if not found:
                return None
            return max(found, key=lambda s: (s.entry.received_at, s.entry.id)).out()

    def get(self, entry_id: int) -> InboxEntry | None:
        with self._lock:
            stored = self._rows.get(entry_id)
            return stored.out() if stored else None

    def pending(self, limit: int = 100) -> list[InboxEntry]:
        with self._lock:
            waiting = (s for s in self._rows.values() if s.entry.status is AlertStatus.PENDING)
            return [s.out() for s in sorted(waiting, key=lambda s: s.entry.id)[:limit]]

    def count_pending(self) -> int:
        with self._lock:
            return sum(1 for s in self._rows.values() if s.entry.status is AlertStatus.PENDING)

    def settle(
        self,
        entry_id: int,
        status: AlertStatus,
        reason: str | None,
        message: str,
        fate: Mapping[str, object],
        at: datetime,
    ) -> None:
        self.settle_many([Settlement(entry_id, status, reason, message, fate)], at)

    def settle_many(self, settlements: Sequence[Settlement], at: datetime) -> list[InboxEntry]:
        at = aware_utc("at", at)
        checked = []
        for s in settlements:
            require_final(s.entry_id, s.status)
            checked.append((s, fate_json(s.fate)))
        with self._lock:
            staged: dict[int, _Stored] = {}  # written only once every settlement is accepted
            for s, fate_text in checked:
                stored = staged.get(s.entry_id) or self._rows.get(s.entry_id)
                if stored is None:
                    raise UnknownEntryError(
                        f"inbox entry {s.entry_id}: expected an existing entry, found none"
                    )
                if stored.entry.status is not AlertStatus.PENDING:
                    raise ValueError(
                        f"inbox entry {s.entry_id}: expected a PENDING entry to settle, found it "
                        f"{stored.entry.status.value} already (a settled entry is never changed)"
                    )
                entry = replace(
                    stored.entry, status=s.status, reason=s.reason, message=s.message, settled_at=at
                )
                staged[s.entry_id] = _Stored(entry, fate_text)
            self._rows.update(staged)
            return [staged[s.entry_id].out() for s in settlements]

    def list(
        self,
        *,
        account_id: AccountId | None = None,
        bot_id: BotId | None = None,
        status: AlertStatus | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[InboxEntry]:
        with self._lock:
            chosen = [
                s
                for s in self._rows.values()
                if (account_id is None or s.entry.account_id == account_id)
                and (bot_id is None or s.entry.bot_id == bot_id)
                and (status is None or s.entry.status is status)
                and (before_id is None or s.entry.id < before_id)
            ]
            chosen.sort(key=lambda s: s.entry.id, reverse=True)
            return [s.out() for s in chosen[:limit]]
