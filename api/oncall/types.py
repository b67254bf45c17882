"""GraphQL views of the on-call desk: duty shifts, staff pages and their event log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.identity.types import SiteType, StaffRole, StaffType, site_of, staff_of
from api.relay import Node, node_fetcher, read_nodes
from api.views import node_view, view
from core.identity import ROLE_LABELS_ZH, Role
from oncall import models as m
from oncall import service
from oncall.service import page_number

StaffPageKind = m.PageKind
strawberry.enum(StaffPageKind, name="StaffPageKind")
StaffPageFallback = m.Fallback
strawberry.enum(StaffPageFallback, name="StaffPageFallback")
StaffPageEventKind = m.PageEventKind
strawberry.enum(StaffPageEventKind, name="StaffPageEventKind")


async def _duty_shift_staff(root: DutyShiftType, info: Info) -> StaffType | None:
    return await staff_of(info, root.model.staff_id)


async def _duty_shift_site(root: DutyShiftType, info: Info) -> SiteType | None:
    return await site_of(info, root.model.site_id)


@strawberry.type(name="DutyShift", description="一段值班：某员工在某院区（或全部院区）以某角色值班")
class DutyShiftType(Node):
    model: strawberry.Private[m.DutyShift]

    staff: StaffType | None = strawberry.field(resolver=_duty_shift_staff)
    site: SiteType | None = strawberry.field(resolver=_duty_shift_site, description="院区；为 null 表示全部院区")
    role: StaffRole
    role_label: str = strawberry.field(description="角色中文名")
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def from_model(cls, row: m.DutyShift) -> DutyShiftType:
        return node_view(cls, row, role=Role(row.role), role_label=ROLE_LABELS_ZH[Role(row.role)])


async def _staff_page_site(root: StaffPageType, info: Info) -> SiteType | None:
    return await site_of(info, root.model.site_id)


@strawberry.type(name="StaffPage", description="一条值班提醒（紧急帖子、健康预警、投诉超时），需值班人员确认")
class StaffPageType(Node):
    model: strawberry.Private[m.Page]

    number: str = strawberry.field(description="提醒编号（短信中只出现此编号）")
    kind: StaffPageKind
    subject: str
    body: str = strawberry.field(description="详细内容（仅登录后可见，不进短信）")
    role: StaffRole
    site: SiteType | None = strawberry.field(resolver=_staff_page_site, description="院区；为 null 表示全部院区")
    level: int = strawberry.field(description="升级级别：1 值班人员，2 院区同角色全员与院区管理员，3 全部管理员")
    fallback: StaffPageFallback | None = strawberry.field(description="无人值班时的兜底方式；有人值班时为 null")
    created_at: datetime
    escalates_at: datetime | None = strawberry.field(description="下次升级时间；已确认或已到最高级别时为 null")
    acknowledged_at: datetime | None

    @classmethod
    def from_model(cls, row: m.Page) -> StaffPageType:
        return node_view(
            cls,
            row,
            number=page_number(row.id),
            kind=m.PageKind(row.kind),
            role=Role(row.role),
            fallback=m.Fallback(row.fallback) if row.fallback else None,
            escalates_at=row.escalate_at,
        )

    @strawberry.field
    async def acknowledged_by(self, info: Info) -> StaffType | None:
        return await staff_of(info, self.model.acknowledged_by)


async def _staff_page_event_actor(root: StaffPageEventType, info: Info) -> StaffType | None:
    return await staff_of(info, root.model.actor_id)


async def _staff_page_event_recipient(root: StaffPageEventType, info: Info) -> StaffType | None:
    return await staff_of(info, root.model.staff_id)


@strawberry.type(name="StaffPageEvent", description="值班提醒的一条记录（只增不改）")
class StaffPageEventType:
    model: strawberry.Private[m.PageEvent]

    kind: StaffPageEventKind
    level: int
    actor_kind: str = strawberry.field(description="谁做的：staff 或 system")
    actor: StaffType | None = strawberry.field(resolver=_staff_page_event_actor)
    recipient: StaffType | None = strawberry.field(
        resolver=_staff_page_event_recipient, description="被通知的员工（notified 记录）"
    )
    detail: str = strawberry.field(description="详情（JSON 文本）")
    created_at: datetime

    @classmethod
    def from_model(cls, row: m.PageEvent) -> StaffPageEventType:
        return view(
            cls,
            row,
            model=row,
            kind=m.PageEventKind(row.kind),
            detail=json.dumps(row.detail, ensure_ascii=False, sort_keys=True),
        )


@node_fetcher("StaffPage")
async def _fetch_pages(info: Info, raw: Sequence[str]) -> list[Any]:
    """Only pages in the viewer's own inbox: an id is no key to someone else's page."""
    actor = info.context.actor
    if not actor.is_staff:
        return [None] * len(raw)
    return await read_nodes(info, raw, service.my_pages_by_ids, StaffPageType.from_model)
