"""`GET /api/health`: the gateway's and every downstream service's status."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from gateway_svc import health
from gateway_svc.schemas import HealthOut, Problem

router = Router(tags=["health"])


@router.get("/health", response={200: HealthOut, 503: Problem}, auth=None)
async def health_report(request: HttpRequest) -> HttpResponse:
    return await health.report()
