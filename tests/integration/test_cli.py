"""The `herald` command: help, version, option errors, environment
variables, and `herald pub` / `herald sub` against a running herald."""
import json
import os
import signal
import socket
import subprocess
import threading
import unittest

import harness as H

OPTIONS = {
    "run": ["--http", "--pull", "--router", "--xpub", "--workers", "--heartbeat",
            "--sse-retry", "--max-body", "--max-event", "--cors-origins", "--demo",
            "--broker-timeout", "--history-size", "--log-level", "--log-format"],
    "broker": ["--pull", "--router", "--xpub", "--max-event", "--history-size",
               "--dedupe-window", "--log-level", "--log-format"],
    "gateway": ["--http", "--broker", "--workers", "--heartbeat", "--sse-retry",
                "--max-body", "--cors-origins", "--demo", "--log-format"],
    "pub": ["--type", "--id", "--ack", "--pull", "--router", "--timeout"],
    "sub": ["--xpub", "--markers"],
}


def cli(*args, env=None, timeout=20):
    full_env = dict(os.environ, **(env or {}))
    r = subprocess.run([H.herald_binary()] + list(args), capture_output=True, text=True,
                       timeout=timeout, env=full_env, stdin=subprocess.DEVNULL)
    report = next((m for m in H.SANITIZER_MARKERS if m in r.stderr), None)
    assert report is None, "herald %s: sanitizer report:\n%s" % (" ".join(args), r.stderr)
    return r


class Sub:
    """`herald sub` as a subprocess whose stdout lines are collected."""

    def __init__(self, test, *args):
        self.proc = subprocess.Popen([H.herald_binary(), "sub"] + list(args), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        test.addCleanup(self.kill)
        self.lines, self.err, self.threads = [], [], []
        for stream, out in ((self.proc.stdout, self.lines), (self.proc.stderr, self.err)):
            t = threading.Thread(target=lambda s=stream, o=out: o.extend(iter(s.readline, "")),
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def wait_lines(self, n, timeout=5):
        H.wait_until(lambda: len(self.lines) >= n, timeout, "%d lines from herald sub" % n)
        return [json.loads(line) for line in self.lines[:n]]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(5)
        self.kill()
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for t in self.threads:
            t.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

class Help(unittest.TestCase):
    def test_version_prints_name_and_semver(self):
        r = cli("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^herald \d+\.\d+\.\d+\n$")

    def test_help_lists_every_command(self):
        r = cli("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for command in OPTIONS:
            self.assertRegex(r.stdout, r"\n  %s\s" % command)

    def test_each_subcommand_help_exits_0_and_lists_its_options(self):
        for command, options in OPTIONS.items():
            with self.subTest(command):
                r = cli(command, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("usage: herald %s" % command, r.stdout)
                for option in options:
                    self.assertRegex(r.stdout, r"\n  %s[ \n]" % option)
                self.assertIn("HERALD_", r.stdout)
        #  A broker serves its ops HTTP (/healthz, /metrics) with --http
        self.assertIn("\n  --http HOST:PORT", cli("broker", "--help").stdout)

    def test_bad_invocations_exit_2_with_a_message(self):
        cases = [(("run", "--bogus"), "--bogus"), (("run", "-x"), "-x"),
                 (("frobnicate",), "frobnicate"), ((), "usage"),
                 (("run", "--workers", "abc"), "--workers"),
                 (("run", "--heartbeat", "10ms"), "out of range"),
                 (("run", "--log-format", "xml"), "--log-format"),
                 (("run", "--http"), "needs a value"),
                 (("gateway", "--broker", "tcp://127.0.0.1:1"), "XPUB,ROUTER"),
                 (("pub", "only-channel"), "CHANNEL and JSON"),
                 (("pub", "bad channel", "1"), "channel"),
                 (("pub", "ok", "{not json"), "JSON"), (("sub",), "CHANNEL")]
        for args, needle in cases:
            with self.subTest(" ".join(args)):
                r = cli(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_bad_environment_value_exits_2_naming_the_variable(self):
        r = cli("run", env={"HERALD_HEARTBEAT": "often"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("HERALD_HEARTBEAT", r.stderr)

    def test_start_failure_exits_1_cleanly(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            for args in (["run", "--http", "127.0.0.1:%d" % port, "--pull", "tcp://127.0.0.1:*",
                          "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*"],
                         ["broker", "--pull", "bogus://nowhere"]):
                with self.subTest(args[0]):
                    r = cli(*args, "--log-format", "json")
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn("cannot start", r.stderr)


class PubSub(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run")

    def test_pub_pushes_an_event_that_reaches_sse(self):
        client = H.subscribed(self, self.h.http, ["cli"])
        r = cli("pub", "cli", '{"hello":[1,"two"]}', "--type", "greeting", "--pull", self.h.pull)
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        env = client.wait_events(1)[0].json
        self.assertEqual((env["data"], env["type"], env["seq"]), ({"hello": [1, "two"]},
                                                                 "greeting", 1))

    def test_pub_ack_prints_seq_and_epoch_and_reports_duplicates(self):
        args = ("pub", "acked", '"x"', "--ack", "--id", "k1", "--router", self.h.router)
        first = cli(*args)
        self.assertEqual(first.returncode, 0, first.stderr)
        reply = json.loads(first.stdout)
        self.assertEqual((reply["seq"], reply["duplicate"]), (1, False))
        self.assertRegex(reply["epoch"], H.EPOCH_RE)
        again = json.loads(cli(*args).stdout)
        self.assertEqual(again, dict(reply, duplicate=True))

    def test_pub_without_broker_fails_within_its_timeout(self):
        r = cli("pub", "x", "1", "--ack", "--timeout", "300ms", "--router", H.unused_endpoint())
        self.assertEqual(r.returncode, 1)
        self.assertIn("no broker", r.stderr)

    def test_sub_prints_events_as_json_lines(self):
        key = "herald_broker_subscriptions_total"
        before = H.metric(self.h.http, key)
        sub = Sub(self, "lines", "--xpub", self.h.xpub)
        H.wait_until(lambda: H.metric(self.h.http, key) > before, 5, "herald sub to subscribe")
        ack = H.publish(self.h.http, {"channel": "lines", "data": {"é": 1}, "type": "t"}).json
        H.publish(self.h.http, {"channel": "other", "data": 0})
        H.publish(self.h.http, {"channel": "lines", "data": 2})
        first, second = sub.wait_lines(2)
        self.assertEqual(first, {"channel": "lines", "seq": 1, "epoch": ack["epoch"],
                                 "ts": first["ts"], "type": "t", "data": {"é": 1}})
        self.assertEqual((second["seq"], second["data"]), (2, 2))
        self.assertEqual(sub.stop(), 0)
        self.assertEqual(len(sub.lines), 2)
        self.assertFalse([l for l in sub.err if "runtime error" in l or "Sanitizer" in l])

    def test_sub_markers_prints_the_head_marker_first(self):
        H.publish(self.h.http, {"channel": "mk", "data": 1})
        sub = Sub(self, "mk", "--markers", "--xpub", self.h.xpub)
        marker = sub.wait_lines(1)[0]
        self.assertEqual((marker["head"], marker["channel"], marker["seq"]), (True, "mk", 1))
        H.publish(self.h.http, {"channel": "mk", "data": 2})
        self.assertEqual(sub.wait_lines(2)[1]["seq"], 2)
        self.assertEqual(sub.stop(), 0)


class Environment(unittest.TestCase):
    def test_environment_sets_sse_retry_and_the_flag_wins(self):
        env_only = H.start(self, "run", env={"HERALD_SSE_RETRY": "1234ms"})
        self.assertEqual(H.subscribed(self, env_only.http, ["e"]).retries, [1234])
        both = H.start(self, "run", "--sse-retry", "4321ms", env={"HERALD_SSE_RETRY": "1234ms"})
        self.assertEqual(H.subscribed(self, both.http, ["e"]).retries, [4321])

    def test_heartbeat_from_environment_and_flag_over_environment(self):
        for args, env in (((), {"HERALD_HEARTBEAT": "200ms"}),
                          (("--heartbeat", "200ms"), {"HERALD_HEARTBEAT": "1h"})):
            with self.subTest(env=env, args=args):
                h = H.start(self, "run", *args, env=env)
                client = H.subscribed(self, h.http, ["hb"])
                client.wait_for(lambda c: len(c.comments) >= 2, 2.0, "heartbeats")

    def test_environment_sets_cors_origins(self):
        h = H.start(self, "run", env={"HERALD_CORS_ORIGINS": "https://env.example"})
        r = H.http("GET", h.http + "/healthz", headers={"Origin": "https://env.example"})
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], "https://env.example")

if __name__ == "__main__":
    unittest.main()
