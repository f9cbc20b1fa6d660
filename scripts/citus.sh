#!/usr/bin/env bash
# A local Citus cluster for stockledger: a coordinator and N workers of the PostgreSQL 15 server,
# on ports of their own, in a data folder of their own (never the server on 5432).
#
#   scripts/citus.sh build    build and install Citus from its source tarball when citus.so is missing
#   scripts/citus.sh start    build if needed, init the nodes once, start them, join them; print the URL
#   scripts/citus.sh stop     stop every node (the data stays)
#   scripts/citus.sh status   each node's port and state, the workers the coordinator knows
#   scripts/citus.sh url      print the coordinator URL
#   scripts/citus.sh destroy  stop and delete the data folder
#   scripts/citus.sh start-node PORT  init (once) and start one node on PORT with the database and
#                  the citus extension, joined to nothing: a worker restarted, or one about to join
#   scripts/citus.sh stop-node PORT   stop one node (a worker going down); its data stays
#   scripts/citus.sh add-worker PORT  start-node, then join it to the cluster's database as a worker
#                  (shards move to it only when rebalanced: citus_rebalance_start)
#
# Every command is idempotent. Settings (environment):
#   CITUS_SOURCE   folder holding citus-13.2.2.tar.gz and its patch; default ../shared/vendor/citus
#                  (relative to the repository; from a worktree in ../wt/NAME, ../../shared/vendor/citus).
#                  This script READS THAT FOLDER, only to build Citus.
#   CITUS_DATA     data folder of the cluster; default .citus in the repository (gitignored)
#   CITUS_PORT     coordinator port; default 9700; worker i listens on CITUS_PORT + i
#   CITUS_WORKERS  number of workers; default 2
#   CITUS_DB       database created on every node with the citus extension; default stockledger
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CITUS_VERSION=13.2.2
if [ -z "${CITUS_SOURCE:-}" ]; then
  CITUS_SOURCE="$ROOT/../shared/vendor/citus"
  [ -d "$CITUS_SOURCE" ] || [ ! -d "$ROOT/../../shared/vendor/citus" ] || CITUS_SOURCE="$ROOT/../../shared/vendor/citus"
fi
CITUS_DATA="${CITUS_DATA:-$ROOT/.citus}"
CITUS_PORT="${CITUS_PORT:-9700}"
CITUS_WORKERS="${CITUS_WORKERS:-2}"
CITUS_DB="${CITUS_DB:-stockledger}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
HOST=127.0.0.1
BUILD_DEPS=(postgresql-server-dev-15 libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev libssl-dev
  libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev flex bison make gcc patch)

say() { echo "citus.sh: $*" >&2; }
die() { say "$*"; exit 1; }

node_ports() { seq "$CITUS_PORT" $((CITUS_PORT + CITUS_WORKERS)); }
# Nodes with a data folder beyond the first CITUS_WORKERS (start-node, add-worker), by port.
added_ports() {
  local dir port
  for dir in "$CITUS_DATA"/node-*; do
    [ -f "$dir/PG_VERSION" ] || continue
    port="${dir##*/node-}"
    [ "$port" -ge "$CITUS_PORT" ] && [ "$port" -le $((CITUS_PORT + CITUS_WORKERS)) ] || echo "$port"
  done | sort -n
}
node_dir() { echo "$CITUS_DATA/node-$1"; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_at() { PGOPTIONS='-c client_min_messages=warning' as_pg "$PG_BIN/psql" -h "$HOST" -p "$1" -U postgres -d "$2" -v ON_ERROR_STOP=1 -qAt -c "$3"; }
citus_so() { echo "$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/citus.so"; }

check_ports() {
  for port in $(node_ports); do
    [ "$port" != 5432 ] || die "port 5432 belongs to the main PostgreSQL server; choose another CITUS_PORT"
  done
}

build() {
  if [ -f "$(citus_so)" ]; then say "Citus is installed ($(citus_so))"; return; fi
  say "citus.so missing: building Citus $CITUS_VERSION, reading its source from CITUS_SOURCE=$CITUS_SOURCE"
  [ -f "$CITUS_SOURCE/citus-$CITUS_VERSION.tar.gz" ] || die "no citus-$CITUS_VERSION.tar.gz in $CITUS_SOURCE"
  if ! dpkg -s "${BUILD_DEPS[@]}" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${BUILD_DEPS[@]}" >/dev/null
  fi
  local work="$CITUS_DATA/build"
  rm -rf "$work" && mkdir -p "$work"
  tar xzf "$CITUS_SOURCE/citus-$CITUS_VERSION.tar.gz" -C "$work"
  local tree="$work/citus-$CITUS_VERSION"
  for patch in "$CITUS_SOURCE"/*.patch; do
    [ -e "$patch" ] && (cd "$tree" && patch -p1 -s <"$patch")
  done
  if ! (cd "$tree" && PG_CONFIG="$PG_BIN/pg_config" ./configure && make -j"$(nproc)" && make install) \
    >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log" >&2; die "build failed (log: $work/build.log)"
  fi
  [ -f "$(citus_so)" ] || die "build finished but $(citus_so) is missing"
  say "installed $(citus_so)"
}

init_node() {
  local port=$1 dir
  dir="$(node_dir "$port")"
  [ -f "$dir/PG_VERSION" ] && return
  mkdir -p "$dir" && chown postgres: "$CITUS_DATA" "$dir" 2>/dev/null || true
  as_pg "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # A test and development cluster: durability off, small memory, sockets in its own folder.
  cat >>"$dir/postgresql.conf" <<EOF
shared_preload_libraries = 'citus'
port = $port
listen_addresses = '$HOST'
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
max_prepared_transactions = 200
citus.max_adaptive_executor_pool_size = 4
EOF
}

# Settings added after a cluster may have been initialised: appended once (the last line of
# postgresql.conf wins), and a running node restarted when it runs with another value.
# wal_level = logical: citus_rebalance_start moves shards by logical replication, so writes to a
# moving shard go on during the copy and are blocked only for the final switch-over.
LATE_SETTINGS=("wal_level=logical")

configure_node() {
  local port=$1 dir setting key value
  dir="$(node_dir "$port")"
  for setting in "${LATE_SETTINGS[@]}"; do
    key="${setting%%=*}" value="${setting#*=}"
    grep -qx "$key = $value" "$dir/postgresql.conf" || echo "$key = $value" >>"$dir/postgresql.conf"
    if as_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1 \
      && [ "$(psql_at "$port" postgres "SHOW $key")" != "$value" ]; then
      say "node :$port restarts for $key = $value"
      as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
    fi
  done
}

start_node() {
  local port=$1 dir
  dir="$(node_dir "$port")"
  if as_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return; fi
  as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
}

create_db() {
  local port=$1
  if [ -z "$(psql_at "$port" postgres "SELECT 1 FROM pg_database WHERE datname = '$CITUS_DB'")" ]; then
    psql_at "$port" postgres "CREATE DATABASE \"$CITUS_DB\""
  fi
  psql_at "$port" "$CITUS_DB" "CREATE EXTENSION IF NOT EXISTS citus"
}

join_workers() {
  psql_at "$CITUS_PORT" "$CITUS_DB" "SELECT citus_set_coordinator_host('$HOST', $CITUS_PORT)" >/dev/null
  for port in $(seq $((CITUS_PORT + 1)) $((CITUS_PORT + CITUS_WORKERS))); do
    psql_at "$CITUS_PORT" "$CITUS_DB" "SELECT citus_add_node('$HOST', $port)" >/dev/null
  done
}

url() { echo "postgresql://postgres@$HOST:$CITUS_PORT/$CITUS_DB"; }

start() {
  check_ports
  build
  mkdir -p "$CITUS_DATA"
  for port in $(node_ports); do init_node "$port"; configure_node "$port"; start_node "$port"; done
  for port in $(node_ports); do create_db "$port"; done
  join_workers
  say "coordinator :$CITUS_PORT, $CITUS_WORKERS workers, data in $CITUS_DATA"
  url
}

stop_node() {
  local port=$1 dir
  dir="$(node_dir "$port")"
  [ -f "$dir/PG_VERSION" ] || return 0
  if as_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
  fi
  say "node :$port stopped"
}

stop() {
  for port in $(added_ports) $(node_ports); do stop_node "$port"; done
}

node_port_arg() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] || die "usage: citus.sh $2 PORT"
  [ "$1" != 5432 ] || die "port 5432 belongs to the main PostgreSQL server; choose another port"
}

# One node, started with the database and the extension (a worker back from stop-node, or one
# about to be joined).
start_one() {
  local port=$1
  build
  mkdir -p "$CITUS_DATA"
  init_node "$port"; configure_node "$port"; start_node "$port"; create_db "$port"
  say "node :$port running"
}

add_worker() {
  local port=$1
  start_one "$port"
  if [ -z "$(psql_at "$CITUS_PORT" "$CITUS_DB" "SELECT 1 FROM pg_dist_node WHERE nodeport = $port AND isactive")" ]; then
    psql_at "$CITUS_PORT" "$CITUS_DB" "SELECT citus_add_node('$HOST', $port)" >/dev/null
  fi
  say "worker :$port joined $CITUS_DB (no shards until citus_rebalance_start)"
}

status() {
  local code=0
  for port in $(node_ports); do
    if as_pg "$PG_BIN/pg_ctl" -D "$(node_dir "$port")" status >/dev/null 2>&1; then
      echo "node :$port running"
    else
      echo "node :$port stopped"; code=3
    fi
  done
  for port in $(added_ports); do
    if as_pg "$PG_BIN/pg_ctl" -D "$(node_dir "$port")" status >/dev/null 2>&1; then
      echo "node :$port running (added)"
    else
      echo "node :$port stopped (added)"
    fi
  done
  if [ "$code" = 0 ]; then
    psql_at "$CITUS_PORT" "$CITUS_DB" "SELECT citus_version()"
    psql_at "$CITUS_PORT" "$CITUS_DB" \
      "SELECT 'worker ' || node_name || ':' || node_port FROM citus_get_active_worker_nodes() ORDER BY 1"
    url
  fi
  return $code
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) url ;;
  destroy) stop; rm -rf "$CITUS_DATA"; say "removed $CITUS_DATA" ;;
  start-node) node_port_arg "${2:-}" start-node; start_one "$2" ;;
  stop-node) node_port_arg "${2:-}" stop-node; stop_node "$2" ;;
  add-worker) node_port_arg "${2:-}" add-worker; add_worker "$2" ;;
  *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
