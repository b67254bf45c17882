"""Every user-facing text of the console, in one catalogue (Simplified Chinese).

Templates and pages look texts up by key (`t("nav.moderation")` in Python, `{{ t("nav.moderation") }}` in
templates), so zh-TW and English can follow as further catalogues with the same keys. Messages from the
API (UserError.message) are shown as the API wrote them.
"""

from __future__ import annotations

ZH_CN: dict[str, str] = {
    "app.title": "康宁会员社区平台 · 员工工作台",
    "app.short": "员工工作台",
    # Sign-in, sign-out, session
    "login.title": "员工登录",
    "login.email": "工作邮箱",
    "login.password": "密码",
    "login.submit": "登录",
    "login.failed": "登录失败",
    "login.not_staff": "该账号不是员工账号，不能登录工作台",
    "login.no_roles": "该账号没有任何工作台角色，请联系管理员",
    "login.expired": "长时间未操作，已自动退出，请重新登录",
    "login.signed_out": "已退出登录",
    "logout.submit": "退出登录",
    "session.idle_hint": "超过 {minutes} 分钟无操作将自动退出",
    # Refusals
    "error.forbidden": "无权访问",
    "error.forbidden_detail": "您的角色不能使用此页面或操作。",
    "error.csrf": "请求已过期或来源不明（缺少安全令牌），请刷新页面后重试。",
    "error.not_staff": "工作台仅限员工账号使用。",
    "error.not_found": "页面不存在",
    "error.too_large": "提交的内容过大",
    "error.api": "操作未成功",
    "error.bad_input": "填写的内容不正确",
    "common.back_home": "返回首页",
    "common.save": "保存",
    "common.submit": "提交",
    "common.cancel": "取消",
    "common.search": "查询",
    "common.none": "暂无",
    "common.done": "操作成功",
    "common.more": "更多",
    "common.next_page": "下一页",
    "common.actions": "操作",
    "common.status": "状态",
    "common.created_at": "创建时间",
    "common.reason": "理由",
    "common.comment": "意见",
    "common.export_csv": "导出 CSV",
    "common.yes": "是",
    "common.no": "否",
    # Navigation
    "nav.home": "首页",
    "nav.general": "通用",
    "nav.oncall": "值班与提醒",
    "nav.moderation": "社区审核",
    "nav.moderation.queue": "审核队列",
    "nav.moderation.requests": "入群申请",
    "nav.moderation.members": "成员处理",
    "nav.moderation.audit": "审核日志",
    "nav.moderation.words": "敏感词库",
    "nav.frontdesk": "门诊前台",
    "nav.frontdesk.patients": "查找患者",
    "nav.frontdesk.vouchers": "核销兑换券",
    "nav.care": "护理团队",
    "nav.care.complaints": "投诉工单",
    "nav.care.alerts": "健康预警",
    "nav.care.surveys": "满意度调查",
    "nav.content": "内容",
    "nav.content.items": "内容列表",
    "nav.content.new": "新建内容",
    "nav.marketing": "营销",
    "nav.marketing.segments": "人群",
    "nav.marketing.campaigns": "营销活动",
    "nav.marketing.dashboards": "数据看板",
    "nav.admin": "系统管理",
    "nav.admin.staff": "员工账号",
    "nav.admin.sites": "院区",
    "nav.admin.tiers": "会员等级",
    "nav.admin.rewards": "积分奖品",
    "nav.admin.phi": "健康信息查看记录",
    "home.welcome": "您好，{name}",
    "home.roles": "角色：{roles}",
    "home.pick": "请从左侧菜单选择工作内容。",
    # Care team: survey results
    "surveys.since": "开始日期",
    "surveys.until": "结束日期",
    "surveys.site": "院区",
    "surveys.all_sites": "全部院区",
    "surveys.scores": "评分",
    "surveys.scores.all": "全部评分",
    "surveys.scores.detractors": "贬损者（0-6分）",
    "surveys.scores.passives": "中立者（7-8分）",
    "surveys.scores.promoters": "推荐者（9-10分）",
    "surveys.with_comment": "只看有意见的",
    "surveys.period_hint": "按作答时间统计，日期含首尾",
    "surveys.responses": "作答数",
    "surveys.nps": "NPS",
    "surveys.promoters": "推荐者",
    "surveys.passives": "中立者",
    "surveys.detractors": "贬损者",
    "surveys.questions": "各题作答情况",
    "surveys.answered": "作答 {count} 人",
    "surveys.option": "{label} 分",
    "surveys.people": "人数",
    "surveys.list": "作答列表",
    "surveys.answered_at": "作答时间",
    "surveys.visited_at": "就诊时间",
    "surveys.patient": "患者",
    "surveys.score": "评分",
    "surveys.comment": "意见",
    "surveys.none": "该期间没有作答。",
    "surveys.audit_note": "查看作答列表会记入健康信息查看记录。",
}

CATALOGUES = {"zh-CN": ZH_CN}
DEFAULT_LANGUAGE = "zh-CN"


def t(key: str, /, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The text of `key`; a missing key shows itself (a visible bug, never an empty label)."""
    text = CATALOGUES.get(language, ZH_CN).get(key) or ZH_CN.get(key) or key
    return text.format(**values) if values else text
