"""On duty: every staff member sees the coming week's roster and their own on-call pages; admins add and
remove shifts (through dutyShiftCreate / dutyShiftRemove)."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from core import clock
from tests.console.support import console_post, console_sign_in
from tests.factories import make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_an_admin_schedules_a_shift_everyone_sees_it(client) -> None:
    await make_staff("admin@console.test", ["admin"])
    await make_staff("doc@console.test", ["doctor"], name="陈医生")
    token = await console_sign_in(client, "admin@console.test")
    page = (await client.get("/console/oncall")).text
    doctor = re.search(r'<option value="([^"]+)">陈医生</option>', page)
    assert doctor
    start = (clock.now() + timedelta(hours=1)).astimezone(SHANGHAI)
    fields = {
        "staffId": doctor.group(1),
        "role": "DOCTOR",
        "startsAt": start.strftime("%Y-%m-%dT%H:00"),
        "endsAt": (start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:00"),
    }
    await console_post(client, "/console/oncall/shifts/new", token, **fields)
    page = (await client.get("/console/oncall")).text
    assert "已排班" in page and page.count('class="shift-row"') == 1
    bad = {**fields, "endsAt": fields["startsAt"]}
    await console_post(client, "/console/oncall/shifts/new", token, **bad)
    assert "flash error" in (await client.get("/console/oncall")).text

    client.cookies.clear()
    doctor_token = await console_sign_in(client, "doc@console.test")
    page = (await client.get("/console/oncall")).text
    assert "陈医生" in page and "医生" in page and 'name="shiftId"' not in page  # read only
    shift = "/console/oncall/shifts/remove"
    assert (await console_post(client, shift, doctor_token, shiftId="x")).status_code == 403

    client.cookies.clear()
    token = await console_sign_in(client, "admin@console.test")
    shift_id = re.search(r'name="shiftId" value="([^"]+)"', (await client.get("/console/oncall")).text)
    assert shift_id
    await console_post(client, shift, token, shiftId=shift_id.group(1))
    page = (await client.get("/console/oncall")).text
    assert "已删除值班" in page and 'class="shift-row"' not in page
