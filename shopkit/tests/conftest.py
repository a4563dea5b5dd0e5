"""Fixtures of the shared package's suite: broker settings per test and consumer commands built on the fly."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shopkit.events.consumer import ConsumerCommand, Handler


@pytest.fixture
def topic() -> str:
    """A topic of this test alone: the session's broker is shared."""
    return f"test.{uuid.uuid4().hex[:12]}"


@pytest.fixture
def kafka_settings(settings: Any, kafka_bootstrap: str, topic: str) -> Any:
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_bootstrap
    settings.SHOP_EVENT_TOPICS = [topic]
    settings.KAFKA_TOPIC_PARTITIONS = 2
    settings.OUTBOX_DELIVERY_TIMEOUT_SECONDS = 2.0
    settings.OUTBOX_POLL_INTERVAL = 0.05
    settings.EVENT_RETRY_BACKOFF_SECONDS = 0.01
    settings.EVENT_MAX_ATTEMPTS = 3
    settings.EVENT_DB_RETRY_BACKOFF_SECONDS = 0.01
    settings.OUTBOX_RETRY_BACKOFF_SECONDS = 0.01
    # The suite's events come from SERVICE_NAME "shopkit-tests" (shopkit_tests.settings).
    settings.SHOP_EVENT_TOPIC_OWNERS = {topic: "/shop/shopkit-tests"}
    # Tansu assigns partitions after about half the session timeout (ARCHITECTURE.md).
    settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS = 1500
    settings.METRICS_PORT = 0
    return settings


@pytest.fixture
def consumer_command(topic: str) -> Callable[..., ConsumerCommand]:
    """A service-style consumer command for this test's topic and a fresh group."""

    def build(handlers: dict[str, Handler], *, group_id: str | None = None) -> ConsumerCommand:
        class Command(ConsumerCommand):
            def get_handlers(self) -> dict[str, Handler]:
                return handlers

        Command.group_id = group_id or f"group-{uuid.uuid4().hex[:8]}"
        Command.topics = (topic,)
        return Command()

    return build


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict):
            self.events.append(dict(record.msg))


@pytest.fixture
def events_log() -> Iterator[list[dict[str, Any]]]:
    """The structlog event dicts the events package logs during the test (its loggers are stdlib ones)."""
    handler = _Records()
    logger = logging.getLogger("shopkit.events")
    logger.addHandler(handler)
    try:
        yield handler.events
    finally:
        logger.removeHandler(handler)
