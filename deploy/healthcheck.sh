#!/bin/bash
# The image's health check: GET /healthz from Herald's HTTP address inside
# the container (127.0.0.1, port $HERALD_HEALTH_PORT, default 8080; a broker's
# --http port for `herald broker`). Exit 0 on a 200, 1 otherwise. Bash's
# /dev/tcp, so the runtime image needs no curl.
port=${HERALD_HEALTH_PORT:-8080}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
read -r -t 2 _ status _ <&3 || exit 1
[ "$status" = 200 ]
