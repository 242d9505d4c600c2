"""Shared helpers for Herald's integration tests.

Starts the real `herald` binary (path in $HERALD) on ephemeral loopback
ports, and talks to it as independent clients do: a raw-socket SSE client,
ZeroMQ PUSH/DEALER/REQ publishers (MessagePack), and urllib for HTTP.
Standard library + zmq + msgpack only; run with /usr/bin/python3.

Never sleep to synchronise: wait for a condition with wait_until().
"""
import atexit
import base64
import codecs
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import msgpack
import zmq

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")
ZMQ = zmq.Context()


def herald_binary():
    path = os.environ.get("HERALD")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "herald")
    if not os.access(path, os.X_OK):
        raise RuntimeError("set HERALD to the herald binary (not found: %s)" % path)
    return os.path.abspath(path)


def wait_until(predicate, timeout=5.0, message="condition", interval=0.01):
    """Polls predicate until it returns a true value (returned) or fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, message))
        time.sleep(interval)


_ENDPOINTS = {"dir": None, "count": 0}


def unused_endpoint():
    """A ZeroMQ endpoint nobody listens on until this test binds it: an
    ipc:// path in a private directory. Unlike a "free" tcp port found by
    binding port 0 and closing, no concurrent test (ctest -j) can take it
    between now and its bind (a broker started later, or restarted)."""
    if _ENDPOINTS["dir"] is None:
        _ENDPOINTS["dir"] = tempfile.mkdtemp(prefix="herald-ep-")
        atexit.register(shutil.rmtree, _ENDPOINTS["dir"], True)
    _ENDPOINTS["count"] += 1
    return "ipc://%s/%d" % (_ENDPOINTS["dir"], _ENDPOINTS["count"])


free_tcp_endpoint = unused_endpoint     # the old name; it raced under ctest -j


def _tcp(endpoints):
    return next((e for e in (endpoints or "").split(",") if e.startswith("tcp://")), None)


# ---------------------------------------------------------------- processes

class Herald:
    """One herald process (run, broker or gateway) with its log lines."""
    DEFAULTS = {
        "run": ["--http", "127.0.0.1:0", "--pull", "tcp://127.0.0.1:*", "--router",
                "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*", "--workers", "2"],
        "broker": ["--pull", "tcp://127.0.0.1:*", "--router", "tcp://127.0.0.1:*",
                   "--xpub", "tcp://127.0.0.1:*"],
        "gateway": ["--http", "127.0.0.1:0", "--workers", "2"],
    }

    def __init__(self, command="run", args=(), env=None, ready_timeout=20.0, wrap=()):
        """wrap: a command line that runs herald (`ip netns exec NS`): it
        must exec it, so that self.pid is herald's."""
        self.command = command
        full_env = dict(os.environ)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        full_env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        full_env.update(env or {})
        self.argv = list(wrap) + [herald_binary(), command] + self.DEFAULTS[command] + \
            ["--log-format", "json"] + list(args)
        self.lines, self.stdout_lines = [], []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=full_env)
        self.pid = self.proc.pid
        self.returncode = None
        self._threads = [threading.Thread(target=self._pump, args=(s, l), daemon=True)
                         for s, l in ((self.proc.stderr, self.lines),
                                      (self.proc.stdout, self.stdout_lines))]
        for t in self._threads:
            t.start()
        self.ready = self._wait_ready(ready_timeout)
        self.http = self.ready.get("http")
        self.pull = _tcp(self.ready.get("pull"))
        self.router = _tcp(self.ready.get("router"))
        self.xpub = _tcp(self.ready.get("xpub"))

    def _pump(self, stream, lines):
        for raw in iter(stream.readline, b""):
            with self._lock:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def logs(self):
        """Every stderr line parsed as JSON (non-JSON lines are skipped)."""
        out = []
        for line in self.stderr_lines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stderr_lines(self):
        with self._lock:
            return list(self.lines)

    def stderr(self):
        return "\n".join(self.stderr_lines())

    def _wait_ready(self, timeout):
        def ready():
            for entry in self.logs():
                if entry.get("msg") == "ready":
                    return entry
            if self.proc.poll() is not None:
                raise AssertionError("herald %s exited %s before ready:\n%s"
                                     % (self.command, self.proc.returncode, self.stderr()))
            return None
        try:
            return wait_until(ready, timeout, "herald %s to log ready" % self.command)
        except BaseException:
            self.kill()
            raise

    def running(self):
        return self.proc.poll() is None

    def send_signal(self, signo):
        if self.running():
            os.kill(self.pid, signo)

    def kill(self):
        """Last resort, by PID; idempotent."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(10)
        for t in self._threads:
            t.join(5)

    def sanitizer_report(self):
        text = self.stderr()
        return next((m for m in SANITIZER_MARKERS if m in text), None)

    def stop(self, timeout=10.0, signo=signal.SIGTERM, expect_code=0):
        """SIGTERM, wait, then assert exit code and no sanitizer report.
        The process is dead when this returns, assertion or not."""
        if self.returncode is not None:
            return self.returncode
        self.send_signal(signo)
        started = time.monotonic()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.returncode = self.proc.returncode
            raise AssertionError("herald %s did not exit within %.1fs of signal %d:\n%s"
                                 % (self.command, timeout, signo, self.stderr()[-4000:]))
        self.elapsed = time.monotonic() - started
        for t in self._threads:
            t.join(5)
        self.returncode = self.proc.returncode
        report = self.sanitizer_report()
        if report:
            raise AssertionError("herald %s: sanitizer report (%s):\n%s"
                                 % (self.command, report, self.stderr()[-6000:]))
        if expect_code is not None and self.returncode != expect_code:
            raise AssertionError("herald %s exited %s, expected %s:\n%s"
                                 % (self.command, self.returncode, expect_code,
                                    self.stderr()[-4000:]))
        return self.returncode


def start(test, command="run", *args, env=None):
    """Starts herald and registers its stop (with checks) as test cleanup."""
    h = Herald(command, args, env=env)
    test.addCleanup(h.kill)         # runs last: the process never outlives the test
    test.addCleanup(h.stop)
    return h


def start_split(test, broker_args=(), gateway_args=()):
    broker = start(test, "broker", *broker_args)
    gateway = start(test, "gateway", "--broker", "%s,%s" % (broker.xpub, broker.router),
                    *gateway_args)
    wait_broker_linked(gateway)
    return broker, gateway


def wait_broker_linked(gateway, timeout=10.0):
    """A gateway logs ready when it listens; its workers connect to the broker
    in the background and answer 503 until then. /readyz says when all are."""
    wait_until(lambda: http("GET", gateway.http + "/readyz").status == 200, timeout,
               "the gateway to reach its broker (/readyz)")


class Restartable:
    """A herald run or broker that stops and starts again on the same
    arguments (a durable --data-dir survives it): its ZeroMQ endpoints are
    private ipc paths and, for run, its HTTP port is the one its first start
    got, so publishers, clients and a gateway find it again. .proc is the
    current process; the test's cleanup stops it (with checks)."""

    def __init__(self, test, command, *args):
        self.command = command
        self.pull, self.router, self.xpub = (unused_endpoint() for _ in range(3))
        self.args = ["--pull", self.pull, "--router", self.router, "--xpub", self.xpub]
        self.args += list(args)
        self.procs = [Herald(command, self.args)]
        test.addCleanup(lambda: [p.kill() for p in self.procs])
        test.addCleanup(lambda: self.proc.stop())
        self.http = self.proc.http
        if self.http:
            self.args += ["--http", "127.0.0.1:%d" % int(self.http.rsplit(":", 1)[1])]

    @property
    def proc(self):
        return self.procs[-1]

    def restart(self, signo=signal.SIGTERM):
        """Stops the process (SIGTERM: a clean stop, checked; SIGKILL: a
        crash) and starts it again; returns the new process."""
        if signo == signal.SIGKILL:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.kill()
            self.proc.returncode = self.proc.proc.returncode    # stopped: nothing to check
        else:
            self.proc.stop(signo=signo)
        self.procs.append(Herald(self.command, self.args))
        return self.proc


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


def http(method, url, body=None, headers=None, timeout=10.0):
    """One HTTP request; returns Response(status, headers, body) for any status."""
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Response(e.code, e.headers, e.read())


def publish(base, event, **kw):
    return http("POST", base + "/v1/publish", event, **kw)


def history_all(base, channel, limit=1000):
    """Every event a channel keeps, read with GET /v1/history page by page
    from seq 1: (the last page's reply, the events). A reset fails."""
    events = []
    while True:
        query = urllib.parse.urlencode({"channel": channel, "limit": limit,
                                        "since": events[-1]["seq"] if events else 0})
        r = http("GET", base + "/v1/history?" + query)
        assert r.status == 200 and r.json["reset"] is None, (channel, r)
        page = r.json
        events += page["events"]
        if not page["events"] or events[-1]["seq"] >= page["head"]:
            return page, events


def metrics(base):
    """Prometheus text parsed into {'name{labels}': value}."""
    r = http("GET", base + "/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def metric(base, key):
    return metrics(base).get(key, 0.0)


# ---------------------------------------------------------------- ZeroMQ

class Zmq:
    """A PUSH, DEALER or REQ socket speaking MessagePack to a broker."""

    def __init__(self, kind, endpoint, linger=2000):
        self.sock = ZMQ.socket(kind)
        self.sock.setsockopt(zmq.LINGER, linger)
        self.sock.connect(endpoint)

    def send(self, obj):
        self.sock.send(msgpack.packb(obj, use_bin_type=True))

    def send_raw(self, *frames):
        self.sock.send_multipart(list(frames))

    def recv(self, timeout=5.0):
        """Next reply: a list of unpacked frames (a REQ/DEALER reply is usually one)."""
        if not self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            raise AssertionError("no reply within %.1fs" % timeout)
        frames = self.sock.recv_multipart()
        return [msgpack.unpackb(f, raw=False, strict_map_key=False) for f in frames]

    def request(self, obj, timeout=5.0):
        self.send(obj)
        return self.recv(timeout)[0]

    def close(self):
        self.sock.close()


def pusher(test, endpoint):
    z = Zmq(zmq.PUSH, endpoint)
    test.addCleanup(z.close)
    return z


def dealer(test, endpoint):
    z = Zmq(zmq.DEALER, endpoint, linger=0)
    test.addCleanup(z.close)
    return z


def requester(test, endpoint):
    z = Zmq(zmq.REQ, endpoint, linger=0)
    test.addCleanup(z.close)
    return z


# ---------------------------------------------------------------- SSE

class Event:
    def __init__(self, type, data, id, t):
        self.type, self.data, self.id, self.t = type, data, id, t

    @property
    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return "<Event %s id=%s %s>" % (self.type, (self.id or "")[:12], self.data[:200])


class SSEClient:
    """GET /v1/sse over a raw socket; parses chunked transfer coding and
    text/event-stream (WHATWG) in a thread. Attributes: status, headers,
    body (error responses), events, comments [(t, text)], retries,
    positions (ids set by blocks without data), last_id, log [kind, ...]."""

    def __init__(self, base, channels, last_event_id=None, query=None, headers=None,
                 timeout=10.0):
        u = urllib.parse.urlsplit(base)
        params = [("channel", c) for c in channels] + list((query or {}).items())
        self.path = "/v1/sse?" + urllib.parse.urlencode(params)
        self.cond = threading.Condition()
        self.events, self.comments, self.retries, self.positions, self.log = [], [], [], [], []
        self.last_id, self.ended, self.clean_end, self.raw = "", False, False, ""
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        lines = ["GET %s HTTP/1.1" % self.path, "Host: %s" % u.netloc,
                 "Accept: text/event-stream"]
        if last_event_id is not None:
            lines.append("Last-Event-ID: %s" % last_event_id)
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        self._buf = bytearray()
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            self._read_head(timeout)
        except BaseException:
            self.sock.close()       # cut (a server stopping): else a ResourceWarning
            raise
        self.body = b""
        if self.status != 200:
            self._read_error_body(timeout)
            self.sock.close()
            return
        self.sock.settimeout(None)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text, self._block = "", {"data": [], "event": "", "id": None}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self._buf += chunk

    def _read_head(self, timeout):
        while b"\r\n\r\n" not in self._buf:
            self._fill()
        head, _, rest = bytes(self._buf).partition(b"\r\n\r\n")
        self._buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()

    def _read_error_body(self, timeout):
        if "content-length" in self.headers:
            n = int(self.headers["content-length"])
            while len(self._buf) < n:
                self._fill()
            self.body = bytes(self._buf[:n])
        else:
            try:
                while True:
                    self._fill()
            except (EOFError, OSError):
                pass
            self.body = bytes(self._buf)

    @property
    def json(self):
        return json.loads(self.body.decode())

    def _run(self):
        try:
            if self.chunked:
                self._run_chunked()
            else:
                while True:
                    self._feed(bytes(self._buf))
                    self._buf.clear()
                    self._fill()
        except (EOFError, OSError, ValueError):
            pass
        with self.cond:
            self.ended = True
            self.log.append("end")
            self.cond.notify_all()

    def _run_chunked(self):
        while True:
            while b"\r\n" not in self._buf:
                self._fill()
            line, _, rest = bytes(self._buf).partition(b"\r\n")
            size = int(line.split(b";")[0].strip(), 16)
            self._buf = bytearray(rest)
            if size == 0:
                with self.cond:
                    self.clean_end = True
                return
            while len(self._buf) < size + 2:
                self._fill()
            if self._buf[size:size + 2] != b"\r\n":
                raise ValueError("bad chunk terminator")
            self._feed(bytes(self._buf[:size]))
            del self._buf[:size + 2]

    def _feed(self, data):
        text = self._decoder.decode(data)
        with self.cond:
            if not self.raw and text.startswith("\ufeff"):
                text = text[1:]
            self.raw += text
            self._text += text
            while True:
                cut = min((i for i in (self._text.find("\r"), self._text.find("\n")) if i >= 0),
                          default=-1)
                if cut < 0 or (self._text[cut] == "\r" and cut + 1 == len(self._text)):
                    break       # no full line yet, or CR that may start CRLF
                line = self._text[:cut]
                step = 2 if self._text[cut:cut + 2] == "\r\n" else 1
                self._text = self._text[cut + step:]
                self._line(line)
            self.cond.notify_all()

    def _line(self, line):
        now, block = time.monotonic(), self._block
        if line == "":
            if block["id"] is not None:
                self.last_id = block["id"]
            if not block["data"]:
                if block["id"] is not None:
                    self.positions.append(block["id"])
                    self.log.append("position")
            else:
                self.events.append(Event(block["event"] or "message", "\n".join(block["data"]),
                                         self.last_id, now))
                self.log.append("event")
            self._block = {"data": [], "event": "", "id": None}
            return
        if line.startswith(":"):
            self.comments.append((now, line[1:]))
            self.log.append("comment")
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            block["data"].append(value)
        elif name == "event":
            block["event"] = value
        elif name == "id" and "\0" not in value:
            block["id"] = value
        elif name == "retry" and value.isdigit():
            self.retries.append(int(value))
            self.log.append("retry")

    def wait_for(self, predicate, timeout=5.0, message="SSE condition"):
        """Waits until predicate(self) is true (returned); fails at the deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:     # after the end nothing changes
                    raise AssertionError("%s waiting for %s; log=%s events=%s" % (
                        "stream ended" if self.ended else "timed out after %.1fs" % timeout,
                        message, self.log[-20:], self.events[-5:]))
                self.cond.wait(left)

    def wait_subscribed(self, timeout=5.0):
        """Waits for the position id the gateway sends once it is subscribed."""
        return self.wait_for(lambda c: c.positions, timeout, "the subscription position")

    def wait_events(self, n, timeout=5.0, type=None):
        """Waits for n events (of an event type, when given) and returns them."""
        pick = lambda c: [e for e in c.events if type is None or e.type == type]
        self.wait_for(lambda c: len(pick(c)) >= n, timeout, "%d SSE events" % n)
        with self.cond:
            return pick(self)[:n]

    def wait_end(self, timeout=5.0):
        return self.wait_for(lambda c: c.ended, timeout, "the SSE stream to end")

    def envelopes(self):
        with self.cond:
            return [e.json for e in self.events if e.type == "message"]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.status == 200:
            self._thread.join(5)


def sse(test, base, channels, **kw):
    """Opens an SSE client closed at test cleanup."""
    c = SSEClient(base, channels, **kw)
    test.addCleanup(c.close)
    return c


def subscribed(test, base, channels, **kw):
    """Opens an SSE client and waits until its subscription is in place."""
    c = sse(test, base, channels, **kw)
    test.assertEqual(c.status, 200, c.body)
    c.wait_subscribed()
    return c


# ---------------------------------------------------------------- epochs

# docs/protocol.md §1.1: 32 lowercase hex digits, 16 of the generation
# ((view << 40) | ms since 2025-01-01T00:00:00Z), then 16 random.
EPOCH_RE = r"^[0-9a-f]{32}$"
EPOCH_CLOCK_BASE_MS = 1735689600000


def epoch_generation(epoch):
    """The generation of an epoch; 0 for anything else (an old 16-hex epoch)."""
    if not isinstance(epoch, str) or len(epoch) != 32 or epoch.strip("0123456789abcdef"):
        return 0
    return int(epoch[:16], 16)


def make_epoch(view, ms, random="0123456789abcdef"):
    """An epoch of generation (view << 40) | ms, for fake brokers and cursors."""
    return "%016x%s" % (view << 40 | ms, random)


# ---------------------------------------------------------------- clusters

def stopped(pid):
    """True when every thread of pid is stopped (SIGSTOP). A group stop
    begins only when one of the process's threads runs: on a loaded machine
    a broker may go on for a moment after the signal was sent."""
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
            if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                return False
    return True


def rendezvous_weight(broker_id, channel):
    """hr_cluster_weight (docs/cluster.md, "Ownership"): splitmix64's
    finaliser of FNV-1a-64(id) xor FNV-1a-64(channel)."""
    def fnv1a64(data):
        h = 0xcbf29ce484222325
        for b in data:
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
        return h
    x = fnv1a64(broker_id.encode()) ^ fnv1a64(channel.encode())
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def rendezvous_order(ids, channel):
    """The channel's order over the broker ids given in file order (falling
    weight, file order breaking ties): [0] is its owner, [1] its backup."""
    return sorted(ids, key=lambda i: (-rendezvous_weight(i, channel), ids.index(i)))


# ---------------------------------------------------------------- cursors

def fnv1a(data, state=2166136261):
    for b in data:
        state = ((state ^ b) * 16777619) & 0xFFFFFFFF
    return state


def decode_cursor(text):
    """docs/protocol.md §6: returns {channel_hash, positions: [(epoch, seq)]}."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    assert fnv1a(raw[:-4]) == int.from_bytes(raw[-4:], "little"), "cursor checksum"
    assert raw[0] == 1, "cursor version"
    pos = 5

    def varint():
        nonlocal pos
        value = shift = 0
        while True:
            b = raw[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value
    count = varint()
    positions = []
    for _ in range(count):
        n = raw[pos]
        epoch = raw[pos + 1:pos + 1 + n].decode()
        pos += 1 + n
        positions.append((epoch, varint()))
    assert pos == len(raw) - 4, "cursor trailing bytes"
    return {"channel_hash": int.from_bytes(raw[1:5], "little"), "positions": positions}


def channel_set_hash(channels):
    return fnv1a(b"".join(c.encode() + b"\n" for c in sorted(set(channels))))


def is_compact_json(text):
    """True when the JSON text has no whitespace outside strings."""
    in_string, i = False, 0
    while i < len(text):
        ch = text[i]
        if in_string and ch == "\\":
            i += 1
        elif ch == '"':
            in_string = not in_string
        elif not in_string and ch in " \t\r\n":
            return False
        i += 1
    return True

