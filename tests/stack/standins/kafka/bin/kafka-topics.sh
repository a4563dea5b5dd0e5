#!/bin/bash
# kafka-topics.sh stand-in over Tansu: --list, and --create --topic T [--partitions N]
# [--replication-factor R] [--if-not-exists] (one broker: the replication factor is ignored; without
# --partitions Tansu's default, 3, as the compose file's KAFKA_NUM_PARTITIONS).
set -euo pipefail
source "$(dirname "$0")/standin-common.sh"

action="" topic="" partitions=() if_not_exists=false
while [ $# -gt 0 ]; do
    case "$1" in
        --list) action=list; shift ;;
        --create) action=create; shift ;;
        --topic) topic="$2"; shift 2 ;;
        --partitions) partitions=(--partitions "$2"); shift 2 ;;
        --replication-factor) shift 2 ;;
        --if-not-exists) if_not_exists=true; shift ;;
        *) echo "kafka-topics.sh stand-in: unsupported option $1" >&2; exit 2 ;;
    esac
done

broker_listening || { echo "kafka-topics.sh stand-in: no broker at $bootstrap" >&2; exit 1; }
case "$action" in
    list)
        topic_names
        ;;
    create)
        [ -n "$topic" ] || { echo "kafka-topics.sh stand-in: --create needs --topic" >&2; exit 2; }
        names="$(topic_names)"
        if grep -qxF "$topic" <<< "$names"; then
            if [ "$if_not_exists" = true ]; then exit 0; fi
            echo "Error while executing topic command : Topic '$topic' already exists." >&2
            exit 1
        fi
        timeout 20 tansu topic create --broker "$broker" "${partitions[@]+"${partitions[@]}"}" "$topic"
        echo "Created topic $topic."
        ;;
    *)
        echo "kafka-topics.sh stand-in: give --list or --create" >&2
        exit 2
        ;;
esac
