"""Staff practising credentials behind the expert badge: admins record, verify, revoke and list them;
a staff member reads their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import CommunityError
from api.identity.types import StaffType, staff_of
from api.mutations import ModelPayload, mutate, on_id
from api.relay import Connection, Node, load_nodes, node_fetcher, optional_id, read_page, require_id
from api.views import node_view
from community import credentials, models
from core.identity import Actor

CredentialStatus = models.CredentialStatus
strawberry.enum(CredentialStatus, name="CredentialStatus")


@strawberry.type(name="StaffCredential", description="员工执业资质（执业证书）：仅管理员与本人可见")
class CredentialType(Node):
    model: strawberry.Private[models.StaffCredential]

    certificate_number: str = strawberry.field(description="执业证书编号")
    institution: str = strawberry.field(description="执业机构")
    specialty: str = strawberry.field(description="执业专业")
    evidence_key: str = strawberry.field(description="证书扫描件在对象存储中的路径")
    status: CredentialStatus = strawberry.field(description="此刻的状态：已核验但过了有效期即为 EXPIRED")
    valid_now: bool = strawberry.field(description="此刻经核验且在有效期内")
    expires_at: datetime
    verified_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, row: models.StaffCredential) -> CredentialType:
        status = credentials.effective_status(row)
        return node_view(cls, row, status=status, valid_now=status is CredentialStatus.VERIFIED)

    @strawberry.field(description="资质所属员工")
    async def staff(self, info: Info) -> StaffType | None:
        return await staff_of(info, self.model.staff_id)

    @strawberry.field(description="核验的管理员")
    async def verified_by(self, info: Info) -> StaffType | None:
        return await staff_of(info, self.model.verified_by)


@node_fetcher("StaffCredential")
async def _fetch_credentials(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(
        info,
        raw,
        credentials.credentials_by_ids,
        CredentialType.from_model,
        visible=credentials.can_read,
    )


@strawberry.type
class CredentialQuery:
    @strawberry.field(
        description="员工执业资质列表（仅管理员）；expiringWithinDays：此刻有效、将在若干天内到期的，按到期先后"
    )
    async def staff_credentials(
        self,
        info: Info,
        status: CredentialStatus | None = None,
        expiring_within_days: int | None = None,
        staff_id: strawberry.ID | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[CredentialType]:
        staff = optional_id(staff_id, "Staff", "staffId")
        return await read_page(
            info,
            lambda s, a: credentials.credentials_page(
                s,
                a,
                status=status.value if status is not None else None,
                expiring_within_days=expiring_within_days,
                staff_id=staff,
                first=first,
                after=after,
            ),
            CredentialType.from_model,
        )

    @strawberry.field(description="我的执业资质（员工本人），新登记的在前")
    async def my_credentials(self, info: Info) -> list[CredentialType]:
        rows = await info.context.read(credentials.my_credentials)
        return [CredentialType.from_model(r) for r in rows]


@strawberry.input
class StaffCredentialRecordInput:
    staff_id: strawberry.ID
    certificate_number: str = strawberry.field(description="执业证书编号（6到32位字母或数字）")
    institution: str = strawberry.field(description="执业机构")
    specialty: str = strawberry.field(description="执业专业")
    evidence_key: str = strawberry.field(description="已上传的证书扫描件在对象存储中的路径，如 credentials/2024/a1.pdf")
    expires_at: datetime = strawberry.field(description="有效期至")


@strawberry.input
class StaffCredentialVerifyInput:
    credential_id: strawberry.ID


@strawberry.input
class StaffCredentialRevokeInput:
    credential_id: strawberry.ID
    reason: str = strawberry.field(description="撤销理由（4到500个字）")


@strawberry.type
class StaffCredentialPayload(ModelPayload):
    credential: CredentialType | None = None
    errors: list[CommunityError]


@strawberry.type
class CredentialMutation:
    @strawberry.mutation(description="登记员工执业资质（管理员）；需另一位管理员核验后生效")
    async def staff_credential_record(self, info: Info, input: StaffCredentialRecordInput) -> StaffCredentialPayload:
        async def work(s: AsyncSession, a: Actor) -> Any:
            data = credentials.CredentialInput(
                staff_id=require_id(input.staff_id, "Staff", "staffId"),
                certificate_number=input.certificate_number,
                institution=input.institution,
                specialty=input.specialty,
                evidence_key=input.evidence_key,
                expires_at=input.expires_at,
            )
            return await credentials.record(s, a, data)

        return await mutate(info, StaffCredentialPayload, work)

    @strawberry.mutation(description="核验员工执业资质（管理员，不能核验自己的）")
    async def staff_credential_verify(self, info: Info, input: StaffCredentialVerifyInput) -> StaffCredentialPayload:
        return await mutate(
            info,
            StaffCredentialPayload,
            on_id(credentials.verify, input.credential_id, "StaffCredential", "credentialId"),
        )

    @strawberry.mutation(description="撤销员工执业资质（管理员）；其社群专家身份随即取消")
    async def staff_credential_revoke(self, info: Info, input: StaffCredentialRevokeInput) -> StaffCredentialPayload:
        return await mutate(
            info,
            StaffCredentialPayload,
            on_id(credentials.revoke, input.credential_id, "StaffCredential", "credentialId", reason=input.reason),
        )
