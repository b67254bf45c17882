"""campaigns: an optional message body per channel

Revision ID: 0031
Revises: 0030

`campaigns.channel_bodies`: {channel: body} for the channels whose text differs from the common body
(an SMS without the condition name an in-app message may carry, a shorter WeChat card). A channel
without an entry sends the common body, so every existing campaign keeps sending what it sent.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("channel_bodies", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def downgrade() -> None:
    op.drop_column("campaigns", "channel_bodies")
