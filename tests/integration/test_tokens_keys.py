"""Token keys and policy options (docs/security.md §3, §9): the JWKS
file's forms and refusals at start-up, rotation with two keys and by
SIGHUP reload (herald run and herald gateway; a bad file keeps the old
keys), --token-audience, --token-max-ttl and --token-cookie."""
import json
import os
import unittest

import harness as h
import tokens as T
import wsclient as w


class Rotation(unittest.TestCase):
    """Two EdDSA keys, k1 and k2: the rotation window."""

    def test_two_keys_accept_both_and_no_kid_is_token_invalid(self):
        k1, k2 = T.EdKey("k1"), T.EdKey("k2")
        herald = T.start_gateway(self, T.jwks_file([k1, k2]))
        for key in (k1, k2):
            with self.subTest(kid=key.kid):
                r = T.history(herald.http, "c", token=T.mint(key, T.claims(subscribe=["c"])))
                self.assertEqual(r.status, 200, r)
                c = T.sse(self, herald.http, ["c"], token=T.mint(key, T.claims(subscribe=["c"])))
                self.assertEqual(c.status, 200, c.body)
        for key in (k1, k2):
            with self.subTest(no_kid=key.kid):
                token = T.mint(key, T.claims(subscribe=["c"]), kid=False)
                T.assert_error(self, T.history(herald.http, "c", token=token),
                               401, "token_invalid", token)
                c = T.sse(self, herald.http, ["c"], token=token)
                T.assert_error(self, c, 401, "token_invalid", token)
        # k2 signing with k1's kid: the kid picks k1, which does not verify
        token = T.mint(k2, T.claims(subscribe=["c"]), kid="k1")
        T.assert_error(self, T.history(herald.http, "c", token=token), 401, "token_invalid")

    def test_a_single_key_without_kid_accepts_tokens_without_kid(self):
        key = T.EdKey("only")
        herald = T.start_gateway(self, T.jwks_file([key], without_kid=[key]))
        r = T.history(herald.http, "c", token=T.mint(key, T.claims(subscribe=["c"]), kid=False))
        self.assertEqual(r.status, 200, r)


class Keys(unittest.TestCase):
    """The JWKS file: the forms it accepts, what it refuses at start-up, and
    its reload on SIGHUP (rotation step by step; a bad file keeps the old)."""

    def status_with(self, herald, key, kid=True):
        token = T.mint(key, T.claims(subscribe=["c"]), kid=kid)
        return T.history(herald.http, "c", token=token).status

    def test_sighup_reload_rotates_keys(self):
        k1, k2 = T.EdKey("k1"), T.EdKey("k2")
        path = T.jwks_file([k1])
        herald = T.start_gateway(self, path)
        self.assertEqual((self.status_with(herald, k1), self.status_with(herald, k2)), (200, 401))
        # step 1: publish the new key next to the old one
        T.rewrite_jwks(path, [k1, k2])
        herald.send_signal(h.signal.SIGHUP)
        h.wait_until(lambda: self.status_with(herald, k2) == 200, 5, "k2 accepted after SIGHUP")
        self.assertEqual(self.status_with(herald, k1), 200)
        stream = T.sse(self, herald.http, ["c"], token=T.mint(k1, T.claims(subscribe=["c"])))
        self.assertEqual(stream.status, 200, stream.body)
        stream.wait_subscribed()
        # the same token text, verified (and cached) before the key goes
        old = T.mint(k1, T.claims(subscribe=["c"], jti="same-text"))
        for _ in range(2):
            self.assertEqual(T.history(herald.http, "c", token=old).status, 200)
        # step 2: retire the old key
        T.rewrite_jwks(path, [k2])
        herald.send_signal(h.signal.SIGHUP)
        h.wait_until(lambda: self.status_with(herald, k1) == 401, 5, "k1 refused after SIGHUP")
        self.assertEqual(self.status_with(herald, k2), 200)
        T.assert_error(self, T.history(herald.http, "c", token=old), 401, "token_invalid")
        # a stream opened with k1 keeps running on the token it was accepted with
        h.pusher(self, herald.pull).send({"ch": "c", "data": "after rotation"})
        self.assertEqual(stream.wait_events(1, 10)[0].json["data"], "after rotation")

    def test_herald_gateway_reloads_on_sighup_too(self):
        k1, k2 = T.EdKey("k1"), T.EdKey("k2")
        path = T.jwks_file([k1])
        _, gateway = h.start_split(self, gateway_args=("--token-keys", path))
        self.assertEqual((self.status_with(gateway, k1), self.status_with(gateway, k2)),
                         (200, 401))
        T.rewrite_jwks(path, [k2])
        gateway.send_signal(h.signal.SIGHUP)
        h.wait_until(lambda: self.status_with(gateway, k2) == 200, 5, "k2 accepted after SIGHUP")
        self.assertEqual(self.status_with(gateway, k1), 401)

    def test_websocket_refresh_after_rotation_needs_the_new_key(self):
        k1, k2 = T.EdKey("k1"), T.EdKey("k2")
        path = T.jwks_file([k1])
        herald = T.start_gateway(self, path)
        c = w.connect(self, herald.http, [w.JSON],
                      headers=T.bearer(T.mint(k1, T.claims(sub="rot", subscribe=["c"]))))
        self.assertEqual(c.welcome()["auth"], "done")
        c.subscribe("c")
        T.rewrite_jwks(path, [k2])
        herald.send_signal(h.signal.SIGHUP)
        h.wait_until(lambda: self.status_with(herald, k2) == 200, 5, "k2 accepted after SIGHUP")
        reply = c.request({"t": "refresh", "token": T.mint(k1, T.claims(sub="rot",
                                                                       subscribe=["c"]))})
        self.assertEqual((reply["t"], reply.get("code")), ("err", "unauthorized"), reply)
        reply = c.request({"t": "refresh", "token": T.mint(k2, T.claims(sub="rot",
                                                                       subscribe=["c"]))})
        self.assertEqual(reply["t"], "ok", reply)
        h.pusher(self, herald.pull).send({"ch": "c", "data": "rotated"})
        self.assertEqual(c.wait_events("c", 1)[0]["data"], "rotated")

    def test_a_bad_file_on_sighup_keeps_the_old_keys_and_says_why(self):
        k1 = T.EdKey("k1")
        path = T.jwks_file([k1])
        herald = T.start_gateway(self, path)
        for text in ('{"keys": [', '{"keys": [{"kty":"oct","k":"c2hvcnQ","kid":"h"}]}', ""):
            with self.subTest(text=text):
                before = len(herald.logs())
                T.rewrite_jwks(path, None, text=text)
                herald.send_signal(h.signal.SIGHUP)
                h.wait_until(lambda: [e for e in herald.logs()[before:]
                                      if e.get("level") in ("warn", "error")], 5,
                             "a warning or error saying why the keys were not reloaded")
                self.assertEqual(self.status_with(herald, k1), 200)
                self.assertTrue(herald.running())

    def refuses_to_start(self, path, *words):
        """herald run --token-keys path exits before ready, saying why."""
        with self.assertRaises(AssertionError) as caught:
            h.Herald("run", ["--token-keys", path])
        text = str(caught.exception)
        self.assertIn("exited", text)                   # not a timeout
        for word in ("--token-keys",) + words:
            self.assertIn(word, text)

    def test_hs256_secret_under_32_bytes_refuses_to_start(self):
        self.refuses_to_start(T.jwks_file([T.HSKey("h1", secret=b"x" * 31)]), "32")

    def test_hs256_secret_of_32_bytes_or_more_is_accepted(self):
        short, long_ = T.HSKey("h1", secret=b"s" * 32), T.HSKey("h2", secret=os.urandom(100))
        herald = T.start_gateway(self, T.jwks_file([short, long_]))
        self.assertEqual((self.status_with(herald, short), self.status_with(herald, long_)),
                         (200, 200))

    def test_alg_ed25519_and_keys_without_alg_are_accepted(self):
        k1, k2, k3 = T.EdKey("k1"), T.EdKey("k2"), T.HSKey("h3")
        path = T.jwks_file([])
        T.rewrite_jwks(path, None, text=json.dumps({"keys": [
            k1.jwk(alg="Ed25519"), k2.jwk(alg=None), k3.jwk(alg=None)]}))
        herald = T.start_gateway(self, path)
        self.assertEqual([self.status_with(herald, k) for k in (k1, k2, k3)], [200, 200, 200])
        # alg is pinned from the type: k2's kid with HS256 (its x as secret) fails
        forger = T.HSKey("k2", secret=k2.public_bytes)
        token = T.build(T.header_for(forger), T.claims(subscribe=["c"]), key=forger)
        T.assert_error(self, T.history(herald.http, "c", token=token), 401, "token_invalid")

    def test_a_keys_file_that_is_missing_or_not_jwks_refuses_to_start(self):
        bad = T.jwks_file([])
        self.refuses_to_start(bad)                      # {"keys": []}
        for text in ("not json", '{"keys": {}}', '{"keys": [{"kty":"RSA","n":"x","e":"AQAB"}]}'):
            with self.subTest(text=text):
                T.rewrite_jwks(bad, None, text=text)
                self.refuses_to_start(bad)
        self.refuses_to_start(bad + ".missing")

    def test_two_keys_with_the_same_kid_refuse_to_start(self):
        self.refuses_to_start(T.jwks_file([T.EdKey("same"), T.HSKey("same")]), "kid")

    def test_a_key_with_use_other_than_sig_or_a_padded_x_refuses_to_start(self):
        key = T.EdKey("k1")
        path = T.jwks_file([])
        for jwk in (dict(key.jwk(), use="enc"), dict(key.jwk(), x=key.jwk()["x"] + "="),
                    dict(key.jwk(), x=key.jwk()["x"][:-2]), dict(key.jwk(), crv="X25519")):
            with self.subTest(jwk=jwk):
                T.rewrite_jwks(path, None, text=json.dumps({"keys": [jwk]}))
                self.refuses_to_start(path)
        T.rewrite_jwks(path, None, text=json.dumps({"keys": [dict(key.jwk(), use="sig")]}))
        herald = T.start_gateway(self, path)
        self.assertEqual(self.status_with(herald, key), 200)

    def test_two_keys_without_kid_refuse_to_start(self):
        k1, k2 = T.EdKey("k1"), T.EdKey("k2")
        self.refuses_to_start(T.jwks_file([k1, k2], without_kid=[k1, k2]), "kid")


class Policy(unittest.TestCase):
    """--token-audience, --token-max-ttl and --token-cookie."""

    def test_keys_and_options_from_the_environment(self):
        key = T.EdKey("k1")
        herald = h.start(self, "run", env={"HERALD_TOKEN_KEYS": T.jwks_file([key]),
                                           "HERALD_TOKEN_AUDIENCE": "env-aud"})
        token = T.mint(key, T.claims(subscribe=["c"], aud="env-aud"))
        self.assertEqual(T.history(herald.http, "c", token=token).status, 200)
        T.assert_error(self, T.history(herald.http, "c"), 401, "token_missing")

    def test_audience_max_ttl_and_cookie_name_follow_the_options(self):
        key = T.EdKey("k1")
        herald = T.start_gateway(self, T.jwks_file([key]), "--token-audience", "shop",
                                 "--token-max-ttl", "1h", "--token-cookie", "sess")
        mint = lambda **kw: T.mint(key, T.claims(subscribe=["c"], **kw))
        status = lambda token, **kw: T.history(herald.http, "c", token=token, **kw).status
        self.assertEqual(status(mint(aud="shop")), 200)
        T.assert_error(self, T.history(herald.http, "c", token=mint()), 401, "token_invalid")
        self.assertEqual(status(mint(aud="shop", ttl=3500)), 200)
        T.assert_error(self, T.history(herald.http, "c", token=mint(aud="shop", ttl=3700)),
                       401, "token_invalid")
        self.assertEqual(status(None, headers=T.cookie(mint(aud="shop"), "sess")), 200)
        T.assert_error(self, T.history(herald.http, "c", headers=T.cookie(mint(aud="shop"))),
                       401, "token_missing")


if __name__ == "__main__":
    unittest.main()
