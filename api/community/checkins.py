"""GraphQL for daily check-ins (打卡): check in, my history and streak, group boards, health alerts.

Only maps: every rule (who may read values, what is out of range, streaks and points) lives in
`community.checkins`. Add `CheckInQuery` and `CheckInMutation` to the schema's Query and Mutation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import CommunityError
from api.mutations import ModelPayload, mutate, on_id
from api.relay import (
    Connection,
    Node,
    load_nodes,
    node_fetcher,
    parse_uuid_id,
    read_page,
    require_id,
    to_global_id,
)
from api.views import node_view, related, view
from community import checkins, models
from community import errors as community_errors
from core.errors import CoreCode, NotFound
from core.identity import Actor
from patients import queries as patient_queries

CheckInKind = models.CheckInKind
strawberry.enum(CheckInKind, name="CheckInKind", description="打卡类型")
GlucoseContext = models.GlucoseContext
strawberry.enum(GlucoseContext, name="GlucoseContext", description="血糖测量时段")


# --- types ------------------------------------------------------------------------------------


@strawberry.type(name="CheckIn", description="一次健康打卡；读数仅本人和医护团队可见")
class CheckInType(Node):
    model: strawberry.Private[models.CheckIn]

    kind: CheckInKind
    local_date: dt.date = strawberry.field(description="打卡所属的当地日期（打卡时本人所在时区）")
    timezone: str
    glucose_mmol: float | None = strawberry.field(description="血糖（mmol/L）")
    glucose_context: GlucoseContext | None
    systolic: int | None = strawberry.field(description="收缩压（mmHg）")
    diastolic: int | None = strawberry.field(description="舒张压（mmHg）")
    pulse: int | None = strawberry.field(description="心率（次/分）")
    weight_kg: float | None = strawberry.field(description="体重（公斤）")
    exercise_minutes: int | None = strawberry.field(description="运动时长（分钟）")
    exercise_type: str | None
    medication_taken: bool | None = strawberry.field(description="是否已按时用药")
    medication_name: str | None
    note: str | None
    out_of_range: bool = strawberry.field(description="读数超出安全范围")
    group_id: strawberry.ID | None = strawberry.field(description="打卡展示在哪个社群的打卡榜")
    created_at: dt.datetime

    @classmethod
    def from_model(cls, row: models.CheckIn) -> CheckInType:
        value = row.value or {}  # the readings of its kind, by key
        mmol, context, kg = value.get("mmol"), value.get("context"), value.get("kg")
        return node_view(
            cls,
            row,
            kind=models.CheckInKind(row.kind),
            glucose_mmol=float(mmol) if mmol is not None else None,
            glucose_context=GlucoseContext(context) if context else None,
            systolic=value.get("systolic"),
            diastolic=value.get("diastolic"),
            pulse=value.get("pulse"),
            weight_kg=float(kg) if kg is not None else None,
            exercise_minutes=value.get("minutes"),
            exercise_type=value.get("type"),
            medication_taken=value.get("taken"),
            medication_name=value.get("name"),
            group_id=to_global_id("Group", row.group_id) if row.group_id else None,
        )


@strawberry.type(name="CheckInStreak", description="连续打卡天数")
class StreakType:
    current: int
    longest: int
    last_date: dt.date | None
    start_date: dt.date | None

    @classmethod
    def of(cls, s: checkins.Streak) -> StreakType:
        return view(cls, s)


@strawberry.type(name="CheckInMilestone", description="本次打卡达成的连续打卡里程碑")
class MilestoneType:
    days: int
    points: int = strawberry.field(description="获得的积分；规则停用或达到上限时为0")


async def _health_alert_patient_nickname(root: HealthAlertType, info: Info) -> str | None:
    patient = await info.context.load(patient_queries.patients_by_ids, root.model.patient_id)
    return patient.nickname if patient else None


async def _health_alert_check_in(root: HealthAlertType, info: Info) -> CheckInType | None:
    return await related(info, checkins.check_ins_by_ids, root.model.checkin_id, CheckInType.from_model)


@strawberry.type(name="HealthAlert", description="读数超出安全范围的健康预警（医护团队处理）")
class HealthAlertType(Node):
    model: strawberry.Private[models.HealthAlert]

    kind: CheckInKind
    reading: str
    message: str
    patient_id: strawberry.ID
    patient_nickname: str | None = strawberry.field(resolver=_health_alert_patient_nickname)
    check_in: CheckInType | None = strawberry.field(resolver=_health_alert_check_in)
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by_id: strawberry.ID | None

    @classmethod
    def from_model(cls, row: models.HealthAlert) -> HealthAlertType:
        return node_view(
            cls,
            row,
            kind=models.CheckInKind(row.kind),
            patient_id=to_global_id("Patient", row.patient_id),
            acknowledged_by_id=to_global_id("Staff", row.acknowledged_by) if row.acknowledged_by else None,
        )


@strawberry.type(name="CheckInBoardMember")
class BoardMemberType:
    nickname: str


@strawberry.type(name="CheckInBoard", description="社群打卡榜：谁今天打了卡（不含任何读数）")
class BoardType:
    date: dt.date
    count: int
    members: list[BoardMemberType]


@node_fetcher("CheckIn")
async def _fetch_check_ins(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(
        info,
        raw,
        checkins.check_ins_by_ids,
        CheckInType.from_model,
        visible=checkins.shows_values,
    )


@node_fetcher("HealthAlert")
async def _fetch_alerts(info: Info, raw: Sequence[str]) -> list[Any]:
    actor = info.context.actor
    if not checkins.is_care_team(actor):
        return [None] * len(raw)
    return await load_nodes(info, raw, checkins.alerts_by_ids, HealthAlertType.from_model, visible=checkins.shows_alert)


# --- queries ----------------------------------------------------------------------------------


@strawberry.type
class CheckInQuery:
    @strawberry.field(description="我的打卡记录（最近 days 个当地日期，1到90），新的在前")
    async def my_check_ins(
        self,
        info: Info,
        days: int = 30,
        kind: CheckInKind | None = None,
    ) -> list[CheckInType]:
        rows = await info.context.read(checkins.my_check_ins, days=days, kind=kind.value if kind else None)
        return [CheckInType.from_model(r) for r in rows]

    @strawberry.field(description="患者的打卡记录（医生、健康管理师）")
    async def patient_check_ins(
        self,
        info: Info,
        patient_id: strawberry.ID,
        days: int = 30,
        kind: CheckInKind | None = None,
    ) -> list[CheckInType]:
        target = parse_uuid_id(str(patient_id), "Patient")
        if target is None:
            raise NotFound("患者不存在", field="patientId", code=CoreCode.PATIENT_NOT_FOUND)
        rows = await info.context.read(checkins.patient_check_ins, target, days=days, kind=kind.value if kind else None)
        return [CheckInType.from_model(r) for r in rows]

    @strawberry.field(description="我的连续打卡天数（漏打一天后当前天数归零）")
    async def my_check_in_streak(self, info: Info) -> StreakType:
        streak = await info.context.read(checkins.streak_of)
        return StreakType.of(streak)

    @strawberry.field(description="社群打卡榜：某天（默认今天）在本群打卡的成员昵称与人数，不含读数")
    async def check_in_board(self, info: Info, group_id: strawberry.ID, date: dt.date | None = None) -> BoardType:
        gid = parse_uuid_id(str(group_id), "Group")
        if gid is None:
            raise community_errors.GroupNotFound(field="groupId")
        board = await info.context.read(checkins.group_board, gid, date)
        return BoardType(
            date=board.date, count=board.count, members=[BoardMemberType(nickname=m.nickname) for m in board.members]
        )

    @strawberry.field(description="待处理的健康预警，最早的在前（医生、健康管理师）")
    async def health_alerts(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[HealthAlertType]:
        return await read_page(
            info, lambda s, a: checkins.open_alerts(s, a, first=first, after=after), HealthAlertType.from_model
        )


# --- mutations --------------------------------------------------------------------------------


@strawberry.input(description="打卡：按 kind 填写对应读数，其余留空")
class CheckInInput:
    kind: CheckInKind
    glucose_mmol: float | None = strawberry.field(default=None, description="血糖 mmol/L（1.0到35.0）")
    glucose_context: GlucoseContext | None = None
    systolic: int | None = strawberry.field(default=None, description="收缩压 mmHg（60到260）")
    diastolic: int | None = strawberry.field(default=None, description="舒张压 mmHg（30到160）")
    pulse: int | None = strawberry.field(default=None, description="心率 次/分（可选）")
    weight_kg: float | None = strawberry.field(default=None, description="体重 公斤（20到300）")
    exercise_minutes: int | None = strawberry.field(default=None, description="运动分钟数（1到600）")
    exercise_type: str | None = None
    medication_taken: bool | None = None
    medication_name: str | None = None
    note: str | None = None
    group_id: strawberry.ID | None = strawberry.field(default=None, description="同时展示在该社群的打卡榜")

    def value(self) -> dict[str, Any]:
        fields = {
            "mmol": self.glucose_mmol,
            "context": self.glucose_context.value if self.glucose_context else None,
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "pulse": self.pulse,
            "kg": self.weight_kg,
            "minutes": self.exercise_minutes,
            "type": self.exercise_type,
            "taken": self.medication_taken,
            "name": self.medication_name,
        }
        return {k: v for k, v in fields.items() if v is not None}


@strawberry.type
class CheckInPayload:
    check_in: CheckInType | None = None
    streak: StreakType | None = None
    milestone_awarded: MilestoneType | None = strawberry.field(default=None, description="本次达成的里程碑")
    alert: HealthAlertType | None = strawberry.field(default=None, description="读数超出安全范围时的预警")
    updated: bool = strawberry.field(default=False, description="是否更正了今天同类型的打卡")
    errors: list[CommunityError]

    @classmethod
    def of(cls, v: checkins.CheckInResult, _info: Info) -> CheckInPayload:
        milestone = MilestoneType(days=v.milestone.days, points=v.milestone.points) if v.milestone else None
        alert = HealthAlertType.from_model(v.alert) if v.alert else None
        return cls(
            check_in=CheckInType.from_model(v.check_in),
            streak=StreakType.of(v.streak),
            milestone_awarded=milestone,
            alert=alert,
            updated=v.updated,
            errors=[],
        )


@strawberry.input
class HealthAlertAcknowledgeInput:
    alert_id: strawberry.ID


@strawberry.type
class HealthAlertAcknowledgePayload(ModelPayload):
    alert: HealthAlertType | None = None
    errors: list[CommunityError]


@strawberry.type
class CheckInMutation:
    @strawberry.mutation(description="今日打卡；同一天同类型再次打卡会更正读数")
    async def check_in(self, info: Info, input: CheckInInput) -> CheckInPayload:
        async def work(s: AsyncSession, a: Actor) -> checkins.CheckInResult:
            group_id = require_id(input.group_id, "Group", "groupId") if input.group_id is not None else None
            return await checkins.check_in(
                s, a, kind=input.kind.value, value=input.value(), note=input.note, group_id=group_id
            )

        return await mutate(info, CheckInPayload, work)

    @strawberry.mutation(description="确认已处理健康预警（医生、健康管理师）")
    async def health_alert_acknowledge(
        self, info: Info, input: HealthAlertAcknowledgeInput
    ) -> HealthAlertAcknowledgePayload:
        return await mutate(
            info,
            HealthAlertAcknowledgePayload,
            on_id(checkins.acknowledge_alert, input.alert_id, "HealthAlert", "alertId"),
        )
