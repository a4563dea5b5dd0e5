"""Kafka consumers: at least once, commit after processing, dedupe by event id, bounded retries, dead letters.

A service's consumer is a management command:

    class Command(ConsumerCommand):
        group_id = "carts"
        topics = ("shop.orders",)

        def get_handlers(self) -> dict[str, Callable[[Event], None]]:
            return {"shop.order.confirmed.v1": handle_order_confirmed}
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from opentelemetry.trace import SpanKind, Status, StatusCode

from shopkit.events.conf import EventSettings
from shopkit.events.envelope import Event, parse_envelope
from shopkit.events.errors import EnvelopeError
from shopkit.events.kafka import consumer_config, delivery_recorder, dlq_topic, ensure_topics, producer_config
from shopkit.events.metrics import consumer_metrics, serve_metrics
from shopkit.events.propagation import context_from_headers, decode_kafka_headers
from shopkit.events.runtime import stop_on_signals
from shopkit.events.services import processed_event_record
from shopkit.logging import get_logger
from shopkit.periodic import PeriodicTasks
from shopkit.tracing import tracer

log = get_logger(__name__)

Handler = Callable[[Event], None]

POLL_TIMEOUT_SECONDS = 0.5
LAG_INTERVAL_SECONDS = 10.0
RETRY_LATER_BACKOFF_SECONDS = 2.0
DLQ_REASON_MAX_LENGTH = 1000


class Outcome(enum.StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    FAILED = "failed"


class _RetryLater(Exception):
    """Not the message's fault (database down, dead-letter topic unreachable, stopping): redeliver it later."""


class EventConsumer:
    """One consumer-group member running the handlers of one service."""

    def __init__(
        self,
        *,
        group_id: str,
        topics: Sequence[str],
        handlers: Mapping[str, Handler],
        conf: EventSettings | None = None,
    ) -> None:
        self.group_id = group_id
        self.topics = tuple(topics)
        self.handlers = dict(handlers)
        self.conf = conf or EventSettings.load()
        self._metrics = consumer_metrics()
        for topic in self.topics:  # a real 0 for dashboards and alerts before anything goes wrong
            self._metrics.dead_lettered.labels(topic=topic, consumer=group_id)
        self._tracer = tracer(__name__)
        self._dlq_producer: Producer | None = None
        self._next_lag = 0.0
        # The consumer is the service's long-running background process: it runs its periodic jobs too.
        self.periodic = PeriodicTasks()

    def run(self, stop: threading.Event, *, max_messages: int | None = None, max_seconds: float | None = None) -> int:
        """Consume until `stop`, `max_messages` handled or `max_seconds` passed; returns messages handled."""
        ensure_topics(self.conf, [*self.topics, *(dlq_topic(t) for t in self.topics)])
        consumer = Consumer(consumer_config(self.conf, group_id=self.group_id))
        consumer.subscribe(list(self.topics), on_assign=self._on_assign)
        log.info("event_consumer_started", group=self.group_id, topics=list(self.topics))
        deadline = time.monotonic() + max_seconds if max_seconds is not None else None
        handled = 0
        try:
            while not stop.is_set():
                if max_messages is not None and handled >= max_messages:
                    break
                timeout = POLL_TIMEOUT_SECONDS
                if deadline is not None:
                    timeout = min(timeout, deadline - time.monotonic())
                    if timeout <= 0:
                        break
                message = consumer.poll(timeout)
                self._report_lag(consumer)
                self.periodic.run_due()
                if message is None:
                    continue
                if error := message.error():
                    if error.fatal():
                        raise KafkaException(error)
                    log.warning("kafka_consumer_error", group=self.group_id, error=str(error))
                    continue
                if self._consume(consumer, message, stop):
                    handled += 1
        finally:
            self._report_lag(consumer, force=True)
            consumer.close()
            if self._dlq_producer is not None:
                self._dlq_producer.flush(2.0)
            log.info("event_consumer_stopped", group=self.group_id, handled=handled)
        return handled

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "kafka_partitions_assigned",
            group=self.group_id,
            partitions=[f"{p.topic}[{p.partition}]" for p in partitions],
        )

    def _consume(self, consumer: Consumer, message: Message, stop: threading.Event) -> bool:
        """Process and commit one message; False when it must be redelivered later."""
        close_old_connections()
        try:
            self._process(message, stop)
        except _RetryLater as exc:
            log.warning(
                "event_redelivery_scheduled",
                group=self.group_id,
                topic=message.topic(),
                partition=message.partition(),
                offset=message.offset(),
                reason=str(exc),
            )
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            try:
                # Back to this message, so the next poll delivers it again (consumed messages always have all three).
                if topic is not None and partition is not None and offset is not None:
                    consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as seek_error:
                log.warning("kafka_seek_failed", group=self.group_id, error=str(seek_error))
            stop.wait(RETRY_LATER_BACKOFF_SECONDS)
            return False
        try:
            consumer.commit(message=message, asynchronous=False)
        except KafkaException as exc:
            # The message may come again; the processed-events record makes that harmless.
            log.warning("kafka_commit_failed", group=self.group_id, topic=message.topic(), error=str(exc))
        return True

    def _process(self, message: Message, stop: threading.Event) -> Outcome:
        topic = message.topic() or ""
        headers = decode_kafka_headers(message.headers())
        try:
            event = parse_envelope(message.value(), topic=topic, key=message.key())
        except EnvelopeError as exc:
            log.warning(
                "event_poison_message", group=self.group_id, topic=topic, offset=message.offset(), error=str(exc)
            )
            self._dead_letter(message, reason=f"EnvelopeError: {exc}", attempts=1)
            return self._count(topic, Outcome.FAILED)
        handler = self.handlers.get(event.type)
        if handler is None:
            log.debug("event_skipped", group=self.group_id, event_id=str(event.id), event_type=event.type)
            return self._count(topic, Outcome.SKIPPED)
        with self._tracer.start_as_current_span(
            f"{topic} process",
            context=context_from_headers(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "messaging.consumer.group.name": self.group_id,
                "messaging.message.id": str(event.id),
                "cloudevents.event_type": event.type,
            },
        ) as span:
            last_error: Exception | None = None
            for attempt in range(1, self.conf.max_attempts + 1):
                try:
                    outcome = self._handle(event, handler)
                except (OperationalError, InterfaceError) as exc:
                    raise _RetryLater(f"database unavailable: {exc}") from exc
                except Exception as exc:  # noqa: BLE001 - handlers may raise anything; retried, then dead-lettered
                    last_error = exc
                    log.warning(
                        "event_handler_failed",
                        group=self.group_id,
                        event_id=str(event.id),
                        event_type=event.type,
                        attempt=attempt,
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    if attempt < self.conf.max_attempts:
                        stop.wait(self.conf.retry_backoff * 2 ** (attempt - 1))
                        if stop.is_set():
                            raise _RetryLater("stopping during retries") from exc
                    continue
                log.info(
                    "event_processed" if outcome is Outcome.PROCESSED else "event_duplicate_skipped",
                    group=self.group_id,
                    event_id=str(event.id),
                    event_type=event.type,
                    topic=topic,
                )
                return self._count(topic, outcome)
            assert last_error is not None
            span.record_exception(last_error)
            span.set_status(Status(StatusCode.ERROR, type(last_error).__name__))
            self._dead_letter(
                message, reason=f"{type(last_error).__name__}: {last_error}", attempts=self.conf.max_attempts
            )
            return self._count(topic, Outcome.FAILED)

    def _handle(self, event: Event, handler: Handler) -> Outcome:
        # The record and the handler's changes commit together, or neither does.
        with transaction.atomic():
            if not processed_event_record(consumer_group=self.group_id, event=event):
                return Outcome.DUPLICATE
            handler(event)
        return Outcome.PROCESSED

    def _count(self, topic: str, outcome: Outcome) -> Outcome:
        self._metrics.consumed.labels(topic=topic, consumer=self.group_id, outcome=outcome.value).inc()
        return outcome

    def _dead_letter(self, message: Message, *, reason: str, attempts: int) -> None:
        topic = message.topic() or ""
        headers = [
            *(message.headers() or []),
            ("x-dlq-reason", reason[:DLQ_REASON_MAX_LENGTH].encode()),
            ("x-dlq-consumer", self.group_id.encode()),
            ("x-dlq-attempts", str(attempts).encode()),
            ("x-dlq-original-topic", topic.encode()),
            ("x-dlq-original-partition", str(message.partition()).encode()),
            ("x-dlq-original-offset", str(message.offset()).encode()),
        ]
        if self._dlq_producer is None:
            self._dlq_producer = Producer(producer_config(self.conf, client_id=f"dlq-{self.group_id}"))
        results: dict[str, Any] = {}
        try:
            self._dlq_producer.produce(
                dlq_topic(topic),
                key=message.key(),
                value=message.value(),
                headers=headers,
                on_delivery=delivery_recorder(results, "error"),
            )
            self._dlq_producer.flush(self.conf.delivery_timeout + 2.0)
        except (BufferError, KafkaException) as exc:
            results.setdefault("error", exc)
        if "error" not in results or results["error"] is not None:
            error = results.get("error", "no delivery report")
            self._dlq_producer = None
            # Never commit a message that is neither handled nor safely dead-lettered.
            raise _RetryLater(f"dead-letter topic unavailable: {error}")
        self._metrics.dead_lettered.labels(topic=topic, consumer=self.group_id).inc()
        log.error(
            "event_dead_lettered",
            group=self.group_id,
            topic=topic,
            dlq_topic=dlq_topic(topic),
            offset=message.offset(),
            attempts=attempts,
            reason=reason,
        )

    def _report_lag(self, consumer: Consumer, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_lag:
            return
        self._next_lag = now + LAG_INTERVAL_SECONDS
        try:
            for tp in consumer.position(consumer.assignment()):
                if tp.offset < 0:
                    continue
                # The high watermark of the last fetch response: no broker round trip in the consume loop.
                _, high = consumer.get_watermark_offsets(tp, cached=True)
                lag = max(0, high - tp.offset)
                self._metrics.lag.labels(topic=tp.topic, partition=str(tp.partition), group=self.group_id).set(lag)
        except KafkaException as exc:
            log.debug("kafka_lag_unavailable", group=self.group_id, error=str(exc))


class ConsumerCommand(BaseCommand):
    """Base of every service's `consume_events` command: set `group_id`, `topics`, `get_handlers()`."""

    help = "Consume events from Kafka and run this service's handlers."
    group_id: str = ""
    topics: tuple[str, ...] = ()

    def get_handlers(self) -> dict[str, Handler]:
        raise NotImplementedError("a consumer command maps event types to handlers")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max-messages", type=int, default=None, help="Exit after this many messages.")
        parser.add_argument("--max-seconds", type=float, default=None, help="Exit after this many seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not self.group_id or not self.topics:
            raise CommandError("a ConsumerCommand needs a group_id and at least one topic")
        max_messages: int | None = options["max_messages"]
        max_seconds: float | None = options["max_seconds"]
        if max_messages is not None and max_messages < 1:
            raise CommandError("--max-messages must be at least 1")
        if max_seconds is not None and max_seconds <= 0:
            raise CommandError("--max-seconds must be positive")
        conf = EventSettings.load()
        serve_metrics(conf.metrics_port)
        consumer = EventConsumer(group_id=self.group_id, topics=self.topics, handlers=self.get_handlers(), conf=conf)
        with stop_on_signals(threading.Event()) as stop:
            consumer.run(stop, max_messages=max_messages, max_seconds=max_seconds)


__all__ = ["ConsumerCommand", "Event", "EventConsumer", "Handler", "Outcome"]
