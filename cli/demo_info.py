"""The demo accounts `portal run` prints and `portal seed-demo` creates."""

from __future__ import annotations

DEMO_PASSWORD = "Demo@2026kn"
DEMO_STAFF = [
    ("admin@demo.kangning.cn", "王管理", ["admin"]),
    ("marketer@demo.kangning.cn", "李运营", ["marketer"]),
    ("moderator@demo.kangning.cn", "赵版主", ["moderator"]),
    ("doctor@demo.kangning.cn", "陈医生", ["doctor"]),
    ("manager@demo.kangning.cn", "周健管", ["health_manager"]),
    ("clinic@demo.kangning.cn", "吴前台", ["clinic_staff"]),
    ("reviewer@demo.kangning.cn", "郑审核", ["reviewer"]),
]
DEMO_PATIENT_PHONE = "13800000001"


def banner_lines() -> list[str]:
    lines = [
        "演示账号 / demo logins:",
        f"  患者 patient: 手机号 {DEMO_PATIENT_PHONE}，用 authRequestCode 获取验证码，",
        "    再运行 `.venv/bin/portal outbox` 查看验证码 (read the code)",
        f"  员工 staff (password {DEMO_PASSWORD}):",
    ]
    lines += [f"    {email}  {name}  {','.join(roles)}" for email, name, roles in DEMO_STAFF]
    return lines
