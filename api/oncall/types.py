"""GraphQL views of the on-call desk: duty shifts, staff pages and their event log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.identity.types import SiteType, StaffRole, StaffType
from api.relay import Node, node_fetcher, raw_uuids, to_global_id
from core.identity import ROLE_LABELS_ZH, Role
from oncall import models as m
from oncall import service
from oncall.service import page_number
from patients import queries

StaffPageKind = strawberry.enum(m.PageKind, name="StaffPageKind")
StaffPageFallback = strawberry.enum(m.Fallback, name="StaffPageFallback")
StaffPageEventKind = strawberry.enum(m.PageEventKind, name="StaffPageEventKind")


async def _staff(info: Info, staff_id: object) -> StaffType | None:
    if staff_id is None:
        return None
    found = await info.context.load(queries.staff_by_ids, staff_id)  # type: ignore[arg-type]
    return StaffType(model=found) if found else None


async def _site(info: Info, site_id: object) -> SiteType | None:
    if site_id is None:
        return None
    found = await info.context.load(queries.sites_by_ids, site_id)  # type: ignore[arg-type]
    return SiteType(model=found) if found else None


@strawberry.type(name="DutyShift", description="一段值班：某员工在某院区（或全部院区）以某角色值班")
class DutyShiftType(Node):
    model: strawberry.Private[m.DutyShift]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("DutyShift", self.model.id)

    @strawberry.field
    async def staff(self, info: Info) -> StaffType | None:
        return await _staff(info, self.model.staff_id)

    @strawberry.field(description="院区；为 null 表示全部院区")
    async def site(self, info: Info) -> SiteType | None:
        return await _site(info, self.model.site_id)

    @strawberry.field
    def role(self) -> StaffRole:  # type: ignore[valid-type]
        return Role(self.model.role)

    @strawberry.field(description="角色中文名")
    def role_label(self) -> str:
        return ROLE_LABELS_ZH[Role(self.model.role)]

    @strawberry.field
    def starts_at(self) -> datetime:
        return self.model.starts_at

    @strawberry.field
    def ends_at(self) -> datetime:
        return self.model.ends_at


@strawberry.type(name="StaffPage", description="一条值班提醒（紧急帖子、健康预警、投诉超时），需值班人员确认")
class StaffPageType(Node):
    model: strawberry.Private[m.Page]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("StaffPage", self.model.id)

    @strawberry.field(description="提醒编号（短信中只出现此编号）")
    def number(self) -> str:
        return page_number(self.model.id)

    @strawberry.field
    def kind(self) -> StaffPageKind:  # type: ignore[valid-type]
        return m.PageKind(self.model.kind)

    @strawberry.field
    def subject(self) -> str:
        return self.model.subject

    @strawberry.field(description="详细内容（仅登录后可见，不进短信）")
    def body(self) -> str:
        return self.model.body

    @strawberry.field
    def role(self) -> StaffRole:  # type: ignore[valid-type]
        return Role(self.model.role)

    @strawberry.field(description="院区；为 null 表示全部院区")
    async def site(self, info: Info) -> SiteType | None:
        return await _site(info, self.model.site_id)

    @strawberry.field(description="升级级别：1 值班人员，2 院区同角色全员与院区管理员，3 全部管理员")
    def level(self) -> int:
        return self.model.level

    @strawberry.field(description="无人值班时的兜底方式；有人值班时为 null")
    def fallback(self) -> StaffPageFallback | None:  # type: ignore[valid-type]
        return m.Fallback(self.model.fallback) if self.model.fallback else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="下次升级时间；已确认或已到最高级别时为 null")
    def escalates_at(self) -> datetime | None:
        return self.model.escalate_at

    @strawberry.field
    def acknowledged_at(self) -> datetime | None:
        return self.model.acknowledged_at

    @strawberry.field
    async def acknowledged_by(self, info: Info) -> StaffType | None:
        return await _staff(info, self.model.acknowledged_by)


@strawberry.type(name="StaffPageEvent", description="值班提醒的一条记录（只增不改）")
class StaffPageEventType:
    model: strawberry.Private[m.PageEvent]

    @strawberry.field
    def kind(self) -> StaffPageEventKind:  # type: ignore[valid-type]
        return m.PageEventKind(self.model.kind)

    @strawberry.field
    def level(self) -> int:
        return self.model.level

    @strawberry.field(description="谁做的：staff 或 system")
    def actor_kind(self) -> str:
        return self.model.actor_kind

    @strawberry.field
    async def actor(self, info: Info) -> StaffType | None:
        return await _staff(info, self.model.actor_id)

    @strawberry.field(description="被通知的员工（notified 记录）")
    async def recipient(self, info: Info) -> StaffType | None:
        return await _staff(info, self.model.staff_id)

    @strawberry.field(description="详情（JSON 文本）")
    def detail(self) -> str:
        return json.dumps(self.model.detail, ensure_ascii=False, sort_keys=True)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at


@node_fetcher("StaffPage")
async def _fetch_pages(info: Info, raw: Sequence[str]) -> list[Any]:
    """Only pages in the viewer's own inbox: an id is no key to someone else's page."""
    actor = info.context.actor
    if not actor.is_staff:
        return [None] * len(raw)
    ids = raw_uuids(raw)
    async with info.context.db.read() as session:
        found = await service.my_pages_by_ids(session, actor, [i for i in ids if i is not None])
    return [StaffPageType(model=found[i]) if i in found else None for i in ids]
