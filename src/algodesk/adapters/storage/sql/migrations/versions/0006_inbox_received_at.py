"""The inbox by arrival time: at start the desk reads the digests of the alerts of the last two
minutes (a resend of one is never refused while the desk is behind), which without this index
was a scan of the whole inbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alert_inbox_received_at", "alert_inbox", ["received_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_alert_inbox_received_at", table_name="alert_inbox")
