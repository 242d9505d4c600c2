#!/bin/sh
# Publish one event with HTTP POST /v1/publish (docs/protocol.md §8). curl -d alone
# sends a form, which Herald refuses (415): say it is JSON.
# Run: sh curl.sh             (HERALD_URL: the gateway, default http://127.0.0.1:8080)
# Prints {"channel":"demo","seq":1,"epoch":"…","duplicate":false}; exits non-zero on an error.
curl -sS --fail-with-body -w '\n' -H 'Content-Type: application/json' \
     -d '{"channel":"demo","type":"greeting","data":{"from":"curl"}}' \
     "${HERALD_URL:-http://127.0.0.1:8080}/v1/publish"
