"""The alert inbox moves to a file of its own on SQLite (``algodesk-inbox.db``, see
``adapters/storage/sql/inbox_file.py``; ``algodesk init`` moves the entries).

The schema changes little, but the revision must: an algodesk from before reads and writes the
inbox table of the database, which the move leaves empty, and would number new alerts from 1
again; their ids are in the journal's keys of the alerts traded before, so they would be
answered from those and never traded. At this revision it refuses the database instead.

On SQLite an index of the alert ids in the journal's keys (``alert:{id}:...``) lets every
``init`` read the highest id used in a few page reads, and keep the inbox file's next id above
it (an inbox file restored from a backup is behind the journal). On PostgreSQL the inbox stays
a table of the database: nothing changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The index's expression and condition; a query must spell them the same to use it.
ALERT_ID = "CAST(substr(key, 7, instr(substr(key, 7), ':') - 1) AS INTEGER)"
ALERT_KEYS = "key LIKE 'alert:%'"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE INDEX ix_journal_alert_id ON journal ({ALERT_ID}) WHERE {ALERT_KEYS}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX ix_journal_alert_id")
