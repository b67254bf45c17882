"""In-app messages of the care domain, through messaging's delivery (idempotent per source_ref).

Surveys and complaint replies are service messages: they go out only with the patient's in-app
consent for the service purpose, checked here for a whole batch in one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import ChannelName
from messaging.delivery import Outgoing, deliver
from patients.consents import consenting
from patients.models import ConsentChannel, ConsentPurpose


async def service_consenting(session: AsyncSession, patient_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """One statement for a batch (the cron sends hundreds)."""
    return await consenting(session, patient_ids, ConsentChannel.IN_APP.value, ConsentPurpose.SERVICE.value)


async def send_in_app(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    subject: str,
    body: str,
    link: str | None,
    source_ref: str,
) -> bool:
    """Delivered (or already delivered for this source_ref) -> True."""
    result = await deliver(
        session,
        Outgoing(
            channel=ChannelName.IN_APP,
            patient_id=patient_id,
            subject=subject,
            body=body,
            link=link,
            source_ref=source_ref,
        ),
    )
    return result.status != "failed"
