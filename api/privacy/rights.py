"""A patient's copy of their data and the erasure of their account over GraphQL (PIPL art. 45, 47).

The copy itself is downloaded over plain HTTP (api/privacy/download.py), at the `downloadPath` given here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON

from api.context import Info
from api.error_types import PrivacyError
from api.identity.types import PatientType, patient_of
from api.mutations import ModelPayload, mutate, on_id
from api.relay import Connection, Node, load_nodes, node_fetcher, read_page, to_global_id
from api.views import node_view
from core import clock
from core.identity import Actor
from privacy import erase_steps, erasure, export, models

DataExportStatus = models.ExportStatus
strawberry.enum(DataExportStatus, name="DataExportStatus", description="数据副本状态：排队、生成中、已完成、失败")
ErasureStatus = models.ErasureStatus
strawberry.enum(ErasureStatus, name="ErasureStatus", description="注销状态：待执行（可撤回）、执行中、已完成、已撤回")
ErasurePostsChoice = models.PostsChoice
strawberry.enum(
    ErasurePostsChoice,
    name="ErasurePostsChoice",
    description="注销后我的帖子与评论：ANONYMISE 匿名保留（作者显示为“已注销用户”），DELETE 删除",
)


@strawberry.type(name="DataExport", description="我的个人数据副本（JSON），生成后7天内可下载")
class DataExportType(Node):
    model: strawberry.Private[models.DataExport]

    status: DataExportStatus
    requested_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None = strawberry.field(description="下载截止时间")
    size_bytes: int | None = strawberry.field(description="JSON 大小（字节）")
    download_path: str | None = strawberry.field(
        description="下载地址（GET，携带本人访问令牌 Authorization: Bearer）；生成完成且未过期时才有"
    )

    @classmethod
    def from_model(cls, row: models.DataExport) -> DataExportType:
        path = export.download_path(row.id) if export.downloadable(row, clock.now()) else None
        return node_view(cls, row, status=models.ExportStatus(row.status), download_path=path)


@strawberry.type(name="ErasureStep", description="注销已完成的一步（审计记录）")
class ErasureStepType:
    name: str
    label: str
    finished_at: datetime
    counts: JSON = strawberry.field(description='这一步处理的各类数据及数量，如 {"conditions": 1, "check_ins": 3}')


def _steps(row: models.ErasureRequest) -> list[ErasureStepType]:
    done = row.steps or {}
    return [
        ErasureStepType(
            name=step.name,
            label=step.label,
            finished_at=datetime.fromisoformat(done[step.name]["at"]),
            counts=JSON(done[step.name]["counts"]),
        )
        for step in erase_steps.STEPS
        if step.name in done
    ]


@strawberry.type(name="ErasureRequest", description="账号注销申请：患者本人与管理员可见")
class ErasureRequestType(Node):
    model: strawberry.Private[models.ErasureRequest]

    status: ErasureStatus
    posts: ErasurePostsChoice
    requested_at: datetime
    execute_after: datetime = strawberry.field(description="犹豫期结束、开始执行的时间；此前可撤回")
    due_by: datetime = strawberry.field(description="法定处理时限")
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    overdue: bool = strawberry.field(description="是否超过处理时限（未完成已过时限，或完成时已过时限）")
    run_early: bool = strawberry.field(description="是否由管理员在犹豫期结束前执行")
    steps: list[ErasureStepType] = strawberry.field(description="已完成的步骤，按执行顺序")
    patient_id: strawberry.ID

    @classmethod
    def from_model(cls, row: models.ErasureRequest) -> ErasureRequestType:
        return node_view(
            cls,
            row,
            status=models.ErasureStatus(row.status),
            posts=models.PostsChoice(row.posts),
            overdue=erasure.overdue(row, clock.now()),
            run_early=row.run_by is not None,
            steps=_steps(row),
            patient_id=to_global_id("Patient", row.patient_id),
        )

    @strawberry.field(description="申请注销的患者（已注销的显示为“已注销用户”）")
    async def patient(self, info: Info) -> PatientType | None:
        return await patient_of(info, self.model.patient_id)


@node_fetcher("DataExport")
async def _fetch_exports(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(
        info,
        raw,
        export.exports_by_ids,
        DataExportType.from_model,
        visible=lambda actor, e: actor.is_patient and actor.id == e.patient_id,
    )


@node_fetcher("ErasureRequest")
async def _fetch_erasures(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(
        info,
        raw,
        erasure.requests_by_ids,
        ErasureRequestType.from_model,
        visible=erasure.can_read,
    )


@strawberry.type
class DataRightsQuery:
    @strawberry.field(description="我的个人数据副本，最新在前（患者本人）")
    async def data_exports(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[DataExportType]:
        return await read_page(
            info, lambda s, a: export.exports_page(s, a, first=first, after=after), DataExportType.from_model
        )

    @strawberry.field(description="我最近一次的注销申请（患者本人）；没有时为 null")
    async def my_erasure_request(self, info: Info) -> ErasureRequestType | None:
        row = await info.context.read(erasure.my_latest)
        return ErasureRequestType.from_model(row) if row is not None else None

    @strawberry.field(
        description="账号注销申请，最新在前（仅管理员）；overdue：true 只看超过处理时限的，false 只看未超过的"
    )
    async def erasure_requests(
        self,
        info: Info,
        status: ErasureStatus | None = None,
        overdue: bool | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[ErasureRequestType]:
        return await read_page(
            info,
            lambda s, a: erasure.requests_page(s, a, status=status, overdue_only=overdue, first=first, after=after),
            ErasureRequestType.from_model,
        )


@strawberry.type
class DataExportRequestPayload(ModelPayload):
    export: DataExportType | None = None
    errors: list[PrivacyError]


@strawberry.input
class ErasureRequestInput:
    posts: ErasurePostsChoice = strawberry.field(description="注销后我的帖子与评论如何处理")


@strawberry.input
class ErasureCancelInput:
    request_id: strawberry.ID


@strawberry.input
class ErasureRunNowInput:
    request_id: strawberry.ID


@strawberry.type
class ErasurePayload(ModelPayload):
    request: ErasureRequestType | None = None
    errors: list[PrivacyError]


@strawberry.type
class DataRightsMutation:
    @strawberry.mutation(
        description="申请个人数据副本（患者本人）：生成后通过站内消息通知下载，7天内有效；生成中只能有一份，每24小时一次"
    )
    async def data_export_request(self, info: Info) -> DataExportRequestPayload:
        return await mutate(info, DataExportRequestPayload, export.request_export)

    @strawberry.mutation(
        description="申请注销账号（患者本人）：犹豫期后执行，执行前可撤回；个人资料与健康信息删除，积分清零，授权记录依法保留"
    )
    async def erasure_request(self, info: Info, input: ErasureRequestInput) -> ErasurePayload:
        async def work(s: AsyncSession, a: Actor) -> models.ErasureRequest:
            return await erasure.request_erasure(s, a, posts=models.PostsChoice(input.posts))

        return await mutate(info, ErasurePayload, work)

    @strawberry.mutation(description="撤回注销申请（患者本人，开始执行前）")
    async def erasure_cancel(self, info: Info, input: ErasureCancelInput) -> ErasurePayload:
        return await mutate(
            info, ErasurePayload, on_id(erasure.cancel_erasure, input.request_id, "ErasureRequest", "requestId")
        )

    @strawberry.mutation(description="立即执行注销申请（仅管理员），不再等待犹豫期")
    async def erasure_run_now(self, info: Info, input: ErasureRunNowInput) -> ErasurePayload:
        return await mutate(
            info, ErasurePayload, on_id(erasure.run_now, input.request_id, "ErasureRequest", "requestId")
        )
