"""The medical-advertising compliance check, run on submit and again on approval.

Each finding names its rule, severity, field and character position (0-based offsets into the
field's source text, with 1-based line and column), so an editor sees exactly what to change.
- the word list (data in `content_compliance_terms`, seeded, edited by admins): forbidden claims
  (根治, 包治, 治愈率, 100%有效 ...) and regex guarantees of effect, mostly `block`; absolute terms
  (最佳, 纯天然 ...) as `warn`;
- built-in rules for health-education kinds (article, story, video): prices and purchase links
  (`block`), contact numbers (`warn`: a hospital hotline may be fine, a reviewer decides);
- a patient story needs the recorded consent of the patient it is about (`block`);
- built-in claim rules (content/claims.py): the synonyms and variants of banned claims the list's
  literal phrases miss (彻底治好, 保证见效, 百分百有效, 不见效退款, 三天见效 ...), `block`, not after a
  negation (无法彻底治愈); patient testimonials (我吃了……血糖就正常了, 患者王某治疗后痊愈), `warn`
  rule `testimonial`, in a consented patient story too (the outcome is still a claim to confirm).
`block` findings stop approval; every `warn` finding needs the reviewer's acknowledgement.

Terms, claims and testimonials are matched in the dense normal form (content/normalise.py), which
undoes the usual evasions (根 治, 根-治, 根\u200b治, 根治 in full width or traditional characters, １００％
for 百分之百) and maps every finding back to the span the author wrote; word terms and allowed
contexts are put in the same form, regex terms are matched against it as they are (simplified,
lower case, no spaces or punctuation, 百分百 for every spelling of 100%). Prices, links and contacts,
which live in punctuation, are matched in the text with only full-width forms folded.
"""

from __future__ import annotations

import bisect
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from content import claims, errors
from content.errors import ContentCode as Code
from content.models import HEALTH_EDUCATION_KINDS, ComplianceTerm, Severity, StoryConsent, TermMatch
from content.normalise import Dense, dense, normal_form
from core import clock
from core.errors import Validator
from core.identity import Actor, Role
from core.ids import new_id

CATEGORY_LABELS = {
    "forbidden_claim": "违规医疗宣传用语",
    "guarantee": "保证疗效的表述",
    "absolute": "绝对化用语",
    "price": "价格信息",
    "purchase": "购买链接或引导购买",
    "contact": "联系方式",
    "story_consent": "患者故事授权",
    "testimonial": "患者疗效见证",
}

_NEGATIONS = ("不能根治", "无法根治", "难以根治", "不可能根治", "没法根治", "不能彻底治愈", "无法彻底治愈")
# The period term as first seeded: `\d+` retried from every digit of a long run of digits took
# 50 s on 50,000 of them. Migration 0017 replaces it in existing databases.
QUADRATIC_PERIOD_TERM = r"\d+\s*(?:天|周|个月)内?(?:治愈|根除|痊愈|见效|停药)"
LINEAR_PERIOD_TERM = r"(?<!\d)\d{1,6}\s*(?:天|周|个月)内?(?:治愈|根除|痊愈|见效|停药)"
# pattern, match, category, severity, note, allowed contexts
DEFAULT_TERMS: list[tuple[str, str, str, str, str, list[str]]] = [
    ("根治", "word", "forbidden_claim", "block", "不得宣称根治", ["根治术", *_NEGATIONS]),
    ("包治", "word", "forbidden_claim", "block", "不得宣称包治", []),
    ("治愈率", "word", "forbidden_claim", "block", "不得宣传治愈率", []),
    ("有效率", "word", "forbidden_claim", "block", "不得宣传有效率", []),
    ("100%有效", "word", "forbidden_claim", "block", "不得保证有效", []),
    ("百分之百有效", "word", "forbidden_claim", "block", "不得保证有效", []),
    ("无副作用", "word", "forbidden_claim", "block", "不得宣称无副作用", []),
    ("没有任何副作用", "word", "forbidden_claim", "block", "不得宣称无副作用", []),
    ("永不复发", "word", "forbidden_claim", "block", "不得宣称永不复发", []),
    ("药到病除", "word", "forbidden_claim", "block", "不得宣称药到病除", []),
    ("祖传秘方", "word", "forbidden_claim", "block", "不得宣传秘方", []),
    ("特效药", "word", "forbidden_claim", "block", "不得宣传特效药", ["没有特效药", "无特效药"]),
    ("神药", "word", "forbidden_claim", "block", "不得宣传神药", []),
    ("彻底治愈", "word", "forbidden_claim", "block", "不得宣称彻底治愈", list(_NEGATIONS)),
    ("停药不反弹", "word", "forbidden_claim", "block", "不得宣称停药不反弹", []),
    ("立竿见影", "word", "forbidden_claim", "block", "不得宣称立竿见影", []),
    ("无效退款", "word", "guarantee", "block", "不得以退款保证疗效", []),
    (r"保证(?:治愈|治好|有效|康复|痊愈|见效)", "regex", "guarantee", "block", "不得保证疗效", []),
    (r"(?:绝对|一定|肯定)(?:能|可以|会)?(?:治愈|治好|康复|痊愈)", "regex", "guarantee", "block", "不得保证疗效", []),
    # (?<!\d) and {1,6}: a long run of digits is tried once, not from each of its digits (was quadratic)
    (LINEAR_PERIOD_TERM, "regex", "guarantee", "block", "不得承诺疗效期限", []),
    ("最佳", "word", "absolute", "warn", "绝对化用语需审核确认", []),
    ("最先进", "word", "absolute", "warn", "绝对化用语需审核确认", []),
    ("国家级", "word", "absolute", "warn", "绝对化用语需审核确认", []),
    ("纯天然", "word", "absolute", "warn", "绝对化用语需审核确认", []),
    ("首选", "word", "absolute", "warn", "绝对化用语需审核确认", []),
]

_PRICE = re.compile(
    r"[¥￥$]\s*\d+(?:\.\d+)?"
    # a run of digits is tried once, from its first digit, without backtracking into it: `\d+` retried
    # from every digit took 0.6 s on 5,000 digits and grew with the square of their number
    r"|(?<![\d.])\d++(?:\.\d++)?+\s*+(?:元|块钱)(?![素旦宵])"
    r"|(?:价格|售价|原价|特价|优惠价|仅需)[:]?\s*\d+"
)
_URL = re.compile(r"(?:https?://|www\.)[^\s)\]>]+", re.IGNORECASE)
_SHOP_HOST = re.compile(r"taobao|tmall|jd\.com|pinduoduo|yangkeduo|weidian|youzan|/shop|mall\.|/buy|/item", re.I)
_PURCHASE_WORDS = re.compile(r"购买链接|点击购买|立即购买|扫码购买|下单购买|点击下单|立即下单|加购物车")
_CONTACT = re.compile(
    r"(?<!\d)1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)"  # mobile
    r"|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"  # landline
    r"|(?<!\d)[48]00[\s-]?\d{3}[\s-]?\d{4}(?!\d)"  # 400/800 hotline
    r"|(?:微信号?|vx|wx|weixin|qq)\s*[:]\s*[A-Za-z0-9_-]{5,}",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    id: str  # stable while the text is unchanged: what a reviewer acknowledges
    rule: str
    category: str
    severity: str
    field: str | None
    start: int | None
    end: int | None
    line: int | None
    column: int | None
    excerpt: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(**data)


def normalise(text: str) -> str:
    """Full-width ASCII to half-width and lower case, one character for one, so offsets hold."""
    return "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in text).lower()


# A field this long is not scanned: longer than any field saved through the editor (body 50,000
# characters, checked on save), so only text that escaped that check meets it, and gets a block.
MAX_FIELD_LENGTH = 60_000
# A reviewer reads a few dozen findings, not thousands: past this many in one field the scan stops
# with one block finding (the text must be edited anyway). It also bounds the scan's cost.
MAX_FINDINGS_PER_FIELD = 200


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _position(line_starts: list[int], start: int) -> tuple[int, int]:
    """1-based line and column, by bisecting the line starts (the text is not rescanned per finding)."""
    line = bisect.bisect_right(line_starts, start)
    return line, start - line_starts[line - 1] + 1


@lru_cache(maxsize=4096)
def _dense_form(phrase: str) -> str:
    return normal_form(phrase)


def _inside_allowed(text: Dense, start: int, end: int, contexts: Iterable[str]) -> bool:
    """Whether [start, end) lies inside an occurrence of an allowed context (in dense form) that is
    not itself split across two clauses (`可以根治。术后` is a claim, not 根治术)."""
    for raw in contexts:
        ctx = _dense_form(raw)
        if not ctx:
            continue
        # A context around [start, end) lies within [end - len, start + len): the search stops there
        # instead of running to the end of the text for every match.
        limit = start + len(ctx)
        pos = text.text.find(ctx, max(0, end - len(ctx)), limit)
        while pos != -1 and pos <= start:
            if pos + len(ctx) >= end and not text.broken(pos, pos + len(ctx)):
                return True
            pos = text.text.find(ctx, pos + 1, limit)
    return False


_FIELD_NAMES = {"title": "标题", "summary": "摘要", "body": "正文"}


def _finding(
    rule: str,
    category: str,
    severity: str,
    field: str,
    source: str,
    line_starts: list[int],
    start: int,
    end: int,
    note: str,
) -> Finding:
    line, column = _position(line_starts, start)
    excerpt = source[start:end]
    label = CATEGORY_LABELS.get(category, category)
    where = _FIELD_NAMES.get(field, field)
    message = f"{where}第{line}行第{column}列「{excerpt}」：{label}（{note}）"
    return Finding(
        f"{rule}@{field}:{start}", rule, category, severity, field, start, end, line, column, excerpt, message
    )


def _unchecked(rule: str, field: str, message: str) -> Finding:
    """A block for a field the scan gave up on: approval waits until the text is shortened."""
    where = _FIELD_NAMES.get(field, field)
    return Finding(
        f"{rule}@{field}", rule, rule, Severity.BLOCK, field, None, None, None, None, "", f"{where}{message}"
    )


@dataclass(frozen=True)
class Subject:
    """What the check needs to know of a revision."""

    kind: str
    title: str
    summary: str
    body: str
    story_patient_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None


def _occurrences(text: str, word: str) -> Iterator[tuple[int, int]]:
    pos = text.find(word) if word else -1
    while pos != -1:
        yield pos, pos + len(word)
        pos = text.find(word, pos + 1)


# (rule, category, severity, start, end, note)
_Hit = tuple[str, str, str, int, int, str]


TESTIMONIAL_NOTE = "引用患者疗效见证需审核确认，不得以患者名义证明疗效"
CONSENTED_TESTIMONIAL_NOTE = "患者故事中的疗效描述需审核确认，个人经历不得写成疗效承诺"


def _claim_hits(source: str, kind: str, terms: Sequence[ComplianceTerm], *, consented_story: bool) -> Iterator[_Hit]:
    """Terms, built-in claims and testimonials, in the dense form, mapped back to `source`."""
    text = dense(source)
    # Dense characters inside a finding so far: 2 a block, 1 a warning. A term found inside an
    # equally severe finding adds nothing (100%有效 and 百分之百有效 are one term in dense form).
    covered = bytearray(len(text.text))
    for term in terms:
        if term.match == TermMatch.REGEX:
            spans: Iterable[tuple[int, int]] = (m.span() for m in re.finditer(term.pattern, text.text))
        else:
            spans = _occurrences(text.text, _dense_form(term.pattern))
        rank = 2 if term.severity == Severity.BLOCK else 1
        for start, end in spans:
            if start == end or text.clause_split(start, end) or min(covered[start:end]) >= rank:
                continue
            if not _inside_allowed(text, start, end, term.allowed_contexts or []):
                covered[start:end] = bytes(max(rank, c) for c in covered[start:end])
                yield f"term:{term.id}", term.category, term.severity, *text.span(start, end), term.note
    for rule, start, end in claims.claim_hits(text):
        if max(covered[start:end]) < 2:  # not already reported by the word list
            covered[start:end] = b"\x02" * (end - start)
            yield "claim", rule.category, Severity.BLOCK, *text.span(start, end), rule.note
    if kind in HEALTH_EDUCATION_KINDS:
        note = CONSENTED_TESTIMONIAL_NOTE if consented_story else TESTIMONIAL_NOTE
        for start, end in claims.testimonial_hits(text):
            yield "testimonial", "testimonial", Severity.WARN, *text.span(start, end), note


def _hits(source: str, kind: str, terms: Sequence[ComplianceTerm], *, consented_story: bool = False) -> Iterator[_Hit]:
    """Every match in one field, lazily, so the caller can stop early."""
    yield from _claim_hits(source, kind, terms, consented_story=consented_story)
    text = normalise(source)
    if kind in HEALTH_EDUCATION_KINDS:
        for m in _PRICE.finditer(text):
            yield "price", "price", Severity.BLOCK, *m.span(), "科普内容不得出现价格"
        for m in _URL.finditer(text):
            if _SHOP_HOST.search(m.group()):
                yield "purchase", "purchase", Severity.BLOCK, *m.span(), "科普内容不得含购买链接"
        for m in _PURCHASE_WORDS.finditer(text):
            yield "purchase", "purchase", Severity.BLOCK, *m.span(), "科普内容不得引导购买"
        for m in _CONTACT.finditer(text):
            yield "contact", "contact", Severity.WARN, *m.span(), "科普内容一般不应留联系方式"


def scan_text(
    fields: dict[str, str], kind: str, terms: Sequence[ComplianceTerm], *, consented_story: bool = False
) -> list[Finding]:
    out: list[Finding] = []
    for field, source in fields.items():
        source = source or ""
        if len(source) > MAX_FIELD_LENGTH:
            out.append(_unchecked("too_long", field, f"超过{MAX_FIELD_LENGTH}个字符，无法完成合规检查，请缩短后再提交"))
            continue
        line_starts = _line_starts(source)
        hits = _hits(source, kind, terms, consented_story=consented_story)
        for found, (rule, category, severity, start, end, note) in enumerate(hits):
            if found == MAX_FINDINGS_PER_FIELD:
                out.append(_unchecked("too_many", field, f"的合规问题超过{MAX_FINDINGS_PER_FIELD}处，请修改后再提交"))
                break
            out.append(_finding(rule, category, severity, field, source, line_starts, start, end, note))
    out.sort(key=lambda f: (list(fields).index(f.field) if f.field in fields else 99, f.start or 0, f.rule))
    return out


async def active_terms(session: AsyncSession) -> list[ComplianceTerm]:
    return list(await session.scalars(select(ComplianceTerm).where(ComplianceTerm.active.is_(True))))


async def has_story_consent(session: AsyncSession, item_id: uuid.UUID | None, patient_id: uuid.UUID | None) -> bool:
    if item_id is None or patient_id is None:
        return False
    found = await session.scalar(
        select(StoryConsent.item_id).where(
            StoryConsent.item_id == item_id, StoryConsent.patient_id == patient_id, StoryConsent.withdrawn_at.is_(None)
        )
    )
    return found is not None


async def check(session: AsyncSession, subject: Subject) -> list[Finding]:
    fields = {"title": subject.title, "summary": subject.summary, "body": subject.body}
    consented = subject.kind == "story" and await has_story_consent(session, subject.item_id, subject.story_patient_id)
    findings = scan_text(fields, subject.kind, await active_terms(session), consented_story=consented)
    if subject.kind == "story" and not consented:
        message = (
            "患者故事尚未关联当事患者" if subject.story_patient_id is None else "当事患者尚未授权发布（或已撤回授权）"
        )
        findings.append(
            Finding(
                "story_consent",
                "story_consent",
                "story_consent",
                Severity.BLOCK,
                "storyPatientId",
                None,
                None,
                None,
                None,
                "",
                message,
            )
        )
    return findings


# --- the word list (admins) -------------------------------------------------------------------


async def ensure_default_terms(session: AsyncSession) -> None:
    """Insert the default terms that are missing (idempotent; a term an admin switched off stays off)."""
    now = clock.now()
    await session.execute(
        insert(ComplianceTerm)
        .values(
            [
                {
                    "id": new_id(),
                    "pattern": p,
                    "match": m,
                    "category": c,
                    "severity": s,
                    "note": n,
                    "allowed_contexts": ctx,
                    "active": True,
                    "created_at": now,
                }
                for p, m, c, s, n, ctx in DEFAULT_TERMS
            ]
        )
        .on_conflict_do_nothing(index_elements=["pattern"])
    )


@dataclass(frozen=True)
class TermInput:
    pattern: str
    match: str = TermMatch.WORD
    category: str = "forbidden_claim"
    severity: str = Severity.BLOCK
    note: str = ""
    allowed_contexts: tuple[str, ...] = ()


async def list_terms(session: AsyncSession, actor: Actor) -> list[ComplianceTerm]:
    actor.require_role(Role.REVIEWER, Role.MARKETER)
    return list(await session.scalars(select(ComplianceTerm).order_by(ComplianceTerm.category, ComplianceTerm.pattern)))


async def add_term(session: AsyncSession, actor: Actor, data: TermInput) -> ComplianceTerm:
    actor.require_role(Role.ADMIN)
    v = Validator()
    pattern = data.pattern.strip()
    v.check(0 < len(pattern) <= 200, "pattern", Code.TERM_INVALID, "词条长度需在1到200个字符之间")
    v.check(data.match in {m.value for m in TermMatch}, "match", Code.TERM_MATCH_INVALID, "匹配方式无效")
    v.check(data.severity in {s.value for s in Severity}, "severity", Code.TERM_SEVERITY_INVALID, "严重程度无效")
    v.check(len(data.note) <= 200, "note", Code.TERM_NOTE_TOO_LONG, "说明不能超过200个字符")
    v.check(data.category in CATEGORY_LABELS, "category", Code.TERM_CATEGORY_INVALID, "类别无效")
    # Every context is searched around every match of the term, so their number and length are bounded.
    v.check(
        len(data.allowed_contexts) <= 20 and all(0 < len(c) <= 60 for c in data.allowed_contexts),
        "allowedContexts",
        Code.TERM_CONTEXTS_INVALID,
        "例外语境最多20个，每个1到60个字符",
    )
    if data.match == TermMatch.REGEX and len(pattern) <= 200:  # compiled only once its length is known to be fine
        try:
            re.compile(pattern)
        except re.error:
            v.add("pattern", Code.TERM_REGEX_INVALID, "正则表达式无效")
    v.raise_if_any()
    existing = await session.scalar(select(ComplianceTerm).where(ComplianceTerm.pattern == pattern))
    if existing is not None:
        if existing.active:
            raise errors.TermExists(field="pattern")
        existing.active = True
        existing.severity, existing.category, existing.note = data.severity, data.category, data.note
        existing.allowed_contexts = list(data.allowed_contexts)
        return existing
    term = ComplianceTerm(
        id=new_id(),
        pattern=pattern,
        match=data.match,
        category=data.category,
        severity=data.severity,
        note=data.note,
        allowed_contexts=list(data.allowed_contexts),
        active=True,
        created_at=clock.now(),
    )
    session.add(term)
    return term


async def deactivate_term(session: AsyncSession, actor: Actor, term_id: uuid.UUID) -> ComplianceTerm:
    actor.require_role(Role.ADMIN)
    term = await session.get(ComplianceTerm, term_id)
    if term is None:
        raise errors.ItemNotFound("词条不存在", field="termId")
    term.active = False
    return term
