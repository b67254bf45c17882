"""Share links (分享短链): /s/<code> for a post, an article or an event, made by a signed-in person who
may read it, carrying the sharer's referral code into registration (authSignIn's referralCode).

The code is 10 base62 characters: 7 random ones and a 3-character HMAC tag of them under the server
secret, so a guessed or mistyped code is turned away without a database read, and the random part
alone makes guessing a real one hopeless (62^7 codes, each also needing its tag). One link per
(target, sharer): sharing again returns the same code; an expired one is renewed with a new code.

The preview is for anyone, signed in or not, so it holds nothing personal: never an author (named or
anonymous), never a patient's data. The target's title and a short excerpt only when the target is
public (a published post of a public group, an article anyone may read, an event of no group or of a
public group); a members-only or private group's post shows the group's public name and a generic
line; a secret group's shows a generic line only (its name is not public either); something removed
or unknown shows that it is gone. Opening a link counts a click (a plain counter).
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, errors, events, posts
from community.errors import CommunityCode
from community.models import ContentStatus, Event, EventKind, EventStatus, Group, GroupVisibility, Post, ShareLink
from content import access as content_access
from content.errors import ItemNotFound
from content.models import ContentItem, ContentRevision
from core import clock, security
from core.errors import NotFound
from core.identity import ANONYMOUS, Actor
from loyalty import referrals

ALPHABET = string.digits + string.ascii_letters  # base62
RANDOM_LENGTH = 7
TAG_LENGTH = 3
CODE_LENGTH = RANDOM_LENGTH + TAG_LENGTH
LIFETIME = timedelta(days=180)
EXCERPT_LENGTH = 80
KINDS = ("post", "article", "event")
_MARKUP = re.compile(r"<[^>]*>|[#*_`>\[\]()!~|]+")
_EVENT_KINDS = {
    EventKind.ONLINE_LECTURE: "线上讲座",
    EventKind.LIVESTREAM: "直播",
    EventKind.OFFLINE: "线下活动",
    EventKind.FREE_CLINIC: "义诊",
}


class ShareLinkNotFound(NotFound):
    code = CommunityCode.SHARE_LINK_NOT_FOUND
    default_message = "分享链接不存在或已过期"


def _tag(random_part: str) -> str:
    number = int(security.keyed_hash("share_link", random_part)[:16], 16)
    out = []
    for _ in range(TAG_LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        out.append(ALPHABET[digit])
    return "".join(out)


def new_code() -> str:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return random_part + _tag(random_part)


def well_formed(code: str) -> bool:
    """A code of the right length and alphabet whose tag matches: checked before any database read."""
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return False
    return hmac.compare_digest(_tag(code[:RANDOM_LENGTH]), code[RANDOM_LENGTH:])


async def _check_shareable(session: AsyncSession, actor: Actor, kind: str, target_id: uuid.UUID) -> None:
    """The sharer may read the target now (each kind by its own domain's check); not found otherwise."""
    if kind == "post":
        try:
            post, _, _ = await posts.get_post(session, actor, target_id)
        except errors.GroupNotFound as refusal:
            raise errors.PostNotFound(field="targetId") from refusal
        if post.status != ContentStatus.PUBLISHED:
            raise errors.PostNotFound(field="targetId")
    elif kind == "article":
        viewer = await content_access.load_viewer(session, actor)
        if not await content_access.can_read(session, viewer, target_id):
            raise ItemNotFound(field="targetId")
    else:
        await events.get_event(session, actor, target_id)


async def create(session: AsyncSession, actor: Actor, *, kind: str, target_id: uuid.UUID) -> ShareLink:
    """The sharer's link to the target (the same one when shared again; renewed once expired)."""
    sharer_kind, sharer_id = access.account_of(actor)  # NOT_AUTHENTICATED for anyone signed out
    await _check_shareable(session, actor, kind, target_id)
    referral_code = await referrals.ensure_code(session, sharer_id) if actor.is_patient else None
    now = clock.now()
    mine = (
        ShareLink.target_kind == kind,
        ShareLink.target_id == target_id,
        ShareLink.sharer_kind == sharer_kind,
        ShareLink.sharer_id == sharer_id,
    )
    await session.execute(
        insert(ShareLink)
        .values(
            code=new_code(),
            target_kind=kind,
            target_id=target_id,
            sharer_kind=sharer_kind,
            sharer_id=sharer_id,
            referral_code=referral_code,
            clicks=0,
            created_at=now,
            expires_at=now + LIFETIME,
        )
        .on_conflict_do_nothing(constraint="uq_share_links_target_sharer")
    )
    link = await session.scalar(select(ShareLink).where(*mine).with_for_update())
    assert link is not None
    if link.expires_at <= now:  # a new code: the old one stays dead
        session.expunge(link)
        await session.execute(
            update(ShareLink)
            .where(ShareLink.code == link.code)
            .values(code=new_code(), created_at=now, expires_at=now + LIFETIME, clicks=0, last_clicked_at=None)
            .execution_options(synchronize_session=False)
        )
        link = await session.scalar(select(ShareLink).where(*mine))
        assert link is not None
    if link.referral_code != referral_code:
        link.referral_code = referral_code
    return link


@dataclass(frozen=True)
class Preview:
    code: str
    kind: str  # post | article | event
    title: str
    excerpt: str
    group_name: str | None
    public: bool  # title and excerpt are the target's own
    available: bool  # the target still exists and is shown
    referral_code: str | None
    expires_at: datetime


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    plain = " ".join(_MARKUP.sub(" ", text or "").split())
    return plain if len(plain) <= length else plain[:length].rstrip() + "…"


_GONE: tuple[str, str, str | None, bool, bool] = ("内容已不可用", "该内容已删除或暂不可见", None, False, False)


async def _post_preview(session: AsyncSession, post_id: uuid.UUID) -> tuple[str, str, str | None, bool, bool]:
    post = await session.get(Post, post_id)
    group = await session.get(Group, post.group_id) if post is not None else None
    if post is None or group is None or post.status != ContentStatus.PUBLISHED:
        return _GONE
    if group.visibility == GroupVisibility.SECRET:
        return "病友社群里的一篇帖子", "该帖子仅对受邀成员可见", None, False, True
    if group.visibility != GroupVisibility.PUBLIC:
        return f"来自「{group.name}」的帖子", "该帖子仅对社群成员可见，加入社群后即可查看", group.name, False, True
    return post.title, excerpt(post.body_md), group.name, True, True


async def _article_preview(session: AsyncSession, item_id: uuid.UUID) -> tuple[str, str, str | None, bool, bool]:
    public = await content_access.readable_items(session, content_access.Viewer(actor=ANONYMOUS), [item_id])
    item = public.get(item_id) or await session.get(ContentItem, item_id)
    live = item is not None and item.live_revision_id is not None and item.archived_at is None
    if item is None or not live:
        return _GONE
    if item_id not in public:
        return "会员专享内容", "登录或注册后即可阅读", None, False, True
    rev = await session.get(ContentRevision, item.live_revision_id)
    if rev is None:
        return _GONE
    return rev.title, excerpt(rev.summary or rev.body), None, True, True


async def _event_preview(session: AsyncSession, event_id: uuid.UUID) -> tuple[str, str, str | None, bool, bool]:
    event = await session.get(Event, event_id)
    if event is None:
        return _GONE
    group = await session.get(Group, event.group_id) if event.group_id is not None else None
    if group is not None and group.visibility == GroupVisibility.SECRET:
        return "病友社群活动", "该活动仅对受邀成员开放", None, False, True
    if group is not None and group.visibility != GroupVisibility.PUBLIC:
        return f"「{group.name}」的活动", "该活动仅对社群成员开放，加入社群后即可查看", group.name, False, True
    if event.status == EventStatus.CANCELLED:
        return event.title, "该活动已取消", group.name if group else None, True, True
    when = events.local_text(event.starts_at)
    line = " · ".join(x for x in (when, _EVENT_KINDS.get(EventKind(event.kind), ""), event.location or "") if x)
    return event.title, excerpt(f"{line} {event.description}"), group.name if group else None, True, True


_PREVIEWS = {"post": _post_preview, "article": _article_preview, "event": _event_preview}


async def open_link(session: AsyncSession, code: str) -> Preview:
    """The public preview of a link, counting the click; SHARE_LINK_NOT_FOUND for a malformed, unknown
    or expired code (a malformed one without touching the database)."""
    code = (code or "").strip()
    if not well_formed(code):
        raise ShareLinkNotFound()
    now = clock.now()
    link = await session.scalar(
        update(ShareLink)
        .where(ShareLink.code == code, ShareLink.expires_at > now)
        .values(clicks=ShareLink.clicks + 1, last_clicked_at=now)
        .returning(ShareLink)
    )
    if link is None:
        raise ShareLinkNotFound()
    title, text, group_name, public, available = await _PREVIEWS[link.target_kind](session, link.target_id)
    return Preview(
        code=link.code,
        kind=link.target_kind,
        title=title,
        excerpt=text,
        group_name=group_name,
        public=public,
        available=available,
        referral_code=link.referral_code,
        expires_at=link.expires_at,
    )
