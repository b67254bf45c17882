"""content: a feed rank that does not depend on the time of the request

Revision ID: 0013
Revises: 0012

The feed ranks unmatched items by freshness times engagement, `exp(-age / 14 days) * (1 + weight) ** 0.25`. Its
logarithm, less a constant, is `published_at / 14 days + ln(1 + weight) / 4`: the order never changes
as time passes, so it is a stored column with an index, and the feed reads the index in order instead
of scoring every readable item per request. The interval arithmetic keeps the expression immutable.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FEED_RANK = (
    "extract(epoch from (published_at - '2000-01-01 00:00:00+00'::timestamptz)) / 1209600.0 "
    "+ 0.25 * ln(1 + engagement_weight)"
)


def upgrade() -> None:
    op.add_column(
        "content_items", sa.Column("feed_rank", sa.Float(), sa.Computed(FEED_RANK, persisted=True), nullable=True)
    )
    op.create_index(
        "ix_content_items_feed_rank",
        "content_items",
        [sa.text("feed_rank DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("live_revision_id IS NOT NULL"),
    )
    op.create_index("ix_content_items_conditions", "content_items", ["condition_codes"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_content_items_conditions", table_name="content_items")
    op.drop_index("ix_content_items_feed_rank", table_name="content_items")
    op.drop_column("content_items", "feed_rank")
