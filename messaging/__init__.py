"""Messaging: channels behind one interface (in-app inbox, SMS, e-mail, WeChat), templates,
delivery exactly once per source_ref, engagement tracking.

Importing the package puts the in-app inbox behind core.channels' IN_APP notices and the configured
SMS provider behind its SMS notices (core must not import domains, so the registration happens here).
"""

from __future__ import annotations

from core.channels import ChannelName, register_provider
from messaging.providers import NoticeInbox, SmsNotice

register_provider(ChannelName.IN_APP, NoticeInbox())
register_provider(ChannelName.SMS, SmsNotice())
