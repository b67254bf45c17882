"""settlement queue: HOT settlement of ledger lots

Revision ID: 0011
Revises: 0010

Settling a lot used to rewrite every index entry of its row, because the partial indexes named
`status`. Now no index of ledger_lots names a column that settlement changes (`status`,
`settled_at`), and the pages keep room for the new row version (fillfactor 50), so PostgreSQL updates
the lot in place (a HOT update). The due lots are found through a small queue table instead, one row
per pending lot, deleted when the lot settles.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_settle_queue",
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("settles_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_ledger_settle_queue")),
    )
    op.create_index("ix_settle_queue_patient", "ledger_settle_queue", ["patient_id", "settles_at"])
    op.execute(
        "INSERT INTO ledger_settle_queue (lot_id, patient_id, settles_at) "
        "SELECT id, patient_id, settles_at FROM ledger_lots WHERE status = 'pending'"
    )
    op.drop_index("ix_lots_settle_due", table_name="ledger_lots", postgresql_where=sa.text("status = 'pending'"))
    op.drop_index("ix_lots_expire_due", table_name="ledger_lots")
    op.create_index("ix_lots_expire_due", "ledger_lots", ["expires_at"], postgresql_where=sa.text("remaining > 0"))
    op.drop_index("ix_lots_patient_spend", table_name="ledger_lots")
    op.create_index(
        "ix_lots_patient_spend",
        "ledger_lots",
        ["patient_id", "expires_at", "id"],
        postgresql_where=sa.text("remaining > 0"),
    )
    op.execute("ALTER TABLE ledger_lots SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE ledger_lots RESET (fillfactor)")
    op.drop_index("ix_lots_patient_spend", table_name="ledger_lots")
    op.create_index(
        "ix_lots_patient_spend",
        "ledger_lots",
        ["patient_id", "expires_at", "id"],
        postgresql_where=sa.text("status = 'available' AND remaining > 0"),
    )
    op.drop_index("ix_lots_expire_due", table_name="ledger_lots")
    op.create_index(
        "ix_lots_expire_due",
        "ledger_lots",
        ["expires_at"],
        postgresql_where=sa.text("status = 'available' AND remaining > 0"),
    )
    op.create_index("ix_lots_settle_due", "ledger_lots", ["settles_at"], postgresql_where=sa.text("status = 'pending'"))
    op.drop_index("ix_settle_queue_patient", table_name="ledger_settle_queue")
    op.drop_table("ledger_settle_queue")
