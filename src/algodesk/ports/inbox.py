"""The alert inbox: every accepted webhook body, stored durably before it is answered, with its
fate once processed. An entry whose dedupe key is known already is a duplicate delivery: the
store keeps the first and counts the repeats. Fates are recorded a batch at a time
(``settle_many``: one transaction, all or none), so draining the inbox costs one commit per batch,
not one per alert."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from algodesk.domain.identifiers import AccountId, BotId

__all__ = [
    "AlertStatus",
    "Inbox",
    "InboxEntry",
    "NewAlert",
    "Settlement",
    "UnknownEntryError",
    "aware_utc",
    "fate_json",
    "require_final",
]


class AlertStatus(StrEnum):
    PENDING = "PENDING"  # stored, not processed yet (processed after a restart)
    EXECUTED = "EXECUTED"  # every order it made was accepted by the engine
    DENIED = "DENIED"  # at least one order was denied by a risk gate (codes in the fate)
    REJECTED = "REJECTED"  # never reached the engine: parse, auth, staleness, mapping


@dataclass(frozen=True, slots=True)
class NewAlert:
    hook_id: str
    account_id: AccountId
    bot_id: BotId
    received_at: datetime
    body: bytes
    digest: str  # SHA-256 of the body, hex
    dedupe_key: str
    remote_addr: str | None = None
    #: An alert rejected on arrival is stored settled, with an empty fate, for the inbox view
    #: and for answering its resends as it was answered.
    status: AlertStatus = AlertStatus.PENDING
    reason: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class InboxEntry:
    id: int
    hook_id: str
    account_id: AccountId
    bot_id: BotId
    received_at: datetime
    body: bytes
    digest: str
    dedupe_key: str
    remote_addr: str | None
    status: AlertStatus
    reason: str | None
    message: str
    #: JSON values only: what the alert became. Once processed it has ``orders`` (each with its
    #: outcome); it is empty while pending and for an alert rejected on arrival.
    fate: Mapping[str, object] = field(default_factory=dict)
    settled_at: datetime | None = None
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class Settlement:
    """What became of one pending entry: its final status and fate (JSON values only)."""

    entry_id: int
    status: AlertStatus
    reason: str | None
    message: str
    fate: Mapping[str, object]


class UnknownEntryError(KeyError, ValueError):
    """A settle named an entry the inbox does not hold: a :class:`KeyError` (what ``settle``
    always raised) and a :class:`ValueError` (what ``settle_many`` raises for any refusal)."""


class Inbox(Protocol):
    def add(self, alert: NewAlert) -> tuple[InboxEntry, bool]:
        """Store ``alert`` durably (committed on return) and return it with True; if an entry
        with the same dedupe key exists, count the repeat and return that entry with False."""
        ...

    def find_recent(self, hook_id: str, digest: str, since: datetime) -> InboxEntry | None:
        """The latest entry of the hook with this body digest received at or after ``since``."""
        ...

    def digests_since(self, since: datetime) -> list[str]:
        """The body digests of the entries received at or after ``since``, oldest first."""
        ...

    def get(self, entry_id: int) -> InboxEntry | None: ...

    def pending(self, limit: int = 100) -> list[InboxEntry]:
        """Unprocessed entries, oldest first."""
        ...

    def count_pending(self) -> int:
        """How many entries are unprocessed (without loading them)."""
        ...

    def settle(
        self,
        entry_id: int,
        status: AlertStatus,
        reason: str | None,
        message: str,
        fate: Mapping[str, object],
        at: datetime,
    ) -> None:
        """Record what became of a pending entry (a settled entry is never changed again:
        a second settle raises :class:`ValueError`; an unknown id raises
        :class:`UnknownEntryError`, a :class:`KeyError`). ``settle_many`` of one."""
        ...

    def settle_many(self, settlements: Sequence[Settlement], at: datetime) -> list[InboxEntry]:
        """Record the fates of several pending entries in one transaction, all or none, and
        return the settled entries as stored, in the order given.

        Each settlement is checked as ``settle`` checks it (a final status, a fate of JSON
        values, an aware ``at``). If any entry is unknown (:class:`UnknownEntryError`), settled
        already or named twice (:class:`ValueError`), nothing is written."""
        ...

    def list(
        self,
        *,
        account_id: AccountId | None = None,
        bot_id: BotId | None = None,
        status: AlertStatus | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[InboxEntry]:
        """Newest first; ``before_id`` pages back."""
        ...


# -- the rules every inbox applies to its inputs (shared by the adapters) -----------------------


def aware_utc(name: str, value: datetime) -> datetime:
    """``value`` in UTC, or a ValueError if it is naive."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name}: expected a timezone-aware datetime, was {value!r}")
    return value.astimezone(UTC)


def fate_json(fate: Mapping[str, object]) -> str:
    """The fate as canonical JSON text, or a ValueError."""
    try:
        return json.dumps(dict(fate), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"fate: expected JSON values only, found: {exc}") from None


def require_final(entry_id: int, status: AlertStatus) -> None:
    """A settle needs a final status."""
    if status is AlertStatus.PENDING:
        raise ValueError(
            f"inbox entry {entry_id}: expected a final status to settle with "
            f"(EXECUTED, DENIED or REJECTED), was {status.value}"
        )
