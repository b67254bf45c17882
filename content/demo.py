"""Chinese demo content: 24 health-education articles across conditions, plus one members-only
and one tier-gated item, published through the real workflow (create, submit with the compliance
check, approval by a reviewer who is not the author, publish), and a few items in every other
workflow state so the review console has something to show. The CLI wires this into the demo."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from content import service
from content.models import ContentItem
from content.service import ContentInput
from core import clock
from core.identity import Actor, ActorKind, Role

# condition, title, summary, body, topics
ARTICLES: list[tuple[str, str, str, str, list[str]]] = [
    (
        "diabetes",
        "糖尿病患者如何科学控制血糖",
        "饮食、运动、监测与用药四个方面",
        "控制血糖需要长期坚持。**规律监测血糖**，记录空腹和餐后两小时的数值，复诊时带给医生参考。",
        ["血糖管理"],
    ),
    (
        "diabetes",
        "糖友的一日三餐怎么吃",
        "主食定量、粗细搭配、少食多餐",
        "每餐主食定量，粗粮占三分之一；蔬菜先吃，蛋白质适量，水果放在两餐之间。",
        ["饮食"],
    ),
    (
        "diabetes",
        "低血糖的识别与处理",
        "心慌、出汗、手抖时要警惕",
        "出现心慌、出汗、手抖时立即测血糖，低于3.9时吃15克快速升糖食物，15分钟后复测。",
        ["急救知识"],
    ),
    (
        "diabetes",
        "糖尿病足的日常护理",
        "每天检查双脚，选择合适的鞋袜",
        "每天用温水洗脚并擦干趾缝，检查有无破损；不要赤脚走路，发现伤口及时就医。",
        ["护理"],
    ),
    (
        "diabetes",
        "读懂糖化血红蛋白 HbA1c",
        "反映近三个月的平均血糖水平",
        "HbA1c 反映近2到3个月的平均血糖，多数成人糖友的控制目标在7%左右，具体请遵医嘱。",
        ["检查解读"],
    ),
    (
        "hypertension",
        "家庭自测血压的正确方法",
        "安静休息五分钟后测量",
        "测量前安静休息5分钟，坐位、上臂与心脏同高；早晚各测两次，取平均值记录。",
        ["血压管理"],
    ),
    (
        "hypertension",
        "高血压患者的限盐小技巧",
        "每日食盐不超过5克",
        "使用限盐勺，少吃腌制食品和加工肉类；多用葱姜蒜和醋调味，逐步适应清淡口味。",
        ["饮食"],
    ),
    (
        "hypertension",
        "降压药为什么不能随意停",
        "血压正常是药物控制的结果",
        "血压达标往往是坚持服药的结果，自行停药可能导致血压反弹，调整用药请咨询医生。",
        ["用药"],
    ),
    (
        "hypertension",
        "高血压与睡眠",
        "睡得好有助于血压平稳",
        "保持规律作息，睡前避免浓茶咖啡；打鼾明显、白天嗜睡的朋友建议做睡眠呼吸监测。",
        ["睡眠"],
    ),
    (
        "coronary_heart_disease",
        "冠心病患者的运动指南",
        "循序渐进的有氧运动",
        "在医生评估后选择快走、太极等有氧运动，每次30分钟左右，出现胸闷时立即停止并休息。",
        ["运动"],
    ),
    (
        "coronary_heart_disease",
        "认识心绞痛的信号",
        "胸闷胸痛持续不缓解要尽快就医",
        "胸骨后压迫感、放射到左肩或下颌，休息后不缓解时请立即拨打急救电话。",
        ["急救知识"],
    ),
    (
        "hyperlipidemia",
        "血脂报告怎么看",
        "总胆固醇、甘油三酯、低密度脂蛋白",
        "重点关注低密度脂蛋白胆固醇，不同风险人群的目标值不同，请结合医生意见解读。",
        ["检查解读"],
    ),
    (
        "hyperlipidemia",
        "降脂饮食的三个要点",
        "少油、少饱和脂肪、多膳食纤维",
        "少吃动物内脏和油炸食品，烹调用油每天25克以内，多吃燕麦、豆类和蔬菜。",
        ["饮食"],
    ),
    (
        "osteoporosis",
        "骨质疏松的预防从年轻开始",
        "钙、维生素D与负重运动",
        "保证奶制品摄入，适当晒太阳，坚持快走、慢跑等负重运动，绝经后女性建议定期查骨密度。",
        ["运动"],
    ),
    (
        "osteoporosis",
        "老人防跌倒居家改造",
        "防滑、照明、扶手",
        "浴室铺防滑垫，夜间保留小夜灯，马桶和淋浴旁安装扶手，常用物品放在顺手的高度。",
        ["居家安全"],
    ),
    (
        "copd",
        "慢阻肺患者的呼吸训练",
        "缩唇呼吸与腹式呼吸",
        "缩唇呼吸：用鼻吸气两秒，缩唇缓慢呼气四到六秒，每天练习数次，有助于改善气短。",
        ["康复"],
    ),
    (
        "copd",
        "吸入装置的正确使用",
        "用对方法药物才能到达肺部",
        "使用前先呼气，含住吸嘴深吸气后屏气约10秒；用完激素类吸入剂记得漱口。",
        ["用药"],
    ),
    (
        "gout",
        "痛风患者的饮水与饮食",
        "多喝水、少吃高嘌呤食物",
        "每天饮水2000毫升以上，少喝啤酒和浓肉汤，海鲜和动物内脏要控制。",
        ["饮食"],
    ),
    (
        "ckd",
        "慢性肾病患者的蛋白质摄入",
        "优质低蛋白饮食",
        "在营养师指导下控制蛋白质总量，优先选择鸡蛋、牛奶、瘦肉等优质蛋白。",
        ["饮食"],
    ),
    (
        "thyroid",
        "甲状腺结节体检发现后怎么办",
        "多数结节是良性的",
        "体检发现结节不必紧张，按医生建议做超声分级评估，定期复查即可。",
        ["检查解读"],
    ),
    (
        "breast_cancer_postop",
        "乳腺癌术后上肢功能锻炼",
        "循序渐进，预防淋巴水肿",
        "术后早期从握拳、屈肘开始，逐步过渡到爬墙、梳头等动作，避免患侧提重物。",
        ["康复"],
    ),
    (
        "pregnancy",
        "孕期血糖筛查须知",
        "孕24到28周做糖耐量试验",
        "孕24到28周进行口服葡萄糖耐量试验，检查前一天晚餐后禁食，早晨空腹到院。",
        ["孕期保健"],
    ),
    (
        "depression",
        "情绪低落时可以做的几件小事",
        "照顾好自己，必要时寻求专业帮助",
        "保持规律作息，每天到户外走一走，与信任的人聊一聊；持续两周以上情绪低落请及时就诊。",
        ["心理健康"],
    ),
    (
        "",
        "冬季慢病患者保暖指南",
        "寒冷天气更要关注血压与心脏",
        "出门注意头颈部保暖，晨起动作放慢；血压波动大的朋友增加监测次数。",
        ["季节保健"],
    ),
]


async def seed(session: AsyncSession, *, author_id: uuid.UUID, reviewer_id: uuid.UUID) -> list[ContentItem]:
    """Publish the demo items (the caller's unit of work commits). Returns the items."""
    author = Actor(kind=ActorKind.STAFF, id=author_id, roles=frozenset({Role.MARKETER}))
    reviewer = Actor(kind=ActorKind.STAFF, id=reviewer_id, roles=frozenset({Role.REVIEWER}))
    inputs = [
        ContentInput(
            kind="article",
            title=title,
            summary=summary,
            body=body,
            condition_codes=[code] if code else [],
            topics=topics,
        )
        for code, title, summary, body, topics in ARTICLES
    ]
    inputs.append(
        ContentInput(
            kind="article",
            title="会员专享：血糖仪使用与校准",
            summary="登录会员可读",
            body="每次使用新批号试纸前核对代码，定期用质控液校准。",
            condition_codes=["diabetes"],
            gate="members",
        )
    )
    inputs.append(
        ContentInput(
            kind="announcement",
            title="金卡会员专属：年度健康讲座回放",
            summary="金卡及以上会员可看",
            body="本年度系列健康讲座的回放已上线。",
            gate="tier",
            gate_min_tier_rank=2,
        )
    )
    items = []
    start = clock.now() - timedelta(days=len(inputs))
    for n, data in enumerate(inputs):
        item = await service.create_item(session, author, data)
        await service.submit(session, author, item.id)
        await service.approve(session, reviewer, item.id, comment="审核通过")
        await service.publish(session, author, item.id)
        item.published_at = start + timedelta(days=n)  # spread over recent days for a realistic feed
        items.append(item)
    await _seed_workflow_states(session, author, reviewer)
    return items


# status the item is left in, title, body
WORKFLOW_ITEMS: list[tuple[str, str, str]] = [
    ("draft", "草稿：春季过敏性鼻炎防护", "花粉季外出佩戴口罩，回家后清洗鼻腔。"),
    ("draft", "草稿：儿童近视防控小贴士", "每天户外活动两小时，读写距离保持一尺。"),
    ("in_review", "待审：骨质疏松患者的补钙误区", "补钙要同时关注维生素D和日照，遵医嘱选择钙剂。"),
    ("in_review", "待审：甲状腺结节一定要手术吗", "多数结节为良性，按医生建议定期复查超声即可。"),
    ("rejected", "本中心新疗法根治糖尿病", "采用独家方案，治愈率高达95%，永不复发。"),
    ("approved", "已审：秋冬季节如何预防流感", "接种流感疫苗，勤洗手，保持室内通风。"),
    ("scheduled", "预告：世界慢阻肺日呼吸康复讲座", "本月将举办呼吸康复公益讲座，欢迎患者和家属参加。"),
    ("archived", "旧闻：院区停车场改造通知", "停车场改造已完成，感谢大家的理解与配合。"),
]


async def _seed_workflow_states(session: AsyncSession, author: Actor, reviewer: Actor) -> None:
    for status, title, body in WORKFLOW_ITEMS:
        kind = "announcement" if status in {"scheduled", "archived"} else "article"
        item = await service.create_item(session, author, ContentInput(kind=kind, title=title, summary="", body=body))
        if status == "draft":
            continue
        await service.submit(session, author, item.id)
        if status == "in_review":
            continue
        if status == "rejected":
            await service.reject(
                session, reviewer, item.id, comment="含有“根治”“治愈率”等违规宣传用语，请修改后重新提交。"
            )
            continue
        await service.approve(session, reviewer, item.id, comment="审核通过")
        if status == "scheduled":
            await service.publish(session, author, item.id, at=clock.now() + timedelta(days=3))
        elif status == "archived":
            await service.publish(session, author, item.id)
            await service.archive(session, author, item.id)
