"""messaging: one outreach policy (frequency caps across campaigns, invitations and notices)

`outreach_sends` records every message the policy let out, per patient and message class, so one cap
counts campaigns, journeys, event invitations and notices alike; backfilled from the campaign
deliveries sent in the last 30 days (the longest cap window in use). Event invitations record why a
channel was skipped, and runs count the audience the policy suppressed.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outreach_sends",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("message_class", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(160), nullable=False, unique=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outreach_sends_patient_class_at", "outreach_sends", ["patient_id", "message_class", "sent_at"])
    op.execute(
        """
        INSERT INTO outreach_sends (id, patient_id, message_class, channel, source_ref, sent_at)
        SELECT gen_random_uuid(), patient_id, kind, channel, 'campaign_delivery:' || id, sent_at
        FROM campaign_deliveries
        WHERE sent_at >= now() - interval '30 days' AND channel IS NOT NULL
          AND status IN ('sent', 'delivered', 'opened', 'clicked')
        """
    )
    op.add_column(
        "community_event_invitations",
        sa.Column("skipped", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column(
        "community_invitation_runs",
        sa.Column("suppressed", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("community_invitation_runs", "suppressed")
    op.drop_column("community_event_invitations", "skipped")
    op.drop_index("ix_outreach_sends_patient_class_at", table_name="outreach_sends")
    op.drop_table("outreach_sends")
