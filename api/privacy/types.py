"""GraphQL views of the PHI read audit: the admins' full record and the patient's own view."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.identity.types import PatientType, StaffType, patient_of, staff_of
from api.relay import Node, to_global_id
from api.views import node_view, view
from patients import queries as patient_queries
from privacy import models, reads

PhiKind = models.PhiKind
strawberry.enum(PhiKind, name="PhiKind", description="健康信息类别：病种、打卡、就诊、投诉、调查答卷、护理团队咨询")

# A staff account gone from the staff table (the record outlives it) still reads as someone.
UNKNOWN_READER = "工作人员"


@strawberry.type(name="PhiRead", description="一次员工查看患者健康信息的记录（只可追加，仅管理员可见）")
class PhiReadType(Node):
    model: strawberry.Private[models.PhiRead]

    kind: PhiKind
    kind_label: str = strawberry.field(description="类别中文名")
    read_at: datetime
    through: str = strawberry.field(description="查看途径：graphql:<根字段>、console、export 等")
    request_id: str | None = strawberry.field(description="请求编号（与访问日志对应）")
    staff_id: strawberry.ID
    staff_role_labels: list[str] = strawberry.field(description="查看时所持角色（中文）")
    patient_id: strawberry.ID

    @classmethod
    def from_model(cls, row: models.PhiRead) -> PhiReadType:
        return node_view(
            cls,
            row,
            kind=models.PhiKind(row.kind),
            kind_label=reads.kind_label(row.kind),
            staff_id=to_global_id("Staff", row.staff_id),
            staff_role_labels=reads.role_labels(row.staff_roles),
            patient_id=to_global_id("Patient", row.patient_id),
        )

    @strawberry.field(description="查看的员工")
    async def staff(self, info: Info) -> StaffType | None:
        return await staff_of(info, self.model.staff_id)

    @strawberry.field(description="被查看的患者")
    async def patient(self, info: Info) -> PatientType | None:
        return await patient_of(info, self.model.patient_id)


@strawberry.type(name="HealthDataRead", description="谁查看了我的健康信息：一次医护或工作人员的查看")
class HealthDataReadType:
    model: strawberry.Private[models.PhiRead]

    kind: PhiKind
    kind_label: str = strawberry.field(description="查看的信息类别（中文）")
    read_at: datetime = strawberry.field(description="查看时间")
    through: str = strawberry.field(description="查看途径")
    reader_role_labels: list[str] = strawberry.field(description="查看者当时的角色（中文）")

    @classmethod
    def from_model(cls, row: models.PhiRead) -> HealthDataReadType:
        return view(
            cls,
            row,
            model=row,
            kind=models.PhiKind(row.kind),
            kind_label=reads.kind_label(row.kind),
            reader_role_labels=reads.role_labels(row.staff_roles),
        )

    @strawberry.field(description="查看者姓名")
    async def reader_name(self, info: Info) -> str:
        staff = await info.context.load(patient_queries.staff_by_ids, self.model.staff_id)
        return staff.name if staff is not None else UNKNOWN_READER
