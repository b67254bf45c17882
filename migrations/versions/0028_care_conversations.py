"""care: care_assignments (a patient's own doctor / health manager), care_conversations and their
messages (patient <-> own care team, with a reply clock); phi_reads kind 'conversations'

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = "'conditions', 'checkins', 'visits', 'complaints', 'survey_answers'"
KINDS_AFTER = KINDS_BEFORE + ", 'conversations'"


def upgrade() -> None:
    op.create_table(
        "care_assignments",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("assigned_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("role IN ('doctor', 'health_manager')", name=op.f("ck_care_assignments_role")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_care_assignments_patient_id_patients")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_care_assignments_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_assignments")),
        sa.UniqueConstraint("patient_id", "role", name="uq_care_assignments_patient_role"),
    )
    op.create_index("ix_care_assignments_staff", "care_assignments", ["staff_id", "patient_id"])

    op.create_table(
        "care_conversations",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("queue_tier", sa.SmallInteger(), nullable=False),
        sa.Column("queue_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("clock_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_kind", sa.String(length=16), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'waiting_on_patient', 'closed')", name=op.f("ck_care_conversations_status")
        ),
        sa.CheckConstraint("queue_tier BETWEEN 0 AND 2", name=op.f("ck_care_conversations_queue_tier")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_care_conversations_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_care_conversations_site_id_sites")),
        sa.ForeignKeyConstraint(["assignee_id"], ["staff.id"], name=op.f("fk_care_conversations_assignee_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_conversations")),
    )
    op.create_index("ix_care_conversations_patient", "care_conversations", ["patient_id", "last_message_at", "id"])
    op.create_index("ix_care_conversations_queue", "care_conversations", ["queue_tier", "queue_at", "id"])
    op.create_index(
        "ix_care_conversations_site_queue", "care_conversations", ["site_id", "queue_tier", "queue_at", "id"]
    )
    op.create_index("ix_care_conversations_assignee", "care_conversations", ["assignee_id", "queue_tier", "queue_at"])
    op.create_index(
        "ix_care_conversations_overdue",
        "care_conversations",
        ["due_at"],
        postgresql_where=sa.text("status = 'open' AND escalated_at IS NULL"),
    )

    op.create_table(
        "care_messages",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("author_kind", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("crisis", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("author_kind IN ('patient', 'staff')", name=op.f("ck_care_messages_author_kind")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["care_conversations.id"],
            name=op.f("fk_care_messages_conversation_id_care_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_messages")),
    )
    op.create_index(
        "ix_care_messages_conversation",
        "care_messages",
        ["conversation_id", "created_at", "id"],
    )

    # Staff reads of a conversation go on the PHI read record under their own kind.
    op.drop_constraint(op.f("ck_phi_reads_kind"), "phi_reads", type_="check")
    op.create_check_constraint(op.f("ck_phi_reads_kind"), "phi_reads", f"kind IN ({KINDS_AFTER})")


def downgrade() -> None:
    op.execute("DELETE FROM phi_reads WHERE kind = 'conversations'")
    op.drop_constraint(op.f("ck_phi_reads_kind"), "phi_reads", type_="check")
    op.create_check_constraint(op.f("ck_phi_reads_kind"), "phi_reads", f"kind IN ({KINDS_BEFORE})")
    op.drop_table("care_messages")
    op.drop_table("care_conversations")
    op.drop_table("care_assignments")
