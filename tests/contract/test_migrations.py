"""The Alembic migrations build exactly the tables the repositories address."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from algodesk.adapters.storage.sql.engine import current_revision, ensure_current, head_revision
from algodesk.adapters.storage.sql.tables import metadata


def test_migrations_match_the_table_metadata(migrated_engine: sa.Engine) -> None:
    with migrated_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        assert compare_metadata(context, metadata) == []
    assert current_revision(migrated_engine) == head_revision()
    ensure_current(migrated_engine)  # does not raise


def test_money_columns_are_numeric_on_postgresql(migrated_engine: sa.Engine) -> None:
    columns = {
        c["name"]: c["type"] for c in sa.inspect(migrated_engine).get_columns("ledger_postings")
    }
    if migrated_engine.dialect.name == "postgresql":
        assert isinstance(columns["amount"], sa.Numeric)
    else:  # SQLite keeps canonical decimal text: its NUMERIC affinity would make floats
        assert isinstance(columns["amount"], sa.String)
