"""Event settings read from django.conf.settings, with defaults for services that do not set them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings


@dataclass(frozen=True)
class EventSettings:
    bootstrap_servers: str
    service_name: str
    topics: tuple[str, ...]
    topic_partitions: int
    topic_replication_factor: int
    session_timeout_ms: int
    poll_interval: float
    batch_size: int
    delivery_timeout: float
    retention_days: int
    max_attempts: int
    retry_backoff: float
    metrics_port: int
    outbox_max_attempts: int = 8
    outbox_retry_backoff: float = 1.0
    db_max_attempts: int = 10
    db_retry_backoff: float = 1.0
    processed_retention_days: int = 30
    purge_interval: float = 3600.0
    # topic -> the CloudEvents `source` of the only service that may publish to it.
    topic_owners: Mapping[str, str] = field(default_factory=dict)
    # This service's Kafka principal (shopkit.events.kafka.security_config checks it; docs/security.md).
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    production: bool = False
    # KAFKA_PLAINTEXT_BROKER: the broker authenticates nobody (a test stand-in); production accepts PLAINTEXT.
    plaintext_broker: bool = False

    @classmethod
    def load(cls) -> EventSettings:
        return cls(
            bootstrap_servers=str(settings.KAFKA_BOOTSTRAP_SERVERS),
            service_name=str(getattr(settings, "SERVICE_NAME", "shop")),
            topics=tuple(getattr(settings, "SHOP_EVENT_TOPICS", ("shop.users", "shop.orders"))),
            topic_partitions=int(getattr(settings, "KAFKA_TOPIC_PARTITIONS", 3)),
            topic_replication_factor=int(getattr(settings, "KAFKA_TOPIC_REPLICATION_FACTOR", 1)),
            session_timeout_ms=int(getattr(settings, "KAFKA_CONSUMER_SESSION_TIMEOUT_MS", 6000)),
            poll_interval=float(getattr(settings, "OUTBOX_POLL_INTERVAL", 0.2)),
            batch_size=max(1, int(getattr(settings, "OUTBOX_BATCH_SIZE", 100))),
            delivery_timeout=float(getattr(settings, "OUTBOX_DELIVERY_TIMEOUT_SECONDS", 10.0)),
            retention_days=int(getattr(settings, "OUTBOX_RETENTION_DAYS", 7)),
            max_attempts=max(1, int(getattr(settings, "EVENT_MAX_ATTEMPTS", 3))),
            retry_backoff=float(getattr(settings, "EVENT_RETRY_BACKOFF_SECONDS", 0.5)),
            metrics_port=int(getattr(settings, "METRICS_PORT", 0) or 0),
            outbox_max_attempts=max(1, int(getattr(settings, "OUTBOX_MAX_ATTEMPTS", 8))),
            outbox_retry_backoff=max(0.0, float(getattr(settings, "OUTBOX_RETRY_BACKOFF_SECONDS", 1.0))),
            db_max_attempts=max(1, int(getattr(settings, "EVENT_DB_MAX_ATTEMPTS", 10))),
            db_retry_backoff=max(0.0, float(getattr(settings, "EVENT_DB_RETRY_BACKOFF_SECONDS", 1.0))),
            processed_retention_days=int(getattr(settings, "PROCESSED_EVENT_RETENTION_DAYS", 30)),
            purge_interval=float(getattr(settings, "EVENT_PURGE_INTERVAL_SECONDS", 3600.0)),
            topic_owners=dict(getattr(settings, "SHOP_EVENT_TOPIC_OWNERS", {})),
            security_protocol=str(getattr(settings, "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")).upper(),
            sasl_mechanism=str(getattr(settings, "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")),
            sasl_username=str(getattr(settings, "KAFKA_SASL_USERNAME", "")),
            sasl_password=str(getattr(settings, "KAFKA_SASL_PASSWORD", "")),
            production=getattr(settings, "SHOP_ENV", "development") == "production",
            plaintext_broker=bool(getattr(settings, "KAFKA_PLAINTEXT_BROKER", False)),
        )
