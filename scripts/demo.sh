#!/usr/bin/env bash
# The README's first command: a day of village purchasing, end to end.
# Builds lastmile (release, ./build), starts a lastmile-server on a fresh
# embedded SQLite database under ./demo-run/, provisions a dispatcher and
# three purchase agents, has each agent record a realistic day of purchases
# on its own replica while offline (with what the field tool tells them),
# syncs everyone; the dispatcher sees the collection points and sends a
# truck, the agents load it, the warehouse receives it; headquarters reads
# the volume, reconcile, poverty and agents reports; the server stops with
# SIGTERM.
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

say "provisioning users: each gets a one-time enrolment string (lm1-...), kept for init"
declare -A key
provision() { # id role [extra args]
  local id=$1 role=$2
  shift 2
  key[$id]=$("$srv" user add --db "$run_dir/server.db" --id "$id" --role "$role" "$@" 2>/dev/null |
    tail -n 1)
  echo "  $role $id $*: enrolment string ${key[$id]:0:8}...${key[$id]: -8} (one use, 7 days)"
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

say "each device enrols: makes its own key pair, pins the server identity, first sync over TLS"
for id in disp-chen agent-li agent-wang agent-zhao; do
  "$cli" init --db "$run_dir/$id.db" --server "$address" --enrol "${key[$id]}" |
    sed 's/^/  /'
done

# lm ID ARGS...: runs the field tool on ID's replica; what it says to the
# agent (every line but the last) is shown, the last line (the new id) is
# the function's output.
lm() {
  local id=$1 out
  shift
  out=$("$cli" "$@" --db "$run_dir/$id.db")
  sed '$d; s/^/  /' <<<"$out" >&2
  tail -n 1 <<<"$out"
}
# show ID ARGS...: runs the field tool on ID's replica, output indented.
show() {
  local id=$1
  shift
  "$cli" "$@" --db "$run_dir/$id.db" | sed 's/^/  /'
}
today=$(TZ=Asia/Shanghai date +%F)

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
say "agent-li finds a farmer by name and counts the cash against the day"
show agent-li farmer find Li
show agent-li day

say "the same day for agent-wang and agent-zhao, offline in their villages"
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

say "the dispatcher sees what waits at each collection point of county pingshan"
show disp-chen points --date "$today"

say "the dispatcher sends a truck to shangba, xiaba and liangshui; everyone syncs"
route=$(lm disp-chen route create --date "$today" --vehicle "云A-12345" --driver "Zhou Qiang" \
  --stops shangba,xiaba,liangshui --capacity-kg 2000)
echo "  route $route"
for id in disp-chen agent-li agent-wang; do
  printf '  %-11s ' "$id:"
  "$cli" sync --db "$run_dir/$id.db"
done

say "the agents see the truck coming, and load it"
show agent-li list stops
# stop_of ID VILLAGE: the id of the route's stop at VILLAGE on ID's replica
stop_of() {
  "$cli" list stops --json --db "$run_dir/$1.db" |
    python3 -c 'import json,sys; print(next(s["id"] for s in json.load(sys.stdin) if s["village"] == sys.argv[1] and s["route_id"] == sys.argv[2]))' "$2" "$route"
}
# weights as the agents read them off the truck's scale
load() { # ID VILLAGE KG
  local stop
  stop=$(stop_of "$1" "$2")
  "$cli" stop arrive "$stop" --db "$run_dir/$1.db" >/dev/null
  "$cli" stop load "$stop" --kg "$3" --db "$run_dir/$1.db" >/dev/null
  echo "  $1 loaded $3 kg at $2"
}
load agent-li shangba 274.8
load agent-li xiaba 240
load agent-wang liangshui 200.85
for id in agent-li agent-wang disp-chen; do
  printf '  %-11s ' "$id:"
  "$cli" sync --db "$run_dir/$id.db"
done

say "the warehouse receives the truck (headquarters records the receipts)"
receipt() { # PRODUCT GRADE KG
  "$srv" receipt add --db "$run_dir/server.db" --route "$route" --product "$1" --grade "$2" \
    --kg "$3" --warehouse "pingshan depot" >/dev/null
  echo "  received $3 kg $1 $2"
}
receipt potato A 150.9
receipt potato B 86.5
receipt corn A 238
receipt corn C 35
receipt kiwi A 60.2
receipt kiwi C 18.75
receipt apple B 118

say "headquarters imports the county's register of poor households"
# Chen Jun's household id is on the register under another name: doubtful.
cat >"$run_dir/register.csv" <<'CSV'
户号,姓名,村
HH-SB-017,Li Guihua,shangba
HH-XB-004,Wang Fang,xiaba
HH-LS-009,Chen Juan,liangshui
HH-BS-021,Liu Yang,baishi
CSV
"$srv" farmer import --db "$run_dir/server.db" --csv "$run_dir/register.csv" | sed 's/^/  /'

say "headquarters: volumes (kg, yuan; voids excluded), reconcile, poverty, agents"
"$srv" report volumes --db "$run_dir/server.db" --by agent,product --format table
echo
"$srv" report reconcile --db "$run_dir/server.db" --format table
echo
"$srv" report poverty --db "$run_dir/server.db" --format table
echo
"$srv" report agents --db "$run_dir/server.db" --format table

say "stopping the server (SIGTERM, pid $server_pid)"
kill -TERM "$server_pid"
wait "$server_pid" && echo "  server exited cleanly"
trap - EXIT
say "done: replicas and server database are in $run_dir/"
