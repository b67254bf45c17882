"""The PHI read audit (PIPL art. 28-29: sensitive personal information; art. 44-45: the right to know).

Every staff read of a patient's conditions, check-ins, visits, complaints or survey answers leaves a row
in phi_reads: who (the staff id and the roles held then), whose, which kind, when, and through what. The
domain services decide it where they hand the data out, with the actor: `record_reads` (given a session)
or `note_reads` (beside a visibility predicate, inside a request). A patient reading their own data and
the system actor (jobs) are not recorded.

Batched: a request collects its reads in a ReadLog (the API opens one per GraphQL operation, see
api/privacy/audit.py) and writes them with ONE insert once the operation has run, so a page of 100
patients costs one statement, and reads made on the request's read session (maybe a replica, never
committed) still reach the primary before the answer leaves. Outside a request (a job, the CLI, a
domain test) `record_reads` writes into the caller's session, committed by its unit of work; `note_reads`
has no session to write to and refuses, so a read that could go unrecorded fails loudly instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.identity import ROLE_LABELS_ZH, Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from privacy.errors import ReadRangeInvalid
from privacy.models import KIND_LABELS_ZH, PhiKind, PhiRead

THROUGH_MAX = 120  # phi_reads.through
REQUEST_ID_MAX = 64  # phi_reads.request_id
DEFAULT_THROUGH = "service"  # a domain call outside any request that did not say its channel

_current: ContextVar[ReadLog | None] = ContextVar("phi_read_log", default=None)


class UnauditedRead(RuntimeError):
    """A staff read of health data outside any ReadLog and without a session to record it in: a bug."""


def audited(actor: Actor) -> bool:
    """Whose reads are recorded: signed-in staff (admins included), not patients, not the system."""
    return actor.is_staff and actor.id is not None


@dataclass(frozen=True)
class Read:
    staff_id: uuid.UUID
    staff_roles: tuple[str, ...]
    patient_id: uuid.UUID
    kind: PhiKind
    read_at: datetime


class ReadLog:
    """The staff reads of one request or job, each (staff, patient, kind) once, until flushed.

    `through` may be set late: the API knows the operation's root fields only after parsing."""

    def __init__(self, *, through: str, request_id: str | None = None) -> None:
        self.through = through
        self.request_id = request_id
        self._reads: dict[tuple[uuid.UUID, uuid.UUID, PhiKind], Read] = {}

    def __len__(self) -> int:
        return len(self._reads)

    def add(self, actor: Actor, kind: PhiKind, patient_ids: Iterable[uuid.UUID]) -> None:
        assert actor.id is not None
        roles = tuple(sorted(r.value for r in actor.roles))
        now = clock.now()
        for patient_id in patient_ids:
            key = (actor.id, patient_id, kind)
            if key not in self._reads:
                self._reads[key] = Read(actor.id, roles, patient_id, kind, now)

    def drain(self) -> list[Read]:
        reads, self._reads = list(self._reads.values()), {}
        return reads


@contextmanager
def collecting(*, through: str, request_id: str | None = None) -> Iterator[ReadLog]:
    """Collect the reads made inside the block (and in the tasks it starts) into one ReadLog; the
    caller flushes it."""
    log = ReadLog(through=through, request_id=request_id)
    token = _current.set(log)
    try:
        yield log
    finally:
        try:
            _current.reset(token)
        except ValueError:
            # A subscription's generator is closed from another task (the client went away): the
            # context it was set in is gone with that task, and this one never saw the log.
            _current.set(None)


def _patient_ids(patient_ids: Iterable[uuid.UUID | None]) -> list[uuid.UUID]:
    return list(dict.fromkeys(p for p in patient_ids if p is not None))


def note_reads(actor: Actor, kind: PhiKind, patient_ids: Iterable[uuid.UUID | None]) -> None:
    """Record staff reads in the current request's ReadLog (for reads decided without a session at hand)."""
    if not audited(actor):
        return
    ids = _patient_ids(patient_ids)
    if not ids:
        return
    log = _current.get()
    if log is None:
        raise UnauditedRead(f"{kind} read by staff outside an audited request")
    log.add(actor, kind, ids)


def noted(actor: Actor, kind: PhiKind, patient_id: uuid.UUID, allowed: bool) -> bool:
    """`allowed`, with the read recorded when it is: for visibility predicates (`visible=` of a node)."""
    if allowed:
        note_reads(actor, kind, [patient_id])
    return allowed


async def record_reads(
    session: AsyncSession,
    actor: Actor,
    kind: PhiKind,
    patient_ids: Iterable[uuid.UUID | None],
    *,
    through: str | None = None,
) -> None:
    """Record that `actor` read `kind` of these patients: into the current ReadLog when one is open (one
    insert per request), else straight into `session` (one insert per call, committed with its work)."""
    if not audited(actor):
        return
    ids = _patient_ids(patient_ids)
    if not ids:
        return
    log = _current.get()
    if log is not None:
        log.add(actor, kind, ids)
        return
    single = ReadLog(through=through or DEFAULT_THROUGH)
    single.add(actor, kind, ids)
    await flush(session, single)


# One statement for any number of reads, and the same text every time (one prepared statement): the
# columns as arrays, unnested into rows. Roles travel comma-joined, as unnest flattens nested arrays.
_INSERT = text(
    """
    INSERT INTO phi_reads (id, staff_id, staff_roles, patient_id, kind, read_at, through, request_id)
    SELECT r.id, r.staff_id, string_to_array(r.roles, ','), r.patient_id, r.kind, r.read_at, :through, :request_id
    FROM unnest(CAST(:ids AS uuid[]), CAST(:staff AS uuid[]), CAST(:roles AS text[]), CAST(:patients AS uuid[]),
                CAST(:kinds AS text[]), CAST(:at AS timestamptz[]))
        AS r(id, staff_id, roles, patient_id, kind, read_at)
    """
)


async def flush(session: AsyncSession, log: ReadLog) -> int:
    """Write what `log` collected with one INSERT (none when it is empty); how many rows."""
    reads = log.drain()
    if not reads:
        return 0
    request_id = log.request_id[:REQUEST_ID_MAX] if log.request_id else None
    await session.execute(
        _INSERT,
        {
            "ids": [new_id() for _ in reads],
            "staff": [r.staff_id for r in reads],
            "roles": [",".join(r.staff_roles) for r in reads],
            "patients": [r.patient_id for r in reads],
            "kinds": [r.kind.value for r in reads],
            "at": [r.read_at for r in reads],
            "through": (log.through or DEFAULT_THROUGH)[:THROUGH_MAX],
            "request_id": request_id,
        },
    )
    return len(reads)


# --- reading the record -----------------------------------------------------------------------


_ROLE_LABELS = {role.value: label for role, label in ROLE_LABELS_ZH.items()}
_KIND_LABELS = {kind.value: label for kind, label in KIND_LABELS_ZH.items()}


def kind_label(kind: str) -> str:
    return _KIND_LABELS.get(kind, kind)


def role_labels(roles: Iterable[str]) -> list[str]:
    """The roles a reader held, in Chinese (a role retired since shows as stored)."""
    return [_ROLE_LABELS.get(r, r) for r in roles]


async def page_log(
    session: AsyncSession,
    actor: Actor,
    *,
    patient_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
    kind: PhiKind | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    first: int | None,
    after: str | None,
) -> Page[PhiRead]:
    """The whole record for admins, newest first, narrowed by patient, staff member, kind and
    [since, until)."""
    actor.require_role(Role.ADMIN)
    if since is not None and until is not None and since > until:
        raise ReadRangeInvalid()
    stmt = select(PhiRead)
    if patient_id is not None:
        stmt = stmt.where(PhiRead.patient_id == patient_id)
    if staff_id is not None:
        stmt = stmt.where(PhiRead.staff_id == staff_id)
    if kind is not None:
        stmt = stmt.where(PhiRead.kind == kind.value)
    if since is not None:
        stmt = stmt.where(PhiRead.read_at >= since)
    if until is not None:
        stmt = stmt.where(PhiRead.read_at < until)
    return await keyset_page(
        session, stmt, sort=PhiRead.read_at, id_=PhiRead.id, first=first, after=after, descending=True
    )


async def my_reads(session: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[PhiRead]:
    """谁查看了我的健康信息: the staff reads of the signed-in patient's data, newest first."""
    patient_id = actor.require_patient()
    return await keyset_page(
        session,
        select(PhiRead).where(PhiRead.patient_id == patient_id),
        sort=PhiRead.read_at,
        id_=PhiRead.id,
        first=first,
        after=after,
        descending=True,
    )
