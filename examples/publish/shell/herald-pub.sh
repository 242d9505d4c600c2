#!/bin/sh
# Publish one event with `herald pub`, acknowledged over DEALER (--ack; without it,
# fire-and-forget over PUSH). herald reads its options from HERALD_<NAME> too:
# HERALD_ROUTER (default tcp://127.0.0.1:5556) here, HERALD_PULL without --ack.
# Run: sh herald-pub.sh       (HERALD: the herald binary, default `herald` on PATH)
# Prints {"seq":1,"epoch":"…","duplicate":false}; exits non-zero on an error.
"${HERALD:-herald}" pub demo '{"from":"herald-pub"}' --type greeting --ack
