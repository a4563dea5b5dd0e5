"""The gateway-cpu-burn fault: every request spends the fault's milliseconds of CPU in the gateway process.

Switched in the session's flags file (shopkit.testing.faults), read by the real flagd in-process provider.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from gateway_svc.tests.conftest import Gateway
from gateway_svc.tests.stubs import StubUpstream


def _cpu_seconds_of_requests(gateway: Gateway, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        assert gateway.get("/api/categories").status_code == 200
    return time.process_time() - started


def test_cpu_burn_spends_cpu_on_every_request(
    gateway: Gateway, upstream: StubUpstream, switch_fault: Callable[..., Any]
) -> None:
    # given
    upstream.reply("GET", "/api/categories", body={"items": [], "count": 0})
    _cpu_seconds_of_requests(gateway, 1)  # warm-up: URL patterns, schemas, the faults provider
    baseline = _cpu_seconds_of_requests(gateway, 5)
    switch_fault("gateway-cpu-burn", "100")
    # when
    burning = _cpu_seconds_of_requests(gateway, 5)
    # then: 5 x 100 ms of CPU more (thread CPU time, so a busy machine does not shrink it)
    assert burning - baseline > 0.45
    sys.stdout.write(f"\n5 gateway requests: {baseline:.3f} s CPU without, {burning:.3f} s with 100 ms burn each\n")


def test_the_gateway_ignores_the_products_faults(
    gateway: Gateway, upstream: StubUpstream, switch_fault: Callable[..., Any]
) -> None:
    # given: a products fault is on; the gateway's own answer is untouched (it relays what products says)
    upstream.reply("GET", "/api/categories", body={"items": [], "count": 0})
    switch_fault("products-errors", "1")
    # when / then
    assert gateway.get("/api/categories").status_code == 200
