"""Identity mutations: sign-in flows, tokens, profile and consent, staff and site administration."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info, client_address
from api.error_types import IdentityError
from api.identity.types import (
    ConsentChannel,
    ConsentPurpose,
    ConsentSource,
    Gender,
    PatientType,
    SiteKind,
    SiteType,
    StaffRole,
    StaffType,
)
from api.mutations import ModelPayload, mutate
from api.relay import optional_id
from api.views import view
from core.errors import NotFound
from core.identity import Actor
from loyalty import onboarding
from patients import auth, models, service
from patients.auth import mask_phone

DEVICE_HEADER = "x-device-id"


@strawberry.type
class AuthTokens:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime

    @classmethod
    def of(cls, t: auth.Tokens) -> AuthTokens:
        return view(cls, t, access_token_expires_at=t.access_expires_at, refresh_token_expires_at=t.refresh_expires_at)


@strawberry.input
class AuthRequestCodeInput:
    phone: str


@strawberry.type
class AuthRequestCodePayload:
    masked_phone: str | None = None
    expires_at: datetime | None = None
    resend_after: datetime | None = None
    errors: list[IdentityError]

    @classmethod
    def of(cls, v: auth.CodeRequested, _info: Info) -> AuthRequestCodePayload:
        return cls(masked_phone=mask_phone(v.phone), expires_at=v.expires_at, resend_after=v.resend_after, errors=[])


@strawberry.input
class AuthSignInInput:
    phone: str
    code: str
    device_id: str | None = None
    referral_code: str | None = strawberry.field(default=None, description="好友推荐码，仅注册时有效")


@strawberry.type
class AuthSignInPayload:
    tokens: AuthTokens | None = None
    patient: PatientType | None = None
    registered: bool = False
    errors: list[IdentityError]

    @classmethod
    def of(cls, v: auth.PatientSignedIn, _info: Info) -> AuthSignInPayload:
        return cls(
            tokens=AuthTokens.of(v.tokens),
            patient=PatientType.from_model(v.patient),
            registered=v.registered,
            errors=[],
        )


@strawberry.input
class AuthStaffSignInInput:
    email: str
    password: str


@strawberry.type
class AuthStaffSignInPayload:
    tokens: AuthTokens | None = None
    staff: StaffType | None = None
    errors: list[IdentityError]

    @classmethod
    def of(cls, v: tuple[auth.Tokens, models.Staff], _info: Info) -> AuthStaffSignInPayload:
        return cls(tokens=AuthTokens.of(v[0]), staff=StaffType.from_model(v[1]), errors=[])


@strawberry.input
class AuthRefreshInput:
    refresh_token: str


@strawberry.type
class AuthRefreshPayload:
    tokens: AuthTokens | None = None
    errors: list[IdentityError]

    @classmethod
    def of(cls, v: auth.Tokens, _info: Info) -> AuthRefreshPayload:
        return cls(tokens=AuthTokens.of(v), errors=[])


@strawberry.input
class AuthSignOutInput:
    refresh_token: str | None = strawberry.field(default=None, description="省略时退出当前登录")


@strawberry.type
class AuthSignOutPayload:
    signed_out: bool = False
    errors: list[IdentityError]

    @classmethod
    def of(cls, _: None, _info: Info) -> AuthSignOutPayload:
        return cls(signed_out=True, errors=[])


@strawberry.input
class ProfileUpdateInput:
    patient_id: strawberry.ID | None = strawberry.field(default=None, description="诊疗员工代患者修改时填写")
    nickname: str | None = strawberry.UNSET
    real_name: str | None = strawberry.UNSET
    birth_year: int | None = strawberry.UNSET
    birth_date: date | None = strawberry.field(default=strawberry.UNSET, description="生日（用于生日祝福）")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="电子邮箱（邮件通知）")
    gender: Gender | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    condition_codes: list[str] | None = strawberry.UNSET
    home_site_id: strawberry.ID | None = strawberry.UNSET


@strawberry.type
class ProfileUpdatePayload(ModelPayload):
    patient: PatientType | None = None
    errors: list[IdentityError]


@strawberry.input
class ConsentItemInput:
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    notice_version: int = strawberry.field(
        description="向患者展示的授权说明版本（consentNotices）；同意须为该用途的现行版本"
    )


@strawberry.input
class ConsentUpdateInput:
    items: list[ConsentItemInput]
    source: ConsentSource = strawberry.field(
        default=ConsentSource.APP, description="授权来源：患者用 APP/WECHAT，员工用 FRONT_DESK/IMPORT"
    )
    source_note: str | None = strawberry.field(default=None, description="来源备注，如纸质授权书编号（100字以内）")
    patient_id: strawberry.ID | None = None


@strawberry.type
class ConsentUpdatePayload(ModelPayload):
    patient: PatientType | None = None
    errors: list[IdentityError]


@strawberry.input
class StaffCreateInput:
    email: str
    name: str
    password: str
    roles: list[StaffRole]
    site_id: strawberry.ID | None = None


@strawberry.type
class StaffCreatePayload(ModelPayload):
    staff: StaffType | None = None
    errors: list[IdentityError]


@strawberry.input
class StaffSetRolesInput:
    staff_id: strawberry.ID
    roles: list[StaffRole]


@strawberry.input
class StaffActiveInput:
    staff_id: strawberry.ID


async def _set_staff_active(info: Info, input: StaffActiveInput, *, active: bool) -> StaffCreatePayload:
    async def work(s: AsyncSession, a: Actor) -> Any:
        staff_id = optional_id(input.staff_id, "Staff", "staffId")
        if staff_id is None:
            raise NotFound("员工不存在", field="staffId")
        return await service.set_staff_active(s, a, staff_id, active=active)

    return await mutate(info, StaffCreatePayload, work)


@strawberry.input
class SiteCreateInput:
    code: str
    name: str
    kind: SiteKind
    address: str | None = None
    phone: str | None = None


@strawberry.type
class SiteCreatePayload(ModelPayload):
    site: SiteType | None = None
    errors: list[IdentityError]


def _opt(value: Any) -> Any:
    return service.UNSET if value is strawberry.UNSET else value


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(description="向手机号发送登录验证码（每分钟1次，每天10次）")
    async def auth_request_code(self, info: Info, input: AuthRequestCodeInput) -> AuthRequestCodePayload:
        client = client_address(info)
        return await mutate(
            info, AuthRequestCodePayload, lambda s, _a: auth.request_code(s, phone=input.phone, client=client)
        )

    @strawberry.mutation(description="手机号+验证码登录；首次登录即注册")
    async def auth_sign_in(self, info: Info, input: AuthSignInInput) -> AuthSignInPayload:
        device = input.device_id or info.context.request.headers.get(DEVICE_HEADER)
        return await mutate(
            info,
            AuthSignInPayload,
            lambda s, _a: onboarding.sign_in(
                s, phone=input.phone, code=input.code, device_id=device, referral_code=input.referral_code
            ),
        )

    @strawberry.mutation(description="员工邮箱+密码登录")
    async def auth_staff_sign_in(self, info: Info, input: AuthStaffSignInInput) -> AuthStaffSignInPayload:
        client = client_address(info)

        async def work(s: AsyncSession, _a: Actor) -> tuple[auth.Tokens, Any]:
            tokens = await auth.sign_in_staff(s, email=input.email, password=input.password, client=client)
            assert tokens.actor.id is not None
            return tokens, await s.get(models.Staff, tokens.actor.id)

        return await mutate(info, AuthStaffSignInPayload, work)

    @strawberry.mutation(description="用刷新令牌换取新的令牌（刷新令牌只能使用一次）")
    async def auth_refresh(self, info: Info, input: AuthRefreshInput) -> AuthRefreshPayload:
        return await mutate(info, AuthRefreshPayload, lambda s, _a: auth.refresh(s, refresh_token=input.refresh_token))

    @strawberry.mutation(description="退出登录")
    async def auth_sign_out(self, info: Info, input: AuthSignOutInput) -> AuthSignOutPayload:
        return await mutate(
            info, AuthSignOutPayload, lambda s, a: auth.sign_out(s, a, refresh_token=input.refresh_token)
        )

    @strawberry.mutation(description="修改患者资料")
    async def profile_update(self, info: Info, input: ProfileUpdateInput) -> ProfileUpdatePayload:
        async def work(s: AsyncSession, a: Actor) -> Any:
            gender = _opt(input.gender)
            changes = service.ProfileChanges(
                nickname=_opt(input.nickname),
                real_name=_opt(input.real_name),
                birth_year=_opt(input.birth_year),
                birth_date=_opt(input.birth_date),
                email=_opt(input.email),
                gender=gender.value if gender not in (service.UNSET, None) else gender,
                timezone=_opt(input.timezone),
                condition_codes=_opt(input.condition_codes),
                home_site_id=(
                    service.UNSET
                    if input.home_site_id is strawberry.UNSET
                    else optional_id(input.home_site_id, "Site", "homeSiteId")
                ),
            )
            return await service.update_profile(
                s, a, changes, patient_id=optional_id(input.patient_id, "Patient", "patientId")
            )

        return await mutate(info, ProfileUpdatePayload, work)

    @strawberry.mutation(description="修改各渠道、各用途的授权；每项须注明所展示的授权说明版本")
    async def consent_update(self, info: Info, input: ConsentUpdateInput) -> ConsentUpdatePayload:
        async def work(s: AsyncSession, a: Actor) -> Any:
            items = [
                service.ConsentChange(
                    channel=i.channel.value, purpose=i.purpose.value, granted=i.granted, notice_version=i.notice_version
                )
                for i in input.items
            ]
            patient_id = await service.update_consents(
                s,
                a,
                items,
                source=input.source.value,
                note=input.source_note,
                patient_id=optional_id(input.patient_id, "Patient", "patientId"),
            )
            return await s.get(models.Patient, patient_id)

        return await mutate(info, ConsentUpdatePayload, work)

    @strawberry.mutation(description="新建员工账号（管理员）")
    async def staff_create(self, info: Info, input: StaffCreateInput) -> StaffCreatePayload:
        return await mutate(
            info,
            StaffCreatePayload,
            lambda s, a: service.create_staff(
                s,
                a,
                email=input.email,
                name=input.name,
                password=input.password,
                roles=[r.value for r in input.roles],
                site_id=optional_id(input.site_id, "Site", "siteId"),
            ),
        )

    @strawberry.mutation(description="设置员工角色（管理员）；该员工需重新登录")
    async def staff_set_roles(self, info: Info, input: StaffSetRolesInput) -> StaffCreatePayload:
        async def work(s: AsyncSession, a: Actor) -> Any:
            staff_id = optional_id(input.staff_id, "Staff", "staffId")
            if staff_id is None:
                raise NotFound("员工不存在", field="staffId")
            return await service.set_staff_roles(s, a, staff_id, [r.value for r in input.roles])

        return await mutate(info, StaffCreatePayload, work)

    @strawberry.mutation(description="停用员工账号（管理员）：其全部登录立即失效")
    async def staff_disable(self, info: Info, input: StaffActiveInput) -> StaffCreatePayload:
        return await _set_staff_active(info, input, active=False)

    @strawberry.mutation(description="重新启用员工账号（管理员）；需重新登录")
    async def staff_enable(self, info: Info, input: StaffActiveInput) -> StaffCreatePayload:
        return await _set_staff_active(info, input, active=True)

    @strawberry.mutation(description="新建院区或门诊部（管理员）")
    async def site_create(self, info: Info, input: SiteCreateInput) -> SiteCreatePayload:
        return await mutate(
            info,
            SiteCreatePayload,
            lambda s, a: service.create_site(
                s, a, code=input.code, name=input.name, kind=input.kind.value, address=input.address, phone=input.phone
            ),
        )
