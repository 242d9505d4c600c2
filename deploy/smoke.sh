#!/bin/bash
# Smoke test run inside the image by the Containerfile's test stage: starts
# `herald run` on free loopback ports, subscribes over SSE, publishes over
# HTTP, and exits 0 once the event arrived (printing "herald-smoke:
# delivered"), 1 otherwise. Also checks the image's health check answers.
set -euo pipefail
dir=$(mktemp -d)
herald run --http 127.0.0.1:0 --pull 'tcp://127.0.0.1:*' --router 'tcp://127.0.0.1:*' \
  --xpub 'tcp://127.0.0.1:*' > "$dir/run.log" 2>&1 &
pid=$!
sse=""
cleanup() {
  [ -z "$sse" ] || kill "$sse" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap cleanup EXIT
fail() {
  echo "herald-smoke: FAILED: $*" >&2
  sed 's/^/  run.log: /' "$dir/run.log" >&2
  [ ! -f "$dir/sse.out" ] || sed 's/^/  sse: /' "$dir/sse.out" >&2
  exit 1
}
# until DEADLINE-SECONDS COMMAND...: retries COMMAND every 0.1 s
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || fail "herald exited"
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
url=""
find_url() {
  url=$(sed -n 's/.* ready .*http=\(http:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$dir/run.log" | head -n 1)
  [ -n "$url" ]
}
until_ok 30 find_url || fail "no ready line within 30 s"
until_ok 30 curl -fs -o /dev/null "$url/readyz" || fail "$url/readyz not 200 within 30 s"
HERALD_HEALTH_PORT=${url##*:} herald-healthcheck || fail "herald-healthcheck failed"
touch "$dir/sse.out"
curl -sN --max-time 60 "$url/v1/sse?channel=smoke" > "$dir/sse.out" &
sse=$!
# The stream's first id: line is its starting cursor: subscribed.
until_ok 30 grep -q '^id:' "$dir/sse.out" || fail "the SSE stream did not start"
curl -fs -H 'Content-Type: application/json' \
  -d '{"channel":"smoke","type":"hello","data":{"from":"container"}}' \
  "$url/v1/publish" > "$dir/pub.out" || fail "publish refused: $(cat "$dir/pub.out")"
until_ok 30 grep -q '^data: .*"channel":"smoke".*"from":"container"' "$dir/sse.out" \
  || fail "the event did not arrive over SSE within 30 s"
echo "herald-smoke: delivered $(grep -m1 '^data: ' "$dir/sse.out" | cut -c7-)"
