"""GraphQL views of identity: patients, staff, sites, conditions, consent."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from api.context import Info
from api.loyalty.points_types import PatientLoyaltyFields
from api.relay import Node, load_nodes, node_fetcher
from api.views import node_view, related, view
from core.identity import ROLE_LABELS_ZH, Role
from patients import consents, models, queries, visibility
from patients.service import SITE_KINDS

Gender = models.Gender
strawberry.enum(Gender, name="Gender")
ConsentChannel = models.ConsentChannel
strawberry.enum(ConsentChannel, name="ConsentChannel")
ConsentPurpose = models.ConsentPurpose
strawberry.enum(ConsentPurpose, name="ConsentPurpose")
ConsentSource = models.ConsentSource
strawberry.enum(ConsentSource, name="ConsentSource")
StaffRole = Role
strawberry.enum(StaffRole, name="StaffRole")


@strawberry.enum
class SiteKind(Enum):
    CAMPUS = "campus"
    CLINIC = "clinic"


@strawberry.type(description="An entry of the condition catalogue (病种).")
class Condition:
    code: str
    name: str

    @classmethod
    def of(cls, m: models.Condition) -> Condition:
        return view(cls, m)


@strawberry.type(name="Site", description="A campus (院区) or clinic (门诊部) of the hospital group.")
class SiteType(Node):
    model: strawberry.Private[models.Site]

    code: str
    name: str
    kind: SiteKind
    kind_label: str = strawberry.field(description="类型中文名")
    address: str | None
    phone: str | None
    timezone: str

    @classmethod
    def from_model(cls, row: models.Site) -> SiteType:
        return node_view(cls, row, kind=SiteKind(row.kind), kind_label=SITE_KINDS.get(row.kind, row.kind))


@strawberry.type(description="The current consent for one channel and purpose.")
class Consent:
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    source: str = strawberry.field(description="来源（ConsentSource 的取值，如 app、front_desk）")
    changed_at: datetime
    notice_version: int = strawberry.field(description="作答时展示的授权说明版本")

    @classmethod
    def of(cls, m: models.Consent) -> Consent:
        return view(cls, m, channel=models.ConsentChannel(m.channel), purpose=models.ConsentPurpose(m.purpose))


@strawberry.type(name="ConsentNotice", description="A published version of a consent notice (授权说明).")
class ConsentNoticeType:
    version: int = strawberry.field(description="版本号（全部授权说明统一递增）")
    title: str
    body: str = strawberry.field(description="正文（中文）")
    text_sha256: str = strawberry.field(description="正文 UTF-8 字节的 SHA-256（十六进制）")
    purposes: list[ConsentPurpose] = strawberry.field(description="本版适用的用途")
    changed_purposes: list[ConsentPurpose] = strawberry.field(description="本版变更了条款的用途：此前的同意需重新确认")
    purpose_labels: list[str] = strawberry.field(description="适用用途的中文名")
    published_at: datetime

    @classmethod
    def of(cls, m: models.ConsentNotice) -> ConsentNoticeType:
        return view(
            cls,
            m,
            text_sha256=m.body_sha256,
            purposes=[models.ConsentPurpose(p) for p in m.purposes],
            changed_purposes=[models.ConsentPurpose(p) for p in m.changed_purposes],
            purpose_labels=[models.PURPOSE_LABELS_ZH[models.ConsentPurpose(p)] for p in m.purposes],
        )


@strawberry.type(description="A purpose granted under a notice that has since changed it: show the notice, ask again.")
class ConsentReconfirmation:
    purpose: ConsentPurpose
    purpose_label: str
    channels: list[ConsentChannel] = strawberry.field(description="此前已同意的渠道")
    notice: ConsentNoticeType = strawberry.field(description="需阅读并重新确认的现行授权说明")

    @classmethod
    def of(cls, r: consents.Reconfirmation) -> ConsentReconfirmation:
        purpose = models.ConsentPurpose(r.purpose)
        return cls(
            purpose=purpose,
            purpose_label=models.PURPOSE_LABELS_ZH[purpose],
            channels=[models.ConsentChannel(c) for c in r.channels],
            notice=ConsentNoticeType.of(r.notice),
        )


# Who sees which field of a patient is decided in patients/visibility.py (the console and workers
# ask the same functions).
def _patient_real_name(root: PatientType, info: Info) -> str | None:
    return visibility.private_field(info.context.actor, root.model.id, root.model.real_name)


def _patient_phone(root: PatientType, info: Info) -> str:
    return visibility.phone_seen_by(info.context.actor, root.model.id, root.model.phone)


def _patient_birth_year(root: PatientType, info: Info) -> int | None:
    return visibility.private_field(info.context.actor, root.model.id, root.model.birth_year)


def _patient_birth_date(root: PatientType, info: Info) -> date | None:
    return visibility.private_field(info.context.actor, root.model.id, root.model.birth_date)


def _patient_email(root: PatientType, info: Info) -> str | None:
    return visibility.private_field(info.context.actor, root.model.id, root.model.email)


def _patient_gender(root: PatientType, info: Info) -> Gender | None:
    if not visibility.sees_private(info.context.actor, root.model.id):
        return None
    return models.Gender(root.model.gender)


@strawberry.type(name="Patient", description="A member. Private fields are null for viewers without access.")
class PatientType(PatientLoyaltyFields, Node):
    model: strawberry.Private[models.Patient]

    nickname: str = strawberry.field(description="社区昵称（公开）")
    real_name: str | None = strawberry.field(
        resolver=_patient_real_name, description="真实姓名（仅本人与诊疗团队可见）"
    )
    phone: str = strawberry.field(
        resolver=_patient_phone, description="手机号：本人与诊疗团队看到完整号码，其他员工看到脱敏号码"
    )
    birth_year: int | None = strawberry.field(resolver=_patient_birth_year)
    birth_date: date | None = strawberry.field(resolver=_patient_birth_date, description="生日（仅本人与诊疗团队可见）")
    email: str | None = strawberry.field(resolver=_patient_email, description="电子邮箱（仅本人与诊疗团队可见）")
    gender: Gender | None = strawberry.field(resolver=_patient_gender)
    timezone: str
    created_at: datetime

    @classmethod
    def from_model(cls, row: models.Patient) -> PatientType:
        return node_view(cls, row)

    @strawberry.field(description="所患病种（健康信息，仅本人与诊疗团队可见）")
    async def conditions(self, info: Info) -> list[Condition]:
        if not visibility.sees_private(info.context.actor, self.model.id):
            return []
        # Keyed by the viewer too: the batch records a staff viewer's reads (privacy.reads).
        rows = await info.context.load_many(visibility.conditions_seen, (info.context.actor, self.model.id))
        return [Condition.of(c) for c in rows]

    @strawberry.field(description="各渠道授权（仅本人与诊疗团队可见）")
    async def consents(self, info: Info) -> list[Consent]:
        if not visibility.sees_private(info.context.actor, self.model.id):
            return []
        rows = await info.context.load_many(queries.consents_by_patient, self.model.id)
        return [Consent.of(c) for c in rows]

    @strawberry.field(description="需重新确认的授权：授权说明更新了这些用途的条款（仅本人与诊疗团队可见）")
    async def consents_to_reconfirm(self, info: Info) -> list[ConsentReconfirmation]:
        if not visibility.sees_private(info.context.actor, self.model.id):
            return []
        rows = await info.context.load_many(consents.reconfirmations_by_patient, self.model.id)
        return [ConsentReconfirmation.of(r) for r in rows]

    @strawberry.field
    async def home_site(self, info: Info) -> SiteType | None:
        return await site_of(info, self.model.home_site_id)


@strawberry.type(name="Staff", description="A staff account of the hospital group.")
class StaffType(Node):
    model: strawberry.Private[models.Staff]

    name: str
    email: str
    active: bool

    @classmethod
    def from_model(cls, row: models.Staff) -> StaffType:
        return node_view(cls, row)

    @strawberry.field
    async def roles(self, info: Info) -> list[StaffRole]:
        return [Role(r) for r in await info.context.load_many(queries.roles_by_staff, self.model.id)]

    @strawberry.field(description="角色中文名")
    async def role_labels(self, info: Info) -> list[str]:
        return [ROLE_LABELS_ZH[Role(r)] for r in await info.context.load_many(queries.roles_by_staff, self.model.id)]

    @strawberry.field
    async def site(self, info: Info) -> SiteType | None:
        return await site_of(info, self.model.site_id)


Viewer = Annotated[PatientType | StaffType, strawberry.union("Viewer", description="The signed-in account.")]


# The patient, staff member or site a field points to, through the request's DataLoaders: None without
# an id or a row. A field that may not show it to every reader decides that before asking.
async def patient_of(info: Info, patient_id: uuid.UUID | None) -> PatientType | None:
    return await related(info, queries.patients_by_ids, patient_id, PatientType.from_model)


async def staff_of(info: Info, staff_id: uuid.UUID | None) -> StaffType | None:
    return await related(info, queries.staff_by_ids, staff_id, StaffType.from_model)


async def site_of(info: Info, site_id: uuid.UUID | None) -> SiteType | None:
    return await related(info, queries.sites_by_ids, site_id, SiteType.from_model)


@node_fetcher("Patient")
async def _fetch_patients(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(info, raw, queries.patients_by_ids, PatientType.from_model, allowed=visibility.sees_profile)


@node_fetcher("Staff")
async def _fetch_staff(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(info, raw, queries.staff_by_ids, StaffType.from_model, allowed=visibility.sees_staff)


@node_fetcher("Site")
async def _fetch_sites(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(info, raw, queries.sites_by_ids, SiteType.from_model)
