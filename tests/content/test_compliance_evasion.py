"""The compliance check normalises before it matches: evasions of the word list are caught, innocent
health education passes, positions point into the text the author wrote, testimonials are warnings,
and the check stays fast and bounded on long and hostile input."""

from __future__ import annotations

import time
import uuid

import pytest

from content import compliance, errors, service
from content.models import ComplianceTerm
from content.normalise import dense
from core.db import unit_of_work
from tests.content.support import MARKETER, REVIEWER, article, create
from tests.factories import as_patient, new_member


def _default_terms() -> list[ComplianceTerm]:
    return [
        ComplianceTerm(id=uuid.uuid4(), pattern=p, match=m, category=c, severity=s, note=n, allowed_contexts=ctx)
        for p, m, c, s, n, ctx in compliance.DEFAULT_TERMS
    ]


TERMS = _default_terms()


def _scan(body: str, kind: str = "article", **kwargs: bool) -> list[compliance.Finding]:
    return compliance.scan_text({"body": body}, kind, TERMS, **kwargs)


# Each must give at least one `block` finding.
EVASIONS = [
    # separators, zero-width and invisible characters between the characters of a listed word
    "本疗法可以根 治糖尿病",
    "本疗法可以根-治糖尿病",
    "本疗法可以根·治糖尿病",
    "本疗法可以根\u200b治糖尿病",
    "本疗法可以根\u200d治糖尿病",
    "本疗法可以根\ufeff治糖尿病",
    "本疗法可以根\u00ad治糖尿病",
    "本疗法可以根 - 治糖尿病",
    "本疗法可以根＊治糖尿病",
    "本疗法可以根_治糖尿病",
    "本疗法可以根/治糖尿病",
    "本疗法可以根.治糖尿病",
    "本疗法可以根，治糖尿病",
    "本疗法可以根\t治糖尿病",
    "本疗法可以根\u3000治糖尿病",
    "本疗法可以根😀治糖尿病",
    "本疗法可以根\n治糖尿病",
    "药·到·病·除",
    "祖-传-秘-方",
    "神 药",
    "特-效-药",
    "包 治 百 病",
    "立 竿 见 影",
    "永 不 复 发",
    "无 副 作 用",
    "治 愈 率 高达95%",
    # traditional characters, full width, case
    "本療法可以根治",
    "保證治愈",
    "徹底治癒",
    "無效退款",
    "藥到病除",
    "３天见效",
    "有效率９８％",
    # a hundred percent in all its spellings
    "100% 有效",
    "百分百有效",
    "百分之百有效",
    "１００％有效",
    "１００ ％ 有 效",
    "十成有效",
    "百分之一百有效",
    "100.0%有效",
    "百分百治愈",
    "十成把握治愈",
    # synonyms and variants of banned claims
    "保证治好",
    "保 证 治 愈",
    "确保治愈",
    "担保有效",
    "承诺见效",
    "包治好",
    "包见效",
    "彻底治好",
    "彻 底 治 好",
    "完全治愈",
    "永久根除",
    "彻底根除",
    "一次断根",
    "断根不复发",
    "可以除根",
    "去病根",
    "无效全额退款",
    "不见效退钱",
    "治不好不要钱",
    "保证见效，无效退款",
    "一针见效",
    "马上见效",
    "当天见效",
    "三天见效",
    "七天治愈",
    "两周根除",
    "一个疗程治好",
    "零副作用",
    "毫无副作用",
    "再也不会复发",
    "停药后不反弹",
    "MAGIC神药，ＶＩＰ专享",
]

# Health education the rules must leave alone (no finding at all).
INNOCENT = [
    "根据治疗指南，糖尿病需要长期管理。",
    "血糖达标的百分比逐年提高。",
    "根治术后护理要点",
    "糖尿病目前无法根治，但可以控制。",
    "有效控制血糖的五个方法",
    "乳腺癌改良根治术后康复训练",
    "高血压目前不能根治，需要长期服药。",
    "糖尿病无法彻底治愈，但规范治疗可以让血糖达标。",
    "目前没有特效药，预防最重要。",
    "用药要有保证，有效的随访同样重要。",
    "幽门螺杆菌根除治疗需要规范用药两周。",
    "不断根据血糖调整胰岛素剂量。",
    "斩草除根的做法并不适用于慢病管理。",
    "降压药一般不会马上见效，需要耐心。",
    "术后一般需要三个月恢复期。",
    "这种方法效率很高。",
    "每天步行30分钟，有助于控制血糖。",
    "药物可能有副作用，请留意身体变化。",
    "治疗的目标是控制症状、减少并发症。",
    "百分之八十的患者可以通过生活方式干预改善血糖。",
    "十成熟的牛排不易消化。",
    "五十成员参加了病友会活动。",
    "彻底清洁伤口，防止感染。",
    "完全康复需要三到六个月。",
    "保证充足睡眠，有效缓解压力。",
    "确保有效的血药浓度。",
    "患者需要定期复查，确保治疗安全。",
    "我们建议您每三个月复查一次糖化血红蛋白。",
    "疾病的根源在于生活方式。",
    "胰岛素治疗后，部分患者血糖可以恢复正常范围。",
    "手术后要注意伤口护理。",
    "某些药物可能引起低血糖。",
    "首次就诊请携带既往病历。",
    "百分比和百分点是两个不同的概念。",
    "永久性损伤需要尽早干预。",
    "一次就诊不能解决所有问题。",
    # allowed contexts and negations hold in the normal form too
    "糖尿病目前无法 根 治。",
    "糖尿病無法根治，但可以控制。",
    "高血压不能完全治愈，但可以控制得很好。",
    "目前的医学手段还不能彻底治好糖尿病。",
    "我们无法保证每位患者都能见效。",
    "血糖控制好了，并发症风险就会降低。",
    "我们的病友会每月举办一次。",
    "规律监测血糖，合理饮食，每天步行30分钟。",
]

# Outcome claims of a person: a `testimonial` warning (and nothing else).
TESTIMONIALS = [
    "我吃了X三个月血糖就正常了",
    "用了之后再也没复发",
    "患者王某治疗后痊愈",
    "我妈喝了这个茶，血压很快就降下来了",
    "李阿姨坚持服用半年，现在不用吃药了",
    "张先生手术后再也没有疼过",
    "我坚持喝了两个月，病就好了",
    "服药后症状都消失了",
    "我們家老人吃了以後血糖就正常了",
    "病友小刘说，打了三针之后再也没发作",
    "王 某 治 疗 后 痊 愈",
]


def test_corpus_sizes():
    assert len(EVASIONS) >= 60 and len(INNOCENT) >= 30
    assert len(set(EVASIONS)) == len(EVASIONS) and len(set(INNOCENT)) == len(INNOCENT)


@pytest.mark.parametrize("text", EVASIONS)
def test_evasion_is_blocked(text: str):
    findings = _scan(text)
    assert any(f.severity == "block" for f in findings), findings
    for f in findings:  # every finding points into what the author wrote
        assert f.start is not None and f.end is not None
        assert text[f.start : f.end] == f.excerpt and f.excerpt.strip() == f.excerpt


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_text_passes(text: str):
    assert _scan(text) == []


@pytest.mark.parametrize("text", TESTIMONIALS)
def test_testimonial_is_a_warning(text: str):
    findings = [f for f in _scan(text) if f.rule == "testimonial"]
    assert len(findings) == 1
    (f,) = findings
    assert (f.severity, f.category) == ("warn", "testimonial")
    assert text[f.start : f.end] == f.excerpt
    assert "患者疗效见证" in f.message
    # not health education: no testimonial rule (an announcement quoting a patient is not advertising)
    assert [f for f in _scan(text, kind="announcement") if f.rule == "testimonial"] == []


def test_innocent_texts_together_pass_too():
    # joined into one article: no claim is made up across sentences
    assert _scan("\n".join(INNOCENT)) == []
    assert _scan("".join(INNOCENT)) == []


def _one(text: str) -> compliance.Finding:
    (finding,) = _scan(text)
    return finding


def test_positions_cover_the_evasive_span_in_the_original_text():
    f = _one("本疗法可以根 - 治糖尿病")
    assert (f.start, f.end, f.excerpt, f.line, f.column) == (5, 10, "根 - 治", 1, 6)
    assert "正文第1行第6列「根 - 治」" in f.message
    f = _one("疗效：百分之百 有效！")
    assert (f.start, f.end, f.excerpt) == (3, 10, "百分之百 有效")
    f = _one("\u200b\u200b根治")
    assert (f.start, f.end, f.excerpt) == (2, 4, "根治")
    f = _one("第一行\n可以彻 底 治 好")
    assert (f.line, f.column, f.excerpt, f.rule, f.category) == (2, 3, "彻 底 治 好", "claim", "forbidden_claim")
    f = _one("ＡＢ保證治癒")
    assert (f.start, f.end, f.excerpt) == (2, 6, "保證治癒")
    f = _one("疗效１００％有效")
    assert (f.start, f.end, f.excerpt) == (2, 8, "１００％有效")
    # the two spellings on the list (100%有效, 百分之百有效) are one finding, not two
    assert len(_scan("百分之百有效")) == 1
    # each occurrence is reported where it is; allowed ones in between are not
    body = "可以根 治。\n无法根治。\n还能根\u200b治"
    got = [(f.line, f.column, f.excerpt) for f in _scan(body)]
    assert got == [(1, 3, "根 治"), (3, 3, "根\u200b治")]


def test_clause_punctuation_between_two_words_is_not_an_evasion():
    # 保证，治愈 joins two clauses (two characters each side); 根，治 splits one word
    assert _scan("我们会尽力保证，治愈需要时间和耐心。") == []
    assert [f.excerpt for f in _scan("可以根，治")] == ["根，治"]
    # an allowed context split by a sentence end does not excuse the claim: 根治。术后 is not 根治术
    assert [f.excerpt for f in _scan("这种病可以根治。术后无需复查")] == ["根治"]


def test_negations_excuse_only_the_claim_they_negate():
    assert _scan("无法彻底治好，但能控制。") == []
    text = "无法彻底治好？不，我们彻底治好了上千例！"
    (block,) = [f for f in _scan(text) if f.severity == "block"]
    assert (block.excerpt, block.start) == ("彻底治好", len("无法彻底治好？不，我们"))


def test_consented_story_still_flags_outcome_claims_as_warnings():
    (plain,) = _scan("我吃了三个月血糖就正常了", kind="story")
    (consented,) = _scan("我吃了三个月血糖就正常了", kind="story", consented_story=True)
    assert plain.severity == consented.severity == "warn"
    assert plain.rule == consented.rule == "testimonial"
    assert plain.id == consented.id and plain.message != consented.message
    assert "个人经历" in consented.message


def test_dense_form_keeps_a_map_to_the_original():
    d = dense("根 - 治，１００％有效")
    assert d.text == "根治百分百有效"
    assert d.span(0, 2) == (0, 5)
    assert d.span(2, 7) == (6, 12)
    assert d.breaks == [2]


# --- speed and hostile input ----------------------------------------------------------------


def _article(size: int) -> str:
    paragraph = (
        "糖尿病是一种常见的慢性病，根据治疗指南，规律监测血糖、合理饮食、每天步行30分钟都很重要。"
        "目前糖尿病无法根治，但可以控制；有效控制血糖的五个方法包括饮食、运动、监测、用药和教育。"
        "乳腺癌改良根治术后护理要点：保持伤口清洁。某些藥物可能引起低血糖，請遵醫囑。\n"
    )
    text = (paragraph * (size // len(paragraph) + 1))[:size]
    return text


def test_a_50000_character_article_is_checked_quickly():
    body = _article(50_000)
    claims = "本品保 证 治 愈，百分之百有效！我吃了三个月血糖就正常了。"
    body = body[:25_000] + claims + body[25_000 + len(claims) :]
    assert len(body) == 50_000
    started = time.perf_counter()
    findings = compliance.scan_text({"title": "标题", "summary": "", "body": body}, "article", TERMS)
    elapsed = time.perf_counter() - started
    print(f"\n50,000-character article checked in {elapsed * 1000:.0f} ms")
    assert {f.excerpt for f in findings} == {"保 证 治 愈", "百分之百有效", "我吃了三个月血糖就正常了"}
    assert all(body[f.start : f.end] == f.excerpt for f in findings)
    assert elapsed < 2  # measured ~0.1 s on a shared 2-core machine; generous bound, not a benchmark


@pytest.mark.parametrize(
    "hostile",
    [
        "1" * 50_000,  # the seeded period term was quadratic here (50 s)
        "一" * 50_000,
        "我" * 50_000,
        "吃了" * 25_000,
        "根 " * 25_000,
        "%" * 50_000,
        "百分之" * 16_000,
        "保证" * 25_000,
        "不" * 50_000,
        "\u200b" * 50_000,
        "，" * 50_000,
        "１" * 49_999 + "天见效",
        "我" + "x" * 49_990 + "就正常了",
    ],
)
def test_hostile_input_stays_bounded(hostile: str):
    started = time.perf_counter()
    compliance.scan_text({"body": hostile}, "article", TERMS)
    assert time.perf_counter() - started < 2


def test_too_many_evasions_stop_at_the_findings_cap():
    findings = _scan("根 治，" * 12_000)
    assert len(findings) == compliance.MAX_FINDINGS_PER_FIELD + 1
    assert findings[-1].rule == "too_many" or any(f.rule == "too_many" for f in findings)


# --- through the real service ---------------------------------------------------------------


async def test_submitting_an_evasive_claim_gets_the_block_finding():
    body = "本疗法可以根-治糖尿病，１００％ 有 效。"
    item_id = await create(article(body=body))
    async with unit_of_work() as session:
        findings = await service.submit(session, MARKETER, item_id)
    got = [(f.severity, f.field, f.excerpt) for f in findings]
    assert got == [("block", "body", "根-治"), ("block", "body", "１００％ 有 效")]
    assert all(body[f.start : f.end] == f.excerpt for f in findings)
    async with unit_of_work() as session:
        with pytest.raises(errors.ComplianceBlocked):
            await service.approve(session, REVIEWER, item_id)


async def test_testimonial_in_a_consented_story_needs_acknowledgement():
    patient = await new_member()
    story = article(
        kind="story",
        title="我的控糖故事",
        body="确诊后我坚持运动。我吃了医生开的药三个月，血糖就正常了。",
        story_patient_id=patient,
    )
    item_id = await create(story)
    async with unit_of_work() as session:
        findings = await service.submit(session, MARKETER, item_id)
    assert sorted((f.rule, f.severity) for f in findings) == [("story_consent", "block"), ("testimonial", "warn")]
    async with unit_of_work() as session:
        await service.grant_story_consent(session, as_patient(patient), item_id)
    async with unit_of_work() as session:
        with pytest.raises(errors.WarningsNotAcknowledged):
            await service.approve(session, REVIEWER, item_id)
    testimonial = next(f for f in findings if f.rule == "testimonial")
    assert testimonial.excerpt == "我吃了医生开的药三个月，血糖就正常了"
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, item_id, acknowledged=[testimonial.id])
