#!/usr/bin/env bash
# Runs the tests while CPU hogs keep every core busy, to show that no test
# depends on an idle machine (tests compare timings with a baseline measured
# in the same run, never with absolute figures).
#   scripts/test-under-load.sh                 the whole of `npm test` (lint, type check, build, every test)
#   scripts/test-under-load.sh <dirs/files>    npm run build, then only those tests (run-tests.mjs arguments)
# One hog per core (at least two), a `sh` busy loop at normal priority. The hogs are stopped whatever happens (also on Ctrl-C), and the
# script exits with the tests' status. It prints the wall time and how much
# CPU the hogs burnt, so a run that was not really loaded shows.
set -uo pipefail
cd "$(dirname "$0")/.."

cores="$(nproc)"
count=$((cores < 2 ? 2 : cores))
hogs=()

stop_hogs() {
  [ "${#hogs[@]}" -eq 0 ] && return
  kill "${hogs[@]}" 2>/dev/null
  wait "${hogs[@]}" 2>/dev/null
  hogs=()
}
trap stop_hogs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# utime + stime of a process in seconds, from /proc/<pid>/stat (fields 14 and 15, in clock ticks).
cpu_seconds() {
  local ticks
  ticks="$(getconf CLK_TCK)"
  awk -v hz="$ticks" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Each hog also ends by itself soon after this script is gone, even if it was killed with SIGKILL.
hog='n=0; while :; do n=$((n + 1)); if [ "$n" -ge 200000 ]; then kill -0 "$1" 2>/dev/null || exit 0; n=0; fi; done'
for ((i = 0; i < count; i++)); do
  sh -c "$hog" cpu-hog "$$" &
  hogs+=("$!")
done
echo "test-under-load: ${count} CPU hogs on ${cores} core(s) (pids ${hogs[*]}); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

started="$(date +%s)"
if [ "$#" -eq 0 ]; then
  npm test
else
  npm run build --silent && node scripts/run-tests.mjs "$@"
fi
status=$?
elapsed=$(($(date +%s) - started))

burnt=""
for pid in "${hogs[@]}"; do burnt+="$(cpu_seconds "$pid") "; done
stop_hogs
echo "test-under-load: tests exited ${status} after ${elapsed} s; hog CPU seconds: ${burnt% }; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit "$status"
