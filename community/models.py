"""Community tables: groups and memberships, posts and comments, check-ins, moderation, events.

Members of a group are accounts: patients, or staff (doctors and health managers as experts,
moderators). `account_kind` says which ('patient' | 'staff').
"""

from __future__ import annotations

import enum
import secrets
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin, TimestampMixin

# --- groups -----------------------------------------------------------------------------------


class GroupVisibility(enum.StrEnum):
    PUBLIC = "public"  # anyone reads
    MEMBERS = "members"  # listed; only members read posts
    PRIVATE = "private"  # listed; join by approval; only members read
    SECRET = "secret"  # unlisted, by invitation only; membership never visible to outsiders


class JoinPolicy(enum.StrEnum):
    OPEN = "open"
    APPROVAL = "approval"
    VERIFIED = "verified"  # diagnosis confirmed by staff
    INVITE = "invite"


class Group(IdMixin, TimestampMixin, Base):
    __tablename__ = "community_groups"

    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    condition_code: Mapped[str | None] = mapped_column(ForeignKey("conditions.code"))
    description: Mapped[str] = mapped_column(Text, default="")
    rules_text: Mapped[str] = mapped_column(Text, default="")
    cover_url: Mapped[str | None] = mapped_column(String(500))
    visibility: Mapped[str] = mapped_column(String(16))
    join_policy: Mapped[str] = mapped_column(String(16))
    allow_anonymous: Mapped[bool] = mapped_column(default=False)
    alias_prefix: Mapped[str] = mapped_column(String(8), default="病友")
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None]
    # Asked of whoever requests to join an approval or verified-diagnosis group; moderators read the answer.
    join_question: Mapped[str | None] = mapped_column(String(200))


class MemberRole(enum.StrEnum):
    MEMBER = "member"
    EXPERT = "expert"
    MODERATOR = "moderator"
    OWNER = "owner"


class MemberState(enum.StrEnum):
    PENDING = "pending"  # asked to join, waits for approval or diagnosis check
    INVITED = "invited"
    ACTIVE = "active"
    LEFT = "left"
    REJECTED = "rejected"
    BANNED = "banned"  # until banned_until (None: permanently)


class NotificationLevel(enum.StrEnum):
    """How much of a group a member wants to hear about (read by the notification centre)."""

    ALL = "all"
    HIGHLIGHTS = "highlights"  # replies to me, mentions, answers; not every new post
    NONE = "none"


class Membership(IdMixin, TimestampMixin, Base):
    __tablename__ = "community_memberships"
    __table_args__ = (
        UniqueConstraint("group_id", "account_kind", "account_id"),
        Index("ix_memberships_account", "account_kind", "account_id"),
        Index("ix_memberships_group_state", "group_id", "state"),
        CheckConstraint("notification_level IN ('all', 'highlights', 'none')", name="notification_level"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    account_kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[uuid.UUID]
    role: Mapped[str] = mapped_column(String(16), default=MemberRole.MEMBER)
    state: Mapped[str] = mapped_column(String(16))
    muted_until: Mapped[datetime | None]
    banned_until: Mapped[datetime | None]
    notification_level: Mapped[str] = mapped_column(String(16), default="all")  # all | highlights | none
    joined_at: Mapped[datetime | None]
    verified_by: Mapped[uuid.UUID | None]
    verified_at: Mapped[datetime | None]
    request_note: Mapped[str | None] = mapped_column(String(300))
    join_answer: Mapped[str | None] = mapped_column(String(500))  # to the group's join_question


class AnonymousAlias(Base):
    """A stable per-group alias (糖友#4821) so anonymous posts of one person read as one voice."""

    __tablename__ = "community_aliases"
    __table_args__ = (UniqueConstraint("group_id", "number"),)

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(SmallInteger)


# --- expert credentials ---------------------------------------------------------------------------


class CredentialStatus(enum.StrEnum):
    PENDING = "pending"  # recorded, evidence not yet checked by an admin
    VERIFIED = "verified"  # checked; valid until expires_at
    REVOKED = "revoked"  # withdrawn by an admin (with a reason)
    EXPIRED = "expired"  # set by the nightly job once expires_at passed (validity never waits for it)


class StaffCredential(IdMixin, TimestampMixin, Base):
    """A clinician's practising certificate (执业证书) as checked by an admin. Only a staff account with a
    verified, unexpired one is a group expert (community/credentials.py)."""

    __tablename__ = "staff_credentials"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'verified', 'revoked', 'expired')", name="status"),
        CheckConstraint("status NOT IN ('verified', 'expired') OR verified_at IS NOT NULL", name="verified"),
        CheckConstraint("verified_by IS NULL OR verified_by <> staff_id", name="not_self_verified"),
        # One credential waiting for a check per person; a renewal may wait while the old one is valid.
        Index("uq_staff_credentials_pending", "staff_id", unique=True, postgresql_where=text("status = 'pending'")),
        # "Is this person an expert now" and the nightly expiry both read only verified rows.
        Index("ix_staff_credentials_verified", "staff_id", "expires_at", postgresql_where=text("status = 'verified'")),
        Index("ix_staff_credentials_expiry", "expires_at", postgresql_where=text("status = 'verified'")),
        Index("ix_staff_credentials_number", "certificate_number"),
        Index("ix_staff_credentials_created_at_id", "created_at", "id"),
    )

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    certificate_number: Mapped[str] = mapped_column(String(32))
    institution: Mapped[str] = mapped_column(String(100))
    specialty: Mapped[str] = mapped_column(String(50))
    evidence_key: Mapped[str] = mapped_column(String(200))  # object-storage key of the scanned certificate
    status: Mapped[str] = mapped_column(String(16), default=CredentialStatus.PENDING)
    expires_at: Mapped[datetime]
    recorded_by: Mapped[uuid.UUID | None]
    verified_by: Mapped[uuid.UUID | None]
    verified_at: Mapped[datetime | None]
    revoked_by: Mapped[uuid.UUID | None]
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(500))


# --- posts ------------------------------------------------------------------------------------


class PostKind(enum.StrEnum):
    DISCUSSION = "discussion"
    QUESTION = "question"
    EXPERIENCE = "experience"


class ContentStatus(enum.StrEnum):
    PUBLISHED = "published"
    HELD = "held"  # waits for a moderator (word filter, ad/medical claim)
    AUTHOR_ONLY = "author_only"  # emergency: visible to the author (and staff) until a human looked
    HIDDEN = "hidden"  # by reports or a moderator; restorable
    REMOVED = "removed"


class Post(IdMixin, TimestampMixin, Base):
    __tablename__ = "community_posts"
    __table_args__ = (
        Index("ix_posts_group_feed", "group_id", "pinned", "created_at", "id"),
        Index("ix_posts_author", "author_kind", "author_id", "created_at"),
        Index("ix_posts_tags", "tags", postgresql_using="gin"),  # the following feed's followed tags
        Index("ix_posts_search", "search_vector", postgresql_using="gin"),  # post search (community/search.py)
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[uuid.UUID]
    anonymous: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    image_urls: Mapped[list[str]] = mapped_column(JSONB, default=list)
    status: Mapped[str] = mapped_column(String(16))
    pinned: Mapped[bool] = mapped_column(default=False)
    locked: Mapped[bool] = mapped_column(default=False)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    verified_answer_id: Mapped[uuid.UUID | None]
    # Who marked it and when: the mark stays after their credential expires (it was checked then).
    verified_answer_by: Mapped[uuid.UUID | None]
    verified_answer_at: Mapped[datetime | None]
    accepted_answer_id: Mapped[uuid.UUID | None]
    edited_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime] = mapped_column(default=clock.now)
    # The topics (#控糖#) of the title and body, taken when written (social/tags.py).
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list, server_default="{}")
    # Jieba's words and the CJK characters of the title (weight A) and body (B), for post search
    # (community/search.py); deferred: no ordinary read loads it.
    search_vector: Mapped[Any | None] = mapped_column(TSVECTOR, deferred=True)


class PostRevision(IdMixin, Base):
    __tablename__ = "community_post_revisions"
    __table_args__ = (Index("ix_post_revisions_post", "post_id", "edited_at"),)

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100))
    body_md: Mapped[str] = mapped_column(Text)
    edited_by: Mapped[uuid.UUID]
    edited_at: Mapped[datetime] = mapped_column(default=clock.now)


class Comment(IdMixin, TimestampMixin, Base):
    __tablename__ = "community_comments"
    __table_args__ = (
        Index("ix_comments_post", "post_id", "created_at", "id"),
        Index("ix_comments_author", "author_kind", "author_id", "created_at"),  # new-member limits
    )

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_comments.id", ondelete="CASCADE"))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[uuid.UUID]
    anonymous: Mapped[bool] = mapped_column(default=False)
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    edited_at: Mapped[datetime | None]


class CommentRevision(IdMixin, Base):
    """The text a comment had before an edit or its author's deletion; read by moderators only."""

    __tablename__ = "community_comment_revisions"
    __table_args__ = (Index("ix_comment_revisions_comment", "comment_id", "edited_at"),)

    comment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_comments.id", ondelete="CASCADE"))
    body_md: Mapped[str] = mapped_column(Text)
    edited_by: Mapped[uuid.UUID]
    edited_at: Mapped[datetime] = mapped_column(default=clock.now)


class ReactionKind(enum.StrEnum):
    LIKE = "like"
    HELPFUL = "helpful"
    HUG = "hug"


class Reaction(Base):
    __tablename__ = "community_reactions"
    __table_args__ = (Index("ix_reactions_target", "target_kind", "target_id", "kind"),)

    target_kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # post | comment
    target_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


# --- check-ins --------------------------------------------------------------------------------


class CheckInKind(enum.StrEnum):
    GLUCOSE = "glucose"  # mmol/L
    BLOOD_PRESSURE = "blood_pressure"  # mmHg systolic/diastolic
    WEIGHT = "weight"  # kg
    EXERCISE = "exercise"  # minutes
    MEDICATION = "medication"  # taken yes/no


class GlucoseContext(enum.StrEnum):
    """When a glucose reading was taken (kept in a glucose check-in's value as "context")."""

    FASTING = "fasting"
    AFTER_MEAL = "after_meal"
    BEDTIME = "bedtime"


class CheckIn(IdMixin, Base):
    __tablename__ = "community_checkins"
    __table_args__ = (
        UniqueConstraint("patient_id", "kind", "local_date"),
        Index("ix_checkins_patient_date", "patient_id", "local_date"),
        Index("ix_checkins_group_date", "group_id", "local_date"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_groups.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    local_date: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    value: Mapped[dict[str, Any]]
    note: Mapped[str | None] = mapped_column(String(200))
    out_of_range: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class CheckInStreak(Base):
    __tablename__ = "community_checkin_streaks"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    current: Mapped[int] = mapped_column(Integer, default=0)
    longest: Mapped[int] = mapped_column(Integer, default=0)
    last_date: Mapped[date | None] = mapped_column(Date)


class HealthAlert(IdMixin, Base):
    __tablename__ = "community_health_alerts"
    __table_args__ = (Index("ix_health_alerts_open", "created_at", postgresql_where=text("acknowledged_at IS NULL")),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    checkin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_checkins.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    reading: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    acknowledged_by: Mapped[uuid.UUID | None]
    acknowledged_at: Mapped[datetime | None]


# --- moderation -------------------------------------------------------------------------------


class WordCategory(enum.StrEnum):
    BLOCK = "block"  # refused with a clear error
    HOLD = "hold"  # published only after review
    AD = "ad"  # advertising / medical claim: held
    EMERGENCY = "emergency"  # author-only + help reply + on-duty alert


class SensitiveWord(IdMixin, Base):
    __tablename__ = "community_sensitive_words"

    word: Mapped[str] = mapped_column(String(60), unique=True)
    category: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class WordException(IdMixin, Base):
    """A harmless phrase that contains a listed word (保安全 contains 保安): matches inside it are ignored."""

    __tablename__ = "community_word_exceptions"

    phrase: Mapped[str] = mapped_column(String(60), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Report(IdMixin, Base):
    __tablename__ = "community_reports"
    __table_args__ = (
        UniqueConstraint("target_kind", "target_id", "reporter_kind", "reporter_id"),
        Index("ix_reports_reporter", "reporter_kind", "reporter_id"),
    )

    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[uuid.UUID]
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    reporter_kind: Mapped[str] = mapped_column(String(16))
    reporter_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(String(500))
    weight: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | upheld | rejected
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


# Moderation (community/moderation/): decisions, why an item is queued, why a member reports.
class Decision(enum.StrEnum):
    KEEP = "keep"  # restore: hidden / held / author-only -> published; reports rejected
    HIDE = "hide"  # hidden (restorable)
    REMOVE = "remove"
    WARN = "warn"  # hidden + a warning to the author
    MUTE = "mute"  # hidden + the author muted for N days
    BAN = "ban"  # removed + the author banned (for N days or for good)


class ItemReason(enum.StrEnum):
    REPORTS = "reports"
    HELD_WORD = "held_word"
    AD_CLAIM = "ad_claim"
    EMERGENCY = "emergency"


class ReportReason(enum.StrEnum):
    SPAM = "spam"
    ABUSE = "abuse"
    MISINFORMATION = "misinformation"
    PRIVACY = "privacy"
    ILLEGAL = "illegal"
    SELF_HARM = "self_harm"
    OTHER = "other"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    REJECTED = "rejected"


class QueueStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DECIDED = "decided"


class ModerationItem(IdMixin, Base):
    __tablename__ = "community_moderation_items"
    __table_args__ = (
        Index(
            "uq_moderation_open_target",
            "target_kind",
            "target_id",
            unique=True,
            postgresql_where=text("status <> 'decided'"),
        ),
        Index("ix_moderation_queue", "status", "priority", "created_at"),
    )

    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[uuid.UUID]
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(30))  # reports | held_word | ad_claim | emergency
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)  # higher first; emergencies highest
    score: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=0)
    status: Mapped[str] = mapped_column(String(16), default=QueueStatus.OPEN)
    version: Mapped[int] = mapped_column(Integer, default=1)
    claimed_by: Mapped[uuid.UUID | None]
    claimed_at: Mapped[datetime | None]
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class AuditEntry(IdMixin, Base):
    """Append-only (a trigger refuses UPDATE and DELETE): every moderator action and its effects."""

    __tablename__ = "community_audit_log"
    __table_args__ = (
        Index("ix_audit_group_created", "group_id", "created_at"),
        Index("ix_audit_target", "target_kind", "target_id"),
    )

    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(40))
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[uuid.UUID]
    group_id: Mapped[uuid.UUID | None]
    reason: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


# --- events -----------------------------------------------------------------------------------


class EventKind(enum.StrEnum):
    ONLINE_LECTURE = "online_lecture"
    LIVESTREAM = "livestream"
    OFFLINE = "offline"
    FREE_CLINIC = "free_clinic"  # 义诊


class EventStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Event(IdMixin, TimestampMixin, Base):
    __tablename__ = "community_events"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="times"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity"),
        Index("ix_events_starts", "starts_at"),
        Index("ix_events_series", "series_id"),
    )

    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_groups.id", ondelete="SET NULL"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    series_id: Mapped[uuid.UUID | None]  # occurrences of one recurring event share it
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    host_name: Mapped[str | None] = mapped_column(String(60))
    location: Mapped[str | None] = mapped_column(String(200))
    online_link: Mapped[str | None] = mapped_column(String(500))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int | None] = mapped_column(Integer)
    registration_deadline: Mapped[datetime | None]
    offer_hold_hours: Mapped[int] = mapped_column(SmallInteger, default=12)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled | cancelled
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    going_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None]


class RsvpStatus(enum.StrEnum):
    GOING = "going"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"  # a freed seat held for this person until offer_expires_at
    CANCELLED = "cancelled"


class RsvpResponse(enum.StrEnum):
    """What a patient answers to an event (RsvpStatus is where that leaves them)."""

    GOING = "going"
    DECLINED = "declined"


class EventRsvp(IdMixin, TimestampMixin, Base):
    __tablename__ = "community_event_rsvps"
    __table_args__ = (
        UniqueConstraint("event_id", "patient_id"),
        Index("ix_rsvps_event_status", "event_id", "status", "waitlisted_at"),
        Index("ix_rsvps_offer_expiry", "offer_expires_at", postgresql_where=text("status = 'offered'")),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_events.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    waitlisted_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    # Signed into the attendee's one-use check-in QR token (community.attendance); a new one when the
    # registration is withdrawn, so a token handed out before stops working.
    checkin_nonce: Mapped[str] = mapped_column(String(24), default=lambda: secrets.token_hex(12))
    priority: Mapped[bool] = mapped_column(default=False)  # a priority member (tier benefit) waits ahead


class EventInvitation(IdMixin, Base):
    __tablename__ = "community_event_invitations"
    __table_args__ = (UniqueConstraint("event_id", "patient_id"),)

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_events.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_invitation_runs.id", ondelete="CASCADE"))
    channels: Mapped[list[str]] = mapped_column(JSONB, default=list)  # queued now or at the end of quiet hours
    skipped: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)  # channel -> the policy's reason
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class InvitationRun(IdMixin, Base):
    """One 'invite these audiences' request, fanned out by a worker in keyset batches (resumable)."""

    __tablename__ = "community_invitation_runs"

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_events.id", ondelete="CASCADE"))
    # {"group_ids": [...], "patient_ids": [...], "segment": {"id": ..., "criteria": {...}} (frozen at start)}
    audience: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done
    cursor: Mapped[uuid.UUID | None]  # last patient id handled, for resuming
    invited: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)  # audience the outreach policy kept out
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]


class NoticeSent(Base):
    """Idempotency keys of notifications already queued (reminders, offers, warnings, alerts), so a
    retried or overlapping job never sends the same notice twice."""

    __tablename__ = "community_notices_sent"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


# --- bookmarks and share links (community/bookmarks.py, community/sharing.py) ---------------------


class Bookmark(Base):
    """A person's bookmark of a post or a comment (answer). Article bookmarks stay with content. The
    post and group are copied in so the listing filters by the one access check without a join per kind."""

    __tablename__ = "community_bookmarks"
    __table_args__ = (
        CheckConstraint("target_kind IN ('post', 'comment')", name="target_kind"),
        Index("ix_bookmarks_account_created", "account_kind", "account_id", "created_at", "target_id"),
    )

    account_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # post | comment
    target_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("community_groups.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ShareLink(Base):
    """A short link (/s/<code>) one person made for a post, article or event; carries their referral code.
    One per (target, sharer): sharing again returns it (renewed once expired)."""

    __tablename__ = "community_share_links"
    __table_args__ = (
        CheckConstraint("target_kind IN ('post', 'article', 'event')", name="target_kind"),
        UniqueConstraint("target_kind", "target_id", "sharer_kind", "sharer_id", name="uq_share_links_target_sharer"),
        Index("ix_share_links_sharer", "sharer_kind", "sharer_id"),
    )

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[uuid.UUID]
    sharer_kind: Mapped[str] = mapped_column(String(16))
    sharer_id: Mapped[uuid.UUID]
    referral_code: Mapped[str | None] = mapped_column(String(16))
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    last_clicked_at: Mapped[datetime | None]
