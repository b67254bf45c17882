"""media: media_images, uploaded images (re-encoded, with a thumbnail) and their moderation status

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_images",
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.SmallInteger(), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("thumbnail_width", sa.Integer(), nullable=False),
        sa.Column("thumbnail_height", sa.Integer(), nullable=False),
        sa.Column("thumbnail_byte_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("purpose IN ('post', 'avatar')", name=op.f("ck_media_images_purpose")),
        sa.CheckConstraint("status IN ('held', 'approved', 'rejected')", name=op.f("ck_media_images_status")),
        sa.CheckConstraint("owner_kind IN ('patient', 'staff')", name=op.f("ck_media_images_owner_kind")),
        sa.CheckConstraint("purpose = 'post' OR group_id IS NULL", name=op.f("ck_media_images_group_only_for_posts")),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["community_groups.id"],
            name=op.f("fk_media_images_group_id_community_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["community_posts.id"],
            name=op.f("fk_media_images_post_id_community_posts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_images")),
    )
    op.create_index("ix_media_images_owner", "media_images", ["owner_kind", "owner_id", "created_at"])
    op.create_index(
        "ix_media_images_post",
        "media_images",
        ["post_id", "position"],
        postgresql_where=sa.text("post_id IS NOT NULL"),
    )
    op.create_index(
        "ix_media_images_held",
        "media_images",
        ["group_id", "created_at", "id"],
        postgresql_where=sa.text("status = 'held'"),
    )


def downgrade() -> None:
    op.drop_index("ix_media_images_held", table_name="media_images")
    op.drop_index("ix_media_images_post", table_name="media_images")
    op.drop_index("ix_media_images_owner", table_name="media_images")
    op.drop_table("media_images")
