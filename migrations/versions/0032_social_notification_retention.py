"""social: the index the notification retention job walks (read notifications by last activity)

Revision ID: 0032
Revises: 0031

`ix_social_notifications_read_age`: read notifications by (updated_at, id), for the daily cron
`social.notifications_prune` (social/retention.py) that deletes read notifications past
PORTAL_NOTIFICATION_READ_RETENTION_DAYS in keyset batches. Partial: a row enters it only when it is
marked read, so the fan-out's inserts (all unread) never touch it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_social_notifications_read_age",
        "social_notifications",
        ["updated_at", "id"],
        postgresql_where=sa.text("read_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_social_notifications_read_age",
        table_name="social_notifications",
        postgresql_where=sa.text("read_at IS NOT NULL"),
    )
