"""On-call queries: the roster and who is on duty (staff), my page inbox, a page's event log (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.identity.types import StaffRole, StaffType
from api.oncall.types import DutyShiftType, StaffPageEventType, StaffPageType
from api.relay import Connection, optional_id, read_page, require_id
from oncall import service


@strawberry.type
class OncallQuery:
    @strawberry.field(description="值班表：与 [from, to) 重叠的值班（最长31天）；指定院区时含全院区值班")
    async def duty_roster(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        site_id: strawberry.ID | None = None,
    ) -> list[DutyShiftType]:
        site = optional_id(site_id, "Site", "siteId")
        shifts = await info.context.read(service.roster, site_id=site, start=from_, end=to)
        return [DutyShiftType.from_model(s) for s in shifts]

    @strawberry.field(description="此刻在该院区（省略则任意院区）以该角色值班的员工")
    async def on_duty_now(
        self,
        info: Info,
        role: StaffRole,
        site_id: strawberry.ID | None = None,
    ) -> list[StaffType]:
        site = optional_id(site_id, "Site", "siteId")
        staff = await info.context.read(service.on_duty_now, site_id=site, role=role.value)
        return [StaffType.from_model(s) for s in staff]

    @strawberry.field(description="我的值班提醒，最新在前")
    async def my_pages(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        unacknowledged_only: bool = False,
    ) -> Connection[StaffPageType]:
        return await read_page(
            info,
            lambda s, a: service.my_pages(s, a, first=first, after=after, unacknowledged_only=unacknowledged_only),
            StaffPageType.from_model,
        )

    @strawberry.field(description="值班提醒的全部记录：创建、通知、升级、确认（仅管理员）")
    async def page_events(self, info: Info, page_id: strawberry.ID) -> list[StaffPageEventType]:
        pid = require_id(page_id, "StaffPage", "pageId")
        events = await info.context.read(service.page_events, pid)
        return [StaffPageEventType.from_model(e) for e in events]
