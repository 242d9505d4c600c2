"""Revocation end to end (docs/security.md, Revocation; docs/protocol.md
§3.3, §4.1): a broker and two gateways with HS256 token keys (PyJWT mints
the tokens). `herald revoke --sub u1` ends u1's SSE streams at both
gateways with `herald-token-revoked`, closes its WebSocket with 4503, and
new connections with its token get 401 token_revoked, at both gateways and
at one started after the revocation; another subject is untouched.
POST /v1/admin/revoke needs an admin token, JSON, and token keys.
"""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import tokens as t  # noqa: E402
import wsclient  # noqa: E402

CHANNEL = "news"
DEADLINE = 5.0          # revocation must act within 1 s; allow for a loaded machine


def revoke_cli(broker, *args):
    """Runs `herald revoke` against broker; returns (exit status, stdout, stderr)."""
    out = subprocess.run([h.herald_binary(), "revoke", "--router", broker.router] + list(args),
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def admin_revoke(base, body, token=None, content_type="application/json"):
    headers = {"Content-Type": content_type} if content_type else {}
    if token:
        headers.update(t.bearer(token))
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return h.http("POST", base + "/v1/admin/revoke", raw, headers=headers)


def sse_status(base, token):
    """(status, error code) of a new SSE request with token."""
    c = h.SSEClient(base, [CHANNEL], headers=t.bearer(token))
    try:
        return c.status, (c.json.get("error") if c.status != 200 else None)
    finally:
        c.close()


def revoked_event(c):
    return any(e.type == "herald-token-revoked" for e in c.events)


class RevocationTest(unittest.TestCase):

    def setUp(self):
        self.key = t.HSKey("k1")
        self.keys = t.jwks_file([self.key])
        self.broker = h.start(self, "broker")

    def gateway(self):
        g = h.start(self, "gateway", "--broker", "%s,%s" % (self.broker.xpub, self.broker.router),
                    "--token-keys", self.keys)
        h.wait_broker_linked(g)
        return g

    def token(self, sub, **kw):
        kw.setdefault("subscribe", [CHANNEL])
        return t.mint(self.key, t.claims(sub=sub, **kw))

    def stream(self, gateway, token):
        c = t.sse(self, gateway.http, [CHANNEL], token=token)
        self.assertEqual(c.status, 200, c.body)
        c.wait_subscribed()
        return c

    def test_cli_revocation_reaches_every_gateway(self):
        g1, g2 = self.gateway(), self.gateway()
        u1, u2 = self.token("u1"), self.token("u2")
        streams = [self.stream(g1, u1), self.stream(g2, u1)]
        other = self.stream(g1, u2)
        ws = wsclient.connect(self, g2.http, headers=t.bearer(u1))
        self.assertEqual(ws.welcome().get("auth"), "done")
        ws.subscribe(CHANNEL)

        status, out, err = revoke_cli(self.broker, "--sub", "u1", "--until", "1h")
        self.assertEqual(status, 0, err)
        answer = json.loads(out)
        self.assertEqual(answer["revoked"], "sub")
        self.assertAlmostEqual(answer["until"], time.time() + 3600, delta=60)

        # Live connections: both SSE streams get the event and end; the
        # WebSocket is closed with 4503 (the gateways' workers do this)
        for c in streams:
            c.wait_for(lambda c: revoked_event(c) and c.ended, DEADLINE,
                       "herald-token-revoked, then the end of the stream")
        ws.wait_end(DEADLINE)
        self.assertEqual(ws.close_code, 4503)
        # New connections with the token: 401 token_revoked at both gateways
        for g in (g1, g2):
            h.wait_until(lambda: sse_status(g.http, u1) == (401, "token_revoked"), DEADLINE,
                         "u1's token refused at %s" % g.http)
            t.assert_error(self, h.http("GET", g.http + "/v1/history?channel=" + CHANNEL,
                                        headers=t.bearer(u1)), 401, "token_revoked")
        # Another subject is untouched
        self.assertFalse(other.ended)
        self.assertFalse(revoked_event(other))
        self.assertEqual(sse_status(g2.http, u2), (200, None))

        # A gateway started after the revocation learns it from the broker
        g3 = self.gateway()
        h.wait_until(lambda: sse_status(g3.http, u1) == (401, "token_revoked"), DEADLINE,
                     "u1's token refused by a gateway started after the revocation")
        self.assertEqual(sse_status(g3.http, u2), (200, None))

    def test_cli_usage_and_refusals(self):
        status, _, err = revoke_cli(self.broker, "--sub", "a", "--jti", "b")
        self.assertEqual(status, 2, err)
        status, _, err = revoke_cli(self.broker)
        self.assertEqual(status, 2, err)
        status, _, err = revoke_cli(self.broker, "--sub", "a", "--until", "12")
        self.assertEqual(status, 2, err)
        self.assertIn("--until", err)
        status, out, err = revoke_cli(self.broker, "--jti", "token-1",
                                      "--until", str(int(time.time()) + 600))
        self.assertEqual((status, json.loads(out)["revoked"]), (0, "jti"), err)
        # No broker there: exit 1, not a hang
        out = subprocess.run([h.herald_binary(), "revoke", "--router", h.unused_endpoint(),
                              "--sub", "a", "--timeout", "300ms"],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 1, out.stderr)

    def test_admin_route(self):
        g1, g2 = self.gateway(), self.gateway()
        admin = self.token("root", admin=True)
        plain = self.token("u5")
        victim = t.mint(self.key, t.claims(sub="u3", subscribe=[CHANNEL], jti="tok-9"))
        stream = self.stream(g2, victim)

        t.assert_error(self, admin_revoke(g1.http, {"jti": "tok-9"}), 401, "token_missing")
        t.assert_error(self, admin_revoke(g1.http, {"jti": "tok-9"}, token=plain),
                       403, "forbidden")
        t.assert_error(self, admin_revoke(g1.http, {"jti": "tok-9"}, token=admin + "x"),
                       401, "token_invalid")
        t.assert_error(self, admin_revoke(g1.http, {"jti": "tok-9"}, token=admin,
                                          content_type="text/plain"), 415,
                       "unsupported_media_type")
        t.assert_error(self, admin_revoke(g1.http, {"jti": "tok-9", "sub": "u3"}, token=admin),
                       400, "bad_field")
        t.assert_error(self, admin_revoke(g1.http, b"[1]", token=admin), 400, "bad_json")
        t.assert_error(self, admin_revoke(g1.http, {"sub": "x" * 5000}, token=admin),
                       413, "body_too_large")
        t.assert_error(self, admin_revoke(g1.http, {"sub": "x" * 257}, token=admin),
                       400, "bad_field")
        r = h.http("GET", g1.http + "/v1/admin/revoke", headers=t.bearer(admin))
        self.assertEqual((r.status, r.headers.get("Allow")), (405, "POST, OPTIONS"), r)
        t.assert_error(self, admin_revoke(g1.http, {"sub": "u3", "until": 5}, token=admin),
                       400, "bad_field")
        self.assertFalse(stream.ended)

        r = admin_revoke(g1.http, {"jti": "tok-9"}, token=admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["revoked"], "jti")
        # Default until: the gateway's --token-max-ttl (24 h) from now
        self.assertAlmostEqual(r.json["until"], time.time() + 24 * 3600, delta=60)
        stream.wait_for(lambda c: revoked_event(c) and c.ended, DEADLINE,
                        "the stream of the revoked token id to end")
        for g in (g1, g2):
            h.wait_until(lambda: sse_status(g.http, victim) == (401, "token_revoked"),
                         DEADLINE, "the revoked token id refused at %s" % g.http)
        # The same subject with another token id is not revoked
        fresh = t.mint(self.key, t.claims(sub="u3", subscribe=[CHANNEL], jti="tok-10"))
        self.assertEqual(sse_status(g1.http, fresh), (200, None))
        # An explicit until is kept
        until = int(time.time()) + 120
        r = admin_revoke(g2.http, {"sub": "u7", "until": until}, token=admin)
        self.assertEqual((r.status, r.json), (200, {"revoked": "sub", "until": until}), r)

    def test_admin_route_needs_token_keys(self):
        g = h.start(self, "gateway", "--broker", "%s,%s" % (self.broker.xpub, self.broker.router))
        h.wait_broker_linked(g)
        r = admin_revoke(g.http, {"sub": "u1"})
        body = t.assert_error(self, r, 403, "forbidden")
        self.assertIn("--token-keys", body["message"])

    def test_broker_gauges_in_run(self):
        run = h.start(self, "run", "--token-keys", self.keys)
        status, _, err = revoke_cli(run, "--sub", "u1")
        self.assertEqual(status, 0, err)
        status, _, err = revoke_cli(run, "--sub", "u1")       # a repeat: still one entry
        self.assertEqual(status, 0, err)
        h.wait_until(lambda: h.metric(run.http, "herald_revocations") == 1, DEADLINE,
                     "herald_revocations to count the entry")
        self.assertGreater(h.metric(run.http, "herald_revocation_bytes"), 0)
        h.wait_until(lambda: sse_status(run.http, self.token("u1")) == (401, "token_revoked"),
                     DEADLINE, "the token refused by herald run")

    def test_cli_with_curve(self):
        from test_curve import Certs
        certs = Certs()
        self.addCleanup(certs.remove)
        run = h.start(self, "run", "--token-keys", self.keys, *certs.broker_args())
        status, out, err = revoke_cli(run, "--sub", "u1", "--timeout", "2s",
                                      *certs.client_args("alice"))
        self.assertEqual((status, json.loads(out or "{}").get("revoked")), (0, "sub"), err)
        h.wait_until(lambda: sse_status(run.http, self.token("u1")) == (401, "token_revoked"),
                     DEADLINE, "the token refused after a revocation over CURVE")
        # A key not on the broker's list revokes nothing
        status, _, err = revoke_cli(run, "--sub", "u2", "--timeout", "500ms",
                                    *certs.client_args("mallory"))
        self.assertEqual(status, 1, err)
        # Without CURVE, nothing either
        status, _, err = revoke_cli(run, "--sub", "u2", "--timeout", "500ms")
        self.assertEqual(status, 1, err)
        self.assertEqual(sse_status(run.http, self.token("u2")), (200, None))

    def test_broker_without_answer_is_503(self):
        # The gateway's broker never answers: the route gives up at --broker-timeout
        g = h.start(self, "gateway", "--broker", "%s,%s" % (self.broker.xpub, self.broker.router),
                    "--token-keys", self.keys, "--broker-timeout", "300ms")
        h.wait_broker_linked(g)
        admin = self.token("root", admin=True)
        self.broker.send_signal(19)         # SIGSTOP: connected, silent
        try:
            r = admin_revoke(g.http, {"sub": "u1"}, token=admin)
        finally:
            self.broker.send_signal(18)     # SIGCONT
        t.assert_error(self, r, 503, "broker_unavailable")


if __name__ == "__main__":
    unittest.main()
