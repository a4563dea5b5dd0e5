"""Kafka consumers: at least once, commit after processing, dedupe by event id, bounded retries, dead letters.

A consumer refuses (dead-letters) an event whose CloudEvents `source` is not its topic's owner
(`SHOP_EVENT_TOPIC_OWNERS`); a handler failing on a database error is redelivered with a doubling wait,
then dead-lettered after `EVENT_DB_MAX_ATTEMPTS`; staff replay dead letters with `replay_dead_letters`.

A service's consumer is a management command:

    class Command(ConsumerCommand):
        group_id = "carts"
        topics = ("shop.orders",)

        def get_handlers(self) -> dict[str, Callable[[Event], None]]:
            return {OrderConfirmedV1.event_type: handle_order_confirmed}

and a handler parses the event with its contract: `OrderConfirmedV1.from_event(event)` (shopkit.events.contracts).
"""

from __future__ import annotations

import enum
import json
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from opentelemetry.trace import SpanKind, Status, StatusCode

from shopkit.events.conf import EventSettings
from shopkit.events.envelope import Event, parse_envelope
from shopkit.events.errors import EnvelopeError
from shopkit.events.kafka import (
    DLQ_SUFFIX,
    consumer_config,
    delivery_recorder,
    dlq_topic,
    ensure_topics,
    producer_config,
)
from shopkit.events.metrics import consumer_metrics, serve_metrics
from shopkit.events.propagation import context_from_headers, decode_kafka_headers
from shopkit.events.services import processed_event_record
from shopkit.faults import apply_failure
from shopkit.logging import get_logger
from shopkit.periodic import PeriodicTasks
from shopkit.process import stop_on_signals
from shopkit.tracing import tracer

log = get_logger(__name__)

Handler = Callable[[Event], None]

POLL_TIMEOUT_SECONDS = 0.5
LAG_INTERVAL_SECONDS = 10.0
RETRY_LATER_BACKOFF_SECONDS = 2.0
MAX_DB_BACKOFF_SECONDS = 30.0
DLQ_REASON_MAX_LENGTH = 1000
DLQ_CONSUMER_HEADER = "x-dlq-consumer"
DLQ_REASON_HEADER = "x-dlq-reason"


class Outcome(enum.StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    FAILED = "failed"
    # The event's `source` is not its topic's owner: forged or misrouted, dead-lettered unhandled.
    REJECTED = "rejected"


class _RetryLater(Exception):
    """Not the message's fault (database down, dead-letter topic unreachable, stopping): redeliver it later."""

    def __init__(self, reason: str, *, backoff: float = RETRY_LATER_BACKOFF_SECONDS) -> None:
        super().__init__(reason)
        self.backoff = backoff


class _Unhandled(Exception):
    """The event cannot be handled as it is (poison, forged, handler kept failing): it goes to the DLQ."""

    def __init__(self, reason: str, *, outcome: Outcome, attempts: int) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.attempts = attempts


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter topic that this consumer group put there."""

    topic: str
    partition: int
    offset: int
    original_topic: str
    event_id: uuid.UUID | None
    event_type: str
    reason: str
    message: Message


@dataclass(frozen=True)
class ReplayResult:
    dead_letter: DeadLetter
    outcome: Outcome
    error: str = ""


def _dead_letter_of(topic: str, message: Message, headers: Mapping[str, str]) -> DeadLetter:
    # The id and type from the envelope itself (a message produced without ce_* headers), else the headers.
    try:
        body = json.loads(message.value() or b"")
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    try:
        event_id: uuid.UUID | None = uuid.UUID(str(body.get("id") or headers.get("ce_id", "")))
    except ValueError:
        event_id = None
    return DeadLetter(
        topic=topic,
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        original_topic=headers.get("x-dlq-original-topic") or topic.removesuffix(DLQ_SUFFIX),
        event_id=event_id,
        event_type=str(body.get("type") or headers.get("ce_type", "")),
        reason=headers.get(DLQ_REASON_HEADER, ""),
        message=message,
    )


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
        if unowned := [t for t in self.topics if not self.conf.topic_owners.get(t)]:
            # Fail at start: a topic without an owner would accept events from anyone.
            raise ImproperlyConfigured(f"SHOP_EVENT_TOPIC_OWNERS names no owner for {', '.join(unowned)}")
        self._metrics = consumer_metrics()
        for topic in self.topics:  # a real 0 for dashboards and alerts before anything goes wrong
            self._metrics.dead_lettered.labels(topic=topic, consumer=group_id)
        self._tracer = tracer(__name__)
        self._dlq_producer: Producer | None = None
        # Database failures per message (topic, partition, offset) across its redeliveries.
        self._db_failures: dict[tuple[str, int, int], int] = {}
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
        self._db_failures.clear()
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
            stop.wait(exc.backoff)
            return False
        try:
            consumer.commit(message=message, asynchronous=False)
        except KafkaException as exc:
            # The message may come again; the processed-events record makes that harmless.
            log.warning("kafka_commit_failed", group=self.group_id, topic=message.topic(), error=str(exc))
        return True

    def _process(self, message: Message, stop: threading.Event) -> Outcome:
        """Handle one message, or dead-letter it with the reason; `_RetryLater` means not now."""
        topic = message.topic() or ""
        try:
            outcome = self._attempt(message, stop)
        except _Unhandled as exc:
            self._dead_letter(message, reason=str(exc), attempts=exc.attempts)
            return self._count(topic, exc.outcome)
        return self._count(topic, outcome)

    def _attempt(self, message: Message, stop: threading.Event, *, topic: str | None = None) -> Outcome:
        """Parse, check and handle one message (of `topic`, for a replayed dead letter); `_Unhandled` when
        it cannot be handled as it is."""
        topic = topic or message.topic() or ""
        headers = decode_kafka_headers(message.headers())
        event = self._parse(message, topic)
        handler = self.handlers.get(event.type)
        if handler is None:
            log.debug("event_skipped", group=self.group_id, event_id=str(event.id), event_type=event.type)
            return Outcome.SKIPPED
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
            started, ended = time.perf_counter(), "retry_later"
            try:
                outcome = self._handle_with_retries(message, event, handler, stop)
                ended = outcome.value
            except _Unhandled as exc:
                ended = exc.outcome.value
                if exc.__cause__ is not None:
                    span.record_exception(exc.__cause__)
                span.set_status(Status(StatusCode.ERROR, type(exc.__cause__ or exc).__name__))
                raise
            finally:
                # Inside the span: its trace is the exemplar (shopkit.metrics.TracedHistogram).
                self._metrics.handling_seconds.labels(topic=topic, consumer=self.group_id, outcome=ended).observe(
                    time.perf_counter() - started
                )
            log.info(
                "event_processed" if outcome is Outcome.PROCESSED else "event_duplicate_skipped",
                group=self.group_id,
                event_id=str(event.id),
                event_type=event.type,
                topic=topic,
            )
            return outcome

    def _parse(self, message: Message, topic: str) -> Event:
        """The message's event, if it is an envelope from its topic's owner; else `_Unhandled`."""
        try:
            event = parse_envelope(message.value(), topic=topic, key=message.key())
        except EnvelopeError as exc:
            log.warning(
                "event_poison_message", group=self.group_id, topic=topic, offset=message.offset(), error=str(exc)
            )
            raise _Unhandled(f"EnvelopeError: {exc}", outcome=Outcome.FAILED, attempts=1) from exc
        owner = self.conf.topic_owners.get(topic)
        if event.source != owner:
            log.warning(
                "event_source_rejected",
                group=self.group_id,
                topic=topic,
                offset=message.offset(),
                event_id=str(event.id),
                event_type=event.type,
                source=event.source,
                owner=owner,
            )
            raise _Unhandled(
                f"ForgedSource: source {event.source!r} is not the owner of {topic} ({owner!r})",
                outcome=Outcome.REJECTED,
                attempts=1,
            )
        return event

    def _handle_with_retries(self, message: Message, event: Event, handler: Handler, stop: threading.Event) -> Outcome:
        last_error: Exception | None = None
        for attempt in range(1, self.conf.max_attempts + 1):
            try:
                outcome = self._handle(event, handler)
            except (OperationalError, InterfaceError) as exc:
                self._database_failed(message, exc)
            except Exception as exc:
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
            self._db_failures.pop(self._position(message), None)
            return outcome
        assert last_error is not None
        self._db_failures.pop(self._position(message), None)
        raise _Unhandled(
            f"{type(last_error).__name__}: {last_error}", outcome=Outcome.FAILED, attempts=self.conf.max_attempts
        ) from last_error

    @staticmethod
    def _position(message: Message) -> tuple[str, int, int]:
        return (message.topic() or "", message.partition() or 0, message.offset() or 0)

    def _database_failed(self, message: Message, exc: Exception) -> None:
        """Redeliver after a doubling wait (the database may come back), up to EVENT_DB_MAX_ATTEMPTS; then
        dead-letter it, so one event the database keeps failing on no longer blocks its partition."""
        position = self._position(message)
        failures = self._db_failures.get(position, 0) + 1
        reason = f"{type(exc).__name__}: {str(exc).strip()}"
        if failures >= self.conf.db_max_attempts:
            self._db_failures.pop(position, None)
            raise _Unhandled(
                f"database error after {failures} attempts: {reason}", outcome=Outcome.FAILED, attempts=failures
            ) from exc
        self._db_failures[position] = failures
        backoff = min(MAX_DB_BACKOFF_SECONDS, self.conf.db_retry_backoff * 2 ** (failures - 1))
        raise _RetryLater(f"database unavailable (attempt {failures}): {reason}", backoff=backoff) from exc

    def _handle(self, event: Event, handler: Handler) -> Outcome:
        # The record and the handler's changes commit together, or neither does.
        with transaction.atomic():
            if not processed_event_record(consumer_group=self.group_id, event=event):
                return Outcome.DUPLICATE
            apply_failure("consumer-fail-every-event")  # a fault switch (docs/faults.md): retried, dead-lettered
            handler(event)
        return Outcome.PROCESSED

    # -- dead letters --------------------------------------------------------------------------
    def dead_letters(self, *, timeout: float = 10.0) -> list[DeadLetter]:
        """Every message this group dead-lettered that its dead-letter topics still hold, oldest first."""
        reader = Consumer(
            {**consumer_config(self.conf, group_id=f"{self.group_id}-dlq-reader"), "enable.partition.eof": True}
        )
        try:
            return [d for topic in self.topics for d in self._read_dead_letters(reader, dlq_topic(topic), timeout)]
        finally:
            reader.close()

    def _read_dead_letters(self, reader: Consumer, topic: str, timeout: float) -> list[DeadLetter]:
        metadata = reader.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        ends: dict[int, int] = {}
        for partition in metadata.partitions:
            low, high = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            if high > low:
                ends[partition] = high
        if not ends:
            return []
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        found: list[DeadLetter] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        try:
            while len(done) < len(ends):
                if time.monotonic() > deadline:
                    raise CommandError(f"reading {topic} took longer than {timeout} s")
                message = reader.poll(0.2)
                if message is None:
                    continue
                partition = message.partition() or 0
                if error := message.error():
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(error)
                    done.add(partition)
                    continue
                if (message.offset() or 0) + 1 >= ends[partition]:
                    done.add(partition)
                headers = decode_kafka_headers(message.headers())
                if headers.get(DLQ_CONSUMER_HEADER) == self.group_id:
                    found.append(_dead_letter_of(topic, message, headers))
        finally:
            reader.unassign()
        return sorted(found, key=lambda d: (d.partition, d.offset))

    def replay(self, dead_letters: Collection[DeadLetter], *, requested_by: str) -> list[ReplayResult]:
        """Run dead-lettered events through this group's handlers again, once each (staff fixed the cause).

        Safe to repeat: the processed-events record makes an event already handled a duplicate, and the
        source check applies as on first delivery. A replay that fails again leaves the dead letter where
        it is; nothing is produced, so no other consumer group sees the event again.
        """
        results: list[ReplayResult] = []
        stop = threading.Event()
        for dead in dead_letters:
            close_old_connections()
            error = ""
            try:
                outcome = self._attempt(dead.message, stop, topic=dead.original_topic)
            except _Unhandled as exc:
                outcome, error = exc.outcome, str(exc)
            except _RetryLater as exc:
                outcome, error = Outcome.FAILED, str(exc)
            self._metrics.replayed.labels(
                topic=dead.original_topic, consumer=self.group_id, outcome=outcome.value
            ).inc()
            (log.warning if error else log.info)(
                "dead_letter_replayed",
                group=self.group_id,
                dlq_topic=dead.topic,
                partition=dead.partition,
                offset=dead.offset,
                event_id=str(dead.event_id) if dead.event_id else None,
                event_type=dead.event_type,
                outcome=outcome.value,
                error=error,
                requested_by=requested_by,
            )
            results.append(ReplayResult(dead_letter=dead, outcome=outcome, error=error))
        return results

    def _count(self, topic: str, outcome: Outcome) -> Outcome:
        self._metrics.consumed.labels(topic=topic, consumer=self.group_id, outcome=outcome.value).inc()
        return outcome

    def _dead_letter(self, message: Message, *, reason: str, attempts: int) -> None:
        topic = message.topic() or ""
        headers = [
            *(message.headers() or []),
            (DLQ_REASON_HEADER, reason[:DLQ_REASON_MAX_LENGTH].encode()),
            (DLQ_CONSUMER_HEADER, self.group_id.encode()),
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

    def build_consumer(self, conf: EventSettings) -> EventConsumer:
        if not self.group_id or not self.topics:
            raise CommandError("a ConsumerCommand needs a group_id and at least one topic")
        return EventConsumer(group_id=self.group_id, topics=self.topics, handlers=self.get_handlers(), conf=conf)

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
        consumer = self.build_consumer(conf)
        with stop_on_signals(threading.Event()) as stop:
            consumer.run(stop, max_messages=max_messages, max_seconds=max_seconds)


__all__ = ["ConsumerCommand", "DeadLetter", "Event", "EventConsumer", "Handler", "Outcome", "ReplayResult"]
