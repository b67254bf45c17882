"""Care queries: my surveys and complaints (patients), the complaint queue (care desk)."""

from __future__ import annotations

import strawberry

from api.care.types import ComplaintStatus, ComplaintType, SurveyType, wrap_complaint
from api.context import Info
from api.relay import Connection, parse_uuid_id, read_page
from care import complaints, surveys


@strawberry.type
class CareQuery:
    @strawberry.field(description="我的满意度调查，最新在前；pending 为 true 时只看待作答的")
    async def my_surveys(
        self, info: Info, pending: bool = False, first: int | None = 20, after: str | None = None
    ) -> Connection[SurveyType]:
        return await read_page(
            info,
            lambda s, a: surveys.my_surveys(s, a, pending_only=pending, first=first, after=after),
            SurveyType.from_model,
        )

    @strawberry.field(description="按编号取满意度调查；不是本人的调查为 null")
    async def survey(self, info: Info, id: strawberry.ID) -> SurveyType | None:
        raw = parse_uuid_id(str(id), "Survey")
        if raw is None:
            return None
        found = await info.context.read(surveys.get_survey, raw)
        return SurveyType.from_model(found) if found else None

    @strawberry.field(description="我的投诉，最新在前")
    async def my_complaints(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ComplaintType]:
        return await read_page(
            info,
            lambda s, a: complaints.my_complaints(s, a, first=first, after=after),
            lambda c: wrap_complaint(c, info),
        )

    @strawberry.field(description="投诉工单队列（门诊前台、健康管理师与管理员），最早到期在前")
    async def complaints(
        self,
        info: Info,
        status: ComplaintStatus | None = None,
        mine: bool = False,
        overdue: bool = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[ComplaintType]:
        return await read_page(
            info,
            lambda s, a: complaints.staff_page(
                s, a, status=status.value if status else None, mine=mine, overdue=overdue, first=first, after=after
            ),
            lambda c: wrap_complaint(c, info),
        )
