"""Social tables: follows of people and of tags, blocks, profile settings.

People are accounts as the community stores them: `account_kind` ('patient' | 'staff') and the
account's id (community/models.py Membership). Every table keys on that pair, so a doctor and a
patient are followed, blocked and described the same way.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, TimestampMixin

_KINDS = "('patient', 'staff')"


class AccountKind(enum.StrEnum):
    PATIENT = "patient"
    STAFF = "staff"


class Audience(enum.StrEnum):
    """Who sees a part of a profile: anyone signed in, only the person's followers, or nobody (but them)."""

    EVERYONE = "everyone"
    FOLLOWERS = "followers"
    NOBODY = "nobody"


_AUDIENCES = "('everyone', 'followers', 'nobody')"


class Follow(Base):
    """`follower` follows `followee`. The primary key makes a repeated (or concurrent) follow one row."""

    __tablename__ = "social_follows"
    __table_args__ = (
        CheckConstraint(f"follower_kind IN {_KINDS} AND followee_kind IN {_KINDS}", name="kinds"),
        CheckConstraint("follower_kind <> followee_kind OR follower_id <> followee_id", name="not_self"),
        # Someone's followers, newest first (and the fan-out of their new posts, later).
        Index("ix_social_follows_followee", "followee_kind", "followee_id", "created_at"),
        # Whom someone follows, newest first.
        Index("ix_social_follows_follower", "follower_kind", "follower_id", "created_at"),
    )

    follower_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    follower_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    followee_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    followee_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class TagFollow(Base):
    """`follower` follows a tag (a normalised #话题#, social/tags.py)."""

    __tablename__ = "social_tag_follows"
    __table_args__ = (
        CheckConstraint(f"follower_kind IN {_KINDS}", name="kinds"),
        Index("ix_social_tag_follows_tag", "tag"),
    )

    follower_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    follower_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Block(Base):
    """`blocker` blocked `blocked`: the blocked person's posts and comments are hidden for the blocker,
    and no follows or replies pass between the two (social/blocks.py)."""

    __tablename__ = "social_blocks"
    __table_args__ = (
        CheckConstraint(f"blocker_kind IN {_KINDS} AND blocked_kind IN {_KINDS}", name="kinds"),
        CheckConstraint("blocker_kind <> blocked_kind OR blocker_id <> blocked_id", name="not_self"),
        # "Who blocked this person" (blocked_between asks both directions).
        Index("ix_social_blocks_blocked", "blocked_kind", "blocked_id"),
    )

    blocker_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    blocker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    blocked_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    blocked_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Profile(TimestampMixin, Base):
    """A person's public face: bio, avatar and who sees what. No row means the defaults below."""

    __tablename__ = "social_profiles"
    __table_args__ = (
        CheckConstraint(f"account_kind IN {_KINDS}", name="kinds"),
        CheckConstraint(
            f"groups_visible_to IN {_AUDIENCES} AND badges_visible_to IN {_AUDIENCES}"
            f" AND followers_visible_to IN {_AUDIENCES}",
            name="audiences",
        ),
    )

    account_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    bio: Mapped[str] = mapped_column(String(300), default="")
    # An object-storage key of the avatar image (media/ hands them out); validated, never a URL.
    avatar_key: Mapped[str | None] = mapped_column(String(200))
    allow_follow: Mapped[bool] = mapped_column(default=True)
    # Membership of a disease group is health data: nobody sees a person's groups unless they say so.
    groups_visible_to: Mapped[str] = mapped_column(String(16), default=Audience.NOBODY)
    badges_visible_to: Mapped[str] = mapped_column(String(16), default=Audience.EVERYONE)
    followers_visible_to: Mapped[str] = mapped_column(String(16), default=Audience.FOLLOWERS)
