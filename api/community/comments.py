"""Comment mutations after creation: the author edits or deletes, a moderator removes."""

from __future__ import annotations

import strawberry

from api.community.types import CommentType
from api.context import Info
from api.error_types import CommunityError
from api.mutations import mutate, on_id
from community import comments, posts
from community.models import Comment


@strawberry.type
class CommentPayload:
    comment: CommentType | None = None
    help_text: str | None = strawberry.field(default=None, description="紧急情况时立即给作者的求助信息")
    errors: list[CommunityError]

    @classmethod
    def of(cls, v: posts.Created, _info: Info) -> CommentPayload:
        assert isinstance(v.item, Comment)  # the comment services answer with the comment
        return cls(comment=CommentType.from_model(v.item, group_id=v.group_id), help_text=v.help_text, errors=[])


@strawberry.input
class CommentEditInput:
    comment_id: strawberry.ID
    body: str = strawberry.field(description="Markdown，1到2000个字符")


@strawberry.input
class CommentIdInput:
    comment_id: strawberry.ID


@strawberry.input
class CommentRemoveInput:
    comment_id: strawberry.ID
    reason: str = strawberry.field(description="删除理由（会告知作者并记入审核日志），最多300个字")


@strawberry.type
class CommentMutation:
    @strawberry.mutation(
        description="修改自己的评论：新内容与发表时一样经过紧急求助识别、敏感词和长度检查；旧内容保留，仅版主可见"
    )
    async def comment_edit(self, info: Info, input: CommentEditInput) -> CommentPayload:
        return await mutate(
            info,
            CommentPayload,
            on_id(comments.edit_comment, input.comment_id, "Comment", "commentId", body=input.body),
        )

    @strawberry.mutation(description="删除自己的评论（保留回复；内容不再对任何人显示）")
    async def comment_delete(self, info: Info, input: CommentIdInput) -> CommentPayload:
        return await mutate(
            info, CommentPayload, on_id(comments.delete_comment, input.comment_id, "Comment", "commentId")
        )

    @strawberry.mutation(description="删除违规评论（本群版主、群主、社区工作人员），须填写理由；作者会收到通知")
    async def comment_remove(self, info: Info, input: CommentRemoveInput) -> CommentPayload:
        return await mutate(
            info,
            CommentPayload,
            on_id(comments.remove_comment, input.comment_id, "Comment", "commentId", reason=input.reason),
        )
