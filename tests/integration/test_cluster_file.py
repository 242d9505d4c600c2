"""The cluster file from the command line (docs/cluster.md, "The cluster
file" and "herald cluster"): every command that takes --cluster refuses each
kind of bad file before starting, with exit status 2 and the file's problem
on stderr; the flags that conflict with --cluster; `herald cluster
status|owner` against brokers that answer and brokers that do not; `herald
pub --cluster` reaching whichever broker is up; `herald sub --cluster`
printing each event once across brokers."""
import http.server
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import unittest

import msgpack
import zmq

import harness as H
from test_cli import Sub, cli

IDS = ("b1", "b2", "b3")


def nodes(directory, ids=IDS, http=None):
    """Brokers with ipc:// endpoints nobody binds (http: {id: HOST:PORT})."""
    out = []
    for b in ids:
        node = {"id": b}
        node.update({k: "ipc://%s/%s-%s" % (directory, b, k)
                     for k in ("publish", "router", "stream", "peer")})
        if http and b in http:
            node["http"] = http[b]
        out.append(node)
    return out


def bad_files(directory):
    """{name: (file text, what stderr must say)}: one of each refusal."""
    good = nodes(directory)

    def doc(brokers):
        return json.dumps({"brokers": brokers})

    def changed(index, **fields):
        brokers = [dict(n) for n in good]
        for key, value in fields.items():
            if value is None:
                del brokers[index][key]
            else:
                brokers[index][key] = value
        return doc(brokers)

    many = [{"id": "b%d" % i, **{k: "ipc://%s/m%d-%s" % (directory, i, k)
                                 for k in ("publish", "router", "stream", "peer")}}
            for i in range(17)]
    body = doc(good)
    return {
        "bad_json": (body[:-3], "not valid JSON"),
        "duplicate_key": (body[:-1] + ', "brokers": []}', "duplicate"),
        "not_brokers": (json.dumps({"nodes": good}), 'must be {"brokers": [...]}'),
        "missing_key": (changed(1, stream=None), "broker 2 (b2): stream: missing"),
        "unknown_key": (changed(1, strem="tcp://127.0.0.1:9"),
                        'broker 2 (b2): unknown key "strem"'),
        "bad_id": (changed(1, id="b 2"), 'broker 2: id: "b 2" is not 1 to 32 characters'),
        "duplicate_id": (changed(2, id="b1"), "broker 3 (b1): id: b1 is also broker 1's id"),
        "duplicate_endpoint": (changed(1, router=good[0]["stream"]),
                               "broker 2 (b2): router: %s is also broker 1 (b1)'s stream"
                               % good[0]["stream"]),
        "inproc": (changed(0, peer="inproc://peer"), "broker 1 (b1): peer: inproc://peer "
                   "is inproc://"),
        "wildcard_host": (changed(1, stream="tcp://*:5557"),
                          "broker 2 (b2): stream: tcp://*:5557 has a wildcard host: other "
                          "brokers must be able to connect to it"),
        "wildcard_port": (changed(1, publish="tcp://127.0.0.1:*"),
                          "broker 2 (b2): publish: tcp://127.0.0.1:* has a wildcard port"),
        "too_many": (doc(many), "brokers: 17 listed, 1 to 16 are allowed"),
        "empty": (doc([]), "brokers: 0 listed, 1 to 16 are allowed"),
        "too_large": (body + " " * 65536, "at most 65536 are allowed"),
    }


class Files(unittest.TestCase):
    """Writes each bad file once; subclasses run one command over all."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="herald-cluster-file-")
        cls.cases = {}
        for name, (text, want) in bad_files(cls.dir).items():
            path = os.path.join(cls.dir, name + ".json")
            with open(path, "w") as f:
                f.write(text)
            cls.cases[name] = (path, want)
        cls.cases["missing_file"] = (os.path.join(cls.dir, "none.json"),
                                     "none.json: No such file or directory")
        cls.cases["directory"] = (cls.dir, "Is a directory")
        cls.good = os.path.join(cls.dir, "good.json")
        with open(cls.good, "w") as f:
            json.dump({"brokers": nodes(cls.dir)}, f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)

    def refuses_all(self, argv_of, own_words=()):
        """argv_of(path) -> argv; each bad file: exit 2, the path and the
        problem on stderr, nothing on stdout. own_words: cases whose
        message the command words itself (only exit 2 and the path)."""
        for name, (path, want) in sorted(self.cases.items()):
            with self.subTest(file=name):
                r = cli(*argv_of(path), timeout=30)
                self.assertEqual(r.returncode, 2, "%s: %s" % (name, r.stderr))
                self.assertIn(path, r.stderr)
                if name not in own_words:
                    self.assertIn(want, r.stderr)
                self.assertEqual(r.stdout, "")


class Refusals(Files):
    def test_broker(self):
        # PENDING: broker/hrb_cluster.c reads the file itself (for the "cf"
        # fingerprint) and words a file too large or unreadable its own way.
        # Once it calls hr_cluster_load and hr_cluster_fingerprint, drop
        # own_words: every message must then be hr_cluster's.
        self.refuses_all(lambda f: ["broker", "--cluster", f, "--id", "b1"],
                         own_words=("directory", "too_large"))

    def test_gateway(self):
        self.refuses_all(lambda f: ["gateway", "--http", "127.0.0.1:0", "--cluster", f])

    def test_pub(self):
        self.refuses_all(lambda f: ["pub", "orders", "1", "--cluster", f])
        self.refuses_all(lambda f: ["pub", "orders", "1", "--ack", "--cluster", f])

    def test_sub(self):
        self.refuses_all(lambda f: ["sub", "orders", "--cluster", f])

    def test_cluster_status_and_owner(self):
        self.refuses_all(lambda f: ["cluster", "status", "--cluster", f])
        self.refuses_all(lambda f: ["cluster", "owner", "orders", "--cluster", f])


class Conflicts(Files):
    """Options that --cluster replaces, refused before anything starts."""

    def refused(self, *argv):
        r = cli(*argv)
        self.assertEqual(r.returncode, 2, r.stderr)
        return r.stderr

    def test_gateway_with_broker(self):
        self.assertIn("--cluster and --broker together", self.refused(
            "gateway", "--http", "127.0.0.1:0", "--cluster", self.good,
            "--broker", "tcp://127.0.0.1:5557,tcp://127.0.0.1:5556"))
        # Given by the environment counts too, even when equal to the default
        r = cli("gateway", "--http", "127.0.0.1:0", "--cluster", self.good,
                env={"HERALD_BROKER": "tcp://127.0.0.1:5557,tcp://127.0.0.1:5556"})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--cluster and --broker together", r.stderr)

    def test_pub_and_sub_with_endpoints_or_curve(self):
        for flag in ("--pull", "--router"):
            self.assertIn("--cluster and --pull/--router together", self.refused(
                "pub", "orders", "1", "--cluster", self.good, flag, "tcp://127.0.0.1:9"))
        self.assertIn("--cluster and --xpub together", self.refused(
            "sub", "orders", "--cluster", self.good, "--xpub", "tcp://127.0.0.1:5557"))
        for command in (["pub", "orders", "1"], ["sub", "orders"]):
            self.assertIn("CURVE between brokers is not built yet", self.refused(
                *command, "--cluster", self.good, "--curve-server-key", "k",
                "--curve-secret", "s"))

    def test_cluster_usage(self):
        self.assertIn("cluster needs --cluster FILE", self.refused("cluster", "status"))
        for argv in (["cluster"], ["cluster", "owner"], ["cluster", "what"],
                     ["cluster", "status", "extra"]):
            self.assertIn("usage", self.refused(*argv, "--cluster", self.good))
        self.assertIn("channel", self.refused("cluster", "owner", "a b", "--cluster",
                                              self.good))
        r = cli("--help")
        self.assertRegex(r.stdout, r"\n  cluster\s")


class StatusServer:
    """A broker's /v1/cluster, served by a thread on an ephemeral port."""

    def __init__(self, test, answer):
        paths = self.paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                paths.append(self.path)
                body = json.dumps(answer(self.path)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_port
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        test.addCleanup(thread.join, 5)
        test.addCleanup(self.server.server_close)
        test.addCleanup(self.server.shutdown)


def refusing_address(test):
    """HOST:PORT of a bound socket that does not listen: connects are refused
    at once, and no other test can take the port meanwhile."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    test.addCleanup(s.close)
    return "127.0.0.1:%d" % s.getsockname()[1]


class ClusterCommand(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-cluster-cmd-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def file(self, http):
        path = os.path.join(self.dir, "cluster.json")
        with open(path, "w") as f:
            json.dump({"brokers": nodes(self.dir, http=http)}, f)
        return path

    def test_owner_without_brokers_prints_the_static_owner(self):
        # docs/cluster.md, "Ownership": orders is b1, b2, b3; news b3, b2, b1
        down = {b: refusing_address(self) for b in IDS}
        for http in (down, None):
            path = self.file(http)
            r = cli("cluster", "owner", "orders", "--cluster", path)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout, "orders: owner b1, backup b2, if every broker is up\n")
            if http:
                for b in IDS:
                    self.assertIn("broker %s at %s: cannot connect" % (b, down[b]), r.stderr)
                self.assertIn("no broker answered", r.stderr)
            else:
                self.assertIn("no broker in the cluster file has an http address", r.stderr)
            r = cli("cluster", "owner", "news", "--cluster", path, "--json")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(json.loads(r.stdout), {
                "static": True, "channel": {"name": "news", "owner": "b3", "backup": "b2"}})
            r = cli("cluster", "status", "--cluster", path)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout, "")

    def test_a_broker_that_answers_is_printed(self):
        answer = {"cluster": True,
                  "view": {"number": 7, "members": ["b2", "b3"], "owners": ["b2"],
                           "handoff": ["b3"]},
                  "brokers": [{"id": "b1", "up": False, "member": False, "owner": False},
                              {"id": "b2", "up": True, "member": True, "owner": True},
                              {"id": "b3", "up": True, "member": True, "owner": False}],
                  "self": "b2", "lease": True}

        def reply(path):
            if "?channel=" not in path:
                return answer
            return dict(answer, channel={"name": path.split("=", 1)[1], "owner": "b2",
                                         "backup": None})
        server = StatusServer(self, reply)
        # b1 refuses, b2 answers, b3 is never asked
        path = self.file({"b1": refusing_address(self), "b2": server.address,
                          "b3": refusing_address(self)})
        r = cli("cluster", "status", "--cluster", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "view 7 (asked b2)",
            "broker  up    member  owner",
            "b1      down  no      no",
            "b2      up    yes     yes",
            "b3      up    yes     no",
            "handing off: b3"])
        self.assertIn("broker b1 at", r.stderr)
        r = cli("cluster", "status", "--cluster", path, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), answer)
        r = cli("cluster", "owner", "user:42", "--cluster", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "user:42: owner b2, backup none (view 7, asked b2)\n")
        # The channel travels percent-encoded
        self.assertEqual(server.paths[-1], "/v1/cluster?channel=user%3A42")
        self.assertEqual(server.paths[0], "/v1/cluster")
        r = cli("cluster", "owner", "orders", "--cluster", path, "--json")
        self.assertEqual(json.loads(r.stdout)["channel"]["owner"], "b2")

    def test_an_answer_that_is_not_json_counts_as_none(self):
        server = StatusServer(self, lambda path: ["not", "an", "object"])
        path = self.file({"b1": server.address})
        r = cli("cluster", "owner", "orders", "--cluster", path, "--timeout", "1s")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("not a JSON object", r.stderr)
        self.assertIn("if every broker is up", r.stdout)


class PubSub(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-cluster-pubsub-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_pub_reaches_the_broker_that_is_up(self):
        broker = H.start(self, "broker")
        brokers = nodes(self.dir, ids=("b1", "b2"))
        # b1 is down (nobody binds its endpoints), b2 is this broker
        brokers[1].update(publish=broker.pull, router=broker.router, stream=broker.xpub)
        path = os.path.join(self.dir, "cluster.json")
        with open(path, "w") as f:
            json.dump({"brokers": brokers}, f)
        r = cli("pub", "orders", '{"n":1}', "--ack", "--cluster", path, "--timeout", "5s")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["seq"], 1)
        r = cli("pub", "orders", '{"n":2}', "--cluster", path, "--timeout", "5s")
        self.assertEqual(r.returncode, 0, r.stderr)
        probe = H.dealer(self, broker.router)
        H.wait_until(lambda: probe.request({"op": "history", "ch": "orders", "since": 0,
                                            "limit": 0})["head"] == 2,
                     10, "the PUSH publish in the broker's history")

    def test_sub_prints_each_event_once(self):
        # Two fake brokers' streams; the same events come from both
        xpubs, brokers = [], nodes(self.dir, ids=("b1", "b2"))
        for node in brokers:
            s = H.ZMQ.socket(zmq.XPUB)
            s.setsockopt(zmq.LINGER, 0)
            s.bind(node["stream"])
            self.addCleanup(s.close)
            xpubs.append(s)
        path = os.path.join(self.dir, "cluster.json")
        with open(path, "w") as f:
            json.dump({"brokers": brokers}, f)
        sub = Sub(self, "orders", "--cluster", path)
        for s in xpubs:        # each stream has the subscription: sub is connected
            self.assertTrue(s.poll(10000), "no subscription from herald sub")
            self.assertEqual(s.recv(), b"\x01orders|")
        old = H.make_epoch(1, 1000)
        e1 = H.make_epoch(2, 1000)
        e2 = H.make_epoch(3, 1000)

        def send(s, epoch, seq):
            s.send_multipart([b"orders|", msgpack.packb(
                {"ch": "orders", "seq": seq, "epoch": epoch, "ts": 1, "data": seq})])

        send(xpubs[0], e1, 1)
        send(xpubs[0], e1, 2)
        sub.wait_lines(2)
        for seq in (1, 2, 3):       # the other broker: two repeats, then news
            send(xpubs[1], e1, seq)
        sub.wait_lines(3)
        send(xpubs[0], old, 9)      # an older epoch: ignored
        send(xpubs[0], e2, 1)       # a newer one: printed (a reset)
        lines = sub.wait_lines(4)
        self.assertEqual([(e["epoch"], e["seq"]) for e in lines],
                         [(e1, 1), (e1, 2), (e1, 3), (e2, 1)])
        send(xpubs[1], e1, 4)       # the old epoch again, from the lagging broker
        send(xpubs[1], e2, 1)
        send(xpubs[1], e2, 2)
        lines = sub.wait_lines(5)
        self.assertEqual((lines[4]["epoch"], lines[4]["seq"]), (e2, 2))
        self.assertEqual(sub.stop(), 0)
        self.assertEqual(len(sub.lines), 5, sub.lines)


if __name__ == "__main__":
    unittest.main()
