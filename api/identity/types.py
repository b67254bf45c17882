"""GraphQL views of identity: patients, staff, sites, conditions, consent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from api.context import Info
from api.loyalty.points_types import PatientLoyaltyFields
from api.relay import Node, node_fetcher, raw_uuids, to_global_id
from core.identity import ROLE_LABELS_ZH, Role
from patients import models, queries
from patients.service import SITE_KINDS, can_view_private, can_view_profile

Gender = strawberry.enum(models.Gender, name="Gender")
ConsentChannel = strawberry.enum(models.ConsentChannel, name="ConsentChannel")
ConsentPurpose = strawberry.enum(models.ConsentPurpose, name="ConsentPurpose")
StaffRole = strawberry.enum(Role, name="StaffRole")


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
        return cls(code=m.code, name=m.name)


@strawberry.type(name="Site", description="A campus (院区) or clinic (门诊部) of the hospital group.")
class SiteType(Node):
    model: strawberry.Private[models.Site]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Site", self.model.id)

    @strawberry.field
    def code(self) -> str:
        return self.model.code

    @strawberry.field
    def name(self) -> str:
        return self.model.name

    @strawberry.field
    def kind(self) -> SiteKind:
        return SiteKind(self.model.kind)

    @strawberry.field(description="类型中文名")
    def kind_label(self) -> str:
        return SITE_KINDS.get(self.model.kind, self.model.kind)

    @strawberry.field
    def address(self) -> str | None:
        return self.model.address

    @strawberry.field
    def phone(self) -> str | None:
        return self.model.phone

    @strawberry.field
    def timezone(self) -> str:
        return self.model.timezone


@strawberry.type(description="The current consent for one channel and purpose.")
class Consent:
    channel: ConsentChannel  # type: ignore[valid-type]
    purpose: ConsentPurpose  # type: ignore[valid-type]
    granted: bool
    source: str
    changed_at: datetime

    @classmethod
    def of(cls, m: models.Consent) -> Consent:
        return cls(
            channel=models.ConsentChannel(m.channel),
            purpose=models.ConsentPurpose(m.purpose),
            granted=m.granted,
            source=m.source,
            changed_at=m.changed_at,
        )


@strawberry.type(name="Patient", description="A member. Private fields are null for viewers without access.")
class PatientType(PatientLoyaltyFields, Node):
    model: strawberry.Private[models.Patient]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Patient", self.model.id)

    @strawberry.field(description="社区昵称（公开）")
    def nickname(self) -> str:
        return self.model.nickname

    @strawberry.field(description="真实姓名（仅本人与诊疗团队可见）")
    def real_name(self, info: Info) -> str | None:
        return self.model.real_name if can_view_private(info.context.actor, self.model.id) else None

    @strawberry.field(description="手机号：本人与诊疗团队看到完整号码，其他员工看到脱敏号码")
    def phone(self, info: Info) -> str:
        phone = self.model.phone
        return phone if can_view_private(info.context.actor, self.model.id) else f"{phone[:3]}****{phone[-4:]}"

    @strawberry.field
    def birth_year(self, info: Info) -> int | None:
        return self.model.birth_year if can_view_private(info.context.actor, self.model.id) else None

    @strawberry.field(description="生日（仅本人与诊疗团队可见）")
    def birth_date(self, info: Info) -> date | None:
        return self.model.birth_date if can_view_private(info.context.actor, self.model.id) else None

    @strawberry.field(description="电子邮箱（仅本人与诊疗团队可见）")
    def email(self, info: Info) -> str | None:
        return self.model.email if can_view_private(info.context.actor, self.model.id) else None

    @strawberry.field
    def gender(self, info: Info) -> Gender | None:  # type: ignore[valid-type]
        if not can_view_private(info.context.actor, self.model.id):
            return None
        return models.Gender(self.model.gender)

    @strawberry.field
    def timezone(self) -> str:
        return self.model.timezone

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="所患病种（健康信息，仅本人与诊疗团队可见）")
    async def conditions(self, info: Info) -> list[Condition]:
        if not can_view_private(info.context.actor, self.model.id):
            return []
        rows = await info.context.load_many(queries.conditions_by_patient, self.model.id)
        return [Condition.of(c) for c in rows]

    @strawberry.field(description="各渠道授权（仅本人与诊疗团队可见）")
    async def consents(self, info: Info) -> list[Consent]:
        if not can_view_private(info.context.actor, self.model.id):
            return []
        rows = await info.context.load_many(queries.consents_by_patient, self.model.id)
        return [Consent.of(c) for c in rows]

    @strawberry.field
    async def home_site(self, info: Info) -> SiteType | None:
        if self.model.home_site_id is None:
            return None
        site = await info.context.load(queries.sites_by_ids, self.model.home_site_id)
        return SiteType(model=site) if site else None


@strawberry.type(name="Staff", description="A staff account of the hospital group.")
class StaffType(Node):
    model: strawberry.Private[models.Staff]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Staff", self.model.id)

    @strawberry.field
    def name(self) -> str:
        return self.model.name

    @strawberry.field
    def email(self) -> str:
        return self.model.email

    @strawberry.field
    def active(self) -> bool:
        return self.model.active

    @strawberry.field
    async def roles(self, info: Info) -> list[StaffRole]:  # type: ignore[valid-type]
        return [Role(r) for r in await info.context.load_many(queries.roles_by_staff, self.model.id)]

    @strawberry.field(description="角色中文名")
    async def role_labels(self, info: Info) -> list[str]:
        return [ROLE_LABELS_ZH[Role(r)] for r in await info.context.load_many(queries.roles_by_staff, self.model.id)]

    @strawberry.field
    async def site(self, info: Info) -> SiteType | None:
        if self.model.site_id is None:
            return None
        site = await info.context.load(queries.sites_by_ids, self.model.site_id)
        return SiteType(model=site) if site else None


Viewer = Annotated[PatientType | StaffType, strawberry.union("Viewer", description="The signed-in account.")]


async def _fetch(info: Info, raw: Sequence[str], fn: Any, allowed: Any, wrap: Any) -> list[Any]:
    ids = raw_uuids(raw)
    visible = [i for i in ids if i is not None and allowed(i)]
    found = dict(zip(visible, await info.context.loaders.get(fn).load_many(visible), strict=True))
    return [wrap(found[i]) if i is not None and found.get(i) is not None else None for i in ids]


@node_fetcher("Patient")
async def _fetch_patients(info: Info, raw: Sequence[str]) -> list[Any]:
    actor = info.context.actor
    return await _fetch(
        info, raw, queries.patients_by_ids, lambda i: can_view_profile(actor, i), lambda m: PatientType(model=m)
    )


@node_fetcher("Staff")
async def _fetch_staff(info: Info, raw: Sequence[str]) -> list[Any]:
    actor = info.context.actor
    return await _fetch(
        info,
        raw,
        queries.staff_by_ids,
        lambda i: actor.has_role(Role.ADMIN) or (actor.is_staff and actor.id == i),
        lambda m: StaffType(model=m),
    )


@node_fetcher("Site")
async def _fetch_sites(info: Info, raw: Sequence[str]) -> list[Any]:
    return await _fetch(info, raw, queries.sites_by_ids, lambda i: True, lambda m: SiteType(model=m))
