"""The CLI from the user's side: init, the demo, `ledger verify` and `ledger show`, and
tampering with the ledger by raw SQL on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from algodesk import __version__
from algodesk.adapters.storage.sql import codec
from algodesk.adapters.storage.sql.engine import head_revision, make_engine, migrate
from algodesk.adapters.storage.sql.tables import ledger_entries, ledger_postings
from algodesk.bootstrap import init_storage, open_desk
from algodesk.config import Settings
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, LedgerEntryId
from algodesk.domain.ledger import booking
from algodesk.domain.ledger.chain import entry_hash, seal
from algodesk.domain.ledger.entries import CASH, PNL_REALIZED, LedgerEntry, Posting
from algodesk.domain.values import Currency, money
from algodesk.entrypoints.cli.app import app
from tests.conftest import AAPL, ACCOUNT, T0, make_fill

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def seeded(database_url: str) -> str:
    """A database with the demo ledger: demo #1 deposit, #2 allocation, #3-#5 fills."""
    code, out = cli("init", "--database-url", database_url)
    assert code == 0, out
    code, out = cli("demo", "seed", "--database-url", database_url)
    assert code == 0, out
    assert "5 new entries" in out
    return database_url


@pytest.fixture
def raw(seeded: str) -> Iterator[sa.Connection]:
    """A raw connection with the append-only guards removed, as an intruder would do first."""
    engine = make_engine(seeded)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in ("ledger_entries", "ledger_postings"):
                conn.execute(sa.text(f"DROP TRIGGER {table}_append_only ON {table}"))
        else:
            for table in ("ledger_entries", "ledger_postings"):
                for action in ("update", "delete"):
                    conn.execute(sa.text(f"DROP TRIGGER {table}_no_{action}"))
    with engine.begin() as conn:
        yield conn
    engine.dispose()


def verify_fails(url: str) -> str:
    code, out = cli("ledger", "verify", "--database-url", url)
    assert code == 1, out
    assert "FAILED" in out
    return out


def test_a_fresh_ledger_verifies(seeded: str) -> None:
    code, out = cli("ledger", "verify", "--database-url", seeded)
    assert code == 0, out
    assert "OK: 5 entries in 1 accounts" in out
    assert "demo: head #5" in out
    # Seeding again books nothing and the chain still verifies.
    assert "already seeded" in cli("demo", "seed", "--database-url", seeded)[1]
    assert cli("ledger", "verify", "--database-url", seeded)[0] == 0


def test_the_ledger_refuses_updates_and_deletes(seeded: str) -> None:
    engine = make_engine(seeded)
    try:
        for statement in (
            "UPDATE ledger_postings SET amount = amount WHERE seq = 1",
            "DELETE FROM ledger_entries WHERE seq = 5",
        ):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
    assert cli("ledger", "verify", "--database-url", seeded)[0] == 0


def test_an_edited_amount_is_found(seeded: str, raw: sa.Connection) -> None:
    raw.execute(
        sa.text("UPDATE ledger_postings SET amount = :a WHERE account_id = 'demo' AND seq = 4"),
        {"a": Decimal("-1.00") if raw.dialect.name == "postgresql" else "-1"},
    )
    raw.commit()
    out = verify_fails(seeded)
    assert "entry demo #4 (fill:PAPER:demo-2): HASH_MISMATCH" in out
    assert "changed after it was written" in out


def test_a_deleted_entry_is_found(seeded: str, raw: sa.Connection) -> None:
    raw.execute(sa.text("DELETE FROM ledger_postings WHERE account_id = 'demo' AND seq = 3"))
    raw.execute(sa.text("DELETE FROM ledger_entries WHERE account_id = 'demo' AND seq = 3"))
    raw.commit()
    out = verify_fails(seeded)
    assert "entry demo #4 (fill:PAPER:demo-2): MISSING_ENTRY" in out
    assert "#3 is missing" in out


def test_a_deleted_last_entry_is_found(seeded: str, raw: sa.Connection) -> None:
    raw.execute(sa.text("DELETE FROM ledger_postings WHERE account_id = 'demo' AND seq = 5"))
    raw.execute(sa.text("DELETE FROM ledger_entries WHERE account_id = 'demo' AND seq = 5"))
    raw.commit()
    out = verify_fails(seeded)
    assert "entry demo #5: MISSING_ENTRY" in out
    assert "the recorded chain head is #5, but entries end at #4" in out


def test_two_swapped_entries_are_found(seeded: str, raw: sa.Connection) -> None:
    for table in ("ledger_postings", "ledger_entries"):
        for old, new in ((3, -3), (4, 3), (-3, 4)):
            raw.execute(
                sa.text(f"UPDATE {table} SET seq = :new WHERE account_id = 'demo' AND seq = :old"),
                {"old": old, "new": new},
            )
    raw.commit()
    out = verify_fails(seeded)
    assert "entry demo #3 (fill:PAPER:demo-2): CHAIN_BROKEN" in out


def _insert_forged(raw: sa.Connection, entry: LedgerEntry) -> None:
    """Insert rows straight into the ledger tables, past every check algodesk makes."""
    raw.execute(ledger_entries.insert(), [codec.entry_row(entry)])
    raw.execute(ledger_postings.insert(), codec.posting_rows(entry))


def _forged_deposit(raw: sa.Connection) -> LedgerEntry:
    head = raw.execute(
        sa.text("SELECT seq, hash FROM ledger_heads WHERE account_id = 'demo'")
    ).one()
    new = booking.deposit(
        AccountId("demo"), LedgerEntryId("deposit:forged"), T0, money("1000000", "USD")
    )
    return seal(new, int(head.seq) + 1, head.hash)


def test_a_forged_row_with_a_made_up_hash_is_found(seeded: str, raw: sa.Connection) -> None:
    forged = _forged_deposit(raw)
    _insert_forged(raw, replace(forged, hash=hashlib.sha256(b"forged").hexdigest()))
    raw.commit()
    out = verify_fails(seeded)
    assert "entry demo #6 (deposit:forged): HASH_MISMATCH" in out


def test_a_forged_row_with_a_correctly_computed_hash_is_found(
    seeded: str, raw: sa.Connection
) -> None:
    """An intruder who knows the algorithm appends a well-formed entry but cannot hide it from
    the recorded chain head."""
    _insert_forged(raw, _forged_deposit(raw))
    raw.commit()
    out = verify_fails(seeded)
    assert "entry demo #6 (deposit:forged): PAST_HEAD" in out


def _rewrite_chain(raw: sa.Connection, entries: list[LedgerEntry]) -> None:
    """Replace the stored chain with ``entries``, re-hashed so every link holds."""
    raw.execute(sa.text("DELETE FROM ledger_postings"))
    raw.execute(sa.text("DELETE FROM ledger_entries"))
    prev = entries[0].prev_hash
    for entry in entries:
        draft = replace(entry, prev_hash=prev, hash="")
        forged = replace(draft, hash=entry_hash(draft))
        prev = forged.hash
        _insert_forged(raw, forged)
    raw.execute(sa.text("UPDATE ledger_heads SET hash = :h WHERE account_id = 'demo'"), {"h": prev})


def test_a_rewritten_booking_that_keeps_the_chain_is_found_by_fifo_recomputation(
    seeded: str, raw: sa.Connection
) -> None:
    """An intruder skims the realized profit of the closing trade out of cash and recomputes
    every hash and the head: chain and balance hold, the FIFO recomputation does not."""
    desk = open_desk(Settings(database_url=seeded))
    try:
        entries = desk.ledger.entries(AccountId("demo"))
    finally:
        desk.close()
    closing = entries[4]
    (pnl,) = [p for p in closing.postings if p.book == PNL_REALIZED]  # -541: a profit
    skimmed: list[Posting] = []
    for posting in closing.postings:
        if posting.book == PNL_REALIZED:
            continue
        skim = posting.book == CASH and posting.amount > 0
        skimmed.append(replace(posting, amount=posting.amount + pnl.amount) if skim else posting)
    _rewrite_chain(raw, [*entries[:4], replace(closing, postings=tuple(skimmed))])
    raw.commit()
    out = verify_fails(seeded)
    assert "entry demo #5 (fill:PAPER:demo-3): FIFO_MISMATCH" in out
    assert "cash USD: recorded 22426, FIFO recomputation from the fills gives 22967" in out


def test_commands_that_touch_storage_refuse_an_uninitialised_data_dir(tmp_path: Path) -> None:
    code, out = cli("ledger", "verify", "--data-dir", str(tmp_path / "nothing"))
    assert code == 2
    assert "run `algodesk init` first" in out


def test_init_and_show_with_a_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "desk"
    code, out = cli("init", "--data-dir", str(data))
    assert code == 0, out
    assert (data / "algodesk.db").exists()
    assert cli("init", "--data-dir", str(data))[0] == 0  # safe to repeat
    assert "The ledger is empty." in cli("ledger", "show", "--data-dir", str(data))[1]
    cli("demo", "seed", "--data-dir", str(data))
    code, out = cli("ledger", "show", "--data-dir", str(data))
    assert code == 0, out
    assert "SELL 120 AAPL.NASDAQ @ 191.4" in out
    # cash 100000 - 18726 - 9256 + 22967 = 94985; realized 541, fees 3, equity 100727
    for figure in ("94,985.00", "541.00", "538.00", "100,727.00"):
        assert figure in out


def test_a_bad_database_url_is_a_clear_error() -> None:
    code, out = cli("ledger", "verify", "--database-url", "mysql://x/y")
    assert code == 2
    assert "expected a sqlite:// or postgresql:// URL" in out


def test_an_unreachable_database_hides_its_password() -> None:
    code, out = cli("ledger", "verify", "--database-url", "postgresql://me:s3cret@127.0.0.1:9/x")
    assert code == 2
    assert "s3cret" not in out
    assert "postgresql://me:***@127.0.0.1:9/x" in out


def test_the_installed_command_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("algodesk")
    version = subprocess.run([exe, "version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"algodesk {__version__}"
    init = subprocess.run(
        [exe, "init", "--data-dir", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert init.returncode == 0, init.stderr
    assert f"schema revision {head_revision()}" in init.stdout


def _head(url: str) -> str:
    out = cli("ledger", "verify", "--database-url", url)[1]
    line = next(line for line in out.splitlines() if "demo: head #" in line)
    seq, digest = line.split("#", 1)[1].split()
    return f"demo={seq}:{digest[:16]}"


def test_a_rewound_ledger_is_found_against_a_head_kept_outside(
    seeded: str, raw: sa.Connection
) -> None:
    """An intruder removes the last trade and rewinds the recorded head with it: only a head
    the trader kept elsewhere can tell."""
    anchor = _head(seeded)
    assert cli("ledger", "verify", "--database-url", seeded, "--expect-head", anchor)[0] == 0
    previous = raw.execute(
        sa.text("SELECT hash FROM ledger_entries WHERE account_id = 'demo' AND seq = 4")
    ).scalar_one()
    raw.execute(sa.text("DELETE FROM ledger_postings WHERE account_id = 'demo' AND seq = 5"))
    raw.execute(sa.text("DELETE FROM ledger_entries WHERE account_id = 'demo' AND seq = 5"))
    raw.execute(
        sa.text("UPDATE ledger_heads SET seq = 4, hash = :h WHERE account_id = 'demo'"),
        {"h": previous},
    )
    raw.commit()
    assert cli("ledger", "verify", "--database-url", seeded)[0] == 0  # consistent inside the DB
    code, out = cli("ledger", "verify", "--database-url", seeded, "--expect-head", anchor)
    assert code == 1
    assert "entry demo #5: ANCHOR_MISSING: you recorded entry #5, the ledger ends at #4" in out


def test_a_malformed_expected_head_is_a_clear_error(seeded: str) -> None:
    code, out = cli("ledger", "verify", "--database-url", seeded, "--expect-head", "demo=5")
    assert code == 2
    assert "expected ACCOUNT=SEQ:HASH" in out
    # Entries are numbered from 1: a head #0 names no entry and could never be found wrong.
    zero = f"demo=0:{'a' * 64}"
    code, out = cli("ledger", "verify", "--database-url", seeded, "--expect-head", zero)
    assert code == 2
    assert "SEQ from 1" in out, out


def test_init_upgrades_an_older_schema_and_keeps_the_ledger(database_url: str) -> None:
    from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
    from algodesk.services.ledger import LedgerService
    from algodesk.testing.clock import FixedClock

    engine = make_engine(database_url)
    migrate(engine, "0001")
    ledger = LedgerService(lambda: SqlUnitOfWork(engine), FixedClock())
    ledger.deposit(AccountId("old"), money("250", "USD"), "before the upgrade", key="d1")
    engine.dispose()
    code, out = cli("demo", "seed", "--database-url", database_url)
    assert code == 2
    assert "run `algodesk init` to migrate" in out
    assert cli("init", "--database-url", database_url)[0] == 0
    assert cli("demo", "seed", "--database-url", database_url)[0] == 0
    code, out = cli("ledger", "verify", "--database-url", database_url)
    assert code == 0, out
    assert "OK: 6 entries in 2 accounts" in out


def test_show_names_each_currency_an_entry_moves_cash_in(tmp_path: Path) -> None:
    """A fee in BNB on a dollar trade is not half a dollar more."""
    data = tmp_path / "desk"
    settings = Settings(data_dir=data)
    init_storage(settings)
    desk = open_desk(settings)
    try:
        desk.ledger.deposit(ACCOUNT, money("1000", "USD"))
        fill = make_fill(1, OrderSide.BUY, "1", "100", "0.5", currency=Currency("BNB"))
        desk.ledger.record_fill(fill, AAPL)
    finally:
        desk.close()
    code, out = cli("ledger", "show", "--data-dir", str(data))
    assert code == 0, out
    assert "-100.00 USD, -0.50 BNB" in out
    assert "-100.50" not in out
