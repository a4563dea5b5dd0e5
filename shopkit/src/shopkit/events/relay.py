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
from shopkit.events.services import outbox_claim_batch, outbox_mark_failed, outbox_mark_sent, outbox_purge_sent
from shopkit.logging import get_logger
from shopkit.periodic import PeriodicTasks
from shopkit.tracing import tracer

log = get_logger(__name__)

STATS_INTERVAL_SECONDS = 5.0
PURGE_INTERVAL_SECONDS = 3600.0
MAX_BACKOFF_SECONDS = 30.0
_NO_REPORT = "no delivery report before the flush timeout"


@dataclass(frozen=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(self.claimed + other.claimed, self.sent + other.sent, self.failed + other.failed)


class OutboxRelay:
    """Claims batches of unsent rows, produces them with an idempotent producer, records each outcome."""

    def __init__(self, conf: EventSettings | None = None) -> None:
        self.conf = conf or EventSettings.load()
        # Longer than any flush, so a live relay never loses its claim; a dead relay's claim expires.
        self.lease = dt.timedelta(seconds=max(30.0, self.conf.delivery_timeout * 3))
        self._producer: Producer | None = None
        self._ensured: set[str] = set()
        self._metrics = relay_metrics()
        self._tracer = tracer(__name__)
        self._next_stats = 0.0
        self._next_purge = 0.0
        self._periodic = PeriodicTasks()
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
        if self._producer is None:
            self._producer = Producer(producer_config(self.conf, client_id="outbox-relay"))
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
        for event in events:
            spans[event.id] = span = self._start_span(event)
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
        failed: dict[str, list[OutboxEvent]] = defaultdict(list)
        reset_reason = fatal_error
        for event in events:
            outcome = results.get(str(event.id), fatal_error or _NO_REPORT)
            if outcome is None:
                sent.append(event)
                continue
            failed[str(outcome)].append(event)
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
            outbox_mark_failed(event_ids=[e.id for e in group], error=error)
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
        for error, group in failed.items():
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
                        attempts=event.attempts + 1,
                        error=error,
                    )
        return BatchResult(claimed=len(events), sent=len(sent), failed=len(events) - len(sent))

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
        age = (timezone.now() - backlog.oldest_created_at).total_seconds() if backlog.oldest_created_at else 0.0
        self._metrics.oldest_age.set(max(0.0, age))

    def purge(self, *, force: bool = False) -> int:
        now = time.monotonic()
        if self.conf.retention_days <= 0 or (not force and now < self._next_purge):
            return 0
        self._next_purge = now + PURGE_INTERVAL_SECONDS
        deleted = outbox_purge_sent(older_than=dt.timedelta(days=self.conf.retention_days))
        if deleted:
            log.info("outbox_sent_rows_purged", deleted=deleted, retention_days=self.conf.retention_days)
        return deleted

    def run_periodic(self) -> None:
        """The service's periodic jobs (`SHOP_PERIODIC_TASKS`): the relay is a long-running background
        process, so it runs the jobs that would otherwise need a scheduler (see shopkit.periodic)."""
        self._periodic.run_due()

    def run_once(self) -> BatchResult:
        """Publish everything pending now, batch after batch; stop early at the first failure."""
        total = BatchResult()
        while True:
            result = self.publish_batch()
            total += result
            if result.failed or result.claimed < self.conf.batch_size:
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
                result = self.publish_batch()
                self.report_backlog()
                self.purge()
                self.run_periodic()
            except DatabaseError as exc:
                log.warning("outbox_relay_database_error", error=str(exc))
                result = BatchResult(failed=1)
            except KafkaException as exc:
                self._discard_producer(str(exc))
                result = BatchResult(failed=1)
            if result.failed:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, self.conf.poll_interval * 2**failures)
            else:
                failures = 0
                delay = 0.0 if result.claimed >= self.conf.batch_size else self.conf.poll_interval
            if delay:
                stop.wait(delay)
        log.info("outbox_relay_stopped")
