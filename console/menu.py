"""The console's menu: which pages exist for which roles (admins see every page, as Actor.has_role says).

A page's route checks the same roles (console/web.py `staff_page`), and the operations it runs are
checked again by the services: the menu only hides what would be refused anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.identity import Actor, Role


@dataclass(frozen=True)
class Item:
    label: str  # a key of console/strings.py
    path: str
    roles: tuple[Role, ...]


@dataclass(frozen=True)
class Section:
    label: str
    items: tuple[Item, ...]


MODERATION = (Role.MODERATOR,)
FRONT_DESK = (Role.CLINIC_STAFF,)
COMPLAINTS = (Role.CLINIC_STAFF, Role.HEALTH_MANAGER)  # care/complaints.py DESK_ROLES
ALERTS = (Role.DOCTOR, Role.HEALTH_MANAGER)  # community/checkins/rules.py CARE_TEAM_ROLES
SURVEYS = (Role.CLINIC_STAFF, Role.HEALTH_MANAGER)  # care/surveys.py READER_ROLES
CONTENT = (Role.MARKETER, Role.REVIEWER)
CONTENT_AUTHORS = (Role.MARKETER,)  # content/service.py AUTHOR_ROLES
CONTENT_REVIEWERS = (Role.REVIEWER,)  # content/service.py REVIEW_ROLES
MARKETING = (Role.MARKETER, Role.REVIEWER)  # campaigns/segments.py READ_ROLES
CAMPAIGNS = (Role.MARKETER,)  # CAMPAIGN_ROLES: compose, submit, send
CAMPAIGN_REVIEWERS = (Role.REVIEWER,)  # campaigns/service.py REVIEW_ROLES
DASHBOARDS = (Role.MARKETER,)  # dashboards/service.py
TRACE = (Role.MARKETER,)  # campaigns/trace.py TRACE_ROLES
ADMIN = (Role.ADMIN,)
EVERYONE = tuple(Role)  # any staff role

MENU: tuple[Section, ...] = (
    Section("nav.general", (Item("nav.oncall", "/console/oncall", EVERYONE),)),
    Section(
        "nav.moderation",
        (
            Item("nav.moderation.queue", "/console/moderation", MODERATION),
            Item("nav.moderation.requests", "/console/moderation/requests", MODERATION),
            Item("nav.moderation.members", "/console/moderation/members", MODERATION),
            Item("nav.moderation.audit", "/console/moderation/audit", MODERATION),
            Item("nav.moderation.words", "/console/moderation/words", ADMIN),  # the word list is the admins'
        ),
    ),
    Section("nav.frontdesk", (Item("nav.frontdesk.patients", "/console/frontdesk", FRONT_DESK),)),
    Section(
        "nav.care",
        (
            Item("nav.care.complaints", "/console/care/complaints", COMPLAINTS),
            Item("nav.care.alerts", "/console/care/alerts", ALERTS),
            Item("nav.care.surveys", "/console/care/surveys", SURVEYS),
        ),
    ),
    Section(
        "nav.content",
        (
            Item("nav.content.items", "/console/content", CONTENT),
            Item("nav.content.new", "/console/content/new", CONTENT_AUTHORS),
        ),
    ),
    Section(
        "nav.marketing",
        (
            Item("nav.marketing.segments", "/console/marketing/segments", MARKETING),
            Item("nav.marketing.campaigns", "/console/marketing/campaigns", MARKETING),
            Item("nav.marketing.journeys", "/console/marketing/journeys", MARKETING),
            Item("nav.marketing.trace", "/console/marketing/trace", TRACE),
            Item("nav.marketing.dashboards", "/console/marketing/dashboards", DASHBOARDS),
        ),
    ),
    Section(
        "nav.admin",
        (
            Item("nav.admin.staff", "/console/admin/staff", ADMIN),
            Item("nav.admin.sites", "/console/admin/sites", ADMIN),
            Item("nav.admin.tiers", "/console/admin/tiers", ADMIN),
            Item("nav.admin.rewards", "/console/admin/rewards", ADMIN),
            Item("nav.admin.phi", "/console/admin/phi", ADMIN),
        ),
    ),
)


def menu_for(actor: Actor) -> list[tuple[Section, list[Item]]]:
    shown = []
    for section in MENU:
        items = [item for item in section.items if actor.has_role(*item.roles)]
        if items:
            shown.append((section, items))
    return shown
