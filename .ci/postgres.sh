#!/usr/bin/env bash
# Start a local PostgreSQL server for the tests (Debian packages, no Docker) and print its DSN.
#
#   eval "$(bash .ci/postgres.sh)"     # exports HARVEST_TEST_POSTGRES_DSN=postgresql://...
#
# Under `set -e`, assign first so that a failure stops the caller (eval of an empty string succeeds):
#   pg_env="$(bash .ci/postgres.sh)"; eval "$pg_env"
#
# stdout carries exactly one line, `export HARVEST_TEST_POSTGRES_DSN=...`; every message goes to
# stderr. Idempotent: an installed package, an existing cluster, a running server, an existing role
# and database are all kept, so a second call takes well under a second. Needs root (apt-get, and
# switching to the postgres user) unless the server is already installed and running.
#
# Settings (environment, optional): HARVEST_PG_USER (harvest), HARVEST_PG_PASSWORD (harvest),
# HARVEST_PG_DB (harvest_test), HARVEST_PG_PORT (5432, used only when a cluster has to be created).
set -euo pipefail

PG_USER="${HARVEST_PG_USER:-harvest}"
PG_PASSWORD="${HARVEST_PG_PASSWORD:-harvest}"
PG_DB="${HARVEST_PG_DB:-harvest_test}"
NEW_CLUSTER_PORT="${HARVEST_PG_PORT:-5432}"

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

for name in "$PG_USER" "$PG_DB"; do
    [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "role and database names must be plain identifiers, got '$name'"
done
[[ "$PG_PASSWORD" =~ ^[A-Za-z0-9_.-]+$ ]] || die "HARVEST_PG_PASSWORD may hold only letters, digits and _ . -"

as_postgres() {
    if [[ "$(id -un)" == postgres ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        sudo -n -u postgres -- "$@"
    fi
}

# 1. The packages.
if ! command -v pg_lsclusters >/dev/null 2>&1 || [[ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]]; then
    say "installing PostgreSQL from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi

# 2. A cluster (the first one listed; create one for the newest installed version if there is none).
read -r PG_VERSION PG_CLUSTER PG_PORT PG_STATUS _ < <(pg_lsclusters -h 2>/dev/null | head -n 1) || true
if [[ -z "${PG_VERSION:-}" ]]; then
    PG_VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    PG_CLUSTER=main
    PG_PORT="$NEW_CLUSTER_PORT"
    say "creating cluster $PG_VERSION/$PG_CLUSTER on port $PG_PORT"
    pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PG_PORT" >&2
    PG_STATUS=down
fi

# 3. Running, on 127.0.0.1.
if [[ "$PG_STATUS" != online* ]]; then
    say "starting cluster $PG_VERSION/$PG_CLUSTER (port $PG_PORT)"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "the server does not answer on 127.0.0.1:$PG_PORT \
(see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log)"

# 4. The role (password login over TCP) and its database.
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"; }
psql_admin >&2 <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') THEN
        CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
    ELSE
        ALTER ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
    END IF;
END
\$\$;
SQL
if [[ "$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]]; then
    say "creating database $PG_DB owned by $PG_USER"
    psql_admin -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >&2
fi

DSN="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -tA -c "SELECT 1" \
    >/dev/null || die "cannot log in as $PG_USER over TCP"
say "PostgreSQL $PG_VERSION ready at 127.0.0.1:$PG_PORT, database $PG_DB, role $PG_USER"
echo "export HARVEST_TEST_POSTGRES_DSN=$DSN"
