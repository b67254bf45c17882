"""care: satisfaction surveys, complaints with their history, complaint words; dashboard indexes

Revision ID: 0010
Revises: 0009

The dashboard indexes live on other domains' tables (declared in dashboards/indexes.py): a partial
covering index over completed visits by (patient, time) for the return-visit rate, and time indexes for the
per-period aggregates of lifecycle changes, referrals, posts, comments and check-ins.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_WORDS = (
    "投诉",
    "态度差",
    "态度恶劣",
    "乱收费",
    "多收费",
    "等太久",
    "等了很久",
    "排队太久",
    "误诊",
    "不负责",
    "不耐烦",
    "推销",
    "欺骗",
    "退款",
)


def upgrade() -> None:
    op.create_table(
        "care_surveys",
        sa.Column("visit_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("points_awarded", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("score IS NULL OR score BETWEEN 0 AND 10", name=op.f("ck_care_surveys_score")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_care_surveys_patient_id_patients")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_care_surveys_site_id_sites")),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_care_surveys_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_surveys")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_care_surveys_visit_id")),
    )
    op.create_index("ix_care_surveys_patient", "care_surveys", ["patient_id", "created_at", "id"])
    op.create_index(
        "ix_care_surveys_open_expiry",
        "care_surveys",
        ["expires_at"],
        postgresql_where=sa.text("status IN ('sent', 'unsent')"),
    )
    op.create_index(
        "ix_care_surveys_answered", "care_surveys", ["answered_at"], postgresql_where=sa.text("status = 'answered'")
    )

    op.create_table(
        "care_complaints",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=True),
        sa.Column("visit_id", sa.Uuid(), nullable=True),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("reasons", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["staff.id"], name=op.f("fk_care_complaints_assignee_id_staff")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_care_complaints_patient_id_patients")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_care_complaints_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["care_surveys.id"], name=op.f("fk_care_complaints_survey_id_care_surveys")
        ),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name=op.f("fk_care_complaints_visit_id_visits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_complaints")),
        sa.UniqueConstraint("survey_id", name=op.f("uq_care_complaints_survey_id")),
    )
    op.create_index("ix_care_complaints_patient", "care_complaints", ["patient_id", "created_at", "id"])
    op.create_index("ix_care_complaints_queue", "care_complaints", ["status", "due_at", "id"])
    op.create_index("ix_care_complaints_assignee", "care_complaints", ["assignee_id", "status"])
    op.create_index(
        "ix_care_complaints_overdue",
        "care_complaints",
        ["due_at"],
        postgresql_where=sa.text("first_response_at IS NULL AND escalated_at IS NULL"),
    )

    op.create_table(
        "care_complaint_actions",
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["care_complaints.id"],
            name=op.f("fk_care_complaint_actions_complaint_id_care_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_complaint_actions")),
    )
    op.create_index(
        "ix_care_complaint_actions_complaint", "care_complaint_actions", ["complaint_id", "created_at", "id"]
    )

    words = op.create_table(
        "care_complaint_words",
        sa.Column("word", sa.String(length=30), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_care_complaint_words")),
    )
    op.execute(
        sa.insert(words).values([{"word": w, "active": True, "created_at": sa.func.now()} for w in DEFAULT_WORDS])
    )

    # dashboards
    op.create_index(
        "ix_visits_completed_patient_visited",
        "visits",
        ["patient_id", "visited_at"],
        postgresql_include=["site_id"],
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.create_index("ix_lifecycle_changes_changed_at", "lifecycle_changes", ["changed_at"])
    op.create_index("ix_referrals_created_at", "referrals", ["created_at"])
    op.create_index("ix_community_posts_created_at", "community_posts", ["created_at"])
    op.create_index("ix_community_comments_created_at", "community_comments", ["created_at"])
    op.create_index("ix_community_checkins_created_at", "community_checkins", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_community_checkins_created_at", table_name="community_checkins")
    op.drop_index("ix_community_comments_created_at", table_name="community_comments")
    op.drop_index("ix_community_posts_created_at", table_name="community_posts")
    op.drop_index("ix_referrals_created_at", table_name="referrals")
    op.drop_index("ix_lifecycle_changes_changed_at", table_name="lifecycle_changes")
    op.drop_index("ix_visits_completed_patient_visited", table_name="visits")
    op.drop_table("care_complaint_words")
    op.drop_table("care_complaint_actions")
    op.drop_table("care_complaints")
    op.drop_table("care_surveys")
