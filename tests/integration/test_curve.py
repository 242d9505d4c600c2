"""CURVE on the broker's ZeroMQ sockets (docs/security.md, CURVE): allowed
publishers (herald pub, a pyzmq PUSH, herald bench) deliver to SSE and
`herald sub`; an unknown key or a plain client delivers nothing, and each
refusal is logged and counted; a gateway with the wrong server key never becomes ready; a
broker reachable from other machines without CURVE refuses to start unless
--insecure. Certificates are written by pyzmq (zmq.auth), as an operator
without `herald keygen` would make them."""
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import zmq
import zmq.auth

import harness as H


class Certs:
    """broker, gateway, alice (allowed) and mallory (not), each NAME.key and
    NAME.key_secret; clients/ holds the allowed public certificates."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="herald-curve-")
        self.clients = os.path.join(self.dir, "clients")
        os.mkdir(self.clients)
        for name in ("broker", "gateway", "alice", "mallory"):
            zmq.auth.create_certificates(self.dir, name)
        for name in ("gateway", "alice"):
            shutil.copy(self.public(name), self.clients)

    def public(self, name):
        return os.path.join(self.dir, name + ".key")

    def secret(self, name):
        return os.path.join(self.dir, name + ".key_secret")

    def z85(self, name):
        return zmq.auth.load_certificate(self.public(name))[0].decode()

    def client_args(self, name, server="broker"):
        return ["--curve-server-key", self.public(server), "--curve-secret", self.secret(name)]

    def broker_args(self):
        return ["--curve-secret", self.secret("broker"), "--curve-clients", self.clients]

    def socket(self, test, kind, endpoint, name=None):
        """A pyzmq socket, a CURVE client with name's keys (plain without)."""
        sock = H.ZMQ.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if name:
            sock.curve_publickey, sock.curve_secretkey = \
                zmq.auth.load_certificate(self.secret(name))
            sock.curve_serverkey = zmq.auth.load_certificate(self.public("broker"))[0]
        sock.connect(endpoint)
        test.addCleanup(sock.close)
        return sock

    def remove(self):
        shutil.rmtree(self.dir, True)


def herald(*args, timeout=20):
    return subprocess.run([H.herald_binary()] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def envelope(channel, data):
    import msgpack
    return msgpack.packb({"ch": channel, "data": data})


class Curve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = Certs()

    @classmethod
    def tearDownClass(cls):
        cls.certs.remove()

    def start_run(self):
        return H.start(self, "run", *self.certs.broker_args())

    def test_allowed_publishers_deliver_to_sse_and_herald_sub(self):
        h = self.start_run()        # its gateway reaches the broker over inproc://
        client = self.certs.client_args("alice")
        stream = H.subscribed(self, h.http, ["c1"])
        r = herald("pub", "c1", '{"n":1}', "--pull", h.pull, *client)
        self.assertEqual(r.returncode, 0, r.stderr)
        push = self.certs.socket(self, zmq.PUSH, h.pull, "alice")
        push.send(envelope("c1", {"n": 2}))
        r = herald("pub", "c1", '{"n":3}', "--ack", "--router", h.router, *client)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"seq":3', r.stdout)
        events = [e.json for e in stream.wait_events(3)]
        self.assertEqual(sorted(e["data"]["n"] for e in events), [1, 2, 3])
        # XPUB: herald sub with CURVE prints what is published after it subscribed
        sub = subprocess.Popen([H.herald_binary(), "sub", "c1", "--xpub", h.xpub] + client,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(sub.kill)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(sub.stdout.readline, "")),
                                  daemon=True)
        reader.start()

        def printed():
            push.send(envelope("c1", {"n": "sub"}))
            return any('"sub"' in line for line in lines)
        H.wait_until(printed, 10, "herald sub to print an event", interval=0.1)
        sub.send_signal(signal.SIGTERM)
        self.assertEqual(sub.wait(5), 0)
        reader.join(5)
        sub.stdout.close()
        sub.stderr.close()

    def test_unknown_key_and_plain_clients_deliver_nothing_and_are_counted(self):
        h = self.start_run()
        stream = H.subscribed(self, h.http, ["c2"])
        r = herald("pub", "c2", '"mallory"', "--pull", h.pull, "--timeout", "1s",
                   *self.certs.client_args("mallory"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused this CURVE key", r.stderr)
        self.certs.socket(self, zmq.PUSH, h.pull, "mallory").send(envelope("c2", "m-push"))
        self.certs.socket(self, zmq.DEALER, h.router, "mallory").send(envelope("c2", "m-deal"))
        self.certs.socket(self, zmq.PUSH, h.pull).send(envelope("c2", "plain"))
        self.certs.socket(self, zmq.DEALER, h.router).send(envelope("c2", "plain-deal"))
        H.wait_until(lambda: H.metric(h.http, "herald_curve_refused_total") >= 3, 10,
                     "refusals counted in /metrics")
        mallory = self.certs.z85("mallory")
        # The log line may reach our stderr reader after the metric moved
        refused = H.wait_until(lambda: [e for e in h.logs()
                                        if e.get("msg") == "CURVE client refused"], 10,
                               "the refusal logged")
        self.assertEqual(refused[0]["key"], mallory)
        self.assertEqual(refused[0]["address"], "127.0.0.1")
        # Nothing of theirs was sequenced: alice's event is the channel's first
        self.certs.socket(self, zmq.PUSH, h.pull, "alice").send(envelope("c2", "alice"))
        first = stream.wait_events(1)[0].json
        self.assertEqual((first["data"], first["seq"]), ("alice", 1))
        # A plain or unknown SUB gets nothing from XPUB, not even a head marker
        refused_subs = [self.certs.socket(self, zmq.SUB, h.xpub, name)
                        for name in (None, "mallory")]
        allowed = self.certs.socket(self, zmq.SUB, h.xpub, "alice")
        for sub in refused_subs + [allowed]:
            sub.setsockopt(zmq.SUBSCRIBE, b"c2|")
        self.assertTrue(allowed.poll(5000), "the allowed SUB gets the head marker")
        self.assertEqual([sub.poll(0) for sub in refused_subs], [0, 0])
        self.assertEqual(H.metric(h.http, "herald_broker_events_total"), 1)
        # herald sub with a refused key says so, keeps trying, and stops on SIGTERM
        sub = subprocess.Popen([H.herald_binary(), "sub", "c2", "--xpub", h.xpub]
                               + self.certs.client_args("mallory"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        self.addCleanup(sub.kill)
        self.assertTrue(select.select([sub.stderr], [], [], 10)[0], "no warning within 10 s")
        line = sub.stderr.readline()
        self.assertIn("the handshake with the broker at %s failed" % h.xpub, line)
        sub.send_signal(signal.SIGTERM)
        self.assertEqual(sub.wait(5), 0)
        self.assertEqual(sub.stdout.read(), "")
        sub.stdout.close()
        sub.stderr.close()

    def test_sighup_reloads_the_allow_list(self):
        clients = os.path.join(self.certs.dir, "reloaded")
        shutil.copytree(self.certs.clients, clients)
        self.addCleanup(shutil.rmtree, clients, True)
        h = H.start(self, "run", "--curve-secret", self.certs.secret("broker"),
                    "--curve-clients", clients)
        stream = H.subscribed(self, h.http, ["c4"])
        self.certs.socket(self, zmq.PUSH, h.pull, "mallory").send(envelope("c4", "refused"))
        H.wait_until(lambda: H.metric(h.http, "herald_curve_refused_total") >= 1, 10,
                     "mallory refused")
        shutil.copy(self.certs.public("mallory"), clients)
        h.send_signal(signal.SIGHUP)
        reloaded = H.wait_until(lambda: [e for e in h.logs()
                                         if e.get("msg") == "SIGHUP: CURVE clients reloaded"],
                                10, "the reload logged")
        self.assertEqual(reloaded[0]["allowed"], "3")
        # A new connection with mallory's key is admitted now
        self.certs.socket(self, zmq.PUSH, h.pull, "mallory").send(envelope("c4", "admitted"))
        self.assertEqual(stream.wait_events(1)[0].json["data"], "admitted")
        # A list that does not load keeps the old one
        with open(os.path.join(clients, "notes.txt"), "w") as f:
            f.write("not a certificate\n")
        h.send_signal(signal.SIGHUP)
        H.wait_until(lambda: [e for e in h.logs() if e.get("msg") ==
                              "SIGHUP: CURVE clients not reloaded, the old ones stay"],
                     10, "the failed reload logged")
        self.certs.socket(self, zmq.PUSH, h.pull, "mallory").send(envelope("c4", "still"))
        self.assertEqual(stream.wait_events(2)[1].json["data"], "still")

    def test_bench_publishes_with_curve(self):
        h = self.start_run()
        bench = ["bench", "--mode", "ingest", "--zmq-endpoint", h.pull, "--duration", "0.3"]
        r = herald(*bench, *self.certs.client_args("alice"), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        H.wait_until(lambda: H.metric(h.http, "herald_broker_events_total") > 0, 10,
                     "the bench's events to be sequenced")
        r = herald(*bench, *self.certs.client_args("mallory"), timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("takes no messages", r.stderr)

    def test_gateway_with_the_wrong_server_key_never_becomes_ready(self):
        broker = H.start(self, "broker", *self.certs.broker_args())
        endpoints = "%s,%s" % (broker.xpub, broker.router)
        # The server key of another broker (mallory's public certificate)
        wrong = H.start(self, "gateway", "--broker", endpoints,
                        *self.certs.client_args("gateway", server="mallory"))
        good = H.start(self, "gateway", "--broker", endpoints,
                       *self.certs.client_args("gateway"))
        H.wait_broker_linked(good)          # the control: the same gateway, the right key
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu_seconds():
            with open("/proc/%d/stat" % wrong.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks
        cpu_before, started = cpu_seconds(), time.monotonic()
        deadline = started + 3.0
        while time.monotonic() < deadline:
            self.assertEqual(H.http("GET", wrong.http + "/readyz").status, 503)
            time.sleep(0.1)         # sampling a state that must not change, not waiting
        self.assertTrue(wrong.running())
        cpu = (cpu_seconds() - cpu_before) / (time.monotonic() - started)
        self.assertLess(cpu, 0.5, "the refused gateway spins")
        warned = [e for e in wrong.logs() if "handshake with the broker failed" in e.get("msg", "")]
        self.assertTrue(warned, wrong.stderr()[-2000:])
        # A refused handshake is no connection: no channel is confirmed again for it
        self.assertFalse([e for e in wrong.logs()
                          if e.get("msg", "").startswith("connected to the broker")],
                         wrong.stderr()[-2000:])
        # The split gateway with CURVE delivers (SUB and DEALER both secured)
        stream = H.subscribed(self, good.http, ["c3"])
        self.assertEqual(H.publish(good.http, {"channel": "c3", "data": 7}).status, 200)
        self.assertEqual(stream.wait_events(1)[0].json["data"], 7)

    def test_broker_reachable_from_elsewhere_needs_curve_or_insecure(self):
        for command in ("broker", "run"):
            args = [command, "--pull", "tcp://0.0.0.0:*", "--router", "tcp://127.0.0.1:*",
                    "--xpub", "tcp://127.0.0.1:*"]
            if command == "run":
                args += ["--http", "127.0.0.1:0"]
            r = herald(*args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--pull tcp://0.0.0.0:* is reachable from other machines", r.stderr)
            self.assertIn("give --curve-secret and --curve-clients", r.stderr)
            self.assertIn("or --insecure", r.stderr)
        h = H.start(self, "broker", "--pull", "tcp://0.0.0.0:*", "--insecure")
        self.assertTrue(h.running())
        h = H.start(self, "run", "--pull", "tcp://0.0.0.0:*", "--insecure")
        self.assertTrue(h.running())
        h = H.start(self, "broker", "--pull", "tcp://0.0.0.0:*", *self.certs.broker_args())
        self.assertTrue(h.running())

    def test_curve_options_must_come_together(self):
        r = herald("broker", "--curve-secret", self.certs.secret("broker"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--curve-secret and --curve-clients go together", r.stderr)
        r = herald("pub", "x", "1", "--curve-server-key", self.certs.public("broker"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs --curve-secret", r.stderr)
        r = herald("sub", "x", "--curve-server-key", "/nonexistent.key", "--curve-secret",
                   self.certs.secret("alice"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent.key", r.stderr)
        r = herald("gateway", "--http", "127.0.0.1:0", "--curve-server-key",
                   self.certs.public("broker"), "--curve-secret", self.certs.public("alice"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("holds no secret key", r.stderr)


if __name__ == "__main__":
    unittest.main()
