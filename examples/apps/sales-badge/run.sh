#!/usr/bin/env bash
# Starts the sales-badge app: a key pair, `herald run` on free ports
# checking tokens and pinging WebSockets every 30 s (PING), then the
# backend on PORT (default 3000). Ctrl-C stops both.
# Environment: PORT, PING (30s), SALE_EVERY (ms between simulated sales,
# 5000; 0: none), HERALD (the binary; default build/herald).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../common/herald.sh"
export PORT=${PORT:-3000}
HERALD=${HERALD:-$here/../../../build/herald}
[ -x "$HERALD" ] || HERALD=$(command -v herald) ||
    { echo "no herald binary: run 'make build' first (or set HERALD)" >&2; exit 1; }
export HERALD
keys=$(mktemp -d "${TMPDIR:-/tmp}/herald-badge-keys.XXXXXX")
trap 'rm -rf "$keys"' EXIT
# dev.private.jwk signs tokens (the backend keeps it); dev.jwks verifies them.
"$HERALD" keygen --out "$keys/dev" > /dev/null
# herald run reads every option from HERALD_<NAME> too.
HERALD_TOKEN_KEYS=$keys/dev.jwks HERALD_WS_HEARTBEAT=${PING:-30s} \
  start_herald "http://127.0.0.1:$PORT,http://localhost:$PORT"
# start_herald's own trap (herald_log is its log), and the keys
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$keys" "${herald_log:-}"' EXIT
HERALD_KEY=$keys/dev.private.jwk node "$here/server.mjs" &
wait $!
