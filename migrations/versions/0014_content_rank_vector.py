"""content: a small vector for ranking search results

Revision ID: 0014
Revises: 0013

Ranking a common word read the whole search vector of every match (title, summary and body, often
stored out of line). The title and summary words (weights A and B) are kept apart in a generated
column, small enough to stay in the row; the full vector still decides what matches.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "content_items",
        sa.Column(
            "rank_vector",
            postgresql.TSVECTOR(),
            sa.Computed("ts_filter(search_vector, '{a,b}')", persisted=True),
            nullable=True,
        ),
    )


def downgrade() -> None:
    op.drop_column("content_items", "rank_vector")
