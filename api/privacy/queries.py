"""Privacy queries: the PHI read record (admins) and 谁查看了我的健康信息 (the patient)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.privacy.types import HealthDataReadType, PhiKind, PhiReadType
from api.relay import Connection, optional_id, read_page
from privacy import reads


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        description="健康信息查看记录：员工对患者病种、打卡、就诊、投诉与调查答卷的每次查看，最新在前；"
        "可按患者、员工、类别与时间 [since, until) 筛选（仅管理员）"
    )
    async def phi_read_log(
        self,
        info: Info,
        patient_id: strawberry.ID | None = None,
        staff_id: strawberry.ID | None = None,
        kind: PhiKind | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[PhiReadType]:
        patient = optional_id(patient_id, "Patient", "patientId")
        staff = optional_id(staff_id, "Staff", "staffId")
        return await read_page(
            info,
            lambda s, a: reads.page_log(
                s,
                a,
                patient_id=patient,
                staff_id=staff,
                kind=kind,
                since=since,
                until=until,
                first=first,
                after=after,
            ),
            PhiReadType.from_model,
        )

    @strawberry.field(
        description="谁查看了我的健康信息：医护与工作人员查看我的病种、打卡、就诊、投诉与调查答卷的记录，最新在前"
    )
    async def my_health_data_reads(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[HealthDataReadType]:
        return await read_page(
            info, lambda s, a: reads.my_reads(s, a, first=first, after=after), HealthDataReadType.from_model
        )
