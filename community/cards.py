"""Posts as feed cards: the columns a post card shows and the one statement that adds its author (name,
alias number when anonymous, group role, expert badge), reaction counts and the viewer's reactions.
Every hot read of posts builds on it (the group feed in community/posts.py, post search in
community/search.py, the following feed in social/feed.py), so a card reads the same everywhere and
the API completes it in one walk of plain attributes (api/community/types.py `feed_post_view`)."""

from __future__ import annotations

from community import credentials

POST_COLUMNS = (
    "p.id, p.group_id, p.author_kind, p.author_id, p.anonymous, p.kind, p.title, p.body_html, p.image_urls, "
    "p.status, p.pinned, p.locked, p.comment_count, p.verified_answer_id, p.verified_answer_at, "
    "p.accepted_answer_id, p.edited_at, p.created_at"
)


def post_cards_sql(
    source: str,
    *,
    viewer: tuple[str, str],
    now: str,
    order: str,
    extra_columns: str = "",
    extra_joins: str = "",
) -> str:
    """Posts as feed cards, in one statement: `source` selects (at least) `POST_COLUMNS` as `p`, and each
    of its rows comes with the author's name (patient nickname or staff name), alias number when anonymous,
    group role and expert badge (checked at `now`, a placeholder holding the clock's time), reaction
    counts and the viewer's own reactions (`viewer`: the placeholders of their account kind and id).
    `extra_columns` (", ..." after the card's) and `extra_joins` let a feed across groups (the following
    feed) add what it needs; `order` orders the rows."""
    kind, account = viewer
    return f"""
SELECT p.*,
       CASE WHEN p.author_kind = 'staff' THEN coalesce(s.name, '工作人员')
            ELSE coalesce(pa.nickname, '已注销用户') END AS author_name,
       al.number AS alias_number, am.role AS author_role,
       CASE WHEN am.role = 'expert' AND p.author_kind = 'staff'
            THEN {credentials.expert_now_sql("p.author_id", now)} ELSE false END AS author_expert,
       coalesce(rc.likes, 0) AS likes, coalesce(rc.helpful, 0) AS helpful, coalesce(rc.hugs, 0) AS hugs,
       vr.kinds AS viewer_kinds{extra_columns}
FROM ({source}) p
LEFT JOIN patients pa ON NOT p.anonymous AND p.author_kind = 'patient' AND pa.id = p.author_id
LEFT JOIN staff s ON NOT p.anonymous AND p.author_kind = 'staff' AND s.id = p.author_id
LEFT JOIN community_aliases al ON p.anonymous AND al.group_id = p.group_id AND al.account_id = p.author_id
LEFT JOIN community_memberships am
       ON NOT p.anonymous AND am.group_id = p.group_id AND am.account_kind = p.author_kind
      AND am.account_id = p.author_id
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE r.kind = 'like') AS likes, count(*) FILTER (WHERE r.kind = 'helpful') AS helpful,
           count(*) FILTER (WHERE r.kind = 'hug') AS hugs
    FROM community_reactions r WHERE r.target_kind = 'post' AND r.target_id = p.id
) rc ON true
LEFT JOIN LATERAL (
    SELECT array_agg(r.kind ORDER BY r.kind) AS kinds FROM community_reactions r
    WHERE r.target_kind = 'post' AND r.target_id = p.id AND r.account_kind = {kind} AND r.account_id = {account}
) vr ON true{extra_joins}
ORDER BY {order}
"""
