"""condition catalogue (reference data every deployment needs)

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONDITIONS = [
    ("diabetes", "糖尿病", False),
    ("hypertension", "高血压", False),
    ("coronary_heart_disease", "冠心病", False),
    ("breast_cancer_postop", "乳腺癌术后", True),
    ("pregnancy", "孕产期", True),
    ("osteoporosis", "骨质疏松", False),
    ("hyperlipidemia", "高血脂", False),
    ("copd", "慢阻肺", False),
    ("ckd", "慢性肾病", True),
    ("gout", "痛风", False),
    ("thyroid", "甲状腺疾病", False),
    ("depression", "抑郁症", True),
]


def upgrade() -> None:
    table = sa.table("conditions", sa.column("code"), sa.column("name"), sa.column("sensitive"),
                     sa.column("sort_order"))
    for order, (code, name, sensitive) in enumerate(CONDITIONS):
        op.execute(sa.insert(table).values(code=code, name=name, sensitive=sensitive, sort_order=order * 10))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM conditions WHERE code = ANY(:codes)").bindparams(
        codes=[c for c, _, _ in CONDITIONS]))
