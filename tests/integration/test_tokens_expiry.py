"""Token expiry and refresh (docs/security.md) with short-lived tokens
(2-5 s) on a gateway started with --token-leeway 0 --token-grace 1s:
SSE gets herald-token-expiring, then herald-token-expired at exp, then
its stream ends; a WebSocket gets refresh{in}, a refresh with a new token
keeps it open past the old exp + grace, no refresh closes it 4003, and a
refresh that withdraws a grant unsubscribes that channel."""
import time
import unittest

import harness as h
import tokens as T
import wsclient as w

GRACE = 1.0
SLACK = 0.25        # the gateway's clock reads whole seconds at worst late, never early
LATE = 3.0          # how late a timed action may come on a loaded machine


def wall(moment):
    """A time.monotonic() moment as Unix time."""
    return time.time() - (time.monotonic() - moment)


class Expiry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = T.EdKey("k1")
        cls.herald = T.start_class_gateway(cls, T.jwks_file([cls.key]), "--token-leeway", "0",
                                           "--token-grace", "1s")
        cls.base = cls.herald.http
        cls.push = h.Zmq(h.zmq.PUSH, cls.herald.pull)
        cls.addClassCleanup(cls.push.close)

    def token(self, ttl, **kw):
        """A token and its exp; kw as tokens.claims."""
        kw.setdefault("subscribe", ["*"])
        now = int(time.time())
        return T.mint(self.key, T.claims(now=now, ttl=ttl, **kw)), now + ttl

    # ---------------------------------------------------------------- SSE

    def test_sse_gets_expiring_then_expired_at_exp_then_the_stream_ends(self):
        token, exp = self.token(3)
        c = T.sse(self, self.base, ["exp-1"], token=token)
        self.assertEqual(c.status, 200, c.body)
        c.wait_subscribed()
        # under 30 s left: herald-token-expiring at once
        expiring = c.wait_events(1, 5, type="herald-token-expiring")[0]
        data = expiring.json
        self.assertEqual(set(data), {"exp", "in"}, data)
        self.assertEqual(data["exp"], exp)
        self.assertIsInstance(data["in"], int)
        self.assertTrue(0 <= data["in"] <= 3, data)
        # events flow until exp
        self.push.send({"ch": "exp-1", "data": "before exp"})
        self.assertEqual(c.wait_events(1, 5, type="message")[0].json["data"], "before exp")
        expired = c.wait_events(1, exp - time.time() + LATE, type="herald-token-expired")[0]
        self.assertEqual(expired.json, {"exp": exp})
        self.assertGreaterEqual(wall(expired.t), exp - SLACK)
        self.assertLessEqual(wall(expired.t), exp + LATE)
        c.wait_end(5)
        self.assertTrue(c.clean_end, "the stream was cut, not ended")
        self.assertIs(c.events[-1], expired)
        self.assertLess(c.events.index(expiring), c.events.index(expired))

    def test_sse_expiring_comes_30_s_before_exp_not_at_once(self):
        token, exp = self.token(34)
        c = T.sse(self, self.base, ["exp-2"], token=token)
        self.assertEqual(c.status, 200, c.body)
        c.wait_subscribed()
        opened = time.time()
        self.assertGreater(exp - 30, opened, "token minted too late to test this")
        expiring = c.wait_events(1, exp - 30 - time.time() + LATE,
                                 type="herald-token-expiring")[0]
        self.assertGreaterEqual(wall(expiring.t), exp - 30 - SLACK)
        self.assertEqual(expiring.json["exp"], exp)
        self.assertTrue(29 <= expiring.json["in"] <= 30, expiring.json)
        self.assertFalse(c.ended)

    def test_sse_public_stream_without_token_never_expires(self):
        other = T.start_gateway(self, T.jwks_file([self.key]), "--token-leeway", "0",
                                "--public-channels", "open")
        c = T.sse(self, other.http, ["open"])
        self.assertEqual(c.status, 200, c.body)
        c.wait_subscribed()
        token, exp = self.token(2)
        timed = T.sse(self, other.http, ["open"], token=token)
        self.assertEqual(timed.status, 200, timed.body)
        timed.wait_end(exp - time.time() + LATE)
        self.assertEqual([e.type for e in timed.events][-1], "herald-token-expired")
        self.assertFalse(c.ended)
        self.assertFalse(any(e.type.startswith("herald-token") for e in c.events), c.events)

    # ---------------------------------------------------------------- HTTP

    def test_a_token_used_again_is_refused_from_its_exp(self):
        """Verified once (and maybe cached), the same text is still checked
        against the clock: 401 token_expired from exp on (leeway 0)."""
        token, exp = self.token(2)
        for _ in range(3):
            r = T.history(self.base, "again", token=token)
            self.assertEqual(r.status, 200, r)
        r = h.wait_until(lambda: (lambda r: r if r.status != 200 else None)(
            T.history(self.base, "again", token=token)), exp - time.time() + LATE,
            "the token to be refused")
        self.assertGreaterEqual(time.time(), exp - SLACK)
        T.assert_error(self, r, 401, "token_expired")
        c = T.sse(self, self.base, ["again"], token=token)
        T.assert_error(self, c, 401, "token_expired")

    # ---------------------------------------------------------------- WebSocket

    def ws(self, token, via="upgrade"):
        if via == "upgrade":
            c = w.connect(self, self.base, [w.JSON], headers=T.bearer(token))
            self.assertEqual(c.welcome()["auth"], "done")
        else:
            c = w.connect(self, self.base, [w.JSON])
            self.assertEqual(c.welcome()["auth"], "required")
            reply = c.request({"t": "auth", "token": token})
            self.assertEqual(reply["t"], "ok", reply)
        return c

    def refresh_msg(self, c, timeout=5.0, start=0):
        return c.wait_message(lambda m: m.get("t") == "refresh", timeout, start,
                              message="refresh{in}")

    def test_ws_gets_refresh_with_in_before_exp(self):
        for via in ("upgrade", "auth"):
            with self.subTest(via=via):
                token, exp = self.token(4)
                c = self.ws(token, via)
                msg = self.refresh_msg(c)
                self.assertEqual(set(msg), {"t", "in"}, msg)
                self.assertIsInstance(msg["in"], int)
                self.assertTrue(0 <= msg["in"] <= 4, msg)
                self.assertLessEqual(abs(time.time() + msg["in"] - exp), 1.5, (msg, exp))

    def test_ws_refresh_with_a_new_token_keeps_the_socket_open_past_exp_and_grace(self):
        token, old_exp = self.token(3, sub="carol")
        c = self.ws(token)
        c.subscribe("live")
        self.refresh_msg(c)
        new_token, new_exp = self.token(60, sub="carol")
        reply = c.request({"t": "refresh", "token": new_token})
        self.assertEqual(reply, {"t": "ok", "id": reply["id"], "exp": new_exp})
        until = old_exp + GRACE + 1.5
        c.wait_for(lambda c: c.ended or time.time() > until, until - time.time() + 2,
                   "the old exp + grace to pass")
        self.assertFalse(c.ended, "closed %s after a valid refresh: %s"
                         % (c.close_code, c.messages[-4:]))
        self.assertIsNone(c.bye())
        self.push.send({"ch": "live", "data": "still here"})
        self.assertEqual(c.wait_events("live", 1)[0]["data"], "still here")

    def test_ws_refresh_after_auth_message_keeps_the_socket_open(self):
        token, old_exp = self.token(2, sub="dave")
        c = self.ws(token, via="auth")
        self.refresh_msg(c)
        new_token, new_exp = self.token(60, sub="dave")
        self.assertEqual(c.request({"t": "refresh", "token": new_token})["exp"], new_exp)
        until = old_exp + GRACE + 1.5
        c.wait_for(lambda c: c.ended or time.time() > until, until - time.time() + 2,
                   "the old exp + grace to pass")
        self.assertFalse(c.ended, "closed %s after a valid refresh" % c.close_code)

    def test_ws_without_refresh_closes_4003_after_exp_plus_grace(self):
        token, exp = self.token(2)
        c = self.ws(token)
        c.subscribe("live-2")
        self.refresh_msg(c)
        code = c.wait_end(exp + GRACE - time.time() + LATE + 3)
        self.assertEqual(code, 4003, c.messages[-4:])
        bye = c.bye()
        self.assertIsNotNone(bye, c.messages[-4:])
        self.assertEqual(bye["code"], 4003)
        at = wall(c.times[c.index_of(bye)])
        self.assertGreaterEqual(at, exp + GRACE - SLACK, "closed before exp + grace")
        self.assertLessEqual(at, exp + GRACE + LATE)

    def test_ws_refresh_that_withdraws_a_grant_unsubscribes_that_channel(self):
        token, _ = self.token(120, sub="erin", subscribe=["keep", "drop"])
        c = self.ws(token)
        c.subscribe("keep")
        c.subscribe("drop")
        self.push.send({"ch": "drop", "data": "before"})
        self.assertEqual(c.wait_events("drop", 1)[0]["data"], "before")
        narrower, exp = self.token(120, sub="erin", subscribe=["keep"])
        start = len(c.messages)
        reply = c.request({"t": "refresh", "token": narrower})
        self.assertEqual(reply, {"t": "ok", "id": reply["id"], "exp": exp})
        unsub = c.wait_message(lambda m: m.get("t") == "unsub", 5, start, "unsub")
        self.assertEqual(unsub, {"t": "unsub", "ch": "drop", "why": "forbidden"})
        after = c.index_of(unsub)
        self.push.send({"ch": "drop", "data": "after"})
        self.push.send({"ch": "keep", "data": "marker"})
        self.assertEqual(c.wait_events("keep", 1)[0]["data"], "marker")
        with c.cond:
            late = [m for m in c.messages[after:] if m.get("t") == "ev" and m.get("ch") == "drop"]
            unsubs = [m for m in c.messages[start:] if m.get("t") == "unsub"]
        self.assertEqual(late, [])
        self.assertEqual(unsubs, [unsub], "only the channel lost is unsubscribed")
        reply = c.request({"t": "sub", "ch": "drop"})
        self.assertEqual((reply["t"], reply.get("code")), ("err", "forbidden"), reply)

    def test_ws_msgpack_a_short_refresh_is_warned_again_then_closed_4003_at_its_exp(self):
        """Each token gets its warning: a refresh with another short token
        re-arms refresh{in} and moves the 4003 deadline to its own exp."""
        token, old_exp = self.token(3, sub="ivan", subscribe=["a", "b"])
        c = w.connect(self, self.base, [w.MSGPACK], headers=T.bearer(token))
        self.assertEqual(c.welcome()["auth"], "done")
        c.subscribe("a")
        c.subscribe("b")
        self.refresh_msg(c)
        start = len(c.messages)
        short, exp = self.token(5, sub="ivan", subscribe=["a"])
        self.assertEqual(c.request({"t": "refresh", "token": short})["exp"], exp)
        unsub = c.wait_message(lambda m: m.get("t") == "unsub", 5, start, "unsub")
        self.assertEqual(unsub, {"t": "unsub", "ch": "b", "why": "forbidden"})
        again = self.refresh_msg(c, 5, start)
        self.assertLessEqual(abs(time.time() + again["in"] - exp), 1.5, (again, exp))
        self.assertEqual(c.wait_end(exp + GRACE - time.time() + LATE + 3), 4003)
        at = wall(c.times[c.index_of(c.bye())])
        self.assertGreaterEqual(at, exp + GRACE - SLACK, "closed before the new exp + grace")
        self.assertGreater(at, old_exp + GRACE + 1)

    def test_ws_refresh_that_widens_the_grants_allows_the_new_channel(self):
        token, _ = self.token(120, sub="hal", subscribe=["a"])
        c = self.ws(token)
        reply = c.request({"t": "sub", "ch": "b"})
        self.assertEqual((reply["t"], reply.get("code")), ("err", "forbidden"), reply)
        wider, _ = self.token(120, sub="hal", subscribe=["a", "b"])
        self.assertEqual(c.request({"t": "refresh", "token": wider})["t"], "ok")
        c.subscribe("b")
        self.push.send({"ch": "b", "data": "b"})
        self.assertEqual(c.wait_events("b", 1)[0]["data"], "b")

    def test_ws_refresh_with_a_token_for_another_sub_is_forbidden(self):
        token, _ = self.token(120, sub="frank")
        c = self.ws(token)
        other, _ = self.token(120, sub="mallory")
        reply = c.request({"t": "refresh", "token": other})
        self.assertEqual((reply["t"], reply.get("code")), ("err", "forbidden"), reply)
        self.assertEqual(c.request({"t": "ping"})["t"], "pong")

    def test_ws_refresh_with_a_bad_token_is_unauthorized_and_the_socket_stays(self):
        token, _ = self.token(120, sub="gina")
        c = self.ws(token)
        for bad in (token[:-5] + "AAAAA", T.mint(T.EdKey("k1"), T.claims(sub="gina"))):
            reply = c.request({"t": "refresh", "token": bad})
            self.assertEqual((reply["t"], reply.get("code")), ("err", "unauthorized"), reply)
        self.assertEqual(c.request({"t": "ping"})["t"], "pong")
        self.assertFalse(c.ended)


class ExpiryWithLeeway(unittest.TestCase):
    """--token-leeway widens what is accepted, not a live token's life, and
    --token-grace is the WebSocket's alone: an SSE stream ends at exp, a
    WebSocket closes at exp + grace (5 s here, so the two are told apart)."""

    def test_sse_ends_at_exp_and_websocket_closes_at_exp_plus_grace_not_leeway(self):
        key = T.EdKey("k1")
        grace = 5
        herald = T.start_gateway(self, T.jwks_file([key]), "--token-leeway", "30s",
                                 "--token-grace", "%ds" % grace)
        now = int(time.time())
        exp = now + 3
        token = T.mint(key, T.claims(subscribe=["*"], now=now, ttl=3))
        c = T.sse(self, herald.http, ["lw"], token=token)
        self.assertEqual(c.status, 200, c.body)
        s = w.connect(self, herald.http, [w.JSON], headers=T.bearer(token))
        self.assertEqual(s.welcome()["auth"], "done")
        expired = c.wait_events(1, exp - time.time() + grace, type="herald-token-expired")[0]
        self.assertLess(wall(expired.t), exp + grace - 1, "the SSE stream waited for the grace")
        c.wait_end(5)
        self.assertEqual(s.wait_end(exp + grace - time.time() + LATE + 3), 4003)
        at = wall(s.times[s.index_of(s.bye())])
        self.assertGreaterEqual(at, exp + grace - SLACK, "closed before exp + grace")
        self.assertLessEqual(at, exp + grace + LATE)

if __name__ == "__main__":
    unittest.main()
