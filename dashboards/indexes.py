"""Indexes the dashboard aggregates need on other domains' tables (created by migration 0010).

They are declared here, beside the queries that use them, so the models and the migrations agree
(tests/test_migrations.py) without the owning domains knowing about the dashboards.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from community.models import CheckIn, Comment, Post
from loyalty.models import LifecycleChange, Referral, Visit

# Return-visit rate: completed visits read from the index alone, already in the (patient, time) order
# the lag() window needs, so a year of visits is never sorted.
VISITS_COMPLETED = Index(
    "ix_visits_completed_patient_visited",
    Visit.patient_id,
    Visit.visited_at,
    postgresql_include=["site_id"],
    postgresql_where=text("status = 'completed'"),
)
LIFECYCLE_CHANGES_AT = Index("ix_lifecycle_changes_changed_at", LifecycleChange.changed_at)
REFERRALS_CREATED = Index("ix_referrals_created_at", Referral.created_at)
POSTS_CREATED = Index("ix_community_posts_created_at", Post.created_at)
COMMENTS_CREATED = Index("ix_community_comments_created_at", Comment.created_at)
CHECKINS_CREATED = Index("ix_community_checkins_created_at", CheckIn.created_at)
