"""The default tiers and earning rules of a new deployment (admins change them later).

Migration 0003 inserted the same values when the tables were created; this copy restores them
(tests, a fresh demo) without touching rows that already exist.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from loyalty.ledger import ensure_system_accounts
from loyalty.models import EarningRule, Tier

# code, name, rank, min points, perks (honoured by staff, text only), birthday multiplier, priority booking.
# The rule benefits (multiplier, priority) are applied by the code and shown as text derived from them
# (loyalty.tiers.benefit_texts); a higher tier keeps the rule benefits of the lower ones. The monthly
# voucher needs a reward of the hospital's own: an admin sets it per tier (tierBenefitsUpdate).
TIERS = [
    ("standard", "普通会员", 0, 0, ["积分累积与兑换", "健康科普与社群活动"], 1, False),
    ("silver", "银卡", 1, 1000, ["体检套餐95折"], 2, True),
    ("gold", "金卡", 2, 3000, ["专属健康管理师", "每年一次免费基础体检", "体检套餐9折"], 2, True),
    ("diamond", "钻石卡", 3, 8000, ["绿色就诊通道", "每年一次免费全面体检", "体检套餐85折"], 2, True),
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


async def ensure_defaults(session: AsyncSession) -> None:
    await ensure_system_accounts(session)
    await session.execute(
        insert(Tier)
        .values(
            [
                {
                    "code": c,
                    "name": n,
                    "rank": r,
                    "min_points": m,
                    "perks": perks,
                    "birthday_multiplier": birthday,
                    "priority_booking": priority,
                }
                for c, n, r, m, perks, birthday, priority in TIERS
            ]
        )
        .on_conflict_do_nothing()
    )
    now = clock.now()
    await session.execute(
        insert(EarningRule)
        .values(
            [
                {
                    "code": c,
                    "name": n,
                    "description": d,
                    "points": p,
                    "fen_per_point": f,
                    "daily_cap": dc,
                    "monthly_cap": mc,
                    "pending_days": pd,
                    "excluded_categories": ["drug", "exam", "lab", "imaging"],
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for c, n, d, p, f, dc, mc, pd in RULES
            ]
        )
        .on_conflict_do_nothing()
    )
