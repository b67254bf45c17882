r"""content: the seeded period term of the compliance word list made linear

The seeded regex `\d+\s*(?:天|周|个月)内?(...)` retried `\d+` from every digit of a long run of
digits: 50 s on a body of 50,000 digits. `(?<!\d)\d{1,6}` tries a run once. Only the row still
holding the seeded pattern is changed (an admin's own terms are theirs).

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUADRATIC = r"\d+\s*(?:天|周|个月)内?(?:治愈|根除|痊愈|见效|停药)"
LINEAR = r"(?<!\d)\d{1,6}\s*(?:天|周|个月)内?(?:治愈|根除|痊愈|见效|停药)"


def upgrade() -> None:
    op.get_bind().execute(
        sa.text(
            "UPDATE content_compliance_terms SET pattern = :new WHERE pattern = :old"
            " AND NOT EXISTS (SELECT 1 FROM content_compliance_terms WHERE pattern = :new)"
        ),
        {"old": QUADRATIC, "new": LINEAR},
    )


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("UPDATE content_compliance_terms SET pattern = :old WHERE pattern = :new"),
        {"old": QUADRATIC, "new": LINEAR},
    )
