"""campaigns: segments, campaigns, deliveries, journey occasions; patient suppression flags and birth date

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("patients", sa.Column("birth_date", sa.Date(), nullable=True))
    for flag in ("marketing_opt_out", "deceased", "admitted"):
        op.add_column("patients", sa.Column(flag, sa.Boolean(), server_default="false", nullable=False))

    op.create_table(
        "campaign_segments",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("criteria", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_campaign_segments_name")),
    )
    op.create_table(
        "campaigns",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("audience_kind", sa.String(length=16), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("event_audience", sa.String(length=16), nullable=True),
        sa.Column("channels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("scheduled_at", TS, nullable=True),
        sa.Column("journey_key", sa.String(length=80), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("review_comment", sa.String(length=300), nullable=True),
        sa.Column("criteria_snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("cursor", sa.Uuid(), nullable=True),
        sa.Column("materialised_at", TS, nullable=True),
        sa.Column("audience_count", sa.Integer(), nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["community_events.id"],
            name=op.f("fk_campaigns_event_id_community_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["campaign_segments.id"],
            name=op.f("fk_campaigns_segment_id_campaign_segments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("journey_key", name=op.f("uq_campaigns_journey_key")),
    )
    op.create_index("ix_campaigns_created", "campaigns", ["created_at", "id"], unique=False)
    op.create_index("ix_campaigns_status_scheduled", "campaigns", ["status", "scheduled_at"], unique=False)
    op.create_table(
        "campaign_deliveries",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.String(length=20), nullable=True),
        sa.Column("reason", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("consent", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("opened_at", TS, nullable=True),
        sa.Column("clicked_at", TS, nullable=True),
        sa.Column("failed_at", TS, nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_deliveries")),
        sa.UniqueConstraint("campaign_id", "patient_id", name=op.f("uq_campaign_deliveries_campaign_id")),
    )
    op.create_index(
        "ix_campaign_deliveries_due",
        "campaign_deliveries",
        ["channel", "not_before"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_campaign_deliveries_patient_delivered", "campaign_deliveries", ["patient_id", "delivered_at"], unique=False
    )
    op.create_table(
        "campaign_journey_occasions",
        sa.Column("journey", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("occasion", sa.String(length=80), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("extra", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_journey_occasions_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_campaign_journey_occasions_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("journey", "patient_id", "occasion", name=op.f("pk_campaign_journey_occasions")),
    )
    op.create_index(
        "ix_campaign_journey_occasions_campaign",
        "campaign_journey_occasions",
        ["campaign_id", "patient_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_journey_occasions_campaign", table_name="campaign_journey_occasions")
    op.drop_table("campaign_journey_occasions")
    op.drop_index("ix_campaign_deliveries_patient_delivered", table_name="campaign_deliveries")
    op.drop_index(
        "ix_campaign_deliveries_due", table_name="campaign_deliveries", postgresql_where=sa.text("status = 'queued'")
    )
    op.drop_table("campaign_deliveries")
    op.drop_index("ix_campaigns_status_scheduled", table_name="campaigns")
    op.drop_index("ix_campaigns_created", table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_table("campaign_segments")
    for column in ("admitted", "deceased", "marketing_opt_out", "birth_date"):
        op.drop_column("patients", column)
