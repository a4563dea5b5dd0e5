"""The full stack's Kafka principals and ACLs, checked statically: Apache Kafka cannot run here (no JVM broker
on this machine's registries), and the embedded Tansu enforces no ACL (shopkit/tests/test_kafka_security.py).

What is checked: the broker listens for clients only with SASL/SCRAM and denies what no ACL allows; every
Shop process that talks to Kafka authenticates as its own service; kafka-init creates exactly those
principals; and the ACLs let each topic be written by its owner alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shopkit.events.contracts import TOPIC_OWNERS
from tests.infra.support import COMPOSE_DIR, ROOT, load_compose

ACL_FILE = COMPOSE_DIR / "kafka" / "acls.conf"
# The Shop processes with a Kafka client (relays and consumers): who they authenticate as.
KAFKA_CLIENTS = {
    "users-relay": "users",
    "orders-relay": "orders",
    "carts-consumer": "carts",
    "products-consumer": "products",
}
OPERATIONS = {"Read", "Write", "Create"}


@dataclass(frozen=True)
class Acl:
    principal: str
    operation: str
    resource: str
    name: str
    pattern: str


def acls() -> list[Acl]:
    found = []
    for line in ACL_FILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found.append(Acl(*line.split()))
    return found


def topic_owners() -> dict[str, str]:
    """Each topic's owning service, from the event contracts (base settings' SHOP_EVENT_TOPIC_OWNERS is a copy)."""
    return {topic: source.rsplit("/", 1)[-1] for topic, source in TOPIC_OWNERS.items()}


def environment(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in load_compose()["services"][name]["environment"].items()}


def consumed_topics(package: str) -> set[str]:
    command = Path(ROOT / package).glob("*/management/commands/consume_events.py")
    text = "".join(path.read_text() for path in command)
    return set(re.findall(r"\"(shop\.[a-z]+)\"", text))


def test_the_broker_listens_for_clients_only_with_sasl_scram() -> None:
    kafka = environment("kafka")
    protocols = dict(entry.split(":") for entry in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = dict(entry.split("://") for entry in kafka["KAFKA_LISTENERS"].split(","))

    for name, address in listeners.items():
        if protocols[name] != "SASL_PLAINTEXT":
            assert address.startswith("127.0.0.1:"), f"{name} is unauthenticated and must stay on loopback"
    assert kafka["KAFKA_ADVERTISED_LISTENERS"] == "CLIENT://kafka:9092"
    assert protocols["CLIENT"] == "SASL_PLAINTEXT"
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert kafka["KAFKA_INTER_BROKER_LISTENER_NAME"] == "CLIENT"


def test_the_broker_denies_what_no_acl_allows_and_has_one_super_user() -> None:
    kafka = environment("kafka")

    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    # ANONYMOUS exists only on the loopback controller listener (checked above).
    assert kafka["KAFKA_SUPER_USERS"].split(";") == ["User:admin", "User:ANONYMOUS"]
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_the_super_users_credential_is_made_when_the_storage_is_formatted() -> None:
    kafka = load_compose()["services"]["kafka"]
    start = (COMPOSE_DIR / "kafka" / "start.sh").read_text()

    assert kafka["command"] == ["/bin/bash", "/etc/shop-kafka/start.sh"]
    assert "./kafka:/etc/shop-kafka:ro" in kafka["volumes"]
    assert kafka["secrets"] == ["kafka_admin_password"]
    assert '--add-scram "SCRAM-SHA-512=[name=admin,password=${admin_password}]"' in start
    assert "exec /etc/kafka/docker/run" in start
    assert "--command-config /tmp/admin.properties" in " ".join(kafka["healthcheck"]["test"])


def test_every_kafka_client_authenticates_as_its_own_service() -> None:
    for name, principal in KAFKA_CLIENTS.items():
        env = environment(name)
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["KAFKA_SASL_USERNAME"] == principal, name
        variable = f"KAFKA_{principal.upper()}_PASSWORD"
        assert env["KAFKA_SASL_PASSWORD"] == f"${{{variable}:?set {variable}}}", name


def test_kafka_init_creates_exactly_the_principals_the_clients_use() -> None:
    init = load_compose()["services"]["kafka-init"]
    script = init["command"][0]
    created = re.search(r"for principal in ([a-z ]+); do", script)
    compose_secrets = load_compose()["secrets"]

    assert created is not None
    assert set(created.group(1).split()) == set(KAFKA_CLIENTS.values())
    assert '--add-config "SCRAM-SHA-512=[iterations=8192,password=$$password]"' in script
    assert set(init["secrets"]) == {"kafka_admin_password", *(f"kafka_{p}_password" for p in KAFKA_CLIENTS.values())}
    for principal in KAFKA_CLIENTS.values():
        assert compose_secrets[f"kafka_{principal}_password"] == {"environment": f"KAFKA_{principal.upper()}_PASSWORD"}
    assert "/etc/shop-kafka/acls.conf" in script
    assert '--allow-principal "User:$$principal"' in script


def test_each_event_topic_is_written_by_its_owner_alone() -> None:
    owners = topic_owners()

    for topic, owner in owners.items():
        writers = {a.principal for a in acls() if a.resource == "topic" and a.name == topic and a.operation == "Write"}
        assert writers == {owner}, (topic, writers)
    assert owners == {"shop.users": "users", "shop.orders": "orders"}


def test_a_dead_letter_topic_is_written_only_by_the_consumers_of_its_topic() -> None:
    for topic in topic_owners():
        readers = {a.principal for a in acls() if a.resource == "topic" and a.name == topic and a.operation == "Read"}
        dlq_writers = {
            a.principal for a in acls() if a.resource == "topic" and a.name == f"{topic}.dlq" and a.operation == "Write"
        }
        assert dlq_writers == readers, topic


def test_consumers_may_read_what_they_consume_and_commit_in_their_own_groups() -> None:
    for package, principal in (("cart_svc", "carts"), ("product_svc", "products")):
        topics = consumed_topics(package)
        readable = {
            a.name for a in acls() if a.principal == principal and a.resource == "topic" and a.operation == "Read"
        }
        groups = [a for a in acls() if a.principal == principal and a.resource == "group"]
        assert topics, package
        assert topics <= readable, (principal, topics - readable)
        assert [(g.operation, g.name, g.pattern) for g in groups] == [("Read", principal, "prefixed")]


def test_no_acl_is_a_wildcard_and_writes_name_one_topic() -> None:
    principals = set(KAFKA_CLIENTS.values())

    for acl in acls():
        assert acl.principal in principals, acl
        assert acl.operation in OPERATIONS, acl
        assert acl.resource in {"topic", "group"}, acl
        assert "*" not in acl.name, acl
        assert acl.pattern in {"literal", "prefixed"}, acl
        if acl.resource == "topic":
            assert acl.pattern == "literal", acl
