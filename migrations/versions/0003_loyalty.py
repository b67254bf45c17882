"""loyalty

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:53:58.615093
"""
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('earning_rules',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('fen_per_point', sa.Integer(), nullable=True),
    sa.Column('daily_cap', sa.Integer(), nullable=True),
    sa.Column('monthly_cap', sa.Integer(), nullable=True),
    sa.Column('pending_days', sa.SmallInteger(), nullable=False),
    sa.Column('excluded_categories', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points >= 0 AND pending_days >= 0', name=op.f('ck_earning_rules_non_negative')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_earning_rules'))
    )
    op.create_table('tiers',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('rank', sa.SmallInteger(), nullable=False),
    sa.Column('min_points', sa.Integer(), nullable=False),
    sa.Column('benefits', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_tiers')),
    sa.UniqueConstraint('rank', name=op.f('uq_tiers_rank'))
    )
    op.create_table('rewards',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('points_cost', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('tier_required', sa.String(length=20), nullable=True),
    sa.Column('per_member_limit', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voucher_valid_days', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points_cost > 0', name=op.f('ck_rewards_cost')),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_rewards_stock')),
    sa.ForeignKeyConstraint(['tier_required'], ['tiers.code'], name=op.f('fk_rewards_tier_required_tiers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rewards'))
    )
    op.create_table('ledger_accounts',
    sa.Column('patient_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("patient_id IS NULL OR (kind = 'clawback' AND balance <= 0) OR (kind <> 'clawback' AND balance >= 0)", name=op.f('ck_ledger_accounts_member_balance_sign')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_ledger_accounts_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('patient_id', 'kind', name=op.f('uq_ledger_accounts_patient_id'))
    )
    op.create_index('uq_ledger_accounts_system_kind', 'ledger_accounts', ['kind'], unique=True, postgresql_where=sa.text('patient_id IS NULL'))
    op.create_table('ledger_entries',
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('rule_code', sa.String(length=40), nullable=True),
    sa.Column('source_ref', sa.String(length=200), nullable=True),
    sa.Column('memo', sa.String(length=200), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_ledger_entries_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_entries_idempotency_key'))
    )
    op.create_index('ix_ledger_entries_patient_created', 'ledger_entries', ['patient_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_ledger_entries_rule_patient', 'ledger_entries', ['rule_code', 'patient_id', 'created_at'], unique=False)
    op.create_table('lifecycle_changes',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('from_stage', sa.String(length=16), nullable=True),
    sa.Column('to_stage', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=60), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_lifecycle_changes_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lifecycle_changes'))
    )
    op.create_index('ix_lifecycle_changes_patient', 'lifecycle_changes', ['patient_id', 'changed_at'], unique=False)
    op.create_table('member_tiers',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('tier_code', sa.String(length=20), nullable=False),
    sa.Column('qualifying_points', sa.BigInteger(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('grace_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_member_tiers_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_code'], ['tiers.code'], name=op.f('fk_member_tiers_tier_code_tiers')),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_member_tiers'))
    )
    op.create_table('patient_lifecycle',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_lifecycle_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_patient_lifecycle'))
    )
    op.create_table('referral_codes',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_referral_codes_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_referral_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_referral_codes_code'))
    )
    op.create_table('tier_changes',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('from_tier', sa.String(length=20), nullable=True),
    sa.Column('to_tier', sa.String(length=20), nullable=False),
    sa.Column('qualifying_points', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_tier_changes_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tier_changes'))
    )
    op.create_index('ix_tier_changes_patient', 'tier_changes', ['patient_id', 'changed_at'], unique=False)
    op.create_table('visits',
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('department', sa.String(length=60), nullable=False),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('self_paid_fen', sa.BigInteger(), nullable=False),
    sa.Column('insured_fen', sa.BigInteger(), nullable=False),
    sa.Column('items', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=True),
    sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('self_paid_fen >= 0 AND insured_fen >= 0', name=op.f('ck_visits_amounts')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_visits_patient_id_patients')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_visits_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
    sa.UniqueConstraint('external_id', name=op.f('uq_visits_external_id'))
    )
    op.create_index('ix_visits_patient_visited', 'visits', ['patient_id', 'visited_at'], unique=False)
    op.create_index('ix_visits_visited_at', 'visits', ['visited_at'], unique=False)
    op.create_table('ledger_lines',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_lines_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_ledger_lines_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_lines'))
    )
    op.create_index('ix_ledger_lines_entry', 'ledger_lines', ['entry_id'], unique=False)
    op.create_table('ledger_lots',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('source_entry_id', sa.Uuid(), nullable=False),
    sa.Column('rule_code', sa.String(length=40), nullable=True),
    sa.Column('source_ref', sa.String(length=200), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('earned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settles_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expiry_notice_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('remaining >= 0 AND remaining <= amount', name=op.f('ck_ledger_lots_remaining')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_ledger_lots_patient_id_patients')),
    sa.ForeignKeyConstraint(['source_entry_id'], ['ledger_entries.id'], name=op.f('fk_ledger_lots_source_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_lots'))
    )
    op.create_index('ix_lots_expire_due', 'ledger_lots', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'available' AND remaining > 0"))
    op.create_index('ix_lots_patient_earned', 'ledger_lots', ['patient_id', 'earned_at'], unique=False)
    op.create_index('ix_lots_patient_spend', 'ledger_lots', ['patient_id', 'expires_at', 'id'], unique=False, postgresql_where=sa.text("status = 'available' AND remaining > 0"))
    op.create_index('ix_lots_settle_due', 'ledger_lots', ['settles_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_lots_source_entry', 'ledger_lots', ['source_entry_id'], unique=False)
    op.create_table('redemptions',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('reward_id', sa.Uuid(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('voucher_code', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_site_id', sa.Uuid(), nullable=True),
    sa.Column('fulfilled_by', sa.Uuid(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_redemptions_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['fulfilled_site_id'], ['sites.id'], name=op.f('fk_redemptions_fulfilled_site_id_sites')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_redemptions_patient_id_patients')),
    sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_redemptions_reward_id_rewards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('patient_id', 'idempotency_key', name=op.f('uq_redemptions_patient_id')),
    sa.UniqueConstraint('voucher_code', name=op.f('uq_redemptions_voucher_code'))
    )
    op.create_index('ix_redemptions_issued_expiry', 'redemptions', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'issued'"))
    op.create_index('ix_redemptions_patient_created', 'redemptions', ['patient_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_redemptions_reward_patient', 'redemptions', ['reward_id', 'patient_id'], unique=False)
    op.create_table('referrals',
    sa.Column('referrer_id', sa.Uuid(), nullable=False),
    sa.Column('referee_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reject_reason', sa.String(length=40), nullable=True),
    sa.Column('device_id', sa.String(length=100), nullable=True),
    sa.Column('visit_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('converted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rewarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['referee_id'], ['patients.id'], name=op.f('fk_referrals_referee_id_patients')),
    sa.ForeignKeyConstraint(['referrer_id'], ['patients.id'], name=op.f('fk_referrals_referrer_id_patients')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_referrals_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('referee_id', name=op.f('uq_referrals_referee_id'))
    )
    op.create_index('ix_referrals_converted', 'referrals', ['status'], unique=False, postgresql_where=sa.text("status = 'converted'"))
    op.create_index('ix_referrals_referrer', 'referrals', ['referrer_id', 'created_at'], unique=False)
    op.create_table('ledger_lot_uses',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_ledger_lot_uses_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['lot_id'], ['ledger_lots.id'], name=op.f('fk_ledger_lot_uses_lot_id_ledger_lots')),
    sa.PrimaryKeyConstraint('entry_id', 'lot_id', name=op.f('pk_ledger_lot_uses'))
    )
    op.create_index(op.f('ix_ledger_lot_uses_lot_id'), 'ledger_lot_uses', ['lot_id'], unique=False)
    op.add_column('staff', sa.Column('phone', sa.String(length=20), nullable=True))
    op.create_index(op.f('ix_staff_phone'), 'staff', ['phone'], unique=False)

    _seed_reference_data()


SYSTEM_ACCOUNTS = [
    ("00000000-0000-7000-8000-000000000001", "issued"),
    ("00000000-0000-7000-8000-000000000002", "redeemed"),
    ("00000000-0000-7000-8000-000000000003", "expired"),
    ("00000000-0000-7000-8000-000000000004", "adjusted"),
]
TIERS = [
    ("standard", "普通会员", 0, 0, ["积分累积与兑换", "健康科普与社群活动"]),
    ("silver", "银卡", 1, 1000, ["挂号优先预约", "生日双倍积分", "体检套餐95折"]),
    ("gold", "金卡", 2, 3000, ["专属健康管理师", "优先预约专家号", "每年一次免费基础体检", "体检套餐9折"]),
    ("diamond", "钻石卡", 3, 8000, ["绿色就诊通道", "每年一次免费全面体检", "专家义诊优先报名", "体检套餐85折"]),
]
# code, name, description, points, fen_per_point, daily cap, monthly cap, pending days
RULES = [
    ("visit_completed", "完成就诊", "每次完成就诊奖励", 50, None, 100, 400, 7),
    ("visit_spend", "自费消费", "自费部分每10元得1分；医保支付、药品和检查项目不计分", 1, 1000, None, 5000, 7),
    ("checkin_streak_7", "连续打卡7天", "健康打卡连续7天", 20, None, 20, 100, 0),
    ("checkin_streak_30", "连续打卡30天", "健康打卡连续30天", 100, None, 100, 100, 0),
    ("checkin_streak_100", "连续打卡100天", "健康打卡连续100天", 300, None, 300, 300, 0),
    ("event_attendance", "参加活动", "参加讲座、义诊等活动并签到", 30, None, 60, 300, 0),
    ("survey_completed", "完成满意度调查", "就诊后完成满意度调查", 10, None, 10, 50, 0),
    ("referral_converted", "推荐好友就诊", "推荐的好友完成首次就诊", 200, None, None, 2000, 0),
    ("referral_welcome", "受邀新人礼", "通过好友推荐注册并完成首次就诊", 100, None, None, 100, 0),
    ("article_read", "阅读科普文章", "完整阅读一篇健康科普文章", 2, None, 10, 200, 0),
]


def _seed_reference_data() -> None:
    accounts = sa.table("ledger_accounts", sa.column("id", sa.Uuid()), sa.column("patient_id", sa.Uuid()),
                        sa.column("kind", sa.String()), sa.column("balance", sa.BigInteger()))
    op.bulk_insert(accounts, [{"id": uuid.UUID(i), "patient_id": None, "kind": k, "balance": 0}
                              for i, k in SYSTEM_ACCOUNTS])
    tiers = sa.table("tiers", sa.column("code", sa.String()), sa.column("name", sa.String()),
                     sa.column("rank", sa.SmallInteger()), sa.column("min_points", sa.Integer()),
                     sa.column("benefits", postgresql.JSONB()))
    op.bulk_insert(tiers, [{"code": c, "name": n, "rank": r, "min_points": m, "benefits": b}
                           for c, n, r, m, b in TIERS])
    rules = sa.table("earning_rules", sa.column("code", sa.String()), sa.column("name", sa.String()),
                     sa.column("description", sa.String()), sa.column("points", sa.Integer()),
                     sa.column("fen_per_point", sa.Integer()), sa.column("daily_cap", sa.Integer()),
                     sa.column("monthly_cap", sa.Integer()), sa.column("pending_days", sa.SmallInteger()),
                     sa.column("excluded_categories", postgresql.JSONB()), sa.column("active", sa.Boolean()),
                     sa.column("created_at", sa.DateTime(timezone=True)),
                     sa.column("updated_at", sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    op.bulk_insert(rules, [
        {"code": c, "name": n, "description": d, "points": p, "fen_per_point": f, "daily_cap": dc,
         "monthly_cap": mc, "pending_days": pd, "excluded_categories": ["drug", "exam", "lab", "imaging"],
         "active": True, "created_at": now, "updated_at": now}
        for c, n, d, p, f, dc, mc, pd in RULES
    ])


def downgrade() -> None:
    op.drop_index(op.f('ix_staff_phone'), table_name='staff')
    op.drop_column('staff', 'phone')
    op.drop_index(op.f('ix_ledger_lot_uses_lot_id'), table_name='ledger_lot_uses')
    op.drop_table('ledger_lot_uses')
    op.drop_index('ix_referrals_referrer', table_name='referrals')
    op.drop_index('ix_referrals_converted', table_name='referrals', postgresql_where=sa.text("status = 'converted'"))
    op.drop_table('referrals')
    op.drop_index('ix_redemptions_reward_patient', table_name='redemptions')
    op.drop_index('ix_redemptions_patient_created', table_name='redemptions')
    op.drop_index('ix_redemptions_issued_expiry', table_name='redemptions', postgresql_where=sa.text("status = 'issued'"))
    op.drop_table('redemptions')
    op.drop_index('ix_lots_source_entry', table_name='ledger_lots')
    op.drop_index('ix_lots_settle_due', table_name='ledger_lots', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_lots_patient_spend', table_name='ledger_lots', postgresql_where=sa.text("status = 'available' AND remaining > 0"))
    op.drop_index('ix_lots_patient_earned', table_name='ledger_lots')
    op.drop_index('ix_lots_expire_due', table_name='ledger_lots', postgresql_where=sa.text("status = 'available' AND remaining > 0"))
    op.drop_table('ledger_lots')
    op.drop_index('ix_ledger_lines_entry', table_name='ledger_lines')
    op.drop_table('ledger_lines')
    op.drop_index('ix_visits_visited_at', table_name='visits')
    op.drop_index('ix_visits_patient_visited', table_name='visits')
    op.drop_table('visits')
    op.drop_index('ix_tier_changes_patient', table_name='tier_changes')
    op.drop_table('tier_changes')
    op.drop_table('referral_codes')
    op.drop_table('patient_lifecycle')
    op.drop_table('member_tiers')
    op.drop_index('ix_lifecycle_changes_patient', table_name='lifecycle_changes')
    op.drop_table('lifecycle_changes')
    op.drop_index('ix_ledger_entries_rule_patient', table_name='ledger_entries')
    op.drop_index('ix_ledger_entries_patient_created', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index('uq_ledger_accounts_system_kind', table_name='ledger_accounts', postgresql_where=sa.text('patient_id IS NULL'))
    op.drop_table('ledger_accounts')
    op.drop_table('rewards')
    op.drop_table('tiers')
    op.drop_table('earning_rules')
