#!/usr/bin/env python3
# Publish one event with HTTP POST /v1/publish (docs/protocol.md §8), standard library only.
# Run: python3 http_post.py   (HERALD_URL: the gateway, default http://127.0.0.1:8080)
import json
import os
import urllib.request

url = (os.environ.get("HERALD_URL") or "http://127.0.0.1:8080") + "/v1/publish"
body = json.dumps({"channel": "demo", "type": "greeting", "data": {"from": "python-http"}})
request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=10) as response:  # an error status raises HTTPError
    print(response.read().decode())     # {"channel":"demo","seq":1,"epoch":"…","duplicate":false}
