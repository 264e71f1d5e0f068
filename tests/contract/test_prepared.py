"""Prepared statements on the DBAPI cursor behave as ``Connection.execute`` does: in the
connection's transaction, with SQLAlchemy's type conversions and exception classes, on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.sql.prepared import Prepared
from algodesk.adapters.storage.sql.tables import journal, sequences

INSERT = Prepared(sa.insert(journal))
BUMP = Prepared(
    sa.update(sequences)
    .where(sequences.c.name == sa.bindparam("w_name"))
    .values(value=sequences.c.value + 1)
    .returning(sequences.c.value)
)
IST = timezone(timedelta(hours=5, minutes=30))


def _row(key: str, ts: datetime | None = None) -> dict[str, Any]:
    ts = ts or datetime(2026, 11, 22, 9, 15, 0, 123456, tzinfo=IST)
    return {"account_id": "acc", "kind": "K", "key": key, "ts": ts, "payload": "{}"}


def _keys(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [r.key for r in conn.execute(sa.select(journal.c.key).order_by(journal.c.seq))]


def test_a_statement_after_a_commit_or_rollback_is_in_a_new_transaction(
    migrated_engine: sa.Engine,
) -> None:
    """As SQLAlchemy's autobegin: what follows a commit is undone by the next rollback (not
    committed on its own, as a driver in autocommit mode would) and kept by the next commit
    (not lost in a transaction SQLAlchemy does not know of)."""
    with migrated_engine.connect() as conn:
        conn.begin()
        INSERT.execute(conn, _row("a"))
        conn.commit()
        INSERT.execute(conn, _row("b"))
        conn.rollback()
        INSERT.execute(conn, _row("c"))
        conn.commit()
        INSERT.execute(conn, _row("d"))  # never committed: closing rolls it back
    assert _keys(migrated_engine) == ["a", "c"]


def test_values_go_through_the_column_types(migrated_engine: sa.Engine) -> None:
    """The journal's ``ts`` is stored as its type stores it (UTC), read back equal."""
    at = datetime(2026, 11, 22, 9, 15, 0, 123456, tzinfo=IST)
    with migrated_engine.connect() as conn:
        conn.begin()
        INSERT.executemany(conn, [_row("a", at), _row("b", at + timedelta(days=1))])
        conn.commit()
    with migrated_engine.connect() as conn:
        stored = list(conn.execute(sa.select(journal.c.ts).order_by(journal.c.seq)).scalars())
    assert stored == [at, at + timedelta(days=1)]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in stored)
    assert stored[0].astimezone(UTC) == at


def test_a_value_the_statement_carries_is_bound_with_the_callers(
    migrated_engine: sa.Engine,
) -> None:
    """``value + 1`` keeps its 1; ``RETURNING`` rows come from the cursor; an unmatched
    ``UPDATE`` changes no row."""
    with migrated_engine.connect() as conn:
        conn.begin()
        conn.execute(sa.insert(sequences), {"name": "s", "value": 41})
        assert BUMP.execute(conn, {"w_name": "s"}).returned()[0] == 42
        assert BUMP.execute(conn, {"w_name": "s"}).returned()[0] == 43
        missing = BUMP.execute(conn, {"w_name": "nope"})
        assert missing.returned() is None
        conn.commit()


def test_a_driver_error_is_raised_as_sqlalchemys(migrated_engine: sa.Engine) -> None:
    """A taken unique key is SQLAlchemy's ``IntegrityError`` (what callers catch), with the
    driver's error as its cause; the transaction is then rolled back by its owner."""
    with migrated_engine.connect() as conn:
        conn.begin()
        INSERT.execute(conn, _row("a"))
        with pytest.raises(sa.exc.IntegrityError) as raised:
            INSERT.execute(conn, _row("a"))
        assert isinstance(raised.value.orig, conn.dialect.loaded_dbapi.IntegrityError)
        conn.rollback()
        with pytest.raises(sa.exc.IntegrityError):
            INSERT.executemany(conn, [_row("x"), _row("x")])
        conn.rollback()
    assert _keys(migrated_engine) == []


def test_with_cursor_listeners_every_statement_goes_through_sqlalchemy(
    migrated_engine: sa.Engine,
) -> None:
    """Instrumentation attached to the engine sees the prepared statements too."""
    seen: list[tuple[str, bool]] = []

    def listen(*args: Any) -> None:
        seen.append((args[2].split(maxsplit=1)[0].upper(), args[5]))

    sa.event.listen(migrated_engine, "before_cursor_execute", listen)
    try:
        with migrated_engine.connect() as conn:
            conn.begin()
            INSERT.execute(conn, _row("a"))
            INSERT.executemany(conn, [_row("b"), _row("c")])
            conn.execute(sa.insert(sequences), {"name": "s", "value": 1})
            assert BUMP.execute(conn, {"w_name": "s"}).returned()[0] == 2
            conn.commit()
    finally:
        sa.event.remove(migrated_engine, "before_cursor_execute", listen)
    writes = [s for s in seen if s[0] != "BEGIN"]
    assert writes == [("INSERT", False), ("INSERT", True), ("INSERT", False), ("UPDATE", False)]
    assert _keys(migrated_engine) == ["a", "b", "c"]


def test_each_set_of_names_is_its_own_statement() -> None:
    """As SQLAlchemy compiles an INSERT for the names given: a column left out is not bound
    (it takes its default), whichever set of names came first."""
    engine = sa.create_engine("sqlite://")
    table = sa.Table("t", sa.MetaData(), sa.Column("a", sa.String), sa.Column("b", sa.Integer))
    table.create(engine)
    insert = Prepared(sa.insert(table))
    with engine.connect() as conn:
        insert.execute(conn, {"a": str(Decimal("1.50")), "b": 1})
        insert.execute(conn, {"a": "x"})  # another set of names: another compiled form
        conn.commit()
        assert list(conn.execute(sa.select(table.c.a, table.c.b))) == [("1.50", 1), ("x", None)]
    engine.dispose()


def test_first_reads_a_row_with_its_columns_conversions(migrated_engine: sa.Engine) -> None:
    find = Prepared(sa.select(journal).where(journal.c.key == sa.bindparam("w_key")))
    at = datetime(2026, 11, 22, 9, 15, 0, 123456, tzinfo=IST)
    with migrated_engine.connect() as conn:
        conn.begin()
        INSERT.execute(conn, _row("a", at))
        row = find.first(conn, {"w_key": "a"})
        assert row is not None
        assert row["ts"] == at  # text on SQLite, read back as an aware time
        assert row["ts"].utcoffset() == timedelta(0)
        assert (row["key"], row["kind"], row["payload"]) == ("a", "K", "{}")
        assert isinstance(row["seq"], int)
        assert find.first(conn, {"w_key": "b"}) is None
        with pytest.raises(KeyError):  # a value left out is not bound as NULL
            find.first(conn, {})
