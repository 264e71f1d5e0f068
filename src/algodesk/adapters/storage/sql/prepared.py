"""Hot statements run on the connection's DBAPI cursor, compiled once.

SQLAlchemy's ``Connection.execute`` costs about 25-30 µs per statement on top of the database
itself (it looks the compiled form up in its cache, builds an execution context, processes the
parameters, wraps the cursor in a result); SQLite's own insert takes about 5 µs. An order
through the engine runs about ten statements, so that overhead was a third of the time the
alert thread spends per alert. :class:`Prepared` compiles a Core statement once per dialect
and set of parameter names, with SQLAlchemy's compiler, so the SQL text and the values' type
conversions are SQLAlchemy's own, and then runs it on the DBAPI cursor directly.

It runs inside the caller's transaction (the connection's; begun first if none is, as
SQLAlchemy's autobegin would), and a failure goes through SQLAlchemy's own handler: its
exception classes (``IntegrityError``, ``OperationalError`` ...), a lost connection and the
pool's older ones invalidated. :meth:`Prepared.execute` is for writes: the rows a
``RETURNING`` gives come as the driver gives them, unconverted (a generated key, a count);
:meth:`Prepared.first` and :meth:`Prepared.all` read a SELECT's rows with their columns'
conversions. When something watches the engine's statements
(execute or cursor listeners: instrumentation, a test that counts statements; the
``sqlalchemy.engine`` log at INFO, ``echo``), the statement goes through
``Connection.execute`` instead, so they still see every statement (of the connections opened
once they watch: each connection asks once).

Statements whose values SQLAlchemy computes per execution (a Python-side column default or
``onupdate``, a callable bind) and expanding ``IN`` lists are refused when first run. Plans are
kept per dialect class, paramstyle and server version: the types' conversions must not depend
on an engine's other options (ours do not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa

__all__ = ["Prepared", "Ran"]

_Processor = Callable[[Any], Any] | None
T = TypeVar("T")


class _Plan:
    """One compiled form: the SQL text and how to turn a parameter mapping into the driver's
    arguments (positional tuple or mapping, each value through its type's processor)."""

    __slots__ = (
        "columns",
        "constants",
        "converters",
        "keys",
        "names",
        "positional",
        "processors",
        "sql",
    )

    def __init__(self, compiled: sa.Compiled, dialect: sa.Dialect, keys: tuple[str, ...]) -> None:
        binds: dict[str, sa.BindParameter[Any]] = compiled.binds  # type: ignore[attr-defined]
        if any(b.expanding for b in binds.values()):
            raise ValueError("a statement with an expanding IN list cannot be prepared")
        # SQLAlchemy computes Python-side column defaults and ``onupdate`` values, and calls a
        # bind's ``callable_``, on every execution; frozen here they would be written wrong.
        if (
            getattr(compiled, "insert_prefetch", None)
            or getattr(compiled, "update_prefetch", None)
            or any(b.callable is not None for b in binds.values())
        ):
            raise ValueError(
                "a statement whose values SQLAlchemy computes per execution (a Python-side "
                "column default or onupdate, a callable bind) cannot be prepared"
            )
        self.sql = compiled.string
        self.positional = dialect.positional
        names: list[str] = (
            list(compiled.positiontup or ())  # type: ignore[attr-defined]
            if self.positional
            else list(binds)
        )
        self.names = tuple(names)
        # A named paramstyle's keys as the SQL text spells them (SQLAlchemy escapes names
        # with characters such as '.' or '%').
        escaped: Mapping[str, str] = getattr(compiled, "escaped_bind_names", None) or {}
        self.keys = tuple(escaped.get(n, n) for n in names)
        self.processors: tuple[_Processor, ...] = tuple(
            binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
        )
        # Values the statement carries itself (a literal ``value + 1``), not given by callers;
        # a required value left out is an error (``StatementError``), never a silent NULL.
        self.constants = {
            n: binds[n].effective_value for n in names if n not in keys and not binds[n].required
        }
        # A SELECT's columns; each one's conversion of what the driver returns is that of its
        # type's form for this dialect, as SQLAlchemy's own, made for the type the driver
        # reports for it (some depend on it): on the first row read.
        columns = getattr(compiled.statement, "selected_columns", None)
        self.columns = tuple(columns or ())
        self.converters: tuple[tuple[str, _Processor], ...] | None = None

    def convert(self, dialect: sa.Dialect, row: Sequence[Any], description: Any) -> dict[str, Any]:
        converters = self.converters
        if converters is None:
            converters = self.converters = tuple(
                (c.key, c.type.dialect_impl(dialect).result_processor(dialect, d[1]))
                for c, d in zip(self.columns, description, strict=True)
            )
        return {
            key: value if convert is None else convert(value)
            for (key, convert), value in zip(converters, row, strict=True)
        }

    def args(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        if self.constants:
            params = {**params, **self.constants}
        values = [
            params[n] if p is None else p(params[n])
            for n, p in zip(self.names, self.processors, strict=True)
        ]
        if self.positional:
            return tuple(values)
        return dict(zip(self.keys, values, strict=True))


@dataclass(frozen=True, slots=True)
class Ran:
    """What a statement did: the rows it changed (as the driver counts them) and the rows it
    returned (``RETURNING``), as the driver gives them."""

    rowcount: int
    rows: Sequence[Sequence[Any]]

    def returned(self) -> Sequence[Any] | None:
        """The first row returned, or None."""
        return self.rows[0] if self.rows else None


class Prepared:
    """A Core statement run on the DBAPI cursor (see the module's docstring)."""

    __slots__ = ("_plans", "_statement")

    def __init__(self, statement: sa.Executable) -> None:
        self._statement = statement
        self._plans: dict[tuple[Any, ...], _Plan] = {}

    def _plan(self, dialect: sa.Dialect, keys: tuple[str, ...]) -> _Plan:
        key = (type(dialect), dialect.paramstyle, dialect.server_version_info, keys)
        plan = self._plans.get(key)
        if plan is None:
            compiled = self._statement.compile(  # type: ignore[attr-defined]
                dialect=dialect, column_keys=list(keys)
            )
            plan = self._plans[key] = _Plan(compiled, dialect, keys)
        return plan

    def execute(self, conn: sa.Connection, params: Mapping[str, Any]) -> Ran:
        """Run the statement once with ``params``."""
        if _observed(conn):
            result = conn.execute(self._statement, params)
            rows = [tuple(r) for r in result] if result.returns_rows else []
            return Ran(result.rowcount, rows)
        return self._run(
            conn,
            params,
            _ran,
        )

    def first(self, conn: sa.Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row of a SELECT of columns as a mapping of their keys, each value
        converted by its column's type (as ``Connection.execute(..).mappings().first()``)."""
        if _observed(conn):
            found = conn.execute(self._statement, params).mappings().first()
            return dict(found) if found is not None else None

        def take(cursor: Any, plan: _Plan) -> dict[str, Any] | None:
            row = cursor.fetchone()
            return None if row is None else plan.convert(conn.dialect, row, cursor.description)

        return self._run(conn, params, take)

    def all(self, conn: sa.Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of a SELECT of columns, each as :meth:`first` gives one."""
        if _observed(conn):
            return [dict(row) for row in conn.execute(self._statement, params).mappings()]

        def take(cursor: Any, plan: _Plan) -> list[dict[str, Any]]:
            described = cursor.description
            return [plan.convert(conn.dialect, row, described) for row in cursor.fetchall()]

        return self._run(conn, params, take)

    def _run(
        self, conn: sa.Connection, params: Mapping[str, Any], take: Callable[[Any, _Plan], T]
    ) -> T:
        """Execute on a cursor of ``conn``'s transaction; what ``take`` reads off it."""
        plan = self._plan(conn.dialect, tuple(params))
        args: Any = None
        cursor = None
        try:
            args = plan.args(params)
            cursor = _cursor(conn)
            cursor.execute(plan.sql, args)
            return take(cursor, plan)
        except Exception as exc:
            _raise(conn, plan.sql, args, exc, cursor)
        finally:
            if cursor is not None:
                cursor.close()

    def executemany(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run the statement for each of ``rows`` (all with the same names) in one call; the
        number of rows an UPDATE or DELETE changed, as the driver counts them (for an INSERT
        it may be -1)."""
        if not rows:
            return 0
        if _observed(conn):
            return int(conn.execute(self._statement, list(rows)).rowcount)
        plan = self._plan(conn.dialect, tuple(rows[0]))
        args: Any = None
        cursor = None
        try:
            args = [plan.args(r) for r in rows]
            cursor = _cursor(conn)
            cursor.executemany(plan.sql, args)
            return int(cursor.rowcount)
        except Exception as exc:
            _raise(conn, plan.sql, args, exc, cursor)
        finally:
            if cursor is not None:
                cursor.close()


def _ran(cursor: Any, _plan: _Plan) -> Ran:
    rows = cursor.fetchall() if cursor.description is not None else []
    return Ran(cursor.rowcount, rows)  # counted once fetched (SQLite counts as it steps)


_ENGINE_LOG = logging.getLogger("sqlalchemy.engine")


def _observed(conn: sa.Connection) -> bool:
    """Whether something watches the engine's statements (execute and cursor listeners,
    SQLAlchemy's statement log or ``echo``): they then go through
    ``Connection.execute``, which tells them. Asked once per connection (a unit of work's):
    a watcher attached while a unit is open sees the statements of the units opened after."""
    known: bool | None = getattr(conn, _WATCHED, None)
    if known is None:
        on = conn.dispatch
        known = bool(
            on.before_cursor_execute
            or on.after_cursor_execute
            or on.before_execute
            or on.after_execute
            or conn.engine.echo
            or _ENGINE_LOG.isEnabledFor(logging.INFO)
        )
        setattr(conn, _WATCHED, known)
    return known


_WATCHED = "_algodesk_watched"


def _cursor(conn: sa.Connection) -> Any:
    """A DBAPI cursor in the connection's transaction. A connection whose transaction ended
    (a commit, a rollback) begins the next one first, as ``Connection.execute`` would
    (autobegin): unbegun, the driver would run the statement in a transaction SQLAlchemy
    does not know of (its commit would not commit it), or on SQLite with no transaction at all
    (the writer's lock and ``BEGIN IMMEDIATE`` come with the begin)."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _raise(conn: sa.Connection, sql: str, args: Any, exc: Exception, cursor: Any) -> NoReturn:
    """Raise ``exc`` as ``Connection.execute`` would, by SQLAlchemy's own handler (called
    while ``exc`` is being handled): a driver error as SQLAlchemy's class for it
    (``IntegrityError``, ``OperationalError`` ...), any other error (a value a type cannot
    convert) as ``StatementError``, ``handle_error`` listeners told; when the driver says the
    connection is gone, it and the pool's older connections are invalidated (the next units
    get fresh ones). SQLAlchemy's own errors pass as they are."""
    if isinstance(exc, sa.exc.SQLAlchemyError):
        raise exc
    conn._handle_dbapi_exception(exc, sql, args, cursor, None)
