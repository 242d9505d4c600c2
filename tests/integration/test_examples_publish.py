"""examples/publish/: every example run as its README says, against a real
`herald run`, with the addresses in its environment variables. Each must
publish its one event on `demo`, with type `greeting` and data
{"from": NAME}, exactly once; the acknowledged ones must print the seq and
epoch the event was given. Go, Node and the example's npm packages are
required, not optional: a missing one fails with what installs it."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import harness as H

EXAMPLES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "..", "..", "examples", "publish"))
INSTALL = "scripts/install-deps.sh test (make test-deps) installs it"

#  path under examples/publish -> (the data's "from", acknowledged)
CASES = {
    "python/push.py": ("python-push", False),
    "python/dealer.py": ("python-dealer", True),
    "python/http_post.py": ("python-http", True),
    "node/fetch.mjs": ("node-fetch", True),
    "node/zmq_dealer.mjs": ("node-zmq", True),
    "go/http.go": ("go-http", True),
    "shell/curl.sh": ("curl", True),
    "shell/herald-pub.sh": ("herald-pub", True),
}
RUNNERS = {".py": [sys.executable], ".mjs": ["node"], ".go": ["go", "run"], ".sh": ["sh"]}
#  Lines of code an example may have, not counting comments, blank lines,
#  imports and lone closing brackets ("about ten")
MAX_CODE_LINES = 13
IMPORT = re.compile(r'^(import\b|from \S+ import\b|package\b|"[\w/]+"$|\)$|[})\]]+;?$)')


def tool(name, package):
    path = shutil.which(name)
    if not path:
        raise AssertionError("%s is not installed (Debian package %s): %s"
                             % (name, package, INSTALL))
    return path


def code_lines(path):
    comment = "//" if path.endswith((".go", ".mjs")) else "#"
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    return [line for line in lines
            if line and not line.startswith(comment) and not IMPORT.match(line)]


class PublishExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        #  One Go build cache for the class, new each run: `go run` must
        #  build from the standard library alone, with no module download
        cls.gotmp = tempfile.mkdtemp(prefix="herald-go-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.gotmp, True)

    def setUp(self):
        self.h = H.start(self, "run")
        self.sse = H.subscribed(self, self.h.http, ["demo"])

    def env(self):
        env = dict(os.environ)
        env.update(HERALD_URL=self.h.http, HERALD_PULL=self.h.pull,
                   HERALD_ROUTER=self.h.router, HERALD=H.herald_binary(),
                   GOCACHE=os.path.join(self.gotmp, "cache"),
                   GOPATH=os.path.join(self.gotmp, "path"),
                   GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local",
                   GOTELEMETRY="off")
        return env

    def run_example(self, relpath):
        path = os.path.join(EXAMPLES, relpath)
        argv = RUNNERS[os.path.splitext(path)[1]] + [path]
        try:
            done = subprocess.run(argv, cwd=os.path.dirname(path), env=self.env(),
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=180)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("%s did not exit within 180 s: %s" % (relpath, e))
        out, err = done.stdout.decode(), done.stderr.decode()
        self.assertEqual(done.returncode, 0, "%s exited %d\nstdout: %s\nstderr: %s"
                         % (relpath, done.returncode, out, err))
        return out

    def check(self, relpath):
        name, acknowledged = CASES[relpath]
        out = self.run_example(relpath)
        first = self.sse.wait_events(1, timeout=10)[0].json
        #  Then an acknowledged publish of ours: once it is delivered, the
        #  channel holds exactly what came before it (a second copy of the
        #  example's event, from a retry, would sit between the two)
        ack = H.publish(self.h.http, {"channel": "demo", "data": "end"})
        self.assertEqual(ack.status, 200, ack)
        self.sse.wait_for(lambda c: any(e.json["data"] == "end" for e in c.events), 10,
                          "the closing event")
        got = self.sse.envelopes()
        self.assertEqual([(e["channel"], e["seq"], e.get("type"), e["data"]) for e in got],
                         [("demo", 1, "greeting", {"from": name}), ("demo", 2, None, "end")],
                         "%s: events on demo: %s\nits output: %s" % (relpath, got, out))
        if acknowledged:
            try:
                reply = json.loads(out.strip().splitlines()[-1])
            except (IndexError, ValueError):
                self.fail("%s printed no acknowledgement as its last line: %r" % (relpath, out))
            self.assertEqual((reply["seq"], reply["epoch"]), (1, first["epoch"]),
                             "%s printed %s" % (relpath, out))
            self.assertIs(reply.get("duplicate", reply.get("dup")), False, out)

    def test_python_push(self):
        self.check("python/push.py")

    def test_python_dealer(self):
        self.check("python/dealer.py")

    def test_python_http(self):
        self.check("python/http_post.py")

    def test_node_fetch(self):
        tool("node", "nodejs")
        self.check("node/fetch.mjs")

    def test_node_zmq_dealer(self):
        tool("node", "nodejs")
        modules = os.path.join(EXAMPLES, "node", "node_modules")
        for package in ("zeromq", "@msgpack/msgpack"):
            self.assertTrue(os.path.isdir(os.path.join(modules, package)),
                            "npm package %s missing from examples/publish/node: `make "
                            "test-deps` runs npm ci there" % package)
        self.check("node/zmq_dealer.mjs")

    def test_go_http(self):
        tool("go", "golang-go")
        self.check("go/http.go")

    def test_shell_curl(self):
        tool("curl", "curl")
        self.check("shell/curl.sh")

    def test_shell_herald_pub(self):
        self.check("shell/herald-pub.sh")


class Layout(unittest.TestCase):
    def test_every_example_is_tested_small_and_in_the_readme(self):
        found = set()
        for folder in ("python", "node", "go", "shell"):
            for name in os.listdir(os.path.join(EXAMPLES, folder)):
                if os.path.splitext(name)[1] in RUNNERS:
                    found.add(folder + "/" + name)
        self.assertEqual(found, set(CASES), "examples and the test's CASES differ")
        with open(os.path.join(EXAMPLES, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        for relpath in CASES:
            self.assertIn("(%s)" % relpath, readme, "README.md does not link " + relpath)
            lines = code_lines(os.path.join(EXAMPLES, relpath))
            self.assertLessEqual(len(lines), MAX_CODE_LINES,
                                 "%s: %d lines of code" % (relpath, len(lines)))


if __name__ == "__main__":
    unittest.main()
