"""Built-in rules over the dense normal form (content/normalise.py): the variants of banned claims
that a word list of literal phrases misses, and patient testimonials.

Claims (`block`): synonyms of a cure (治愈/治好/根除/断根/除根 with 彻底/完全/永久 ...), guarantees
(保证/担保/确保/承诺/包 + 治愈/有效/见效 ...), 100% in all its spellings, refunds if it does not work,
instant effect (立竿见影, 一针见效 ...), cure within a period in digits or number words (三天见效), no
side effects, never relapsing. A claim directly after a negation (无法彻底治愈, 不能保证有效, 不会马上
见效) is the truth, not an advertisement, and is not flagged.

Testimonials (`warn`): a person (我, 王某, 李阿姨, 患者王某) or a treatment taken (吃了, 用了, 治疗后)
followed in the same sentence by an outcome (就正常了, 痊愈, 再也没复发).

Every pattern is linear: alternations of literals, bounded gaps ({0,25}), no nested repetition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from content.normalise import Dense


@dataclass(frozen=True)
class Rule:
    category: str
    note: str
    pattern: re.Pattern[str]


_CURE = "治愈|治好|痊愈|根治|根除|断根|除根|去病根|祛病根"
_NUMBER = r"(?:(?<![\d零一二三四五六七八九十百两半])(?:\d{1,4}|[零一二三四五六七八九十百两半]{1,4}))"

CLAIMS: tuple[Rule, ...] = (
    Rule(
        "forbidden_claim",
        "不得宣称彻底治愈",
        re.compile(rf"(?:彻底|完全|永久|永远|一次性|根本上?|百分百)(?:地|的|性)?(?:能|可以|会)?(?:{_CURE})"),
    ),
    Rule(
        "forbidden_claim",
        "不得宣称断根",
        # 不断根据, 斩草除根, 切除根部 are not claims
        re.compile(r"断根(?![据本基源茎部系须])|(?<!斩草)除根(?![据本基源茎部系须])|(?:去|祛|除)病根"),
    ),
    Rule(
        "guarantee",
        "不得保证疗效",
        re.compile(
            rf"(?:保证|担保|包管|承诺|打包票)(?:能|可以|会|一定|让您|让你)?(?:{_CURE}|有效|见效|康复|好转)"
            rf"|确保(?:能|可以|一定)?(?:{_CURE}|见效)"
            r"|包(?:治好|治愈|见效|痊愈|根治|断根|好转)"
        ),
    ),
    Rule(
        "guarantee",
        "不得保证有效",
        re.compile(rf"百分百(?:的)?(?:把握)?(?:能|可以|会)?(?:{_CURE}|有效|见效|康复|好转|安全)"),
    ),
    Rule(
        "guarantee",
        "不得以退款保证疗效",
        re.compile(
            r"(?:无效|没效果?|没有效果|不见效|治不好|未见效|不起效|没好)(?:全额|全部|双倍)?"
            r"(?:退款|退钱|退费|包退|返款|不收费|不要钱)"
            r"|不好不要钱|不好包退"
        ),
    ),
    Rule(
        "forbidden_claim",
        "不得宣称立竿见影",
        re.compile(
            rf"(?:马上|立即|立刻|即刻|立马|当天|当场|一次|一针|一贴|一剂|一副|一吃|一用|一喝)(?:就|便|即)?(?:{_CURE}|见效)"
            r"|立竿见影|药到病除|手到病除|一吃就好|一用就灵|吃完就好|服用即愈|一针灵|一贴灵"
        ),
    ),
    Rule(
        "guarantee",
        "不得承诺疗效期限",
        re.compile(
            rf"{_NUMBER}(?:个)?(?:天|日|周|星期|个月|月|疗程)(?:内|之内|左右)?(?:就|即|便|可|能|可以)?(?:{_CURE}|见效)"
        ),
    ),
    Rule(
        "forbidden_claim",
        "不得宣称无副作用",
        re.compile(r"(?:零|毫无|绝无|无任何|无毒|不会有任何|没有一点|一点也没有|完全没有)副作用"),
    ),
    Rule(
        "forbidden_claim",
        "不得宣称永不复发",
        re.compile(
            r"(?:永不|永远不|终身不|绝不|再也不)(?:会)?(?:复发|反弹|犯病)|停药(?:后)?(?:也)?(?:不|不会)(?:反弹|复发)"
        ),
    ),
)

# A negation just before a claim (with a few filler words between): 无法彻底治愈, 不能保证有效,
# 没有人能保证治愈, 不会马上见效. Searched in the few characters before the match, same sentence.
_NEGATED = re.compile(
    r"(?:不能|不可能|无法|难以|没法|没办法|不会|未能|不一定|未必|很难|不易|不可|并非|不是|并不|无从|不敢|没人|没有人|"
    r"谁也不|不|无|没|未|勿|别)"
    r"(?:够|被|做到|能|可以|会|一定|保证|真正|说|敢|人能|人可以)*$"
)
_NEGATION_WINDOW = 8


def negated(dense: Dense, start: int) -> bool:
    lo = max(dense.sentence_start(start), start - _NEGATION_WINDOW)
    return _NEGATED.search(dense.text, lo, start) is not None


def claim_hits(dense: Dense) -> Iterator[tuple[Rule, int, int]]:
    """Every built-in claim in the dense text: (rule, dense start, dense end)."""
    text = dense.text
    for rule in CLAIMS:
        for m in rule.pattern.finditer(text):
            start, end = m.span()
            if not dense.clause_split(start, end) and not negated(dense, start):
                yield rule, start, end


_SUBJECT = (
    r"(?:我|俺|本人|家母|家父|(?:患者|病人|病友|患儿)?(?:[\u4e00-\u9fff]某(?!些|种|个|项|类|一|人|天|地|处|时)"
    r"|[\u4e00-\u9fff](?:先生|女士|阿姨|大爷|大妈|大叔|大姐|奶奶|爷爷)))"
)
_TAKEN = (
    r"(?:吃了|服用了|服了|用了|喝了|涂了|贴了|试了|打了|做了|坚持服用|坚持吃|坚持用|坚持喝"
    r"|治疗后|手术后|服药后|用药后|调理后|吃完|用完|喝完|疗程后)"
)
_OUTCOME = (
    r"(?:痊愈|治愈了|治好了|断根了|康复出院"
    r"|(?:就|都|全|病|彻底|完全|很快|马上)好了"
    r"|(?:就|都|全|已经|终于|竟然|居然|很快|马上)(?:恢复)?正常了"
    r"|(?:就|都|终于|竟然|居然|很快|马上)(?:降下来|降到正常|稳定下来|消失|没了)了?"
    r"|再也没(?:有)?(?:复发|犯|发作|疼|痛|吃药|打针|用药|反复)"
    r"|没再(?:复发|犯|发作)"
    r"|不用(?:再)?(?:吃药|打针|打胰岛素)了)"
)
TESTIMONIAL = re.compile(
    rf"(?:{_SUBJECT}|{_TAKEN}).{{0,25}}?{_OUTCOME}|再也没(?:有)?(?:复发|犯过?|发作)|没再(?:复发|犯|发作)"
)


def testimonial_hits(dense: Dense) -> Iterator[tuple[int, int]]:
    """Outcome claims of a person, sentence by sentence: (dense start, dense end)."""
    for lo, hi in dense.sentences():
        for m in TESTIMONIAL.finditer(dense.text, lo, hi):
            yield m.span()
