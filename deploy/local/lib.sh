# shellcheck shell=bash
# Functions shared by deploy/local/up.sh and deploy/local/test.sh. Source it; do not run it.
#
# The local services are the ones the catalog needs: PostgreSQL 15+ (with pg_trgm and
# unaccent), Redis and RabbitMQ, on their standard ports on 127.0.0.1. Each is installed from
# Debian's packages only when its binary is missing, and started only when it does not answer.

PG_ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
# How long a service may take to answer after it was started.
SERVICE_WAIT_SECONDS="${SERVICE_WAIT_SECONDS:-60}"

log() { printf '    %s\n' "$*"; }
section() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: directly when we are root (CI), through sudo otherwise.
as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

_apt_updated=0
apt_install() {
  log "installing $* (Debian packages)"
  if [[ ${_apt_updated} -eq 0 ]]; then
    as_root apt-get update
    _apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND once a second until it succeeds.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "${what} did not answer within ${seconds} s"
    fi
    sleep 1
  done
}

# ensure_free_disk GIB: stops early, saying why, when the disk holding the working tree has less
# than GIB GiB free; a build that runs out of space fails much later and less clearly.
ensure_free_disk() {
  local need=$1 free mount
  read -r free mount < <(df -P -BG . | awk 'NR == 2 { sub("G", "", $4); print $4, $6 }')
  if ((free < need)); then
    die "only ${free} GiB free on ${mount}; building and testing needs about ${need} GiB (old target/ directories and clean-clone copies are the usual culprits)"
  fi
  log "${free} GiB free on ${mount} (about ${need} GiB needed)"
}

postgres_answers() { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_answers() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]; }
rabbitmq_answers() { timeout 1 bash -c '</dev/tcp/127.0.0.1/5672' 2>/dev/null; }

# psql as the postgres role over TCP, never prompting for a password.
psql_admin() {
  psql -X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U postgres "$@"
}

# psql as the postgres OS user over the local socket (peer auth): works before TCP trust does.
psql_local() {
  as_root runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    apt_install postgresql postgresql-contrib
  fi
  if ! postgres_answers; then
    local version
    # The newest installed cluster version (normally the only one).
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
    [[ -n ${version} ]] || die "no PostgreSQL cluster under /etc/postgresql"
    log "starting PostgreSQL ${version}"
    as_root pg_ctlcluster --skip-systemctl-redirect "${version}" main start
    wait_for "PostgreSQL" "${SERVICE_WAIT_SECONDS}" postgres_answers
  fi
  # Local development connects as postgres without a password: trust loopback if needed.
  if ! psql_admin -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
    trust_loopback
    psql_admin -d postgres -tAc 'SELECT 1' >/dev/null ||
      die "cannot connect to ${PG_ADMIN_URL} without a password"
  fi
  local version_num
  version_num=$(psql_admin -d postgres -tAc 'SHOW server_version_num')
  ((version_num >= 150000)) || die "PostgreSQL 15 or newer is needed (found ${version_num})"
  if [[ $(available_extensions) != 2 ]]; then
    apt_install postgresql-contrib
    [[ $(available_extensions) == 2 ]] || die "the pg_trgm and unaccent extensions are not available"
  fi
  log "PostgreSQL $(psql_admin -d postgres -tAc 'SHOW server_version') answers on 127.0.0.1:5432"
}

available_extensions() {
  psql_admin -d postgres -tAc \
    "SELECT count(*) FROM pg_available_extensions WHERE name IN ('pg_trgm', 'unaccent')"
}

# Puts trust rules for 127.0.0.1 and ::1 first in pg_hba.conf (first match wins) and reloads.
# For a development machine only: any local user may then connect as any role.
trust_loopback() {
  local hba
  hba=$(psql_local -tAc 'SHOW hba_file')
  log "allowing passwordless connections on loopback in ${hba} (local development)"
  as_root cp "${hba}" "${hba}.before-catalog"
  {
    printf '# Added by deploy/local (catalog local development): trust loopback connections.\n'
    printf 'host all all 127.0.0.1/32 trust\n'
    printf 'host all all ::1/128 trust\n'
    as_root cat "${hba}.before-catalog"
  } | as_root tee "${hba}" >/dev/null
  psql_local -tAc 'SELECT pg_reload_conf()' >/dev/null
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
  fi
  if ! redis_answers; then
    log "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for "Redis" "${SERVICE_WAIT_SECONDS}" redis_answers
  fi
  log "Redis answers on 127.0.0.1:6379"
}

ensure_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    apt_install rabbitmq-server
  fi
  if ! rabbitmq_answers; then
    log "starting RabbitMQ (takes a few seconds)"
    as_root rabbitmq-server -detached
    wait_for "RabbitMQ" "${SERVICE_WAIT_SECONDS}" rabbitmq_answers
  fi
  log "RabbitMQ answers on 127.0.0.1:5672"
}

pip_install() {
  command -v pip >/dev/null 2>&1 || apt_install python3-pip
  log "installing $* (PyPI)"
  pip install --quiet "$@" 2>/dev/null || pip install --quiet --break-system-packages "$@"
}

# The S3-protocol server the tests store uploaded images in: moto in server mode (PyPI). It
# keeps buckets in memory; each test makes its own.
S3_TEST_PORT="${S3_TEST_PORT:-9100}"
MOTO_VERSION="5.2.1"
s3_answers() { timeout 1 bash -c "</dev/tcp/127.0.0.1/${S3_TEST_PORT}" 2>/dev/null; }

ensure_s3() {
  if ! s3_answers; then
    if ! python3 -c "import moto.server, flask_cors" 2>/dev/null; then
      pip_install "moto[server]==${MOTO_VERSION}"
    fi
    log "starting moto (S3 protocol) on 127.0.0.1:${S3_TEST_PORT}"
    nohup python3 -m moto.server -H 127.0.0.1 -p "${S3_TEST_PORT}" >/tmp/catalog-moto.log 2>&1 &
    wait_for "moto (S3)" "${SERVICE_WAIT_SECONDS}" s3_answers
  fi
  export TEST_S3_ENDPOINT="http://127.0.0.1:${S3_TEST_PORT}"
  log "S3 (moto) answers on 127.0.0.1:${S3_TEST_PORT}"
}

ensure_services() {
  ensure_postgres
  ensure_redis
  ensure_rabbitmq
}

ensure_database() {
  local name=$1
  if [[ -z $(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${name}'") ]]; then
    log "creating database ${name}"
    psql_admin -d postgres -c "CREATE DATABASE \"${name}\""
  fi
}

# Test databases left behind by interrupted test runs. A running test holds a connection to its
# database, so one without connections is abandoned and safe to drop.
drop_stale_test_databases() {
  local name dropped=0
  while IFS= read -r name; do
    [[ -n ${name} ]] || continue
    if psql_admin -d postgres -c "DROP DATABASE IF EXISTS \"${name}\"" 2>/dev/null; then
      dropped=$((dropped + 1))
    fi
  done < <(psql_admin -d postgres -tAc \
    "SELECT datname FROM pg_database d WHERE datname LIKE 'catalog\_test\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)")
  log "dropped ${dropped} leftover test database(s)"
}
