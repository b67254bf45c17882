"""comment author index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:00:08.638784
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_comments_author', 'community_comments', ['author_kind', 'author_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_comments_author', table_name='community_comments')
