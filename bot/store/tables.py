"""The schema: SQLAlchemy Core tables, portable between SQLite and PostgreSQL.

Times are stored as UTC. SQLite keeps no offset, so `UTCDateTime` converts aware datetimes
to UTC on the way in and marks what it reads back as UTC; naive datetimes are refused.
Nothing in these tables is a password or any other secret: keep it that way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that only takes aware datetimes and always returns UTC ones."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given: use an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers return datetimes
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index(None, "received_at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("slack_user", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=True),
    # lookup, share, escalate, thread_reply, refused, watch, unwatch, alert, ...
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("product", sa.Text, nullable=True),
    sa.Column("customer_email", sa.Text, nullable=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Index(None, "at"),
    # One person's recent rows, newest first: the App Home reads these on every open.
    sa.Index(None, "slack_user", "at"),
)

watches = sa.Table(
    "watches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("product", sa.Text, nullable=False),
    # Stored lower-cased, so the unique constraint treats addresses case-insensitively.
    sa.Column("customer_email", sa.Text, nullable=False),
    sa.Column("channel_id", sa.Text, nullable=False),
    sa.Column("threshold_pct", sa.Integer, nullable=False, server_default=sa.text("90")),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("paused_reason", sa.Text, nullable=True),
    sa.Column("snoozed_until", UTCDateTime, nullable=True),
    sa.Column("last_checked_at", UTCDateTime, nullable=True),
    sa.Column("last_outcome", sa.Text, nullable=True),
    sa.Column("last_snapshot", sa.JSON, nullable=True),
    # Bumped with every stored snapshot; alert keys carry it, so each transition alerts once.
    sa.Column("snapshot_seq", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("failure_alerted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("next_check_at", UTCDateTime, nullable=True),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    # A webhook asked for a check: due at `wake_at`; `wake_latest` is the newest such request
    # (a check that started before it runs again), `woken_at` the first (for latency figures).
    sa.Column("wake_at", UTCDateTime, nullable=True),
    sa.Column("wake_latest", UTCDateTime, nullable=True),
    sa.Column("woken_at", UTCDateTime, nullable=True),
    # Digest of the watch's rows in watch_keys, so unchanged keys are not rewritten each poll.
    sa.Column("keys_digest", sa.Text, nullable=True),
    sa.UniqueConstraint("product", "customer_email", "channel_id"),
    sa.Index(None, "next_check_at"),
    sa.Index(None, "wake_at"),
)

# What license webhooks are matched by: the license ids and license-user e-mails the watch's
# last successful lookup held ("license:<id>", "user:<email>").
watch_keys = sa.Table(
    "watch_keys",
    metadata,
    sa.Column(
        "watch_id",
        sa.Integer,
        sa.ForeignKey("watches.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("key", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("watch_id", "key"),
    sa.Index(None, "key"),
)

# LicenseSpring webhook ids already processed (redeliveries do nothing); old rows are purged.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index(None, "received_at"),
)

# One token bucket per LicenseSpring credential, shared by every process (PostgreSQL only).
# `tat` is the bucket's "theoretical arrival time" (GCRA), in database-clock epoch seconds;
# `credential` is a digest of the credential's identity, never the credential.
rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("credential", sa.Text, primary_key=True),
    sa.Column("tat", sa.Float, nullable=False),
)

# Processes that used a bucket recently: how the fallback divides the rate when the
# database is unreachable.
rate_bucket_clients = sa.Table(
    "rate_bucket_clients",
    metadata,
    sa.Column("credential", sa.Text, nullable=False),
    sa.Column("client", sa.Text, nullable=False),
    sa.Column("seen_at", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint("credential", "client"),
)

# The alert outbox and exactly-once ledger: a row is written in the same transaction as the
# snapshot that caused it (so a crash cannot lose it) and its key is unique per watch (so no
# worker can write it twice); delivery marks it sent.
sent_alerts = sa.Table(
    "sent_alerts",
    metadata,
    sa.Column(
        "watch_id",
        sa.Integer,
        sa.ForeignKey("watches.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("alert_key", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("channel_id", sa.Text, nullable=False),
    # pending -> sent | suppressed (snoozed) | failed (the channel refused it)
    sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
    sa.Column("payload", sa.JSON, nullable=False),  # {"text": ..., "blocks": [...]}
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("message_ts", sa.Text, nullable=True),
    sa.PrimaryKeyConstraint("watch_id", "alert_key"),
    sa.Index(None, "status"),
)

# Periodic jobs run by one worker at a time (retention purges): a lease like a watch's, and
# when the job last finished, so every worker agrees on when it is next due.
housekeeping = sa.Table(
    "housekeeping",
    metadata,
    sa.Column("job", sa.Text, primary_key=True),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("last_run_at", UTCDateTime, nullable=True),
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    # One row per applied version; the schema's version is the largest.
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
)
