"""The outbox relay: publishes committed outbox rows to Kafka in order, at least once, and marks them sent."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from django.db import Error as DatabaseError
from django.db import close_old_connections
from django.utils import timezone
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from shopkit.events.conf import EventSettings
from shopkit.events.envelope import encode_envelope
from shopkit.events.kafka import delivery_recorder, dlq_topic, ensure_topics, producer_config
from shopkit.events.metrics import relay_metrics
from shopkit.events.models import OutboxEvent
from shopkit.events.propagation import TRACE_HEADERS, capture_trace_headers, context_from_headers
from shopkit.events.selectors import outbox_backlog
from shopkit.events.services import outbox_claim_batch, outbox_mark_refused, outbox_mark_sent, outbox_release
from shopkit.events.tasks import purge_sent_outbox_rows
from shopkit.faults import fault_enabled, is_stalled
from shopkit.logging import get_logger
from shopkit.tracing import tracer

log = get_logger(__name__)

STATS_INTERVAL_SECONDS = 5.0
# Where the relay's producer points while the kafka-unreachable fault is on: port 1 on loopback, refused.
UNREACHABLE_BOOTSTRAP = "127.0.0.1:1"
MAX_BACKOFF_SECONDS = 30.0
_NO_REPORT = "no delivery report before the flush timeout"
# The outcome of a row not produced because an earlier row of its key failed in the same batch.
_NOT_TRIED = object()

# Errors that are the message's own fault: another try of the same row fails the same way, so each
# counts an attempt against OUTBOX_MAX_ATTEMPTS. Any other failure counts only when other rows of the
# batch were delivered (the broker was up); when every row fails it is an outage, which only delays.
REFUSAL_CODES = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.POLICY_VIOLATION,
        KafkaError.INVALID_TIMESTAMP,
        KafkaError._INVALID_ARG,
        KafkaError._INVALID_TYPE,
    }
)


def is_refusal(outcome: object) -> bool:
    """True when a delivery outcome says the broker (or librdkafka) refused this very message."""
    error = outcome.args[0] if isinstance(outcome, KafkaException) and outcome.args else outcome
    return isinstance(error, KafkaError) and error.code() in REFUSAL_CODES


@dataclass(frozen=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    # Rows that failed for a reason not their own (the broker down): the relay backs off.
    retry_later: int = 0
    dead: int = 0

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(
            self.claimed + other.claimed,
            self.sent + other.sent,
            self.failed + other.failed,
            self.retry_later + other.retry_later,
            self.dead + other.dead,
        )


class OutboxRelay:
    """Claims batches of unsent rows, produces them with an idempotent producer, records each outcome."""

    def __init__(self, conf: EventSettings | None = None) -> None:
        self.conf = conf or EventSettings.load()
        # Longer than any flush, so a live relay never loses its claim; a dead relay's claim expires.
        self.lease = dt.timedelta(seconds=max(30.0, self.conf.delivery_timeout * 3))
        self._producer: Producer | None = None
        self._producer_unreachable = False
        self._ensured: set[str] = set()
        self._metrics = relay_metrics()
        self._tracer = tracer(__name__)
        self._next_stats = 0.0
        self._next_purge = 0.0
        # A down broker must not hold a loop much longer than a failed flush would.
        self._admin_timeout = min(5.0, self.conf.delivery_timeout)

    # -- lifecycle ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Create the configured topics and their dead-letter topics (Tansu may not auto-create them)."""
        topics = set(self.conf.topics) | {dlq_topic(t) for t in self.conf.topics}
        for topic in self.conf.topics:
            self._metrics.publish_failed.labels(topic=topic)  # a real 0 for dashboards and alerts
        self._ensured |= ensure_topics(self.conf, topics, timeout=self._admin_timeout)

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.flush(1.0)
            except KafkaException as exc:
                log.warning("outbox_relay_close_failed", error=str(exc))
            self._producer = None

    def _get_producer(self) -> Producer:
        # The kafka-unreachable fault (docs/faults.md): a producer for an address nobody listens on, so the
        # real outage path runs; replaced whenever the switch changes.
        unreachable = fault_enabled("kafka-unreachable")
        if self._producer is not None and unreachable != self._producer_unreachable:
            self._discard_producer("fault kafka-unreachable switched " + ("on" if unreachable else "off"))
        if self._producer is None:
            config = producer_config(self.conf, client_id="outbox-relay")
            if unreachable:
                config["bootstrap.servers"] = UNREACHABLE_BOOTSTRAP
            self._producer = Producer(config)
            self._producer_unreachable = unreachable
        return self._producer

    def _discard_producer(self, reason: str) -> None:
        # A fatal idempotence error (e.g. the broker forgot our producer id) leaves the producer unusable.
        log.warning("outbox_producer_reset", reason=reason)
        self._producer = None

    # -- work --------------------------------------------------------------------------------
    def publish_batch(self) -> BatchResult:
        events = outbox_claim_batch(limit=self.conf.batch_size, lease=self.lease)
        if not events:
            return BatchResult()
        missing = {e.topic for e in events} - self._ensured
        if missing:
            self._ensured |= ensure_topics(
                self.conf, missing | {dlq_topic(t) for t in missing}, timeout=self._admin_timeout
            )
        producer = self._get_producer()
        results: dict[str, Any] = {}
        spans: dict[uuid.UUID, trace.Span] = {}
        refused_keys: set[tuple[str, str]] = set()
        for event in events:
            spans[event.id] = span = self._start_span(event)
            if (event.topic, event.key) in refused_keys:
                # Producing it would put it on the partition before the row that failed: per-key order.
                results[str(event.id)] = _NOT_TRIED
                continue
            try:
                producer.produce(
                    event.topic,
                    key=event.key.encode(),
                    value=encode_envelope(event.payload),
                    headers=self._headers(event, span),
                    on_delivery=delivery_recorder(results, str(event.id)),
                )
            except (BufferError, KafkaException) as exc:
                results[str(event.id)] = exc
                refused_keys.add((event.topic, event.key))
        fatal_error = ""
        try:
            producer.flush(self.conf.delivery_timeout + 2.0)
        except KafkaException as exc:
            fatal_error = str(exc)
        return self._settle(events, results, spans, fatal_error)

    def _settle(
        self,
        events: list[OutboxEvent],
        results: dict[str, Any],
        spans: dict[uuid.UUID, trace.Span],
        fatal_error: str,
    ) -> BatchResult:
        sent: list[OutboxEvent] = []
        not_tried: list[OutboxEvent] = []
        failed: dict[str, list[OutboxEvent]] = defaultdict(list)
        refused: dict[str, list[OutboxEvent]] = defaultdict(list)
        outcomes = {str(e.id): results.get(str(e.id), fatal_error or _NO_REPORT) for e in events}
        broker_up = any(outcome is None for outcome in outcomes.values())
        reset_reason = fatal_error
        for event in events:
            outcome = outcomes[str(event.id)]
            if outcome is None:
                sent.append(event)
                continue
            if outcome is _NOT_TRIED:
                not_tried.append(event)
                continue
            # Failed while other rows went through, or refused outright: this row's own doing.
            (refused if broker_up or is_refusal(outcome) else failed)[str(outcome)].append(event)
            if isinstance(outcome, KafkaError):
                # Any failed delivery starts the next batch with a new producer and re-ensured topics: a
                # broker that restarted without its state (Tansu in memory) no longer knows our producer id,
                # which librdkafka reports only as timed-out messages, and may have lost the topics too.
                reset_reason = reset_reason or str(outcome)
                if outcome.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                    self._ensured.discard(event.topic)
        if reset_reason:
            self._discard_producer(reset_reason)
            self._ensured.clear()
        outbox_mark_sent(event_ids=[e.id for e in sent])
        for error, group in failed.items():
            outbox_release(event_ids=[e.id for e in group], error=error)
        dead: list[OutboxEvent] = []
        for error, group in refused.items():
            dead += outbox_mark_refused(
                events=group,
                error=error,
                max_attempts=self.conf.outbox_max_attempts,
                backoff_seconds=self.conf.outbox_retry_backoff,
            )
        outbox_release(event_ids=[e.id for e in not_tried])
        for event in not_tried:
            spans[event.id].end()
        for event in sent:
            self._metrics.published.labels(topic=event.topic, event_type=event.event_type).inc()
            # Logged inside the event's span: the line carries the emitting request's trace id.
            with trace.use_span(spans[event.id], end_on_exit=True):
                log.info(
                    "outbox_event_published",
                    event_id=str(event.id),
                    event_type=event.event_type,
                    topic=event.topic,
                    key=event.key,
                )
        dead_ids = {e.id for e in dead}
        counted_ids = {e.id for group in refused.values() for e in group}
        for error, group in [*failed.items(), *refused.items()]:
            for event in group:
                self._metrics.publish_failed.labels(topic=event.topic).inc()
                span = spans[event.id]
                span.set_status(Status(StatusCode.ERROR, error))
                with trace.use_span(span, end_on_exit=True):
                    log.warning(
                        "outbox_publish_failed",
                        event_id=str(event.id),
                        event_type=event.event_type,
                        topic=event.topic,
                        counted=event.id in counted_ids,
                        attempts=event.attempts + (1 if event.id in counted_ids else 0),
                        error=error,
                    )
                    if event.id in dead_ids:
                        self._metrics.dead_total.labels(topic=event.topic).inc()
                        log.error(
                            "outbox_row_dead",
                            event_id=str(event.id),
                            event_type=event.event_type,
                            topic=event.topic,
                            key=event.key,
                            attempts=self.conf.outbox_max_attempts,
                            error=error,
                        )
        return BatchResult(
            claimed=len(events),
            sent=len(sent),
            failed=len(events) - len(sent) - len(not_tried),
            retry_later=sum(len(group) for group in failed.values()),
            dead=len(dead),
        )

    def _start_span(self, event: OutboxEvent) -> trace.Span:
        # The parent is the emitting transaction's span, so the checkout's trace continues here.
        return self._tracer.start_span(
            f"{event.topic} publish",
            context=context_from_headers(event.headers or {}),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "publish",
                "messaging.destination.name": event.topic,
                "messaging.message.id": str(event.id),
                "messaging.kafka.message.key": event.key,
                "cloudevents.event_type": event.event_type,
            },
        )

    @staticmethod
    def _headers(event: OutboxEvent, span: trace.Span) -> list[tuple[str, str | bytes | None]]:
        headers = {k: str(v) for k, v in (event.headers or {}).items() if k not in TRACE_HEADERS}
        headers.update(capture_trace_headers(trace.set_span_in_context(span)))
        headers["ce_type"] = event.event_type
        headers["ce_id"] = str(event.id)
        return [(name, value.encode()) for name, value in headers.items()]

    def report_backlog(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_stats:
            return
        self._next_stats = now + STATS_INTERVAL_SECONDS
        backlog = outbox_backlog()
        self._metrics.backlog.set(backlog.unsent)
        self._metrics.dead_rows.set(backlog.dead)
        self._metrics.held_rows.set(backlog.held)
        age = (timezone.now() - backlog.oldest_created_at).total_seconds() if backlog.oldest_created_at else 0.0
        self._metrics.oldest_age.set(max(0.0, age))

    def purge(self) -> int:
        """Delete sent rows past OUTBOX_RETENTION_DAYS now (`outbox_relay --once --purge`; the running relay
        every EVENT_PURGE_INTERVAL_SECONDS)."""
        return purge_sent_outbox_rows()

    def purge_when_due(self) -> None:
        """Purge sent rows once every EVENT_PURGE_INTERVAL_SECONDS: the outbox is the relay's own table. A
        database error is the loop's to handle, like a batch's; the purge then waits for its next turn."""
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + self.conf.purge_interval
        self.purge()

    def run_once(self) -> BatchResult:
        """Publish everything pending now, batch after batch; stop early when the broker fails."""
        total = BatchResult()
        while True:
            result = self.publish_batch()
            total += result
            # Refused rows wait (claimed_until) or are dead, so the next batch does not take them again.
            if result.retry_later or result.claimed < self.conf.batch_size:
                break
        self.report_backlog(force=True)
        return total

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set. Broker or database outages delay events; they never end the loop."""
        self.prepare()
        log.info("outbox_relay_started", bootstrap_servers=self.conf.bootstrap_servers)
        failures = 0
        while not stop.is_set():
            # Long-running process: drop connections past CONN_MAX_AGE or broken by a database restart.
            close_old_connections()
            try:
                # The outbox-relay-stalled fault: loop, publish nothing, keep reporting the growing backlog.
                result = BatchResult() if is_stalled("outbox-relay-stalled") else self.publish_batch()
                self.report_backlog()
                self.purge_when_due()
            except DatabaseError as exc:
                log.warning("outbox_relay_database_error", error=str(exc))
                result = BatchResult(failed=1, retry_later=1)
            except KafkaException as exc:
                self._discard_producer(str(exc))
                result = BatchResult(failed=1, retry_later=1)
            # Only an outage backs the relay off; a refused row waits on its own (claimed_until).
            if result.retry_later:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, self.conf.poll_interval * 2**failures)
            else:
                failures = 0
                delay = 0.0 if result.claimed >= self.conf.batch_size else self.conf.poll_interval
            if delay:
                stop.wait(delay)
        log.info("outbox_relay_stopped")
