"""Migration 0022 on a database with consent answers recorded before notices existed: every row gets
the seeded notice of its purpose and that notice's hash; sources become one of the kinds, the old
free text kept as the note; the downgrade gives the free text back."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import date
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config

from core.settings import PROJECT_ROOT
from patients.notices import DEFAULT_NOTICES
from tests.conftest import _create_database, _with_database

SHA = {version: hashlib.sha256(body.encode()).hexdigest() for version, _, _, body in DEFAULT_NOTICES}


def _config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    return config


async def _legacy_rows(dsn: str, patient: uuid.UUID, desk: uuid.UUID) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at)"
            " VALUES ($1, '13800000001', '康友', 'undisclosed', 'Asia/Shanghai', now(), now())",
            patient,
        )
        await conn.execute(
            "INSERT INTO staff (id, email, name, password_hash, active, failed_logins, created_at, updated_at)"
            " VALUES ($1, 'desk@example.cn', '前台', 'x', true, 0, now(), now())",
            desk,
        )
        events = [
            ("in_app", "service", True, "registration", patient, "2025-01-01"),
            ("sms", "marketing", True, "app", patient, "2025-01-02"),
            ("sms", "service", True, "门诊纸质授权书", desk, "2025-01-03"),
            ("email", "marketing", True, "测试登记", None, "2025-01-04"),
            ("sms", "marketing", False, "sms_reply", patient, "2025-01-05"),
        ]
        for channel, purpose, granted, source, actor, day in events:
            await conn.execute(
                "INSERT INTO consent_events (id, patient_id, channel, purpose, granted, source, actor_id, occurred_at)"
                " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7)",
                patient,
                channel,
                purpose,
                granted,
                source,
                actor,
                date.fromisoformat(day),
            )
        for channel, purpose, granted, source in [
            ("in_app", "service", True, "registration"),
            ("sms", "marketing", False, "sms_reply"),
            ("sms", "service", True, "门诊纸质授权书"),
            ("email", "marketing", True, "测试登记"),
        ]:
            await conn.execute(
                "INSERT INTO consents (patient_id, channel, purpose, granted, source, changed_at)"
                " VALUES ($1, $2, $3, $4, $5, now())",
                patient,
                channel,
                purpose,
                granted,
                source,
            )
    finally:
        await conn.close()


async def _fetch(dsn: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def test_existing_answers_get_the_seeded_notice_its_hash_and_a_source_kind(servers):
    name = f"portal_consents_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(servers["database_url"], name))
    url = _with_database(servers["database_url"], name)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    config = _config(url)
    command.upgrade(config, "0021")
    patient, desk = uuid.uuid4(), uuid.uuid4()
    asyncio.run(_legacy_rows(dsn, patient, desk))
    command.upgrade(config, "0022")

    events = asyncio.run(
        _fetch(
            dsn,
            "SELECT channel, purpose, source, source_note, notice_version, text_sha256"
            " FROM consent_events ORDER BY occurred_at",
        )
    )
    assert events == [
        ("in_app", "service", "registration", None, 1, SHA[1]),
        ("sms", "marketing", "app", None, 2, SHA[2]),
        ("sms", "service", "front_desk", "门诊纸质授权书", 1, SHA[1]),
        ("email", "marketing", "import", "测试登记", 2, SHA[2]),
        ("sms", "marketing", "sms_reply", None, 2, SHA[2]),
    ]
    rows = asyncio.run(
        _fetch(dsn, "SELECT channel, purpose, source, notice_version FROM consents ORDER BY channel, purpose")
    )
    assert rows == [
        ("email", "marketing", "import", 2),
        ("in_app", "service", "registration", 1),
        ("sms", "marketing", "sms_reply", 2),
        ("sms", "service", "front_desk", 1),
    ]
    notices = asyncio.run(_fetch(dsn, "SELECT version, purposes, body_sha256 FROM consent_notices ORDER BY version"))
    assert notices == [(v, [p.value], SHA[v]) for v, p, _, _ in DEFAULT_NOTICES]

    command.downgrade(config, "0021")
    back = asyncio.run(_fetch(dsn, "SELECT source FROM consent_events ORDER BY occurred_at"))
    assert back == [("registration",), ("app",), ("门诊纸质授权书",), ("测试登记",), ("sms_reply",)]
