"""Contract of the alert inbox: every adapter stores alerts exactly and durably, keeps one entry
per dedupe key (counting repeats, even under concurrent delivery), settles an entry once, and
lists and finds entries the same way."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.memory.inbox import InMemoryInbox
from algodesk.adapters.storage.sql.engine import make_engine
from algodesk.adapters.storage.sql.inbox import SqlInbox
from algodesk.domain.identifiers import AccountId, BotId
from algodesk.ports.inbox import (
    AlertStatus,
    Inbox,
    InboxEntry,
    NewAlert,
    Settlement,
    UnknownEntryError,
)

T0 = datetime(2026, 1, 5, 9, 15, 0, 123456, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))
ACCT = AccountId("acct-1")
BOT = BotId("bot-1")
_names = itertools.count(1)


def alert(n: int = 1, body: bytes | None = None, **kw: Any) -> NewAlert:
    body = body if body is not None else f'{{"n":{n}}}'.encode()
    args: dict[str, Any] = {
        "hook_id": "hook-1",
        "account_id": ACCT,
        "bot_id": BOT,
        "received_at": T0 + timedelta(seconds=n),
        "body": body,
        "digest": hashlib.sha256(body).hexdigest(),
        "dedupe_key": f"key-{n}",
    }
    return NewAlert(**(args | kw))


@pytest.fixture
def inbox(store_engine: sa.Engine | None) -> Inbox:
    if store_engine is None:
        return InMemoryInbox()
    return SqlInbox(store_engine)


@pytest.fixture
def sql_engine(migrated_engine: sa.Engine) -> sa.Engine:
    """The SQL adapters only (SQLite, PostgreSQL), for what the memory store cannot show."""
    return migrated_engine


def test_an_alert_round_trips_exactly(inbox: Inbox) -> None:
    body = b'\xff\xfe\x00{"ticker":"NIFTY"}\x80\n'  # not UTF-8: stored as bytes, untouched
    received = datetime(2026, 1, 5, 14, 45, 0, 654321, tzinfo=IST)
    entry, new = inbox.add(alert(1, body, received_at=received, remote_addr="52.89.214.238"))
    assert new
    assert entry.status is AlertStatus.PENDING
    assert entry.fate == {}
    assert entry.settled_at is None
    assert entry.duplicates == 0
    stored = inbox.get(entry.id)
    assert stored is not None
    assert stored == entry
    assert stored.body == body
    assert stored.received_at == received
    assert stored.received_at.utcoffset() == timedelta(0)
    assert stored.remote_addr == "52.89.214.238"
    assert stored.digest == hashlib.sha256(body).hexdigest()
    assert inbox.get(entry.id + 1000) is None


def test_a_naive_time_is_refused(inbox: Inbox) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        inbox.add(alert(1, received_at=datetime(2026, 1, 5, 9, 15)))  # noqa: DTZ001
    assert inbox.list() == []


def test_an_alert_rejected_on_arrival_is_stored_settled(inbox: Inbox) -> None:
    entry, new = inbox.add(
        alert(1, status=AlertStatus.REJECTED, reason="STALE", message="sent 120 s ago")
    )
    assert new
    assert inbox.get(entry.id) == entry
    assert (entry.status, entry.reason, entry.message) == (
        AlertStatus.REJECTED,
        "STALE",
        "sent 120 s ago",
    )
    assert entry.settled_at == entry.received_at
    assert inbox.pending() == []
    with pytest.raises(ValueError, match="PENDING"):
        inbox.settle(entry.id, AlertStatus.EXECUTED, None, "", {}, T0)


def test_a_duplicate_returns_the_first_entry_and_is_counted(inbox: Inbox) -> None:
    first, new = inbox.add(alert(1))
    assert new
    again, new_again = inbox.add(alert(2, dedupe_key=first.dedupe_key))
    assert not new_again
    assert again.id == first.id
    assert again.body == first.body  # the first delivery is kept
    assert again.duplicates == 1
    third, _ = inbox.add(alert(3, dedupe_key=first.dedupe_key))
    assert third.duplicates == 2
    stored = inbox.get(first.id)
    assert stored is not None
    assert stored.duplicates == 2
    assert [e.id for e in inbox.pending()] == [first.id]


T = TypeVar("T")


def _at_once(workers: int, deliver: Callable[[int], T]) -> list[T]:
    """Run ``deliver(0)`` ... ``deliver(workers - 1)`` on as many threads, released together;
    their results in that order (the first error, if any, is raised)."""
    barrier = threading.Barrier(workers)
    results: dict[int, T] = {}
    errors: list[BaseException] = []
    guard = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait()
            result = deliver(n)
            with guard:
                results[n] = result
        except BaseException as exc:  # raised below
            with guard:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [results[n] for n in range(workers)]


def test_concurrent_deliveries_of_one_key_store_exactly_one(inbox: Inbox) -> None:
    workers = 8
    results = _at_once(workers, lambda n: inbox.add(alert(n, dedupe_key="same")))
    assert sum(new for _, new in results) == 1
    assert len({entry.id for entry, _ in results}) == 1
    assert len(inbox.list()) == 1
    stored = inbox.get(results[0][0].id)
    assert stored is not None
    assert stored.duplicates == workers - 1


def test_pending_is_oldest_first_and_limited(inbox: Inbox) -> None:
    ids = [inbox.add(alert(n))[0].id for n in range(1, 6)]
    assert [e.id for e in inbox.pending()] == ids
    assert [e.id for e in inbox.pending(limit=2)] == ids[:2]
    inbox.settle(ids[0], AlertStatus.EXECUTED, None, "done", {}, T0 + timedelta(minutes=1))
    assert [e.id for e in inbox.pending(limit=2)] == ids[1:3]


def test_settle_records_the_fate_once(inbox: Inbox) -> None:
    entry, _ = inbox.add(alert(1))
    fate: dict[str, object] = {
        "orders": [{"client_order_id": "O1", "outcome": "DENIED", "code": "MAX_NOTIONAL"}],
        "qty": "1.50",
        "ok": False,
        "none": None,
    }
    at = datetime(2026, 1, 5, 15, 0, 0, 1, tzinfo=IST)
    inbox.settle(entry.id, AlertStatus.DENIED, "MAX_NOTIONAL", "notional 1.2M > 1M", fate, at)
    settled = inbox.get(entry.id)
    assert settled is not None
    assert settled.status is AlertStatus.DENIED
    assert (settled.reason, settled.message) == ("MAX_NOTIONAL", "notional 1.2M > 1M")
    assert settled.fate == fate
    assert settled.settled_at is not None
    assert settled.settled_at == at
    assert settled.settled_at.utcoffset() == timedelta(0)
    assert inbox.pending() == []
    with pytest.raises(ValueError, match=r"expected a PENDING entry.*found it DENIED"):
        inbox.settle(entry.id, AlertStatus.EXECUTED, None, "again", {}, at)
    assert inbox.get(entry.id) == settled  # unchanged


def test_settle_refuses_bad_requests_and_changes_nothing(inbox: Inbox) -> None:
    entry, _ = inbox.add(alert(1))
    with pytest.raises(KeyError, match="expected an existing entry"):
        inbox.settle(entry.id + 1000, AlertStatus.EXECUTED, None, "", {}, T0)
    with pytest.raises(ValueError, match="expected a final status"):
        inbox.settle(entry.id, AlertStatus.PENDING, None, "", {}, T0)
    with pytest.raises(ValueError, match="expected JSON values"):
        inbox.settle(entry.id, AlertStatus.EXECUTED, None, "", {"at": T0}, T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        inbox.settle(entry.id, AlertStatus.EXECUTED, None, "", {}, T0.replace(tzinfo=None))
    assert inbox.get(entry.id) == entry


def test_settle_many_records_a_batch_and_returns_it_as_stored(inbox: Inbox) -> None:
    ids = [inbox.add(alert(n))[0].id for n in range(1, 5)]
    at = datetime(2026, 1, 5, 15, 0, 0, 1, tzinfo=IST)
    batch = [
        Settlement(ids[2], AlertStatus.DENIED, "MAX_NOTIONAL", "too big", {"orders": [{"ok": 0}]}),
        Settlement(ids[0], AlertStatus.EXECUTED, None, "1 order", {"orders": [], "q": "1.5"}),
        Settlement(ids[1], AlertStatus.REJECTED, "unknown_symbol", "no TSLA", {}),
    ]
    settled = inbox.settle_many(batch, at)
    assert [e.id for e in settled] == [ids[2], ids[0], ids[1]]  # the order given
    assert settled == [inbox.get(i) for i in (ids[2], ids[0], ids[1])]  # as stored
    for entry, s in zip(settled, batch, strict=True):
        assert (entry.status, entry.reason, entry.message) == (s.status, s.reason, s.message)
        assert entry.fate == s.fate
        assert entry.settled_at == at
        assert entry.settled_at is not None
        assert entry.settled_at.utcoffset() == timedelta(0)
    assert [e.id for e in inbox.pending()] == [ids[3]]
    assert inbox.settle_many([], at) == []


@pytest.mark.parametrize("bad", ["settled", "unknown", "twice"])
def test_settle_many_is_all_or_none(inbox: Inbox, bad: str) -> None:
    ids = [inbox.add(alert(n))[0].id for n in range(1, 4)]
    inbox.settle(ids[2], AlertStatus.EXECUTED, None, "first", {"orders": []}, T0)
    before = [inbox.get(i) for i in ids]
    culprit = {"settled": ids[2], "unknown": ids[2] + 1000, "twice": ids[0]}[bad]
    batch = [
        Settlement(ids[0], AlertStatus.EXECUTED, None, "ok", {"orders": []}),
        Settlement(ids[1], AlertStatus.DENIED, "HALTED", "halted", {"orders": []}),
        Settlement(culprit, AlertStatus.REJECTED, "stale", "late", {"orders": []}),
    ]
    with pytest.raises(ValueError, match=f"inbox entry {culprit}: expected") as raised:
        inbox.settle_many(batch, T0 + timedelta(minutes=1))
    assert isinstance(raised.value, UnknownEntryError) == (bad == "unknown")
    assert [inbox.get(i) for i in ids] == before  # nothing written, the earlier ones neither
    assert [e.id for e in inbox.pending()] == ids[:2]


@pytest.mark.parametrize(
    "order", [["unknown", "unknown"], ["unknown", "pending", "pending"], ["pending", "pending"]]
)
def test_settle_many_names_the_first_refused_entry_in_the_order_given(
    inbox: Inbox, order: list[str]
) -> None:
    pending = inbox.add(alert(1))[0].id
    ids = [pending if kind == "pending" else pending + 1000 for kind in order]
    batch = [Settlement(i, AlertStatus.EXECUTED, None, "", {"orders": []}) for i in ids]
    first_bad = next((n for n, kind in enumerate(order) if kind == "unknown"), 1)
    with pytest.raises(ValueError, match=f"inbox entry {ids[first_bad]}: expected") as raised:
        inbox.settle_many(batch, T0)
    assert isinstance(raised.value, UnknownEntryError) == (order[first_bad] == "unknown")
    assert [e.id for e in inbox.pending()] == [pending]


def test_settle_many_refuses_bad_input_and_changes_nothing(inbox: Inbox) -> None:
    ids = [inbox.add(alert(n))[0].id for n in range(1, 3)]
    good = Settlement(ids[0], AlertStatus.EXECUTED, None, "", {})
    cases: list[tuple[Settlement, datetime, str]] = [
        (Settlement(ids[1], AlertStatus.PENDING, None, "", {}), T0, "expected a final status"),
        (Settlement(ids[1], AlertStatus.EXECUTED, None, "", {"at": T0}), T0, "expected JSON"),
        (Settlement(ids[1], AlertStatus.EXECUTED, None, "", {}), T0.replace(tzinfo=None), "aware"),
    ]
    for bad, at, message in cases:
        with pytest.raises(ValueError, match=message):
            inbox.settle_many([good, bad], at)
    assert [e.id for e in inbox.pending()] == ids


def test_list_filters_newest_first_and_pages_back(inbox: Inbox) -> None:
    other_acct, other_bot = AccountId("acct-2"), BotId("bot-2")
    a1, _ = inbox.add(alert(1))
    b1, _ = inbox.add(alert(2, bot_id=other_bot))
    c1, _ = inbox.add(alert(3, account_id=other_acct, bot_id=other_bot))
    a2, _ = inbox.add(alert(4))
    a3, _ = inbox.add(alert(5, status=AlertStatus.REJECTED, reason="BAD_SECRET"))
    inbox.settle(a1.id, AlertStatus.EXECUTED, None, "", {}, T0 + timedelta(minutes=1))

    def ids(entries: list[InboxEntry]) -> list[int]:
        return [e.id for e in entries]

    everything = [a3.id, a2.id, c1.id, b1.id, a1.id]
    assert ids(inbox.list()) == everything
    assert ids(inbox.list(account_id=ACCT)) == [a3.id, a2.id, b1.id, a1.id]
    assert ids(inbox.list(bot_id=other_bot)) == [c1.id, b1.id]
    assert ids(inbox.list(account_id=ACCT, bot_id=other_bot)) == [b1.id]
    assert ids(inbox.list(status=AlertStatus.PENDING)) == [a2.id, c1.id, b1.id]
    assert ids(inbox.list(status=AlertStatus.REJECTED)) == [a3.id]
    assert ids(inbox.list(account_id=ACCT, status=AlertStatus.EXECUTED)) == [a1.id]
    paged: list[int] = []
    before: int | None = None
    while page := inbox.list(before_id=before, limit=2):
        paged += ids(page)
        before = page[-1].id
    assert paged == everything
    assert ids(inbox.list(before_id=c1.id, bot_id=BOT)) == [a1.id]


def test_digests_since_lists_the_bodies_received_since_oldest_first(inbox: Inbox) -> None:
    for n in (3, 1, 2):
        inbox.add(alert(n))
    inbox.add(alert(4, body=b'{"n":1}', dedupe_key="key-4b"))  # the same body again, later
    digest = {n: hashlib.sha256(f'{{"n":{n}}}'.encode()).hexdigest() for n in (1, 2, 3)}
    assert inbox.digests_since(T0) == [digest[1], digest[2], digest[3], digest[1]]
    assert inbox.digests_since(T0 + timedelta(seconds=2)) == [digest[2], digest[3], digest[1]]
    assert inbox.digests_since((T0 + timedelta(seconds=2)).astimezone(IST)) == [
        digest[2],
        digest[3],
        digest[1],
    ]
    assert inbox.digests_since(T0 + timedelta(seconds=5)) == []


def test_find_recent_looks_back_over_the_window(inbox: Inbox) -> None:
    body = b'{"action":"buy"}'
    early, _ = inbox.add(alert(1, body, received_at=T0))
    late, _ = inbox.add(alert(2, body, received_at=T0 + timedelta(seconds=30)))
    inbox.add(alert(3, b"other", received_at=T0 + timedelta(seconds=40)))
    inbox.add(alert(4, body, hook_id="hook-2", received_at=T0 + timedelta(seconds=50)))
    digest = hashlib.sha256(body).hexdigest()
    assert inbox.find_recent("hook-1", digest, T0 - timedelta(hours=1)) == late
    assert inbox.find_recent("hook-1", digest, T0 + timedelta(seconds=30)) == late  # inclusive
    assert inbox.find_recent("hook-1", digest, T0 + timedelta(seconds=31)) is None
    assert inbox.find_recent("hook-3", digest, T0) is None
    # 'since' in another zone means the same instant
    assert inbox.find_recent("hook-1", digest, (T0 + timedelta(seconds=1)).astimezone(IST)) == late
    assert early.id != late.id


def test_settle_many_is_one_transaction(sql_engine: sa.Engine) -> None:
    """A batch of fates is one commit: one UPDATE for all its entries (an executemany) and
    one SELECT of them as stored."""
    engine = sql_engine
    inbox = SqlInbox(engine)
    ids = [inbox.add(alert(n))[0].id for n in range(1, 4)]
    statements: list[str] = []
    commits: list[object] = []

    def record(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split(maxsplit=1)[0].upper())

    def commit(conn: Any) -> None:
        commits.append(conn)

    sa.event.listen(engine, "before_cursor_execute", record)
    sa.event.listen(engine, "commit", commit)
    try:
        batch = [Settlement(i, AlertStatus.EXECUTED, None, "", {"orders": []}) for i in ids]
        settled = inbox.settle_many(batch, T0)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        sa.event.remove(engine, "commit", commit)
    assert [s for s in statements if s != "BEGIN"] == ["UPDATE", "SELECT"]
    assert len(commits) == 1
    assert [e.status for e in settled] == [AlertStatus.EXECUTED] * 3


def test_a_new_alert_is_one_statement_and_committed(sql_engine: sa.Engine) -> None:
    """The webhook's hot path: one INSERT round trip, durable when ``add`` returns."""
    engine = sql_engine
    inbox = SqlInbox(engine)
    statements: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split(maxsplit=1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        entry, _ = inbox.add(alert(1))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert [s for s in statements if s != "BEGIN"] == ["INSERT"]
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        assert SqlInbox(other).get(entry.id) == entry  # visible to another connection pool
    finally:
        other.dispose()


def test_concurrent_deliveries_are_all_stored_once_each_and_repeats_counted(inbox: Inbox) -> None:
    """Many webhooks at once (the SQL inbox commits them in shared batches): every alert is
    stored exactly once, each repeat finds its first entry, and every entry is there when its
    ``add`` returns."""
    workers, keys = 24, 8

    def deliver(n: int) -> tuple[InboxEntry, bool]:
        result = inbox.add(alert(n, dedupe_key=f"key-{n % keys}"))
        assert inbox.get(result[0].id) is not None  # stored when add returns
        return result

    results = _at_once(workers, deliver)
    assert sum(new for _, new in results) == keys
    for k in range(keys):
        ids = {results[n][0].id for n in range(k, workers, keys)}
        assert len(ids) == 1  # every delivery of one key answers with the same entry
    stored = inbox.list()
    assert sorted(e.dedupe_key for e in stored) == sorted(f"key-{k}" for k in range(keys))
    assert sum(e.duplicates for e in stored) == workers - keys
    assert inbox.count_pending() == keys


def test_count_pending_counts_what_pending_lists(inbox: Inbox) -> None:
    assert inbox.count_pending() == 0
    ids = [inbox.add(alert(n))[0].id for n in range(1, 5)]
    inbox.add(alert(1))  # a repeat is no new entry
    inbox.add(alert(9, status=AlertStatus.REJECTED, reason="bad_value", message="no"))
    assert inbox.count_pending() == 4 == len(inbox.pending())
    inbox.settle(ids[0], AlertStatus.EXECUTED, None, "done", {}, T0 + timedelta(minutes=1))
    assert inbox.count_pending() == 3
