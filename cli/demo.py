"""Chinese demo data: sites, one staff account per role, a dozen patients. Safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cli.demo_info import DEMO_PASSWORD, DEMO_STAFF
from core import meta
from core.db import unit_of_work
from core.identity import SYSTEM
from patients import service
from patients.models import ConsentChannel, ConsentPurpose, Site, Staff

SEEDED_KEY = "demo_seeded_at"

SITES = [
    ("KN-MAIN", "康宁医院总院区", "campus", "上海市徐汇区漕溪北路88号", "021-64000001"),
    ("KN-EAST", "康宁医院浦东院区", "campus", "上海市浦东新区张杨路1200号", "021-58000002"),
    ("KN-JA", "康宁静安门诊部", "clinic", "上海市静安区南京西路1515号", "021-62000003"),
]

# phone, nickname, real name, birth year, gender, conditions, marketing SMS consent
PATIENTS = [
    ("13800000001", "糖友小王", "王建国", 1962, "male", ["diabetes", "hypertension"], True),
    ("13800000002", "阳光奶奶", "李秀英", 1955, "female", ["hypertension", "osteoporosis"], False),
    ("13800000003", "控糖达人", "张伟", 1978, "male", ["diabetes"], True),
    ("13800000004", "向日葵", "刘芳", 1983, "female", ["breast_cancer_postop"], False),
    ("13800000005", "准妈妈小陈", "陈静", 1994, "female", ["pregnancy"], True),
    ("13800000006", "老杨爱跑步", "杨军", 1968, "male", ["coronary_heart_disease", "hyperlipidemia"], False),
    ("13800000007", "健康小赵", "赵敏", 1990, "female", [], True),
    ("13800000008", "孙大爷", "孙德明", 1950, "male", ["copd", "hypertension"], False),
    ("13800000009", "周周", "周丽", 1987, "female", ["thyroid"], True),
    ("13800000010", "吴先生", "吴强", 1975, "male", ["gout", "hyperlipidemia"], False),
    ("13800000011", "郑阿姨", "郑桂兰", 1958, "female", ["diabetes", "osteoporosis"], True),
    ("13800000012", "小冯", "冯磊", 1999, "male", [], False),
]


async def _seed(session: AsyncSession) -> None:
    sites: dict[str, Site] = {s.code: s for s in await session.scalars(select(Site))}
    for code, name, kind, address, phone in SITES:
        if code not in sites:
            sites[code] = await service.create_site(
                session, SYSTEM, code=code, name=name, kind=kind, address=address, phone=phone
            )
    await session.flush()
    main_site = sites["KN-MAIN"].id
    existing = set(await session.scalars(select(Staff.email)))
    for email, name, roles in DEMO_STAFF:
        if email not in existing:
            await service.create_staff(
                session, SYSTEM, email=email, name=name, password=DEMO_PASSWORD, roles=roles, site_id=main_site
            )
    for i, (phone, nickname, real_name, year, gender, conditions, marketing) in enumerate(PATIENTS):
        patient, created = await service.register_patient(session, SYSTEM, phone=phone, nickname=nickname)
        if not created:
            continue
        await service.update_profile(
            session,
            SYSTEM,
            service.ProfileChanges(
                real_name=real_name,
                birth_year=year,
                gender=gender,
                condition_codes=conditions,
                home_site_id=list(sites.values())[i % len(sites)].id,
            ),
            patient_id=patient.id,
        )
        items = [
            service.ConsentChange(ConsentChannel.SMS.value, ConsentPurpose.SERVICE.value, True),
            service.ConsentChange(ConsentChannel.SMS.value, ConsentPurpose.MARKETING.value, marketing),
            service.ConsentChange(ConsentChannel.IN_APP.value, ConsentPurpose.MARKETING.value, True),
        ]
        await service.update_consents(
            session, SYSTEM, items, source="front_desk", note="门诊纸质授权书", patient_id=patient.id
        )


REWARDS = [
    ("家用血糖仪", "品牌家用血糖仪一台，含50片试纸", "gift", 1200, 20, None, 1),
    ("电子血压计", "上臂式电子血压计一台", "gift", 1500, 15, None, 1),
    ("营养门诊咨询券", "营养科门诊咨询一次（30分钟）", "service_voucher", 300, None, None, 2),
    ("体检套餐9折券", "基础体检套餐九折优惠", "discount", 200, None, None, None),
    ("免费基础体检", "基础体检套餐一次", "checkup", 2500, 10, "silver", 1),
    ("中医理疗体验券", "中医理疗（艾灸或推拿）体验一次", "service_voucher", 600, 50, None, 2),
]

# patient index, days ago, department, consultation self-paid (fen), drug self-paid (fen), insured (fen)
VISITS = [
    (0, 200, "内分泌科", 30000, 45000, 60000),
    (0, 120, "内分泌科", 25000, 38000, 52000),
    (0, 40, "心内科", 40000, 20000, 30000),
    (0, 3, "内分泌科", 15000, 30000, 40000),
    (1, 90, "心内科", 20000, 60000, 80000),
    (1, 10, "骨科", 35000, 0, 20000),
    (2, 60, "内分泌科", 50000, 40000, 30000),
    (3, 150, "乳腺外科", 80000, 120000, 200000),
    (3, 30, "肿瘤康复科", 60000, 0, 50000),
    (4, 20, "产科", 30000, 0, 10000),
    (5, 250, "心内科", 20000, 30000, 50000),
    (7, 5, "全科", 8000, 0, 2000),
    (10, 300, "内分泌科", 20000, 50000, 60000),
]


async def _seed_loyalty(session: AsyncSession) -> None:
    from core import clock
    from loyalty import lifecycle, referrals, rewards, visits
    from loyalty.models import Reward
    from patients.queries import patient_by_phone

    existing = set(await session.scalars(select(Reward.name)))
    for name, description, category, cost, stock, tier, limit in REWARDS:
        if name not in existing:
            await rewards.create_reward(
                session,
                SYSTEM,
                rewards.RewardInput(
                    name=name,
                    description=description,
                    category=category,
                    points_cost=cost,
                    stock=stock,
                    tier_required=tier,
                    per_member_limit=limit,
                ),
            )
    members = [await patient_by_phone(session, phone) for phone, *_ in PATIENTS]
    for member in members:
        if member is not None:
            await referrals.ensure_code(session, member.id)
    for index, days_ago, department, consultation, drug, insured in VISITS:
        member = members[index]
        assert member is not None
        data = visits.VisitData(
            external_id=f"DEMO-{index:02d}-{days_ago:03d}",
            visited_at=clock.now() - timedelta(days=days_ago),
            status="completed",
            department=department,
            patient_id=member.id,
            site_code=SITES[index % 3][0],
            items=[
                visits.VisitItem("registration", 1000, 0),
                visits.VisitItem("consultation", consultation, insured),
                visits.VisitItem("drug", drug, 0),
            ],
        )
        await visits.record(session, SYSTEM, data, source="his")
    await lifecycle.recompute(session, [m.id for m in members if m is not None], reason="demo")


# slug, name, condition, visibility, join policy, anonymous, alias prefix, description
GROUPS = [
    (
        "tangyou",
        "糖友互助社群",
        "diabetes",
        "public",
        "open",
        True,
        "糖友",
        "糖尿病患者和家属交流控糖经验，内分泌科医生定期答疑。",
    ),
    (
        "xueya",
        "高血压管理群",
        "hypertension",
        "members",
        "approval",
        False,
        "病友",
        "一起监测血压、坚持服药，心内科健康管理师陪伴。",
    ),
    (
        "fenhong",
        "粉红丝带·乳腺癌术后康复群",
        "breast_cancer_postop",
        "private",
        "verified",
        True,
        "丝带",
        "术后康复、心理支持与复查提醒；入群需医护确认诊断。",
    ),
    ("yunma", "孕妈妈交流群", "pregnancy", "members", "open", True, "孕妈", "孕期保健、产检安排与育儿准备。"),
    ("shudong", "心灵树洞", "depression", "secret", "invite", True, "树洞", "仅限邀请的心理支持小组，严格保密。"),
]
# group slug, author patient index, kind, title, body, anonymous
POSTS = [
    (
        "tangyou",
        0,
        "experience",
        "控糖三个月，糖化从8.5降到6.9",
        "坚持**饭后散步30分钟**，主食换成杂粮饭，每天记录血糖。",
        False,
    ),
    (
        "tangyou",
        2,
        "question",
        "空腹血糖总在7以上怎么办？",
        "晚饭吃得不多，但早上空腹还是7.2左右，需要调整用药吗？",
        False,
    ),
    ("tangyou", 10, "discussion", "大家用什么血糖仪？", "想换一个采血不疼的，求推荐使用体验。", True),
    ("xueya", 1, "experience", "每天早晚量血压的小习惯", "起床后先静坐5分钟再测，数值稳定多了。", False),
    ("xueya", 7, "question", "降压药可以自己停吗？", "最近血压正常了，能不能先停药观察？", False),
    ("fenhong", 3, "experience", "术后一年复查全部正常", "感谢群里姐妹的鼓励，坚持功能锻炼很重要。", True),
    ("yunma", 4, "question", "孕中期可以做哪些运动？", "24周了，想每天动一动，有什么推荐？", False),
]


# email, 执业证书编号, specialty of the demo clinicians (made up; 15 digits like a real 医师执业证书编码)
DEMO_CREDENTIALS = [
    ("doctor@demo.kangning.cn", "110310000012345", "内分泌科"),
    ("manager@demo.kangning.cn", "HM3100002024017", "健康管理"),
]


async def _seed_community(session: AsyncSession) -> None:
    from community import credentials, events, groups, posts
    from community.models import Group, Membership
    from core import clock
    from core.identity import Actor, ActorKind, Role
    from patients.queries import patient_by_phone

    if await session.scalar(select(Group.id).limit(1)) is not None:
        return
    staff = {s.email: s for s in await session.scalars(select(Staff))}
    moderator_id = staff["moderator@demo.kangning.cn"].id
    doctor_id = staff["doctor@demo.kangning.cn"].id
    moderator = Actor(kind=ActorKind.STAFF, id=moderator_id, roles=frozenset({Role.MODERATOR}))
    doctor = Actor(kind=ActorKind.STAFF, id=doctor_id, roles=frozenset({Role.DOCTOR}))
    marketer = Actor(kind=ActorKind.STAFF, id=staff["marketer@demo.kangning.cn"].id, roles=frozenset({Role.MARKETER}))
    members = [await patient_by_phone(session, phone) for phone, *_ in PATIENTS]
    by_slug: dict[str, Group] = {}
    for slug, name, condition, visibility, policy, anonymous, prefix, description in GROUPS:
        by_slug[slug] = await groups.create_group(
            session,
            moderator,
            groups.GroupInput(
                slug=slug,
                name=name,
                visibility=visibility,
                join_policy=policy,
                condition_code=condition,
                description=description,
                rules_text="互相尊重；不发广告；不替代医生诊疗，紧急情况请拨打120。",
                allow_anonymous=anonymous,
                alias_prefix=prefix,
            ),
        )
        await groups.set_role(
            session, moderator, by_slug[slug].id, account_kind="staff", account_id=moderator_id, role="moderator"
        )
    # The clinicians' practising certificates, recorded and verified by the admin: what makes them experts.
    admin = Actor(kind=ActorKind.STAFF, id=staff["admin@demo.kangning.cn"].id, roles=frozenset({Role.ADMIN}))
    for email, number, specialty in DEMO_CREDENTIALS:
        credential = await credentials.record(
            session,
            admin,
            credentials.CredentialInput(
                staff_id=staff[email].id,
                certificate_number=number,
                institution="康宁医院总院区",
                specialty=specialty,
                evidence_key=f"credentials/demo/{number}.pdf",
                expires_at=clock.now() + timedelta(days=3 * 365),
            ),
        )
        await credentials.verify(session, admin, credential.id)
    await groups.set_role(
        session, moderator, by_slug["tangyou"].id, account_kind="staff", account_id=doctor_id, role="expert"
    )
    for i, (_, _, _, _, _, conditions, _) in enumerate(PATIENTS):
        member = members[i]
        assert member is not None
        actor = Actor(kind=ActorKind.PATIENT, id=member.id)
        for slug, _, condition, _, policy, *_ in GROUPS:
            if condition not in conditions and not (slug == "tangyou" and i % 3 == 0):
                continue
            if policy == "invite":
                await groups.invite(session, moderator, by_slug[slug].id, member.id)
            m = await groups.join(session, actor, by_slug[slug].id, note="希望和大家一起交流")
            if m.state == "pending":
                checker = doctor if policy == "verified" else moderator
                await groups.decide_request(session, checker, m.id, approve=True)
    # The demo members joined a while ago, so the new-member limits do not apply to them.
    await session.execute(update(Membership).values(joined_at=clock.now() - timedelta(days=60)))
    created = {}
    for slug, index, kind, title, body, anonymous in POSTS:
        author = members[index]
        assert author is not None
        result = await posts.create_post(
            session,
            Actor(kind=ActorKind.PATIENT, id=author.id),
            group_id=by_slug[slug].id,
            kind=kind,
            title=title,
            body=body,
            anonymous=anonymous,
        )
        created[title] = result.item
    question = created["空腹血糖总在7以上怎么办？"]
    answer = await posts.create_comment(
        session,
        doctor,
        post_id=question.id,
        body="空腹偏高常见于夜间肝糖输出增多，建议记录睡前血糖，并带记录来内分泌科门诊调整方案。",
    )
    await posts.verify_answer(session, doctor, post_id=question.id, comment_id=answer.item.id)
    asker = Actor(kind=ActorKind.PATIENT, id=question.author_id)
    await posts.accept_answer(session, asker, post_id=question.id, comment_id=answer.item.id)
    share = created["控糖三个月，糖化从8.5降到6.9"]
    commenter = members[10]
    assert commenter is not None
    await posts.create_comment(
        session,
        Actor(kind=ActorKind.PATIENT, id=commenter.id),
        post_id=share.id,
        body="太厉害了！请问杂粮饭怎么搭配？",
    )
    await posts.react(session, asker, target_kind="post", target_id=share.id, kind="like")
    await posts.set_flags(session, moderator, share.id, pinned=True, reason="优秀经验分享")
    now = clock.now()
    lecture = await events.create_event(
        session,
        marketer,
        events.EventInput(
            kind="online_lecture",
            title="糖尿病饮食管理线上讲座",
            group_id=by_slug["tangyou"].id,
            starts_at=now + timedelta(days=5),
            ends_at=now + timedelta(days=5, hours=1),
            host_name="陈医生",
            online_link="https://live.example.cn/kangning/diet",
            capacity=200,
            description="内分泌科陈医生讲解控糖饮食与食物交换份。",
        ),
    )
    site = await session.scalar(select(Site).where(Site.code == "KN-MAIN"))
    clinic = await events.create_event(
        session,
        marketer,
        events.EventInput(
            kind="free_clinic",
            title="社区高血压义诊",
            site_id=site.id if site else None,
            starts_at=now + timedelta(days=9),
            ends_at=now + timedelta(days=9, hours=3),
            location="总院区门诊大厅",
            capacity=30,
            registration_deadline=now + timedelta(days=8),
            description="免费测血压、用药咨询。",
        ),
    )
    for member in members[:4]:
        assert member is not None
        await events.rsvp(session, Actor(kind=ActorKind.PATIENT, id=member.id), lecture[0].id, "going")
        await events.rsvp(session, Actor(kind=ActorKind.PATIENT, id=member.id), clinic[0].id, "going")


async def _seed_content(session: AsyncSession) -> None:
    from content import demo as content_demo
    from content.models import ContentItem

    if await session.scalar(select(ContentItem.id).limit(1)) is not None:
        return
    staff = {s.email: s for s in await session.scalars(select(Staff))}
    await content_demo.seed(
        session,
        author_id=staff["marketer@demo.kangning.cn"].id,
        reviewer_id=staff["reviewer@demo.kangning.cn"].id,
    )


async def _seed_campaigns(session: AsyncSession) -> None:
    """Two saved segments, a campaign approved and sending, one waiting for review."""
    from campaigns import segments
    from campaigns import service as campaigns
    from campaigns.models import Segment
    from core.identity import Actor, ActorKind, Role

    if await session.scalar(select(Segment.id).limit(1)) is not None:
        return
    staff = {s.email: s for s in await session.scalars(select(Staff))}
    marketer = Actor(kind=ActorKind.STAFF, id=staff["marketer@demo.kangning.cn"].id, roles=frozenset({Role.MARKETER}))
    reviewer = Actor(kind=ActorKind.STAFF, id=staff["reviewer@demo.kangning.cn"].id, roles=frozenset({Role.REVIEWER}))
    diabetes = await segments.create_segment(
        session,
        marketer,
        name="糖友（站内信）",
        description="确诊糖尿病的会员",
        criteria=segments.SegmentCriteria(conditions=["diabetes"]),
    )
    dormant = await segments.create_segment(
        session,
        marketer,
        name="半年未就诊",
        description="沉睡期会员，用于回访关怀",
        criteria=segments.SegmentCriteria(stages=["dormant"]),
    )
    lecture = await campaigns.create_campaign(
        session,
        marketer,
        campaigns.CampaignInput(
            name="联合国糖尿病日·控糖公益讲座邀请",
            kind="marketing",
            channels=["in_app"],
            subject="控糖公益讲座邀请",
            body="{nickname}您好，本周六内分泌科专家控糖公益讲座，欢迎报名参加。",
            segment_id=diabetes.id,
        ),
    )
    await campaigns.submit(session, marketer, lecture.id)
    await campaigns.approve(session, reviewer, lecture.id, comment="内容合规，同意发送")
    recall = await campaigns.create_campaign(
        session,
        marketer,
        campaigns.CampaignInput(
            name="沉睡会员回访关怀",
            kind="care",
            channels=["sms", "in_app"],
            body="{nickname}您好，康宁医院提醒您按时复诊，如需预约请回复或致电门诊部。",
            segment_id=dormant.id,
        ),
    )
    await campaigns.submit(session, marketer, recall.id)


async def _seed_care() -> None:
    """Surveys for the recent demo visits (as the cron would send them); one unhappy answer opens a
    complaint, so the complaint desk has something on its clock."""
    from care import surveys
    from care.models import Survey
    from core.identity import Actor, ActorKind
    from patients.queries import patient_by_phone

    await surveys.run_due()
    async with unit_of_work() as session:
        patient = await patient_by_phone(session, PATIENTS[1][0])
        assert patient is not None
        survey = await session.scalar(
            select(Survey).where(Survey.patient_id == patient.id, Survey.answered_at.is_(None)).limit(1)
        )
        if survey is not None:
            actor = Actor(kind=ActorKind.PATIENT, id=patient.id)
            await surveys.answer(session, actor, survey.id, 5, "取药排队等太久了，希望改进。")


async def seed_demo(*, if_empty: bool = False) -> bool:
    """Returns False when `if_empty` and the demo data was already loaded."""
    from core import clock
    from loyalty import jobs as loyalty_jobs

    async with unit_of_work() as session:
        if if_empty and await meta.get_value(session, SEEDED_KEY):
            return False
        await _seed(session)
        await session.flush()
        await _seed_loyalty(session)
        await session.flush()
        await _seed_community(session)
        await session.flush()
        await _seed_content(session)
        await session.flush()
        await _seed_campaigns(session)
        await meta.set_value(session, SEEDED_KEY, clock.now().isoformat())
    # Visits older than the cooling-off are settled, as the worker would have done over time.
    await loyalty_jobs.settle_due()
    await _seed_care()
    return True
