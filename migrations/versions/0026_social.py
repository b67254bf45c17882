"""social: follows of people and tags, blocks, profiles; topic tags on community posts

`social_follows` (follower and followee accounts, one row per pair), `social_tag_follows` (follower
and a normalised tag), `social_blocks` (blocker and blocked accounts), `social_profiles` (bio, avatar
key, whether others may follow, who sees the person's groups, badges and followers). Accounts are
(kind, id) pairs as in community_memberships. `community_posts.tags`: the #话题# of a post's text,
with a GIN index for "posts with any of these tags".

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = "('patient', 'staff')"
_AUDIENCES = "('everyone', 'followers', 'nobody')"


def upgrade() -> None:
    op.create_table(
        "social_follows",
        sa.Column("follower_kind", sa.String(length=16), nullable=False),
        sa.Column("follower_id", sa.Uuid(), nullable=False),
        sa.Column("followee_kind", sa.String(length=16), nullable=False),
        sa.Column("followee_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"follower_kind IN {_KINDS} AND followee_kind IN {_KINDS}", name=op.f("ck_social_follows_kinds")
        ),
        sa.CheckConstraint(
            "follower_kind <> followee_kind OR follower_id <> followee_id", name=op.f("ck_social_follows_not_self")
        ),
        sa.PrimaryKeyConstraint(
            "follower_kind", "follower_id", "followee_kind", "followee_id", name=op.f("pk_social_follows")
        ),
    )
    op.create_index(
        "ix_social_follows_followee", "social_follows", ["followee_kind", "followee_id", "created_at"]
    )
    op.create_index(
        "ix_social_follows_follower", "social_follows", ["follower_kind", "follower_id", "created_at"]
    )
    op.create_table(
        "social_tag_follows",
        sa.Column("follower_kind", sa.String(length=16), nullable=False),
        sa.Column("follower_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"follower_kind IN {_KINDS}", name=op.f("ck_social_tag_follows_kinds")),
        sa.PrimaryKeyConstraint("follower_kind", "follower_id", "tag", name=op.f("pk_social_tag_follows")),
    )
    op.create_index("ix_social_tag_follows_tag", "social_tag_follows", ["tag"])
    op.create_table(
        "social_blocks",
        sa.Column("blocker_kind", sa.String(length=16), nullable=False),
        sa.Column("blocker_id", sa.Uuid(), nullable=False),
        sa.Column("blocked_kind", sa.String(length=16), nullable=False),
        sa.Column("blocked_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"blocker_kind IN {_KINDS} AND blocked_kind IN {_KINDS}", name=op.f("ck_social_blocks_kinds")
        ),
        sa.CheckConstraint(
            "blocker_kind <> blocked_kind OR blocker_id <> blocked_id", name=op.f("ck_social_blocks_not_self")
        ),
        sa.PrimaryKeyConstraint(
            "blocker_kind", "blocker_id", "blocked_kind", "blocked_id", name=op.f("pk_social_blocks")
        ),
    )
    op.create_index("ix_social_blocks_blocked", "social_blocks", ["blocked_kind", "blocked_id"])
    op.create_table(
        "social_profiles",
        sa.Column("account_kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("bio", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("avatar_key", sa.String(length=200), nullable=True),
        sa.Column("allow_follow", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("groups_visible_to", sa.String(length=16), nullable=False, server_default="nobody"),
        sa.Column("badges_visible_to", sa.String(length=16), nullable=False, server_default="everyone"),
        sa.Column("followers_visible_to", sa.String(length=16), nullable=False, server_default="followers"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"account_kind IN {_KINDS}", name=op.f("ck_social_profiles_kinds")),
        sa.CheckConstraint(
            f"groups_visible_to IN {_AUDIENCES} AND badges_visible_to IN {_AUDIENCES}"
            f" AND followers_visible_to IN {_AUDIENCES}",
            name=op.f("ck_social_profiles_audiences"),
        ),
        sa.PrimaryKeyConstraint("account_kind", "account_id", name=op.f("pk_social_profiles")),
    )
    op.add_column(
        "community_posts",
        sa.Column(
            "tags", postgresql.ARRAY(sa.String(length=20)), nullable=False, server_default=sa.text("'{}'")
        ),
    )
    op.create_index("ix_posts_tags", "community_posts", ["tags"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_posts_tags", table_name="community_posts", postgresql_using="gin")
    op.drop_column("community_posts", "tags")
    op.drop_table("social_profiles")
    op.drop_index("ix_social_blocks_blocked", table_name="social_blocks")
    op.drop_table("social_blocks")
    op.drop_index("ix_social_tag_follows_tag", table_name="social_tag_follows")
    op.drop_table("social_tag_follows")
    op.drop_index("ix_social_follows_follower", table_name="social_follows")
    op.drop_index("ix_social_follows_followee", table_name="social_follows")
    op.drop_table("social_follows")
