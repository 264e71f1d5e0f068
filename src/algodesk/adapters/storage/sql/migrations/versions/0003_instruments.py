"""The instrument master: reference data from the broker's daily dump or a generic CSV.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from algodesk.adapters.storage.sql.types import ExactDecimal

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("instrument_id", sa.String(100), nullable=False),
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("asset_class", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(12), nullable=False),
        sa.Column("tick_size", ExactDecimal, nullable=False),
        sa.Column("lot_size", ExactDecimal, nullable=False),
        sa.Column("multiplier", ExactDecimal, nullable=False),
        sa.Column("min_quantity", ExactDecimal, nullable=True),
        sa.Column("max_quantity", ExactDecimal, nullable=True),
        sa.Column("freeze_quantity", ExactDecimal, nullable=True),
        sa.Column("underlying", sa.String(64), nullable=True),
        sa.Column("expiry", sa.Date, nullable=True),
        sa.Column("strike", ExactDecimal, nullable=True),
        sa.Column("option_right", sa.String(4), nullable=True),
        sa.Column("base_currency", sa.String(12), nullable=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("instrument_id", name="pk_instruments"),
    )
    op.create_index("ix_instruments_venue", "instruments", ["venue", "symbol"])
    op.create_index("ix_instruments_underlying", "instruments", ["underlying", "expiry"])


def downgrade() -> None:
    op.drop_table("instruments")
