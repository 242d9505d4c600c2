"""`herald bench --mode connect` (bench/README.md), the benchmark of
connection setup with and without tokens: every connection sends its token
(--token FILE, one a line, connection i sends line i % lines) in the
Authorization header or the query (--token-in), gets ready at its first
`id:` line and is closed; a refused connection counts as failed with its
status; the run stops at --duration when -n is not reached first."""
import json
import os
import subprocess
import tempfile
import unittest

import harness as h
import tokens as t

CHANNEL = "seller:123"


class BenchConnect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = t.EdKey()
        cls.gateway = t.start_class_gateway(cls, t.jwks_file([cls.key]), "--workers", "1",
                                            "--max-connections-per-ip", "0")
        cls.port = cls.gateway.http.rsplit(":", 1)[1]
        cls.dir = tempfile.TemporaryDirectory(prefix="herald-bench-connect-")
        cls.addClassCleanup(cls.dir.cleanup)

    def token_file(self, *tokens):
        path = os.path.join(self.dir.name, "tokens-%d" % id(tokens))
        with open(path, "w") as f:
            f.write("\n".join(tokens) + "\n")
        return path

    def token(self, subscribe=("seller:{sub}",)):
        return t.mint(self.key, t.claims(sub="123", subscribe=subscribe))

    def bench(self, *args, expect=0):
        r = subprocess.run([h.herald_binary(), "bench", "--mode", "connect", "--json", "-q",
                            "--port", self.port, "--channel", CHANNEL, "--connect-timeout", "5",
                            "--server-pid", str(self.gateway.pid)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, expect, r.stderr)
        return json.loads(r.stdout) if expect == 0 else r.stderr

    def test_token_in_the_header_and_the_query(self):
        path = self.token_file(self.token())
        for where in ("header", "query"):
            report = self.bench("-n", 40, "--max-pending", 8, "--token", path, "--token-in", where)
            c = report["connections"]
            self.assertEqual((c["ok"], c["failed"]), (40, 0), report)
            self.assertEqual((report["tokens"], report["token_in"]), (1, where))
            self.assertGreater(report["connect"]["per_s"], 0)
            self.assertGreater(report["connect"]["setup_ms"]["max"], 0)
            self.assertIsNotNone(report["connect"]["server_cpu_us_per_conn"])
        # Each connection was closed once ready: none is left at the gateway.
        h.wait_until(lambda: h.metric(self.gateway.http, "herald_connections") == 0,
                     message="the gateway's connections to close")

    def test_connection_i_sends_line_i_mod_lines(self):
        # Every second connection's token lacks the grant: 403, a status failure.
        path = self.token_file(self.token(), self.token(subscribe=("seller:9",)))
        c = self.bench("-n", 20, "--max-pending", 4, "--token", path)["connections"]
        self.assertEqual((c["ok"], c["failed"], c["fail_status"]), (10, 10, 10), c)

    def test_without_a_token_every_connection_is_refused(self):
        stderr = self.bench("-n", 5, expect=1)
        self.assertIn("status 5", stderr)

    def test_duration_bounds_the_run(self):
        path = self.token_file(self.token())
        report = self.bench("-n", 100000, "-d", "0.3", "--max-pending", 4, "--token", path)
        c = report["connections"]
        self.assertLess(c["attempted"], 100000)
        self.assertEqual((c["ok"], c["failed"], c["procs_reported"]), (c["attempted"], 0, 1), c)
        self.assertLess(c["ramp_s"], 10)

    def test_a_token_file_that_is_not_tokens_is_refused(self):
        for text in ("", "not a token\n", "x" * 5000 + "\n"):
            path = self.token_file(text)
            r = subprocess.run([h.herald_binary(), "bench", "--mode", "connect", "--token", path],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (text[:20], r.stderr))
            self.assertIn("--token", r.stderr)


if __name__ == "__main__":
    unittest.main()
