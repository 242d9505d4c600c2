#!/usr/bin/env bash
# Starts the reservations app: `herald run` on free ports (unless HERALD_URL is
# set), then the backend on PORT (default 3000). Ctrl-C stops both.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../common/herald.sh"
export PORT=${PORT:-3000}
start_herald "http://127.0.0.1:$PORT,http://localhost:$PORT"
node "$here/server.mjs" &
wait $!
