#!/bin/sh
# The official postgres image's start-up, as far as compose/docker-compose.yml uses it: on the first start
# (empty $PGDATA) initdb with POSTGRES_USER (default postgres) as superuser and POSTGRES_PASSWORD, trust on
# the local socket, scram-sha-256 for every network client, then POSTGRES_DB (default: the user) owned by
# that user; every start runs postgres listening on all interfaces, logging to stderr.
set -eu

if [ "${1:-}" != postgres ]; then
    exec "$@"
fi
shift

user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres stand-in: POSTGRES_PASSWORD must be set" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    if [ "$database" != postgres ]; then
        echo "CREATE DATABASE $(quote "$database") OWNER $(quote "$user");" \
            | postgres --single -D "$PGDATA" postgres > /dev/null
    fi
    echo "postgres stand-in: initialized $PGDATA (database $database, user $user)" >&2
fi

exec postgres "$@"
