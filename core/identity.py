"""Who is acting. Every service takes an Actor and decides authorization itself."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from core.errors import DelegationScopeMissing, NotAuthenticated, PermissionDenied


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


class DelegationScope(enum.StrEnum):
    """What a guardian may do for a dependent (patients/guardians.py): each service that acts for the
    patient asks `Actor.require_scope` for its own."""

    VIEW = "view"  # read the dependent's own data (profile, points, visits, check-ins ...)
    BOOK = "book"  # answer event RSVPs
    REDEEM = "redeem"  # redeem rewards with the dependent's points
    COMMUNITY = "community"  # post and comment in the community as the dependent


@dataclass(frozen=True)
class Delegate:
    """The guardian acting for the patient an Actor names: signed in as themselves, acting for the
    dependent through an active delegation, re-read on every request (a revocation stops it at once)."""

    guardian_id: uuid.UUID
    guardianship_id: uuid.UUID
    scopes: frozenset[DelegationScope]


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
    # Set when a guardian acts for this patient (`id` is the dependent, the subject of every rule).
    delegate: Delegate | None = None

    @property
    def is_patient(self) -> bool:
        return self.kind is ActorKind.PATIENT

    @property
    def is_staff(self) -> bool:
        return self.kind is ActorKind.STAFF

    @property
    def is_system(self) -> bool:
        return self.kind is ActorKind.SYSTEM

    @property
    def performer_id(self) -> uuid.UUID | None:
        """Who actually acts: the guardian when one acts for the patient, else the actor itself
        (what an `actor_id` column records)."""
        return self.delegate.guardian_id if self.delegate is not None else self.id

    def require_scope(self, scope: DelegationScope) -> None:
        """A guardian acting for the patient needs `scope` in their delegation; anyone else passes."""
        if self.delegate is not None and scope not in self.delegate.scopes:
            raise DelegationScopeMissing(scope.value)

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
