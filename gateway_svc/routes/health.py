"""`GET /api/health`: whether the shop (the gateway and every downstream service) is up, and nothing more."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from gateway_svc import health, ratelimits
from gateway_svc.ratelimits import Scope, client_ip
from gateway_svc.schemas import HealthOut, Problem

router = Router(tags=["health"])


@router.get("/health", response={200: HealthOut, 429: Problem, 503: Problem}, auth=None)
async def health_report(request: HttpRequest) -> HttpResponse:
    """`{"status": "ok"}`, or a 503 problem when any part of the shop is not ready (checked at most about once a
    second however often it is asked). Which part, and why, is on each service's internal `/health/ready`."""
    await ratelimits.enforce(request, Scope.HEALTH, key=client_ip(request))
    return await health.public_report()
