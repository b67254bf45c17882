"""Real SMS: Alibaba Cloud and Tencent Cloud providers against local servers that verify their
signatures, receipts that make DELIVERED mean delivered, TD replies that opt out, sign-in codes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from campaigns import engagement as campaign_engagement  # noqa: F401  (handles message.status, as in the worker)
from campaigns import stats
from core import clock, outbox
from core.channels import ChannelName
from core.db import unit_of_work
from core.outbox import OutboxMessage
from core.settings import get_settings, reset_settings
from messaging import sms
from messaging.config import reset_messaging_settings
from messaging.delivery import Outgoing, deliver
from messaging.models import MessageDelivery, SmsReply, SmsReport
from patients.models import Consent, ConsentEvent
from tests.campaigns.support import approved_campaign, deliveries, make_patient, run
from tests.factories import new_member, next_phone
from tests.provider_servers import AliyunSms, TencentSms
from tests.support import REQUEST_CODE, data, gql

ALIYUN_KEY, ALIYUN_SECRET = "LTAI5tTestKeyId", "aliyun-test-secret-0123456789"
TENCENT_ID, TENCENT_KEY = "AKIDtestSecretId0123456789", "tencent-test-secret-key-0123456789"
TOKEN = "callback-token-0123456789abcdef"


def _configure(monkeypatch: pytest.MonkeyPatch, provider: str, url: str, **extra: str) -> None:
    env = {
        "PORTAL_SMS_PROVIDER": provider,
        "PORTAL_SMS_SIGN_NAME": "康宁医疗",
        "PORTAL_SMS_SIGN_NAME_MARKETING": "康宁会员",
        "PORTAL_SMS_TEMPLATE_SIGN_IN_CODE": "SMS_100001" if provider == "aliyun" else "1100001",
        "PORTAL_SMS_TEMPLATE_NOTICE": "SMS_100002" if provider == "aliyun" else "1100002",
        "PORTAL_SMS_TEMPLATE_MARKETING": "SMS_100003" if provider == "aliyun" else "1100003",
        "PORTAL_SMS_PARAMS_SIGN_IN_CODE": "code,minutes" if provider == "tencent" else "code",
        "PORTAL_SMS_CALLBACK_TOKEN": TOKEN,
        "PORTAL_ALIYUN_ACCESS_KEY_ID": ALIYUN_KEY,
        "PORTAL_ALIYUN_ACCESS_KEY_SECRET": ALIYUN_SECRET,
        "PORTAL_ALIYUN_SMS_ENDPOINT": url,
        "PORTAL_TENCENT_SECRET_ID": TENCENT_ID,
        "PORTAL_TENCENT_SECRET_KEY": TENCENT_KEY,
        "PORTAL_TENCENT_SMS_ENDPOINT": url,
        "PORTAL_TENCENT_SMS_SDK_APP_ID": "1400006666",
        **extra,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    reset_messaging_settings()


@pytest.fixture
def aliyun(monkeypatch: pytest.MonkeyPatch) -> Iterator[AliyunSms]:
    with AliyunSms({ALIYUN_KEY: ALIYUN_SECRET}).running() as server:
        _configure(monkeypatch, "aliyun", server.url)
        yield server
    monkeypatch.undo()
    reset_settings()
    reset_messaging_settings()


@pytest.fixture
def tencent(monkeypatch: pytest.MonkeyPatch) -> Iterator[TencentSms]:
    with TencentSms({TENCENT_ID: TENCENT_KEY}).running() as server:
        _configure(monkeypatch, "tencent", server.url)
        yield server
    monkeypatch.undo()
    reset_settings()
    reset_messaging_settings()


async def send(patient_id: uuid.UUID, body: str, *, ref: str | None = None, kind: str = "notice") -> str:
    async with unit_of_work() as session:
        result = await deliver(
            session,
            Outgoing(
                channel=ChannelName.SMS,
                patient_id=patient_id,
                subject=None,
                body=body,
                link=None,
                source_ref=ref or f"test:{uuid.uuid4()}",
                kind=kind,
            ),
        )
    return result.status


async def dispatch_due(topic: str | None = None) -> list[str]:
    """What the worker would do now: dispatch every due pending outbox message (of `topic`)."""
    async with unit_of_work() as session:
        stmt = select(OutboxMessage.id).where(OutboxMessage.status == "pending").order_by(OutboxMessage.created_at)
        if topic:
            stmt = stmt.where(OutboxMessage.topic == topic)
        ids = list(await session.scalars(stmt))
    return [await outbox.dispatch(i) for i in ids]


async def delivery(ref: str) -> MessageDelivery:
    async with unit_of_work() as session:
        row = await session.scalar(select(MessageDelivery).where(MessageDelivery.source_ref == ref))
    assert row is not None
    return row


async def post(client: Any, path: str, body: Any, *, token: str | None = TOKEN) -> Any:
    url = path + (f"?token={token}" if token else "")
    return await client.post(url, content=json.dumps(body, ensure_ascii=False).encode())


# --- signing: the providers' published examples ---------------------------------------------------


def test_aliyun_signature_matches_the_published_example():
    # Alibaba Cloud SMS documentation, "HTTP 协议及签名": AccessKeyId testId, secret testSecret.
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sms.aliyun_signature("testSecret", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert sms.percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"


def test_tc3_signature_matches_the_published_example():
    # Tencent Cloud API 3.0 signature v3 documentation: CVM DescribeInstances, 2019-02-25 20:44:25.
    payload = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    common = {"service": "cvm", "host": "cvm.tencentcloudapi.com", "timestamp": 1551113065, "payload": payload}
    masked = sms.tc3_authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", secret_key="Gu5t9xGARNpq86cd98joQYCN3*******", **common
    )
    assert masked == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )
    older = sms.tc3_authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", **common
    )
    assert older.endswith("Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")


# --- Alibaba Cloud --------------------------------------------------------------------------------


async def test_aliyun_send_is_sent_until_the_receipt_says_delivered(aliyun, client):
    patient = await new_member()
    status = await send(patient, "您预约的复诊在明天上午九点，请准时到院。", ref="visit-reminder:1")
    assert status == "queued" and aliyun.sent == []  # nothing leaves before the commit
    assert await dispatch_due("messaging.send") == ["sent"]
    [sent] = aliyun.sent
    assert sent["TemplateCode"] == "SMS_100002" and sent["SignName"] == "康宁医疗"
    assert json.loads(sent["TemplateParam"]) == {"content": "您预约的复诊在明天上午九点，请准时到院。"}
    row = await delivery("visit-reminder:1")
    assert sent["OutId"] == str(row.id) and sent["PhoneNumbers"] == row.recipient
    assert (row.status, row.provider_ref) == ("sent", f"aliyun:{sent['BizId']}")
    assert await dispatch_due("messaging.send") == []  # dispatched once; a repeat sends nothing

    answer = await post(client, "/hooks/sms/aliyun/report", aliyun.report(sent))
    assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "成功"}
    row = await delivery("visit-reminder:1")
    assert row.status == "delivered" and row.reported_at is not None
    again = await post(client, "/hooks/sms/aliyun/report", aliyun.report(sent, success=False, err_code="X"))
    assert again.status_code == 200 and (await delivery("visit-reminder:1")).status == "delivered"

    other = await new_member()
    await send(other, "您的积分即将到期，请及时兑换。", ref="expiry:1")
    await dispatch_due("messaging.send")
    failed = await post(
        client, "/hooks/sms/aliyun/report", aliyun.report(aliyun.sent[1], success=False, err_code="MK:0001")
    )
    assert failed.status_code == 200
    row = await delivery("expiry:1")
    assert (row.status, row.error) == ("failed", "receipt:MK:0001")


async def test_aliyun_refuses_a_wrong_signature_with_its_error_and_nothing_is_sent(aliyun, monkeypatch):
    monkeypatch.setenv("PORTAL_ALIYUN_ACCESS_KEY_SECRET", "not-the-secret")
    reset_messaging_settings()
    patient = await new_member()
    await send(patient, "复诊提醒", ref="bad-signature")
    await dispatch_due()
    assert aliyun.refused == ["SignatureDoesNotMatch"] and aliyun.sent == []
    row = await delivery("bad-signature")
    assert (row.status, row.error) == ("failed", "give_up:SignatureDoesNotMatch")


async def test_aliyun_error_codes_retry_give_up_or_mark_the_number_invalid(aliyun):
    invalid, limited, broke = await new_member(), await new_member(), await new_member()
    async with unit_of_work() as session:
        from patients.queries import patients_by_ids

        phones = {p.id: p.phone for p in (await patients_by_ids(session, [invalid, limited, broke])).values()}
    aliyun.plays[phones[invalid]] = ["isv.MOBILE_NUMBER_ILLEGAL"]
    aliyun.plays[phones[limited]] = ["isv.BUSINESS_LIMIT_CONTROL"]
    aliyun.plays[phones[broke]] = ["isv.AMOUNT_NOT_ENOUGH"]
    for patient, ref in ((invalid, "r-invalid"), (limited, "r-limited"), (broke, "r-broke")):
        await send(patient, "会员日活动提醒", ref=ref)
    results = await dispatch_due()
    assert sorted(results) == ["failed", "sent", "sent"]  # the limited one is retried by the outbox
    assert (await delivery("r-invalid")).error == "invalid_number:isv.MOBILE_NUMBER_ILLEGAL"
    assert (await delivery("r-broke")).error == "give_up:isv.AMOUNT_NOT_ENOUGH"
    assert (await delivery("r-limited")).status == "queued"
    clock.clock.advance(timedelta(minutes=1))  # past the outbox backoff: the limit has lifted
    assert await dispatch_due("messaging.send") == ["sent"]
    assert (await delivery("r-limited")).status == "sent"
    assert [s["PhoneNumbers"] for s in aliyun.sent] == [phones[limited]]


async def test_a_receipt_that_overtakes_the_workers_commit_is_applied_when_it_commits(aliyun, client):
    patient = await new_member()
    await send(patient, "复诊提醒", ref="early")
    aliyun.next_biz_ids.append("900001^0")
    early = [{"phone_number": "x", "success": True, "err_code": "DELIVERED", "biz_id": "900001^0", "out_id": ""}]
    assert (await post(client, "/hooks/sms/aliyun/report", early)).status_code == 200
    assert await dispatch_due() == ["sent"]
    row = await delivery("early")
    assert (row.status, row.provider_ref) == ("delivered", "aliyun:900001^0")
    async with unit_of_work() as session:
        report = await session.scalar(select(SmsReport))
    assert report is not None and report.applied_at is not None


async def test_callbacks_without_the_token_are_refused(aliyun, client):
    for path in (
        "/hooks/sms/aliyun/report",
        "/hooks/sms/aliyun/reply",
        "/hooks/sms/tencent/report",
        "/hooks/sms/tencent/reply",
    ):
        for token in (None, "wrong-token"):
            answer = await post(client, path, [{"phone_number": "13800000000", "content": "TD"}], token=token)
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "CALLBACK_UNVERIFIED"
    header = await client.post("/hooks/sms/aliyun/report", content=b"[]", headers={"x-callback-token": TOKEN})
    assert header.status_code == 200
    assert (await post(client, "/hooks/sms/aliyun/report", "不是对象")).status_code == 400
    assert (await client.post(f"/hooks/sms/aliyun/report?token={TOKEN}", content=b"{oops")).status_code == 400


async def test_campaign_stats_count_an_sms_only_once_its_receipt_says_delivered(aliyun, client):
    clock.clock.freeze(clock.now().replace(hour=4, minute=0))  # noon in Shanghai: no quiet hours
    reached = await make_patient(consents=[("sms", "marketing")])
    lost = await make_patient(consents=[("sms", "marketing")])
    cid = await approved_campaign(channels=["sms"], body="{nickname}您好，会员日积分翻倍。")
    await run(cid)
    rows = await deliveries(cid)
    assert {rows[p].status for p in (reached, lost)} == {"sent"}
    await dispatch_due("messaging.send")
    assert {s["TemplateCode"] for s in aliyun.sent} == {"SMS_100003"}  # the marketing template
    assert {s["SignName"] for s in aliyun.sent} == {"康宁会员"}
    async with unit_of_work() as session:
        summary = (await stats.stats_for(session, [cid]))[cid]
    assert (summary.sent, summary.delivered) == (2, 0)

    async with unit_of_work() as session:
        phone_of = {r.patient_id: r.recipient for r in await session.scalars(select(MessageDelivery))}
    by_phone = {s["PhoneNumbers"]: s for s in aliyun.sent}
    await post(client, "/hooks/sms/aliyun/report", aliyun.report(by_phone[phone_of[reached]]))
    await post(
        client, "/hooks/sms/aliyun/report", aliyun.report(by_phone[phone_of[lost]], success=False, err_code="MK:0001")
    )
    await dispatch_due("message.status")
    rows = await deliveries(cid)
    assert (rows[reached].status, rows[lost].status) == ("delivered", "failed")
    async with unit_of_work() as session:
        summary = (await stats.stats_for(session, [cid]))[cid]
    assert (summary.sent, summary.delivered) == (2, 1)


async def test_sign_in_code_is_texted_with_its_template_and_never_logged(aliyun, client, capsys):
    phone = next_phone()
    assert data(await gql(client, REQUEST_CODE, {"phone": phone}))["authRequestCode"]["errors"] == []
    assert await dispatch_due("notify.send") == ["sent"]
    [sent] = aliyun.sent
    assert (sent["PhoneNumbers"], sent["TemplateCode"], sent["SignName"]) == (phone, "SMS_100001", "康宁医疗")
    code = json.loads(sent["TemplateParam"])["code"]
    assert re.fullmatch(r"\d{6}", code)
    assert code not in capsys.readouterr().out


async def test_a_refused_sign_in_code_is_retried_by_the_outbox(aliyun, client):
    phone = next_phone()
    aliyun.plays[phone] = ["isp.SYSTEM_ERROR"]
    data(await gql(client, REQUEST_CODE, {"phone": phone}))
    assert await dispatch_due("notify.send") == ["failed"]
    clock.clock.advance(timedelta(minutes=1))
    assert await dispatch_due("notify.send") == ["sent"]
    assert [s["PhoneNumbers"] for s in aliyun.sent] == [phone]


# --- Tencent Cloud --------------------------------------------------------------------------------


async def test_tencent_send_receipts_and_error_codes(tencent, client):
    patient, invalid, limited = await new_member(), await new_member(), await new_member()
    async with unit_of_work() as session:
        from patients.queries import patients_by_ids

        phones = {p.id: p.phone for p in (await patients_by_ids(session, [patient, invalid, limited])).values()}
    tencent.plays[f"+86{phones[invalid]}"] = ["InvalidParameterValue.IncorrectPhoneNumber"]
    tencent.plays[f"+86{phones[limited]}"] = ["LimitExceeded.PhoneNumberDailyLimit"]
    await send(patient, "您的体检报告已出，请登录查看。", ref="t-ok")
    await send(invalid, "体检提醒", ref="t-invalid")
    await send(limited, "体检提醒", ref="t-limited")
    assert sorted(await dispatch_due()) == ["failed", "sent", "sent"]
    [sent] = tencent.sent
    assert sent["SmsSdkAppId"] == "1400006666" and sent["TemplateId"] == "1100002" and sent["SignName"] == "康宁医疗"
    assert sent["TemplateParamSet"] == ["您的体检报告已出，请登录查看。"] and sent["Region"] == "ap-guangzhou"
    row = await delivery("t-ok")
    assert (row.status, row.provider_ref, sent["SessionContext"]) == (
        "sent",
        f"tencent:{sent['SerialNo']}",
        str(row.id),
    )
    assert (await delivery("t-invalid")).error == "invalid_number:InvalidParameterValue.IncorrectPhoneNumber"
    assert (await delivery("t-limited")).status == "queued"

    answer = await post(client, "/hooks/sms/tencent/report", tencent.report(sent))
    assert answer.status_code == 200 and answer.json() == {"result": 0, "errmsg": "OK"}
    assert (await delivery("t-ok")).status == "delivered"


async def test_tencent_refuses_a_wrong_signature_in_its_error_shape(tencent, monkeypatch):
    monkeypatch.setenv("PORTAL_TENCENT_SECRET_KEY", "wrong-key")
    reset_messaging_settings()
    patient = await new_member()
    await send(patient, "复诊提醒", ref="t-bad")
    await dispatch_due()
    assert tencent.refused == ["AuthFailure.SignatureFailure"] and tencent.sent == []
    assert (await delivery("t-bad")).error == "give_up:AuthFailure.SignatureFailure"


async def test_tencent_sign_in_code_fills_the_template_in_order(tencent, client):
    phone = next_phone()
    data(await gql(client, REQUEST_CODE, {"phone": phone}))
    assert await dispatch_due("notify.send") == ["sent"]
    [sent] = tencent.sent
    assert sent["PhoneNumberSet"] == [f"+86{phone}"] and sent["TemplateId"] == "1100001"
    code, minutes = sent["TemplateParamSet"]
    assert re.fullmatch(r"\d{6}", code) and minutes == str(get_settings().otp_ttl_seconds // 60)


# --- replies: TD opts out -------------------------------------------------------------------------


async def _marketing_sms(patient_id: uuid.UUID) -> bool | None:
    async with unit_of_work() as session:
        return await session.scalar(
            select(Consent.granted).where(
                Consent.patient_id == patient_id, Consent.channel == "sms", Consent.purpose == "marketing"
            )
        )


@pytest.mark.parametrize("reply", ["TD", "td", "T", "退订", " 退订。"])
async def test_a_td_reply_withdraws_marketing_sms_consent_with_evidence(aliyun, client, reply):
    phone = next_phone()
    patient = await make_patient(phone=phone, consents=[("sms", "marketing"), ("sms", "service")])
    push = [
        {
            "phone_number": phone,
            "send_time": "2026-06-15 12:01:00",
            "content": reply,
            "sign_name": "康宁会员",
            "dest_code": "1",
            "sequence_id": 424242,
        }
    ]
    answer = await post(client, "/hooks/sms/aliyun/reply", push)
    assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "成功"}
    assert await _marketing_sms(patient) is False
    async with unit_of_work() as session:
        service_sms = await session.scalar(
            select(Consent.granted).where(
                Consent.patient_id == patient, Consent.channel == "sms", Consent.purpose == "service"
            )
        )
        event = await session.scalar(
            select(ConsentEvent).where(ConsentEvent.patient_id == patient, ConsentEvent.granted.is_(False))
        )
        evidence = (await session.scalars(select(SmsReply))).all()
    assert service_sms is True  # only marketing is withdrawn
    assert event is not None and (event.source, event.actor_id, event.channel) == ("sms_reply", patient, "sms")
    assert [(e.phone, e.content, e.opted_out, e.patient_id) for e in evidence] == [(phone, reply[:500], True, patient)]
    await post(client, "/hooks/sms/aliyun/reply", push)  # the same push again: nothing new
    async with unit_of_work() as session:
        assert len((await session.scalars(select(SmsReply))).all()) == 1


async def test_tencent_reply_opts_out_and_other_replies_do_not(aliyun, client):
    phone, chatty = next_phone(), next_phone()
    patient = await make_patient(phone=phone, consents=[("sms", "marketing")])
    other = await make_patient(phone=chatty, consents=[("sms", "marketing")])
    reply = {"extend": "", "mobile": phone, "nationcode": "86", "sign": "康宁会员", "text": "退订", "time": 1781496000}
    assert (await post(client, "/hooks/sms/tencent/reply", reply)).json() == {"result": 0, "errmsg": "OK"}
    chat = {
        "extend": "",
        "mobile": chatty,
        "nationcode": "86",
        "sign": "康宁会员",
        "text": "谢谢提醒，TD是什么？",
        "time": 1781496001,
    }
    await post(client, "/hooks/sms/tencent/reply", chat)
    assert await _marketing_sms(patient) is False
    assert await _marketing_sms(other) is True


# --- the development recorder ---------------------------------------------------------------------


async def test_the_recorder_says_recorded_and_production_refuses_it(monkeypatch):
    patient = await new_member()
    assert await send(patient, "复诊提醒", ref="dev-1") == "recorded"
    from messaging import delivery as delivery_module

    production = get_settings().model_copy(update={"env": "production"})
    monkeypatch.setattr(delivery_module, "get_settings", lambda: production)
    assert await send(patient, "复诊提醒", ref="dev-2") == "failed"
    assert (await delivery("dev-2")).error == "provider_not_configured"


async def test_the_sign_in_code_is_blanked_in_the_outbox_once_texted_in_production(aliyun, client, monkeypatch):
    phone = next_phone()
    data(await gql(client, REQUEST_CODE, {"phone": phone}))
    production = get_settings().model_copy(update={"env": "production"})
    monkeypatch.setattr(outbox, "get_settings", lambda: production)
    assert await dispatch_due("notify.send") == ["sent"]
    code = json.loads(aliyun.sent[0]["TemplateParam"])["code"]
    async with unit_of_work() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "notify.send"))
    assert row is not None and row.payload["body"] == "[已脱敏]"
    assert row.payload["params"] == {"code": "[已脱敏]", "minutes": "[已脱敏]"}
    assert code not in json.dumps(row.payload, ensure_ascii=False)
