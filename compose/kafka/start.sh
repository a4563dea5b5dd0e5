#!/usr/bin/env bash
# Starts the stack's single KRaft node with SASL/SCRAM (docs/security.md, "Kafka"), then hands over to
# the image's own start-up (/etc/kafka/docker/run).
#
# KRaft keeps SCRAM credentials in its metadata log, so the first one cannot be added over the network:
# the admin principal's credential is written when the storage is formatted, once (later starts find it
# formatted). kafka-init then creates each service's principal and ACLs as admin. The image drops
# environment values containing "=", so the broker's JAAS login is a file passed through KAFKA_OPTS.
set -euo pipefail

admin_password="$(cat /run/secrets/kafka_admin_password)"
umask 077

cat > /tmp/kafka-server-jaas.conf <<JAAS
KafkaServer {
  org.apache.kafka.common.security.scram.ScramLoginModule required
  username="admin"
  password="${admin_password}";
};
JAAS
export KAFKA_OPTS="${KAFKA_OPTS:-} -Djava.security.auth.login.config=/tmp/kafka-server-jaas.conf"

# What the health check (and an operator's `docker compose exec kafka ...`) authenticates with.
cat > /tmp/admin.properties <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${admin_password}";
PROPERTIES

# The broker's properties from the KAFKA_* environment, named as the image names them (KAFKA_ dropped,
# "_" -> ".", "__" -> "_", "___" -> "-", lower case), for the one format that adds the credential. The
# image's own start-up renders them again and finds the storage formatted.
: > /tmp/format.properties
while IFS='=' read -r name value; do
  case "${name}" in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_VERSION | KAFKA_JMX_OPTS | KAFKA_LOG4J_OPTS | KAFKA_GC_LOG_OPTS) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key="${name#KAFKA_}"
  key="${key//___/-}"
  key="${key//__/@}"
  key="${key//_/.}"
  key="${key//@/_}"
  printf '%s=%s\n' "${key,,}" "${value}" >> /tmp/format.properties
done < <(env)
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "${CLUSTER_ID}" \
  --config /tmp/format.properties \
  --add-scram "SCRAM-SHA-512=[name=admin,password=${admin_password}]"

exec /etc/kafka/docker/run
