#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into corpus/{event,request,cursor,ws_msg,peer_msg}/.

Run from anywhere with Debian's python3 (python3-msgpack): /usr/bin/python3
tests/fuzz/make_corpus.py. The seeds are committed; rerun only to change them."""
import base64
import json
import os
import struct

import msgpack

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


def raw_map(pairs):
    """A map whose values are given already packed (or deliberately broken)."""
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(pack(k) + v for k, v in pairs)


def fnv1a(data, h=2166136261):
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# Events (the broker's envelope)
event = {"ch": "orders", "seq": 42, "epoch": "9f1c2ab03e4d5f60", "ts": 1763900000000,
         "type": "created", "data": {"id": 7, "total": 12.5, "tags": ["a", None, True]},
         "id": "order-7-created"}
write("event", "valid_full", pack(event))
write("event", "valid_minimal", pack({"ch": "a", "seq": 1, "epoch": "e", "ts": 0, "data": None}))
write("event", "valid_bin_ext", pack({"ch": "b", "seq": 2**64 - 1, "epoch": "e", "ts": 1,
                                      "data": [b"\x00\xff", msgpack.ExtType(5, b"xy"), -2**63,
                                               float("nan"), "caf\u00e9"]}))
write("event", "valid_unknown_key", pack({"ch": "c", "seq": 3, "epoch": "e", "ts": 1,
                                          "data": 1, "later": {"x": [1, 2]}}))
write("event", "head_nil_epoch", pack({"ch": "seller:1", "epoch": None, "seq": 0, "head": True}))
write("event", "head_epoch", pack({"ch": "seller:1", "epoch": "abc", "seq": 57, "head": True}))
write("event", "bad_missing_data", pack({"ch": "a", "seq": 1, "epoch": "e", "ts": 0}))
write("event", "bad_duplicate", b"\x86" + pack("ch") + pack("a") + pack(event)[1:])
write("event", "bad_channel", pack({"ch": "a b", "seq": 1, "epoch": "e", "ts": 0, "data": 1}))
write("event", "bad_huge_count", b"\xdf\xff\xff\xff\xff\xa2ch\xa1a")
base = [("ch", pack("a")), ("seq", pack(1)), ("epoch", pack("e")), ("ts", pack(0))]
write("event", "bad_deep", raw_map(base + [("data", b"\x91" * 33 + b"\x90")]))
write("event", "valid_invalid_utf8_data", raw_map(base + [("data", b"\xa4\xff\xfe\xc0\xaf")]))

# Requests and replies (the broker's ROUTER socket)
write("request", "publish_push", pack({"ch": "orders", "type": "created", "data": {"id": 7}}))
write("request", "publish_ack", pack({"op": "publish", "rid": 7, "ch": "orders",
                                      "id": "k-1", "data": [1, 2.5, "x"]}))
write("request", "history", pack({"op": "history", "rid": 3, "ch": "orders",
                                  "epoch": "9f1c2ab03e4d5f60", "since": 40, "limit": 5000}))
write("request", "history_defaults", pack({"op": "history", "ch": "orders"}))
write("request", "bad_op", pack({"op": "subscribe", "ch": "orders"}))
write("request", "bad_unknown_key", pack({"ch": "orders", "data": 1, "chan": "x"}))
write("request", "bad_epoch_on_publish", pack({"ch": "orders", "data": 1, "epoch": "e"}))
write("request", "bad_truncated", pack({"ch": "orders", "data": "abcdef"})[:-3])
write("request", "bad_c1", raw_map([("ch", pack("orders")), ("data", b"\xc1")]))
write("request", "revoke", pack({"op": "revoke", "rid": 4, "kind": "sub", "value": "u1",
                                 "until": 1796236400}))
write("request", "bad_revoke_kind", pack({"op": "revoke", "kind": "role", "value": "x",
                                          "until": 1}))
write("request", "revocations", pack({"revoked": [["sub", "u1", 1796236400],
                                                  ["jti", "tok-9", 1796150000]]}))
write("request", "bad_revocations_empty", pack({"revoked": []}))
write("request", "reply_ack", pack({"rid": 7, "seq": 42, "epoch": "9f1c2ab03e4d5f60", "dup": False}))
write("request", "reply_error", pack({"rid": 1, "error": "bad_channel", "message": "m"}))
write("request", "reply_history", pack({"ch": "orders", "epoch": None, "first": 38, "head": 57,
                                        "count": 0, "reset": "expired"}))

# Cursors for the fuzz target's set {orders, seller:1, stats}
names = sorted(["orders", "seller:1", "stats"])
set_hash = fnv1a(b"".join(n.encode() + b"\n" for n in names))


def cursor(entries, version=1, count=None, extra=b""):
    body = bytes([version]) + struct.pack("<I", set_hash)
    body += varint(len(entries) if count is None else count)
    for epoch, seq in entries:
        body += bytes([len(epoch)]) + epoch + varint(seq)
    body += extra
    body += struct.pack("<I", fnv1a(body))
    return base64.urlsafe_b64encode(body).rstrip(b"=")


write("cursor", "valid", cursor([(b"9f1c2ab03e4d5f60", 57), (b"e", 1), (b"f", 99999)]))
write("cursor", "valid_empty_epochs", cursor([(b"", 0), (b"a", 2**64 - 1), (b"", 0)]))
write("cursor", "valid_long_epochs", cursor([(b"x" * 32, 1), (b"y" * 32, 2), (b"z" * 32, 3)]))
write("cursor", "bad_version", cursor([(b"e", 1)] * 3, version=2))
write("cursor", "bad_count", cursor([(b"e", 1)] * 2, count=2))
write("cursor", "bad_trailing", cursor([(b"e", 1)] * 3, extra=b"\x00"))
write("cursor", "bad_padding", cursor([(b"e", 1)] * 3) + b"==")
write("cursor", "bad_alphabet", cursor([(b"e", 1)] * 3).replace(b"A", b"+"))
# A valid cursor with a '_' replaced by a byte >= 0x80 (not base64url)
high = cursor([(b"e", 2**64 - 1), (b"f", 2**64 - 1), (b"g", 1)])
assert b"_" in high
write("cursor", "bad_non_ascii", high.replace(b"_", b"\x94", 1))

# WebSocket client messages (herald.v1): the first byte picks the encoding
# (b"j": JSON, b"m": MessagePack, by its low bit), the rest is the message.
def ws_json(name, text):
    write("ws_msg", "json_" + name, b"j" + text.encode())


def ws_mpack(name, value=None, raw=None):
    write("ws_msg", "mpack_" + name, b"m" + (raw if raw is not None else pack(value)))


ws_messages = {
    "sub": {"t": "sub", "id": 1, "ch": "orders"},
    "sub_resume": {"t": "sub", "id": 2, "ch": "seller:1", "e": "9f1c2ab03e4d5f60", "s": 57},
    "sub_resume_null": {"t": "sub", "id": 3, "ch": "a", "e": None, "s": 0},
    "unsub": {"t": "unsub", "id": 4, "ch": "orders"},
    "pub": {"t": "pub", "id": 5, "ch": "orders", "type": "created", "key": "k-1",
            "data": {"id": 7, "total": 12.5, "tags": ["a", None, True], "s": "caf\u00e9"}},
    "auth": {"t": "auth", "id": 6, "token": "eyJ.x.y"},
    "refresh": {"t": "refresh", "id": 7, "token": "t"},
    "ping": {"t": "ping", "id": 8},
    "pong": {"t": "pong"},
    "bad_unknown_t": {"t": "subscribe", "id": 9},
    "bad_e_without_s": {"t": "sub", "id": 10, "ch": "a", "e": "x"},
    "bad_id": {"t": "ping", "id": 4294967296},
}
for name, value in ws_messages.items():
    ws_json(name, json.dumps(value, separators=(",", ":")))
    ws_mpack(name, value)
batch = [ws_messages["sub"], ws_messages["pub"], 5, ws_messages["bad_unknown_t"], ws_messages["ping"]]
ws_json("batch", json.dumps(batch))
ws_mpack("batch", batch)
ws_json("bad_duplicate", '{"t":"ping","t":"pong"}')
write("ws_msg", "json_bad_utf8", b'j{"t":"ping","x":"\xff\xfe"}')
ws_json("bad_deep_data", '{"t":"pub","id":1,"ch":"a","data":' + "[" * 33 + "]" * 33 + "}")
ws_json("bad_deep_frame", "[" * 65 + "]" * 65)
ws_json("bad_truncated", '[{"t":"sub","id":1,"ch":"a"},{"t":"pu')
ws_mpack("pub_bin_ext_float32", raw=raw_map([("t", pack("pub")), ("id", pack(1)), ("ch", pack("a")),
                                             ("data", b"\x93\xca\x3f\xc0\x00\x00\xc4\x02\x00\xff\xd4\x05\x01")]))
ws_mpack("bad_duplicate", raw=raw_map([("t", pack("ping")), ("t", pack("pong"))]))
ws_mpack("bad_truncated", raw=pack(ws_messages["pub"])[:-4])
ws_mpack("bad_huge_count", raw=b"\xdd\xff\xff\xff\xff\x80")
ws_mpack("nonstring_key", raw=b"\x82" + pack("t") + pack("ping") + b"\x91\x01\xc0")

# Peer messages between brokers (broker/hrb_peer_msg; a file of three brokers)
peer_view = {"n": 3, "m": 7, "o": 3, "h": 0, "f": 2}
write("peer_msg", "hb", pack({"t": "hb", "from": "b1", "cf": 12345, "term": 3, "view": peer_view,
                              "stamp": 1000, "leaving": False}))
write("peer_msg", "hback", pack({"t": "hback", "from": "b2", "cf": 12345, "term": 3,
                                 "view": peer_view, "stamp": 1000}))
write("peer_msg", "vreq", pack({"t": "vreq", "from": "b3", "cf": 12345, "term": 4,
                                "view": {"n": 4, "m": 7, "o": 7, "h": 0, "f": 0}}))
write("peer_msg", "vote", pack({"t": "vote", "from": "b1", "cf": 12345, "term": 4, "granted": True,
                                "base": 3}))
write("peer_msg", "fwd", pack({"t": "fwd", "from": "b2", "cf": 1, "n": 4, "fid": 9,
                               "req": pack({"ch": "orders", "data": 1, "rid": 3})}))
write("peer_msg", "fwd_push", pack({"t": "fwd", "from": "b2", "cf": 1, "n": 4,
                                    "req": pack({"ch": "orders", "data": 1})}))
write("peer_msg", "handoff", pack({"t": "handoff", "from": "b1", "cf": 1, "n": 5, "ch": "room",
                                   "epoch": "0000050000000001" + "ab" * 8, "seq": 3, "part": 0,
                                   "last": True, "ev": [b"e1", b"e2"], "keys": {"k1": 2}}))
write("peer_msg", "handoff_end", pack({"t": "handoff_end", "from": "b1", "cf": 1, "n": 5,
                                       "count": 2}))
write("peer_msg", "handoff_ack", pack({"t": "handoff_ack", "from": "b2", "cf": 1, "n": 5,
                                       "ch": "room"}))
write("peer_msg", "fwdack", pack({"t": "fwdack", "from": "b1", "cf": 1, "n": 4, "fid": 9,
                                  "rep": pack({"rid": 3, "seq": 1, "epoch": "0" * 32, "dup": False})}))
write("peer_msg", "repl", pack({"t": "repl", "from": "b1", "cf": 1, "n": 5, "r": 7, "first": False,
                                "e": 123456, "ev": [b"e1", b"e2"]}))
write("peer_msg", "repl_keepalive", pack({"t": "repl", "from": "b1", "cf": 1, "n": 5, "r": 1,
                                          "first": True, "e": 0, "ev": []}))
write("peer_msg", "rsnap", pack({"t": "rsnap", "from": "b1", "cf": 1, "n": 5, "r": 8, "first": False,
                                 "e": 123456, "ch": "room", "epoch": "0000050000000001" + "ab" * 8,
                                 "seq": 3, "part": 0, "last": True, "ev": [b"e1", b"e2"],
                                 "keys": {"k1": 2}}))
write("peer_msg", "rack", pack({"t": "rack", "from": "b2", "cf": 1, "n": 5, "r": 8, "gap": False,
                                "s": 99, "fence": False, "inst": 5,
                                "miss": [["room", 7], ["orders:1", 8]]}))
write("peer_msg", "rack_fence", pack({"t": "rack", "from": "b2", "cf": 1, "n": 5, "r": 0,
                                      "gap": True, "s": 100, "fence": True, "inst": 6, "miss": []}))
write("peer_msg", "bad_rack_miss", pack({"t": "rack", "from": "b2", "cf": 1, "n": 5, "r": 8,
                                         "gap": False, "s": 99, "fence": False, "inst": 5,
                                         "miss": [["a b", 7]]}))
write("peer_msg", "bad_owner", pack({"t": "hb", "from": "b1", "cf": 1, "term": 3, "stamp": 1,
                                     "view": {"n": 3, "m": 1, "o": 2, "h": 0, "f": 0}, "leaving": False}))
