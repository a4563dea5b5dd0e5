#!/bin/bash
# kafka-broker-api-versions.sh stand-in: succeeds if and only if the broker answers a Kafka request.
set -euo pipefail
source "$(dirname "$0")/standin-common.sh"
broker_listening || { echo "kafka-broker-api-versions.sh stand-in: no broker at $bootstrap" >&2; exit 1; }
timeout 8 tansu topic list --broker "$broker" > /dev/null
echo "$bootstrap (id: 111 rack: null) -> (answered a metadata request: Tansu)"
