"""A real Kafka-protocol broker for tests: Tansu on a free port, or `KAFKA_BOOTSTRAP_SERVERS_TEST` when set."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from confluent_kafka import KafkaException, Message
from confluent_kafka.admin import AdminClient

from shopkit import processes
from shopkit.processes import free_port as free_port  # the suites' import of it
from shopkit.settings import env

# Variables Tansu reads that must not leak in from the test environment (it would export traces, listen elsewhere).
_TANSU_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID")


def broker_answers(bootstrap: str, *, timeout: float = 1.0) -> bool:
    """True when a broker at `bootstrap` answers a metadata request."""
    # log_level 0: "connection refused" while the broker starts is the expected answer, not news.
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True


class TansuBroker:
    """One Tansu broker process (memory storage) on a fixed port; stop() and start() again for outages.

    Memory storage forgets topics, offsets and producer ids when stopped, exactly like a broker
    replaced by an empty one: clients must recreate topics and reset idempotent producers.
    """

    def __init__(self, port: int | None = None, *, extra_args: tuple[str, ...] = ()) -> None:
        """`extra_args`: more broker options, e.g. `("--authentication",)` (docs/security.md says what it enforces)."""
        self.port = port or free_port()
        self.extra_args = extra_args
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.gettempdir()) / f"tansu-{self.port}.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, timeout: float = 20.0) -> None:
        if self.running:
            return
        # The child inherits this environment minus the variables above: not configuration of ours.
        child_env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}  # noqa: TID251
        argv = processes.tansu_argv(self.port, "--storage-engine", "memory://tansu/", *self.extra_args)
        with self._log.open("ab") as log_file:
            self._process = processes.spawn(argv, stdout=log_file, env=child_env)
        try:
            processes.wait_until(
                self._ready, timeout=timeout, what=f"Tansu on {self.bootstrap}", process=self._process, log=self._log
            )
        except RuntimeError:
            self.stop()
            raise

    def _ready(self) -> bool:
        if "--authentication" not in self.extra_args:
            return broker_answers(self.bootstrap, timeout=0.5)
        # Metadata needs authentication then: the listening socket is what can be seen.
        return processes.tcp_open(self.port)

    def stop(self, *, grace: float = 1.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds: Tansu drains open client sessions for several
        seconds, and memory storage has nothing to save."""
        process, self._process = self._process, None
        processes.stop([process], grace=grace)

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a broker for this test session (Tansu started here unless one is given)."""
    external = env.str("KAFKA_BOOTSTRAP_SERVERS_TEST", default="")
    if external:
        yield external
        return
    with TansuBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def tansu_broker() -> Iterator[TansuBroker]:
    """A private broker for one test that needs to stop and restart it (an outage)."""
    with TansuBroker() as broker:
        yield broker


def produce_raw(
    bootstrap: str,
    topic: str,
    *,
    value: bytes | None,
    key: bytes | None = None,
    headers: list[tuple[str, str | bytes | None]] | None = None,
    timeout: float = 10.0,
) -> None:
    """Produce one message exactly as given (tests use it for duplicates and poison messages)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    errors: list[object] = []
    producer.produce(topic, value=value, key=key, headers=headers or [], on_delivery=lambda err, _: errors.append(err))
    remaining = producer.flush(timeout)
    if remaining or errors != [None]:
        raise RuntimeError(f"producing to {topic} failed: {errors or 'no delivery report'}")


def read_topic(bootstrap: str, topic: str, *, count: int, timeout: float = 15.0, settle: float = 0.5) -> list[Message]:
    """Every message of `topic` from the beginning (no consumer group): waits for `count`, then `settle`
    seconds more so that an unexpected extra message is seen too."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "shopkit-test-reader", "enable.auto.commit": False}
    )
    try:
        deadline = time.monotonic() + timeout
        partitions: list[int] = []
        while not partitions and time.monotonic() < deadline:
            metadata = consumer.list_topics(topic, timeout=2.0).topics.get(topic)
            partitions = sorted(metadata.partitions) if metadata is not None and not metadata.error else []
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list[Message] = []
        settle_until: float | None = None
        while time.monotonic() < deadline and (settle_until is None or time.monotonic() < settle_until):
            message = consumer.poll(0.1)
            if message is not None and not message.error():
                messages.append(message)
            if settle_until is None and len(messages) >= count:
                settle_until = time.monotonic() + settle
        return messages
    finally:
        consumer.close()
