"""Share links: the shareLinkCreate mutation and the public page GET /s/{code} (community/sharing.py).

/s/{code} answers JSON to clients that ask for it (Accept: application/json, or ?format=json) and
otherwise a small HTML page with Open Graph tags, the card WeChat and other apps show for a link. Both
carry only the public preview and the sharer's referral code (for authSignIn's referralCode). An
unknown, expired or malformed code is a 404 in the same two forms, never plain text.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from api.context import Info
from api.error_types import CommunityError
from api.mutations import ModelPayload, mutate
from api.relay import require_id_of
from community import sharing
from community.models import ShareLink
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import Actor
from core.settings import get_settings

_TARGETS = {"post": "Post", "article": "ContentItem", "event": "Event"}
_HEADERS = {"cache-control": "no-store", "x-robots-tag": "noindex"}


def link_url(code: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/s/{code}"


@strawberry.type(name="ShareLink", description="分享短链：打开后显示不含个人信息的预览，并带上分享人的推荐码")
class ShareLinkType:
    code: str = strawberry.field(description="短链编码（10位字母数字）")
    url: str = strawberry.field(description="完整链接")
    referral_code: str | None = strawberry.field(description="分享人的推荐码（员工分享时为 null）")
    clicks: int = strawberry.field(description="被打开的次数")
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_model(cls, link: ShareLink) -> ShareLinkType:
        return cls(
            code=link.code,
            url=link_url(link.code),
            referral_code=link.referral_code,
            clicks=link.clicks,
            created_at=link.created_at,
            expires_at=link.expires_at,
        )


@strawberry.input
class ShareLinkCreateInput:
    target_id: strawberry.ID = strawberry.field(description="Post、ContentItem 或 Event 的全局编号")


@strawberry.type
class ShareLinkCreatePayload(ModelPayload):
    share_link: ShareLinkType | None = None
    errors: list[CommunityError]


@strawberry.type
class ShareMutation:
    @strawberry.mutation(
        description="生成帖子、文章或活动的分享短链（需能阅读该内容）；同一人再次分享同一内容返回同一链接"
    )
    async def share_link_create(self, info: Info, input: ShareLinkCreateInput) -> ShareLinkCreatePayload:
        async def work(s: AsyncSession, a: Actor) -> ShareLink:
            kind, target_id = require_id_of(input.target_id, _TARGETS, "targetId")
            return await sharing.create(s, a, kind=kind, target_id=target_id)

        return await mutate(info, ShareLinkCreatePayload, work)


# --- GET /s/{code} -----------------------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _preview_json(p: sharing.Preview) -> dict[str, Any]:
    return {
        "code": p.code,
        "kind": p.kind.upper(),
        "title": p.title,
        "excerpt": p.excerpt,
        "groupName": p.group_name,
        "public": p.public,
        "available": p.available,
        "referralCode": p.referral_code,
        "url": link_url(p.code),
        "expiresAt": p.expires_at.isoformat(),
    }


def _page(title: str, text: str, *, url: str | None, referral_code: str | None, status: int) -> HTMLResponse:
    brand = html.escape(get_settings().brand_name)
    t, d = html.escape(title), html.escape(text)
    og_url = f'<meta property="og:url" content="{html.escape(url)}">' if url else ""
    referral = (
        f'<p class="ref">注册时填写推荐码 <strong>{html.escape(referral_code)}</strong>，好友和您都可获得积分</p>'
        f'<meta name="referral-code" content="{html.escape(referral_code)}">'
        if referral_code
        else ""
    )
    body = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{t} - {brand}</title>
<meta property="og:type" content="website">
<meta property="og:site_name" content="{brand}">
<meta property="og:title" content="{t}">
<meta property="og:description" content="{d}">
{og_url}
<meta name="description" content="{d}">
</head><body>
<h1>{t}</h1>
<p>{d}</p>
{referral}
<p>打开{brand} App 查看完整内容</p>
</body></html>"""
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


async def share_preview(request: Request) -> Response:
    wants_json = _wants_json(request)
    try:
        async with unit_of_work() as session:  # the click is counted in the same transaction
            preview = await sharing.open_link(session, str(request.path_params.get("code", "")))
    except DomainError as exc:
        if wants_json:
            body = {"data": None, "errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
            return JSONResponse(body, status_code=404, headers=_HEADERS)
        return _page("链接已失效", exc.message, url=None, referral_code=None, status=404)
    if wants_json:
        return JSONResponse(_preview_json(preview), headers=_HEADERS)
    return _page(
        preview.title, preview.excerpt, url=link_url(preview.code), referral_code=preview.referral_code, status=200
    )


ROUTES = [Route("/s/{code}", share_preview, methods=["GET"])]
