"""Moderation: screening new content, posting limits, reports, the queue, decisions, restrictions.

One module per idea: rules (limits, thresholds, weights), screening, items (the queue's rows and
what they point at), reports, queue, decisions, restrictions, audit_log, words (the word list).
This package exports what the adapters use.

The post/comment service calls three functions around every new post or comment:

    await moderation.check_posting_limit(session, actor, membership, kind="post")
    screening = await moderation.screen(session, actor, group_id=..., text=...)   # may raise ContentBlocked
    ... insert the row with status=screening.status ...
    await moderation.after_create(session, actor, group_id=..., target_kind="post", target_id=..., screening=screening)

Screening (community.wordfilter over the database word list):
- an emergency word (胸痛, 想自杀 ...) wins over everything else: the content is AUTHOR_ONLY (its author
  and staff see it), the author gets an in-app reply with 120 and crisis hotlines at once, the
  on-duty care team is alerted through the outbox and a top-priority queue item waits for a human.
  It wins over block words on purpose: a person in crisis who also swears must not be turned away;
- a block word refuses the content (ContentBlocked names the words);
- hold and ad/medical-claim words hold the content (HELD) for a moderator;
- staff (and the system) are trusted authors: only block words apply to them (a doctor writes
  "胸痛请立即拨打120" or "糖尿病没有特效药" as advice, not as an emergency or an advert).

Emergency alert routing: ONE in-app message per content to the recipient `care-team`
(CARE_TEAM_RECIPIENT), the on-duty care-team inbox, written to the outbox in the same transaction;
it names the group, the words, the queue item and the patient (the care team must be able to
reach a person at risk, even one who posted anonymously; moderators never see that id). Doctors
and health managers (CARE_ROLES) see and decide emergency items in the queue; group moderators
(members) never see them. Notices are idempotent per queue item (community_notices_sent): a retry
or a repeated call sends nothing twice, a new emergency in content a human already released does.

Reports: one per reporter per target, weighted by the reporter's standing (REPORT WEIGHTS below);
when the open reports of a target weigh AUTO_HIDE_THRESHOLD or more, published content is hidden
until a moderator decides, except emergency items (never hidden without a human seeing them). A
report with reason self_harm escalates the item to an emergency and alerts the care team.

Queue decisions use optimistic versions (`UPDATE ... WHERE version = :v`), so of two moderators
deciding one item, one wins and the other gets VersionConflict. Every moderator action and the
system's automatic ones are written to the one append-only audit log with their effects in
`detail`. Queue entries never carry the identity of an anonymous author.
"""

from __future__ import annotations

from community.errors import (
    AlreadyReported,
    CannotReportOwn,
    ItemClaimed,
    ItemNotFound,
    RestrictNotAllowed,
    WordNotFound,
)
from community.models import Decision, ItemReason, ReportReason, ReportStatus
from community.moderation.audit_log import audit_page, visible_detail
from community.moderation.crisis import help_in_crisis, help_refused_crisis, is_crisis
from community.moderation.decisions import decide
from community.moderation.items import QUEUE_CHANNEL
from community.moderation.queue import QueueEntry, claim, entries_for, items_by_ids, queue_page, require_queue_reader
from community.moderation.reports import report, reporter_counts, reporter_weight
from community.moderation.restrictions import restrict_member
from community.moderation.rules import (
    AUTO_HIDE_THRESHOLD,
    CARE_ROLES,
    CARE_TEAM_RECIPIENT,
    CLAIM_TTL,
    DECISION_STATUS,
    HELP_TEXT,
    ITEM_REASON_LABELS,
    NEW_MEMBER_DAILY_LIMITS,
    NEW_MEMBER_DAYS,
    OTHER_STAFF_WEIGHT,
    PRIORITY_EMERGENCY,
    PRIORITY_HELD,
    PRIORITY_HIDDEN,
    PRIORITY_REPORTS,
    REPORT_REASON_LABELS,
    SENIOR_MEMBER_DAYS,
    STAFF_WEIGHT,
    TARGET_KINDS,
)
from community.moderation.screening import Screening, after_create, check_posting_limit, screen
from community.moderation.words import (
    add_exception,
    add_word,
    remove_exception,
    remove_word,
    word_exceptions,
    words_page,
)

__all__ = [
    "AUTO_HIDE_THRESHOLD",
    "CARE_ROLES",
    "CARE_TEAM_RECIPIENT",
    "CLAIM_TTL",
    "DECISION_STATUS",
    "HELP_TEXT",
    "ITEM_REASON_LABELS",
    "NEW_MEMBER_DAILY_LIMITS",
    "NEW_MEMBER_DAYS",
    "OTHER_STAFF_WEIGHT",
    "PRIORITY_EMERGENCY",
    "PRIORITY_HELD",
    "PRIORITY_HIDDEN",
    "PRIORITY_REPORTS",
    "QUEUE_CHANNEL",
    "REPORT_REASON_LABELS",
    "SENIOR_MEMBER_DAYS",
    "STAFF_WEIGHT",
    "TARGET_KINDS",
    "AlreadyReported",
    "CannotReportOwn",
    "Decision",
    "ItemClaimed",
    "ItemNotFound",
    "ItemReason",
    "QueueEntry",
    "ReportReason",
    "ReportStatus",
    "RestrictNotAllowed",
    "Screening",
    "WordNotFound",
    "add_exception",
    "add_word",
    "after_create",
    "audit_page",
    "check_posting_limit",
    "claim",
    "decide",
    "entries_for",
    "help_in_crisis",
    "help_refused_crisis",
    "is_crisis",
    "items_by_ids",
    "queue_page",
    "remove_exception",
    "remove_word",
    "report",
    "reporter_counts",
    "reporter_weight",
    "require_queue_reader",
    "restrict_member",
    "screen",
    "visible_detail",
    "word_exceptions",
    "words_page",
]
