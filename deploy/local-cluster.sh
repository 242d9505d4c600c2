#!/usr/bin/env bash
# A Herald cluster on this machine: brokers and gateways on free loopback
# ports, for trying the cluster out and for tests (docs/cluster.md, "A
# cluster on one machine").
#
#   deploy/local-cluster.sh start  [--dir DIR] [--brokers N] [--gateways M] [--herald PATH] [--data]
#   deploy/local-cluster.sh stop   [--dir DIR]
#   deploy/local-cluster.sh status [--dir DIR]
#
# start writes DIR/cluster.json (the cluster file), starts N brokers (3) and
# M gateways (2) (logs in DIR/*.log, view state in DIR/state-b*), returns once
# every broker's and every gateway's /readyz answers 200, writes
# DIR/cluster.env and prints the addresses. cluster.env holds
#   HERALD_CLUSTER_FILE, HERALD_BROKER_<i>_{PUBLISH,ROUTER,STREAM,PEER,HTTP,PID},
#   HERALD_GATEWAY_<j>_{HTTP,PID}   (i, j from 1; the PIDs are herald's own)
# It refuses (exit 1) while a cluster runs in DIR. Each start is a new
# cluster: new ports, the view state of an earlier one removed.
# stop sends SIGTERM, waits up to 15 s, then SIGKILL; it exits 0 once all
# are gone (also when nothing runs). status prints each process and whether
# it is up; exit 0 when all are up, 1 otherwise. --data gives each broker
# durable history, --data-dir DIR/data-b<i> (removed at each start too).
# DIR defaults to ./herald-cluster; herald to build/herald (built if missing).
set -euo pipefail

usage() {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
case "$cmd" in start|stop|status) ;; -h|--help|help) usage 0 ;; *) usage ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$PWD/herald-cluster
brokers=3
gateways=2
herald=""
data=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --brokers) brokers=${2:?--brokers needs a number}; shift 2 ;;
    --gateways) gateways=${2:?--gateways needs a number}; shift 2 ;;
    --herald) herald=${2:?--herald needs a path}; shift 2 ;;
    --data) data=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "local-cluster: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$brokers" in ''|*[!0-9]*) echo "local-cluster: --brokers must be a number" >&2; exit 2 ;; esac
case "$gateways" in ''|*[!0-9]*) echo "local-cluster: --gateways must be a number" >&2; exit 2 ;; esac
if [ "$brokers" -lt 1 ] || [ "$brokers" -gt 16 ]; then
  echo "local-cluster: --brokers must be 1 to 16" >&2; exit 2
fi
if [ "$gateways" -gt 64 ]; then
  echo "local-cluster: --gateways must be 0 to 64" >&2; exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)             # absolute: it is in every command line
env_file=$dir/cluster.env
cluster=$dir/cluster.json
pid_file=$dir/pids                  # NAME PID lines, written as processes start

# The processes started in DIR as "NAME PID" lines (broker-1, gateway-2...).
processes() {
  [ -f "$pid_file" ] && cat "$pid_file"
  return 0
}

# A process of this cluster is up: it exists, is no zombie, and its command
# line names this cluster's file (a PID reused by another process is not).
# A process that is exiting loses its command line (empty, or a read error)
# before it becomes a zombie: it is still up until then.
is_up() {
  local state cmd
  state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  cmd=$(tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null) || true
  [ -n "$cmd" ] || return 0       #  unreadable or empty: exiting, not yet a zombie
  printf '%s\n' "$cmd" | grep -qxF -- "$cluster"
}

# A process still exists and is no zombie, whatever its command line reads
# as while it exits: what stop waits for.
running() {
  local state
  state=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_all() {
  local name pid alive deadline
  local -a list=()
  while read -r name pid; do list+=("$pid"); done < <(processes)
  [ ${#list[@]} -gt 0 ] || return 0
  for pid in "${list[@]}"; do
    if is_up "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$((SECONDS + 15))
  while true; do
    alive=""
    for pid in "${list[@]}"; do if running "$pid"; then alive="$alive $pid"; fi; done
    [ -n "$alive" ] || return 0
    [ $SECONDS -lt $deadline ] || break
    sleep 0.1
  done
  echo "local-cluster: still up after 15 s, SIGKILL:$alive" >&2
  for pid in $alive; do if is_up "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi; done
  deadline=$((SECONDS + 5))
  for pid in $alive; do
    while running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  done
}

if [ "$cmd" = stop ]; then
  stop_all
  echo "stopped (${dir})"
  exit 0
fi

if [ "$cmd" = status ]; then
  if [ ! -f "$pid_file" ]; then
    echo "no cluster in $dir"
    exit 1
  fi
  down=0
  while read -r name pid; do
    if is_up "$pid"; then
      echo "$name pid $pid up"
    else
      echo "$name pid $pid down"; down=1
    fi
  done < <(processes)
  exit $down
fi

# start
while read -r name pid; do
  if is_up "$pid"; then
    echo "local-cluster: a cluster is already running in $dir ($name, pid $pid): stop it first" >&2
    exit 1
  fi
done < <(processes)
if [ -z "$herald" ]; then
  herald=$root/build/herald
  if [ ! -x "$herald" ]; then
    echo "building $herald" >&2
    make -C "$root" build >&2
  fi
fi
[ -x "$herald" ] && [ -f "$herald" ] || { echo "local-cluster: $herald is not an executable" >&2; exit 2; }
herald=$(cd "$(dirname "$herald")" && pwd)/$(basename "$herald")
command -v curl >/dev/null || { echo "local-cluster: needs curl (apt-get install curl)" >&2; exit 2; }
rm -f "$env_file" "$pid_file" "$dir"/broker-*.log "$dir"/gateway-*.log
rm -rf "$dir"/state-b* "$dir"/data-b*

# Free loopback ports: nobody listens on them and they are below the
# kernel's ephemeral range, so no outgoing connection takes one before
# the broker binds it. (Another program may still bind one first: then that
# broker exits and start fails, naming it; run start again.)
read -r eph_low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_low=32768
port_low=10000
port_high=$((eph_low - 1))
[ "$port_high" -gt $((port_low + 1000)) ] || { port_low=20000; port_high=29999; }
declare -A taken=()
free_port() {
  local p
  while true; do
    p=$((port_low + (RANDOM * 32768 + RANDOM) % (port_high - port_low + 1)))
    [ -z "${taken[$p]:-}" ] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      taken[$p]=1
      port=$p
      return
    fi
  done
}

declare -a b_pub b_router b_stream b_peer b_http b_pid g_http g_pid
for i in $(seq 1 "$brokers"); do
  free_port; b_pub[$i]=tcp://127.0.0.1:$port
  free_port; b_router[$i]=tcp://127.0.0.1:$port
  free_port; b_stream[$i]=tcp://127.0.0.1:$port
  free_port; b_peer[$i]=tcp://127.0.0.1:$port
  free_port; b_http[$i]=127.0.0.1:$port
done
{
  echo '{"brokers": ['
  for i in $(seq 1 "$brokers"); do
    sep=","; [ "$i" -eq "$brokers" ] && sep=""
    printf '  {"id": "b%d", "publish": "%s", "router": "%s", "stream": "%s", "peer": "%s", "http": "%s"}%s\n' \
      "$i" "${b_pub[$i]}" "${b_router[$i]}" "${b_stream[$i]}" "${b_peer[$i]}" "${b_http[$i]}" "$sep"
  done
  echo ']}'
} > "$cluster"

fail() {
  echo "local-cluster: $*" >&2
  for f in "$dir"/broker-*.log "$dir"/gateway-*.log; do
    [ -f "$f" ] || continue
    echo "--- $f (last lines)" >&2
    tail -n 5 "$f" >&2
  done
  stop_all
  exit 1
}

# nohup execs herald: $! is herald's own PID. Output to the logs, never to
# our stdout (whoever reads start's output would wait for the cluster).
for i in $(seq 1 "$brokers"); do
  mkdir -p "$dir/state-b$i"
  durable=()
  [ -z "$data" ] || durable=(--data-dir "$dir/data-b$i")
  nohup "$herald" broker --cluster "$cluster" --id "b$i" --state-dir "$dir/state-b$i" \
    ${durable[@]+"${durable[@]}"} < /dev/null > "$dir/broker-$i.log" 2>&1 &
  b_pid[$i]=$!
  echo "broker-$i ${b_pid[$i]}" >> "$pid_file"
done
for j in $(seq 1 "$gateways"); do
  nohup "$herald" gateway --cluster "$cluster" --http 127.0.0.1:0 \
    < /dev/null > "$dir/gateway-$j.log" 2>&1 &
  g_pid[$j]=$!
  echo "gateway-$j ${g_pid[$j]}" >> "$pid_file"
done

ready() {
  curl -fs -m 2 -o /dev/null "$1/readyz"
}

# A gateway's address, from its `ready` log line (it binds port 0).
gateway_http() {
  sed -n 's/.* ready .*http=\(http:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$1" | head -n 1
}

deadline=$((SECONDS + 60))
for i in $(seq 1 "$brokers"); do
  until ready "http://${b_http[$i]}"; do
    is_up "${b_pid[$i]}" || fail "broker b$i exited during start (log: $dir/broker-$i.log)"
    [ $SECONDS -lt $deadline ] || fail "broker b$i not ready within 60 s (http://${b_http[$i]}/readyz)"
    sleep 0.1
  done
done
for j in $(seq 1 "$gateways"); do
  g_http[$j]=""
  while [ -z "${g_http[$j]}" ] || ! ready "${g_http[$j]}"; do
    is_up "${g_pid[$j]}" || fail "gateway $j exited during start (log: $dir/gateway-$j.log)"
    [ $SECONDS -lt $deadline ] || fail "gateway $j not ready within 60 s (${g_http[$j]:-no address yet}/readyz)"
    [ -n "${g_http[$j]}" ] || g_http[$j]=$(gateway_http "$dir/gateway-$j.log")
    sleep 0.1
  done
done
for i in $(seq 1 "$brokers"); do
  is_up "${b_pid[$i]}" || fail "broker b$i exited during start (log: $dir/broker-$i.log)"
done

{
  echo "HERALD_CLUSTER_FILE=$cluster"
  for i in $(seq 1 "$brokers"); do
    echo "HERALD_BROKER_${i}_PUBLISH=${b_pub[$i]}"
    echo "HERALD_BROKER_${i}_ROUTER=${b_router[$i]}"
    echo "HERALD_BROKER_${i}_STREAM=${b_stream[$i]}"
    echo "HERALD_BROKER_${i}_PEER=${b_peer[$i]}"
    echo "HERALD_BROKER_${i}_HTTP=http://${b_http[$i]}"
    echo "HERALD_BROKER_${i}_PID=${b_pid[$i]}"
  done
  for j in $(seq 1 "$gateways"); do
    echo "HERALD_GATEWAY_${j}_HTTP=${g_http[$j]}"
    echo "HERALD_GATEWAY_${j}_PID=${g_pid[$j]}"
  done
} > "$env_file.tmp"
mv "$env_file.tmp" "$env_file"

echo "Herald cluster running in $dir ($brokers brokers, $gateways gateways)"
echo "  cluster file  $cluster"
for i in $(seq 1 "$brokers"); do
  echo "  broker b$i     pid ${b_pid[$i]}  publish ${b_pub[$i]}  router ${b_router[$i]}  stream ${b_stream[$i]}  http http://${b_http[$i]}"
done
for j in $(seq 1 "$gateways"); do
  echo "  gateway $j     pid ${g_pid[$j]}  ${g_http[$j]}  (${g_http[$j]}/v1/sse?channel=demo)"
done
echo "  environment   $env_file"
echo "Stop it with: $0 stop --dir $dir"
