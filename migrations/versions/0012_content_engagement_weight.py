"""content: engagement weight kept on the item for the feed ranking

Revision ID: 0012
Revises: 0011

The feed ranked each candidate item by summing its engagement events per request (a lookup per item,
~10k items per page on a large catalogue). The weight is now kept on the item, raised with every
weighted event and never lowered (a like taken back keeps its event), so scores only grow and a page
walk still never repeats an item.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("content_items", sa.Column("engagement_weight", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute(
        """
        UPDATE content_items i SET engagement_weight = e.weight
        FROM (SELECT item_id, sum(CASE kind WHEN 'read_end' THEN 1 WHEN 'like' THEN 2 WHEN 'bookmark' THEN 3
                                            WHEN 'share' THEN 3 ELSE 0 END) AS weight
              FROM content_engagement_events GROUP BY item_id) e
        WHERE e.item_id = i.id
        """
    )


def downgrade() -> None:
    op.drop_column("content_items", "engagement_weight")
