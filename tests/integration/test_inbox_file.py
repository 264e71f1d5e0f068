"""On SQLite the alert inbox is a file of its own beside the desk's database: a webhook stores
and answers its alert while the engine holds the database's write lock; ``algodesk init``
moves the inbox entries of a desk from before into it; an alert id is never used twice, also
when the inbox file was lost; a desk whose inbox file is not ready is refused with what to do."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from algodesk.adapters.storage.sql.engine import DatabaseNotReadyError, current_revision
from algodesk.adapters.storage.sql.inbox import SqlInbox
from algodesk.adapters.storage.sql.inbox_file import _ALERT_ID, _ALERT_KEYS, inbox_url
from algodesk.adapters.storage.sql.tables import alert_inbox
from algodesk.bootstrap import StorageUnavailableError, init_storage, open_desk
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching import Quote
from algodesk.entrypoints.cli.app import app as cli
from algodesk.ports.inbox import AlertStatus
from algodesk.services.demo import PAPER_ACCOUNT, PAPER_BOT
from tests.desks import FAST_HASHER, demo_runtime, refused_serve

AAPL = InstrumentId("AAPL.PAPER")


def _files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("algodesk-inbox.db*"))


def _remove_inbox_file(data_dir: Path) -> None:
    for path in _files(data_dir):  # the file with its WAL and shared-memory files
        path.unlink()


def _post(runtime: DeskRuntime, n: int) -> int:
    hook = runtime.hooks.active(PAPER_BOT)
    assert hook is not None
    alert = {"action": "buy", "symbol": "AAPL", "qty": "1", "comment": f"alert {n}"}
    alert["timenow"] = runtime.clock.now().isoformat()
    answer = runtime.intake.receive(hook.token, json.dumps(alert).encode(), "127.0.0.1")
    assert answer.status == 200, answer.body
    return int(answer.body["alert_id"])  # type: ignore[call-overload]


def _process(runtime: DeskRuntime) -> None:
    runtime.market.on_event(Quote(AAPL, runtime.clock.now(), Decimal(190)))
    while runtime.processor.drain() > 0:
        pass


def _status(runtime: DeskRuntime, alert_id: int) -> AlertStatus:
    entry = runtime.inbox.get(alert_id)
    assert entry is not None
    return entry.status


def _orders(runtime: DeskRuntime) -> int:
    with runtime.desk.snapshot_factory() as uow:
        return len(uow.orders.list(PAPER_ACCOUNT))


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[DeskRuntime]:
    runtime = demo_runtime(tmp_path)
    yield runtime
    runtime.desk.close()


def test_an_alert_is_stored_and_answered_while_the_engine_holds_the_databases_write_lock(
    runtime: DeskRuntime, tmp_path: Path
) -> None:
    assert _files(tmp_path)[0].name == "algodesk-inbox.db"
    answered: list[int] = []
    with runtime.desk.engine.begin() as conn:  # a writer of the desk's database, mid-commit
        conn.execute(sa.text("SELECT 1"))
        webhook = threading.Thread(target=lambda: answered.append(_post(runtime, 1)))
        webhook.start()
        webhook.join(timeout=3)  # it waited for the lock for up to 5 s, then failed
        assert answered, "the webhook waited for the database's writer"
    _process(runtime)
    entry = runtime.inbox.get(answered[0])
    assert entry is not None
    assert entry.status is AlertStatus.EXECUTED, entry.fate
    assert _orders(runtime) == 1
    with runtime.desk.engine.connect() as conn:  # stored in the inbox file only
        assert conn.execute(sa.select(sa.func.count()).select_from(alert_inbox)).scalar() == 0


def test_init_moves_the_alerts_of_a_desk_from_before_the_inbox_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    runtime = demo_runtime(tmp_path)
    done = _post(runtime, 1)
    _process(runtime)
    waiting = _post(runtime, 2)
    runtime.desk.close()
    # The desk as an earlier version left it: every entry in the database's own table.
    with sqlite3.connect(tmp_path / "algodesk-inbox.db") as old:
        rows = old.execute("SELECT * FROM alert_inbox ORDER BY id").fetchall()
    old.close()
    _remove_inbox_file(tmp_path)
    database = sa.create_engine(f"sqlite:///{tmp_path / 'algodesk.db'}")
    with database.begin() as conn:
        marks = ", ".join("?" * len(rows[0]))
        conn.exec_driver_sql(f"INSERT INTO alert_inbox VALUES ({marks})", rows)
    database.dispose()

    desk = open_desk(settings)
    with pytest.raises(DatabaseNotReadyError, match="algodesk init"):
        DeskRuntime(desk, hasher=FAST_HASHER)
    desk.close()
    result = CliRunner().invoke(cli, ["init", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output

    runtime = DeskRuntime(open_desk(settings), hasher=FAST_HASHER)
    try:
        runtime.load()
        assert _status(runtime, done) is AlertStatus.EXECUTED
        assert _status(runtime, waiting) is AlertStatus.PENDING
        _process(runtime)  # the pending alert is executed from the inbox file
        assert _status(runtime, waiting) is AlertStatus.EXECUTED
        assert _orders(runtime) == 2
        assert _post(runtime, 3) > waiting
        with runtime.desk.engine.connect() as conn:  # moved, not copied
            assert conn.execute(sa.select(sa.func.count()).select_from(alert_inbox)).scalar() == 0
    finally:
        runtime.desk.close()


def test_init_finishes_a_move_that_stopped_after_the_copy(tmp_path: Path) -> None:
    """A crash after the entries were copied into the inbox file and before they were deleted
    from the database: the next init deletes them, and none is in the inbox file twice."""
    settings = Settings(data_dir=tmp_path)
    runtime = demo_runtime(tmp_path)
    ids = [_post(runtime, n) for n in range(3)]
    runtime.desk.close()
    with sqlite3.connect(tmp_path / "algodesk-inbox.db") as inbox:
        rows = inbox.execute("SELECT * FROM alert_inbox ORDER BY id").fetchall()
    inbox.close()
    database = sa.create_engine(f"sqlite:///{tmp_path / 'algodesk.db'}")
    with database.begin() as conn:  # still in the database too
        marks = ", ".join("?" * len(rows[0]))
        conn.exec_driver_sql(f"INSERT INTO alert_inbox VALUES ({marks})", rows)
    database.dispose()

    init_storage(settings)
    desk = open_desk(settings)
    try:
        entries = SqlInbox(desk.inbox_engine).list(limit=10)
        assert sorted(e.id for e in entries) == ids
    finally:
        desk.close()


def test_a_new_inbox_file_never_reuses_an_alert_id_the_journal_has_seen(tmp_path: Path) -> None:
    """An inbox file lost (deleted, not restored) is started again by init above every alert
    id in the journal: a new alert under an old id would be answered from the old alert's
    journal entry and never traded."""
    settings = Settings(data_dir=tmp_path)
    runtime = demo_runtime(tmp_path)
    old = _post(runtime, 1)
    _process(runtime)
    runtime.desk.close()
    _remove_inbox_file(tmp_path)

    # serve does not start a new inbox file by itself: the pending alerts would be gone
    # unsaid.
    said = refused_serve(tmp_path)
    assert "is missing, and the desk has traded alerts: restore it from a backup" in said
    # Everything but taking alerts in works meanwhile; the desk says what to do.
    verify = CliRunner().invoke(cli, ["ledger", "verify", "--data-dir", str(tmp_path)])
    assert verify.exit_code == 0, verify.output
    refused = CliRunner().invoke(
        cli,
        ["alerts", "explain", "-", "--bot", PAPER_BOT.value, "--data-dir", str(tmp_path)],
        input="buy AAPL 1",
    )
    assert refused.exit_code == 2  # the desk's error, not a verdict on the alert
    assert "is missing: run `algodesk init`" in refused.output, refused.output
    assert _files(tmp_path) == []  # the refusal did not leave an empty file behind
    init_storage(settings)
    runtime = DeskRuntime(open_desk(settings), hasher=FAST_HASHER)
    try:
        runtime.load()
        new = _post(runtime, 2)
        assert new > old
        _process(runtime)
        assert _status(runtime, new) is AlertStatus.EXECUTED
        assert _orders(runtime) == 2  # traded, not answered from the old alert's orders
    finally:
        runtime.desk.close()


def test_an_inbox_file_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    demo_runtime(tmp_path).desk.close()
    with sqlite3.connect(tmp_path / "algodesk-inbox.db") as inbox:
        inbox.execute("PRAGMA user_version = 99")
    inbox.close()
    desk = open_desk(Settings(data_dir=tmp_path))
    with pytest.raises(DatabaseNotReadyError, match="newer algodesk"):
        DeskRuntime(desk, hasher=FAST_HASHER)
    desk.close()
    refused = CliRunner().invoke(cli, ["init", "--data-dir", str(tmp_path)])
    assert refused.exit_code != 0
    assert "newer algodesk" in refused.output, refused.output


@pytest.mark.parametrize(
    ("database", "inbox"),
    [
        ("sqlite:////srv/desk/algodesk.db", "sqlite:////srv/desk/algodesk-inbox.db"),
        ("sqlite:///relative/trading.sqlite", "sqlite:///relative/trading-inbox.sqlite"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:desk?mode=memory&cache=shared&uri=true", None),
        ("postgresql+psycopg://desk@localhost/algodesk", None),
    ],
)
def test_where_the_inbox_is_for_each_database(database: str, inbox: str | None) -> None:
    assert inbox_url(database) == inbox


PREVIOUS_HEAD = "0007"  # the schema revision the algodesk before the inbox file expects


def _backup(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite file (the backup API, as `sqlite3 .backup` does)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()


def test_an_inbox_file_restored_from_a_backup_never_reuses_an_alert_id_the_journal_has_seen(
    tmp_path: Path,
) -> None:
    """The two files cannot be copied at one instant: an inbox file backed up before later
    alerts (or restored, as the 'missing' message advises) handed out their ids again, and the
    new alerts were answered from the old ones' journal entries, never traded."""
    settings = Settings(data_dir=tmp_path)
    runtime = demo_runtime(tmp_path)
    _post(runtime, 1)
    _process(runtime)
    _backup(tmp_path / "algodesk-inbox.db", tmp_path / "inbox-backup.db")
    later = _post(runtime, 2)  # stored and traded after the inbox file's backup
    _process(runtime)
    assert _orders(runtime) == 2
    runtime.desk.close()
    _remove_inbox_file(tmp_path)
    shutil.copy(tmp_path / "inbox-backup.db", tmp_path / "algodesk-inbox.db")

    init_storage(settings)  # what `serve` runs at its start
    runtime = DeskRuntime(open_desk(settings), hasher=FAST_HASHER)
    try:
        runtime.load()
        new = _post(runtime, 3)
        _process(runtime)
        assert new > later, f"alert id {new} reused (alert {later} traded under it)"
        assert _status(runtime, new) is AlertStatus.EXECUTED
        assert _orders(runtime) == 3  # traded, not answered from the old alert's orders
    finally:
        runtime.desk.close()


def test_init_never_deletes_from_the_database_an_entry_it_did_not_copy(tmp_path: Path) -> None:
    """An entry of the database whose id is taken in the inbox file by another alert (written
    by an older algodesk after a move) is kept and the move refused, never dropped: it was
    answered 200 (it was skipped by the copy and deleted)."""
    settings = Settings(data_dir=tmp_path)
    runtime = demo_runtime(tmp_path)
    taken = _post(runtime, 1)
    runtime.desk.close()
    with sqlite3.connect(tmp_path / "algodesk-inbox.db") as inbox:
        inbox.row_factory = sqlite3.Row
        row = dict(inbox.execute("SELECT * FROM alert_inbox WHERE id = ?", (taken,)).fetchone())
    inbox.close()
    row.update(dedupe_key="another-alert", digest="f" * 64, body=b"BUY AAPL 2")
    database = sa.create_engine(f"sqlite:///{tmp_path / 'algodesk.db'}")
    with database.begin() as conn:  # same id, another alert
        names = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        conn.execute(sa.text(f"INSERT INTO alert_inbox ({names}) VALUES ({marks})"), row)
    database.dispose()

    with pytest.raises(StorageUnavailableError, match=f"alert {taken} of the database cannot"):
        init_storage(settings)
    with sqlite3.connect(tmp_path / "algodesk-inbox.db") as inbox:
        in_file = inbox.execute(
            "SELECT count(*) FROM alert_inbox WHERE dedupe_key = 'another-alert'"
        ).fetchone()[0]
    inbox.close()
    with sqlite3.connect(tmp_path / "algodesk.db") as db:
        in_database = db.execute(
            "SELECT count(*) FROM alert_inbox WHERE dedupe_key = 'another-alert'"
        ).fetchone()[0]
    db.close()
    assert (in_file, in_database) == (0, 1), "the alert was deleted from the database"


def test_an_older_algodesk_refuses_a_moved_desk(tmp_path: Path) -> None:
    """After the move the database's own inbox table is empty. At the schema revision an
    algodesk from before expects, that version (a rollback, or its `serve` still running while
    the upgrade's `init` moved the entries) opened it and numbered its alerts from 1 again:
    answered from the old alerts' journal entries, never traded."""
    demo_runtime(tmp_path).desk.close()
    desk = open_desk(Settings(data_dir=tmp_path))
    try:
        assert current_revision(desk.engine) not in (None, PREVIOUS_HEAD)
    finally:
        desk.close()


def test_the_runtime_opens_on_a_sqlite_uri_database_url(tmp_path: Path) -> None:
    """`sqlite:///file:/path/desk.db?uri=true` worked before the inbox file; `init` now makes
    the inbox file, and the runtime must find it."""
    url = f"sqlite:///file:{tmp_path / 'desk.db'}?uri=true"
    settings = Settings(data_dir=tmp_path, database_url=url)
    init_storage(settings)
    assert (tmp_path / "desk-inbox.db").exists()
    desk = open_desk(settings)
    try:
        DeskRuntime(desk, hasher=FAST_HASHER)  # refused: "... is missing: run `algodesk init`"
    finally:
        desk.close()


def test_init_reads_the_highest_alert_id_by_index(runtime: DeskRuntime) -> None:
    """Every init (every start of serve) reads the highest alert id in the journal: by
    migration 0008's index, not a scan of the whole journal."""
    with runtime.desk.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN SELECT max({_ALERT_ID}) FROM journal WHERE {_ALERT_KEYS}"
        ).all()
    assert any("USING INDEX ix_journal_alert_id" in str(step) for step in plan), plan
