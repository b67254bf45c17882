"""Consent evidence over GraphQL: the notices, a patient's history, publishing a new notice version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import IdentityError
from api.identity.types import ConsentChannel, ConsentNoticeType, ConsentPurpose, ConsentSource
from api.mutations import mutate
from api.relay import Connection, read_page, require_id
from api.views import related, view
from core.identity import Actor
from patients import consents, models


@strawberry.type(description="One grant or withdrawal, as recorded (the evidence of consent).")
class ConsentRecord:
    model: strawberry.Private[models.ConsentEvent]

    purpose: ConsentPurpose
    purpose_label: str
    channel: ConsentChannel
    granted: bool = strawberry.field(description="true 为同意，false 为撤回")
    notice_version: int = strawberry.field(description="作答时展示的授权说明版本")
    text_sha256: str = strawberry.field(description="该版授权说明正文的 SHA-256")
    source: ConsentSource
    source_label: str
    source_note: str | None = strawberry.field(description="来源备注，如纸质授权书编号")
    by_patient: bool = strawberry.field(description="是否由患者本人操作（否则为员工代为登记或系统导入）")
    occurred_at: datetime

    @classmethod
    def of(cls, m: models.ConsentEvent) -> ConsentRecord:
        purpose, source = models.ConsentPurpose(m.purpose), models.ConsentSource(m.source)
        return view(
            cls,
            m,
            model=m,
            purpose=purpose,
            purpose_label=models.PURPOSE_LABELS_ZH[purpose],
            channel=models.ConsentChannel(m.channel),
            source=source,
            source_label=models.SOURCE_LABELS_ZH[source],
            by_patient=m.actor_id == m.patient_id,
        )

    @strawberry.field(description="该版授权说明全文")
    async def notice(self, info: Info) -> ConsentNoticeType | None:
        return await related(info, consents.notices_by_version, self.model.notice_version, ConsentNoticeType.of)


@strawberry.input
class ConsentNoticePublishInput:
    title: str
    body: str = strawberry.field(description="正文（中文），发布后不可修改")
    purposes: list[ConsentPurpose] = strawberry.field(description="本版适用的用途")
    changed_purposes: list[ConsentPurpose] = strawberry.field(
        description="条款有变更的用途：在旧版本下作出的同意需重新确认，营销类在确认前不再视为同意"
    )


@strawberry.type
class ConsentNoticePublishPayload:
    notice: ConsentNoticeType | None = None
    errors: list[IdentityError]

    @classmethod
    def of(cls, v: models.ConsentNotice, _info: Info) -> ConsentNoticePublishPayload:
        return cls(notice=ConsentNoticeType.of(v), errors=[])


@strawberry.type
class ConsentQuery:
    @strawberry.field(description="现行授权说明（每个用途一份，多个用途可共用一份）；授权时需回传所展示的版本号")
    async def consent_notices(self, info: Info) -> list[ConsentNoticeType]:
        async with info.context.db.read() as session:
            return [ConsentNoticeType.of(n) for n in await consents.current_notices(session)]

    @strawberry.field(description="我的授权记录（每次同意与撤回，按时间倒序）")
    async def my_consent_history(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ConsentRecord]:
        return await read_page(
            info, lambda s, a: consents.history_page(s, a, first=first, after=after), ConsentRecord.of
        )

    @strawberry.field(description="某位患者的授权记录（仅管理员）")
    async def consent_history(
        self, info: Info, patient_id: strawberry.ID, first: int | None = 20, after: str | None = None
    ) -> Connection[ConsentRecord]:
        target = require_id(patient_id, "Patient", "patientId")
        return await read_page(
            info,
            lambda s, a: consents.history_page(s, a, patient_id=target, first=first, after=after),
            ConsentRecord.of,
        )


@strawberry.type
class ConsentMutation:
    @strawberry.mutation(description="发布新版授权说明（管理员）；变更用途下的旧同意需患者重新确认")
    async def consent_notice_publish(self, info: Info, input: ConsentNoticePublishInput) -> ConsentNoticePublishPayload:
        async def work(s: AsyncSession, a: Actor) -> Any:
            return await consents.publish_notice(
                s,
                a,
                title=input.title,
                body=input.body,
                purposes=[p.value for p in input.purposes],
                changed_purposes=[p.value for p in input.changed_purposes],
            )

        return await mutate(info, ConsentNoticePublishPayload, work)
