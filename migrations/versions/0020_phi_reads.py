"""privacy: phi_reads, the record of every staff read of a patient's health data

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phi_reads",
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("staff_roles", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("through", sa.String(length=120), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('conditions', 'checkins', 'visits', 'complaints', 'survey_answers')",
            name=op.f("ck_phi_reads_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phi_reads")),
    )
    op.create_index("ix_phi_reads_patient", "phi_reads", ["patient_id", "read_at", "id"])
    op.create_index("ix_phi_reads_staff", "phi_reads", ["staff_id", "read_at", "id"])
    op.create_index("ix_phi_reads_read_at", "phi_reads", ["read_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_phi_reads_read_at", table_name="phi_reads")
    op.drop_index("ix_phi_reads_staff", table_name="phi_reads")
    op.drop_index("ix_phi_reads_patient", table_name="phi_reads")
    op.drop_table("phi_reads")
