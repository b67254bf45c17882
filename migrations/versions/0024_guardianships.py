"""patients: guardianships (a guardian's scoped, revocable delegation for a dependent) and guardian_actions

`guardianships`: guardian and dependent (both patients), the relation, the scopes (view, book, redeem,
community), the state (pending, active, revoked), who created it, how it became active (staff checked
documents, the dependent confirmed, or the guardian opened a minor's account proving its phone) and who
revoked it when and why. At most one pending or active delegation per pair. `guardian_actions`: the
append-only record of each thing a guardian did for a dependent, with both named.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guardianships",
        sa.Column("guardian_id", sa.Uuid(), nullable=False),
        sa.Column("dependent_id", sa.Uuid(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_kind", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmation", sa.String(length=24), nullable=True),
        sa.Column("evidence_note", sa.String(length=200), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_kind", sa.String(length=16), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.Column("revoked_reason", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("guardian_id <> dependent_id", name=op.f("ck_guardianships_not_self")),
        sa.CheckConstraint(
            "relation IN ('child', 'parent', 'spouse', 'other')", name=op.f("ck_guardianships_relation")
        ),
        sa.CheckConstraint("status IN ('pending', 'active', 'revoked')", name=op.f("ck_guardianships_status")),
        sa.CheckConstraint(
            "confirmation IS NULL OR confirmation IN ('staff_verified', 'dependent_confirmed', 'minor_account')",
            name=op.f("ck_guardianships_confirmation"),
        ),
        sa.CheckConstraint(
            "cardinality(scopes) > 0 AND scopes <@ ARRAY['view', 'book', 'redeem', 'community']::varchar[]",
            name=op.f("ck_guardianships_scopes"),
        ),
        sa.ForeignKeyConstraint(
            ["guardian_id"], ["patients.id"], name=op.f("fk_guardianships_guardian_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dependent_id"], ["patients.id"], name=op.f("fk_guardianships_dependent_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardianships")),
    )
    op.create_index(
        "uq_guardianships_live_pair",
        "guardianships",
        ["guardian_id", "dependent_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'active')"),
    )
    op.create_index("ix_guardianships_guardian", "guardianships", ["guardian_id", "created_at"])
    op.create_index("ix_guardianships_dependent", "guardianships", ["dependent_id", "created_at"])
    op.create_table(
        "guardian_actions",
        sa.Column("guardianship_id", sa.Uuid(), nullable=False),
        sa.Column("guardian_id", sa.Uuid(), nullable=False),
        sa.Column("dependent_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_actions")),
    )
    op.create_index("ix_guardian_actions_guardianship", "guardian_actions", ["guardianship_id", "occurred_at", "id"])
    op.create_index("ix_guardian_actions_dependent", "guardian_actions", ["dependent_id", "occurred_at", "id"])
    op.create_index("ix_guardian_actions_guardian", "guardian_actions", ["guardian_id", "occurred_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_guardian_actions_guardian", table_name="guardian_actions")
    op.drop_index("ix_guardian_actions_dependent", table_name="guardian_actions")
    op.drop_index("ix_guardian_actions_guardianship", table_name="guardian_actions")
    op.drop_table("guardian_actions")
    op.drop_index("ix_guardianships_dependent", table_name="guardianships")
    op.drop_index("ix_guardianships_guardian", table_name="guardianships")
    op.drop_index("uq_guardianships_live_pair", table_name="guardianships")
    op.drop_table("guardianships")
