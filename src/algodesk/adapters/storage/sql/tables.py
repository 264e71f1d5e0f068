"""The tables, as SQLAlchemy Core metadata. Alembic migrations create them; this module is how
the repositories address them. A test checks that the two agree."""

from __future__ import annotations

import sqlalchemy as sa

from algodesk.adapters.storage.sql.types import ExactDecimal, UtcDateTime

__all__ = [
    "alert_inbox",
    "fills",
    "instruments",
    "journal",
    "ledger_entries",
    "ledger_heads",
    "ledger_postings",
    "metadata",
    "orders",
    "sequences",
    "webhook_hooks",
]

metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

ID = sa.String(64)
HASH = sa.String(64)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("account_id", ID, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("entry_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("ts", UtcDateTime, nullable=False),
    sa.Column("bot_id", ID, nullable=True),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", HASH, nullable=False),
    sa.Column("hash", HASH, nullable=False),
    sa.UniqueConstraint("account_id", "entry_id", name="uq_ledger_entries_account_entry"),
    sa.Index("ix_ledger_entries_ts", "ts", "account_id", "seq"),  # migration 0007
)

ledger_postings = sa.Table(
    "ledger_postings",
    metadata,
    sa.Column("account_id", ID, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("book", sa.String(200), nullable=False),
    sa.Column("currency", sa.String(12), nullable=False),
    sa.Column("amount", ExactDecimal, nullable=False),
    sa.Column("bot_id", ID, nullable=True),
)

ledger_heads = sa.Table(
    "ledger_heads",
    metadata,
    sa.Column("account_id", ID, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", HASH, nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("client_order_id", sa.String(20), primary_key=True),
    sa.Column("account_id", ID, nullable=False, index=True),
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
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("filled_quantity", ExactDecimal, nullable=False),
    sa.Column("avg_fill_price", ExactDecimal, nullable=True),
    sa.Column("venue_order_ids", sa.Text, nullable=False),
    sa.Column("pending_from", sa.Text, nullable=False),
    sa.Column("last_reason", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=True),
    # The newest first (migration 0007).
    sa.Index("ix_orders_account_created", "account_id", "created_at", "client_order_id"),
    sa.Index("ix_orders_created", "created_at", "client_order_id"),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("venue", sa.String(32), primary_key=True),
    sa.Column("trade_id", sa.String(128), primary_key=True),
    sa.Column("account_id", ID, nullable=False, index=True),
    sa.Column("client_order_id", sa.String(20), nullable=False, index=True),
    sa.Column("instrument_id", sa.String(100), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("quantity", ExactDecimal, nullable=False),
    sa.Column("price", ExactDecimal, nullable=False),
    sa.Column("fee", ExactDecimal, nullable=False),
    sa.Column("fee_currency", sa.String(12), nullable=False),
    sa.Column("ts", UtcDateTime, nullable=False),
    sa.Column("bot_id", ID, nullable=True),
    # The newest first (migration 0007).
    sa.Index("ix_fills_account_ts", "account_id", "ts", "venue", "trade_id"),
    sa.Index("ix_fills_ts", "ts", "venue", "trade_id"),
)

sequences = sa.Table(
    "sequences",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

journal = sa.Table(
    "journal",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("account_id", ID, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("key", sa.String(200), nullable=True),
    sa.Column("ts", UtcDateTime, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Index("ix_journal_account_id", "account_id", "seq"),
    sa.Index("uq_journal_account_key", "account_id", "key", unique=True),
)

instruments = sa.Table(
    "instruments",
    metadata,
    sa.Column("instrument_id", sa.String(100), primary_key=True),
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
    sa.Index("ix_instruments_venue", "venue", "symbol"),
    sa.Index("ix_instruments_underlying", "underlying", "expiry"),
)

alert_inbox = sa.Table(
    "alert_inbox",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("hook_id", ID, nullable=False),
    sa.Column("account_id", ID, nullable=False),
    sa.Column("bot_id", ID, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("digest", HASH, nullable=False),
    sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
    sa.Column("remote_addr", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("fate", sa.Text, nullable=False),
    sa.Column("settled_at", UtcDateTime, nullable=True),
    sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_alert_inbox_status", "status", "id"),
    sa.Index("ix_alert_inbox_account_id", "account_id", "id"),
    sa.Index("ix_alert_inbox_bot_id", "bot_id", "id"),
    sa.Index("ix_alert_inbox_hook_id", "hook_id", "digest", "received_at"),
    sa.Index("ix_alert_inbox_received_at", "received_at", "id"),  # migration 0006
)

webhook_hooks = sa.Table(
    "webhook_hooks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("account_id", ID, nullable=False),
    sa.Column("bot_id", ID, nullable=False, index=True),
    sa.Column("token_hash", HASH, nullable=False, unique=True),  # SHA-256 of the token, hex
    sa.Column("token_enc", sa.Text, nullable=False),
    sa.Column("secret_enc", sa.Text, nullable=True),
    sa.Column("secret_field", sa.String(64), nullable=False),
    sa.Column("max_lag_us", sa.BigInteger, nullable=False),  # whole microseconds: exact
    sa.Column("dedupe_window_us", sa.BigInteger, nullable=False),
    sa.Column("source_allowlist", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)

# --- users and API keys (migration 0005) -------------------------------------------------------

__all__ += ["api_keys", "refresh_tokens", "users"]

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),  # stored lower-cased
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("key_hash", HASH, nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime, nullable=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)
