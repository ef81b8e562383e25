#!/usr/bin/env bash
# The README's first command: a day of village purchasing, end to end.
# Builds lastmile (release, ./build), starts a lastmile-server on a fresh
# embedded SQLite database under ./demo-run/, provisions a dispatcher and
# three purchase agents, has each agent record a realistic day of purchases
# on its own replica while offline, syncs everyone, prints the server's
# volume report and stops the server with SIGTERM.
#   bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
run_dir="$root/demo-run"

say() { printf '\n==> %s\n' "$*"; }

say "bootstrap: checking the Debian packages"
bash scripts/bootstrap.sh

say "build: release build in ./build (first time takes a minute)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLM_BENCH=OFF >/dev/null
cmake --build build -j 2 --target lastmile lastmile-server >/dev/null
cli="$root/build/agent-cli/lastmile"
srv="$root/build/server/lastmile-server"

say "fresh server database: $run_dir/server.db"
rm -rf "$run_dir"
mkdir -p "$run_dir"
"$srv" init --db "$run_dir/server.db"

say "provisioning users (each key is printed once; we keep it for init)"
declare -A key
provision() { # id role [extra args]
  local id=$1 role=$2
  shift 2
  key[$id]=$("$srv" user add --db "$run_dir/server.db" --id "$id" --role "$role" "$@" 2>/dev/null |
    tail -n 1)
  echo "  $role $id $*"
}
provision disp-chen dispatcher --county pingshan
provision agent-li agent --villages shangba,xiaba
provision agent-wang agent --villages liangshui
provision agent-zhao agent --villages baishi,heping

say "starting lastmile-server on 127.0.0.1 (a free port)"
"$srv" serve --db "$run_dir/server.db" --listen 127.0.0.1:0 \
  >"$run_dir/server.out" 2>"$run_dir/server.log" &
server_pid=$!
stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
}
trap stop_server EXIT
address=""
for _ in $(seq 1 100); do
  line=$(head -n 1 "$run_dir/server.out" 2>/dev/null || true)
  if [[ $line == "listening on "* ]]; then
    address=${line#listening on }
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $address ]]; then
  echo "demo: the server did not start; its log:" >&2
  cat "$run_dir/server.log" >&2
  exit 1
fi
echo "  $line (pid $server_pid, log $run_dir/server.log)"

say "each user sets up a replica: checks the key with the server, first sync"
for id in disp-chen agent-li agent-wang agent-zhao; do
  "$cli" init --db "$run_dir/$id.db" --server "$address" --user "$id" --key "${key[$id]}" |
    sed 's/^/  /'
done

# lm ID ARGS...: runs the field tool on ID's replica, keeps the last line.
lm() {
  local id=$1
  shift
  "$cli" "$@" --db "$run_dir/$id.db" | tail -n 1
}

say "a day in the villages, offline: farmers, purchases, gradings, corrections"
# agent-li: potatoes and corn in shangba and xiaba.
f1=$(lm agent-li farmer add --name "Li Guihua" --village shangba --phone 13900001111 --poor --household HH-SB-017)
f2=$(lm agent-li farmer add --name "Zhang Wei" --village shangba)
f3=$(lm agent-li farmer add --name "Wang Fang" --village xiaba --poor --household HH-XB-004)
c1=$(lm agent-li collect --farmer "$f1" --product potato --grade A --kg 152.4 --price 1.80)
lm agent-li grade --collection "$c1" --grade A --moisture 14.5 >/dev/null
c2=$(lm agent-li collect --farmer "$f2" --product potato --grade B --kg 88.25 --price 1.50)
lm agent-li grade --collection "$c2" --grade B --moisture 16 --defects "some green tubers" >/dev/null
c3=$(lm agent-li collect --farmer "$f3" --product corn --grade A --kg 240 --price 2.60)
c4=$(lm agent-li collect --farmer "$f1" --product corn --grade C --kg 35.505 --price 2.00 --note "rain damage")
lm agent-li adjust --collection "$c2" --delta-kg -1.25 --reason "sack tare not deducted" >/dev/null
echo "  agent-li: 3 farmers (2 registered poor), 4 purchases, 2 gradings, 1 weight correction"

# agent-wang: kiwi and apples in liangshui, one purchase voided.
f4=$(lm agent-wang farmer add --name "Chen Jun" --village liangshui --poor --household HH-LS-009)
f5=$(lm agent-wang farmer add --name "Zhao Min" --village liangshui --phone 13700002222)
c5=$(lm agent-wang collect --farmer "$f4" --product kiwi --grade A --kg 61.8 --price 8.00)
lm agent-wang grade --collection "$c5" --grade A --moisture 82.5 >/dev/null
c6=$(lm agent-wang collect --farmer "$f5" --product apple --grade B --kg 120.3 --price 4.80)
c7=$(lm agent-wang collect --farmer "$f5" --product apple --grade B --kg 12 --price 4.80)
lm agent-wang adjust --collection "$c7" --void --reason "recorded twice" >/dev/null
c8=$(lm agent-wang collect --farmer "$f4" --product kiwi --grade C --kg 18.75 --price 5.00)
echo "  agent-wang: 2 farmers (1 registered poor), 4 purchases, 1 grading, 1 void"

# agent-zhao: tea in baishi and heping.
f6=$(lm agent-zhao farmer add --name "Liu Yang" --village baishi --poor --household HH-BS-021)
f7=$(lm agent-zhao farmer add --name "Sun Li" --village heping)
c9=$(lm agent-zhao collect --farmer "$f6" --product tea --grade A --kg 4.35 --price 60.00)
lm agent-zhao grade --collection "$c9" --grade A --moisture 6.5 >/dev/null
c10=$(lm agent-zhao collect --farmer "$f7" --product tea --grade B --kg 7.2 --price 45.00)
c11=$(lm agent-zhao collect --farmer "$f7" --product potato --grade C --kg 95 --price 1.20)
lm agent-zhao adjust --collection "$c10" --delta-kg 0.3 --reason "scale recalibrated" >/dev/null
echo "  agent-zhao: 2 farmers (1 registered poor), 3 purchases, 1 grading, 1 weight correction"
: "$c3" "$c4" "$c6" "$c8" "$c11"

say "what waits on agent-li's phone before the link comes up"
"$cli" status --db "$run_dir/agent-li.db" | sed 's/^/  /'

say "the link comes up: everyone syncs"
for id in agent-zhao agent-li agent-wang disp-chen; do
  printf '  %-11s ' "$id:"
  "$cli" sync --db "$run_dir/$id.db"
done

say "the dispatcher's replica now shows what waits in county pingshan"
"$cli" list collections --db "$run_dir/disp-chen.db" --json |
  python3 -c 'import json,sys; rows=json.load(sys.stdin); print("  %d collections from %s" % (len(rows), ", ".join(sorted({r["agent_id"] for r in rows}))))'

say "volume report on the server (weight in kg, money in yuan; voids excluded)"
"$srv" report volumes --db "$run_dir/server.db" --by agent,product --format table
echo
"$srv" report volumes --db "$run_dir/server.db" --by village --format table

say "stopping the server (SIGTERM, pid $server_pid)"
kill -TERM "$server_pid"
wait "$server_pid" && echo "  server exited cleanly"
trap - EXIT
say "done: replicas and server database are in $run_dir/"
