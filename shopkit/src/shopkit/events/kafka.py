"""Kafka client configuration and topic creation shared by the relay and the consumers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from django.core.exceptions import ImproperlyConfigured

from shopkit.events.conf import EventSettings
from shopkit.logging import get_logger

log = get_logger(__name__)

# librdkafka's own log lines go through the logging set-up (JSON in the full stack), not raw stderr.
_rdkafka_logger = logging.getLogger("shopkit.events.rdkafka")

DLQ_SUFFIX = ".dlq"


def delivery_recorder(results: dict[str, Any], key: str) -> Callable[[KafkaError | None, Any], None]:
    """A delivery callback storing the report's error (None on success) under `key`.

    After a fatal producer error librdkafka calls back with a Python exception already set, so any
    call made inside the callback (even a method of the error, or a UUID's __hash__) fails with
    SystemError: the callback does nothing but a plain store under a str key.
    """

    def record(error: KafkaError | None, _message: Any) -> None:
        results[key] = error

    return record


def dlq_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


def security_config(conf: EventSettings) -> dict[str, str]:
    """librdkafka's properties for this service's principal: SASL (SCRAM in the full stack, where the
    broker's ACLs let each principal write only its own topics), or none for PLAINTEXT, which production
    refuses. A missing setting fails loudly at start, naming the variable."""
    if conf.security_protocol == "PLAINTEXT":
        if conf.production and conf.plaintext_broker:
            log.warning(
                "kafka_unauthenticated",
                detail="KAFKA_PLAINTEXT_BROKER=true: this service does not authenticate to Kafka and nothing "
                "stops another client from publishing its events; only for a broker that cannot authenticate",
            )
        elif conf.production:
            raise ImproperlyConfigured(
                "KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused when SHOP_ENV=production: every service "
                "authenticates to Kafka (SASL_PLAINTEXT or SASL_SSL with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)"
            )
        return {}
    if conf.security_protocol not in SASL_PROTOCOLS:
        raise ImproperlyConfigured(
            f"KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SASL_PLAINTEXT or SASL_SSL, not {conf.security_protocol}"
        )
    missing = [
        name
        for name, value in (("KAFKA_SASL_USERNAME", conf.sasl_username), ("KAFKA_SASL_PASSWORD", conf.sasl_password))
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"{' and '.join(missing)} must be set with KAFKA_SECURITY_PROTOCOL={conf.security_protocol}"
        )
    return {
        "security.protocol": conf.security_protocol,
        "sasl.mechanism": conf.sasl_mechanism,
        "sasl.username": conf.sasl_username,
        "sasl.password": conf.sasl_password,
    }


def base_config(conf: EventSettings, *, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": conf.bootstrap_servers,
        "client.id": f"{conf.service_name}-{client_id}",
        "logger": _rdkafka_logger,
        # A stopped broker is retried quietly; the relay and consumers log their own outcomes.
        "log.connection.close": False,
        **security_config(conf),
    }


def producer_config(conf: EventSettings, *, client_id: str) -> dict[str, Any]:
    return {
        **base_config(conf, client_id=client_id),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        # Every message gets a delivery report within this time, so a flush never waits longer.
        "message.timeout.ms": max(1000, int(conf.delivery_timeout * 1000)),
    }


def consumer_config(conf: EventSettings, *, group_id: str) -> dict[str, Any]:
    return {
        **base_config(conf, client_id=f"consumer-{group_id}"),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # librdkafka's 45 s default makes a new member wait ~23 s for partitions on Tansu (ARCHITECTURE.md).
        "session.timeout.ms": conf.session_timeout_ms,
        "heartbeat.interval.ms": max(100, conf.session_timeout_ms // 3),
        # An idle fetch returns after at most this long: librdkafka's 500 ms default put up to half a
        # second between a relayed event and its handler (docs/BENCHMARKS.md, events row).
        "fetch.wait.max.ms": 50,
    }


def ensure_topics(conf: EventSettings, topics: Iterable[str], *, timeout: float = 5.0) -> set[str]:
    """Create missing topics ("already exists" is success); returns the topics known to exist.

    Best effort: a broker that is down is logged, not raised, and the caller tries again later.
    """
    wanted = sorted(set(topics))
    if not wanted:
        return set()
    admin = AdminClient({k: v for k, v in base_config(conf, client_id="admin").items() if k != "log.connection.close"})
    new_topics = [
        NewTopic(topic, num_partitions=conf.topic_partitions, replication_factor=conf.topic_replication_factor)
        for topic in wanted
    ]
    try:
        futures = admin.create_topics(new_topics, operation_timeout=timeout, request_timeout=timeout)
    except KafkaException as exc:
        log.warning("kafka_topics_not_ensured", topics=wanted, error=str(exc))
        return set()
    existing: set[str] = set()
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout + 1)
            existing.add(topic)
            log.info("kafka_topic_created", topic=topic)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                existing.add(topic)
            elif isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                # The full stack's ACLs let a consumer read a topic, not create it: kafka-init made it.
                log.info("kafka_topic_create_not_authorized", topic=topic)
            else:
                log.warning("kafka_topic_not_ensured", topic=topic, error=str(exc))
        except TimeoutError as exc:
            log.warning("kafka_topic_not_ensured", topic=topic, error=str(exc) or "timeout")
    return existing
