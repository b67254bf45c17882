"""The default Chinese word list of the community filter and its exception phrases.

Categories (community.models.WordCategory):
- block: abuse and illegal trade; the post is refused with an error naming the words;
- hold: moving people off the platform (contact details, QR codes), published after review;
- ad: advertising and forbidden medical claims (the advertising law's 根治/包治/100%有效 ...), held;
- emergency: chest pain, breathing trouble, loss of consciousness, stroke signs, suicidal thoughts
  and self-harm; the post is visible to its author only, the author gets 120 and crisis-hotline
  information at once and the on-duty care team is alerted. A false alarm costs a review; a missed
  one may cost a life, so this list errs on the side of catching.

Exceptions are harmless phrases that contain a listed word (see community.wordfilter): a match
inside one of them is ignored, a match elsewhere in the same text still counts.

Admins edit the list in the database (sensitiveWordAdd/Remove); `ensure_default_words` only
inserts what is missing, so a word an admin switched off stays off.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community.models import SensitiveWord, WordCategory, WordException
from core import clock
from core.ids import new_id

DEFAULT_WORDS: dict[WordCategory, tuple[str, ...]] = {
    WordCategory.BLOCK: (
        # abuse
        "傻逼",
        "傻b",
        "脑残",
        "贱人",
        "去死吧",
        "操你妈",
        "草泥马",
        # illegal trade around medicine
        "代开处方",
        "出售处方药",
        "代开病假条",
        "代开诊断证明",
        "假病历",
        "办假证",
        "代孕",
        "卖肾",
        "买卖器官",
        "冰毒",
        "海洛因",
    ),
    WordCategory.HOLD: (
        "私信加我",
        "加微信",
        "加我微信",
        "加vx",
        "加qq",
        "加我qq",
        "微信号",
        "扫码进群",
        "扫码加群",
        "代购",
        "兼职",
        "免费领取",
    ),
    WordCategory.AD: (
        "根治",
        "包治",
        "祖传秘方",
        "特效药",
        "100%有效",
        "无副作用",
        "药到病除",
        "永不复发",
        "立竿见影",
        "一次见效",
        "神药",
        "保证治愈",
        "彻底治愈",
        "停药不反弹",
    ),
    WordCategory.EMERGENCY: (
        # body
        "胸痛",
        "胸口疼",
        "胸口痛",
        "呼吸困难",
        "喘不上气",
        "喘不过气",
        "昏迷",
        "意识不清",
        "口角歪斜",
        "大量出血",
        "吐血",
        # mind
        "想自杀",
        "自杀",
        "不想活了",
        "活不下去",
        "生不如死",
        "想死",
        "轻生",
        "割腕",
        "跳楼",
        "自残",
        "结束生命",
        "遗书",
    ),
}

DEFAULT_EXCEPTIONS: tuple[str, ...] = (
    # 根治 is a forbidden claim; 根治术 is an operation (乳腺癌改良根治术), and patients rightly say
    # a chronic disease 不能根治.
    "根治术",
    "不能根治",
    "无法根治",
    "没法根治",
    "不可能根治",
    "难以根治",
    # 特效药 as a claim vs. the common truth that there is none
    "没有特效药",
    "无特效药",
    # 胸痛中心 is a hospital department (the chest-pain centre), not a symptom
    "胸痛中心",
    # 跳楼价 is shop slang for a rock-bottom price; 想死你了 is "missed you so much"
    "跳楼价",
    "想死你了",
    "想死你们了",
    # 轻生 inside 年轻生活 / 轻生活
    "年轻生",
    "轻生活",
)


def default_entries() -> list[tuple[str, str]]:
    return [(word, category.value) for category, words in DEFAULT_WORDS.items() for word in words]


async def ensure_default_words(session: AsyncSession) -> None:
    """Insert the default words and exceptions that are missing (idempotent)."""
    now = clock.now()
    await session.execute(
        insert(SensitiveWord)
        .values(
            [
                {"id": new_id(), "word": w, "category": c, "note": "默认词库", "active": True, "created_at": now}
                for w, c in default_entries()
            ]
        )
        .on_conflict_do_nothing(index_elements=["word"])
    )
    await session.execute(
        insert(WordException)
        .values([{"id": new_id(), "phrase": p, "created_at": now} for p in DEFAULT_EXCEPTIONS])
        .on_conflict_do_nothing(index_elements=["phrase"])
    )
