"""community: post search vector (backfilled in batches), bookmarks of posts and comments, share links

Revision ID: 0029
Revises: 0028

community_posts.search_vector holds jieba's words and the CJK characters of the title (weight A) and
body (B) under a GIN index (community/search.py). Existing posts are segmented here, 500 at a time in
keyset order, so a large table is never read whole into memory.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from community.search import document_texts  # the segmentation new posts get (jieba loads on first use)

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def _backfill() -> None:
    conn = op.get_bind()
    select = sa.text(
        "SELECT id, title, body_md FROM community_posts"
        " WHERE search_vector IS NULL AND id > :after ORDER BY id LIMIT :n"
    )
    update = sa.text(
        "UPDATE community_posts SET search_vector = setweight(to_tsvector('simple', :t), 'A')"
        " || setweight(to_tsvector('simple', :b), 'B') WHERE id = :id"
    )
    after = "00000000-0000-0000-0000-000000000000"
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            return
        params = []
        for post_id, title, body in rows:
            t, b = document_texts(title, body)
            params.append({"id": post_id, "t": t, "b": b})
        conn.execute(update, params)
        after = str(rows[-1][0])


def upgrade() -> None:
    op.add_column("community_posts", sa.Column("search_vector", postgresql.TSVECTOR(), nullable=True))
    _backfill()
    op.create_index("ix_posts_search", "community_posts", ["search_vector"], postgresql_using="gin")
    op.create_table(
        "community_bookmarks",
        sa.Column("account_kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("target_kind IN ('post', 'comment')", name=op.f("ck_community_bookmarks_target_kind")),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["community_posts.id"],
            name=op.f("fk_community_bookmarks_post_id_community_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["community_groups.id"],
            name=op.f("fk_community_bookmarks_group_id_community_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_kind", "account_id", "target_kind", "target_id", name=op.f("pk_community_bookmarks")
        ),
    )
    op.create_index(
        "ix_bookmarks_account_created",
        "community_bookmarks",
        ["account_kind", "account_id", "created_at", "target_id"],
    )
    op.create_table(
        "community_share_links",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("sharer_kind", sa.String(length=16), nullable=False),
        sa.Column("sharer_id", sa.Uuid(), nullable=False),
        sa.Column("referral_code", sa.String(length=16), nullable=True),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "target_kind IN ('post', 'article', 'event')", name=op.f("ck_community_share_links_target_kind")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_community_share_links")),
        sa.UniqueConstraint(
            "target_kind", "target_id", "sharer_kind", "sharer_id", name=op.f("uq_share_links_target_sharer")
        ),
    )
    op.create_index("ix_share_links_sharer", "community_share_links", ["sharer_kind", "sharer_id"])


def downgrade() -> None:
    op.drop_index("ix_share_links_sharer", table_name="community_share_links")
    op.drop_table("community_share_links")
    op.drop_index("ix_bookmarks_account_created", table_name="community_bookmarks")
    op.drop_table("community_bookmarks")
    op.drop_index("ix_posts_search", table_name="community_posts")
    op.drop_column("community_posts", "search_vector")
