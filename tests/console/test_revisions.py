"""The content editor's revision diff: any two revisions picked from the list (older first whatever the
order picked), the last two by default, a refusal to compare a revision with itself, nonsense ignored."""

from __future__ import annotations

from api.relay import to_global_id
from tests.console.revisions_support import three_revisions
from tests.console.support import console_sign_in
from tests.factories import make_staff

EDITOR = "editor-rev@console.test"
REVIEWER = "reviewer-rev@console.test"


async def test_any_two_revisions_are_compared(client) -> None:
    author = await make_staff(EDITOR, ["marketer"])
    reviewer = await make_staff(REVIEWER, ["reviewer"])
    item = to_global_id("ContentItem", await three_revisions(author, reviewer))
    await console_sign_in(client, EDITOR)
    path = f"/console/content/{item}"

    page = (await client.get(path)).text
    assert page.count('class="revision-row"') == 3
    assert "第 2 版与第 3 版的差异" in page and "饭后散步二十分钟" in page
    assert 'name="a" value="2" aria-label="旧 第 2 版" checked' in page

    picked = (await client.get(f"{path}?a=3&b=1")).text  # picked the other way round: older first anyway
    assert "第 1 版与第 3 版的差异" in picked and "第一版" in picked and "第三版" in picked
    assert 'name="a" value="1" aria-label="旧 第 1 版" checked' in picked
    assert 'name="b" value="3" aria-label="新 第 3 版" checked' in picked
    same = (await client.get(f"{path}?a=2&b=2")).text
    assert "请选择两个不同的版本进行比较" in same and 'id="diff"' not in same
    for nonsense in ("a=9&b=1", "a=x&b=", "a=-1&b=2", "a=" + "9" * 40 + "&b=1"):
        fallback = (await client.get(f"{path}?{nonsense}")).text
        assert "第 2 版与第 3 版的差异" in fallback, nonsense
