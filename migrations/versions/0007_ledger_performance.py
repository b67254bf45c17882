"""ledger performance

Revision ID: 0007
Revises: 0006

The foreign
keys from ledger lines to accounts and from redemptions to rewards go: their checks take a KEY SHARE
lock on the referenced row, and every posting references the same few system accounts and every
redemption of a popular reward the same reward row, so concurrent postings queued on those rows.
The referenced ids come from locked rows or fixed system ids, never from user input.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("fk_ledger_lines_account_id_ledger_accounts", "ledger_lines", type_="foreignkey")
    op.drop_constraint("fk_redemptions_reward_id_rewards", "redemptions", type_="foreignkey")


def downgrade() -> None:
    op.create_foreign_key("fk_redemptions_reward_id_rewards", "redemptions", "rewards", ["reward_id"], ["id"])
    op.create_foreign_key(
        "fk_ledger_lines_account_id_ledger_accounts", "ledger_lines", "ledger_accounts", ["account_id"], ["id"]
    )
