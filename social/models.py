"""Social tables: follows of people and of tags, blocks, profile settings, and the notification centre
(notifications, preferences, fan-out runs).

People are accounts as the community stores them: `account_kind` ('patient' | 'staff') and the
account's id (community/models.py Membership). Every table keys on that pair, so a doctor and a
patient are followed, blocked and described the same way.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
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
        # Someone's followers in keyset order: the notification fan-out pages through them (social/fanout.py).
        Index("ix_social_follows_fanout", "followee_kind", "followee_id", "follower_kind", "follower_id"),
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


# --- the notification centre (social/notifications.py, social/notify.py, social/fanout.py) ------------


class Notification(Base):
    """One notification of one person. `key` names the occasion (reply:<comment>, mention:post:<id>,
    reaction:post:<id>:helpful ...): unique per recipient, so a fan-out run twice writes one row, and the
    reactions of one kind on one post stay one row, updated in place ("3 人觉得有帮助")."""

    __tablename__ = "social_notifications"
    __table_args__ = (
        CheckConstraint(f"recipient_kind IN {_KINDS}", name="kinds"),
        UniqueConstraint("recipient_kind", "recipient_id", "key", name="uq_social_notifications_key"),
        # The list, newest activity first (a grouped notification moves up when it grows).
        Index("ix_social_notifications_recipient", "recipient_kind", "recipient_id", "updated_at", "id"),
        # The unread badge is read on every app open: count only the unread rows.
        Index(
            "ix_social_notifications_unread",
            "recipient_kind",
            "recipient_id",
            postgresql_where=text("read_at IS NULL"),
        ),
        # Retention (social/retention.py): read rows by last activity; unread rows (every insert) skip it.
        Index("ix_social_notifications_read_age", "updated_at", "id", postgresql_where=text("read_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))  # social.kinds.NotificationKind
    key: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[uuid.UUID | None]  # the community group it arose in (levels, access at read time)
    post_id: Mapped[uuid.UUID | None]
    target_kind: Mapped[str | None] = mapped_column(String(16))  # post | comment | event | content | person
    target_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(500), default="", server_default="")
    actor_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Up to three who caused it, as shown: {"kind", "id", "name"}; an anonymous author is {"name": alias}
    # with no kind or id, so nothing stored here can name them.
    actors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]


class NotificationPreference(Base):
    """A person's choice for one kind on one channel (in_app | wechat); no row means the default
    (social/kinds.py). SMS is no channel of the notification centre."""

    __tablename__ = "social_notification_prefs"
    __table_args__ = (
        CheckConstraint(f"account_kind IN {_KINDS}", name="kinds"),
        CheckConstraint("channel IN ('in_app', 'wechat')", name="channel"),
    )

    account_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


class NotifyRun(Base):
    """One occasion to notify about (a post published, a comment, a reaction, a follow, content going
    live), written in the transaction that caused it and fanned out by a worker in keyset batches. The
    unique key makes a repeated trigger one run; step and cursor make a killed run resume."""

    __tablename__ = "social_notify_runs"
    __table_args__ = (
        # The sweep re-enqueues unfinished runs whose job was lost.
        Index("ix_social_notify_runs_open", "created_at", postgresql_where=text("status <> 'done'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # social.notify.Occasion
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done
    step: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # 0 direct, 1 followers
    cursor_kind: Mapped[str | None] = mapped_column(String(16))  # last recipient handled (keyset)
    cursor_id: Mapped[uuid.UUID | None]
    notified: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]
