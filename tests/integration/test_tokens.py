"""Token decisions (docs/security.md): tokens minted by independent code
(PyJWT: EdDSA and HS256) are accepted from the Authorization header, the
herald_token cookie and ?token=, in that order of precedence; every
malformed, forged or out-of-policy token is refused 401 with its code, and
the gateway goes on serving a valid client meanwhile; the WebSocket
auth flow (welcome.auth, auth, 4501, 4005, the token in the upgrade).
Keys, their rotation and the token options: test_tokens_keys.py."""
import base64
import json
import time
import unittest

import harness as h
import tokens as T
import wsclient as w

ISSUER = "https://issuer.example"


class Decisions(unittest.TestCase):
    """One gateway for the class, keys k1 and k2 (EdDSA) and h1 (HS256),
    --token-issuer; a valid SSE client on "watch" stays open throughout
    and must receive an event after every refusal."""

    @classmethod
    def setUpClass(cls):
        cls.k1, cls.k2, cls.h1 = T.EdKey("k1"), T.EdKey("k2"), T.HSKey("h1")
        # debug: every log line there is, so the query token's redaction is tested
        cls.herald = T.start_class_gateway(cls, T.jwks_file([cls.k1, cls.k2, cls.h1]),
                                           "--token-issuer", ISSUER, "--log-level", "debug")
        cls.base = cls.herald.http
        cls.push = h.Zmq(h.zmq.PUSH, cls.herald.pull)
        cls.addClassCleanup(cls.push.close)
        cls.watch_token = cls.mint_for(cls.k1, subscribe=["watch"], ttl=3600)  # outlives the class
        cls.watcher = h.SSEClient(cls.base, ["watch"], headers=T.bearer(cls.watch_token))
        cls.addClassCleanup(cls.watcher.close)
        assert cls.watcher.status == 200, (cls.watcher.status, cls.watcher.body)
        cls.watcher.wait_subscribed()
        cls.sent = 0

    @classmethod
    def mint_for(cls, key, kid=True, headers=None, **kw):
        kw.setdefault("iss", ISSUER)
        kw.setdefault("subscribe", ["*"])
        return T.mint(key, T.claims(**kw), kid=kid, headers=headers)

    def claims(self, **kw):
        kw.setdefault("iss", ISSUER)
        kw.setdefault("subscribe", ["*"])
        return T.claims(**kw)

    def assert_serving(self):
        """The valid client still receives: the refusal disturbed nothing."""
        cls = type(self)
        cls.sent += 1
        n = cls.sent
        self.push.send({"ch": "watch", "data": {"n": n}})
        self.watcher.wait_for(lambda c: any(e.type == "message" and e.json["data"] == {"n": n}
                                            for e in c.events), 10,
                              "event %d on the valid client's stream" % n)
        self.assertFalse(self.watcher.ended)

    def accepted(self, token, via="header", channel="acc"):
        """SSE with the token: 200, subscribed, and an event arrives."""
        c = T.sse(self, self.base, [channel], token=token, via=via)
        self.assertEqual(c.status, 200, "expected 200, got %d %r" % (c.status, c.body))
        c.wait_subscribed()
        self.push.send({"ch": channel, "data": "hello"})
        self.assertEqual(c.wait_events(1, 10)[0].json["data"], "hello")
        return c

    def refused(self, token, code="token_invalid", via="header", status=401, says=None):
        """Refused with code; says: a word the message must hold (it says
        which check failed: the claim or header it names)."""
        c = T.sse(self, self.base, ["watch"], token=token, via=via)
        body = T.assert_error(self, c, status, code, token)
        if says:
            self.assertIn(says.lower(), body["message"].lower(), body)
        self.assert_serving()
        return body

    # ---- accepted

    def test_pyjwt_eddsa_token_in_authorization_header_is_accepted(self):
        self.accepted(self.mint_for(self.k1))
        self.accepted(self.mint_for(self.k2), channel="acc2")

    def test_pyjwt_hs256_token_is_accepted(self):
        self.accepted(self.mint_for(self.h1))

    def test_token_in_herald_token_cookie_is_accepted(self):
        self.accepted(self.mint_for(self.k1), via="cookie")
        # among other cookies too
        c = T.sse(self, self.base, ["acc"], headers={
            "Cookie": "a=1; herald_token=%s; b=2" % self.mint_for(self.h1)})
        self.assertEqual(c.status, 200, c.body)

    def test_token_in_query_is_accepted_and_not_logged(self):
        token = self.mint_for(self.k1)
        self.accepted(token, via="query")
        bad = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        T.assert_error(self, T.sse(self, self.base, ["watch"], token=bad, via="query"),
                       401, "token_invalid")
        self.assertNotIn(token.split(".")[2], self.herald.stderr())
        self.assertNotIn(bad.split(".")[2], self.herald.stderr())

    def test_token_on_history_is_accepted(self):
        r = T.history(self.base, "acc-hist", token=self.mint_for(self.h1))
        self.assertEqual(r.status, 200, r)

    def test_authorization_header_wins_over_cookie_and_query(self):
        good, bad = self.mint_for(self.k1), self.mint_for(self.k1, aud="other")
        c = h.sse(self, self.base, ["acc"], query={"token": bad},
                  headers=dict(T.bearer(good), **T.cookie(bad)))
        self.assertEqual(c.status, 200, c.body)
        c = h.sse(self, self.base, ["acc"], query={"token": good},
                  headers=dict(T.bearer(bad), **T.cookie(good)))
        T.assert_error(self, c, 401, "token_invalid")

    def test_cookie_wins_over_query(self):
        good, bad = self.mint_for(self.k1), self.mint_for(self.k1, aud="other")
        c = h.sse(self, self.base, ["acc"], query={"token": bad}, headers=T.cookie(good))
        self.assertEqual(c.status, 200, c.body)
        c = h.sse(self, self.base, ["acc"], query={"token": good}, headers=T.cookie(bad))
        T.assert_error(self, c, 401, "token_invalid")

    # ---- no token

    def test_no_token_is_401_token_missing_with_www_authenticate_bearer(self):
        c = h.sse(self, self.base, ["watch"])
        T.assert_error(self, c, 401, "token_missing")
        T.assert_error(self, T.history(self.base, "watch"), 401, "token_missing")
        T.assert_error(self, T.publish(self.base, {"channel": "watch", "data": 1}),
                       401, "token_missing")
        self.assert_serving()

    def test_empty_bearer_is_refused(self):
        c = h.sse(self, self.base, ["watch"], headers={"Authorization": "Bearer "})
        status, _, body = T.error_of(c)
        self.assertEqual(status, 401, body)
        self.assertIn(body.get("error"), ("token_missing", "token_invalid"), body)
        self.assert_serving()

    # ---- forged or malformed

    def test_alg_none_is_refused(self):
        token = T.jwt.encode(self.claims(), None, algorithm="none", headers={"kid": "k1"})
        self.assertTrue(token.endswith("."), token)
        self.refused(token, says="none")
        # and with a signature attached
        self.refused(T.build({"alg": "none", "typ": "JWT", "kid": "k1"}, self.claims(),
                             key=self.k1))

    def test_eddsa_key_used_as_hs256_secret_is_refused(self):
        """The classic confusion: kid k1 is an EdDSA key; a token saying HS256,
        MACed with k1's public key bytes as the secret, must not verify."""
        forger = T.HSKey("k1", secret=self.k1.public_bytes)
        self.refused(T.build(T.header_for(forger), self.claims(), key=forger), says="alg")
        # the JWK's x text as the secret, too
        forger = T.HSKey("k1", secret=T.b64url(self.k1.public_bytes).encode())
        self.refused(T.build(T.header_for(forger), self.claims(), key=forger))

    def test_hs256_key_used_with_eddsa_alg_is_refused(self):
        forger = T.EdKey("h1")
        self.refused(T.build(T.header_for(forger), self.claims(), key=forger), says="alg")

    def test_bad_signature_is_refused(self):
        token = self.mint_for(self.k1)
        head, payload, sig = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
        raw[10] ^= 0x01
        self.refused("%s.%s.%s" % (head, payload, T.b64url(bytes(raw))), says="signature")
        # a signature by another key with the kid of k1
        self.refused(T.mint(T.EdKey("k1"), self.claims()))
        # no signature at all
        self.refused("%s.%s." % (head, payload))

    def test_bad_hs256_signature_is_refused(self):
        head, payload, sig = self.mint_for(self.h1).split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "="))
        raw[0] ^= 0x80
        self.refused("%s.%s.%s" % (head, payload, T.b64url(bytes(raw))), says="signature")
        # another secret under the kid h1; a MAC cut short
        self.refused(T.mint(T.HSKey("h1"), self.claims()))
        self.refused("%s.%s.%s" % (head, payload, T.b64url(bytes(raw[:16]))))

    def test_tampered_payload_is_refused(self):
        token = self.mint_for(self.k1, subscribe=["watch"], sub="user-1")
        head, payload, sig = token.split(".")
        tampered = self.claims(subscribe=["*"], sub="admin")
        self.refused("%s.%s.%s" % (head, T.b64url(json.dumps(tampered)), sig), says="signature")
        # the same claims, re-serialised with a space: not the signed bytes
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        self.refused("%s.%s.%s" % (head, T.b64url(json.dumps(claims, indent=1)), sig))

    def test_expired_token_is_token_expired(self):
        now = int(time.time())
        token = self.mint_for(self.k1, now=now - 600, ttl=300)       # exp 300 s ago
        self.refused(token, "token_expired", says="exp")

    def test_nbf_in_the_future_is_token_not_yet_valid(self):
        now = int(time.time())
        self.refused(self.mint_for(self.k1, nbf=now + 300), "token_not_yet_valid", says="nbf")

    def test_iat_in_the_future_is_token_not_yet_valid(self):
        now = int(time.time())
        self.refused(self.mint_for(self.k1, now=now + 300, ttl=300), "token_not_yet_valid")

    def test_wrong_aud_is_refused(self):
        self.refused(self.mint_for(self.k1, aud="other"), says="aud")
        self.refused(self.mint_for(self.k1, aud=["other", "more"]))
        self.refused(self.mint_for(self.k1, aud=None))                 # absent

    def test_aud_array_holding_herald_is_accepted(self):
        self.accepted(self.mint_for(self.k1, aud=["other", "herald"]))

    def test_wrong_or_missing_iss_is_refused(self):
        self.refused(self.mint_for(self.k1, iss="https://evil.example"), says="iss")
        self.refused(self.mint_for(self.k1, iss=None))

    def test_missing_sub_or_exp_is_refused(self):
        self.refused(self.mint_for(self.k1, sub=None))
        self.refused(self.mint_for(self.k1, exp=None))

    def test_claims_of_the_wrong_type_or_size_are_refused(self):
        for kw in ({"sub": ""}, {"sub": "s" * 257}, {"sub": 123}, {"sub": ["a"]},
                   {"exp": "9999999999"}, {"exp": 1.5e10}, {"nbf": "0"}, {"iat": "0"},
                   {"jti": ""}, {"jti": "j" * 129}, {"jti": 7}, {"aud": 5},
                   {"herald": ["watch"]}, {"herald": {"subscribe": "watch"}},
                   {"herald": {"subscribe": [1]}},
                   {"subscribe": ["c%d" % i for i in range(65)]}):
            with self.subTest(**{k: str(v)[:30] for k, v in kw.items()}):
                self.refused(self.mint_for(self.k1, **kw))

    def test_claims_at_their_bounds_are_accepted(self):
        self.accepted(self.mint_for(self.k1, sub="s" * 256, jti="j" * 128,
                                    subscribe=["acc"] + ["c%d" % i for i in range(63)]))

    def test_typ_other_than_a_string_is_refused(self):
        self.refused(T.build(T.header_for(self.k1, typ=5), self.claims(), key=self.k1))

    def test_lifetime_over_token_max_ttl_is_refused(self):
        self.refused(self.mint_for(self.k1, ttl=25 * 3600), says="lifetime")
        # without iat, exp - now counts
        self.refused(self.mint_for(self.k1, ttl=25 * 3600, iat=None))
        self.accepted(self.mint_for(self.k1, ttl=23 * 3600, iat=None))

    def test_leeway_of_30_s_allows_a_small_clock_skew(self):
        now = int(time.time())
        for kw in ({"now": now - 310, "ttl": 300},             # expired 10 s ago
                   {"nbf": now + 10}, {"now": now + 10, "ttl": 300}):
            with self.subTest(**kw):
                r = T.history(self.base, "skew", token=self.mint_for(self.k1, **kw))
                self.assertEqual(r.status, 200, r)
        r = T.history(self.base, "skew", token=self.mint_for(self.k1, now=now - 340, ttl=300))
        T.assert_error(self, r, 401, "token_expired")

    def test_unknown_kid_is_refused(self):
        self.refused(self.mint_for(self.k1, kid="k9"), says="kid")

    def test_no_kid_with_several_keys_is_refused(self):
        self.refused(self.mint_for(self.k1, kid=False), says="kid")
        self.refused(self.mint_for(self.h1, kid=False))

    def test_crit_header_is_refused(self):
        self.refused(T.build(T.header_for(self.k1, crit=["exp"]), self.claims(), key=self.k1),
                     says="crit")
        self.refused(self.mint_for(self.k1, headers={"crit": ["b64"], "b64": True}))

    def test_jku_jwk_x5u_x5c_headers_are_refused(self):
        for name, value in (("jku", "https://evil.example/jwks.json"),
                            ("jwk", self.k1.jwk()),
                            ("x5u", "https://evil.example/cert.pem"),
                            ("x5c", ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"])):
            with self.subTest(header=name):
                self.refused(T.build(T.header_for(self.k1, **{name: value}), self.claims(),
                                     key=self.k1), says=name)

    def padded_payload(self):
        """Claims whose base64url needs padding (length not a multiple of 3)."""
        for fill in range(3):
            text = json.dumps(self.claims(pad="x" * fill), separators=(",", ":")).encode()
            if len(text) % 3:
                return text
        raise AssertionError("unreachable")

    def test_base64_padding_is_refused(self):
        payload = self.padded_payload()
        padded = base64.urlsafe_b64encode(payload).decode()
        self.assertTrue(padded.endswith("="))
        self.refused(T.build(T.header_for(self.k1), None, key=self.k1, payload_b64=padded))
        # padding on the signature part
        head, body, sig = self.mint_for(self.k1).split(".")
        self.assertEqual(len(sig) % 4, 2)
        self.refused("%s.%s.%s==" % (head, body, sig))

    def test_base64url_with_nonzero_trailing_bits_is_refused(self):
        """An 86-character EdDSA signature carries 4 unused bits in its last
        character: set, the text is not the canonical encoding of the bytes
        (two texts for one signature: malleable), so it is refused."""
        head, body, sig = self.mint_for(self.k1).split(".")
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(sig[-1])
        self.assertEqual(last & 0x0F, 0)
        self.refused("%s.%s.%s%s" % (head, body, sig[:-1], alphabet[last | 0x01]))

    def payload_with(self, char):
        """Claims whose base64url holds char ('-' or '_'), as JSON bytes:
        '>' (0x3E) and '?' (0x3F) at every offset mod 3 end a group in
        111110 ('-' in base64url, '+' in base64) and 111111 ('_', '/')."""
        text = json.dumps(self.claims(pad="?>" * 6), separators=(",", ":")).encode()
        self.assertIn(char, T.b64url(text))
        return text

    def test_plus_in_base64url_is_refused(self):
        payload = self.payload_with("-")
        std = base64.b64encode(payload).decode().rstrip("=")
        self.assertIn("+", std)
        self.refused(T.build(T.header_for(self.k1), None, key=self.k1, payload_b64=std))

    def test_slash_in_base64url_is_refused(self):
        payload = self.payload_with("_")
        std = base64.b64encode(payload).decode().rstrip("=")
        self.assertIn("/", std)
        self.refused(T.build(T.header_for(self.k1), None, key=self.k1, payload_b64=std))

    def test_payload_that_is_not_json_is_refused(self):
        for text in (b"not json", b"[1,2,3]", b'"sub"', b'{"sub":"a",', b"\xff\xfe{}"):
            with self.subTest(payload=text):
                self.refused(T.build(T.header_for(self.k1), text, key=self.k1))

    def test_header_that_is_not_json_is_refused(self):
        self.refused(T.build(b'{"alg":"EdDSA","kid":"k1"', self.claims(), key=self.k1))

    def test_duplicate_claim_keys_are_refused(self):
        now = int(time.time())
        text = ('{"sub":"user-1","aud":"herald","iss":"%s","iat":%d,"exp":%d,'
                '"herald":{"subscribe":["watch"]},"sub":"admin"}' % (ISSUER, now, now + 300))
        self.refused(T.build(T.header_for(self.k1), text, key=self.k1))
        text = ('{"sub":"user-1","aud":"herald","iss":"%s","iat":%d,"exp":%d,'
                '"herald":{"subscribe":["watch"],"subscribe":["*"]}}' % (ISSUER, now, now + 300))
        self.refused(T.build(T.header_for(self.k1), text, key=self.k1))

    def test_duplicate_header_keys_are_refused(self):
        self.refused(T.build('{"alg":"EdDSA","kid":"k2","kid":"k1"}', self.claims(),
                             key=self.k1))

    def test_more_or_fewer_than_three_parts_is_refused(self):
        token = self.mint_for(self.k1)
        for bad in (token + ".AAAA", ".".join(token.split(".")[:2]), "abc", "a.b.c.d.e"):
            with self.subTest(token=bad[:20]):
                self.refused(bad)

    def test_grant_like_seller_1_star_is_token_invalid(self):
        self.refused(self.mint_for(self.k1, subscribe=["seller:1*"]), says="grant")
        self.refused(self.mint_for(self.k1, subscribe=["watch"], publish=["*x"]))
        self.refused(self.mint_for(self.k1, subscribe=["watch", ""]))

    def token_of_length(self, size):
        """A validly signed token of exactly size characters (a pad claim;
        typ padded too, as a base64url part cannot be 4k + 1 long)."""
        for extra in range(3):
            header = T.header_for(self.k1, typ="JWT" + " " * extra)
            fixed = len(T.build(header, self.claims(pad=""), key=self.k1))
            for n in range(max(0, (size - fixed) * 3 // 4 - 4), (size - fixed) * 3 // 4 + 4):
                token = T.build(header, self.claims(pad="x" * n), key=self.k1)
                if len(token) == size:
                    return token
        raise AssertionError("no token of %d characters" % size)

    def test_token_of_8192_bytes_is_accepted_and_8193_refused(self):
        self.accepted(self.token_of_length(8192))
        self.refused(self.token_of_length(8193))

    def test_header_over_1024_bytes_decoded_is_refused(self):
        base = len(json.dumps(T.header_for(self.k1), separators=(",", ":")))
        for size, accepted in ((1024, True), (1025, False)):
            header = T.header_for(self.k1, typ="JWT" + " " * (size - base))
            self.assertEqual(len(json.dumps(header, separators=(",", ":"))), size)
            token = T.build(header, self.claims(), key=self.k1)
            if accepted:
                self.accepted(token)
            else:
                self.refused(token)

    def big_token(self):
        token = self.mint_for(self.k1, pad="x" * 100 * 1024)
        self.assertGreater(len(token), 100 * 1024)
        return token

    def too_large_count(self):
        return h.metric(self.base, 'herald_errors_total{code="headers_too_large"}')

    def test_token_of_100_kb_in_a_header_is_431(self):
        before = self.too_large_count()
        status, answer = T.raw_get(self.base, "/v1/sse?channel=watch",
                                   T.bearer(self.big_token()))
        # None: reset while the request was still being sent (it is far
        # over what --conn-memory holds); the metric says it was a 431
        self.assertIn(status, (431, None), answer[:300])
        h.wait_until(lambda: self.too_large_count() == before + 1, 5,
                     "the 431 to be counted as headers_too_large")
        self.assert_serving()

    def test_token_of_100_kb_in_the_query_is_refused_whole(self):
        before = self.too_large_count()
        token = self.big_token()
        status, answer = T.raw_get(self.base, T.with_query("/v1/sse?channel=watch",
                                                           token=token))
        self.assertIn(status, (414, 431, None), answer[:300])
        h.wait_until(lambda: self.too_large_count() == before + 1, 5,
                     "the refusal to be counted as headers_too_large")
        self.assert_serving()
        self.assertNotIn(token.split(".")[2], self.herald.stderr())


class BigTokens(unittest.TestCase):
    """With --conn-memory 1MiB a 100 KB token reaches the token check:
    401 token_invalid (over the token size bound), in a header or the query."""

    def setUp(self):
        self.key = T.EdKey("k1")
        self.herald = T.start_gateway(self, T.jwks_file([self.key]), "--conn-memory", "1MiB")
        self.token = T.mint(self.key, T.claims(subscribe=["*"], pad="x" * 100 * 1024))
        self.assertGreater(len(self.token), 100 * 1024)

    def test_token_of_100_kb_is_token_invalid_in_header_and_query(self):
        for via in ("header", "query", "cookie"):
            with self.subTest(via=via):
                c = T.sse(self, self.herald.http, ["x"], token=self.token, via=via)
                T.assert_error(self, c, 401, "token_invalid", self.token)
        ok = T.sse(self, self.herald.http, ["x"], token=T.mint(self.key, T.claims(
            subscribe=["*"])))
        self.assertEqual(ok.status, 200, ok.body)


class WebSocketAuth(unittest.TestCase):
    """welcome.auth, auth before anything else, the token in the upgrade."""

    @classmethod
    def setUpClass(cls):
        cls.key = T.EdKey("k1")
        cls.herald = T.start_class_gateway(cls, T.jwks_file([cls.key]))
        cls.base = cls.herald.http
        cls.push = h.Zmq(h.zmq.PUSH, cls.herald.pull)
        cls.addClassCleanup(cls.push.close)

    def token(self, **kw):
        kw.setdefault("subscribe", ["room:*"])
        kw.setdefault("publish", ["room:*"])
        return T.mint(self.key, T.claims(**kw))

    def assert_alive(self, c):
        self.assertEqual(c.request({"t": "ping"})["t"], "pong")
        self.assertFalse(c.ended)

    def test_no_token_in_upgrade_is_auth_required_and_sub_is_unauthorized(self):
        c = w.connect(self, self.base, [w.JSON])
        self.assertEqual(c.welcome()["auth"], "required")
        for msg in ({"t": "sub", "ch": "room:1"},
                    {"t": "pub", "ch": "room:1", "data": 1}):
            with self.subTest(t=msg["t"]):
                reply = c.request(msg)
                self.assertEqual((reply["t"], reply.get("code")), ("err", "unauthorized"), reply)
        self.assert_alive(c)

    def test_auth_with_a_valid_token_is_ok_with_sub_and_exp_then_sub_works(self):
        c = w.connect(self, self.base, [w.JSON])
        self.assertEqual(c.welcome()["auth"], "required")
        now = int(time.time())
        reply = c.request({"t": "auth", "token": self.token(sub="alice", now=now, ttl=600)})
        self.assertEqual(reply, {"t": "ok", "id": reply["id"], "sub": "alice", "exp": now + 600})
        c.subscribe("room:1")
        self.push.send({"ch": "room:1", "data": "after auth"})
        self.assertEqual(c.wait_events("room:1", 1)[0]["data"], "after auth")

    def test_auth_over_msgpack_is_ok_too(self):
        c = w.connect(self, self.base, [w.MSGPACK])
        self.assertEqual(c.welcome()["auth"], "required")
        reply = c.request({"t": "auth", "token": self.token(sub="bob")})
        self.assertEqual((reply["t"], reply["sub"]), ("ok", "bob"), reply)
        c.subscribe("room:2")

    def test_auth_with_a_bad_token_closes_4501(self):
        c = w.connect(self, self.base, [w.JSON])
        c.welcome()
        bad = self.token()[:-6] + "AAAAAA"
        c.send({"t": "auth", "id": 1, "token": bad})
        self.assertEqual(c.wait_end(10), 4501)
        self.assertEqual(c.bye()["code"], 4501, c.messages)

    def test_auth_with_a_forged_token_closes_4501(self):
        c = w.connect(self, self.base, [w.JSON])
        c.welcome()
        c.send({"t": "auth", "id": 1, "token": T.mint(T.EdKey("k1"), T.claims())})
        self.assertEqual(c.wait_end(10), 4501)

    def test_auth_with_a_token_over_8192_bytes_closes_4501(self):
        big = T.mint(self.key, T.claims(subscribe=["room:*"], pad="x" * 9000))
        self.assertGreater(len(big), 8192)
        c = w.connect(self, self.base, [w.JSON])
        c.welcome()
        c.send({"t": "auth", "id": 1, "token": big})
        self.assertEqual(c.wait_end(10), 4501)

    def test_auth_message_of_100_kb_closes_1009(self):
        big = T.mint(self.key, T.claims(subscribe=["room:*"], pad="x" * 100 * 1024))
        c = w.raw(self, self.base, protocols=[w.JSON])
        c.welcome()
        c.send({"t": "auth", "id": 1, "token": big})
        self.assertEqual(c.wait_end(10), 1009)
        self.assertTrue(self.herald.running())

    def test_auth_with_an_expired_token_is_err_token_expired_and_stays_open(self):
        c = w.connect(self, self.base, [w.JSON])
        c.welcome()
        now = int(time.time())
        reply = c.request({"t": "auth", "token": self.token(now=now - 900, ttl=300)})
        self.assertEqual((reply["t"], reply.get("code"), reply.get("retry")),
                         ("err", "token_expired", False), reply)
        self.assert_alive(c)
        self.assertEqual(c.request({"t": "auth", "token": self.token()})["t"], "ok")

    def test_token_in_the_upgrade_header_is_auth_done(self):
        c = w.connect(self, self.base, [w.JSON], headers=T.bearer(self.token()))
        self.assertEqual(c.welcome()["auth"], "done")
        c.subscribe("room:3")
        self.push.send({"ch": "room:3", "data": 3})
        self.assertEqual(c.wait_events("room:3", 1)[0]["data"], 3)

    def test_token_in_the_upgrade_cookie_is_auth_done(self):
        c = w.connect(self, self.base, [w.JSON], headers=T.cookie(self.token()))
        self.assertEqual(c.welcome()["auth"], "done")
        c.subscribe("room:4")

    def test_token_in_the_upgrade_query_is_auth_done(self):
        c = w.raw(self, self.base, protocols=[w.JSON],
                  path=T.with_query("/v1/ws", token=self.token()))
        self.assertEqual(c.status, 101, c.answer)
        self.assertEqual(c.welcome()["auth"], "done")
        c.subscribe("room:5")

    def test_invalid_token_in_the_upgrade_is_http_401(self):
        bad = self.token(aud="other")
        for how, kw in (("header", {"headers": T.bearer(bad)}),
                        ("cookie", {"headers": T.cookie(bad)}),
                        ("query", {"path": T.with_query("/v1/ws", token=bad)})):
            with self.subTest(via=how):
                a = w.handshake(self.base, protocols=[w.JSON], **kw)
                T.assert_error(self, a, 401, "token_invalid", bad)
                self.assertNotIn("sec-websocket-accept", a.headers)
        now = int(time.time())
        a = w.handshake(self.base, headers=T.bearer(self.token(now=now - 900, ttl=300)))
        T.assert_error(self, a, 401, "token_expired")

    def test_websockets_client_sees_the_401(self):
        with self.assertRaises(Exception) as caught:
            w.WS(self.base, [w.JSON], headers=T.bearer("not.a.token"))
        self.assertIn("401", str(caught.exception))


class WebSocketNoKeys(unittest.TestCase):
    def test_without_keys_welcome_auth_is_none_and_sub_needs_no_auth(self):
        herald = h.start(self, "run")
        c = w.connect(self, herald.http, [w.JSON])
        self.assertEqual(c.welcome()["auth"], "none")
        c.subscribe("anything")


class WebSocketAuthTimeout(unittest.TestCase):
    def test_no_auth_within_ws_auth_timeout_closes_4005(self):
        key = T.EdKey("k1")
        herald = T.start_gateway(self, T.jwks_file([key]), "--ws-auth-timeout", "1s")
        c = w.connect(self, herald.http, [w.JSON])
        opened = time.monotonic()
        self.assertEqual(c.welcome()["auth"], "required")
        # authenticated in time, a second connection stays
        ok = w.connect(self, herald.http, [w.JSON])
        ok.welcome()
        self.assertEqual(ok.request({"t": "auth", "token": T.mint(key, T.claims())})["t"], "ok")
        self.assertEqual(c.wait_end(10), 4005)
        self.assertGreaterEqual(time.monotonic() - opened, 0.9)
        self.assertEqual(c.bye()["code"], 4005, c.messages)
        self.assertEqual(ok.request({"t": "ping"})["t"], "pong")
        self.assertFalse(ok.ended)

    def test_with_public_channels_an_unauthenticated_socket_is_not_timed_out(self):
        herald = T.start_gateway(self, T.jwks_file([T.EdKey("k1")]), "--ws-auth-timeout", "1s",
                                 "--public-channels", "news")
        c = w.connect(self, herald.http, [w.JSON])
        self.assertEqual(c.welcome()["auth"], "required")
        c.subscribe("news")
        until = time.monotonic() + 2.5
        c.wait_for(lambda c: c.ended or time.monotonic() > until, 5, "2.5 s to pass")
        self.assertFalse(c.ended, "closed %s: %s" % (c.close_code, c.messages[-3:]))


if __name__ == "__main__":
    unittest.main()
