"""oncall: duty shifts per site and role, staff pages, recipients and the append-only page event log

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oncall_duty_shifts",
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_oncall_duty_shifts_times")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_oncall_duty_shifts_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_oncall_duty_shifts_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_duty_shifts")),
    )
    op.create_index("ix_oncall_duty_shifts_role_time", "oncall_duty_shifts", ["role", "starts_at", "ends_at"])
    op.create_index("ix_oncall_duty_shifts_staff", "oncall_duty_shifts", ["staff_id", "starts_at"])
    op.create_table(
        "oncall_pages",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=120), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sms_text", sa.String(length=200), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("fallback", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_oncall_pages_level")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_oncall_pages_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_pages")),
        sa.UniqueConstraint("kind", "ref", name="uq_oncall_pages_kind_ref"),
    )
    op.create_index(
        "ix_oncall_pages_escalate",
        "oncall_pages",
        ["escalate_at"],
        postgresql_where=sa.text("acknowledged_at IS NULL"),
    )
    op.create_table(
        "oncall_page_recipients",
        sa.Column("page_id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("sms_queued", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["oncall_pages.id"],
            name=op.f("fk_oncall_page_recipients_page_id_oncall_pages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_oncall_page_recipients_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_page_recipients")),
        sa.UniqueConstraint("page_id", "staff_id", name="uq_oncall_page_recipients_page_staff"),
    )
    op.create_index("ix_oncall_page_recipients_staff", "oncall_page_recipients", ["staff_id", "created_at"])
    op.create_table(
        "oncall_page_events",
        sa.Column("page_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["oncall_pages.id"],
            name=op.f("fk_oncall_page_events_page_id_oncall_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_page_events")),
    )
    op.create_index("ix_oncall_page_events_page", "oncall_page_events", ["page_id", "created_at"])
    # Every escalation, notification and acknowledgement is a fact: the log cannot be rewritten,
    # even by the application (TRUNCATE, used by the tests, is not a row operation).
    op.execute(
        """
        CREATE FUNCTION oncall_page_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'oncall_page_events is append-only';
        END $$;
        """
    )
    op.execute(
        """
        CREATE TRIGGER oncall_page_events_append_only BEFORE UPDATE OR DELETE ON oncall_page_events
        FOR EACH ROW EXECUTE FUNCTION oncall_page_events_append_only();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS oncall_page_events_append_only ON oncall_page_events")
    op.execute("DROP FUNCTION IF EXISTS oncall_page_events_append_only()")
    op.drop_table("oncall_page_events")
    op.drop_table("oncall_page_recipients")
    op.drop_table("oncall_pages")
    op.drop_table("oncall_duty_shifts")
