"""Stable error codes of the messaging domain."""

from __future__ import annotations

from core.errors import NotFound


class InboxMessageNotFound(NotFound):
    code = "INBOX_MESSAGE_NOT_FOUND"
    default_message = "消息不存在"


class NoLink(NotFound):
    code = "INBOX_MESSAGE_NO_LINK"
    default_message = "该消息没有链接"
