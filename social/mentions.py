"""@mentions (@昵称): who a post or comment mentions, and the autocomplete that offers names.

A mention is `@` (or the full-width `＠`) followed by a group member's nickname (a staff member's name);
where several nicknames match at one `@` the longest wins (@康友1234 is not @康友12). Only members of the
post's group can be mentioned, and of them only those who can read the post (the community's one access
check, `can_see_group` and `can_read_posts`, with their own membership): a member who left, is pending
or banned is not told of a post they cannot open. No mention passes between two people of whom one
blocked the other (either way, whatever the author's anonymity): the text stays, nobody is notified,
and the autocomplete never offers them. At most MAX_MENTIONS people per post or comment are notified
(the first ones in the text), so a mention cannot be used to page a whole group.

Mentions are read when a post or comment is published (social/fanout.py); editing one later notifies
nobody new.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from community import access
from community import errors as community_errors
from community.access import AnyGroup, MemberRow
from core import clock, rawsql
from core.identity import Actor, ActorKind, Role
from core.pagination import InvalidPageSize
from social import accounts, blocks, errors
from social.accounts import Account

MAX_MENTIONS = 20
MAX_PREFIX = 20
MAX_CANDIDATES = 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The group's members whose name, after an @, occurs in the text ($2): a scan of one group's
# memberships, in a worker. Names are the patient's nickname or the staff member's name; erased
# patients and switched-off staff have none to be mentioned by.
_NAMED_SQL = """
SELECT m.account_kind, m.account_id, n.name, m.role, m.state, m.muted_until, m.banned_until, m.notification_level,
       CASE WHEN m.account_kind = 'staff'
            THEN (SELECT array_agg(r.role) FROM staff_roles r WHERE r.staff_id = m.account_id) END AS roles
FROM community_memberships m
CROSS JOIN LATERAL (
    SELECT coalesce(
        (SELECT p.nickname FROM patients p
         WHERE m.account_kind = 'patient' AND p.id = m.account_id AND p.erased_at IS NULL),
        (SELECT s.name FROM staff s WHERE m.account_kind = 'staff' AND s.id = m.account_id AND s.active)
    ) AS name
) n
WHERE m.group_id = $1 AND n.name IS NOT NULL AND strpos($2, '@' || n.name) > 0
"""

# Autocomplete: active members of the group ($1) whose name starts with $2 (a LIKE pattern), not the
# viewer ($3/$4), nobody blocked either way; by name, at most $5; $6 now (a ban that ran out counts).
_CANDIDATES_SQL = """
SELECT m.account_kind, m.account_id, n.name, m.role
FROM community_memberships m
CROSS JOIN LATERAL (
    SELECT coalesce(
        (SELECT p.nickname FROM patients p
         WHERE m.account_kind = 'patient' AND p.id = m.account_id AND p.erased_at IS NULL),
        (SELECT s.name FROM staff s WHERE m.account_kind = 'staff' AND s.id = m.account_id AND s.active)
    ) AS name
) n
WHERE m.group_id = $1 AND n.name IS NOT NULL AND lower(n.name) LIKE lower($2) ESCAPE '\\'
  AND (m.state = 'active' OR (m.state = 'banned' AND m.banned_until <= $6))
  AND NOT (m.account_kind = $3 AND m.account_id = $4)
  AND NOT EXISTS (SELECT 1 FROM social_blocks b WHERE b.blocker_kind = $3 AND b.blocker_id = $4
                  AND b.blocked_kind = m.account_kind AND b.blocked_id = m.account_id)
  AND NOT EXISTS (SELECT 1 FROM social_blocks b WHERE b.blocked_kind = $3 AND b.blocked_id = $4
                  AND b.blocker_kind = m.account_kind AND b.blocker_id = m.account_id)
ORDER BY n.name, m.account_id
LIMIT $5
"""


@dataclass(frozen=True)
class Mentioned:
    account: Account
    member: MemberRow  # their membership of the post's group (the level filters the notification)


@dataclass(frozen=True)
class Candidate:
    account: Account
    display_name: str
    role: str


def actor_for(account: Account, roles: list[str] | None) -> Actor:
    """The person as the community's access check sees them (staff with their roles)."""
    if account.kind == "patient":
        return Actor(kind=ActorKind.PATIENT, id=account.id)
    known = {r.value for r in Role}
    return Actor(kind=ActorKind.STAFF, id=account.id, roles=frozenset(Role(r) for r in roles or () if r in known))


def can_read(account: Account, roles: list[str] | None, group: AnyGroup, member: MemberRow | None) -> bool:
    """The community's one access check for this person and the group a post is in."""
    actor = actor_for(account, roles)
    return access.can_see_group(actor, group, member) and access.can_read_posts(actor, group, member)


def _normalise(text: str) -> str:
    return (text or "").replace("＠", "@")


def _longest_at_each_at(text: str, names: set[str]) -> list[str]:
    """The names mentioned, in order of first mention: at every @, the longest name that follows it."""
    found: list[str] = []
    by_length = sorted(names, key=len, reverse=True)
    for match in re.finditer("@", text):
        rest = text[match.end() :]
        name = next((n for n in by_length if rest.startswith(n)), None)
        if name is not None and name not in found:
            found.append(name)
    return found


async def mentioned(session: AsyncSession, *, group: AnyGroup, text: str, author: Account) -> list[Mentioned]:
    """The people `text` (in a post or comment of `group` by `author`) mentions and who may be told."""
    text = _normalise(text)
    if "@" not in text:
        return []
    rows = await rawsql.fetch(session, _NAMED_SQL, group.id, text)
    by_name: dict[str, list[tuple[Account, MemberRow, list[str] | None]]] = {}
    for r in rows:
        account = Account(r[0], r[1])
        member = MemberRow(group.id, r[3], r[4], r[5], r[6], r[7])
        by_name.setdefault(r[2], []).append((account, member, r[8]))
    ordered: dict[Account, MemberRow] = {}
    for name in _longest_at_each_at(text, set(by_name)):
        for account, member, roles in by_name[name]:
            if account != author and account not in ordered and can_read(account, roles, group, member):
                ordered[account] = member
    chosen = list(ordered.items())[:MAX_MENTIONS]
    i_blocked, blocked_me = await blocks.pairs(session, author, [a for a, _ in chosen])
    return [Mentioned(a, m) for a, m in chosen if a not in i_blocked and a not in blocked_me]


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def candidates(
    session: AsyncSession, actor: Actor, group_id: uuid.UUID, prefix: str, *, first: int = 10
) -> list[Candidate]:
    """Autocomplete for @: members of the group the viewer may see the member list of, whose name
    starts with `prefix` (case-insensitive; a leading @ is ignored), nobody blocked either way, not the
    viewer; at most `first` (1..20), by name."""
    me = accounts.of(actor)
    raw = (prefix or "").lstrip("@＠")
    if len(raw) > MAX_PREFIX or _CONTROL.search(raw):
        raise errors.MentionPrefixInvalid(field="prefix")
    if not 1 <= first <= MAX_CANDIDATES:
        raise InvalidPageSize(f"每次最多返回{MAX_CANDIDATES}人", field="first")
    group, member = await access.get_group(session, actor, group_id)
    if not access.can_see_members(actor, group, member):
        raise community_errors.NotMember()
    rows = await rawsql.fetch(session, _CANDIDATES_SQL, group.id, _like_prefix(raw), me.kind, me.id, first, clock.now())
    return [Candidate(Account(r[0], r[1]), r[2], r[3]) for r in rows]
