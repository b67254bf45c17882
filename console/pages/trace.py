"""Marketing: "why did this patient get this message". Find the patient (phone or nickname, the finder of
the front desk with a name added; marketers see the phone masked), then every campaign delivery to them
(sent, deferred, skipped) and every other message the outreach policy let out, with the reasons."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from console.menu import TRACE
from console.pages.campaigns import CHANNELS, DELIVERY_STATUSES
from console.web import Console, staff_page

FIND = """query ConsoleTraceFind($phone: String, $name: String) { patients(phone: $phone, name: $name, first: 20) {
  nodes { id nickname phone } } }"""
PATIENT = """query ConsoleTracePatient($id: ID!) { node(id: $id) { ... on Patient { id nickname phone } } }"""
TRACE_QUERY = """query ConsoleTrace($id: ID!, $after: String) {
  patientMessageTrace(patientId: $id, first: 30, after: $after) {
  nodes { at kind messageClass channel source policy campaign { id name }
    delivery { status skipReason notBefore sentAt deliveredAt
      explanation { summary chosenBecause channelBecause frequency deferredUntil skippedBecause
        consent { channel purpose givenAt source } } } }
  pageInfo { hasNextPage endCursor } } }"""
CLASSES = {"marketing": "营销", "care": "关怀", "notice": "通知"}
PURPOSES = {"marketing": "营销", "service": "服务"}


def _finder(text: str) -> dict[str, str | None]:
    """Digits (with spaces, dashes or a +86) look for a phone number; anything else for a name."""
    digits = "".join(ch for ch in text if ch.isdigit())
    looks_like_phone = len(digits) >= 7 and all(ch.isdigit() or ch in " -+()" for ch in text)
    return {"phone": text, "name": None} if looks_like_phone else {"phone": None, "name": text}


@staff_page(*TRACE)
async def trace(c: Console) -> Response:
    params = c.request.query_params
    q = (params.get("q") or "").strip()[:50]
    patient_id = (params.get("patient") or "").strip()[:100]
    errors: list[Any] = []
    matches: list[dict[str, Any]] = []
    if q and not patient_id:
        found = await c.run(FIND, _finder(q))
        errors += found.errors
        matches = (found.data.get("patients") or {}).get("nodes") or []
        if len(matches) == 1:
            return c.redirect("/console/marketing/trace?" + urlencode({"patient": matches[0]["id"]}))
    patient = None
    entries: list[dict[str, Any]] = []
    page_info: dict[str, Any] = {}
    if patient_id:
        shown = await c.run(PATIENT, {"id": patient_id})
        patient = shown.data.get("node") if "node" in shown.data else None
        listed = await c.run(TRACE_QUERY, {"id": patient_id, "after": params.get("after") or None})
        errors += listed.errors
        connection = listed.data.get("patientMessageTrace") or {"nodes": [], "pageInfo": {}}
        entries, page_info = connection["nodes"], connection["pageInfo"]
    return await c.render(
        "marketing/trace.html",
        q=q,
        searched=bool(q) and not patient_id,
        matches=matches,
        patient=patient,
        patient_id=patient_id,
        entries=entries,
        page_info=page_info,
        base="/console/marketing/trace?" + urlencode({"patient": patient_id}),
        channels=CHANNELS,
        classes=CLASSES,
        purposes=PURPOSES,
        statuses=DELIVERY_STATUSES,
        errors=errors,
    )


ROUTES = [Route("/marketing/trace", trace, methods=["GET"])]
