"""Campaign tables: saved segments, campaigns (with their runner cursor), one delivery per
(campaign, patient), and the journey occasions that make automated journeys idempotent."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin, TimestampMixin


class CampaignClass(enum.StrEnum):
    MARKETING = "marketing"  # consent purpose "marketing", frequency cap applies
    CARE = "care"  # consent purpose "service", bypasses the cap (never the consent)


class AudienceKind(enum.StrEnum):
    SEGMENT = "segment"
    EVENT = "event"  # invitees and/or registrants of a community event
    JOURNEY = "journey"  # the occasions a journey run recorded


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"  # waits for its schedule
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    FAILED = "failed"
    SKIPPED = "skipped"


class SkipReason(enum.StrEnum):
    SUPPRESSED = "suppressed"
    NO_CONSENT = "no_consent"
    NO_ADDRESS = "no_address"
    FREQUENCY_CAP = "frequency_cap"
    CANCELLED = "cancelled"


class Segment(IdMixin, TimestampMixin, Base):
    __tablename__ = "campaign_segments"

    name: Mapped[str] = mapped_column(String(60), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    criteria: Mapped[dict[str, Any]]
    created_by: Mapped[uuid.UUID | None]


class Campaign(IdMixin, TimestampMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_status_scheduled", "status", "scheduled_at"),
        Index("ix_campaigns_created", "created_at", "id"),
    )

    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # CampaignClass
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT)
    audience_kind: Mapped[str] = mapped_column(String(16))
    segment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("campaign_segments.id", ondelete="SET NULL"))
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("community_events.id", ondelete="SET NULL"))
    event_audience: Mapped[str | None] = mapped_column(String(16))  # invited | registered | both
    channels: Mapped[list[str]] = mapped_column(JSONB)  # in order of preference, the rest are fallbacks
    subject: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    # {channel: body} for channels whose text differs from `body` (no entry: the channel sends `body`).
    channel_bodies: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    link: Mapped[str | None] = mapped_column(String(500))
    scheduled_at: Mapped[datetime | None]  # None: as soon as approved
    journey_key: Mapped[str | None] = mapped_column(String(80), unique=True)  # journey:local-date
    created_by: Mapped[uuid.UUID | None]
    submitted_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None]
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str | None] = mapped_column(String(300))
    # Frozen when the run starts, so editing the segment later never changes who this campaign reached.
    criteria_snapshot: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime | None]
    cursor: Mapped[uuid.UUID | None]  # last audience patient id materialised (keyset, resumable)
    materialised_at: Mapped[datetime | None]
    audience_count: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None]

    def body_for(self, channel: str) -> str:
        """The text `channel` sends: its own body when the campaign has one, else the common body."""
        return (self.channel_bodies or {}).get(channel) or self.body


class Delivery(IdMixin, Base):
    __tablename__ = "campaign_deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "patient_id"),
        # The senders' work queue: due queued deliveries of one channel.
        Index(
            "ix_campaign_deliveries_due",
            "channel",
            "not_before",
            postgresql_where=text("status = 'queued'"),
        ),
        # Frequency cap and attribution read a patient's messages (a few dozen at most per patient).
        # Few indexes on purpose: every one costs time when a 100,000-row audience is materialised.
        Index("ix_campaign_deliveries_patient_delivered", "patient_id", "delivered_at"),
    )

    # No foreign keys on purpose: their per-row checks cost a third of materialising a 100,000-patient
    # audience, and neither campaigns nor patients are ever deleted (campaigns end, patients stay).
    campaign_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))  # the campaign's class, copied for the cap query
    channel: Mapped[str | None] = mapped_column(String(16))  # None when skipped before a channel was chosen
    status: Mapped[str] = mapped_column(String(16))
    skip_reason: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[dict[str, Any]]  # why chosen / why skipped, for the explanation
    consent: Mapped[dict[str, Any] | None]  # snapshot of the consent that allowed the channel
    not_before: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))


class JourneyOccasion(Base):
    """One row per (journey, patient, occasion): a journey greets a patient once per occasion, however
    often its cron runs or retries."""

    __tablename__ = "campaign_journey_occasions"
    __table_args__ = (Index("ix_campaign_journey_occasions_campaign", "campaign_id", "patient_id"),)

    journey: Mapped[str] = mapped_column(String(40), primary_key=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    occasion: Mapped[str] = mapped_column(String(80), primary_key=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # template variables (points, event)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
