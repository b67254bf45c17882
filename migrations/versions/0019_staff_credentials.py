"""community: staff practising credentials (执业证书) behind the expert badge; who verified an answer and when

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_credentials",
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("certificate_number", sa.String(length=32), nullable=False),
        sa.Column("institution", sa.String(length=100), nullable=False),
        sa.Column("specialty", sa.String(length=50), nullable=False),
        sa.Column("evidence_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("verified_by", sa.Uuid(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'revoked', 'expired')", name=op.f("ck_staff_credentials_status")
        ),
        sa.CheckConstraint(
            "status NOT IN ('verified', 'expired') OR verified_at IS NOT NULL",
            name=op.f("ck_staff_credentials_verified"),
        ),
        sa.CheckConstraint(
            "verified_by IS NULL OR verified_by <> staff_id", name=op.f("ck_staff_credentials_not_self_verified")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_credentials_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_credentials")),
    )
    op.create_index(
        "uq_staff_credentials_pending",
        "staff_credentials",
        ["staff_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_staff_credentials_verified",
        "staff_credentials",
        ["staff_id", "expires_at"],
        postgresql_where=sa.text("status = 'verified'"),
    )
    op.create_index(
        "ix_staff_credentials_expiry",
        "staff_credentials",
        ["expires_at"],
        postgresql_where=sa.text("status = 'verified'"),
    )
    op.create_index("ix_staff_credentials_number", "staff_credentials", ["certificate_number"])
    op.create_index("ix_staff_credentials_created_at_id", "staff_credentials", ["created_at", "id"])
    op.add_column("community_posts", sa.Column("verified_answer_by", sa.Uuid(), nullable=True))
    op.add_column("community_posts", sa.Column("verified_answer_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("community_posts", "verified_answer_at")
    op.drop_column("community_posts", "verified_answer_by")
    op.drop_index("ix_staff_credentials_created_at_id", table_name="staff_credentials")
    op.drop_index("ix_staff_credentials_number", table_name="staff_credentials")
    op.drop_index("ix_staff_credentials_expiry", table_name="staff_credentials")
    op.drop_index("ix_staff_credentials_verified", table_name="staff_credentials")
    op.drop_index("uq_staff_credentials_pending", table_name="staff_credentials")
    op.drop_table("staff_credentials")
