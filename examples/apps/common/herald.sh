# Sourced by each app's run.sh. start_herald ORIGIN: unless HERALD_URL is
# set, starts `herald run` on free ports, allowing the app's page at ORIGIN
# to reach it (CORS and WebSocket), waits until it is ready, and exports
# HERALD_URL. Every process the script started in the background (Herald,
# the backend) is stopped when it exits.
start_herald() {
    trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
    trap 'exit 143' TERM INT HUP
    if [ -n "${HERALD_URL:-}" ]; then return; fi
    local root herald
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
    herald=${HERALD:-$root/build/herald}
    if [ ! -x "$herald" ]; then
        herald=$(command -v herald) ||
            { echo "no herald binary: run 'make build' first (or set HERALD)" >&2; exit 1; }
    fi
    herald_log=$(mktemp "${TMPDIR:-/tmp}/herald-app.XXXXXX")
    "$herald" run --http 127.0.0.1:0 --pull 'tcp://127.0.0.1:*' \
        --router 'tcp://127.0.0.1:*' --xpub 'tcp://127.0.0.1:*' \
        --cors-origins "$1" --ws-origins "$1" --log-format json 2>"$herald_log" >/dev/null &
    herald_pid=$!
    trap 'kill $(jobs -p) 2>/dev/null; wait; rm -f "$herald_log"' EXIT
    local tries=0
    until grep -q '"msg":"ready"' "$herald_log"; do
        if ! kill -0 "$herald_pid" 2>/dev/null || [ $((tries += 1)) -gt 200 ]; then
            echo "herald did not start:" >&2; cat "$herald_log" >&2; exit 1
        fi
        sleep 0.1
    done
    HERALD_URL=$(sed -n 's/.*"msg":"ready","http":"\([^"]*\)".*/\1/p' "$herald_log" | head -n 1)
    export HERALD_URL
    echo "herald run: $HERALD_URL (log: $herald_log)"
}
