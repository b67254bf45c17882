"""community: a group's join question and each request's answer; comment revisions; notification levels checked

`community_groups.join_question` (asked of whoever requests to join an approval or verified-diagnosis
group) and `community_memberships.join_answer` (read by the group's moderators with the request).
`community_comment_revisions`: the text a comment had before each edit or its author's deletion, read
by moderators only. `community_memberships.notification_level` may only hold the levels the
notification centre knows (all, highlights, none; every existing row is 'all' or one of them).

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("community_groups", sa.Column("join_question", sa.String(length=200), nullable=True))
    op.add_column("community_memberships", sa.Column("join_answer", sa.String(length=500), nullable=True))
    op.create_check_constraint(
        op.f("ck_community_memberships_notification_level"),
        "community_memberships",
        "notification_level IN ('all', 'highlights', 'none')",
    )
    op.create_table(
        "community_comment_revisions",
        sa.Column("comment_id", sa.Uuid(), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("edited_by", sa.Uuid(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["community_comments.id"],
            name=op.f("fk_community_comment_revisions_comment_id_community_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_comment_revisions")),
    )
    op.create_index(
        "ix_comment_revisions_comment", "community_comment_revisions", ["comment_id", "edited_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_comment_revisions_comment", table_name="community_comment_revisions")
    op.drop_table("community_comment_revisions")
    op.drop_constraint(
        op.f("ck_community_memberships_notification_level"), "community_memberships", type_="check"
    )
    op.drop_column("community_memberships", "join_answer")
    op.drop_column("community_groups", "join_question")
