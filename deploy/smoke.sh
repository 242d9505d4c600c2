#!/bin/bash
# Smoke test run inside the image by the Containerfile's test stage, on free
# loopback ports; exits 1 at the first thing that fails, with the logs.
#  1. `herald run`: ready, the image's health check answers, an event
#     published over HTTP arrives over SSE ("herald-smoke: delivered JSON").
#  2. A cluster, started by herald-local-cluster (deploy/local-cluster.sh:
#     3 brokers, 2 gateways): an event published through one gateway arrives
#     through the other ("herald-smoke: cluster delivered JSON"); then it is
#     stopped with SIGTERM.
set -euo pipefail
dir=$(mktemp -d)
pid=""
sse=""
cluster=""
cleanup() {
  [ -z "$sse" ] || kill "$sse" 2>/dev/null || true
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  [ -z "$cluster" ] || herald-local-cluster stop --dir "$cluster" > /dev/null 2>&1 || true
}
trap cleanup EXIT
fail() {
  echo "herald-smoke: FAILED: $*" >&2
  for f in "$dir"/*.log "$dir"/*.out "$dir"/cluster/*.log; do
    [ -f "$f" ] && sed "s|^|  $(basename "$f"): |" "$f" | tail -n 20 >&2
  done
  exit 1
}
# until_ok DEADLINE-SECONDS COMMAND...: retries COMMAND every 0.1 s
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
# deliver PUBLISH-URL SUBSCRIBE-URL CHANNEL WHAT: subscribes over SSE at
# SUBSCRIBE-URL, publishes at PUBLISH-URL (again with the same id while a
# cluster answers 503: a new owner waits out its lease), waits for the event.
deliver() {
  local out="$dir/sse-$3.out"
  : > "$out"
  curl -sN --max-time 60 "$2/v1/sse?channel=$3" > "$out" &
  sse=$!
  # The stream's first id: line is its starting cursor: subscribed
  until_ok 30 grep -q '^id:' "$out" || fail "the SSE stream at $2 did not start"
  until_ok 30 curl -fs -o "$dir/publish.out" -H 'Content-Type: application/json' \
    -d "{\"channel\":\"$3\",\"type\":\"hello\",\"id\":\"$3-1\",\"data\":{\"from\":\"container\"}}" \
    "$1/v1/publish" || fail "publish at $1 refused for 30 s"
  until_ok 30 grep -q "^data: .*\"channel\":\"$3\".*\"from\":\"container\"" "$out" \
    || fail "the event did not arrive over SSE at $2 within 30 s"
  kill "$sse" 2>/dev/null || true
  sse=""
  echo "herald-smoke: $4 $(grep -m1 '^data: ' "$out" | cut -c7-)"
}

herald run --http 127.0.0.1:0 --pull 'tcp://127.0.0.1:*' --router 'tcp://127.0.0.1:*' \
  --xpub 'tcp://127.0.0.1:*' > "$dir/run.log" 2>&1 &
pid=$!
url=""
find_url() {
  kill -0 "$pid" 2>/dev/null || fail "herald run exited"
  url=$(sed -n 's/.* ready .*http=\(http:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$dir/run.log" | head -n 1)
  [ -n "$url" ]
}
until_ok 30 find_url || fail "no ready line within 30 s"
until_ok 30 curl -fs -o /dev/null "$url/readyz" || fail "$url/readyz not 200 within 30 s"
HERALD_HEALTH_PORT=${url##*:} herald-healthcheck || fail "herald-healthcheck failed"
deliver "$url" "$url" smoke delivered
kill "$pid"
wait "$pid" || fail "herald run did not exit 0 on SIGTERM"
pid=""

cluster=$dir/cluster
herald-local-cluster start --dir "$cluster" --herald "$(command -v herald)" > "$dir/cluster.out" \
  || fail "the cluster did not start"
# shellcheck disable=SC1091
. "$cluster/cluster.env"
deliver "$HERALD_GATEWAY_1_HTTP" "$HERALD_GATEWAY_2_HTTP" smoke-cluster "cluster delivered"
herald-local-cluster stop --dir "$cluster" > /dev/null || fail "the cluster did not stop"
cluster=""
