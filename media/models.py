"""Uploaded images: who owns them, what they are for, where the bytes are and whether they are shown."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin


class ImagePurpose(enum.StrEnum):
    POST = "post"  # uploaded into a group, then attached to one of the owner's posts there
    AVATAR = "avatar"  # a profile picture: no group, shown to everyone once approved


class ImageStatus(enum.StrEnum):
    HELD = "held"  # by a new member: only the owner and moderators see it until a moderator decides
    APPROVED = "approved"
    REJECTED = "rejected"  # only moderators still see it (the audit trail)


class Image(IdMixin, Base):
    """One uploaded image, already re-encoded (no metadata) with its thumbnail. The owner is an account
    (kind, id) as in community memberships; `group_id` is the group it was uploaded into (the group's
    read rule decides who may see it), `post_id` the post it is attached to (at most one)."""

    __tablename__ = "media_images"
    __table_args__ = (
        CheckConstraint("purpose IN ('post', 'avatar')", name="purpose"),
        CheckConstraint("status IN ('held', 'approved', 'rejected')", name="status"),
        CheckConstraint("owner_kind IN ('patient', 'staff')", name="owner_kind"),
        CheckConstraint("purpose = 'post' OR group_id IS NULL", name="group_only_for_posts"),
        Index("ix_media_images_owner", "owner_kind", "owner_id", "created_at"),
        Index("ix_media_images_post", "post_id", "position", postgresql_where="post_id IS NOT NULL"),
        # The moderators' list of held images, newest first, per group and overall.
        Index("ix_media_images_held", "group_id", "created_at", "id", postgresql_where="status = 'held'"),
    )

    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[uuid.UUID]
    purpose: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    post_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_posts.id", ondelete="SET NULL"))
    position: Mapped[int | None] = mapped_column(SmallInteger)
    storage_key: Mapped[str] = mapped_column(String(200))
    thumbnail_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]
    thumbnail_width: Mapped[int]
    thumbnail_height: Mapped[int]
    thumbnail_byte_size: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
