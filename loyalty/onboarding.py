"""Patient sign-in as the loyalty program sees it: a referral code per member, attribution of the
code given at registration, and the first lifecycle stage."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import lifecycle, referrals
from patients import auth


async def sign_in(
    session: AsyncSession, *, phone: str, code: str, device_id: str | None, referral_code: str | None
) -> auth.PatientSignedIn:
    result = await auth.sign_in_patient(session, phone=phone, code=code, device_id=device_id)
    patient_id = result.patient.id
    await referrals.ensure_code(session, patient_id)
    if referral_code and referral_code.strip():
        await referrals.attribute(session, patient_id, referral_code, device_id=device_id, registered=result.registered)
    if result.registered:
        await lifecycle.recompute(session, [patient_id], reason="registered")
    return result
