"""The GraphQL schema: every domain's queries and mutations, Relay node lookup and the limits."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.extensions.disable_introspection import DisableIntrospection

from api.community.checkins import CheckInMutation, CheckInQuery
from api.community.events import EventMutation, EventQuery
from api.community.groups import CommunityMutation, CommunityQuery
from api.community.moderation import ModerationMutation, ModerationQuery
from api.community.subscriptions import CommunitySubscription
from api.content.mutations import ContentMutation
from api.content.queries import ContentQuery
from api.context import Info
from api.errors import ErrorFormatting
from api.identity.mutations import IdentityMutation
from api.identity.queries import IdentityQuery
from api.loyalty.mutations import LoyaltyMutation
from api.loyalty.queries import LoyaltyQuery
from api.relay import Node, resolve_nodes
from core.settings import get_settings


@strawberry.type
class NodeQuery:
    @strawberry.field(description="按全局编号取对象；无权查看时为 null")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return (await resolve_nodes(info, [id]))[0]

    @strawberry.field(description="按全局编号批量取对象（最多100个）")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > get_settings().max_page_size:
            raise GraphQLError("一次最多查询100个对象", extensions={"code": "TOO_MANY_IDS"})
        return await resolve_nodes(info, ids)


@strawberry.type
class Query(
    NodeQuery, IdentityQuery, LoyaltyQuery, CommunityQuery, CheckInQuery, EventQuery, ModerationQuery, ContentQuery
):
    pass


@strawberry.type
class Mutation(
    IdentityMutation,
    LoyaltyMutation,
    CommunityMutation,
    CheckInMutation,
    EventMutation,
    ModerationMutation,
    ContentMutation,
):
    pass


@strawberry.type
class Subscription(CommunitySubscription):
    pass


def build_schema() -> strawberry.Schema:
    settings = get_settings()
    extensions: list = [
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
        ErrorFormatting,
    ]
    if not settings.graphiql_enabled:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions)


schema = build_schema()
