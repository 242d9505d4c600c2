#!/usr/bin/env python3
# Publish one event over ZeroMQ PUSH: fire-and-forget, no reply (docs/protocol.md §2).
# Needs Debian's python3-zmq and python3-msgpack.
# Run: python3 push.py        (HERALD_PULL: the broker's PULL, default tcp://127.0.0.1:5555)
import os

import msgpack
import zmq

with zmq.Context() as ctx, ctx.socket(zmq.PUSH) as push:
    push.linger = 2000          # at exit, wait up to 2 s for the frame to leave
    push.connect(os.environ.get("HERALD_PULL") or "tcp://127.0.0.1:5555")
    push.send(msgpack.packb({"ch": "demo", "type": "greeting", "data": {"from": "python-push"}}))
