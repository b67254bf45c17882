"""community + loyalty: per-attendee check-in tokens instead of one shared code per event; tier
benefits as rules (birthday multiplier, monthly voucher, priority booking)

Each registration gets a random `checkin_nonce` (signed into its one-use QR token; a new one when the
registration is withdrawn) and a `priority` flag (a priority member's place on the waitlist). The
event's shared `checkin_code` is dropped: anyone who learned it could check in remotely for points.

Tiers: `benefits` (display text) becomes `perks` (what staff honour at the counter, display only) and
the rule benefits become columns. Rows are converted from their text: "生日双倍积分" is a birthday
multiplier of 2, "挂号优先预约" / "优先预约专家号" / "专家义诊优先报名" is priority booking; and a tier
keeps the rule benefits of the tiers below it (an upgrade never loses one).

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIORITY_TEXTS = ("挂号优先预约", "优先预约专家号", "专家义诊优先报名")


def upgrade() -> None:
    op.drop_constraint("uq_community_events_checkin_code", "community_events", type_="unique")
    op.drop_column("community_events", "checkin_code")
    op.add_column(
        "community_event_rsvps",
        sa.Column(
            "checkin_nonce",
            sa.String(24),
            nullable=False,
            server_default=sa.text("substr(replace(gen_random_uuid()::text, '-', ''), 1, 24)"),
        ),
    )
    op.add_column(
        "community_event_rsvps", sa.Column("priority", sa.Boolean(), nullable=False, server_default=sa.false())
    )

    op.alter_column("tiers", "benefits", new_column_name="perks")
    op.add_column("tiers", sa.Column("birthday_multiplier", sa.SmallInteger(), nullable=False, server_default="1"))
    op.add_column("tiers", sa.Column("priority_booking", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("tiers", sa.Column("monthly_voucher_reward_id", sa.Uuid(), nullable=True))
    op.create_check_constraint(op.f("ck_tiers_birthday_multiplier"), "tiers", "birthday_multiplier BETWEEN 1 AND 5")
    priority_texts = ", ".join(f"'{t}'" for t in PRIORITY_TEXTS)
    op.execute(
        f"""
        UPDATE tiers SET
            birthday_multiplier = CASE WHEN perks ? '生日双倍积分' THEN 2 ELSE 1 END,
            priority_booking = perks ?| ARRAY[{priority_texts}],
            perks = coalesce((SELECT jsonb_agg(p ORDER BY n) FROM jsonb_array_elements_text(perks)
                                  WITH ORDINALITY AS e(p, n)
                              WHERE p NOT IN ('生日双倍积分', {priority_texts})), '[]'::jsonb)
        """
    )
    op.execute(
        """
        UPDATE tiers t SET
            birthday_multiplier = greatest(t.birthday_multiplier, below.multiplier),
            priority_booking = t.priority_booking OR below.priority
        FROM (SELECT a.code, max(b.birthday_multiplier) AS multiplier, bool_or(b.priority_booking) AS priority
              FROM tiers a JOIN tiers b ON b.rank < a.rank GROUP BY a.code) below
        WHERE t.code = below.code
        """
    )


def downgrade() -> None:
    op.execute(
        """
        UPDATE tiers SET perks = (CASE WHEN priority_booking THEN '["挂号优先预约"]'::jsonb ELSE '[]'::jsonb END)
            || (CASE WHEN birthday_multiplier > 1 THEN '["生日双倍积分"]'::jsonb ELSE '[]'::jsonb END) || perks
        """
    )
    op.drop_constraint(op.f("ck_tiers_birthday_multiplier"), "tiers", type_="check")
    op.drop_column("tiers", "monthly_voucher_reward_id")
    op.drop_column("tiers", "priority_booking")
    op.drop_column("tiers", "birthday_multiplier")
    op.alter_column("tiers", "perks", new_column_name="benefits")

    op.drop_column("community_event_rsvps", "priority")
    op.drop_column("community_event_rsvps", "checkin_nonce")
    op.add_column("community_events", sa.Column("checkin_code", sa.String(6), nullable=True))
    # Old events get a fresh random code (the old ones are gone); unique as before.
    op.execute(
        "UPDATE community_events SET checkin_code = upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 6))"
    )
    op.alter_column("community_events", "checkin_code", nullable=False)
    op.create_unique_constraint("uq_community_events_checkin_code", "community_events", ["checkin_code"])
