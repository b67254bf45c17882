"""Who is acting. Every service takes an Actor and decides authorization itself."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from core.errors import NotAuthenticated, PermissionDenied


class ActorKind(enum.StrEnum):
    ANONYMOUS = "anonymous"
    PATIENT = "patient"
    STAFF = "staff"
    SYSTEM = "system"


class Role(enum.StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    MODERATOR = "moderator"
    DOCTOR = "doctor"
    HEALTH_MANAGER = "health_manager"
    CLINIC_STAFF = "clinic_staff"
    REVIEWER = "reviewer"


ROLE_LABELS_ZH = {
    Role.ADMIN: "管理员",
    Role.MARKETER: "市场运营",
    Role.MODERATOR: "社区版主",
    Role.DOCTOR: "医生",
    Role.HEALTH_MANAGER: "健康管理师",
    Role.CLINIC_STAFF: "门诊前台",
    Role.REVIEWER: "内容审核",
}


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: uuid.UUID | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    session_id: uuid.UUID | None = None

    @property
    def is_patient(self) -> bool:
        return self.kind is ActorKind.PATIENT

    @property
    def is_staff(self) -> bool:
        return self.kind is ActorKind.STAFF

    @property
    def is_system(self) -> bool:
        return self.kind is ActorKind.SYSTEM

    def has_role(self, *roles: Role) -> bool:
        if self.is_system:
            return True
        return self.is_staff and (Role.ADMIN in self.roles or any(r in self.roles for r in roles))

    def require_authenticated(self) -> uuid.UUID:
        if self.kind is ActorKind.ANONYMOUS or self.id is None:
            raise NotAuthenticated()
        return self.id

    def require_patient(self) -> uuid.UUID:
        if not self.is_patient or self.id is None:
            if self.kind is ActorKind.ANONYMOUS:
                raise NotAuthenticated()
            raise PermissionDenied("此操作仅限患者会员")
        return self.id

    def require_role(self, *roles: Role) -> None:
        """Admins hold every staff permission; the system actor (workers) too."""
        if self.kind is ActorKind.ANONYMOUS:
            raise NotAuthenticated()
        if not self.has_role(*roles):
            raise PermissionDenied()


ANONYMOUS = Actor(kind=ActorKind.ANONYMOUS)
SYSTEM = Actor(kind=ActorKind.SYSTEM)
