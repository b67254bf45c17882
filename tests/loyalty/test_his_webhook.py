"""The HIS webhook as the README documents it: replays, conflicting bodies, unknown phones, the status
codes, readable Chinese in the answers, and the README's signing recipe."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core import security
from core.db import unit_of_work
from core.settings import get_settings
from loyalty.models import Entry, Visit
from patients.models import Patient
from tests.factories import make_site, next_phone

HOOK = "/hooks/his/visits"
VISITED_AT = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()


pytestmark = pytest.mark.usefixtures("ledger_invariants")


@pytest.fixture(autouse=True)
async def _site() -> None:
    await make_site("KN-MAIN", "康宁医院总院区")


def _body(phone: str, external_id: str, /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "phone": phone,
        "site_code": "KN-MAIN",
        "department": "内分泌科",
        "visited_at": VISITED_AT,
        "status": "completed",
        "items": [
            {"category": "consultation", "self_paid_fen": 5000, "insured_fen": 3000},
            {"category": "drug", "self_paid_fen": 12000},
        ],
    }
    return {**body, **changes}


async def _post(client, body: dict[str, Any] | bytes, *, ts: int | None = None, secret: str | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    stamp = str(ts if ts is not None else int(time.time()))
    signature = security.sign_webhook(secret or get_settings().his_webhook_secret, stamp, raw)
    headers = {"x-his-timestamp": stamp, "x-his-signature": f"sha256={signature}", "content-type": "application/json"}
    return await client.post(HOOK, content=raw, headers=headers)


async def _count(model: type) -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_identical_replay_is_200_unchanged_and_posts_nothing(client) -> None:
    body = _body(next_phone(), "HIS-2026-0001")
    first = await _post(client, body)
    assert first.status_code == 200 and first.json()["result"] == "created"
    entries = await _count(Entry)
    replay = await _post(client, body)
    assert replay.status_code == 200
    assert replay.json() == {**first.json(), "result": "unchanged"}
    # The same visit in another time zone and key order is the same visit.
    shanghai = datetime.fromisoformat(VISITED_AT).astimezone(datetime.now().astimezone().tzinfo)
    again = await _post(client, dict(reversed(list({**body, "visited_at": shanghai.isoformat()}.items()))))
    assert again.status_code == 200 and again.json()["result"] == "unchanged"
    assert await _count(Entry) == entries and await _count(Visit) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"department": "心内科"}, "department"),
        ({"items": [{"category": "consultation", "self_paid_fen": 9000}]}, "items"),
        ({"visited_at": "2026-01-02T09:00:00+08:00"}, "visitedAt"),
        ({"phone": "13912345678"}, "patient"),
    ],
)
async def test_a_changed_body_under_the_same_external_id_is_409_visit_conflict(client, change, field) -> None:
    phone = next_phone()
    first = await _post(client, _body(phone, "HIS-2026-0002"))
    assert first.status_code == 200
    patients = await _count(Patient)
    changed = await _post(client, _body(phone, "HIS-2026-0002", **change))
    assert changed.status_code == 409
    error = changed.json()["error"]
    assert error["code"] == "VISIT_CONFLICT" and "外部就诊编号" in error["message"]
    assert [d["field"] for d in error["details"]] == [field]
    async with unit_of_work() as session:
        visit = await session.scalar(select(Visit).where(Visit.external_id == "HIS-2026-0002"))
        assert visit is not None and visit.department == "内分泌科" and len(visit.items) == 2
    # Nothing of the refused request stays: not even the patient a new phone would have registered.
    assert await _count(Patient) == patients


async def test_refund_by_external_id_then_late_replays_are_harmless(client) -> None:
    phone = next_phone()
    await _post(client, _body(phone, "HIS-2026-0003"))
    # A refund names the visit by its id; its items may differ (the HIS may send only what it refunds).
    refund = await _post(client, _body(phone, "HIS-2026-0003", status="refunded", items=[]))
    assert refund.status_code == 200 and refund.json()["result"] == "refunded" and refund.json()["status"] == "refunded"
    for late in (_body(phone, "HIS-2026-0003"), _body(phone, "HIS-2026-0003", status="refunded")):
        answer = await _post(client, late)
        assert answer.status_code == 200 and answer.json() == {**refund.json(), "result": "unchanged"}


async def test_an_unknown_phone_registers_a_new_patient(client) -> None:
    phone = next_phone()
    async with unit_of_work() as session:
        assert await session.scalar(select(Patient).where(Patient.phone == phone)) is None
    answer = await _post(client, _body(phone, "HIS-2026-0004"))
    assert answer.status_code == 200 and answer.json()["result"] == "created"
    async with unit_of_work() as session:
        patient = await session.scalar(select(Patient).where(Patient.phone == phone))
        assert patient is not None
        visit = await session.scalar(select(Visit).where(Visit.external_id == "HIS-2026-0004"))
        assert visit is not None and visit.patient_id == patient.id


async def test_status_codes_as_documented(client) -> None:
    phone = next_phone()
    cases: list[tuple[Any, dict[str, Any], int, str]] = [
        (_body(phone, "S-1"), {"secret": "not-the-secret"}, 401, "SIGNATURE_INVALID"),
        (_body(phone, "S-2"), {"ts": int(time.time()) - 301}, 401, "TIMESTAMP_STALE"),
        (b'{"external_id": "S-3", ', {}, 400, "INVALID_JSON"),
        ({k: v for k, v in _body(phone, "S-4").items() if k != "department"}, {}, 400, "VALIDATION_FAILED"),
        (_body(phone, "S-5", status="cancelled"), {}, 400, "VALIDATION_FAILED"),
        (_body(phone, "S-6", site_code="NO-SUCH"), {}, 422, "SITE_NOT_FOUND"),
        (_body(phone, "S-7", items=[{"category": "massage", "self_paid_fen": 100}]), {}, 422, "INVALID_INPUT"),
        (_body("12345", "S-8"), {}, 422, "PHONE_INVALID"),
        (_body(phone, "S-9", phone=None), {}, 422, "INVALID_INPUT"),
        (_body(phone, "S-10", visited_at="2026-01-02T09:00:00"), {}, 422, "INVALID_INPUT"),
    ]
    for body, signing, status, code in cases:
        answer = await _post(client, body, **signing)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), (body, answer.text)
        # Chinese messages as UTF-8 in the bytes, never \\u escapes.
        assert b"\\u" not in answer.content
        assert any("\u4e00" <= ch <= "\u9fff" for ch in answer.json()["error"]["message"])
    item = await _post(client, _body(phone, "S-11", items=[{"category": "massage"}]))
    assert item.json()["error"]["details"][0] == {
        "field": "items.0.category",
        "message": "未知的项目类别：massage",
        "code": "ITEM_CATEGORY_INVALID",
    }
    assert await _count(Visit) == 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_the_readme_openssl_recipe_signs_like_the_server() -> None:
    body = json.dumps(_body("13800000001", "HIS-README"), ensure_ascii=False).encode()
    ts = "1764720000"
    # README: printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1
    done = subprocess.run(
        ["sh", "-c", 'printf \'%s.%s\' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d" " -f1'],
        env={"TS": ts, "BODY": body.decode(), "SECRET": "dev-his-shared-secret", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == security.sign_webhook("dev-his-shared-secret", ts, body)
