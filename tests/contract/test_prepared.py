"""Prepared statements on the DBAPI cursor behave as ``Connection.execute`` does: in the
connection's transaction, with SQLAlchemy's type conversions and exception classes, on SQLite
and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.sql.engine import make_engine, migrate
from algodesk.adapters.storage.sql.prepared import Prepared
from algodesk.adapters.storage.sql.tables import journal, sequences
from algodesk.testing.postgres import TemporaryPostgres

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


def test_a_driver_error_shows_no_values_it_was_given(migrated_engine: sa.Engine) -> None:
    """An error's text is logged (an alert that could not be stored): the statement's values,
    a webhook body with its secret among them, are not in it."""
    secret = "TOP-SECRET-VALUE-42"
    row = {**_row("a"), "payload": '{"secret": "' + secret + '"}'}
    with migrated_engine.connect() as conn:
        conn.begin()
        INSERT.execute(conn, row)
        with pytest.raises(sa.exc.IntegrityError) as on_the_cursor:
            INSERT.execute(conn, row)
        conn.rollback()
        with pytest.raises(sa.exc.IntegrityError) as through_sqlalchemy:
            conn.execute(sa.insert(journal), [row, row])
        conn.rollback()
    for raised in (on_the_cursor, through_sqlalchemy):
        assert secret not in str(raised.value)
        assert "parameters hidden" in str(raised.value)


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


@pytest.mark.parametrize("first", ["all", "some"])
def test_each_set_of_names_is_its_own_statement(first: str) -> None:
    """As SQLAlchemy compiles an INSERT for the names given: a column left out is not bound
    (it takes its default), whichever set of names came first."""
    engine = sa.create_engine("sqlite://")
    table = sa.Table("t", sa.MetaData(), sa.Column("a", sa.String), sa.Column("b", sa.Integer))
    table.create(engine)
    insert = Prepared(sa.insert(table))
    rows: list[dict[str, Any]] = [{"a": "x", "b": 1}, {"a": "y"}]
    with engine.connect() as conn:
        for row in rows if first == "all" else rows[::-1]:
            insert.execute(conn, row)
        conn.commit()
        stored = set(conn.execute(sa.select(table.c.a, table.c.b)))
    assert stored == {("x", 1), ("y", None)}
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
        with pytest.raises(sa.exc.StatementError, match="w_key"):  # not bound as NULL
            find.first(conn, {})


@pytest.mark.parametrize("watched", [False, True], ids=["cursor", "through-sqlalchemy"])
def test_all_reads_every_row_with_its_columns_conversions(
    migrated_engine: sa.Engine, watched: bool
) -> None:
    """On the cursor and, with a listener attached, through ``Connection.execute``: the same
    rows, in the statement's order, each converted as :meth:`Prepared.first` converts one."""
    find = Prepared(
        sa.select(journal)
        .where(journal.c.key.in_([sa.bindparam("w_a"), sa.bindparam("w_b")]))
        .order_by(journal.c.seq)
    )
    at = datetime(2026, 11, 22, 9, 15, 0, 123456, tzinfo=IST)
    seen: list[str] = []

    def listen(*args: Any) -> None:
        seen.append(args[2])

    if watched:
        sa.event.listen(migrated_engine, "before_cursor_execute", listen)
    try:
        with migrated_engine.connect() as conn:
            conn.begin()
            for key in ("x", "a", "b"):
                INSERT.execute(conn, _row(key, at))
            rows = find.all(conn, {"w_a": "b", "w_b": "a"})
            assert [(r["key"], r["ts"]) for r in rows] == [("a", at), ("b", at)]
            assert all(r["ts"].utcoffset() == timedelta(0) for r in rows)
            assert all(isinstance(r["seq"], int) for r in rows)
            assert find.all(conn, {"w_a": "nope", "w_b": "nope"}) == []
    finally:
        if watched:
            sa.event.remove(migrated_engine, "before_cursor_execute", listen)
    assert bool(seen) == watched


def test_values_computed_per_execution_are_refused() -> None:
    """A Python-side default, an ``onupdate`` or a callable bind would be frozen at the first
    run (or left NULL): such a statement is refused, not run wrong."""
    engine = sa.create_engine("sqlite://")
    table = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("a", sa.String),
        sa.Column("b", sa.Integer, default=7),
        sa.Column("c", sa.Integer, onupdate=lambda: 1),
    )
    table.create(engine)
    with engine.connect() as conn:
        with pytest.raises(ValueError, match="computes per execution"):
            Prepared(sa.insert(table)).execute(conn, {"a": "x"})
        with pytest.raises(ValueError, match="computes per execution"):
            Prepared(sa.update(table)).execute(conn, {"a": "y"})
        called = sa.bindparam("w", callable_=lambda: "x")
        with pytest.raises(ValueError, match="computes per execution"):
            Prepared(sa.select(table.c.a).where(table.c.a == called)).first(conn, {})
    engine.dispose()


def test_a_value_its_type_refuses_is_a_statement_error(migrated_engine: sa.Engine) -> None:
    """As ``Connection.execute``: a naive time is SQLAlchemy's ``StatementError`` (not a bare
    ValueError, which callers read as a user's bad input)."""
    with migrated_engine.connect() as conn:
        conn.begin()
        with pytest.raises(sa.exc.StatementError) as raised:
            INSERT.execute(conn, _row("a", datetime(2026, 11, 22, 9, 15)))  # noqa: DTZ001
        assert isinstance(raised.value.orig, ValueError)
        with pytest.raises(sa.exc.StatementError):
            INSERT.executemany(conn, [_row("b", datetime(2026, 11, 22, 9, 15))])  # noqa: DTZ001


def test_names_sqlalchemy_escapes_are_bound(migrated_engine: sa.Engine) -> None:
    """A column whose name SQLAlchemy escapes in a named paramstyle (PostgreSQL's)."""
    table = sa.Table("odd", sa.MetaData(), sa.Column("a.b", sa.String), sa.Column("c d", sa.String))
    table.create(migrated_engine)
    with migrated_engine.connect() as conn:
        ran = Prepared(sa.insert(table)).execute(conn, {"a.b": "x", "c d": "y"})
        conn.commit()
        assert ran.rowcount == 1
        assert list(conn.execute(sa.select(table))) == [("x", "y")]


def test_a_returning_statement_counts_its_row(migrated_engine: sa.Engine) -> None:
    with migrated_engine.connect() as conn:
        conn.begin()
        conn.execute(sa.insert(sequences), {"name": "s", "value": 1})
        ran = BUMP.execute(conn, {"w_name": "s"})
        assert (ran.rowcount, ran.returned()) == (1, (2,))


@pytest.mark.parametrize(
    "watcher",
    [
        "before_execute",
        "after_execute",
        "before_cursor_execute",
        "after_cursor_execute",
        "echo",
        "engine log at INFO",
    ],
)
def test_each_watcher_of_the_engine_alone_sees_the_statements(
    migrated_engine: sa.Engine, watcher: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Instrumentation, a statement count or the statement log sees a prepared statement as
    it sees any other (it goes through SQLAlchemy then)."""
    seen: list[object] = []

    def listen(*args: Any) -> None:
        seen.append(args)

    logged = watcher in ("echo", "engine log at INFO")
    if watcher == "echo":  # it sets its own logger's level; caplog's handler takes all
        migrated_engine.echo = True
        logs: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    else:
        level = logging.INFO if logged else logging.WARNING
        logs = caplog.at_level(level, logger="sqlalchemy.engine")
        if not logged:
            sa.event.listen(migrated_engine, watcher, listen)
    try:
        with logs, migrated_engine.connect() as conn:
            conn.begin()
            before = len(seen)
            INSERT.execute(conn, _row("a"))
            told = len(seen) - before
    finally:
        migrated_engine.echo = False
        if not logged:
            sa.event.remove(migrated_engine, watcher, listen)
    if logged:
        assert "INSERT INTO journal" in caplog.text
    else:
        assert told == 1


def test_error_handlers_are_told_of_a_failure_on_the_cursor(migrated_engine: sa.Engine) -> None:
    """A ``handle_error`` listener alone leaves statements on the cursor: a failure there
    goes through SQLAlchemy's handler, which tells it."""
    errors: list[str] = []

    def on_error(context: Any) -> None:
        errors.append(type(context.sqlalchemy_exception).__name__)

    sa.event.listen(migrated_engine, "handle_error", on_error)
    try:
        with migrated_engine.connect() as conn:
            conn.begin()
            INSERT.execute(conn, _row("a"))
            with pytest.raises(sa.exc.IntegrityError):
                INSERT.execute(conn, _row("a"))
    finally:
        sa.event.remove(migrated_engine, "handle_error", on_error)
    assert errors == ["IntegrityError"]


@pytest.mark.postgres
def test_a_lost_connection_is_invalidated(postgres: TemporaryPostgres) -> None:
    """The server ended the session: the error says the connection was invalidated, and the
    next unit gets a live connection from the pool."""
    engine = make_engine(postgres.create_database("prepared_lost"))
    migrate(engine)
    try:
        with engine.connect() as conn:
            conn.begin()
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            with pytest.raises(sa.exc.DBAPIError) as raised:
                INSERT.execute(conn, _row("a"))
            assert raised.value.connection_invalidated
        with engine.connect() as conn:
            INSERT.execute(conn, _row("b"))
            conn.commit()
        assert _keys(engine) == ["b"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_lost_connection_invalidates_the_pools_older_ones(postgres: TemporaryPostgres) -> None:
    """A server restart ends every session: the first statement to find out invalidates the
    pooled connections too (as SQLAlchemy's handler does), so the units after it get fresh
    ones instead of failing one by one on each stale connection."""
    engine = make_engine(postgres.create_database("prepared_pool"))
    migrate(engine)
    try:
        held = [engine.connect() for _ in range(3)]
        for conn in held:
            conn.exec_driver_sql("SELECT 1")
        for conn in held:
            conn.close()  # three pooled connections
        with engine.connect() as admin:
            admin.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
            INSERT.execute(conn, _row("a"))
        for n in range(3):
            with engine.connect() as conn:
                INSERT.execute(conn, _row(f"k{n}"))
                conn.commit()
        assert _keys(engine) == ["k0", "k1", "k2"]
    finally:
        engine.dispose()


def test_a_watcher_sees_the_statements_of_connections_opened_after_it(
    migrated_engine: sa.Engine,
) -> None:
    """Each connection asks once whether it is watched (per statement cost 2 µs)."""
    seen: list[str] = []

    def listen(*args: Any) -> None:
        seen.append(args[2].split(maxsplit=1)[0].upper())

    with migrated_engine.connect() as before:
        before.begin()
        INSERT.execute(before, _row("a"))
        sa.event.listen(migrated_engine, "before_cursor_execute", listen)
        try:
            INSERT.execute(before, _row("b"))  # asked already: not watched
            before.commit()
            with migrated_engine.connect() as after:
                INSERT.execute(after, _row("c"))
                after.commit()
        finally:
            sa.event.remove(migrated_engine, "before_cursor_execute", listen)
    assert [s for s in seen if s != "BEGIN"] == ["INSERT"]
    assert _keys(migrated_engine) == ["a", "b", "c"]
