"""patients: consent evidence (versioned notices; each answer records the notice, its hash and source)

`consent_notices` holds the texts patients read before a consent answer, seeded with one notice per
purpose (the same three as patients/notices.py). Every consent answer now records the notice version
it was given under and the hash of that text; `source` becomes one of app, wechat, front_desk,
import, sms_reply, registration, the free text it held moves to `source_note`.

Existing rows are backfilled with the seeded notice of their purpose (the terms they were given
under, written down now); their source is kept when it already is one of the kinds, otherwise it is
derived from who acted (the patient: app; staff: front_desk; nobody: import) and the old text kept as
the note. Purposes widen to 32 characters for the separate consent `marketing_sensitive`.

Revision ID: 0022
Revises: 0021
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = ("app", "wechat", "front_desk", "import", "sms_reply", "registration")
SOURCES_SQL = ", ".join(f"'{s}'" for s in SOURCES)

NOTICES = [
    (
        1,
        "service",
        "服务通知授权说明",
        "为向您提供预约、就诊、随访、积分与社群等服务，我们会通过您选择的渠道（站内消息、短信、"
        "电子邮件、微信）向您发送服务通知，例如预约与就诊提醒、就诊后满意度调查、积分到账与兑换进度、"
        "活动报名结果。服务通知不含营销内容，短信与锁屏通知中不会出现疾病名称。您可随时在“隐私与授权”"
        "中关闭某一渠道的服务通知。",
    ),
    (
        2,
        "marketing",
        "营销推送授权说明",
        "经您同意，我们会通过您选择的渠道向您推送健康讲座、义诊活动、会员权益与优惠信息。我们依据您的"
        "会员等级、就诊阶段、所在院区等一般信息挑选推送内容；除非您另行单独同意，不会依据您的病种等敏感"
        "健康信息挑选。推送受频次限制，夜间免打扰，短信与锁屏通知中不会出现疾病名称。您可随时在“隐私与"
        "授权”中撤回，或回复短信“退订”；撤回不影响撤回前已进行的推送。",
    ),
    (
        3,
        "marketing_sensitive",
        "基于敏感健康信息的个性化推送授权说明",
        "本授权为单独同意（《个人信息保护法》第二十九条、第三十条）。经您单独同意，我们会依据您在本平台"
        "登记的病种（可能包括抑郁症、孕产期、肿瘤术后、慢性肾病等敏感健康信息）为您挑选相关的健康讲座、"
        "康复活动与会员权益信息。敏感健康信息一旦泄露或被非法使用，可能导致您的人格尊严受到侵害或人身、"
        "财产安全受到危害；我们仅在本授权范围内使用，推送的标题、短信与锁屏通知中不会出现疾病名称。"
        "不同意不影响您使用任何诊疗与会员服务。您可随时撤回本授权，撤回后我们不再据此向您推送。",
    ),
]
# Existing answers were given under the first notice of their purpose (only these two existed).
VERSION_OF_PURPOSE = "CASE {t}.purpose WHEN 'service' THEN 1 ELSE 2 END"


def upgrade() -> None:
    op.create_table(
        "consent_notices",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("purposes", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("changed_purposes", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "cardinality(purposes) > 0 AND changed_purposes <@ purposes", name=op.f("ck_consent_notices_purposes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_notices")),
        sa.UniqueConstraint("version", name=op.f("uq_consent_notices_version")),
    )
    bind = op.get_bind()
    for version, purpose, title, body in NOTICES:
        bind.execute(
            sa.text(
                "INSERT INTO consent_notices (id, version, title, body, body_sha256, purposes, changed_purposes,"
                " published_at) VALUES (gen_random_uuid(), :version, :title, :body, :sha,"
                " ARRAY[CAST(:purpose AS varchar)], ARRAY[CAST(:purpose AS varchar)], now())"
            ),
            {
                "version": version,
                "title": title,
                "body": body,
                "sha": hashlib.sha256(body.encode("utf-8")).hexdigest(),
                "purpose": purpose,
            },
        )

    for table in ("consents", "consent_events"):
        op.alter_column(table, "purpose", type_=sa.String(length=32), existing_nullable=False)
        op.add_column(table, sa.Column("notice_version", sa.Integer(), nullable=True))
    op.add_column("consent_events", sa.Column("source_note", sa.String(length=100), nullable=True))
    op.add_column("consent_events", sa.Column("text_sha256", sa.String(length=64), nullable=True))

    op.execute(
        f"""
        UPDATE consent_events e SET
            source_note = CASE WHEN e.source IN ({SOURCES_SQL}) THEN NULL ELSE left(e.source, 100) END,
            source = CASE WHEN e.source IN ({SOURCES_SQL}) THEN e.source
                          WHEN e.actor_id IS NULL THEN 'import'
                          WHEN e.actor_id = e.patient_id THEN 'app'
                          WHEN EXISTS (SELECT 1 FROM staff s WHERE s.id = e.actor_id) THEN 'front_desk'
                          ELSE 'import' END,
            notice_version = {VERSION_OF_PURPOSE.format(t="e")}
        """
    )
    op.execute(
        "UPDATE consent_events e SET text_sha256 = n.body_sha256"
        " FROM consent_notices n WHERE n.version = e.notice_version"
    )
    op.execute(
        f"""
        UPDATE consents k SET
            source = coalesce(
                (SELECT e.source FROM consent_events e
                 WHERE e.patient_id = k.patient_id AND e.channel = k.channel AND e.purpose = k.purpose
                 ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1),
                CASE WHEN k.source IN ({SOURCES_SQL}) THEN k.source ELSE 'import' END),
            notice_version = {VERSION_OF_PURPOSE.format(t="k")}
        """
    )
    for table in ("consents", "consent_events"):
        op.alter_column(table, "notice_version", nullable=False)
        op.create_foreign_key(
            op.f(f"fk_{table}_notice_version_consent_notices"),
            table,
            "consent_notices",
            ["notice_version"],
            ["version"],
        )
        op.create_check_constraint(op.f(f"ck_{table}_source"), table, f"source IN ({SOURCES_SQL})")
    op.alter_column("consent_events", "text_sha256", nullable=False)


def downgrade() -> None:
    for table in ("consents", "consent_events"):
        op.drop_constraint(op.f(f"ck_{table}_source"), table, type_="check")
        op.drop_constraint(op.f(f"fk_{table}_notice_version_consent_notices"), table, type_="foreignkey")
        op.drop_column(table, "notice_version")
    op.execute("UPDATE consent_events SET source = left(source_note, 40) WHERE source_note IS NOT NULL")
    op.drop_column("consent_events", "text_sha256")
    op.drop_column("consent_events", "source_note")
    for table in ("consents", "consent_events"):
        op.execute(f"DELETE FROM {table} WHERE length(purpose) > 16")
        op.alter_column(table, "purpose", type_=sa.String(length=16), existing_nullable=False)
    op.drop_table("consent_notices")
