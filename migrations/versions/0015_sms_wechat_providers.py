"""messaging: real SMS and WeChat (receipts, replies, WeChat bindings and subscribe grants)

Revision ID: 0015
Revises: 0014

message_deliveries gains the message kind (picks the provider template), the time of the
provider's receipt and an index on provider_ref (receipts find their message by the provider's id).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "message_deliveries",
        sa.Column("kind", sa.String(length=16), server_default="notice", nullable=False),
    )
    op.add_column("message_deliveries", sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_message_deliveries_provider_ref", "message_deliveries", ["provider_ref"], unique=False)
    op.create_table(
        "sms_reports",
        sa.Column("provider_ref", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_reports")),
        sa.UniqueConstraint("provider_ref", name="uq_sms_reports_provider_ref"),
    )
    op.create_table(
        "sms_replies",
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("content", sa.String(length=500), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_sms_replies_patient_id_patients"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_replies")),
        sa.UniqueConstraint("dedupe_key", name="uq_sms_replies_dedupe_key"),
    )
    op.create_table(
        "wechat_bindings",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("app", sa.String(length=20), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("openid", sa.String(length=128), nullable=False),
        sa.Column("unionid", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_wechat_bindings_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_bindings")),
        sa.UniqueConstraint("patient_id", "app", name="uq_wechat_bindings_patient_app"),
        sa.UniqueConstraint("app_id", "openid", name="uq_wechat_bindings_openid"),
    )
    op.create_table(
        "wechat_grants",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.String(length=128), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_wechat_grants_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_grants")),
    )
    op.create_index(
        "ix_wechat_grants_unused",
        "wechat_grants",
        ["patient_id", "template_id", "granted_at"],
        unique=False,
        postgresql_where=sa.text("used_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_wechat_grants_unused", table_name="wechat_grants", postgresql_where=sa.text("used_at IS NULL"))
    op.drop_table("wechat_grants")
    op.drop_table("wechat_bindings")
    op.drop_table("sms_replies")
    op.drop_table("sms_reports")
    op.drop_index("ix_message_deliveries_provider_ref", table_name="message_deliveries")
    op.drop_column("message_deliveries", "reported_at")
    op.drop_column("message_deliveries", "kind")
