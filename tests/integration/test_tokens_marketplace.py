"""The marketplace scenario of docs/security.md over SSE, HTTP and the
WebSocket (herald.v1.json): an admin sees admin:stats and every seller;
seller 123 (grant seller:{sub}) sees seller:123 and never seller:456 or
seller:1234; a business:* token sees every business; nobody publishes
without a publish grant; history follows the subscribe grant; news is
public (--public-channels)."""
import unittest

import harness as h
import tokens as T
import wsclient as w


class Marketplace(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = T.EdKey("k1")
        cls.herald = T.start_class_gateway(cls, T.jwks_file([cls.key]),
                                           "--public-channels", "news")
        cls.base = cls.herald.http
        cls.push = h.Zmq(h.zmq.PUSH, cls.herald.pull)
        cls.addClassCleanup(cls.push.close)
        mint = lambda **kw: T.mint(cls.key, T.claims(ttl=3600, **kw))   # outlive the class
        cls.admin = mint(sub="admin", subscribe=["admin:stats", "seller:*"], admin=True)
        cls.seller = mint(sub="123", subscribe=["seller:{sub}"])
        cls.business = mint(sub="staff-9", subscribe=["business:*"])
        cls.publisher = mint(sub="backend", subscribe=[],
                             publish=["admin:stats", "seller:*", "business:*", "news"])
        cls.seller_pub = mint(sub="123", subscribe=["seller:{sub}"], publish=["seller:{sub}"])

    def deliver(self, channel, data):
        self.push.send({"ch": channel, "data": data})

    # ---------------------------------------------------------------- SSE

    def stream(self, token, channels):
        c = T.sse(self, self.base, channels, token=token)
        self.assertEqual(c.status, 200, "expected 200 for %s, got %d %r"
                         % (channels, c.status, c.body))
        c.wait_subscribed()
        return c

    def test_sse_admin_receives_admin_stats_and_any_seller(self):
        c = self.stream(self.admin, ["admin:stats", "seller:456"])
        self.deliver("admin:stats", {"orders": 10})
        self.deliver("seller:456", "s456")
        got = {e.json["channel"]: e.json["data"] for e in c.wait_events(2, 10)}
        self.assertEqual(got, {"admin:stats": {"orders": 10}, "seller:456": "s456"})

    def test_sse_seller_123_receives_seller_123(self):
        c = self.stream(self.seller, ["seller:123"])
        self.deliver("seller:456", "not yours")
        self.deliver("seller:123", "yours")
        ev = c.wait_events(1, 10)[0].json
        self.assertEqual((ev["channel"], ev["data"]), ("seller:123", "yours"))
        self.assertEqual([e.json["channel"] for e in c.events if e.type == "message"],
                         ["seller:123"])

    def test_sse_seller_123_is_403_on_seller_456_and_seller_1234(self):
        for channels in (["seller:456"], ["seller:1234"], ["seller:12"], ["seller:123", "seller:456"],
                         ["seller:123", "admin:stats"]):
            with self.subTest(channels=channels):
                c = T.sse(self, self.base, channels, token=self.seller)
                T.assert_error(self, c, 403, "forbidden", self.seller)

    def test_sse_business_star_receives_business_1_and_business_2(self):
        c = self.stream(self.business, ["business:1", "business:2"])
        self.deliver("business:1", 1)
        self.deliver("business:2", 2)
        got = sorted((e.json["channel"], e.json["data"]) for e in c.wait_events(2, 10))
        self.assertEqual(got, [("business:1", 1), ("business:2", 2)])
        T.assert_error(self, T.sse(self, self.base, ["seller:1"], token=self.business),
                       403, "forbidden")
        T.assert_error(self, T.sse(self, self.base, ["business"], token=self.business),
                       403, "forbidden")

    def test_sse_admin_is_403_on_a_channel_outside_its_grants(self):
        T.assert_error(self, T.sse(self, self.base, ["business:1"], token=self.admin),
                       403, "forbidden")

    def test_sse_public_channel_needs_no_token_and_events_arrive(self):
        c = T.sse(self, self.base, ["news"])
        self.assertEqual(c.status, 200, c.body)
        c.wait_subscribed()
        self.deliver("news", "extra")
        self.assertEqual(c.wait_events(1, 10)[0].json["data"], "extra")

    def test_sse_private_channel_without_token_is_401_token_missing(self):
        T.assert_error(self, T.sse(self, self.base, ["seller:1"]), 401, "token_missing")
        T.assert_error(self, T.sse(self, self.base, ["news", "seller:1"]), 401, "token_missing")

    def test_sse_public_channel_with_a_bad_token_is_refused(self):
        bad = T.mint(T.EdKey("k1"), T.claims(subscribe=["news"]))
        T.assert_error(self, T.sse(self, self.base, ["news"], token=bad), 401, "token_invalid")
        T.assert_error(self, T.history(self.base, "news", token=bad), 401, "token_invalid")

    def test_sse_prefix_grant_matches_below_the_separator_only(self):
        c = self.stream(self.business, ["business:1:orders"])
        self.deliver("business:1:orders", "deep")
        self.assertEqual(c.wait_events(1, 10)[0].json["data"], "deep")
        for ch in ("businessX", "business", "business-1"):
            with self.subTest(ch=ch):
                T.assert_error(self, T.sse(self, self.base, [ch], token=self.business),
                               403, "forbidden")

    def test_sse_public_channel_with_a_token_lacking_it_is_allowed(self):
        c = T.sse(self, self.base, ["news", "seller:123"], token=self.seller)
        self.assertEqual(c.status, 200, c.body)

    # ---------------------------------------------------------------- publish

    def test_http_publish_without_a_publish_grant_is_403(self):
        for token in (self.admin, self.seller, self.business):
            with self.subTest(token=token[-8:]):
                r = T.publish(self.base, {"channel": "seller:123", "data": 1}, token=token)
                T.assert_error(self, r, 403, "forbidden", token)

    def test_http_publish_without_a_token_is_401_even_on_a_public_channel(self):
        r = T.publish(self.base, {"channel": "news", "data": 1})
        T.assert_error(self, r, 401, "token_missing")

    def test_http_publish_with_a_publish_grant_is_delivered(self):
        c = self.stream(self.seller, ["seller:123"])
        r = T.publish(self.base, {"channel": "seller:123", "data": "from backend"},
                      token=self.publisher)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["channel"], "seller:123")
        self.assertEqual(c.wait_events(1, 10)[0].json["data"], "from backend")

    def test_http_publish_token_in_cookie_or_query(self):
        r = T.publish(self.base, {"channel": "news", "data": "c"}, headers=T.cookie(self.publisher))
        self.assertEqual(r.status, 200, r)
        r = h.http("POST", T.with_query(self.base + "/v1/publish", token=self.publisher),
                   {"channel": "news", "data": "q"})
        self.assertEqual(r.status, 200, r)
        r = h.http("POST", T.with_query(self.base + "/v1/publish", token=self.seller),
                   {"channel": "news", "data": "q"})
        T.assert_error(self, r, 403, "forbidden")

    def test_http_publish_sub_grant_publishes_own_channel_only(self):
        r = T.publish(self.base, {"channel": "seller:123", "data": 1}, token=self.seller_pub)
        self.assertEqual(r.status, 200, r)
        r = T.publish(self.base, {"channel": "seller:456", "data": 1}, token=self.seller_pub)
        T.assert_error(self, r, 403, "forbidden")

    def test_http_publish_batch_with_one_forbidden_event_is_refused_whole(self):
        c = self.stream(self.admin, ["seller:777"])
        r = T.publish(self.base, [{"channel": "seller:777", "data": "first"},
                                  {"channel": "private:x", "data": "second"}],
                      token=self.publisher)
        T.assert_error(self, r, 403, "forbidden")
        self.deliver("seller:777", "marker")
        self.assertEqual(c.wait_events(1, 10)[0].json["data"], "marker")

    def test_http_publish_needs_content_type_application_json(self):
        for ctype, status in (("text/plain", 415), ("application/x-www-form-urlencoded", 415),
                              ("application/json; charset=utf-8", 200)):
            with self.subTest(content_type=ctype):
                r = T.publish(self.base, {"channel": "news", "data": 1}, token=self.publisher,
                              headers={"Content-Type": ctype})
                self.assertEqual(r.status, status, r)
                if status == 415:
                    self.assertEqual(r.json["error"], "unsupported_media_type")

    # ---------------------------------------------------------------- history

    def test_history_follows_the_subscribe_grant(self):
        self.deliver("seller:123", "h")
        self.deliver("seller:456", "h")
        T.assert_error(self, T.history(self.base, "seller:456", token=self.seller),
                       403, "forbidden")
        T.assert_error(self, T.history(self.base, "seller:1234", token=self.seller),
                       403, "forbidden")
        r = T.history(self.base, "seller:123", token=self.seller)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["channel"], "seller:123")
        T.assert_error(self, T.history(self.base, "seller:123"), 401, "token_missing")
        self.assertEqual(T.history(self.base, "news").status, 200)
        self.assertEqual(T.history(self.base, "seller:456", token=self.admin).status, 200)

    # ---------------------------------------------------------------- WebSocket

    def ws(self, token=None, via="auth"):
        """A herald.v1.json WebSocket, authenticated with token by an auth
        message (via="auth") or in the upgrade request (via="upgrade")."""
        headers = T.bearer(token) if token and via == "upgrade" else None
        c = w.connect(self, self.base, [w.JSON], headers=headers)
        welcome = c.welcome()
        if token and via == "auth":
            self.assertEqual(welcome["auth"], "required")
            reply = c.request({"t": "auth", "token": token})
            self.assertEqual(reply["t"], "ok", reply)
        elif token:
            self.assertEqual(welcome["auth"], "done")
        return c

    def assert_err(self, c, msg, code):
        reply = c.request(msg)
        self.assertEqual((reply["t"], reply.get("code")), ("err", code), reply)
        self.assertEqual(reply.get("retry"), False, reply)
        return reply

    def test_ws_admin_receives_admin_stats(self):
        c = self.ws(self.admin)
        c.subscribe("admin:stats")
        c.subscribe("seller:456")
        self.deliver("admin:stats", {"orders": 11})
        self.deliver("seller:456", "s")
        self.assertEqual(c.wait_events("admin:stats", 1)[0]["data"], {"orders": 11})
        self.assertEqual(c.wait_events("seller:456", 1)[0]["data"], "s")

    def test_ws_seller_123_receives_seller_123_and_is_forbidden_elsewhere(self):
        c = self.ws(self.seller, via="upgrade")
        for ch in ("seller:456", "seller:1234", "admin:stats", "business:1"):
            with self.subTest(ch=ch):
                self.assert_err(c, {"t": "sub", "ch": ch}, "forbidden")
        c.subscribe("seller:123")                       # the connection stays usable
        self.deliver("seller:456", "no")
        self.deliver("seller:1234", "no")
        self.deliver("seller:123", "yes")
        self.assertEqual(c.wait_events("seller:123", 1)[0]["data"], "yes")
        self.assertEqual([m["ch"] for m in c.events()], ["seller:123"])
        self.assertFalse(c.ended)

    def test_ws_forbidden_sub_in_a_batch_fails_only_itself(self):
        c = self.ws(self.seller)
        c.send([{"t": "sub", "id": 101, "ch": "seller:456"},
                {"t": "sub", "id": 102, "ch": "seller:123"}])
        first, second = c.reply(101), c.reply(102)
        self.assertEqual((first["t"], first.get("code")), ("err", "forbidden"), first)
        self.assertEqual(second["t"], "ok", second)

    def test_ws_business_star_receives_business_1_and_2(self):
        c = self.ws(self.business)
        c.subscribe("business:1")
        c.subscribe("business:2")
        self.deliver("business:1", 1)
        self.deliver("business:2", 2)
        self.assertEqual(c.wait_events("business:1", 1)[0]["data"], 1)
        self.assertEqual(c.wait_events("business:2", 1)[0]["data"], 2)
        self.assert_err(c, {"t": "sub", "ch": "business"}, "forbidden")

    def test_ws_pub_without_a_publish_grant_is_forbidden(self):
        for token in (self.admin, self.seller, self.business):
            with self.subTest(token=token[-8:]):
                c = self.ws(token)
                self.assert_err(c, {"t": "pub", "ch": "seller:123", "data": 1}, "forbidden")
                self.assertEqual(c.request({"t": "ping"})["t"], "pong")

    def test_ws_pub_with_a_publish_grant_is_delivered(self):
        reader = self.ws(self.seller)
        reader.subscribe("seller:123")
        c = self.ws(self.publisher, via="upgrade")
        reply = c.request({"t": "pub", "ch": "seller:123", "data": "ws pub"})
        self.assertEqual(reply["t"], "ok", reply)
        self.assertIsInstance(reply["s"], int)
        self.assertIs(reply["dup"], False)
        self.assertEqual(reader.wait_events("seller:123", 1)[0]["data"], "ws pub")
        self.assert_err(c, {"t": "pub", "ch": "private:x", "data": 1}, "forbidden")

    def test_ws_public_channel_before_auth_and_private_is_unauthorized(self):
        c = self.ws()
        self.assertEqual(c.welcome()["auth"], "required")
        c.subscribe("news")
        self.assert_err(c, {"t": "sub", "ch": "seller:1"}, "unauthorized")
        self.assert_err(c, {"t": "pub", "ch": "news", "data": 1}, "unauthorized")
        self.deliver("news", "public")
        self.assertEqual(c.wait_events("news", 1)[0]["data"], "public")
        # a public-channel reader is not closed for want of auth
        self.assertEqual(c.request({"t": "ping"})["t"], "pong")


if __name__ == "__main__":
    unittest.main()
