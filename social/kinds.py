"""What the notification centre sends: the kinds, the channels each may use, the defaults, and how a
group's notification level filters them. Pure rules, no database.

Channels: the in-app centre, and WeChat subscription messages (only for patients, only with the
outreach policy's consent and outside quiet hours, and only where WeChat has an authorisation to
spend). SMS is never a channel of the centre: a text lands on the lock screen, is paid per message and
would tell anyone near the phone which community the patient is in; `NotificationChannel.SMS` exists
only so asking for it gets a clear refusal (SMS_NOT_FOR_SOCIAL).

A member's level for a group (community Membership.notification_level) filters what arises there:
- all: everything below that concerns them (replies, mentions, reactions, answers, new posts of people
  they follow in that group);
- highlights: mentions, replies to them (answers to their questions included), and their answer being
  accepted or verified; no reactions, no followed people's posts;
- none: nothing from that group, mentions included (a muted group is muted: "不通知").
Kinds that arise outside a group (follows, events, content) are not filtered by a level, and
moderation outcomes always come: they explain what was done to the member's own post or account.
"""

from __future__ import annotations

import enum

from community.models import NotificationLevel


class NotificationKind(enum.StrEnum):
    REPLY = "reply"  # a comment on my post, a reply to my comment, an answer to my question
    MENTION = "mention"  # @昵称 in a post or comment I can read
    REACTION = "reaction"  # grouped per post/comment and reaction kind: "3 人觉得有帮助"
    ANSWER_ACCEPTED = "answer_accepted"  # my answer accepted by the asker
    ANSWER_VERIFIED = "answer_verified"  # my answer (or the answer to my question) verified by an expert
    FOLLOW = "follow"  # someone followed me
    FOLLOWED_POST = "followed_post"  # a person I follow posted
    EVENT = "event"  # a change, cancellation, seat offer or reminder of an event I signed up for
    MODERATION = "moderation"  # the outcome of moderation of my post or comment
    CONTENT = "content"  # an article or video published for my conditions


class NotificationChannel(enum.StrEnum):
    IN_APP = "in_app"
    WECHAT = "wechat"
    SMS = "sms"  # never offered (see the module docstring)


# Kinds about other people in the community: never by SMS (every kind of the centre, in fact).
SOCIAL_KINDS = frozenset(
    {
        NotificationKind.REPLY,
        NotificationKind.MENTION,
        NotificationKind.REACTION,
        NotificationKind.ANSWER_ACCEPTED,
        NotificationKind.ANSWER_VERIFIED,
        NotificationKind.FOLLOW,
        NotificationKind.FOLLOWED_POST,
    }
)
CHANNELS = (NotificationChannel.IN_APP, NotificationChannel.WECHAT)

# On unless the person turned it off. WeChat is on only where a message is worth an interruption.
DEFAULTS: dict[tuple[NotificationKind, NotificationChannel], bool] = {
    **{(k, NotificationChannel.IN_APP): True for k in NotificationKind},
    **{(k, NotificationChannel.WECHAT): False for k in NotificationKind},
    (NotificationKind.REPLY, NotificationChannel.WECHAT): True,
    (NotificationKind.MENTION, NotificationChannel.WECHAT): True,
    (NotificationKind.ANSWER_ACCEPTED, NotificationChannel.WECHAT): True,
    (NotificationKind.ANSWER_VERIFIED, NotificationChannel.WECHAT): True,
    (NotificationKind.EVENT, NotificationChannel.WECHAT): True,
}
# Not to be switched off: moderation outcomes in the app (they explain what happened to one's own post).
LOCKED = frozenset({(NotificationKind.MODERATION, NotificationChannel.IN_APP)})

# Kinds filtered by the group's level, and those a "highlights" level lets through.
GROUP_KINDS = frozenset(SOCIAL_KINDS - {NotificationKind.FOLLOW})
HIGHLIGHTS = frozenset(
    {
        NotificationKind.REPLY,
        NotificationKind.MENTION,
        NotificationKind.ANSWER_ACCEPTED,
        NotificationKind.ANSWER_VERIFIED,
    }
)

# What a WeChat subscription message says: the kind only, never a name, a group or a text (a WeChat card
# shows on the lock screen; a group's name names a condition).
WECHAT_TEXT: dict[NotificationKind, str] = {
    NotificationKind.REPLY: "有人回复了您，请打开小程序查看",
    NotificationKind.MENTION: "有人在社区中提到了您，请打开小程序查看",
    NotificationKind.REACTION: "您的内容收到了新的反馈，请打开小程序查看",
    NotificationKind.ANSWER_ACCEPTED: "您的回答被采纳了，请打开小程序查看",
    NotificationKind.ANSWER_VERIFIED: "有回答通过了专家认证，请打开小程序查看",
    NotificationKind.FOLLOW: "有新朋友关注了您，请打开小程序查看",
    NotificationKind.FOLLOWED_POST: "您关注的人发布了新内容，请打开小程序查看",
    NotificationKind.EVENT: "您报名的活动有新的通知，请打开小程序查看",
    NotificationKind.MODERATION: "您有一条社区通知，请打开小程序查看",
    NotificationKind.CONTENT: "有新的健康内容推荐给您，请打开小程序查看",
}


def default(kind: str, channel: str) -> bool:
    return DEFAULTS.get((NotificationKind(kind), NotificationChannel(channel)), False)


def level_admits(level: str | None, kind: str) -> bool:
    """Whether a member's level for the group a notification arises in lets it through (no membership:
    all, as for a reader of a public group who follows the author)."""
    if kind not in GROUP_KINDS or level is None or level == NotificationLevel.ALL:
        return True
    if level == NotificationLevel.HIGHLIGHTS:
        return kind in HIGHLIGHTS
    return False
