# shellcheck shell=bash
# Profiling one stretch of a benchmark (sourced by bench/run.sh and bench/import.sh): every
# process's CPU time sampled from /proc (report.py cpu-sample) and one process under perf.
#
#   profiling_start DIR PID DATABASE   ... the work ...   profiling_stop DIR
# leave DIR/cpu.json and DIR/perf.data (no perf installed: no perf.data) for
# `report.py ingest-profile`.

profiling_start() {
  local dir=$1 pid=$2 database=$3
  rm -rf "${dir}" && mkdir -p "${dir}"
  python3 "$(dirname "${BASH_SOURCE[0]}")/report.py" cpu-sample --stop-file "${dir}/stop" --interval 0.5 \
    --database "${database}" >"${dir}/cpu.json" &
  echo $! >"${dir}/sampler.pid"
  if command -v perf >/dev/null; then
    perf record -q -F 499 -p "${pid}" -o "${dir}/perf.data" >/dev/null 2>&1 &
    echo $! >"${dir}/perf.pid"
  fi
}

profiling_stop() {
  local dir=$1 pid
  if [[ -f ${dir}/perf.pid ]]; then
    pid=$(cat "${dir}/perf.pid")
    kill -INT "${pid}" 2>/dev/null || true
    # Not this shell's child when started from a subshell: wait for it to write and exit.
    while kill -0 "${pid}" 2>/dev/null; do sleep 0.1; done
  fi
  touch "${dir}/stop"
  pid=$(cat "${dir}/sampler.pid")
  while kill -0 "${pid}" 2>/dev/null; do sleep 0.1; done
}
