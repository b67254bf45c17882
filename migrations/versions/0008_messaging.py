"""messaging: inbox, deliveries (one per source_ref), patient e-mail address

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('patients', sa.Column('email', postgresql.CITEXT(), nullable=True))
    op.create_table('inbox_messages',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('source_ref', sa.String(length=120), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('tracked', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('clicked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_inbox_messages_patient_id_patients'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_messages')),
    sa.UniqueConstraint('source_ref', name=op.f('uq_inbox_messages_source_ref'))
    )
    op.create_index('ix_inbox_messages_patient_created', 'inbox_messages', ['patient_id', 'created_at', 'id'],
                    unique=False)
    op.create_index('ix_inbox_messages_unread', 'inbox_messages', ['patient_id'], unique=False,
                    postgresql_where=sa.text('read_at IS NULL'))
    op.create_table('message_deliveries',
    sa.Column('source_ref', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('provider_ref', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('clicked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                            name=op.f('fk_message_deliveries_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_deliveries')),
    sa.UniqueConstraint('source_ref', name=op.f('uq_message_deliveries_source_ref'))
    )
    op.create_index('ix_message_deliveries_patient_created', 'message_deliveries', ['patient_id', 'created_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_message_deliveries_patient_created', table_name='message_deliveries')
    op.drop_table('message_deliveries')
    op.drop_index('ix_inbox_messages_unread', table_name='inbox_messages',
                  postgresql_where=sa.text('read_at IS NULL'))
    op.drop_index('ix_inbox_messages_patient_created', table_name='inbox_messages')
    op.drop_table('inbox_messages')
    op.drop_column('patients', 'email')
