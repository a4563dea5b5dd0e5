# Sourced by the kafka-*.sh stand-ins: the options every Kafka tool takes. --bootstrap-server names the
# broker Tansu's client dials; --command-config (SASL settings) is accepted and ignored: Tansu
# authenticates nobody.
bootstrap=localhost:9092
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --bootstrap-server) bootstrap="$2"; shift 2 ;;
        --bootstrap-server=*) bootstrap="${1#*=}"; shift ;;
        --command-config) shift 2 ;;
        --command-config=*) shift ;;
        *) args+=("$1"); shift ;;
    esac
done
set -- "${args[@]+"${args[@]}"}"
broker="tcp://${bootstrap%%,*}"

# Tansu's client retries for long when nothing listens: fail fast when the port is closed.
broker_listening() {
    local address="${bootstrap%%,*}"
    timeout 3 bash -c "exec 3<>/dev/tcp/${address%:*}/${address##*:}" 2>/dev/null
}

# The topic names, sorted, one a line (Tansu lists topics as JSON; Kafka topic names hold no quotes).
topic_names() {
    local listing
    listing="$(timeout 20 tansu topic list --broker "$broker")" || return 1
    { grep -o '"name":"[^"]*"' <<< "$listing" || true; } | cut -d'"' -f4 | sort
}
