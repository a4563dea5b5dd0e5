"""Event settings read from django.conf.settings (their defaults: shopkit.base_settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings


@dataclass(frozen=True)
class EventSettings:
    """The events settings of one process. Their defaults live once, in shopkit.base_settings (from the
    environment), which every service's settings start from; nothing here repeats them."""

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
    outbox_max_attempts: int
    outbox_retry_backoff: float
    db_max_attempts: int
    db_retry_backoff: float
    processed_retention_days: int
    purge_interval: float
    # topic -> the CloudEvents `source` of the only service that may publish to it.
    topic_owners: Mapping[str, str]
    # This service's Kafka principal (shopkit.events.kafka.security_config checks it; docs/security.md).
    security_protocol: str
    sasl_mechanism: str
    sasl_username: str
    sasl_password: str = field(repr=False)
    production: bool
    # KAFKA_PLAINTEXT_BROKER: the broker authenticates nobody (a test stand-in); production accepts PLAINTEXT.
    plaintext_broker: bool

    @classmethod
    def load(cls) -> EventSettings:
        return cls(
            bootstrap_servers=str(settings.KAFKA_BOOTSTRAP_SERVERS),
            service_name=str(getattr(settings, "SERVICE_NAME", "shop")),
            topics=tuple(settings.SHOP_EVENT_TOPICS),
            topic_partitions=int(settings.KAFKA_TOPIC_PARTITIONS),
            topic_replication_factor=int(settings.KAFKA_TOPIC_REPLICATION_FACTOR),
            session_timeout_ms=int(settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS),
            poll_interval=float(settings.OUTBOX_POLL_INTERVAL),
            batch_size=max(1, int(settings.OUTBOX_BATCH_SIZE)),
            delivery_timeout=float(settings.OUTBOX_DELIVERY_TIMEOUT_SECONDS),
            retention_days=int(settings.OUTBOX_RETENTION_DAYS),
            max_attempts=max(1, int(settings.EVENT_MAX_ATTEMPTS)),
            retry_backoff=float(settings.EVENT_RETRY_BACKOFF_SECONDS),
            metrics_port=int(settings.METRICS_PORT or 0),
            outbox_max_attempts=max(1, int(settings.OUTBOX_MAX_ATTEMPTS)),
            outbox_retry_backoff=max(0.0, float(settings.OUTBOX_RETRY_BACKOFF_SECONDS)),
            db_max_attempts=max(1, int(settings.EVENT_DB_MAX_ATTEMPTS)),
            db_retry_backoff=max(0.0, float(settings.EVENT_DB_RETRY_BACKOFF_SECONDS)),
            processed_retention_days=int(settings.PROCESSED_EVENT_RETENTION_DAYS),
            purge_interval=float(settings.EVENT_PURGE_INTERVAL_SECONDS),
            topic_owners=dict(settings.SHOP_EVENT_TOPIC_OWNERS),
            security_protocol=str(settings.KAFKA_SECURITY_PROTOCOL).upper(),
            sasl_mechanism=str(settings.KAFKA_SASL_MECHANISM),
            sasl_username=str(settings.KAFKA_SASL_USERNAME),
            sasl_password=str(settings.KAFKA_SASL_PASSWORD),
            production=settings.SHOP_ENV == "production",
            plaintext_broker=bool(settings.KAFKA_PLAINTEXT_BROKER),
        )
