"""Foundation: the ledger (entries, postings, heads), orders, fills and sequences.

The ledger tables are append-only: triggers refuse UPDATE and DELETE on them.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from algodesk.adapters.storage.sql.types import ExactDecimal, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(64)
HASH = sa.String(64)
APPEND_ONLY = ("ledger_entries", "ledger_postings")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("entry_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ts", UtcDateTime, nullable=False),
        sa.Column("bot_id", ID, nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", HASH, nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", name="pk_ledger_entries"),
        sa.UniqueConstraint("account_id", "entry_id", name="uq_ledger_entries_account_entry"),
    )
    op.create_table(
        "ledger_postings",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("idx", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("book", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(12), nullable=False),
        sa.Column("amount", ExactDecimal, nullable=False),
        sa.Column("bot_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("account_id", "seq", "idx", name="pk_ledger_postings"),
    )
    op.create_table(
        "ledger_heads",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_ledger_heads"),
    )
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(20), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("bot_id", ID, nullable=True),
        sa.Column("instrument_id", sa.String(100), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("quantity", ExactDecimal, nullable=False),
        sa.Column("price", ExactDecimal, nullable=True),
        sa.Column("trigger_price", ExactDecimal, nullable=True),
        sa.Column("expire_time", UtcDateTime, nullable=True),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filled_quantity", ExactDecimal, nullable=False),
        sa.Column("avg_fill_price", ExactDecimal, nullable=True),
        sa.Column("venue_order_ids", sa.Text, nullable=False),
        sa.Column("pending_from", sa.Text, nullable=False),
        sa.Column("last_reason", sa.Text, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_account_id", "orders", ["account_id"])
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_table(
        "fills",
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("trade_id", sa.String(128), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("client_order_id", sa.String(20), nullable=False),
        sa.Column("instrument_id", sa.String(100), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", ExactDecimal, nullable=False),
        sa.Column("price", ExactDecimal, nullable=False),
        sa.Column("fee", ExactDecimal, nullable=False),
        sa.Column("fee_currency", sa.String(12), nullable=False),
        sa.Column("ts", UtcDateTime, nullable=False),
        sa.Column("bot_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("venue", "trade_id", name="pk_fills"),
    )
    op.create_index("ix_fills_account_id", "fills", ["account_id"])
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])
    op.create_table(
        "sequences",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_sequences"),
    )
    _append_only_guards()


def _append_only_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION algodesk_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'algodesk: % on % refused: the ledger is append-only; '
                    'corrections are new entries', TG_OP, TG_TABLE_NAME;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION algodesk_append_only()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'algodesk: {action} on {table} refused: the "
                    "ledger is append-only; corrections are new entries'); END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS algodesk_append_only()")
    for table in ("sequences", "fills", "orders", "ledger_heads", "ledger_postings"):
        op.drop_table(table)
    op.drop_table("ledger_entries")
