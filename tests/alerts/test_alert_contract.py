"""The alert contract, live: every fault of docs/faults.md, switched with the operator's CLI on `make run`'s
processes under a small scripted load, fires the alerts its documentation names in a real Prometheus
(Debian's), and they clear once it is off. TargetDown and the checkout burn-rate page go the whole way:
routed by the real Alertmanager and delivered to a webhook, runbook link included.

How each test runs (`contract`):
1. A Prometheus with no history (conftest `prometheus`), the shop under the fault's load: nothing is
   pending or firing.
2. The fault on (`python -m tools.faults set ...`): the named alerts fire. `for:` is cut to a few seconds
   (SHOP_ALERT_FOR_CAP); the expressions are compose/prometheus/rules' own.
3. The fault off: the same alerts stop being pending or firing, under good traffic.

Two things are by design and said where they apply:
- A burn-rate alert is one rule per window pair (`window` label). The test requires the fast page
  (1h/5m) to fire and to clear. With a fresh Prometheus every window holds the same few minutes, so the
  6h/30m page and the 3d/6h ticket fire too; they are built to hold for hours after a burst (their
  short windows are 30 m and 6 h), so the test does not wait for them to clear (shop-slo.test.yml shows
  them clearing). `lingering` names them.
- EventsDeadLettered holds for 15 minutes after the last dead letter (it means "look at the dead-letter
  topic"); after the fault the test shows no new dead letters instead of waiting 15 minutes.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.alerts.conftest import Shop
from tests.alerts.support import (
    FAULT_ALERTS,
    GATEWAY_URL,
    PAGE,
    PRODUCTS_URL,
    Alertmanager,
    Expected,
    Prometheus,
    Shopper,
    describe,
    driving,
    poll,
    register,
    switch,
)

FIRE_SECONDS = 60.0
CLEAR_SECONDS = 120.0
BASELINE_PAUSE = 0.5
GATEWAY_CHECKOUT_5XX = (
    'sum(django_http_responses_total_by_status_view_method_total{job="gateway", view="api:checkout", '
    'method="POST", status=~"5.."})'
)
# The stack starts inside the first test's time; a contract takes well under a minute when it holds.
pytestmark = pytest.mark.timeout(300)


def journey(*steps: Callable[[Shopper], None]) -> Callable[[Shopper], None]:
    def run(shopper: Shopper) -> None:
        for step in steps:
            step(shopper)

    return run


BROWSE = journey(Shopper.browse)
PRODUCTS = journey(Shopper.products_api)
CATALOG = journey(Shopper.browse, Shopper.products_api)
CHECKOUT = journey(Shopper.checkout)
# Good traffic to clear with: a checkout and cheap reads of carts and orders, which dilute their
# services' 5xx share and p99 much faster than checkouts alone.
CHECKOUT_AND_READS = journey(Shopper.checkout, Shopper.reads, Shopper.reads)


def register_journey(shopper: Shopper) -> None:
    """A registration: one row in users' outbox (user.registered)."""
    with httpx.Client(base_url=GATEWAY_URL, timeout=10.0) as client:
        register(client)
        shopper.counts.add(201)


@dataclass(frozen=True)
class Load:
    journey: Callable[[Shopper], None]
    shoppers: int = 2
    pause: float = 0.0


@dataclass
class Outcome:
    fired_after: float
    cleared_after: float
    firing: list[str]
    lingering: list[str]


def _active(prometheus: Prometheus) -> list[str]:
    return [describe(a) for a in prometheus.alerts()]


def _none_active(prometheus: Prometheus, expected: Sequence[Expected]) -> bool:
    return not any(prometheus.active(e) for e in expected)


def _wait_until_answering(url: str, path: str, *, seconds: float = 30.0) -> None:
    """One request a second until `url` answers 2xx again (the gateway's circuit breaker lets one trial
    request through CIRCUIT_RESET_SECONDS after it opened), so clearing traffic is not refused."""

    def answers() -> bool:
        try:
            return httpx.get(url + path, timeout=5.0).is_success
        except httpx.HTTPError:
            return False

    deadline = time.monotonic() + seconds
    while not answers():
        assert time.monotonic() < deadline, f"{url}{path} did not answer 2xx again within {seconds:.0f} s"
        time.sleep(1.0)


def contract(
    shop: Shop,
    prometheus: Prometheus,
    *,
    fault: str,
    value: str | None,
    load: Load,
    clears: Sequence[Expected] | None = None,
    clear_with: Load | None = None,
    after_off: Callable[[], None] | None = None,
    quiet: Load | None = None,
    only: list[Shopper] | None = None,
) -> Outcome:
    """`quiet` is the load of step 1 (default: `load`'s journeys, lightly: the fewer good events before,
    the sooner the fault's share grows); `only` replaces the shared shoppers."""
    fires = FAULT_ALERTS[fault]
    clears = fires if clears is None else clears
    shoppers = only or shop.shoppers(max(load.shoppers, clear_with.shoppers if clear_with else 0))
    quiet = quiet or Load(load.journey, load.shoppers, max(load.pause, BASELINE_PAUSE))
    # 1. off: several evaluations under the quiet load, nothing pending or firing
    with driving(shoppers[: quiet.shoppers], quiet.journey, pause=quiet.pause) as counts:
        poll(lambda: prometheus.scraped_every_target({"gateway"}, 5), seconds=30, what="a few evaluations")
        active_when_off = prometheus.alerts()
    assert active_when_off == [], f"with {fault} off, alerts are active: {_active(prometheus)} ({counts})"
    # 2. on: the documented alerts fire
    switched_on = time.monotonic()
    switch(fault, value)
    first_firing: dict[str, float] = {}

    def all_firing() -> bool:
        for expected in fires:
            if str(expected) not in first_firing and prometheus.firing(expected):
                first_firing[str(expected)] = time.monotonic() - switched_on
        return len(first_firing) == len(fires)

    try:
        with driving(shoppers[: load.shoppers], load.journey, pause=load.pause) as counts:
            poll(
                all_firing,
                seconds=FIRE_SECONDS,
                what=lambda: f"{fault}: {[str(e) for e in fires]} firing; active: {_active(prometheus)} ({counts})",
            )
        fired_after = time.monotonic() - switched_on
        firing = sorted(describe(a) for a in prometheus.alerts() if a["state"] == "firing")
        on_counts = str(counts)
        seconds = ", ".join(f"{name} {after:.1f} s" for name, after in first_firing.items())
        sys.stdout.write(f"\n{fault}={value}: fired {seconds} ({on_counts})")
    finally:
        switch(fault, off=True)
    # 3. off again: every alert it fired clears (but the burn-rate pairs built to hold, see the docstring)
    switched_off = time.monotonic()
    if after_off is not None:
        after_off()
    clearing = clear_with or load
    with driving(shoppers[: clearing.shoppers], clearing.journey, pause=clearing.pause) as counts:
        poll(
            lambda: _none_active(prometheus, clears) and all(held_by_design(a) for a in prometheus.alerts()),
            seconds=CLEAR_SECONDS,
            what=lambda: f"{fault} off: {[str(e) for e in clears]} cleared; active: {_active(prometheus)} ({counts})",
        )
    cleared_after = time.monotonic() - switched_off
    lingering = sorted(describe(a) for a in prometheus.alerts())
    sys.stdout.write(
        f"; all cleared {cleared_after:.1f} s after off ({counts}); firing then: {firing}; "
        f"held by design: {lingering}\n"
    )
    return Outcome(fired_after, cleared_after, firing, lingering)


def held_by_design(alert: dict[str, Any]) -> bool:
    """A burn-rate pair whose short window is 30 minutes or more (see the module docstring)."""
    labels = alert["labels"]
    return bool(labels["alertname"].endswith("BudgetBurn") and labels.get("window") != PAGE)


def _lingering_are_slow_windows(outcome: Outcome) -> None:
    for alert in outcome.lingering:
        assert "BudgetBurn" in alert, alert
        assert PAGE not in alert, alert


# --- products ---------------------------------------------------------------------------------------


def test_products_http_latency_fires_the_p99_and_browse_latency_alerts_and_they_clear(
    shop: Shop, prometheus: Prometheus
) -> None:
    outcome = contract(
        shop,
        prometheus,
        fault="products-http-latency",
        value="1200",
        load=Load(CATALOG, shoppers=1, pause=0.5),
        clear_with=Load(CATALOG, shoppers=4),
    )
    _lingering_are_slow_windows(outcome)


def test_products_grpc_latency_fires_the_cart_and_checkout_latency_pages_and_they_clear(
    shop: Shop, prometheus: Prometheus
) -> None:
    outcome = contract(
        shop,
        prometheus,
        fault="products-grpc-latency",
        # Above the cart SLO's 0.5 s for one call; a checkout makes three calls, so 2.1 s: above the
        # checkout SLO's 1 s, under the gateway's 3 s upstream timeout (past it, 504s: availability).
        value="700",
        load=Load(journey(Shopper.cart_change, Shopper.checkout), shoppers=1, pause=0.5),
        clear_with=Load(journey(Shopper.cart_change, Shopper.checkout, Shopper.reads, Shopper.reads), shoppers=4),
    )
    _lingering_are_slow_windows(outcome)


def test_products_errors_fire_the_5xx_ratio_and_browse_availability_page_and_they_clear(
    shop: Shop, prometheus: Prometheus
) -> None:
    outcome = contract(
        shop,
        prometheus,
        fault="products-errors",
        value="1",
        load=Load(CATALOG, shoppers=1, pause=0.5),
        after_off=lambda: _wait_until_answering(GATEWAY_URL, "/api/products"),
        clear_with=Load(CATALOG, shoppers=4),
    )
    _lingering_are_slow_windows(outcome)


def test_catalog_cache_off_fires_the_hit_ratio_alert_and_it_clears(shop: Shop, prometheus: Prometheus) -> None:
    outcome = contract(
        shop,
        prometheus,
        fault="catalog-cache-off",
        value=None,
        # The alert wants more than one lookup a second over its 10-minute window: 600 lookups.
        load=Load(CATALOG, shoppers=4),
        clear_with=Load(CATALOG, shoppers=4),
    )
    assert outcome.lingering == []


def test_a_memory_leak_in_products_fires_process_memory_high_and_a_restart_clears_it(
    shop: Shop, prometheus: Prometheus
) -> None:
    def restart_products() -> None:
        shop.stack.stop_process("products")
        shop.stack.restart_process("products")
        _wait_until_answering(PRODUCTS_URL, "/health/ready")

    outcome = contract(
        shop,
        prometheus,
        fault="memory-leak",
        # 8 MiB a request: the 256 MiB cap after 32 requests.
        value="8192",
        load=Load(PRODUCTS, shoppers=1, pause=0.05),
        # A restart is a few seconds without products: with `for:` cut to seconds, TargetDown may fire.
        clears=[Expected.of("ProcessMemoryHigh", job="products"), Expected.of("TargetDown", job="products")],
        after_off=restart_products,
        clear_with=Load(PRODUCTS, shoppers=1, pause=0.2),
    )
    assert outcome.lingering == []


# --- gateway ----------------------------------------------------------------------------------------


def test_gateway_cpu_burn_fires_the_gateway_p99_and_browse_latency_alerts_and_they_clear(
    shop: Shop, prometheus: Prometheus
) -> None:
    outcome = contract(
        shop,
        prometheus,
        fault="gateway-cpu-burn",
        value="1100",
        load=Load(BROWSE, shoppers=1, pause=0.5),
        clear_with=Load(BROWSE, shoppers=4),
    )
    _lingering_are_slow_windows(outcome)


# --- orders -----------------------------------------------------------------------------------------


def test_carts_unavailable_fires_the_checkout_alerts_and_the_page_reaches_the_webhook_with_its_runbook(
    shop: Shop, prometheus: Prometheus
) -> None:
    """Three failed checkouts through the gateway are enough for the page (the first makes the 5xx
    series, the next two count: 2 of about ten is far above the 1.44% a 14.4x burn needs); the rest go
    to orders on its own port, for orders' own alerts. Every failed checkout the gateway answers must be
    outweighed 70 to 1 before the page clears, so the gateway sees no more than the page needs."""
    through_gateway = itertools.count()
    gateway_first = threading.Lock()

    def checkout(shopper: Shopper) -> None:
        with gateway_first:  # the three gateway checkouts first, one after the other
            n = next(through_gateway)
            if n < 3:
                shopper.checkout()
                if n == 0:
                    # rate() counts only what follows the first sample of the gateway's new 5xx series.
                    poll(
                        lambda: prometheus.query(f"{GATEWAY_CHECKOUT_5XX} > 0"),
                        seconds=15,
                        what="Prometheus scraped the gateway's first failed checkout",
                    )
                return
        shopper.checkout(direct=True)

    page = Expected.of("CheckoutAvailabilityBudgetBurn", window=PAGE)
    delivered_before = len(shop.webhook.alerts("CheckoutAvailabilityBudgetBurn", "firing", window=PAGE))
    outcome = contract(
        shop,
        prometheus,
        fault="carts-unavailable",
        value=None,
        quiet=Load(CHECKOUT, shoppers=1, pause=0.5),
        # Three through the gateway: under its circuit breaker's CIRCUIT_FAIL_MAX (5), so clearing
        # checkouts are not answered "circuit open".
        # CheckoutFailureSpike wants more than 0.05 failures a second over its 10-minute window: 30.
        load=Load(journey(checkout), shoppers=2, pause=0.3),
        clear_with=Load(journey(Shopper.checkout, *[Shopper.reads] * 4), shoppers=4),
    )
    _lingering_are_slow_windows(outcome)
    # the whole path: Prometheus -> Alertmanager (critical route) -> the webhook, with the runbook link
    delivered = shop.webhook.alerts("CheckoutAvailabilityBudgetBurn", "firing", window=PAGE)[delivered_before:]
    assert delivered, "the checkout page never reached the webhook"
    assert {a["labels"]["severity"] for a in delivered} == {"critical"}
    assert all(a["annotations"]["runbook_url"] == "docs/runbooks/CheckoutAvailabilityBudgetBurn.md" for a in delivered)
    poll(
        lambda: not Alertmanager().active(page),
        seconds=60,
        what="Alertmanager: the checkout page resolved",
    )


def test_orders_db_slow_fires_the_checkout_latency_page_and_orders_p99_and_they_clear(
    shop: Shop, prometheus: Prometheus
) -> None:
    outcome = contract(
        shop,
        prometheus,
        fault="orders-db-slow",
        # A checkout runs a dozen or so statements: 1-2 s, above the checkout SLO's 1 s and under the
        # gateway's 3 s upstream timeout (past it, 504s would spend the availability budget as well).
        value="100",
        load=Load(CHECKOUT, shoppers=1, pause=0.5),
        clear_with=Load(CHECKOUT_AND_READS, shoppers=4),
    )
    _lingering_are_slow_windows(outcome)


# --- events -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["outbox-relay-stalled", "kafka-unreachable"])
def test_a_relay_that_cannot_publish_fires_outbox_not_publishing_and_it_clears_when_the_backlog_drains(
    shop: Shop, prometheus: Prometheus, fault: str
) -> None:
    """Checkouts write orders' outbox; the relay sends nothing while the fault is on. The quiet phase is
    catalog traffic: a publish seen by this Prometheus stays in the alert's 5-minute window for 5 minutes.
    The backlog drains by itself once the fault is off: no traffic is needed to clear."""
    shopper = shop.late_events_shopper()
    outcome = contract(
        shop,
        prometheus,
        fault=fault,
        value=None,
        quiet=Load(BROWSE, shoppers=1, pause=0.5),
        load=Load(journey(lambda s: s.checkout(settle_seconds=0.0)), shoppers=1, pause=0.5),
        only=[shopper],
        clear_with=Load(journey(lambda s: None), shoppers=1, pause=0.5),
    )
    assert outcome.lingering == []
    # The alert clears at the first publish; the backlog is gone soon after (the relay reports it every
    # few seconds).
    poll(
        lambda: [float(row["value"][1]) for row in prometheus.query('shop_outbox_backlog{job="orders-relay"}')] == [0],
        seconds=60,
        what="orders' outbox backlog drained",
    )


def test_target_down_is_routed_to_the_webhook_with_its_runbook_and_resolves_when_the_process_is_back(
    shop: Shop, prometheus: Prometheus
) -> None:
    down = Expected.of("TargetDown", job="users-relay")
    assert prometheus.alerts() == []
    # when
    stopped = time.monotonic()
    shop.stack.stop_process("users-relay")
    try:
        poll(lambda: prometheus.firing(down), seconds=FIRE_SECONDS, what="TargetDown{job=users-relay} firing")
        fired_after = time.monotonic() - stopped
        delivered = poll(
            lambda: shop.webhook.alerts("TargetDown", "firing", job="users-relay"),
            seconds=60,
            what="TargetDown delivered to the webhook",
        )
        delivered_after = time.monotonic() - stopped
    finally:
        shop.stack.restart_process("users-relay")
    # then
    assert delivered[0]["labels"]["severity"] == "critical"
    assert delivered[0]["annotations"]["runbook_url"] == "docs/runbooks/TargetDown.md"
    restarted = time.monotonic()
    poll(lambda: not prometheus.active(down), seconds=CLEAR_SECONDS, what="TargetDown cleared")
    poll(lambda: not Alertmanager().active(down), seconds=60, what="Alertmanager: TargetDown resolved")
    sys.stdout.write(
        f"\nTargetDown: firing {fired_after:.1f} s after the stop, at the webhook {delivered_after:.1f} s, "
        f"resolved {time.monotonic() - restarted:.1f} s after the restart\n"
    )
    assert prometheus.alerts() == []


# Last: its alert holds for 15 minutes by design, and a new Prometheus sees existing dead letters as new.
def test_a_consumer_failing_every_event_fires_events_dead_lettered_and_stops_dead_lettering_once_off(
    shop: Shop, prometheus: Prometheus
) -> None:
    [dead] = FAULT_ALERTS["consumer-fail-every-event"]
    shoppers = shop.shoppers(1)
    with driving(shoppers, CHECKOUT, pause=0.5):
        poll(lambda: prometheus.scraped_every_target({"gateway"}, 6), seconds=30, what="a few evaluations")
        assert prometheus.alerts() == []
    switch("consumer-fail-every-event")
    try:
        with driving(shoppers, journey(lambda s: s.checkout(settle_seconds=0.0)), pause=0.5):
            poll(lambda: prometheus.firing(dead), seconds=FIRE_SECONDS, what="EventsDeadLettered firing")
    finally:
        switch("consumer-fail-every-event", off=True)

    def dead_letters() -> float:
        rows = prometheus.query('sum(shop_events_dead_lettered_total{service="carts"})')
        return float(rows[0]["value"][1]) if rows else 0.0

    # Events the fault is still retrying finish dead-lettering first; then none is added.
    settled = poll(lambda: _steady(dead_letters, 3.0), seconds=60, what="dead letters stop growing")
    with driving(shoppers, CHECKOUT, pause=0.2) as counts:
        processed = poll(
            lambda: prometheus.query(
                'sum(increase(shop_events_consumed_total{job="carts-consumer", outcome="processed"}[30s])) > 0'
            ),
            seconds=60,
            what="carts processes events again",
        )
    assert processed
    assert dead_letters() == settled, f"dead letters grew after the fault was off ({counts})"
    assert prometheus.firing(dead), "EventsDeadLettered holds for its 15-minute window"


def _steady(read: Callable[[], float], seconds: float) -> float | None:
    """`read()`'s value if it is above zero and stays the same for `seconds` (read every half second)."""
    first = read()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if read() != first:
            return None
    return first if first > 0 else None
