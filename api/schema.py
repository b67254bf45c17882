"""The GraphQL schema: every domain's queries and mutations, Relay node lookup and the limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection

from api.campaigns.journeys import JourneyQuery
from api.campaigns.mutations import CampaignMutation
from api.campaigns.queries import CampaignQuery
from api.campaigns.trace import TraceQuery
from api.care.conversations import ConversationMutation, ConversationQuery, ConversationSubscription
from api.care.mutations import CareMutation
from api.care.queries import CareQuery
from api.care.survey_results import SurveyResultsQuery
from api.catalogue import CatalogueQuery
from api.community.bookmarks import BookmarkMutation, BookmarkQuery
from api.community.checkins import CheckInMutation, CheckInQuery
from api.community.credentials import CredentialMutation, CredentialQuery
from api.community.events import EventMutation, EventQuery
from api.community.groups import CommunityMutation, CommunityQuery
from api.community.moderation import ModerationMutation, ModerationQuery
from api.community.search import PostSearchQuery
from api.community.sharing import ShareMutation
from api.community.subscriptions import CommunitySubscription
from api.content.mutations import ContentMutation
from api.content.queries import ContentQuery
from api.context import Info
from api.cost import QueryCostLimiter
from api.dashboards.queries import DashboardQuery
from api.errors import ErrorFormatting, PortalSchema
from api.execution import PortalExecutionContext
from api.identity.consents import ConsentMutation, ConsentQuery
from api.identity.guardians import DelegationGate, GuardianMutation, GuardianQuery
from api.identity.mutations import IdentityMutation
from api.identity.queries import IdentityQuery
from api.loyalty.mutations import LoyaltyMutation
from api.loyalty.queries import LoyaltyQuery
from api.media.mutations import MediaMutation
from api.media.queries import MediaQuery
from api.messaging.mutations import MessagingMutation
from api.messaging.queries import MessagingQuery
from api.messaging.subscriptions import MessagingSubscription
from api.oncall.mutations import OncallMutation
from api.oncall.queries import OncallQuery
from api.oncall.subscriptions import OncallSubscription
from api.privacy.audit import PhiReadAudit
from api.privacy.queries import PrivacyQuery
from api.privacy.rights import DataRightsMutation, DataRightsQuery
from api.relay import Node, resolve_nodes
from api.scalars import SCALAR_OVERRIDES
from api.social.mutations import SocialMutation
from api.social.notifications import NotificationMutation, NotificationQuery, NotificationSubscription
from api.social.queries import SocialQuery
from core.settings import get_settings


@strawberry.type
class NodeQuery:
    @strawberry.field(description="按全局编号取对象；无权查看时为 null")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return (await resolve_nodes(info, [id]))[0]

    @strawberry.field(description="按全局编号批量取对象（最多100个）")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        return await resolve_nodes(info, ids)  # refuses more ids than a page holds (TOO_MANY_IDS)


@strawberry.type
class Query(
    NodeQuery,
    IdentityQuery,
    ConsentQuery,
    GuardianQuery,
    LoyaltyQuery,
    CommunityQuery,
    CheckInQuery,
    CredentialQuery,
    EventQuery,
    ModerationQuery,
    PostSearchQuery,
    BookmarkQuery,
    ContentQuery,
    MessagingQuery,
    CareQuery,
    SurveyResultsQuery,
    ConversationQuery,
    DashboardQuery,
    CampaignQuery,
    JourneyQuery,
    TraceQuery,
    OncallQuery,
    PrivacyQuery,
    DataRightsQuery,
    MediaQuery,
    SocialQuery,
    NotificationQuery,
    CatalogueQuery,
):
    pass


@strawberry.type
class Mutation(
    IdentityMutation,
    ConsentMutation,
    GuardianMutation,
    LoyaltyMutation,
    CommunityMutation,
    CheckInMutation,
    CredentialMutation,
    EventMutation,
    ModerationMutation,
    BookmarkMutation,
    ShareMutation,
    ContentMutation,
    MessagingMutation,
    CareMutation,
    ConversationMutation,
    CampaignMutation,
    OncallMutation,
    SocialMutation,
    NotificationMutation,
    MediaMutation,
    DataRightsMutation,
):
    pass


@strawberry.type
class Subscription(
    CommunitySubscription,
    MessagingSubscription,
    OncallSubscription,
    ConversationSubscription,
    NotificationSubscription,
):
    pass


# Distinct query texts whose parsed document and validation result are kept (clients send a few
# dozen; the bound keeps unique texts from growing memory).
QUERY_CACHE_SIZE = 512


def build_schema() -> strawberry.Schema:
    settings = get_settings()
    # The depth and alias rules are built once, not per request: a rule class made per request costs a
    # class definition each time and would never hit the validation cache, whose key holds the rules.
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules,
    ]
    extensions: list = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),  # a parse option: part of the key
        lambda: AddValidationRules(limit_rules),
        # A repeated query text skips parsing and validation. Both caches key on everything the result
        # depends on (text + parse options; document + the full rule tuple, limits included): a parse
        # failure (token limit) is raised again, validation errors (depth, aliases) come back cached.
        lambda: ParserCache(maxsize=QUERY_CACHE_SIZE),
        lambda: ValidationCache(maxsize=QUERY_CACHE_SIZE),
        # After the validation cache: costs only a valid document, with this request's variables.
        lambda: QueryCostLimiter(max_cost=settings.max_query_cost),
        ErrorFormatting,
        # Staff reads of health data, written before the answer leaves (privacy/reads.py).
        PhiReadAudit,
        # A guardian acting for a dependent runs only what their scopes cover (api/identity/guardians.py).
        DelegationGate,
    ]
    if not settings.graphiql_enabled:
        extensions.append(DisableIntrospection)
    return PortalSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=PortalExecutionContext,  # input boundary: see api/execution.py
        scalar_overrides=SCALAR_OVERRIDES,  # Date/DateTime in a computable range, with a time zone
    )


schema = build_schema()
