"""Table definitions; the migrations in `migrations/versions` create them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON()
Stamp = sa.DateTime(timezone=True)

locations = sa.Table(
    "locations",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", Stamp, nullable=False),
)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("locations", Json, nullable=False),
    sa.Column("buffer", sa.Integer, nullable=False, server_default="0"),
    sa.Column("order_policy", sa.String(16), nullable=False, server_default="whole"),
    sa.Column("secret", sa.String(512), nullable=False),
    sa.Column("settings", Json, nullable=False),
    sa.Column("created_at", Stamp, nullable=False),
    sa.Column("updated_at", Stamp, nullable=False),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("sku", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, server_default=""),
    sa.Column("safety_stock", sa.Integer, nullable=False, server_default="0"),
    sa.Column("low_stock_threshold", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", Stamp, nullable=False),
)

stock_levels = sa.Table(
    "stock_levels",
    metadata,
    sa.Column("sku", sa.String(128), primary_key=True),
    sa.Column("location", sa.String(128), primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", Stamp, nullable=False),
)

channel_availability = sa.Table(
    "channel_availability",
    metadata,
    sa.Column("channel", sa.String(128), primary_key=True),
    sa.Column("sku", sa.String(128), primary_key=True),
    sa.Column("available", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", Stamp, nullable=False),
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sku", sa.String(128), nullable=False),
    sa.Column("location", sa.String(128), nullable=False),
    sa.Column("delta_on_hand", sa.Integer, nullable=False),
    sa.Column("delta_reserved", sa.Integer, nullable=False),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False),
    sa.Column("cause", Json, nullable=False),
    sa.Column("created_at", Stamp, nullable=False),
    sa.Index("ix_ledger_sku_location", "sku", "location", "id"),
)

inbound_events = sa.Table(
    "inbound_events",
    metadata,
    sa.Column("channel", sa.String(128), primary_key=True),
    sa.Column("event_id", sa.String(256), primary_key=True),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("result", Json, nullable=False),
    sa.Column("received_at", Stamp, nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("channel", sa.String(128), primary_key=True),
    sa.Column("order_id", sa.String(256), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("location", sa.String(128)),
    sa.Column("lines", Json, nullable=False),
    sa.Column("ship_to", Json),
    sa.Column("customer", Json),
    sa.Column("reason", sa.Text),
    sa.Column("tried_locations", Json, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", Stamp, nullable=False),
    sa.Column("updated_at", Stamp, nullable=False),
    sa.Index("ix_orders_order_id", "order_id"),
)

# The outbox and the pull feed: ids are assigned in commit order (see outbox.py).
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("channels", sa.Text, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("created_at", Stamp, nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", Json, nullable=False),
)

# -- outbound webhook delivery (migration 0002) ------------------------------

endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("event_types", Json, nullable=False),
    sa.Column("channel", sa.String(128)),
    sa.Column("secret", sa.String(512), nullable=False),
    sa.Column("previous_secret", sa.String(512)),
    sa.Column("previous_secret_until", Stamp),
    sa.Column("rate_limit", sa.Float),
    sa.Column("ordering", sa.String(16), nullable=False, server_default="per_key"),
    sa.Column("retry_schedule", Json, nullable=False),
    sa.Column("timeout", sa.Float, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("failing_since", Stamp),
    sa.Column("after_event_id", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", Stamp, nullable=False),
    sa.Column("updated_at", Stamp, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.String(64), sa.ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Stamp, nullable=False),
    sa.Column("claimed_until", Stamp),
    sa.Column("claimed_by", sa.String(128)),
    sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", Stamp, nullable=False),
    sa.Column("updated_at", Stamp, nullable=False),
    # Partial indexes: the claim and the per-key check only ever look at pending rows.
    sa.Index("ix_deliveries_due", "endpoint_id", "next_attempt_at", "id",
             postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
    sa.Index("ix_deliveries_pending_key", "endpoint_id", "key", "id",
             postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
    sa.Index("ix_deliveries_endpoint", "endpoint_id", "id"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", BigId, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", Stamp, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("response", sa.Text),
    sa.Index("ix_delivery_attempts_delivery", "delivery_id", "id"),
)

# Named cursors of the delivery engine (`fanout`: the last outbox event turned into deliveries).
dispatch_state = sa.Table(
    "dispatch_state",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("last_event_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", Stamp, nullable=False),
)
