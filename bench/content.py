"""Content feed and search over HTTP on production-sized content (a benchmark, not a test).

    .venv/bin/python bench/content.py                                   # defaults below, about two minutes
    .venv/bin/python bench/content.py --duration 3 --articles 10000     # a quick run
    .venv/bin/python bench/content.py --profile feed                    # pyinstrument profile of one request
    .venv/bin/python bench/content.py --quick                           # the feed only, 10k items, ~1-2 minutes

50,000 published items (articles mostly; videos, announcements and consented patient stories) written
in Chinese across twelve conditions and a dozen topics, published over two years; 12% gated to signed-in
members, 6% to a tier, 15% targeted by condition and a few by tier, lifecycle stage or community group;
plus drafts and archived items nobody reads, engagement events (views, reads to the end, likes,
bookmarks, shares, most on recent items) and the viewers' own likes and bookmarks. The search column is
filled as the app fills it on publish (content.search.vector_expression: jieba search-mode words of
title, summary and body, weighted A/B/C, into to_tsvector('simple')).

The real ASGI app (`portal serve`: one uvicorn process, 127.0.0.1 and a free port) answers, for signed-in
patients with different conditions, tiers, stages and groups (one per client):
  feed     contentFeed(first: 20), then following endCursor for up to --pages pages;
  search   contentSearch(query: "血糖", first: 20), a 2-character word found through the GIN index;
  mixed    contentSearch(query: "控制血糖 HbA1c", first: 20), Chinese and English words together.
Closed-loop clients (bench/http1.py, one keep-alive connection each) at 16 and 64 concurrent clients:
per level a warm-up,
then a fixed window in which every request that ends is counted. Every response is checked (HTTP 200,
no GraphQL errors, full pages, highlights on search hits) and the API log must stay clean. EXPLAIN
(ANALYZE) of the search statement must use the GIN index.

Unless DATABASE_URL / REDIS_URL are set, throw-away PostgreSQL and Redis are started (and stopped at
the end), as in bench/feed.py whose server, CPU and report helpers this reuses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

# Run as a script, this directory comes first on sys.path, where this file would shadow the content
# package; the project root goes first and this directory last (the sibling bench/feed.py is still found).
_BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = (
    [str(_BENCH_DIR.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH_DIR] + [str(_BENCH_DIR)]
)
import feed as fb  # noqa: E402

from bench.http1 import Http1  # noqa: E402
from core import clock  # noqa: E402
from core.db import dispose_engine, unit_of_work  # noqa: E402
from core.identity import Actor, ActorKind  # noqa: E402
from core.settings import reset_settings  # noqa: E402

fb.BENCH_DB = f"portal_bench_content_{os.getpid()}"

FEED_QUERY = """
query Feed($first: Int!, $after: String) {
  contentFeed(first: $first, after: $after) {
    edges { cursor node { ...Card } }
    pageInfo { hasNextPage endCursor }
  }
}
fragment Card on ContentItem {
  id kind title summary coverUrl publishedAt gate topics conditionCodes
  counts { reads likes bookmarks }
  viewerHasLiked viewerHasBookmarked
}
"""

SEARCH_QUERY = """
query Search($query: String!, $first: Int!, $after: String) {
  contentSearch(query: $query, first: $first, after: $after) {
    edges { cursor node { titleHighlight snippet item { id kind title publishedAt gate viewerHasBookmarked } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SEARCH_WORD = "血糖"
MIXED_QUERY = "控制血糖 HbA1c"

# --------------------------------------------------------------------------- the corpus

# condition code -> (name, the things articles about it are about)
CONDITIONS: dict[str, tuple[str, list[str]]] = {
    "diabetes": ("糖尿病", ["血糖", "空腹血糖", "餐后血糖", "糖化血红蛋白", "胰岛素", "二甲双胍", "低血糖"]),
    "hypertension": ("高血压", ["血压", "家庭血压监测", "降压药", "限盐", "晨峰血压"]),
    "coronary_heart_disease": ("冠心病", ["心绞痛", "支架术后", "他汀", "胸闷", "心脏康复"]),
    "hyperlipidemia": ("高血脂", ["血脂", "低密度脂蛋白", "甘油三酯", "他汀", "膳食纤维"]),
    "osteoporosis": ("骨质疏松", ["骨密度", "补钙", "维生素D", "防跌倒", "晒太阳"]),
    "gout": ("痛风", ["尿酸", "嘌呤", "急性发作", "多喝水", "降尿酸药"]),
    "copd": ("慢阻肺", ["肺功能", "吸入剂", "呼吸训练", "戒烟", "流感疫苗"]),
    "thyroid": ("甲状腺疾病", ["甲功", "促甲状腺激素", "碘摄入", "甲状腺结节", "优甲乐"]),
    "ckd": ("慢性肾病", ["肌酐", "估算肾小球滤过率", "蛋白尿", "低蛋白饮食", "透析"]),
    "pregnancy": ("孕产期", ["产检", "妊娠期糖尿病", "叶酸", "孕期体重", "产后恢复"]),
    "breast_cancer_postop": ("乳腺癌术后", ["内分泌治疗", "患肢锻炼", "复查", "情绪管理", "淋巴水肿"]),
    "depression": ("抑郁症", ["情绪", "睡眠", "规律服药", "心理咨询", "家人支持"]),
}
# share of items about each condition (diabetes and hypertension dominate, as in the hospitals' clinics)
CONDITION_WEIGHTS = [26, 20, 9, 9, 6, 6, 5, 5, 4, 4, 3, 3]
TOPICS = ["饮食", "运动", "用药", "监测", "并发症", "心理", "睡眠", "复查", "季节保健", "误区", "科普问答", "康复"]
TITLE_TEMPLATES = [
    "{cn}患者如何管理{w}",
    "关于{w}，{cn}患者最常问的{k}个问题",
    "医生提醒：{w}这几点要注意",
    "{cn}的{topic}指南：从{w}说起",
    "读懂化验单：{w}偏高怎么办",
    "{w}的{k}个常见误区",
    "{season}{cn}患者的{topic}建议",
    "专家讲堂：{cn}与{w}",
    "一图看懂{w}",
    "{cn}患者的{topic}清单（{year}版）",
    "控制{w}，{topic}先行",
    "病友问答：{w}需要天天测吗",
]
SEASONS = ["春季", "夏季", "秋冬", "换季", "节假日"]
GENERAL_PARAGRAPHS = [
    "规律作息、均衡饮食和适量运动是慢病管理的三块基石。建议每周至少进行150分钟中等强度的有氧运动，"
    "例如快走、游泳或骑自行车，并根据自身情况循序渐进。",
    "饮食上以全谷物、蔬菜和优质蛋白为主，少吃油炸食品和含糖饮料，控制每日食盐摄入不超过5克。"
    "吃饭时先吃蔬菜、再吃肉、最后吃主食，细嚼慢咽，七分饱即可。",
    "按时复诊非常重要。请携带既往的化验单和用药清单，方便医生全面评估病情，及时调整治疗方案。",
    "不要自行停药或更改剂量。如果出现不适，请先联系您的健康管理师或到门诊咨询医生。",
    "保持良好的心态同样重要。焦虑和压力会影响睡眠和激素水平，可以尝试冥想、深呼吸或与家人朋友聊一聊。",
    "戒烟限酒对心脑血管有明确的保护作用。吸烟会加速动脉硬化，饮酒则可能干扰药物效果。",
    "家庭自我监测可以帮助您和医生了解真实的日常状况，建议把每次测量的结果记录下来，复诊时一并带来。",
    "冬季气温低，血管收缩，部分指标容易波动；夏季出汗多，要注意补充水分，避免脱水。",
    "本院每月举办健康讲座和病友交流会，欢迎在社群中报名参加，与医生和病友面对面交流。",
    "如果您同时患有多种慢性病，用药种类较多，请让药师帮您核对是否存在相互作用。",
    "体重管理贯穿慢病管理的始终。腰围男性不超过90厘米、女性不超过85厘米是一个简单易记的目标。",
    "睡眠不足会让食欲增加、血压升高。尽量在晚上十一点前入睡，睡前一小时放下手机。",
    "运动前后注意热身和拉伸，运动中如有胸闷、头晕、心慌请立即停止并休息，必要时及时就医。",
]


# Diabetes articles also talk about HbA1c (the mixed Chinese-English query finds them).
DIABETES_PARAGRAPHS = [
    "HbA1c（糖化血红蛋白）反映近三个月的平均血糖水平，多数成年患者的控制目标在7%以下，具体请遵医嘱。",
    "运动时随身携带糖果以防低血糖；如果HbA1c长期偏高，需要和医生一起调整饮食、运动和药物方案。",
]


def _condition_paragraphs(cn: str, words: list[str]) -> list[str]:
    w = words
    extra = DIABETES_PARAGRAPHS if cn == "糖尿病" else []
    general = [
        f"{cn}是一种需要长期管理的慢性疾病，{w[0]}是评估病情的重要指标。很多患者在确诊初期比较紧张，"
        f"其实只要掌握方法、坚持随访，大多数人都能把{w[0]}控制在理想范围内。",
        f"关于{w[1]}，医生建议在家中定期监测并记录。测量前避免剧烈活动，保持情绪平稳，"
        f"每次在相同的时间和条件下进行，结果才具有可比性。",
        f"{w[2]}是{cn}患者经常关心的话题。请在医生指导下进行，切勿听信偏方，也不要因为一时指标正常就擅自停止治疗。",
        f"饮食调整对{cn}的控制非常关键。{w[3] if len(w) > 3 else w[0]}与日常饮食密切相关，"
        f"建议少量多餐、粗细搭配，烹调以蒸、煮、炖为主。",
        f"不少患者问：{w[-1]}需要注意什么？简单来说，就是规律、适度和坚持。遇到问题及时和健康管理师沟通，"
        f"不要等到症状明显时才就医。",
        f"控制{w[0]}不是一朝一夕的事情。我们的健康管理师会根据您的{w[1]}记录和复查结果，帮助您制定个体化的管理计划。",
        f"{cn}患者在{random.choice(SEASONS)}尤其要注意{w[0]}的波动，必要时增加监测频率，并与医生讨论是否需要调整方案。",
        f"研究表明，规范管理{w[0]}可以显著降低并发症风险。坚持就是最好的治疗，每一次认真记录都是在为健康加分。",
    ]
    return extra + general


@dataclass
class Corpus:
    titles: list[tuple[str, str]]  # (text, condition code)
    summaries: list[str]
    bodies: dict[str, list[str]]  # condition code -> bodies


def build_corpus(rng: random.Random, bodies_per_condition: int) -> Corpus:
    random.seed(rng.random())  # _condition_paragraphs picks a season
    titles: list[tuple[str, str]] = []
    bodies: dict[str, list[str]] = {}
    for code, (cn, words) in CONDITIONS.items():
        for template in TITLE_TEMPLATES:
            for w in words:
                for _ in range(3):
                    text = template.format(
                        cn=cn,
                        w=w,
                        k=rng.choice([3, 4, 5, 6, 7]),
                        topic=rng.choice(TOPICS),
                        season=rng.choice(SEASONS),
                        year=rng.choice([2024, 2025, 2026]),
                    )
                    titles.append((text[:120], code))
        paragraphs = _condition_paragraphs(cn, words)
        bodies[code] = []
        for _ in range(bodies_per_condition):
            parts = rng.sample(paragraphs, 4) + rng.sample(GENERAL_PARAGRAPHS, 4)
            rng.shuffle(parts)
            heading = f"## {rng.choice(words)}管理要点\n\n"
            bodies[code].append(heading + "\n\n".join(parts))
    titles = list(dict.fromkeys(titles))
    summaries = []
    for cn, words in CONDITIONS.values():
        for w in words:
            summaries += [
                f"{cn}患者关于{w}的实用建议，医生和健康管理师为您整理。",
                f"三分钟了解{w}：测什么、怎么测、结果怎么看。",
                f"{w}控制得好不好？这些信号要留意。",
            ]
    return Corpus(titles, summaries, bodies)


# --------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    viewers: list[uuid.UUID]
    groups: list[uuid.UUID]
    live: int
    counts: dict[str, int] = field(default_factory=dict)


VIEWER_STEPS = """
INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at)
SELECT id, '138' || lpad(n::text, 8, '0'), '康友' || n, 'undisclosed', 'Asia/Shanghai', $joined::timestamptz,
       $joined::timestamptz
FROM bench_viewers ORDER BY n;
INSERT INTO patient_conditions (patient_id, condition_code, added_at)
SELECT id, code, $joined::timestamptz FROM bench_viewers, unnest(conditions) AS code;
INSERT INTO member_tiers (patient_id, tier_code, qualifying_points, since, grace_until, evaluated_at)
SELECT id, tier, 0, $joined::timestamptz, NULL, $joined::timestamptz FROM bench_viewers WHERE tier IS NOT NULL;
INSERT INTO patient_lifecycle (patient_id, stage, changed_at)
SELECT id, stage, $joined::timestamptz FROM bench_viewers WHERE stage IS NOT NULL;
INSERT INTO community_groups (id, slug, name, condition_code, description, rules_text, cover_url, visibility,
                              join_policy, allow_anonymous, alias_prefix, member_count, created_by, created_at,
                              updated_at)
SELECT g, 'bench-content-' || i, '病友群' || i, NULL, '', '', NULL, 'public', 'open', false, '病友', 0, NULL,
       $joined::timestamptz, $joined::timestamptz
FROM unnest($groups::uuid[]) WITH ORDINALITY AS t(g, i);
INSERT INTO community_memberships (id, group_id, account_kind, account_id, role, state, notification_level,
                                   joined_at, created_at, updated_at)
SELECT gen_random_uuid(), g, 'patient', v.id, 'member', 'active', 'all', $joined::timestamptz,
       $joined::timestamptz, $joined::timestamptz
FROM bench_viewers v, unnest(v.group_ids) AS g
"""

ITEM_STEPS = """
INSERT INTO content_items (id, kind, language, author_id, status, working_revision_id, publish_at, story_patient_id,
                           archived_at, archive_reason, live_revision_id, published_at, title, condition_codes, topics,
                           audience_conditions, audience_group_ids, audience_tiers, audience_stages, gate,
                           gate_min_tier_rank, search_vector, view_count, read_count, like_count, bookmark_count,
                           share_count, created_at, updated_at)
SELECT p.id, p.kind, 'zh-CN', $author::uuid, p.status, p.rev_id, NULL, p.story_patient_id,
       CASE WHEN p.status = 'archived' THEN p.published_at + interval '30 days' END,
       CASE WHEN p.status = 'archived' THEN 'manual' END,
       CASE WHEN p.status = 'published' THEN p.rev_id END,
       CASE WHEN p.status <> 'draft' THEN p.published_at END,
       t.text, p.condition_codes, p.topics, p.audience_conditions, p.audience_group_ids, p.audience_tiers,
       p.audience_stages, p.gate, p.gate_min_tier_rank,
       CASE WHEN p.status = 'published' THEN
           setweight(to_tsvector('simple', t.seg), 'A') || setweight(to_tsvector('simple', s.seg), 'B')
           || setweight(to_tsvector('simple', b.seg), 'C') END,
       0, 0, 0, 0, 0, p.published_at - interval '2 days', p.published_at
FROM bench_plan p
JOIN bench_texts t ON t.i = p.title_i
JOIN bench_texts s ON s.i = p.summary_i
JOIN bench_texts b ON b.i = p.body_i
ORDER BY p.published_at;
INSERT INTO content_revisions (id, item_id, number, status, editor_id, title, summary, body, cover_url, video_url,
                               condition_codes, topics, audience_conditions, audience_group_ids, audience_tiers,
                               audience_stages, gate, gate_min_tier_rank, findings, checked_at, reviewer_id,
                               review_comment, acknowledged, created_at, updated_at)
SELECT p.rev_id, p.id, 1, CASE p.status WHEN 'published' THEN 'published' WHEN 'archived' THEN 'archived'
                               ELSE 'draft' END,
       $author::uuid, t.text, s.text, b.text,
       'https://cdn.example.cn/content/cover-' || (p.n % 97) || '.jpg',
       CASE WHEN p.kind = 'video' THEN 'https://cdn.example.cn/content/video-' || p.n || '.mp4' END,
       p.condition_codes, p.topics, p.audience_conditions, p.audience_group_ids, p.audience_tiers, p.audience_stages,
       p.gate, p.gate_min_tier_rank, '[]'::jsonb, p.published_at - interval '1 day',
       CASE WHEN p.status <> 'draft' THEN $reviewer::uuid END, NULL, '{}', p.published_at - interval '2 days',
       p.published_at
FROM bench_plan p
JOIN bench_texts t ON t.i = p.title_i
JOIN bench_texts s ON s.i = p.summary_i
JOIN bench_texts b ON b.i = p.body_i;
INSERT INTO content_story_consents (item_id, patient_id, granted_at, withdrawn_at)
SELECT id, story_patient_id, published_at - interval '3 days', NULL FROM bench_plan WHERE story_patient_id IS NOT NULL
"""

# Engagement: views on every live item (more on recent ones), reads to the end, likes, bookmarks and
# shares on a share of them; then the item counters from the events, as engagement.record keeps them.
ENGAGEMENT_STEPS = """
CREATE TEMP TABLE bench_live AS
SELECT id, published_at, row_number() OVER (ORDER BY published_at DESC) AS r FROM content_items
WHERE live_revision_id IS NOT NULL;
INSERT INTO content_engagement_events (id, item_id, patient_id, kind, day, occurred_at)
SELECT gen_random_uuid(), l.id, NULL, k.kind,
       ((l.published_at + (j * interval '7 hours')) AT TIME ZONE 'Asia/Shanghai')::date,
       l.published_at + (j * interval '7 hours')
FROM bench_live l
CROSS JOIN LATERAL generate_series(1, GREATEST(1, 40 - l.r::int / 1000)) AS j
CROSS JOIN LATERAL (SELECT CASE WHEN j % 11 = 0 THEN 'share' WHEN j % 7 = 0 THEN 'bookmark'
                                WHEN j % 5 = 0 THEN 'like' WHEN j % 2 = 0 THEN 'view' ELSE 'view' END AS kind) k
WHERE l.published_at + (j * interval '7 hours') < $now::timestamptz;
INSERT INTO content_engagement_events (id, item_id, patient_id, kind, day, occurred_at)
SELECT gen_random_uuid(), l.id, v.id, 'read_end', (l.published_at AT TIME ZONE 'Asia/Shanghai')::date + 1,
       l.published_at + interval '1 day'
FROM bench_live l JOIN bench_viewers v ON (l.r + v.n) % 97 = 0
WHERE l.published_at + interval '1 day' < $now::timestamptz;
INSERT INTO content_reactions (item_id, patient_id, kind, created_at)
SELECT l.id, v.id, CASE WHEN (l.r + v.n) % 2 = 0 THEN 'like' ELSE 'bookmark' END, l.published_at + interval '2 hours'
FROM bench_live l JOIN bench_viewers v ON (l.r * 7 + v.n) % 53 = 0
WHERE l.r <= 20000;
UPDATE content_items i SET view_count = e.views, read_count = e.reads, like_count = e.likes,
       bookmark_count = e.bookmarks, share_count = e.shares,
       engagement_weight = e.reads + 2 * e.likes + 3 * e.bookmarks + 3 * e.shares
FROM (SELECT item_id, count(*) FILTER (WHERE kind = 'view') AS views,
             count(*) FILTER (WHERE kind = 'read_end') AS reads, count(*) FILTER (WHERE kind = 'like') AS likes,
             count(*) FILTER (WHERE kind = 'bookmark') AS bookmarks, count(*) FILTER (WHERE kind = 'share') AS shares
      FROM content_engagement_events GROUP BY item_id) e
WHERE e.item_id = i.id;
DROP TABLE bench_live
"""
SEEDED_TABLES = [
    "patients",
    "patient_conditions",
    "member_tiers",
    "patient_lifecycle",
    "community_groups",
    "community_memberships",
    "content_items",
    "content_revisions",
    "content_story_consents",
    "content_engagement_events",
    "content_reactions",
]


def _pick_conditions(rng: random.Random) -> list[str]:
    codes = list(CONDITIONS)
    first = rng.choices(codes, weights=CONDITION_WEIGHTS)[0]
    if rng.random() < 0.25:
        second = rng.choices(codes, weights=CONDITION_WEIGHTS)[0]
        return list(dict.fromkeys([first, second]))
    return [first]


def plan_items(
    rng: random.Random, corpus: Corpus, args: argparse.Namespace, viewers: list[uuid.UUID], groups: list[uuid.UUID]
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """One row per item (published, then drafts and archived ones): what it is about, who may read it."""
    now = clock.now()
    title_ids: dict[str, list[int]] = {}
    for i, (_, code) in enumerate(corpus.titles):
        title_ids.setdefault(code, []).append(i)
    summary_base = len(corpus.titles)
    body_base = summary_base + len(corpus.summaries)
    body_ids: dict[str, list[int]] = {}
    offset = body_base
    for code, bodies in corpus.bodies.items():
        body_ids[code] = list(range(offset, offset + len(bodies)))
        offset += len(bodies)
    rows: list[tuple[Any, ...]] = []
    counts: Counter[str] = Counter()
    total = args.articles + args.drafts + args.archived
    for n in range(1, total + 1):
        status = "published" if n <= args.articles else ("draft" if n <= args.articles + args.drafts else "archived")
        conditions = _pick_conditions(rng)
        roll = rng.random()
        kind = "article" if roll < 0.85 else "video" if roll < 0.93 else "announcement" if roll < 0.98 else "story"
        story_patient = rng.choice(viewers) if kind == "story" else None
        gate_roll = rng.random()
        gate, min_rank = ("public", None)
        if gate_roll < 0.12:
            gate = "members"
        elif gate_roll < 0.18:
            gate, min_rank = "tier", rng.choice([1, 1, 2, 3])
        audience_conditions = conditions[:1] if rng.random() < 0.15 else []
        audience_tiers = [rng.choice(["silver", "gold", "diamond"])] if rng.random() < 0.03 else []
        audience_stages = [rng.choice(["retention", "loyalty", "dormant"])] if rng.random() < 0.03 else []
        audience_groups = [rng.choice(groups)] if rng.random() < 0.02 else []
        # two years back, denser recently
        age = timedelta(days=730 * rng.random() ** 1.6, seconds=rng.randrange(86400))
        published_at = now - age - timedelta(minutes=5)
        topics = rng.sample(TOPICS, rng.choice([1, 2, 2, 3]))
        rows.append(
            (
                n,
                uuid.uuid4(),
                uuid.uuid4(),
                status,
                kind,
                story_patient,
                rng.choice(title_ids[conditions[0]]),
                summary_base + rng.randrange(len(corpus.summaries)),
                rng.choice(body_ids[conditions[0]]),
                conditions,
                topics,
                audience_conditions,
                audience_groups,
                audience_tiers,
                audience_stages,
                gate,
                min_rank,
                published_at,
            )
        )
        if status == "published":
            counts["published"] += 1
            counts[f"gate {gate}"] += 1
            counts["targeted"] += bool(audience_conditions or audience_tiers or audience_stages or audience_groups)
            counts[kind] += 1
    return rows, dict(counts)


def plan_viewers(rng: random.Random, count: int, groups: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    """Signed-in patients: each a condition or two, a third with a tier above standard, most with a
    lifecycle stage, some in community groups."""
    rows = []
    for n in range(1, count + 1):
        tier = rng.choice([None, None, "standard", "silver", "gold", "diamond"])
        stage = rng.choice([None, "conversion", "retention", "loyalty", "dormant"])
        member_of = rng.sample(groups, rng.choice([0, 0, 1, 2]))
        rows.append((n, uuid.uuid4(), _pick_conditions(rng), tier, stage, member_of))
    return rows


async def seed(args: argparse.Namespace) -> Seeded:
    from content.search import segment_document

    started = time.perf_counter()
    rng = random.Random(args.seed)
    corpus = build_corpus(rng, args.bodies)
    bodies = [b for bs in corpus.bodies.values() for b in bs]
    texts = [t for t, _ in corpus.titles] + corpus.summaries + bodies
    step = time.perf_counter()
    segmented = [segment_document(t) for t in texts]  # exactly what the app stores on publish
    print(
        f"    corpus: {len(corpus.titles):,} titles, {len(corpus.summaries)} summaries, "
        f"{len(bodies):,} bodies (~{sum(map(len, bodies)) // max(1, len(bodies)):,} characters each); "
        f"jieba in {time.perf_counter() - step:.1f} s"
    )
    groups = [uuid.uuid4() for _ in range(6)]
    viewer_rows = plan_viewers(rng, args.viewers, groups)
    viewers = [r[1] for r in viewer_rows]
    plan, counts = plan_items(rng, corpus, args, viewers, groups)
    now = clock.now()
    params: dict[str, object] = {
        "joined": now - timedelta(days=800),
        "now": now,
        "groups": groups,
        "author": uuid.uuid4(),
        "reviewer": uuid.uuid4(),
    }
    conn = await fb.connect()
    try:
        await conn.execute("SET timezone = 'UTC'; SET temp_buffers = '256MB'; SET work_mem = '256MB'")
        await conn.execute(
            """
            CREATE TEMP TABLE bench_viewers (n int PRIMARY KEY, id uuid, conditions text[], tier text, stage text,
                                             group_ids uuid[]);
            CREATE TEMP TABLE bench_texts (i int PRIMARY KEY, text text, seg text);
            CREATE TEMP TABLE bench_plan (n int PRIMARY KEY, id uuid, rev_id uuid, status text, kind text,
                story_patient_id uuid, title_i int, summary_i int, body_i int, condition_codes text[], topics text[],
                audience_conditions text[], audience_group_ids uuid[], audience_tiers text[],
                audience_stages text[], gate text, gate_min_tier_rank smallint, published_at timestamptz);
            """
        )
        await conn.copy_records_to_table("bench_viewers", records=viewer_rows)
        await conn.copy_records_to_table(
            "bench_texts", records=[(i, t, s) for i, (t, s) in enumerate(zip(texts, segmented, strict=True))]
        )
        await conn.copy_records_to_table("bench_plan", records=plan)
        await conn.execute("ANALYZE bench_viewers; ANALYZE bench_texts; ANALYZE bench_plan")
        for name, sql in (("viewers", VIEWER_STEPS), ("items", ITEM_STEPS), ("engagement", ENGAGEMENT_STEPS)):
            step = time.perf_counter()
            await fb._run_script(conn, sql, params)
            print(f"    seeded {name:<12} {time.perf_counter() - step:6.1f} s")
        step = time.perf_counter()
        await conn.execute(f"VACUUM ANALYZE {', '.join(SEEDED_TABLES)}")
        await conn.execute("CHECKPOINT")
        print(f"    vacuum analyze + checkpoint {time.perf_counter() - step:5.1f} s")
        row = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM content_items WHERE live_revision_id IS NOT NULL) AS live,
                   (SELECT count(*) FROM content_items) AS items,
                   (SELECT count(*) FROM content_engagement_events) AS events,
                   (SELECT count(*) FROM content_reactions) AS reactions,
                   (SELECT count(*) FROM content_items WHERE search_vector @@ plainto_tsquery('simple', $1)) AS hits,
                   (SELECT pg_size_pretty(pg_total_relation_size('content_items'))) AS size
            """,
            SEARCH_WORD,
        )
    finally:
        await conn.close()
    counts.update(
        events=row["events"], reactions=row["reactions"], items=row["items"], live=row["live"], word_hits=row["hits"]
    )
    print(
        f"    seeded in {time.perf_counter() - started:.1f} s: {row['live']:,} live items of {row['items']:,} "
        f"({counts.get('gate members', 0):,} members-only, {counts.get('gate tier', 0):,} tier-gated, "
        f"{counts.get('targeted', 0):,} targeted, {counts.get('story', 0)} stories), content_items {row['size']}; "
        f"{row['events']:,} engagement events, {row['reactions']:,} reactions; "
        f"'{SEARCH_WORD}' in {row['hits']:,} items"
    )
    return Seeded(viewers, groups, int(row["live"]), counts)


async def mint_tokens(viewers: list[uuid.UUID]) -> list[str]:
    from patients.auth import _start_session

    async with unit_of_work() as session:
        return [(await _start_session(session, Actor(kind=ActorKind.PATIENT, id=pid))).access_token for pid in viewers]


async def explain_search(viewer_id: uuid.UUID, query: str) -> tuple[bool, str]:
    """EXPLAIN ANALYZE of the app's own search statement for one of the viewers: is the GIN index used?"""
    from content import access, search

    async with unit_of_work() as session:
        viewer = await access.load_viewer(session, Actor(kind=ActorKind.PATIENT, id=viewer_id))
        stmt, score = search.search_statement(viewer, search.segment_query(query))
        stmt = stmt.order_by(score.desc()).limit(21)
        conn = await session.connection()
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = tuple(compiled.params[name] for name in compiled.positiontup or [])
        result = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", params)
        plan = [r[0] for r in result]
    used = any("ix_content_items_search" in line for line in plan)
    return used, "\n".join(plan)


# --------------------------------------------------------------------------- the workloads


@dataclass
class Workload:
    name: str
    query: str
    variables: dict[str, Any]
    root: str
    pages: int  # follow endCursor for 1..pages pages


def _validate(body: Any, root: str, size: int) -> tuple[str | None, str | None, bool]:
    if not isinstance(body, dict):
        return "not a JSON object", None, False
    if body.get("errors"):
        error = body["errors"][0]
        return f"graphql {error.get('extensions', {}).get('code') or error.get('message', '?')[:60]}", None, False
    conn = (body.get("data") or {}).get(root)
    if conn is None:
        return f"{root} is null", None, False
    page = conn["pageInfo"]
    if len(conn["edges"]) != size and page["hasNextPage"]:
        return "short page", None, False
    if root == "contentSearch" and any(
        "<em>" not in e["node"]["titleHighlight"] + e["node"]["snippet"] for e in conn["edges"]
    ):
        return "hit without highlight", None, False
    return None, page["endCursor"], bool(page["hasNextPage"])


@dataclass
class LoadStats:
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    cpu: fb.Cpu | None = None


async def drive(
    port: int,
    tokens: list[str],
    work: Workload,
    *,
    clients: int,
    warmup: float,
    seconds: float,
    size: int,
    seed: int,
    server_pid: int | None = None,
) -> LoadStats:
    """`clients` closed-loop clients: a warm-up until every client has had an answer, then a window of
    `seconds` in which every request that ends is counted (as bench/feed.py)."""
    stats = LoadStats()
    window: list[float] = []
    answered: set[int] = set()
    all_answered = asyncio.Event()

    def answer(index: int) -> None:
        answered.add(index)
        if len(answered) == clients:
            all_answered.set()

    def running() -> bool:
        return not window or time.perf_counter() < window[1]

    async def client(index: int) -> None:
        async with Http1(port) as conn:
            await session(index, conn)

    async def session(index: int, http: Http1) -> None:
        rng = random.Random(seed * 1000 + index)
        token = tokens[index % len(tokens)]
        while running():
            after: str | None = None
            for _ in range(rng.randint(1, work.pages)):
                if not running():
                    return
                variables = {**work.variables, "first": size, "after": after}
                started = time.perf_counter()
                try:
                    payload = orjson.dumps({"query": work.query, "variables": variables})
                    status, content = await http.post(payload, token)
                    ended = time.perf_counter()
                    answer(index)
                    if status != 200:
                        stats.failures[f"http {status}"] += 1
                        break
                    failure, after, more = _validate(orjson.loads(content), work.root, size)
                except (OSError, asyncio.IncompleteReadError, ValueError, KeyError, TypeError) as exc:
                    answer(index)
                    stats.failures[type(exc).__name__] += 1
                    break
                if failure:
                    stats.failures[failure] += 1
                    break
                if window and window[0] <= ended <= window[1]:
                    stats.bytes += len(content)
                    stats.latencies.append(ended - started)
                if not more:
                    break

    async def coordinator() -> None:
        await asyncio.sleep(warmup)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_answered.wait(), 120)
        meter = fb.CpuMeter(server_pid)
        now = time.perf_counter()
        window.extend((now, now + seconds))
        await asyncio.sleep(seconds)
        stats.cpu = meter.stop()

    await asyncio.gather(coordinator(), *(client(i) for i in range(clients)))
    return stats


def workloads(args: argparse.Namespace) -> list[Workload]:
    all_ = {
        "feed": Workload("feed", FEED_QUERY, {}, "contentFeed", args.pages),
        "search": Workload("search", SEARCH_QUERY, {"query": SEARCH_WORD}, "contentSearch", 1),
        "mixed": Workload("mixed", SEARCH_QUERY, {"query": MIXED_QUERY}, "contentSearch", 1),
    }
    return [all_[name] for name in args.workloads]


async def sample(http: httpx.AsyncClient, token: str, work: Workload, size: int) -> None:
    response = await http.post(
        "/graphql",
        json={"query": work.query, "variables": {**work.variables, "first": size, "after": None}},
        headers={"authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"{work.name} failed: {body['errors']}")
    edges = body["data"][work.root]["edges"]
    if work.root == "contentSearch":
        first = edges[0]["node"] if edges else None
        example = f"e.g. {first['titleHighlight']} / {first['snippet'][:60]}" if first else "no hits"
    else:
        example = f"e.g. {edges[0]['node']['title']}" if edges else "empty"
    print(f"    {work.name}: {len(edges)} edges, {len(response.content):,} bytes; {example}")


async def capture(tokens: list[str], work: Workload, size: int) -> list[fb.Trace]:
    """The SQL of real requests of this workload (in this process, see bench/feed.py capture_traces): a first
    page per viewer and, for the feed, the page after it, for up to 24 viewers."""
    viewers = tokens[:24]

    def request(token: str, after: str | None) -> tuple[dict[str, Any], dict[str, str]]:
        payload = {"query": work.query, "variables": {**work.variables, "first": size, "after": after}}
        return payload, {"authorization": f"Bearer {token}"}

    try:
        # Served once before capturing: a process that has answered a viewer before reads their content
        # feed in one statement (content.feed remembers the viewer's shape), as the API does after its
        # warm-up; the first answer for a viewer may read twice, which the replay must not repeat.
        await fb.capture_traces([request(t, None) for t in viewers])
        traces, bodies = await fb.capture_traces([request(t, None) for t in viewers])
        if work.pages > 1:
            follow = [
                request(t, body["data"][work.root]["pageInfo"]["endCursor"])
                for t, body in zip(viewers, bodies, strict=True)
                if body["data"][work.root]["pageInfo"]["hasNextPage"]
            ]
            more, _ = await fb.capture_traces(follow)
            traces += more
    finally:
        await dispose_engine()
    return traces


async def run_http(
    base_url: str, server_pid: int, tokens: list[str], args: argparse.Namespace
) -> tuple[list[fb.Result], list[fb.Versus]]:
    print(
        f"\n== content over HTTP: {args.duration:g} s per level and side in {args.rounds} interleaved windows "
        f"(API, raw asyncpg, API, ...) after a warm-up, first={args.page_size}, {len(tokens)} signed-in patients"
    )
    limits = httpx.Limits(max_connections=max(args.levels), max_keepalive_connections=max(args.levels))
    results: list[fb.Result] = []
    versus: list[fb.Versus] = []
    window = args.duration / args.rounds
    port = int(base_url.rsplit(":", 1)[1])
    conns = await fb.raw_connections(max(args.levels))
    try:
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as http:
            for work in workloads(args):
                await sample(http, tokens[0], work, args.page_size)
            for work in workloads(args):
                traces = await capture(tokens, work, args.page_size)
                print(f"    {work.name} raw replay: {fb.describe_traces(traces)}")
                common = {"size": args.page_size}
                await drive(
                    port, tokens, work, clients=max(args.levels), warmup=args.warmup, seconds=0, seed=0, **common
                )
                await fb.drive_raw(conns, traces, clients=max(args.levels), warmup=1, seconds=0, seed=0)
                for level in args.levels:
                    vs = fb.Versus(f"content {work.name}", level)
                    result = fb.Result(f"{work.name} x{level} clients")
                    size_bytes = 0
                    for round_ in range(args.rounds):
                        stats = await drive(
                            port,
                            tokens,
                            work,
                            clients=level,
                            warmup=min(args.warmup, 1),
                            seconds=window,
                            seed=level * 10 + round_ + 1,
                            server_pid=server_pid,
                            **common,
                        )
                        result.latencies += stats.latencies
                        result.failures.update(stats.failures)
                        result.cpu = stats.cpu
                        size_bytes += stats.bytes
                        vs.api.add(stats.latencies, window, stats.cpu.api if stats.cpu else None)
                        raw = await fb.drive_raw(conns, traces, clients=level, warmup=0.5, seconds=window, seed=round_)
                        result.failures.update({f"raw {k}": v for k, v in raw.failures.items()})
                        vs.raw.add(raw.latencies, window, raw.cpu.bench if raw.cpu else None)
                    result.ops = len(result.latencies)
                    result.seconds = args.duration
                    errors = sum(result.failures.values())
                    print(
                        f"    {work.name:<6} x{level:<3} {result.ops:>6,} requests = {result.rate:7,.1f} req/s, "
                        f"{result.latency()}, {errors} errors{f' {dict(result.failures)}' if errors else ''}; "
                        f"{size_bytes / max(result.ops, 1) / 1024:.1f} KiB per response"
                    )
                    print(f"          last API window: {result.cpu_text()}")
                    print(vs.line())
                    results.append(result)
                    versus.append(vs)
    finally:
        for conn in conns:
            await conn.close()
    return results, versus


# --------------------------------------------------------------------------- in-process profile


async def profile(args: argparse.Namespace, viewer_id: uuid.UUID, token: str) -> None:
    """pyinstrument over --profile-requests in-process requests of one workload (ASGI transport, no
    network), after a few unprofiled ones to warm caches and pools."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("\n    --profile needs pyinstrument (bench only): .venv/bin/pip install pyinstrument")
        return
    from api.app import create_app

    work = next(w for w in workloads(args) if w.name == args.profile)
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        headers = {"authorization": f"Bearer {token}"}
        payload = {"query": work.query, "variables": {**work.variables, "first": args.page_size, "after": None}}
        for _ in range(5):
            (await http.post("/graphql", json=payload, headers=headers)).raise_for_status()
        profiler = Profiler(interval=0.0005, async_mode="enabled")
        started = time.perf_counter()
        with profiler:
            for _ in range(args.profile_requests):
                (await http.post("/graphql", json=payload, headers=headers)).raise_for_status()
        elapsed = time.perf_counter() - started
    each = elapsed / args.profile_requests * 1000
    print(f"\n== profile of {args.profile_requests} sequential {work.name} requests: {each:.1f} ms each")
    print(profiler.output_text(unicode=True, color=False, show_all=False))


# --------------------------------------------------------------------------- main


def print_table(results: list[fb.Result], seeded: Seeded, server: str, total: float) -> None:
    print("\n== summary")
    print(f"    {fb.machine_info()}")
    print(f"    {server}; {seeded.live:,} live content items")
    header = (
        f"    {'workload':<22} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'api':>5} {'db':>5} {'bench':>5} {'other':>5}  checks"
    )
    print(header)
    print("    " + "-" * (len(header) - 4))
    for r in results:
        p50, p99 = r.percentile_ms(50), r.percentile_ms(99)
        cpu = r.cpu or fb.Cpu(None, 0.0, None, None, 0.0)
        print(
            f"    {r.name:<22} {r.ops:>8,} {r.rate:>8,.1f} {'-' if p50 is None else f'{p50:.1f}':>8} "
            f"{'-' if p99 is None else f'{p99:.1f}':>8} {sum(r.failures.values()):>6} {fb._pct(cpu.api):>5} "
            f"{fb._pct(cpu.services):>5} {fb._pct(r.cpu and cpu.bench):>5} {fb._pct(cpu.others):>5}  "
            f"{'ok' if r.ok else 'FAILED'}"
        )
    print(f'    feed = contentFeed(first: 20) (+ following pages); search = "{SEARCH_WORD}"; mixed = "{MIXED_QUERY}"')
    print("    CPU in % of one core: api = API server, db = PostgreSQL + Redis, bench = the clients, other = the rest")
    print(f"    total runtime {total:.1f} s")


async def prepare(args: argparse.Namespace) -> tuple[str, Seeded, list[str], fb.Result]:
    try:
        server = await fb.server_version()
        print(f"    {server}; {fb.machine_info()}")
        print("\n== seeding")
        seeded = await seed(args)
        tokens = await mint_tokens(seeded.viewers)
        explain = fb.Result("search EXPLAIN")
        for query in (SEARCH_WORD, MIXED_QUERY):
            used, plan = await explain_search(seeded.viewers[0], query)
            timing = next((line.strip() for line in plan.splitlines() if "Execution Time" in line), "")
            fb.check(
                explain,
                f'GIN index for "{query}"',
                used,
                f"ix_content_items_search {'used' if used else 'NOT used'}; {timing}",
            )
            if args.show_plans or not used:
                print("      " + plan.replace("\n", "\n      "))
        if args.profile:
            await profile(args, seeded.viewers[0], tokens[0])
        return server, seeded, tokens, explain
    finally:
        from core import queue

        await queue.close_pool()
        await dispose_engine()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=50_000, help="published (live) items")
    parser.add_argument("--drafts", type=int, default=2_000, help="drafts besides them (never read)")
    parser.add_argument("--archived", type=int, default=1_000, help="archived items besides them (never read)")
    parser.add_argument("--bodies", type=int, default=120, help="distinct bodies per condition")
    parser.add_argument("--viewers", type=int, default=64, help="signed-in patients (one token per client)")
    parser.add_argument(
        "--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64], help="clients, e.g. 1,16,64"
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved API / raw asyncpg windows per level")
    parser.add_argument("--api-workers", type=int, default=1, help="API processes (portal serve --workers)")
    parser.add_argument(
        "--quick", action="store_true", help="development run: 10,000 items, the feed only, 6 s per level and side"
    )
    parser.add_argument(
        "--workloads",
        type=lambda s: s.split(","),
        default=["feed", "search", "mixed"],
        help="comma-separated: feed, search, mixed",
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per workload")
    parser.add_argument("--pages", type=int, default=3, help="feed sessions follow endCursor for 1 to this many pages")
    parser.add_argument("--page-size", type=int, default=20, help="first: per request")
    parser.add_argument("--seed", type=int, default=20261201, help="random seed of the corpus and the plan")
    parser.add_argument("--show-plans", action="store_true", help="print the EXPLAIN ANALYZE plans")
    parser.add_argument(
        "--profile", choices=["feed", "search", "mixed"], help="profile one workload in-process (pyinstrument) first"
    )
    parser.add_argument("--profile-requests", type=int, default=50, help="requests profiled with --profile")
    parser.add_argument("--no-http", action="store_true", help="seed, EXPLAIN (and profile) only")
    args = parser.parse_args()
    if args.quick:
        args.articles, args.duration, args.warmup, args.workloads = 10_000, 6, 2, ["feed"]
    if args.profile and args.profile not in args.workloads:
        args.workloads.append(args.profile)
    return args


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
    os.environ.setdefault("PORTAL_ACCESS_TOKEN_TTL_SECONDS", "3600")
    reset_settings()
    from core.logging import configure_logging

    configure_logging()
    env = fb.Environment()
    results: list[fb.Result] = []
    versus: list[fb.Versus] = []
    try:
        fb.start_environment(env)
        server, seeded, tokens, explain = asyncio.run(prepare(args))
        results.append(explain)
        if not args.no_http:
            base_url = fb.start_api(env, max(args.levels), args.api_workers)
            assert env.api is not None
            print(f"\n    API (portal serve, {args.api_workers} worker(s), pid {env.api.pid}) ready at {base_url}")
            http_results, versus = asyncio.run(run_http(base_url, env.api.pid, tokens, args))
            fb.stop_api(env)
            problems = fb.api_log_problems(env)
            print(f"    API server log: {len(problems)} warnings/errors")
            for line in problems[:5]:
                print(f"      {line[:300]}")
            if http_results:
                fb.check(http_results[-1], "API log clean", not problems, f"{len(problems)} lines")
            results = http_results + results
    finally:
        env.stop()
    print_table([r for r in results if r.ops], seeded, server, time.perf_counter() - started)
    fb.print_versus(versus)
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
