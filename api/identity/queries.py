"""Identity queries: me, the condition catalogue, sites, patients and staff lists."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.identity.types import Condition, PatientType, SiteType, StaffType, Viewer, patient_of, staff_of
from api.relay import Connection, connection, read_page
from patients import queries


@strawberry.type
class IdentityQuery:
    @strawberry.field(description="当前登录的账号；未登录时为 null")
    async def me(self, info: Info) -> Viewer | None:
        actor = info.context.actor
        if actor.id is None:
            return None
        if actor.is_patient:
            return await patient_of(info, actor.id)
        if actor.is_staff:
            return await staff_of(info, actor.id)
        return None

    @strawberry.field(description="病种目录")
    async def conditions(self, info: Info) -> list[Condition]:
        async with info.context.db.read() as session:
            return [Condition.of(c) for c in await queries.list_conditions(session)]

    @strawberry.field(description="院区与门诊部")
    async def sites(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[SiteType]:
        async with info.context.db.read() as session:
            page = await queries.page_sites(session, first=first, after=after)
        return connection(page, SiteType.from_model)

    @strawberry.field(
        description="患者列表（员工可见，按注册时间倒序）；phone：按手机号查找一位患者（如前台核对身份）；"
        "name：昵称包含该词（诊疗团队另可按真实姓名精确查找）"
    )
    async def patients(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        condition_code: str | None = None,
        phone: str | None = None,
        name: str | None = None,
    ) -> Connection[PatientType]:
        return await read_page(
            info,
            lambda s, a: queries.page_patients(
                s, a, first=first, after=after, condition_code=condition_code, phone=phone, name=name
            ),
            PatientType.from_model,
        )

    @strawberry.field(description="员工列表（仅管理员）")
    async def staff_members(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[StaffType]:
        return await read_page(
            info, lambda s, a: queries.page_staff(s, a, first=first, after=after), StaffType.from_model
        )
