"""WebSocket protocol violations (RFC 6455 and herald.v1), sent as raw
frames: each closes that connection with its code (1002 framing, 1003
binary on the JSON protocol, 1007 bad UTF-8 or JSON, 1009 too big), while
another client on the same server keeps receiving every event. Mistakes
inside a well-formed message (unknown t) are answered err and keep the
connection (docs/protocol.md, WebSocket)."""
import struct
import unittest

import msgpack

import harness as h
import wsclient as w
from wsclient import BINARY, CLOSE, CONT, PING, PONG, TEXT

PING_MSG = '{"t":"ping","id":1}'


class Violations(unittest.TestCase):
    def setUp(self):
        self.herald = h.start(self, "run", "--ws-max-message", "1024")
        self.base = self.herald.http
        self.push = h.pusher(self, self.herald.pull)
        self.watch = w.welcomed(self, self.base, [w.MSGPACK])
        self.watch.subscribe("watch")
        self.sent = 0

    def tearDown(self):
        self.assertFalse(self.watch.ended, "the watching client was closed")

    def client(self, **kw):
        self.closed_before = h.metrics(self.base)
        c = w.raw(self, self.base, **kw)
        self.assertEqual(c.status, 101, c.answer)
        c.welcome()
        return c

    def assert_closed(self, c, code):
        """c gets a close frame with `code` and its connection ends; the
        watcher still receives the next event."""
        self.assertEqual(c.wait_end(5), code, "close frames: %s" % c.control)
        self.assertFalse(c.server_masked, "the server masked a frame")
        bye = c.bye()               # the socket takes it: bye, then the close frame
        self.assertIsNotNone(bye, "no bye before close %d" % code)
        self.assertEqual((bye["code"], c.close_reason), (code, bye["why"]), bye)
        self.assertIs(c.messages[-1], bye)
        key = 'herald_ws_closed_total{code="%d"}' % code
        if code != 1000:            # counted: closed for a reason of the server's
            h.wait_until(lambda: h.metric(self.base, key) == self.closed_before.get(key, 0) + 1,
                         5, "%s to count it" % key)
        self.assertEqual(c.of_type("pong"), [], "a violating message was acted upon")
        self.sent += 1
        self.push.send({"ch": "watch", "data": self.sent})
        evs = self.watch.wait_events("watch", self.sent)
        self.assertEqual([e["s"] for e in evs], list(range(1, self.sent + 1)))

    def assert_violation(self, code, *frames, **kw):
        """Sends frames [(opcode, payload, options)] on a new connection."""
        c = self.client(**kw)
        for opcode, payload, options in frames:
            c.send_frame(opcode, payload, quiet=True, **options)
        self.assert_closed(c, code)
        return c

    # ---- framing: 1002

    def test_unmasked_client_frame_is_1002(self):
        self.assert_violation(1002, (TEXT, PING_MSG, {"masked": False}))

    def test_reserved_bits_are_1002(self):
        for rsv in (4, 2, 1):
            with self.subTest(rsv=rsv):
                self.assert_violation(1002, (TEXT, PING_MSG, {"rsv": rsv}))

    def test_unknown_opcodes_are_1002(self):
        for opcode in (3, 7, 0xB, 0xF):
            with self.subTest(opcode=opcode):
                self.assert_violation(1002, (opcode, b"xyz", {}))

    def test_control_frame_over_125_bytes_is_1002(self):
        c = self.client()
        c.send_frame(PING, b"p" * 125)              # 125 is allowed, and answered
        c.wait_for(lambda cl: any(op == PONG and p == b"p" * 125 for op, p, _ in cl.control),
                   5, "the pong of a 125-byte ping")
        c.send_frame(PING, b"p" * 126)
        self.assert_closed(c, 1002)
        self.assert_violation(1002, (PONG, b"q" * 200, {}))

    def test_fragmented_control_frame_is_1002(self):
        self.assert_violation(1002, (PING, b"ab", {"fin": False}), (CONT, b"cd", {}))
        self.assert_violation(1002, (CLOSE, struct.pack(">H", 1000), {"fin": False}))

    def test_continuation_without_a_start_or_a_new_message_inside_one_is_1002(self):
        self.assert_violation(1002, (CONT, PING_MSG, {}))
        self.assert_violation(1002, (TEXT, '{"t":', {"fin": False}),
                              (TEXT, '"ping","id":1}', {}))

    # ---- content: 1007, 1003

    def test_invalid_utf8_text_is_1007(self):
        for bad in (b'{"t":"ping","id":1,"x":"\xff"}', b'{"t":"ping","id":1,"x":"\xc0\xaf"}',
                    b'{"t":"ping","id":1,"x":"\xed\xa0\x80"}', b'{"t":"ping","id":1,"x":"\xe6\x97"}'):
            with self.subTest(bad=bad):
                self.assert_violation(1007, (TEXT, bad, {}))

    def test_bad_json_is_1007(self):
        for bad in ('{"t":', "not json", '{"t":"ping","id":1}}', '{"t":"ping","id":1,}', "",
                    '{"t":"ping","id":1} {"t":"ping","id":2}', '{"t":"ping","t":"ping","id":1}',
                    '{"t":"ping","id":9223372036854775808}', "[" * 70 + "]" * 70,
                    '{"t":"ping","id":1,"x":' + "[" * 70 + "]" * 70 + "}"):
            with self.subTest(bad=bad[:40]):
                self.assert_violation(1007, (TEXT, bad, {}))

    def test_bad_msgpack_is_1007(self):
        ping = msgpack.packb({"t": "ping", "id": 1})
        twice = b"\x83" + msgpack.packb("t") + msgpack.packb("ping") + msgpack.packb("id") + \
            msgpack.packb(1) + msgpack.packb("t") + msgpack.packb("ping")
        for bad in (ping[:-1], ping + b"\x00", ping + ping, b"\xc1", b"", twice,
                    b"\x91" * 70 + b"\xc0"):
            with self.subTest(bad=bad[:20]):
                self.assert_violation(1007, (BINARY, bad, {}), protocols=[w.MSGPACK])

    def test_binary_frame_on_the_json_protocol_is_1003(self):
        self.assert_violation(1003, (BINARY, msgpack.packb({"t": "ping", "id": 1}), {}))
        self.assert_violation(1003, (BINARY, msgpack.packb({"t": "ping", "id": 1}), {}),
                              protocols=[w.JSON])

    # ---- size: 1009

    def test_message_over_the_limit_is_1009(self):
        self.assert_violation(1009, (TEXT, PING_MSG + " " * 1100, {}))
        self.assert_violation(1009, (TEXT, PING_MSG + " " * 500, {"fin": False}),
                              (CONT, " " * 600, {}))
        self.assert_violation(1009, (BINARY, msgpack.packb({"t": "ping", "id": 1,
                                                            "pad": "x" * 1100}), {}),
                              protocols=[w.MSGPACK])

    def test_a_frame_announcing_a_huge_length_is_1009_at_once(self):
        c = self.client()
        # the header alone: 2^40 bytes announced, none sent
        c.sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack(">Q", 1 << 40) + b"mask")
        self.assert_closed(c, 1009)

    # ---- well-formed, kept

    def test_fragmented_message_with_a_ping_between_and_split_utf8_is_fine(self):
        c = self.client()
        text = '{"t":"ping","id":5,"x":"日本"}'.encode()
        cut = text.index("日".encode()) + 1          # inside a UTF-8 sequence
        c.send_frame(TEXT, text[:cut], fin=False)
        c.send_frame(PING, b"between")
        c.send_frame(CONT, text[cut:])
        self.assertEqual(c.reply(5), {"t": "pong", "id": 5})
        c.wait_for(lambda cl: (PONG, b"between") in [(op, p) for op, p, _ in cl.control], 5,
                   "the pong frame")
        self.assertFalse(c.ended)

    def test_a_message_in_many_small_fragments_is_reassembled(self):
        c = self.client()
        text = ('{"t":"ping","id":9,"x":"' + "é" * 400 + '"}').encode()
        self.assertLessEqual(len(text), 1024)
        parts = [text[i:i + 7] for i in range(0, len(text), 7)]   # splits UTF-8 too
        c.send_frame(TEXT, parts[0], fin=False)
        for part in parts[1:-1]:
            c.send_frame(CONT, part, fin=False)
        c.send_frame(CONT, parts[-1])
        self.assertEqual(c.reply(9), {"t": "pong", "id": 9})

    def test_unknown_type_is_err_and_the_connection_stays(self):
        c = self.client()
        c.send_frame(TEXT, '{"t":"nope","id":4}')
        err = c.reply(4)
        self.assertEqual((err["t"], err["code"], err["retry"]), ("err", "bad_request", False))
        for value in ("42", '"text"', "null", "{}", '{"t":"ping","id":901,"extra":[1,{"a":2}]}'):
            start = len(c.messages)
            c.send_frame(TEXT, value)
            reply = c.wait_message(lambda m: m.get("t") in ("err", "pong"), start=start)
            self.assertEqual(reply["t"], "pong" if "extra" in value else "err", (value, reply))
        self.assertEqual(c.request({"t": "ping", "id": 6}), {"t": "pong", "id": 6})
        c.subscribe("watch")
        self.push.send({"ch": "watch", "data": "both"})
        c.wait_events("watch", 1)
        self.assertFalse(c.ended)

    def test_every_close_gives_back_its_connection_and_inbound_memory(self):
        gauges = ("herald_ws_connections", "herald_ws_inbound_bytes", "herald_connections")
        before = {g: h.metric(self.base, g) for g in gauges}      # the watcher alone
        self.assertEqual(before["herald_ws_connections"], 1)
        c = self.client()
        c.close()                                                   # a close frame
        c = self.client()
        c.send_frame(TEXT, '{"t":"ping","id":1,"pad":"' + "x" * 900, fin=False)
        h.wait_until(lambda: h.metric(self.base, "herald_ws_inbound_bytes")
                     >= before["herald_ws_inbound_bytes"] + 900, 5, "the fragment held")
        c.close(abrupt=True)                                        # dropped mid-message
        for opcode, payload, code in ((TEXT, b"\xff", 1007), (BINARY, b"\x80", 1003),
                                      (TEXT, PING_MSG * 60, 1009), (3, b"", 1002)):
            c = self.client()
            c.send_frame(opcode, payload)
            self.assertEqual(c.wait_end(5), code)
        w.welcomed(self, self.base).close()                         # websockets' close
        h.wait_until(lambda: h.metric(self.base, "herald_ws_connections") == 1, 5,
                     "the connections to be gone")
        self.assertEqual({g: h.metric(self.base, g) for g in gauges}, before)

    def test_client_close_is_echoed(self):
        for code in (1000, 1001, 3000, 4000, 4999):
            c = self.client()
            c.send_frame(CLOSE, struct.pack(">H", code) + "done é".encode())
            self.assertEqual(c.wait_end(5), code)
            self.assertIsNone(c.bye())
        c = self.client()
        c.send_frame(CLOSE, b"")                    # no code: an empty close back
        self.assertEqual(c.wait_end(5), 1005)

    def test_close_frames_with_a_bad_code_or_reason_are_refused(self):
        # RFC 6455 §7.4: 1005, 1006 and 1015 are never sent; 0-999 and
        # 1016-2999 are not defined; a 1-byte payload has half a code
        for payload in (struct.pack(">H", 1005), struct.pack(">H", 1006),
                        struct.pack(">H", 1015), struct.pack(">H", 999),
                        struct.pack(">H", 2999), b"\x03"):
            with self.subTest(payload=payload):
                self.assert_violation(1002, (CLOSE, payload, {}))
        self.assert_violation(1007, (CLOSE, struct.pack(">H", 1000) + b"\xff", {}))


if __name__ == "__main__":
    unittest.main()
