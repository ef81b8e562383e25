#!/usr/bin/env bash
# An agent's day synced over an emulated 2G link, with and without cuts:
#
#   sudo scripts/bench-link.sh           # rewrites "Over an emulated 2G link" in docs/benchmarks.md
#   DOC= sudo scripts/bench-link.sh      # figures on stdout only
#
# Needs root, /dev/net/tun, ip(8) and netlab (../shared/netlab, or NETLAB=DIR);
# without any of them it says what is missing and exits 0. It builds
# lastmile and lastmile-server (Release) into ./build-bench-link, copies
# netlab's linkemu.py into the run folder, makes two network namespaces of
# its own (lmbl-PID-srv, lmbl-PID-cli), joins them with linkemu only, and
# runs bench/link/linklab.py (its docstring says what each scenario does).
# Every process it starts is ended by PID and both namespaces are deleted on
# every exit, failures and Ctrl-C included. Nothing listens outside the two
# namespaces.
#
# Knobs (environment): RATES ("64 32", kbit/s each way), DELAY_MS (300, one
# way), LOSS (0.03), QUEUE_BYTES (32000), SEED (7), FARMERS (50),
# COLLECTIONS (300 a day), DAYS_N (3: the backlog of the several-cuts run),
# CUT_S (30: the one cut), CUTS (3) and CUTN_S (20: the several cuts),
# CUT_AT (3: seconds into the sync when the first cut starts), CUTN_GAP (10:
# seconds of link between the several cuts), PLAIN_CUT_S (60: the cut under a plain `lastmile sync`), RETRY
# (30) and TIMEOUT (20: the options of the timed sync), SCENARIOS ("clean
# cut1 cutN plain": which to run), BUILD, DOC.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NETLAB=${NETLAB:-$ROOT/../shared/netlab}
BUILD=${BUILD:-$ROOT/build-bench-link}
DOC=${DOC-$ROOT/docs/benchmarks.md}

skip() { echo "bench-link: skipped: $*" >&2; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and TUN devices)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
[ -f "$NETLAB/linkemu.py" ] || skip "netlab is missing (no $NETLAB/linkemu.py)"
command -v ip >/dev/null || skip "ip(8) is missing (iproute2)"
command -v python3 >/dev/null || skip "python3 is missing"
command -v sqlite3 >/dev/null || skip "sqlite3 (the shell) is missing"

log() { printf '== %s\n' "$*" >&2; }

NS=lmbl-$$
RUN=$BUILD/link-run
PIDFILE=$RUN/pids
LAB_PID=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$LAB_PID" ] && kill -0 "$LAB_PID" 2>/dev/null; then
    kill -TERM "$LAB_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$LAB_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  # What linklab.py started and did not end (it normally ends them all).
  if [ -f "$PIDFILE" ]; then
    while read -r p; do
      [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    done <"$PIDFILE"
  fi
  ip netns del "$NS-srv" 2>/dev/null || true
  ip netns del "$NS-cli" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "build (Release) into $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLM_BENCH=OFF >/dev/null
cmake --build "$BUILD" --target lastmile lastmile-server -j2 >/dev/null

rm -rf "$RUN"
mkdir -p "$RUN"
cp "$NETLAB/linkemu.py" "$RUN/linkemu.py"
: >"$PIDFILE"

python3 "$ROOT/bench/link/linklab.py" \
  --srv "$BUILD/server/lastmile-server" --cli "$BUILD/agent-cli/lastmile" \
  --linkemu "$RUN/linkemu.py" --work "$RUN" --pidfile "$PIDFILE" --ns-prefix "$NS" \
  --rates "${RATES:-64 32}" --delay-ms "${DELAY_MS:-300}" --loss "${LOSS:-0.03}" \
  --queue-bytes "${QUEUE_BYTES:-32000}" --seed "${SEED:-7}" --farmers "${FARMERS:-50}" \
  --collections "${COLLECTIONS:-300}" --days-n "${DAYS_N:-3}" --cut-s "${CUT_S:-30}" \
  --cuts "${CUTS:-3}" --cutn-s "${CUTN_S:-20}" --cut-at "${CUT_AT:-3}" --cutn-gap "${CUTN_GAP:-10}" \
  --plain-cut-s "${PLAIN_CUT_S:-60}" --retry "${RETRY:-30}" --timeout "${TIMEOUT:-20}" \
  --scenarios "${SCENARIOS:-clean cut1 cutN plain}" --doc "$DOC" &
LAB_PID=$!
wait "$LAB_PID"
