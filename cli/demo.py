"""Chinese demo data: sites, one staff account per role, a dozen patients. Safe to run twice."""

from __future__ import annotations

from sqlalchemy import select
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
        await service.update_consents(session, SYSTEM, items, source="门诊纸质授权书", patient_id=patient.id)


async def seed_demo(*, if_empty: bool = False) -> bool:
    """Returns False when `if_empty` and the demo data was already loaded."""
    async with unit_of_work() as session:
        if if_empty and await meta.get_value(session, SEEDED_KEY):
            return False
        await _seed(session)
        from core import clock

        await meta.set_value(session, SEEDED_KEY, clock.now().isoformat())
    return True
