"""The alert inbox (every accepted webhook body, with its fate) and the webhook hooks (tokens
and secrets encrypted at rest, found by the SHA-256 of the token).

Durations are whole microseconds (``*_us``): a ``timedelta`` round-trips exactly.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from algodesk.adapters.storage.sql.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(64)
HASH = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "alert_inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("hook_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("bot_id", ID, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("digest", HASH, nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("remote_addr", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("fate", sa.Text, nullable=False),
        sa.Column("settled_at", UtcDateTime, nullable=True),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_inbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_alert_inbox_dedupe_key"),
    )
    op.create_index("ix_alert_inbox_status", "alert_inbox", ["status", "id"])
    op.create_index("ix_alert_inbox_account_id", "alert_inbox", ["account_id", "id"])
    op.create_index("ix_alert_inbox_bot_id", "alert_inbox", ["bot_id", "id"])
    op.create_index("ix_alert_inbox_hook_id", "alert_inbox", ["hook_id", "digest", "received_at"])
    op.create_table(
        "webhook_hooks",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("bot_id", ID, nullable=False),
        sa.Column("token_hash", HASH, nullable=False),
        sa.Column("token_enc", sa.Text, nullable=False),
        sa.Column("secret_enc", sa.Text, nullable=True),
        sa.Column("secret_field", sa.String(64), nullable=False),
        sa.Column("max_lag_us", sa.BigInteger, nullable=False),
        sa.Column("dedupe_window_us", sa.BigInteger, nullable=False),
        sa.Column("source_allowlist", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_hooks"),
        sa.UniqueConstraint("token_hash", name="uq_webhook_hooks_token_hash"),
    )
    op.create_index("ix_webhook_hooks_bot_id", "webhook_hooks", ["bot_id"])


def downgrade() -> None:
    op.drop_table("webhook_hooks")
    op.drop_table("alert_inbox")
