"""social: the notification centre (notifications, preferences per kind and channel, fan-out runs)

Revision ID: 0030
Revises: 0029

`social_notifications`: one row per (recipient account, key): the key names the occasion (a reply, a
mention, the reactions of one kind on one post ...), so a repeated fan-out writes nothing twice and
reactions update their one row in place. `social_notification_prefs`: a person's choices per kind and
channel (no row: the default). `social_notify_runs`: one row per occasion to fan out, with the keyset
cursor a worker resumes from. `ix_social_follows_fanout`: a person's followers in keyset order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = "('patient', 'staff')"


def upgrade() -> None:
    op.create_table(
        "social_notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column("target_kind", sa.String(length=16), nullable=True),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False, server_default=""),
        sa.Column("actor_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("actors", postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default="[]"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"recipient_kind IN {_KINDS}", name=op.f("ck_social_notifications_kinds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_notifications")),
        sa.UniqueConstraint("recipient_kind", "recipient_id", "key", name="uq_social_notifications_key"),
    )
    op.create_index(
        "ix_social_notifications_recipient",
        "social_notifications",
        ["recipient_kind", "recipient_id", "updated_at", "id"],
    )
    op.create_index(
        "ix_social_notifications_unread",
        "social_notifications",
        ["recipient_kind", "recipient_id"],
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "social_notification_prefs",
        sa.Column("account_kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"account_kind IN {_KINDS}", name=op.f("ck_social_notification_prefs_kinds")),
        sa.CheckConstraint("channel IN ('in_app', 'wechat')", name=op.f("ck_social_notification_prefs_channel")),
        sa.PrimaryKeyConstraint(
            "account_kind", "account_id", "kind", "channel", name=op.f("pk_social_notification_prefs")
        ),
    )
    op.create_table(
        "social_notify_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("cursor_kind", sa.String(length=16), nullable=True),
        sa.Column("cursor_id", sa.Uuid(), nullable=True),
        sa.Column("notified", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_notify_runs")),
        sa.UniqueConstraint("key", name=op.f("uq_social_notify_runs_key")),
    )
    op.create_index(
        "ix_social_notify_runs_open",
        "social_notify_runs",
        ["created_at"],
        postgresql_where=sa.text("status <> 'done'"),
    )
    op.create_index(
        "ix_social_follows_fanout",
        "social_follows",
        ["followee_kind", "followee_id", "follower_kind", "follower_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_social_follows_fanout", table_name="social_follows")
    op.drop_index(
        "ix_social_notify_runs_open", table_name="social_notify_runs", postgresql_where=sa.text("status <> 'done'")
    )
    op.drop_table("social_notify_runs")
    op.drop_table("social_notification_prefs")
    op.drop_index(
        "ix_social_notifications_unread", table_name="social_notifications", postgresql_where=sa.text("read_at IS NULL")
    )
    op.drop_index("ix_social_notifications_recipient", table_name="social_notifications")
    op.drop_table("social_notifications")
