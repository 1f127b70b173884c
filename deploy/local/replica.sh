#!/usr/bin/env bash
# A real PostgreSQL streaming replica (hot standby) of this machine's local cluster, for the
# read-replica tests and benchmarks:
#
#   bash deploy/local/replica.sh [start|stop|destroy|pause|resume|status]
#
#   DATABASE_READ_URL=postgres://postgres@127.0.0.1:5433/<db>
#
# The primary is the local cluster the other deploy/local scripts use (127.0.0.1:5432, trust on
# loopback); the replica is a base backup of it (pg_basebackup -R) in
# ${REPLICA_DIR:-/var/lib/postgresql/catalog-replica}, run by the postgres OS user with
# PostgreSQL's own pg_ctl on 127.0.0.1:5433, streaming WAL from the primary through the physical
# replication slot catalog_replica. It replays everything the primary writes, whole databases
# included: a database created on the primary (a test database, say) appears on the replica as
# soon as its WAL is replayed. The replica is read-only; write through 127.0.0.1:5432.
#
#   start    (the default) makes the replica run and stream; idempotent. It restarts an
#            existing standby data directory and base-backs-up only when there is none (or the
#            slot that kept its WAL is gone). On the primary it may add one line to pg_hba.conf
#            (trust replication connections from 127.0.0.1, at the top) and reload it, and it
#            creates the slot; it never stops or restarts the primary.
#   stop     stops the replica (fast shutdown); keeps its data directory.
#   destroy  stops it, removes its data directory and drops the slot on the primary.
#   pause / resume   pauses or resumes WAL replay on the replica (pg_wal_replay_pause()): while
#            paused, the primary's writes are received but not visible on the replica, which
#            is how the tests make replication lag on purpose.
#   status   whether it runs, is in recovery, replay is paused, its replay LSN and its lag in
#            bytes behind the primary's current WAL position. Exits 3 when it does not run.
#
# The slot makes the primary keep every WAL segment the replica has not received, also while
# the replica is stopped: the primary's pg_wal grows without bound until the replica streams
# again. On a development machine, run `destroy` when done with the replica.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/lib.sh
source deploy/local/lib.sh

REPLICA_DIR="${REPLICA_DIR:-/var/lib/postgresql/catalog-replica}"
REPLICA_PORT=5433
REPLICA_LOG="${REPLICA_DIR}/log/postgresql.log"
SLOT=catalog_replica
# The newest installed PostgreSQL (normally the only one): its pg_basebackup and pg_ctl.
PG_VERSION=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"

# A PostgreSQL program run as the postgres OS user (from /, which it can always enter).
as_postgres() { (cd / && as_root runuser -u postgres -- "$@"); }
pg_ctl_replica() { as_postgres "${PG_BIN}/pg_ctl" -D "${REPLICA_DIR}" "$@"; }
# psql as the postgres role on the replica, over TCP, never prompting for a password.
psql_replica() {
  psql -X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${REPLICA_PORT}" -U postgres -d postgres "$@"
}

replica_answers() { pg_isready -q -h 127.0.0.1 -p "${REPLICA_PORT}"; }
replica_is_standby() { [[ $(psql_replica -tAc 'SELECT pg_is_in_recovery()' 2>/dev/null) == t ]]; }
replica_streaming() {
  [[ $(psql_replica -tAc "SELECT pg_is_in_recovery() AND EXISTS (
         SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null) == t ]]
}
# Whether the postmaster of REPLICA_DIR runs (whatever it answers).
replica_running() { pg_ctl_replica status >/dev/null 2>&1; }
# A complete standby data directory (pg_basebackup -R writes standby.signal last).
replica_dir_is_standby() {
  as_root test -f "${REPLICA_DIR}/PG_VERSION" && as_root test -f "${REPLICA_DIR}/standby.signal"
}
replica_dir_exists() { as_root test -e "${REPLICA_DIR}"; }
# Whether the primary accepts a physical replication connection from 127.0.0.1 as postgres.
replication_allowed() {
  psql -X -q -w -h 127.0.0.1 -p 5432 -U postgres -d "replication=true" -tAc 'IDENTIFY_SYSTEM' >/dev/null 2>&1
}
slot_exists() {
  [[ -n $(psql_admin -d postgres -tAc "SELECT 1 FROM pg_replication_slots WHERE slot_name = '${SLOT}'") ]]
}
slot_inactive() {
  [[ -z $(psql_admin -d postgres -tAc "SELECT 1 FROM pg_replication_slots WHERE slot_name = '${SLOT}' AND active") ]]
}

show_replica_log() {
  if as_root test -f "${REPLICA_LOG}"; then
    printf '\nlast lines of %s:\n' "${REPLICA_LOG}" >&2
    as_root tail -n 20 "${REPLICA_LOG}" >&2 || true
  fi
}

# The data directory is wiped by start and destroy: it must be a plain absolute path (pg_ctl
# passes it through a shell) and neither be nor contain a cluster's data directory, the
# primary's above all.
check_replica_dir() {
  [[ ${REPLICA_DIR} =~ ^/[A-Za-z0-9._/-]+$ && ${REPLICA_DIR} != / ]] ||
    die "REPLICA_DIR must be an absolute path of letters, digits, '.', '_', '-' and '/': ${REPLICA_DIR}"
  [[ -n ${PG_VERSION} && -x ${PG_BIN}/pg_ctl && -x ${PG_BIN}/pg_basebackup ]] ||
    die "no PostgreSQL server programs under /usr/lib/postgresql/<version>/bin"
  local dir cluster_dir cluster_dirs=()
  dir=$(realpath -m -- "${REPLICA_DIR}")
  if command -v pg_lsclusters >/dev/null 2>&1; then
    mapfile -t cluster_dirs < <(pg_lsclusters -h 2>/dev/null | awk '{ print $6 }')
  fi
  if postgres_answers; then
    cluster_dirs+=("$(psql_admin -d postgres -tAc 'SHOW data_directory')")
  fi
  for cluster_dir in "${cluster_dirs[@]}"; do
    [[ -n ${cluster_dir} ]] || continue
    cluster_dir=$(realpath -m -- "${cluster_dir}")
    if [[ ${cluster_dir} == "${dir}" || ${cluster_dir} == "${dir}"/* ]]; then
      die "REPLICA_DIR ${REPLICA_DIR} is (or holds) the data directory ${cluster_dir} of a cluster"
    fi
  done
}

# Streaming needs wal_level replica (or logical) and WAL senders and slots; changing them would
# need a restart of the primary, which this script never does.
check_primary_settings() {
  local wal_level senders slots
  wal_level=$(psql_admin -d postgres -tAc 'SHOW wal_level')
  senders=$(psql_admin -d postgres -tAc 'SHOW max_wal_senders')
  slots=$(psql_admin -d postgres -tAc 'SHOW max_replication_slots')
  [[ ${wal_level} == replica || ${wal_level} == logical ]] ||
    die "the primary has wal_level = ${wal_level}: set it to replica and restart it"
  ((senders > 0)) || die "the primary has max_wal_senders = 0: raise it and restart it"
  ((slots > 0)) || die "the primary has max_replication_slots = 0: raise it and restart it"
  log "primary: wal_level = ${wal_level}, max_wal_senders = ${senders}, max_replication_slots = ${slots}"
}

# Puts `host replication all 127.0.0.1/32 trust` first in the primary's pg_hba.conf (unless it
# is there already) and reloads, when the primary refuses replication connections on loopback.
ensure_replication_access() {
  if replication_allowed; then
    log "the primary accepts replication connections from 127.0.0.1"
    return
  fi
  local hba
  hba=$(psql_admin -d postgres -tAc 'SHOW hba_file')
  if ! as_root grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust([[:space:]]|$)' "${hba}"; then
    log "allowing replication connections from 127.0.0.1 in ${hba} (local development; copy in ${hba}.before-catalog-replica)"
    as_root cp -p "${hba}" "${hba}.before-catalog-replica"
    {
      printf '# Added by deploy/local/replica.sh (catalog read replica): trust replication from loopback.\n'
      printf 'host replication all 127.0.0.1/32 trust\n'
      as_root cat "${hba}.before-catalog-replica"
    } | as_root tee "${hba}" >/dev/null
  fi
  psql_admin -d postgres -tAc 'SELECT pg_reload_conf()' >/dev/null
  wait_for "a replication connection to 127.0.0.1:5432 (see ${hba})" 10 replication_allowed
}

# Creates the physical slot, reserving WAL at once, when it is missing. Prints "created" then.
ensure_slot() {
  local type
  type=$(psql_admin -d postgres -tAc "SELECT slot_type FROM pg_replication_slots WHERE slot_name = '${SLOT}'")
  case ${type} in
    physical) ;;
    '')
      psql_admin -d postgres -tAc "SELECT pg_create_physical_replication_slot('${SLOT}', true)" >/dev/null
      printf 'created'
      ;;
    *) die "the primary has a ${type} slot named ${SLOT}: drop it or pick another name" ;;
  esac
}

# Wipes REPLICA_DIR and fills it with a base backup of the primary, configured as a standby that
# streams through the slot (-R writes primary_conninfo, primary_slot_name and standby.signal).
base_backup() {
  if replica_running; then
    pg_ctl_replica stop -m fast -w >/dev/null
  fi
  log "base backup of 127.0.0.1:5432 into ${REPLICA_DIR}"
  as_root rm -rf -- "${REPLICA_DIR}"
  as_root mkdir -p -- "${REPLICA_DIR}"
  as_root chown postgres:postgres "${REPLICA_DIR}"
  as_root chmod 700 "${REPLICA_DIR}"
  as_postgres "${PG_BIN}/pg_basebackup" -h 127.0.0.1 -p 5432 -U postgres -w -D "${REPLICA_DIR}" \
    -X stream -R -S "${SLOT}" --checkpoint=fast
}

# The replica's own configuration. On Debian the primary's postgresql.conf and pg_hba.conf live
# in /etc/postgresql, so the base backup has neither; the backup's postgresql.auto.conf (the
# primary's ALTER SYSTEM settings plus what -R appended) still applies on top of this file.
write_replica_config() {
  local name settings=""
  # A hot standby refuses to start with less of these than the primary has.
  for name in max_connections max_worker_processes max_wal_senders max_prepared_transactions \
    max_locks_per_transaction; do
    settings+="${name} = $(psql_admin -d postgres -tAc "SHOW ${name}")"$'\n'
  done
  as_postgres mkdir -p "${REPLICA_DIR}/log"
  as_postgres tee "${REPLICA_DIR}/postgresql.conf" >/dev/null <<EOF
# Written by deploy/local/replica.sh: the local read replica, a hot standby of 127.0.0.1:5432.
# Its primary_conninfo and primary_slot_name are in postgresql.auto.conf (pg_basebackup -R).
port = ${REPLICA_PORT}
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
hot_standby = on
hba_file = '${REPLICA_DIR}/pg_hba.conf'
ident_file = '${REPLICA_DIR}/pg_ident.conf'
cluster_name = 'catalog-replica'
log_line_prefix = '%m [%p] %q%u@%d '
${settings}
EOF
  as_postgres tee "${REPLICA_DIR}/pg_hba.conf" >/dev/null <<EOF
# Written by deploy/local/replica.sh: the local read replica trusts loopback (development only).
local all all trust
local replication all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
EOF
  as_postgres tee "${REPLICA_DIR}/pg_ident.conf" </dev/null >/dev/null
}

start_replica() {
  if ss -ltnH "( sport = :${REPLICA_PORT} )" | grep -q .; then
    die "port ${REPLICA_PORT} is taken by something that is not this replica"
  fi
  log "starting the replica on 127.0.0.1:${REPLICA_PORT} (log ${REPLICA_LOG})"
  pg_ctl_replica -l "${REPLICA_LOG}" -w -t "${SERVICE_WAIT_SECONDS}" -o "-p ${REPLICA_PORT} \
-c listen_addresses=127.0.0.1 -c hot_standby=on -c unix_socket_directories=/tmp \
-c config_file=${REPLICA_DIR}/postgresql.conf" start >/dev/null
}

cmd_start() {
  section "Read replica of 127.0.0.1:5432 on 127.0.0.1:${REPLICA_PORT}"
  if replica_is_standby; then
    log "already running: 127.0.0.1:${REPLICA_PORT} answers as a standby ($(psql_replica -tAc 'SHOW data_directory'))"
    return
  fi
  if replica_answers; then
    die "127.0.0.1:${REPLICA_PORT} answers but is not a standby: stop whatever runs there"
  fi
  ensure_postgres
  check_replica_dir
  check_primary_settings
  ensure_replication_access
  local slot
  slot=$(ensure_slot)
  if [[ ${slot} == created ]]; then
    log "created the physical replication slot ${SLOT} on the primary"
  fi
  trap 'rc=$?; ((rc == 0)) || show_replica_log' EXIT
  if replica_running; then
    log "the replica in ${REPLICA_DIR} is already starting up"
  elif replica_dir_is_standby && [[ ${slot} != created ]]; then
    log "restarting the existing standby in ${REPLICA_DIR}"
    write_replica_config
    start_replica
  else
    if replica_dir_exists; then
      log "${REPLICA_DIR} is not a usable standby (or its slot was gone): replacing it"
    fi
    base_backup
    write_replica_config
    start_replica
  fi
  wait_for "the replica on 127.0.0.1:${REPLICA_PORT}" "${SERVICE_WAIT_SECONDS}" replica_answers
  wait_for "streaming replication into 127.0.0.1:${REPLICA_PORT}" "${SERVICE_WAIT_SECONDS}" replica_streaming
  trap - EXIT
  log "replica streaming on 127.0.0.1:${REPLICA_PORT} (data ${REPLICA_DIR}, slot ${SLOT})"
}

cmd_stop() {
  check_replica_dir
  if replica_running; then
    pg_ctl_replica stop -m fast -w >/dev/null
    log "stopped the replica (data kept in ${REPLICA_DIR}; the slot ${SLOT} keeps WAL on the primary)"
  else
    log "the replica in ${REPLICA_DIR} does not run"
  fi
}

cmd_destroy() {
  cmd_stop
  if replica_dir_exists; then
    as_root rm -rf -- "${REPLICA_DIR}"
    log "removed ${REPLICA_DIR}"
  fi
  if ! postgres_answers; then
    log "the primary does not answer: drop the slot ${SLOT} on it later (SELECT pg_drop_replication_slot('${SLOT}'))"
  elif slot_exists; then
    # The primary's WAL sender lets go of the slot a moment after the replica stopped.
    wait_for "the release of the slot ${SLOT} (does another standby use it?)" 15 slot_inactive
    psql_admin -d postgres -tAc "SELECT pg_drop_replication_slot('${SLOT}')" >/dev/null
    log "dropped the replication slot ${SLOT} on the primary"
  fi
}

pause_state() { psql_replica -tAc 'SELECT pg_get_wal_replay_pause_state()'; }
replay_paused() { [[ $(pause_state) == paused ]]; }
replay_not_paused() { [[ $(pause_state) == "not paused" ]]; }

cmd_pause() {
  replica_is_standby || die "no standby answers on 127.0.0.1:${REPLICA_PORT}: run start first"
  psql_replica -tAc 'SELECT pg_wal_replay_pause()' >/dev/null
  # Requested, replay stops before the next record; the state reads "paused" once it has.
  wait_for "the pause of WAL replay" 10 replay_paused
  log "WAL replay paused on 127.0.0.1:${REPLICA_PORT}: the primary's writes are received, not applied"
}

cmd_resume() {
  replica_is_standby || die "no standby answers on 127.0.0.1:${REPLICA_PORT}: run start first"
  psql_replica -tAc 'SELECT pg_wal_replay_resume()' >/dev/null
  wait_for "the resumption of WAL replay" 10 replay_not_paused
  log "WAL replay resumed on 127.0.0.1:${REPLICA_PORT}"
}

cmd_status() {
  local running=no row recovery state receiver replay receive primary_lsn lag="n/a" retained="n/a"
  if replica_running; then
    running="yes (postmaster pid $(as_root head -n 1 "${REPLICA_DIR}/postmaster.pid"))"
  elif ! replica_dir_exists; then
    running="no (no data directory)"
  fi
  printf '%-22s %s\n' "data directory" "${REPLICA_DIR}" "running" "${running}"
  if ! replica_answers; then
    printf '%-22s %s\n' "answers on :${REPLICA_PORT}" no
    return 3
  fi
  row=$(psql_replica -tA -F '|' -c "SELECT pg_is_in_recovery(),
      CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END,
      (SELECT status FROM pg_stat_wal_receiver), pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn()")
  IFS='|' read -r recovery state receiver replay receive <<<"${row}"
  printf '%-22s %s\n' "answers on :${REPLICA_PORT}" yes "in recovery" "${recovery}" \
    "replay pause state" "${state:-n/a}" "wal receiver" "${receiver:-none}" \
    "receive LSN" "${receive:-n/a}" "replay LSN" "${replay:-n/a}"
  if postgres_answers && primary_lsn=$(psql_admin -d postgres -tAc 'SELECT pg_current_wal_lsn()'); then
    if [[ -n ${replay} ]]; then
      lag=$(psql_admin -d postgres -tAc "SELECT pg_wal_lsn_diff('${primary_lsn}', '${replay}')::bigint")
    fi
    retained=$(psql_admin -d postgres -tAc "SELECT pg_wal_lsn_diff('${primary_lsn}', restart_lsn)::bigint
        FROM pg_replication_slots WHERE slot_name = '${SLOT}'")
    printf '%-22s %s\n' "primary LSN" "${primary_lsn}" "replay lag (bytes)" "${lag}" \
      "slot WAL retained" "${retained:-n/a (no slot ${SLOT})}${retained:+ bytes (slot ${SLOT})}"
  else
    printf '%-22s %s\n' "primary LSN" "n/a (127.0.0.1:5432 does not answer)"
  fi
}

case ${1:-start} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  destroy) cmd_destroy ;;
  pause) cmd_pause ;;
  resume) cmd_resume ;;
  status) cmd_status ;;
  -h | --help | help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' deploy/local/replica.sh ;;
  *) die "unknown command: $1 (start, stop, destroy, pause, resume or status)" ;;
esac
