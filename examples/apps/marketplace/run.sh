#!/usr/bin/env bash
# The marketplace example in one command: a key pair, a small Herald cluster
# (deploy/local-cluster.sh: BROKERS brokers, two gateways, all checking
# tokens), and the backend (server.mjs), which serves the page on PORT.
# Ctrl-C (or SIGTERM) stops all of it.
#
#   examples/apps/marketplace/run.sh        then open http://127.0.0.1:8000/
#
# Environment: PORT (8000), BROKERS (1; 3 for a cluster that survives a
# broker's loss), ORDER_EVERY (ms between simulated orders, 3000; 0: none),
# HERALD (the binary; default build/herald, built when missing).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
herald=${HERALD:-$root/build/herald}
[ -x "$herald" ] || make -C "$root" build >&2
port=${PORT:-8000}
work=$(mktemp -d "${TMPDIR:-/tmp}/herald-marketplace.XXXXXX")
backend=""

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$backend" ]; then kill "$backend" 2>/dev/null || true; wait "$backend" 2>/dev/null || true; fi
  "$root/deploy/local-cluster.sh" stop --dir "$work/cluster" > /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# dev.private.jwk mints the tokens (the backend keeps it); dev.jwks verifies
# them (every gateway gets it).
"$herald" keygen --out "$work/dev" > /dev/null

# The gateways read these from the environment (every option has its
# HERALD_<NAME>): token keys, and the page's origin for WebSocket and for
# importing /herald.js across origins.
origins="http://127.0.0.1:$port,http://localhost:$port"
HERALD_TOKEN_KEYS=$work/dev.jwks HERALD_WS_ORIGINS=$origins HERALD_CORS_ORIGINS=$origins \
  "$root/deploy/local-cluster.sh" start --dir "$work/cluster" --brokers "${BROKERS:-1}" \
                                        --gateways 2 --herald "$herald" > /dev/null
# shellcheck source=/dev/null
. "$work/cluster/cluster.env"

PORT=$port HERALD_KEY=$work/dev.private.jwk HERALD_URL=$HERALD_GATEWAY_1_HTTP \
GATEWAYS="$HERALD_GATEWAY_1_HTTP,$HERALD_GATEWAY_2_HTTP" \
  node "$here/server.mjs" &
backend=$!
wait "$backend"
