#!/usr/bin/env python3
# Publish one event over ZeroMQ DEALER and wait for the broker's acknowledgement
# (docs/protocol.md §3.1). The `id` makes a retry safe: the same (channel, id)
# within the dedupe window is answered with the original seq and "dup": true.
# Needs Debian's python3-zmq and python3-msgpack.
# Run: python3 dealer.py      (HERALD_ROUTER: the broker's ROUTER, default tcp://127.0.0.1:5556)
import json
import os
import sys

import msgpack
import zmq

with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as dealer:
    dealer.linger = 0
    dealer.connect(os.environ.get("HERALD_ROUTER") or "tcp://127.0.0.1:5556")
    dealer.send(msgpack.packb({"ch": "demo", "type": "greeting", "data": {"from": "python-dealer"},
                               "id": "greeting-python-dealer"}))
    if not dealer.poll(5000):
        sys.exit("no reply within 5 s: the event may be published; retry with the same id")
    reply = msgpack.unpackb(dealer.recv())
    print(json.dumps(reply))    # {"seq": 1, "epoch": "…", "dup": false}, or {"error": …, "message": …}
    sys.exit(1 if "error" in reply else 0)
