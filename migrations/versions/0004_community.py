"""community

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:10:41.931086
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('community_audit_log',
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_audit_log'))
    )
    op.create_index('ix_audit_group_created', 'community_audit_log', ['group_id', 'created_at'], unique=False)
    op.create_index('ix_audit_target', 'community_audit_log', ['target_kind', 'target_id'], unique=False)
    op.create_table('community_notices_sent',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_community_notices_sent'))
    )
    op.create_table('community_reactions',
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('account_kind', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('target_kind', 'target_id', 'account_kind', 'account_id', 'kind', name=op.f('pk_community_reactions'))
    )
    op.create_index('ix_reactions_target', 'community_reactions', ['target_kind', 'target_id', 'kind'], unique=False)
    op.create_table('community_sensitive_words',
    sa.Column('word', sa.String(length=60), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_sensitive_words')),
    sa.UniqueConstraint('word', name=op.f('uq_community_sensitive_words_word'))
    )
    op.create_table('community_word_exceptions',
    sa.Column('phrase', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_word_exceptions')),
    sa.UniqueConstraint('phrase', name=op.f('uq_community_word_exceptions_phrase'))
    )
    op.create_table('community_groups',
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('condition_code', sa.String(length=40), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('rules_text', sa.Text(), nullable=False),
    sa.Column('cover_url', sa.String(length=500), nullable=True),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('join_policy', sa.String(length=16), nullable=False),
    sa.Column('allow_anonymous', sa.Boolean(), nullable=False),
    sa.Column('alias_prefix', sa.String(length=8), nullable=False),
    sa.Column('member_count', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['condition_code'], ['conditions.code'], name=op.f('fk_community_groups_condition_code_conditions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_groups')),
    sa.UniqueConstraint('slug', name=op.f('uq_community_groups_slug'))
    )
    op.create_table('community_aliases',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['community_groups.id'], name=op.f('fk_community_aliases_group_id_community_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'account_id', name=op.f('pk_community_aliases')),
    sa.UniqueConstraint('group_id', 'number', name=op.f('uq_community_aliases_group_id'))
    )
    op.create_table('community_checkin_streaks',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('current', sa.Integer(), nullable=False),
    sa.Column('longest', sa.Integer(), nullable=False),
    sa.Column('last_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_community_checkin_streaks_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_community_checkin_streaks'))
    )
    op.create_table('community_checkins',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('out_of_range', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['community_groups.id'], name=op.f('fk_community_checkins_group_id_community_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_community_checkins_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_checkins')),
    sa.UniqueConstraint('patient_id', 'kind', 'local_date', name=op.f('uq_community_checkins_patient_id'))
    )
    op.create_index('ix_checkins_group_date', 'community_checkins', ['group_id', 'local_date'], unique=False)
    op.create_index('ix_checkins_patient_date', 'community_checkins', ['patient_id', 'local_date'], unique=False)
    op.create_table('community_events',
    sa.Column('group_id', sa.Uuid(), nullable=True),
    sa.Column('site_id', sa.Uuid(), nullable=True),
    sa.Column('series_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('host_name', sa.String(length=60), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('online_link', sa.String(length=500), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('registration_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_hold_hours', sa.SmallInteger(), nullable=False),
    sa.Column('checkin_code', sa.String(length=6), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=300), nullable=True),
    sa.Column('going_count', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity IS NULL OR capacity > 0', name=op.f('ck_community_events_capacity')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_community_events_times')),
    sa.ForeignKeyConstraint(['group_id'], ['community_groups.id'], name=op.f('fk_community_events_group_id_community_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_community_events_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_events')),
    sa.UniqueConstraint('checkin_code', name=op.f('uq_community_events_checkin_code'))
    )
    op.create_index('ix_events_series', 'community_events', ['series_id'], unique=False)
    op.create_index('ix_events_starts', 'community_events', ['starts_at'], unique=False)
    op.create_table('community_memberships',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('account_kind', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('muted_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('banned_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notification_level', sa.String(length=16), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by', sa.Uuid(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('request_note', sa.String(length=300), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['community_groups.id'], name=op.f('fk_community_memberships_group_id_community_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_memberships')),
    sa.UniqueConstraint('group_id', 'account_kind', 'account_id', name=op.f('uq_community_memberships_group_id'))
    )
    op.create_index('ix_memberships_account', 'community_memberships', ['account_kind', 'account_id'], unique=False)
    op.create_index('ix_memberships_group_state', 'community_memberships', ['group_id', 'state'], unique=False)
    op.create_table('community_moderation_items',
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('score', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.Uuid(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['community_groups.id'], name=op.f('fk_community_moderation_items_group_id_community_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_moderation_items'))
    )
    op.create_index('ix_moderation_queue', 'community_moderation_items', ['status', 'priority', 'created_at'], unique=False)
    op.create_index('uq_moderation_open_target', 'community_moderation_items', ['target_kind', 'target_id'], unique=True, postgresql_where=sa.text("status <> 'decided'"))
    op.create_table('community_posts',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('author_kind', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body_md', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('image_urls', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('comment_count', sa.Integer(), nullable=False),
    sa.Column('verified_answer_id', sa.Uuid(), nullable=True),
    sa.Column('accepted_answer_id', sa.Uuid(), nullable=True),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['community_groups.id'], name=op.f('fk_community_posts_group_id_community_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_posts'))
    )
    op.create_index('ix_posts_author', 'community_posts', ['author_kind', 'author_id', 'created_at'], unique=False)
    op.create_index('ix_posts_group_feed', 'community_posts', ['group_id', 'pinned', 'created_at', 'id'], unique=False)
    op.create_table('community_reports',
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('reporter_kind', sa.String(length=16), nullable=False),
    sa.Column('reporter_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('weight', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['community_groups.id'], name=op.f('fk_community_reports_group_id_community_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_reports')),
    sa.UniqueConstraint('target_kind', 'target_id', 'reporter_kind', 'reporter_id', name=op.f('uq_community_reports_target_kind'))
    )
    op.create_index('ix_reports_reporter', 'community_reports', ['reporter_kind', 'reporter_id'], unique=False)
    op.create_table('community_comments',
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('author_kind', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('body_md', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['community_comments.id'], name=op.f('fk_community_comments_parent_id_community_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['community_posts.id'], name=op.f('fk_community_comments_post_id_community_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_comments'))
    )
    op.create_index('ix_comments_post', 'community_comments', ['post_id', 'created_at', 'id'], unique=False)
    op.create_table('community_event_rsvps',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('waitlisted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['community_events.id'], name=op.f('fk_community_event_rsvps_event_id_community_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_community_event_rsvps_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_event_rsvps')),
    sa.UniqueConstraint('event_id', 'patient_id', name=op.f('uq_community_event_rsvps_event_id'))
    )
    op.create_index('ix_rsvps_event_status', 'community_event_rsvps', ['event_id', 'status', 'waitlisted_at'], unique=False)
    op.create_index('ix_rsvps_offer_expiry', 'community_event_rsvps', ['offer_expires_at'], unique=False, postgresql_where=sa.text("status = 'offered'"))
    op.create_table('community_health_alerts',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('checkin_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reading', sa.String(length=60), nullable=False),
    sa.Column('message', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.Uuid(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['checkin_id'], ['community_checkins.id'], name=op.f('fk_community_health_alerts_checkin_id_community_checkins'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_community_health_alerts_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_health_alerts')),
    sa.UniqueConstraint('checkin_id', name=op.f('uq_community_health_alerts_checkin_id'))
    )
    op.create_index('ix_health_alerts_open', 'community_health_alerts', ['created_at'], unique=False, postgresql_where=sa.text('acknowledged_at IS NULL'))
    op.create_table('community_invitation_runs',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('audience', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cursor', sa.Uuid(), nullable=True),
    sa.Column('invited', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['community_events.id'], name=op.f('fk_community_invitation_runs_event_id_community_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_invitation_runs'))
    )
    op.create_table('community_post_revisions',
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body_md', sa.Text(), nullable=False),
    sa.Column('edited_by', sa.Uuid(), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['community_posts.id'], name=op.f('fk_community_post_revisions_post_id_community_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_post_revisions'))
    )
    op.create_index('ix_post_revisions_post', 'community_post_revisions', ['post_id', 'edited_at'], unique=False)
    op.create_table('community_event_invitations',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('channels', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['community_events.id'], name=op.f('fk_community_event_invitations_event_id_community_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_community_event_invitations_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['community_invitation_runs.id'], name=op.f('fk_community_event_invitations_run_id_community_invitation_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_event_invitations')),
    sa.UniqueConstraint('event_id', 'patient_id', name=op.f('uq_community_event_invitations_event_id'))
    )

    # The audit log is append-only: history cannot be rewritten, even by the application.
    op.execute("""
        CREATE FUNCTION community_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'community_audit_log is append-only';
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER community_audit_log_append_only BEFORE UPDATE OR DELETE ON community_audit_log
        FOR EACH ROW EXECUTE FUNCTION community_audit_log_append_only();
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS community_audit_log_append_only ON community_audit_log")
    op.execute("DROP FUNCTION IF EXISTS community_audit_log_append_only()")
    op.drop_table('community_event_invitations')
    op.drop_index('ix_post_revisions_post', table_name='community_post_revisions')
    op.drop_table('community_post_revisions')
    op.drop_table('community_invitation_runs')
    op.drop_index('ix_health_alerts_open', table_name='community_health_alerts', postgresql_where=sa.text('acknowledged_at IS NULL'))
    op.drop_table('community_health_alerts')
    op.drop_index('ix_rsvps_offer_expiry', table_name='community_event_rsvps', postgresql_where=sa.text("status = 'offered'"))
    op.drop_index('ix_rsvps_event_status', table_name='community_event_rsvps')
    op.drop_table('community_event_rsvps')
    op.drop_index('ix_comments_post', table_name='community_comments')
    op.drop_table('community_comments')
    op.drop_index('ix_reports_reporter', table_name='community_reports')
    op.drop_table('community_reports')
    op.drop_index('ix_posts_group_feed', table_name='community_posts')
    op.drop_index('ix_posts_author', table_name='community_posts')
    op.drop_table('community_posts')
    op.drop_index('uq_moderation_open_target', table_name='community_moderation_items', postgresql_where=sa.text("status <> 'decided'"))
    op.drop_index('ix_moderation_queue', table_name='community_moderation_items')
    op.drop_table('community_moderation_items')
    op.drop_index('ix_memberships_group_state', table_name='community_memberships')
    op.drop_index('ix_memberships_account', table_name='community_memberships')
    op.drop_table('community_memberships')
    op.drop_index('ix_events_starts', table_name='community_events')
    op.drop_index('ix_events_series', table_name='community_events')
    op.drop_table('community_events')
    op.drop_index('ix_checkins_patient_date', table_name='community_checkins')
    op.drop_index('ix_checkins_group_date', table_name='community_checkins')
    op.drop_table('community_checkins')
    op.drop_table('community_checkin_streaks')
    op.drop_table('community_aliases')
    op.drop_table('community_groups')
    op.drop_table('community_word_exceptions')
    op.drop_table('community_sensitive_words')
    op.drop_index('ix_reactions_target', table_name='community_reactions')
    op.drop_table('community_reactions')
    op.drop_table('community_notices_sent')
    op.drop_index('ix_audit_target', table_name='community_audit_log')
    op.drop_index('ix_audit_group_created', table_name='community_audit_log')
    op.drop_table('community_audit_log')
