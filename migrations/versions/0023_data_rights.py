"""privacy: data exports (PIPL art. 45 copy) and erasure requests (art. 47 deletion)

`data_exports` holds each copy a patient asked for: its state, and once done the JSON gzip-compressed
in the row (no object storage in this product) until it expires. `erasure_requests` holds each
erasure: when it may run (after the grace period), the legal deadline, the patient's choice for their
posts, and the record of every step the job took. `patients.erased_at` marks a pseudonymised account;
the system ledger account `erased` takes the points of erased members, so the journal stays balanced.

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ERASED_ACCOUNT_ID = "00000000-0000-7000-8000-000000000005"


def upgrade() -> None:
    op.add_column("patients", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "INSERT INTO ledger_accounts (id, patient_id, kind, balance) "
        f"VALUES ('{ERASED_ACCOUNT_ID}', NULL, 'erased', 0) ON CONFLICT DO NOTHING"
    )
    op.create_table(
        "data_exports",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("compressed_bytes", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_data_exports_status")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_data_exports_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_exports")),
    )
    op.create_index("ix_data_exports_patient", "data_exports", ["patient_id", "requested_at", "id"])
    op.create_index(
        "uq_data_exports_open",
        "data_exports",
        ["patient_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_index(
        "ix_data_exports_unfinished",
        "data_exports",
        ["requested_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_index(
        "ix_data_exports_expiry", "data_exports", ["expires_at"], postgresql_where=sa.text("content IS NOT NULL")
    )
    op.create_table(
        "erasure_requests",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("posts", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("execute_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_by", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'running', 'done', 'cancelled')", name=op.f("ck_erasure_requests_status")
        ),
        sa.CheckConstraint("posts IN ('anonymise', 'delete')", name=op.f("ck_erasure_requests_posts")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_erasure_requests_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )
    op.create_index("ix_erasure_requests_requested", "erasure_requests", ["requested_at", "id"])
    op.create_index("ix_erasure_requests_patient", "erasure_requests", ["patient_id", "requested_at"])
    op.create_index(
        "uq_erasure_requests_open",
        "erasure_requests",
        ["patient_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('scheduled', 'running')"),
    )
    op.create_index(
        "ix_erasure_requests_due",
        "erasure_requests",
        ["execute_after"],
        postgresql_where=sa.text("status IN ('scheduled', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("ix_erasure_requests_due", table_name="erasure_requests")
    op.drop_index("uq_erasure_requests_open", table_name="erasure_requests")
    op.drop_index("ix_erasure_requests_patient", table_name="erasure_requests")
    op.drop_index("ix_erasure_requests_requested", table_name="erasure_requests")
    op.drop_table("erasure_requests")
    op.drop_index("ix_data_exports_expiry", table_name="data_exports")
    op.drop_index("ix_data_exports_unfinished", table_name="data_exports")
    op.drop_index("uq_data_exports_open", table_name="data_exports")
    op.drop_index("ix_data_exports_patient", table_name="data_exports")
    op.drop_table("data_exports")
    # The erased system account stays only while no line names it (lines keep no foreign key).
    op.execute(
        f"DELETE FROM ledger_accounts WHERE id = '{ERASED_ACCOUNT_ID}' "
        f"AND NOT EXISTS (SELECT FROM ledger_lines WHERE account_id = '{ERASED_ACCOUNT_ID}')"
    )
    op.drop_column("patients", "erased_at")
