"""On-call mutations: admins put staff on duty and take them off; recipients acknowledge pages."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import OncallError
from api.identity.types import StaffRole
from api.mutations import ModelPayload, ValuePayload, mutate, on_id
from api.oncall.types import DutyShiftType, StaffPageType
from api.relay import optional_id, require_id
from core.identity import Actor
from oncall import models, service


@strawberry.input
class DutyShiftCreateInput:
    staff_id: strawberry.ID
    role: StaffRole
    starts_at: datetime
    ends_at: datetime = strawberry.field(description="晚于开始时间，单次最长7天")
    site_id: strawberry.ID | None = strawberry.field(default=None, description="省略表示全部院区")


@strawberry.type
class DutyShiftCreatePayload(ModelPayload):
    shift: DutyShiftType | None = None
    errors: list[OncallError]


@strawberry.input
class DutyShiftRemoveInput:
    shift_id: strawberry.ID


@strawberry.type
class DutyShiftRemovePayload(ValuePayload):
    removed_shift_id: strawberry.ID | None = None
    errors: list[OncallError]


@strawberry.input
class PageAcknowledgeInput:
    page_id: strawberry.ID


@strawberry.type
class PageAcknowledgePayload(ModelPayload):
    page: StaffPageType | None = None
    errors: list[OncallError]


@strawberry.type
class OncallMutation:
    @strawberry.mutation(description="安排值班（仅管理员）；允许与其他值班重叠")
    async def duty_shift_create(self, info: Info, input: DutyShiftCreateInput) -> DutyShiftCreatePayload:
        async def work(session: AsyncSession, actor: Actor) -> models.DutyShift:
            return await service.create_shift(
                session,
                actor,
                staff_id=require_id(input.staff_id, "Staff", "staffId"),
                site_id=optional_id(input.site_id, "Site", "siteId"),
                role=input.role.value,
                starts_at=input.starts_at,
                ends_at=input.ends_at,
            )

        return await mutate(info, DutyShiftCreatePayload, work)

    @strawberry.mutation(description="取消一段值班（仅管理员）")
    async def duty_shift_remove(self, info: Info, input: DutyShiftRemoveInput) -> DutyShiftRemovePayload:
        async def work(session: AsyncSession, actor: Actor) -> strawberry.ID:
            await service.remove_shift(session, actor, require_id(input.shift_id, "DutyShift", "shiftId"))
            return input.shift_id  # as the client sent it

        return await mutate(info, DutyShiftRemovePayload, work)

    @strawberry.mutation(description="确认收到值班提醒（收件人或管理员）；重复确认无副作用，升级随即停止")
    async def page_acknowledge(self, info: Info, input: PageAcknowledgeInput) -> PageAcknowledgePayload:
        return await mutate(
            info, PageAcknowledgePayload, on_id(service.acknowledge, input.page_id, "StaffPage", "pageId")
        )
