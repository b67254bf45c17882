"""Content tables: items (the live projection readers see), revisions (every version, with its
workflow state), transitions (who moved what when), the compliance word list, story consents and
engagement (events, reactions)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin, TimestampMixin


class ContentKind(enum.StrEnum):
    ARTICLE = "article"
    STORY = "story"  # a patient story: needs that patient's recorded consent
    VIDEO = "video"
    ANNOUNCEMENT = "announcement"


# Health-education kinds: prices, purchase links and contact numbers are not allowed in them.
HEALTH_EDUCATION_KINDS = frozenset({ContentKind.ARTICLE, ContentKind.STORY, ContentKind.VIDEO})


class ContentStatus(enum.StrEnum):
    """The workflow state of an item's working revision (what editors and reviewers act on)."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class RevisionStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"  # the live revision
    SUPERSEDED = "superseded"  # was live, replaced by a newer one
    ARCHIVED = "archived"


class Gate(enum.StrEnum):
    PUBLIC = "public"  # anyone, signed in or not
    MEMBERS = "members"  # signed-in patients
    TIER = "tier"  # patients of gate_min_tier_rank or higher


class EngagementKind(enum.StrEnum):
    VIEW = "view"
    READ_END = "read_end"
    LIKE = "like"
    BOOKMARK = "bookmark"
    SHARE = "share"


class Severity(enum.StrEnum):
    BLOCK = "block"
    WARN = "warn"


class TermMatch(enum.StrEnum):
    WORD = "word"
    REGEX = "regex"


class ContentItem(IdMixin, TimestampMixin, Base):
    """One piece of content. Columns below `live_revision_id` are a copy of the live revision,
    kept here so the access check, the feed and search are single-table queries."""

    __tablename__ = "content_items"
    __table_args__ = (
        Index("ix_content_items_search", "search_vector", postgresql_using="gin"),
        Index("ix_content_items_due", "publish_at", postgresql_where=text("status = 'scheduled'")),
        Index("ix_content_items_live", "published_at", "id", postgresql_where=text("live_revision_id IS NOT NULL")),
        Index("ix_content_items_author", "author_id", "created_at"),
        Index(
            "ix_content_items_feed_rank",
            text("feed_rank DESC"),
            text("id DESC"),
            postgresql_where=text("live_revision_id IS NOT NULL"),
        ),
        Index("ix_content_items_conditions", "condition_codes", postgresql_using="gin"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16), default="zh-CN")
    author_id: Mapped[uuid.UUID]  # staff (marketer)
    status: Mapped[str] = mapped_column(String(16), default=ContentStatus.DRAFT)
    working_revision_id: Mapped[uuid.UUID | None]
    publish_at: Mapped[datetime | None]  # when scheduled
    story_patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    archived_at: Mapped[datetime | None]
    archive_reason: Mapped[str | None] = mapped_column(String(40))

    # live projection (NULL live_revision_id: nobody reads it)
    live_revision_id: Mapped[uuid.UUID | None]
    published_at: Mapped[datetime | None]
    title: Mapped[str] = mapped_column(String(120), default="")
    condition_codes: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    topics: Mapped[list[str]] = mapped_column(ARRAY(String(30)), default=list)
    audience_conditions: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    audience_group_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid(as_uuid=True)), default=list)
    audience_tiers: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    audience_stages: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    gate: Mapped[str] = mapped_column(String(16), default=Gate.PUBLIC)
    gate_min_tier_rank: Mapped[int | None] = mapped_column(SmallInteger)
    # Both vectors are only ever used inside SQL (search, ranking): deferred, so reading an item never
    # ships every word of its body to Python (a feed page of 20 items was mostly these two columns).
    search_vector: Mapped[Any | None] = mapped_column(TSVECTOR, deferred=True)
    # Title and summary words only (weights A, B): ranks search results without reading the body's words.
    rank_vector: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed("ts_filter(search_vector, '{a,b}')", persisted=True), deferred=True
    )

    view_count: Mapped[int] = mapped_column(Integer, default=0)
    read_count: Mapped[int] = mapped_column(Integer, default=0)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    bookmark_count: Mapped[int] = mapped_column(Integer, default=0)
    share_count: Mapped[int] = mapped_column(Integer, default=0)
    # Weighted engagement events (feed ranking); only ever raised, see migration 0012.
    engagement_weight: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # log(freshness x engagement) less a constant: a feed order that time does not change (migration 0013).
    feed_rank: Mapped[float | None] = mapped_column(
        Float,
        Computed(
            "extract(epoch from (published_at - '2000-01-01 00:00:00+00'::timestamptz)) / 1209600.0 "
            "+ 0.25 * ln(1 + engagement_weight)",
            persisted=True,
        ),
    )


class ContentRevision(IdMixin, Base):
    """One version of an item. Editing a published item starts a new draft revision; the
    published one stays live until the new one is approved and published."""

    __tablename__ = "content_revisions"
    __table_args__ = (UniqueConstraint("item_id", "number", name="item_number"),)

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=RevisionStatus.DRAFT)
    editor_id: Mapped[uuid.UUID]  # staff who wrote this revision
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    cover_url: Mapped[str | None] = mapped_column(String(500))
    video_url: Mapped[str | None] = mapped_column(String(500))
    condition_codes: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    topics: Mapped[list[str]] = mapped_column(ARRAY(String(30)), default=list)
    audience_conditions: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    audience_group_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid(as_uuid=True)), default=list)
    audience_tiers: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    audience_stages: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    gate: Mapped[str] = mapped_column(String(16), default=Gate.PUBLIC)
    gate_min_tier_rank: Mapped[int | None] = mapped_column(SmallInteger)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    checked_at: Mapped[datetime | None]
    reviewer_id: Mapped[uuid.UUID | None]
    review_comment: Mapped[str | None] = mapped_column(Text)
    acknowledged: Mapped[list[str]] = mapped_column(ARRAY(String(120)), default=list)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class ContentTransition(IdMixin, Base):
    """Append-only: every workflow step with who took it and when."""

    __tablename__ = "content_transitions"
    __table_args__ = (Index("ix_content_transitions_item", "item_id", "occurred_at"),)

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"))
    revision_id: Mapped[uuid.UUID | None]
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    comment: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)


class ComplianceTerm(IdMixin, Base):
    """The compliance word list (data, seeded, edited by admins). A match inside one of
    `allowed_contexts` (根治术, 不能根治 ...) is ignored."""

    __tablename__ = "content_compliance_terms"

    pattern: Mapped[str] = mapped_column(String(200), unique=True)
    match: Mapped[str] = mapped_column(String(8), default=TermMatch.WORD)
    category: Mapped[str] = mapped_column(String(24))  # forbidden_claim, guarantee, absolute
    severity: Mapped[str] = mapped_column(String(8), default=Severity.BLOCK)
    note: Mapped[str] = mapped_column(String(200), default="")
    allowed_contexts: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class StoryConsent(Base):
    """The consent of the patient a story is about; withdrawing it takes the story down."""

    __tablename__ = "content_story_consents"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"), primary_key=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(default=clock.now)
    withdrawn_at: Mapped[datetime | None]


class EngagementEvent(IdMixin, Base):
    """Every view, read to the end, like, bookmark and share (the basis of stats and ranking)."""

    __tablename__ = "content_engagement_events"
    __table_args__ = (
        Index("ix_content_events_item_day", "item_id", "day"),
        Index(
            "uq_content_events_read_end",
            "item_id",
            "patient_id",
            unique=True,
            postgresql_where=text("kind = 'read_end'"),
        ),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)  # in the group's time zone
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)


class Reaction(Base):
    """A patient's current like / bookmark of an item."""

    __tablename__ = "content_reactions"
    __table_args__ = (Index("ix_content_reactions_patient", "patient_id", "kind", "created_at"),)

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"), primary_key=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
