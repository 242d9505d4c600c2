#!/usr/bin/python3
"""Durable history (issue 12, Measured; docs/benchmarks.md, "Durable
history"): `herald broker` with the in-memory store against `--data-dir`
(LMDB) at each `--fsync` setting, measured in the same run.

  /usr/bin/python3 bench/store.py --herald build/herald [--runs 3] [--json]

Stores (--modes): `memory` (no --data-dir), `always`, `batch`, `off`
(--data-dir in a fresh temporary directory, --fsync MODE). Each run starts
a fresh broker per store, the order rotated from run to run; the ratios
"x memory" are taken within a run, then the median over runs.

1. Ingest over PUSH: --publishers `herald bench --mode ingest` processes
   at once (100-byte payloads, event S to channel (S-1) % --channels), as
   fast as the broker takes them, for --duration s. Events/s *stored* is
   from the broker's herald_broker_events_total (sampled every 100 ms, from
   the first increase to the last); at the end every channel's head (a
   history request) must add up to what the publishers sent, so nothing is
   counted that was not stored. Broker CPU per event is its utime + stime
   (all threads) over the same samples; disk bytes per event from
   /proc/PID/io write_bytes; commits and fsyncs from its /metrics.
2. Acknowledged publishes over DEALER on the same broker: one at a time
   for --latency-duration s (p50/p99/max of send to ack) to --channels
   channels in turn, then to --many-channels (10,000) in turn (each channel
   touched less often than --fsync-interval: with batch, each commit may
   then sync a channel's hot mark; fsyncs per ack from /metrics), then with
   64 unanswered (acks/s).
3. History reads (protocol.md §3.2): a fresh broker per store (memory and
   batch) filled with --history-channels x --history-events events, then
   --readers processes, each with 4 history requests in flight (from seq 0,
   limit 1000, a random channel), for --history-duration s: events/s read
   and broker CPU per 1,000 events. Every reply's header and count are
   checked, and the first and last event of each.
4. Restart (LMDB, --fsync batch): --restart-events events in
   --restart-channels channels, filled by --fill-publishers PUSH processes;
   then, --restarts times, SIGTERM and start again, SIGKILL and start
   again; then each once more with the data dir's pages dropped from the
   page cache (posix_fadvise DONTNEED: a cold start as after a reboot).
   Timed from the start of the process to its "ready" log line, to /readyz
   answering 200, and to a first history reply; each restart checks that a
   sample of 1,000 channels kept its epoch, head and first seq. Reports the
   data dir's size (allocated) and the stop time.

Every wait has a deadline; the broker processes are stopped by PID; the
temporary directory is removed at the end. Needs pyzmq and msgpack.
Prints Markdown tables of medians; --json prints the raw runs too."""
import argparse
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import msgpack
import zmq

MODES = ("memory", "always", "batch", "off")
CLK_TCK = os.sysconf("SC_CLK_TCK")
LIMIT = 1000


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(predicate, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(step)


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def dir_bytes(path):
    """Allocated bytes (st_blocks) and apparent bytes of the files under path."""
    blocks = size = 0
    for root, _, files in os.walk(path):
        for name in files:
            st = os.stat(os.path.join(root, name))
            blocks += st.st_blocks * 512
            size += st.st_size
    return blocks, size


def drop_cache(path):
    """Drops the pages of path's files from the page cache (only those)."""
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


class Broker:
    """`herald broker` on ephemeral loopback ports. started: monotonic time
    of the spawn; ready_s: from it to the "ready" log line; readyz_s: to
    /readyz answering 200 (polled every 5 ms when poll_ready)."""

    def __init__(self, herald, mode, data_dir, args=(), poll_ready=False, timeout=120):
        self.http = "127.0.0.1:%d" % free_port()
        argv = [herald, "broker", "--pull", "tcp://127.0.0.1:*", "--router",
                "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*", "--http", self.http,
                "--log-format", "json"]
        if mode != "memory":
            argv += ["--data-dir", data_dir, "--fsync", mode]
        argv += list(args)
        self.mode, self.lines, self.entry = mode, [], None
        self.ready_s = self.readyz_s = None
        got = threading.Event()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid

        def pump():
            for raw in iter(self.proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                if '"msg":"ready"' in line and not got.is_set():
                    self.ready_s = time.monotonic() - self.started
                    self.entry = json.loads(line)
                    got.set()
            got.set()
        threading.Thread(target=pump, daemon=True).start()
        if poll_ready:
            def poll():
                end = self.started + timeout
                while time.monotonic() < end and self.proc.poll() is None:
                    try:
                        with urllib.request.urlopen("http://%s/readyz" % self.http,
                                                    timeout=1) as r:
                            if r.status == 200:
                                self.readyz_s = time.monotonic() - self.started
                                return
                    except (urllib.error.URLError, OSError):
                        pass
                    time.sleep(0.005)
            self.poller = threading.Thread(target=poll, daemon=True)
            self.poller.start()
        got.wait(timeout)
        if not self.entry:
            self.kill()
            raise RuntimeError("herald broker (%s) did not start:\n%s"
                               % (mode, "\n".join(self.lines[-20:])))
        if poll_ready:
            self.poller.join(timeout)
        self.pull, self.router = self.entry["pull"], self.entry["router"]

    def metrics(self):
        """{name (with labels): value} of its /metrics."""
        out = {}
        with urllib.request.urlopen("http://%s/metrics" % self.http, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    try:
                        out[name] = float(value)
                    except ValueError:
                        pass
        return out

    def events(self):
        return self.metrics().get("herald_broker_events_total", 0.0)

    def cpu(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def io_written(self):
        with open("/proc/%d/io" % self.pid) as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
        return 0

    def rss_kb(self, field="VmRSS"):
        """VmRSS, or RssAnon: without the pages of the mapped store."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=60):
        """SIGTERM; returns (exit status, seconds to exit)."""
        t = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode, time.monotonic() - t

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# Requests over DEALER

class Dealer:
    def __init__(self, router):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(router)
        self.rid = 0

    def ask(self, request, timeout=10):
        self.rid += 1
        request = dict(request, rid=self.rid)
        self.sock.send(msgpack.packb(request))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                raise RuntimeError("no reply to %r" % request)
            frames = self.sock.recv_multipart()
            header = msgpack.unpackb(frames[0], raw=False)
            if header.get("rid") == self.rid:
                return header, frames[1:]

    def state(self, channel):
        """(epoch, head, first) of a channel, from a history request."""
        header, _ = self.ask({"op": "history", "ch": channel, "limit": 1})
        if "error" in header:
            raise RuntimeError("history of %s: %r" % (channel, header))
        return header.get("epoch"), header.get("head"), header.get("first")

    def close(self):
        self.sock.close()
        self.ctx.term()


def payload(i):
    """A 100-byte data value (MessagePack)."""
    return {"n": i, "pad": "x" * 88}


def push_fill(endpoint, channels, per_channel, prefix):
    """PUSHes per_channel events to each of channels (round by round), in a
    process of its own; returns when ZeroMQ has handed them all over."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 120000)
    sock.setsockopt(zmq.SNDHWM, 10000)
    sock.connect(endpoint)
    names = ["%s%d" % (prefix, c) for c in channels]
    for e in range(per_channel):
        data = msgpack.packb(payload(e))
        for name in names:
            # {"ch": name, "data": ...} packed by hand: the data is the same per round
            sock.send(b"\x82\xa2ch" + msgpack.packb(name) + b"\xa4data" + data)
    sock.close()
    ctx.term()


def fill(broker, channels, per_channel, prefix, procs, timeout):
    """per_channel events in each of channels channels from procs processes;
    waits until the broker counted them all. Returns seconds."""
    base = broker.events()
    total = channels * per_channel
    t = time.monotonic()
    workers = [multiprocessing.Process(target=push_fill, args=(
        broker.pull, range(p, channels, procs), per_channel, prefix)) for p in range(procs)]
    for w in workers:
        w.start()
    try:
        wait(lambda: broker.events() - base >= total, timeout, "the fill (%d events)" % total,
             0.1)
    finally:
        for w in workers:
            w.join(30)
            if w.is_alive():
                w.kill()
    return time.monotonic() - t


# 1. Ingest

def ingest(herald, broker, duration, channels, publishers):
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append((time.monotonic(), broker.events(), broker.cpu(),
                            broker.io_written()))
            time.sleep(0.1)
    sampler = threading.Thread(target=sample, daemon=True)
    m0 = broker.metrics()
    sampler.start()
    argv = [herald, "bench", "--mode", "ingest", "--json", "-q", "--zmq-endpoint",
            broker.pull, "-s", "100", "--channel", "in", "--channels", str(channels),
            "-d", str(duration)]
    pubs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(publishers)]
    reports = []
    try:
        for p in pubs:
            out, err = p.communicate(timeout=duration + 120)
            if p.returncode != 0:
                raise RuntimeError("herald bench ingest failed: " + err[-2000:])
            reports.append(json.loads(out))
    finally:
        for p in pubs:
            if p.poll() is None:
                p.kill()
                p.wait()
    published = sum(r["sent"] for r in reports) + len(reports)     # + each untimed first
    # Until the broker counted what is queued, or nothing moved for 2 s
    try:
        wait(lambda: len(samples) > 20 and (samples[-1][1] - samples[0][1] >= published
                                            or samples[-1][1] == samples[-21][1]),
             120, "the broker to take the queue")
    finally:
        done.set()
        sampler.join()
    m1 = broker.metrics()
    moving = [i for i in range(1, len(samples)) if samples[i][1] != samples[i - 1][1]]
    first, last = samples[moving[0] - 1], samples[moving[-1]]
    events = last[1] - samples[0][1]
    window = last[0] - first[0]
    # Stored: every channel's head, from the store
    d = Dealer(broker.router)
    try:
        stored = sum(d.state("in-%d" % c)[1] or 0 for c in range(channels))
    finally:
        d.close()

    def delta(name):
        return m1.get(name, 0.0) - m0.get(name, 0.0)
    commits = delta("herald_store_commits_total")
    return {
        "events/s": (last[1] - first[1]) / window if window > 0 else float("nan"),
        "sent/s": sum(r["sent"] / r["send_s"] for r in reports if r["send_s"]),
        "cpu us/event": (last[2] - first[2]) * 1e6 / max(last[1] - first[1], 1),
        "disk bytes/event": (last[3] - first[3]) / max(last[1] - first[1], 1),
        "published": published, "counted": events, "stored": stored,
        "commits": commits, "events/commit": events / commits if commits else float("nan"),
        "commit ms mean": (delta("herald_store_commit_microseconds_total") / 1000 / commits
                           if commits else float("nan")),
        "commit share": (delta("herald_store_commit_microseconds_total") / 1e6 / window
                         if window > 0 else float("nan")),
        "fsyncs/s": delta("herald_store_fsyncs_total") / window if window > 0 else 0.0,
        "store failures": delta("herald_store_failures_total"),
    }


# 2. Acknowledged publishes

def acked(broker, duration, channels, window):
    """Acknowledged publishes with at most window unanswered, for duration s."""
    m0 = broker.metrics()
    d = Dealer(broker.router)
    sent, lat, errors = {}, [], []
    t0 = time.monotonic()
    end = t0 + duration
    last_ack = t0
    try:
        while True:
            now = time.monotonic()
            while now < end and len(sent) < window:
                d.rid += 1
                d.sock.send(msgpack.packb({"ch": "ack-%d" % (d.rid % channels),
                                           "data": payload(d.rid), "rid": d.rid}))
                sent[d.rid] = time.monotonic()
            if not sent:
                break
            if not d.sock.poll(10000):
                raise RuntimeError("no ack within 10 s (%d unanswered)" % len(sent))
            while True:
                try:
                    raw = d.sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                got = time.monotonic()
                reply = msgpack.unpackb(raw, raw=False)
                at = sent.pop(reply.get("rid"), None)
                if at is None or "seq" not in reply:
                    errors.append(reply)
                    continue
                lat.append(got - at)
                last_ack = got
    finally:
        d.close()
    m1 = broker.metrics()
    fsyncs = (m1.get("herald_store_fsyncs_total", 0.0) - m0.get("herald_store_fsyncs_total", 0.0))
    return {"acks": len(lat), "acks/s": len(lat) / (last_ack - t0),
            "fsyncs/ack": fsyncs / max(len(lat), 1),
            "p50 ms": percentile(lat, 50) * 1000, "p99 ms": percentile(lat, 99) * 1000,
            "max ms": max(lat, default=float("nan")) * 1000, "errors": len(errors),
            "error samples": errors[:3]}


# 3. History reads

def reader(router, channels, events, start_at, duration, inflight, seed, out):
    rnd = random.Random(seed)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(router)
    asked, pending = 0, {}
    replies = got = 0
    errors = []

    def ask():
        nonlocal asked
        asked += 1
        c = rnd.randrange(channels)
        pending[asked] = c
        sock.send(msgpack.packb({"op": "history", "ch": "h-%d" % c, "since": 0,
                                 "limit": LIMIT, "rid": asked}))
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + duration
    for _ in range(inflight):
        ask()
    while pending:
        if not sock.poll(10000):
            errors.append("%d replies missing after 10 s" % len(pending))
            break
        frames = sock.recv_multipart()
        header = msgpack.unpackb(frames[0], raw=False)
        c = pending.pop(header.get("rid"), None)
        expect = min(events, LIMIT)
        if c is None or header.get("ch") != "h-%d" % c or header.get("count") != expect \
                or len(frames) != expect + 1:
            errors.append("bad reply %r with %d frames" % (header, len(frames) - 1))
        else:
            first = msgpack.unpackb(frames[1], raw=False)
            last = msgpack.unpackb(frames[-1], raw=False)
            if first.get("seq") != 1 or last.get("seq") != expect \
                    or last.get("data") != payload(expect - 1):
                errors.append("bad events %r .. %r" % (first, last))
            else:
                got += expect
        replies += 1
        if time.time() < end:
            ask()
    sock.close()
    ctx.term()
    out.put({"replies": replies, "events": got, "errors": errors[:3],
             "error_count": len(errors)})


def history(broker, readers, duration, channels, events, inflight=4):
    out = multiprocessing.Queue()
    start_at = time.time() + 1.0
    procs = [multiprocessing.Process(target=reader, args=(
        broker.router, channels, events, start_at, duration, inflight, i, out))
        for i in range(readers)]
    for p in procs:
        p.start()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0, t0 = broker.cpu(), time.monotonic()
    try:
        results = [out.get(timeout=duration + 60) for _ in procs]
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    cpu, elapsed = broker.cpu() - cpu0, time.monotonic() - t0
    got = sum(r["events"] for r in results)
    return {"events/s": got / elapsed, "replies": sum(r["replies"] for r in results),
            "cpu us/1000 events": cpu * 1e9 / max(got, 1),
            "errors": sum(r["error_count"] for r in results),
            "error samples": [e for r in results for e in r["errors"]][:3]}


# 4. Restart

def sample_states(broker, names):
    d = Dealer(broker.router)
    try:
        return {n: d.state(n) for n in names}
    finally:
        d.close()


def restart(herald, tmp, events, channels, procs, restarts):
    data = os.path.join(tmp, "restart")
    per = events // channels
    args = ["--history-size", str(max(per, 1000)), "--history-disk", "8G",
            "--max-channels", str(channels * 2)]
    broker = Broker(herald, "batch", data, args)
    out = {"events": per * channels, "channels": channels, "starts": []}
    try:
        out["fill s"] = fill(broker, channels, per, "r-", procs, 600)
        log("  filled %d events in %d channels in %.1f s"
            % (per * channels, channels, out["fill s"]))
        names = ["r-%d" % c for c in random.Random(1).sample(range(channels),
                                                             min(1000, channels))]
        before = sample_states(broker, names)
        bad = [n for n, s in before.items() if s[1] != per or s[2] != 1]
        if bad:
            raise RuntimeError("channels not filled: %r" % [(n, before[n]) for n in bad[:5]])
        m = broker.metrics()
        out["rss MB filled"] = broker.rss_kb() / 1024
        out["anon MB filled"] = broker.rss_kb("RssAnon") / 1024
        out["store disk bytes (metric)"] = m.get("herald_store_disk_bytes")
        out["store map bytes (metric)"] = m.get("herald_store_map_bytes")
        cases = []
        for _ in range(restarts):
            cases += ["SIGTERM", "SIGKILL"]
        cases += ["SIGTERM, cold cache", "SIGKILL, cold cache"]
        for case in cases:
            if case.startswith("SIGTERM"):
                status, stop_s = broker.stop()
                if status != 0:
                    raise RuntimeError("broker exited %s on SIGTERM:\n%s"
                                       % (status, "\n".join(broker.lines[-10:])))
            else:
                stop_s = None
                broker.kill()
            if "size MB" not in out:
                blocks, size = dir_bytes(data)
                out["size MB"], out["apparent MB"] = blocks / 2**20, size / 2**20
            if "cold" in case:
                drop_cache(data)
            broker = Broker(herald, "batch", data, args, poll_ready=True)
            d = Dealer(broker.router)
            try:
                d.state(names[0])
            finally:
                d.close()
            first_reply_s = time.monotonic() - broker.started
            start_cpu = broker.cpu()        # CPU the start took: steadier than wall time
            after = sample_states(broker, names)
            changed = [n for n in names if after[n] != before[n]]
            m = broker.metrics()
            start = {"case": case, "stop s": stop_s, "ready s": broker.ready_s,
                     "cpu s": start_cpu,
                     "readyz s": broker.readyz_s, "first reply s": first_reply_s,
                     "rss MB": broker.rss_kb() / 1024,
                     "anon MB": broker.rss_kb("RssAnon") / 1024, "changed": len(changed),
                     "changed samples": [(n, before[n], after[n]) for n in changed[:3]],
                     "kept": m.get('herald_store_recovered_channels{epoch="kept"}'),
                     "new": m.get('herald_store_recovered_channels{epoch="new"}')}
            out["starts"].append(start)
            log("  %s: ready %.3f s (CPU %.2f s), /readyz %.3f s, first reply %.3f s, %d of %d "
                "sampled channels changed, recovered kept %s new %s"
                % (case, start["ready s"], start_cpu, start["readyz s"] or float("nan"),
                   first_reply_s, len(changed), len(names), start["kept"], start["new"]))
    finally:
        broker.stop()
    return out


# The runs

def one_run(herald, tmp, run, modes, args):
    """Every store once, in rotated order; returns {mode: figures}."""
    order = modes[run % len(modes):] + modes[:run % len(modes)]
    res = {}
    for mode in order:
        data = os.path.join(tmp, "run%d-%s" % (run, mode))
        broker = Broker(herald, mode, data)
        try:
            r = {}
            if "ingest" in args.only:
                r["ingest"] = ingest(herald, broker, args.duration, args.channels,
                                     args.publishers)
            if "latency" in args.only:
                r["one at a time"] = acked(broker, args.latency_duration, args.channels, 1)
                r["one at a time, many channels"] = acked(broker, args.latency_duration,
                                                          args.many_channels, 1)
                r["window 64"] = acked(broker, args.latency_duration, args.channels, 64)
            status, _ = broker.stop()
            r["exit"] = status
        finally:
            broker.kill()
        if "history" in args.only and mode in ("memory", "batch"):
            broker = Broker(herald, mode, data + "-history",
                            ["--history-size", str(max(args.history_events, 1000))])
            try:
                r["fill s"] = fill(broker, args.history_channels, args.history_events, "h-", 2,
                                   300)
                r["history"] = history(broker, args.readers, args.history_duration,
                                       args.history_channels, args.history_events)
            finally:
                broker.stop()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(data + "-history", ignore_errors=True)
        res[mode] = r
        i = r.get("ingest", {})
        a, w, h = r.get("one at a time", {}), r.get("window 64", {}), r.get("history", {})
        log("  run %d %-6s ingest %s/s (%s us/event, %s B/event written, %s events/commit, "
            "stored %s of %s); acks one at a time p50 %s p99 %s ms; window 64 %s acks/s; "
            "history %s events/s (errors %s)"
            % (run + 1, mode, _f(i.get("events/s")), _f(i.get("cpu us/event")),
               _f(i.get("disk bytes/event")), _f(i.get("events/commit")), i.get("stored"),
               i.get("published"), _f(a.get("p50 ms")), _f(a.get("p99 ms")),
               _f(w.get("acks/s")), _f(h.get("events/s")), h.get("errors")))
    return res


def _f(v):
    if v is None:
        return "-"
    if isinstance(v, float) and v != v:
        return "n/a"
    if isinstance(v, float) and abs(v) < 100:
        return "%.2f" % v
    return "{:,.0f}".format(v)


def tables(runs, restart_out, modes, args):
    lines = []

    def fig(mode, part, key):
        return median([r[mode][part][key] for r in runs if part in r[mode]])

    def ratio(mode, part, key):
        return median([r[mode][part][key] / r["memory"][part][key] for r in runs
                       if part in r[mode] and r["memory"][part][key]])
    if "ingest" in args.only:
        lines += ["", "| store | events/s stored (x memory) | broker CPU per event | disk "
                  "written per event | events per commit | commit mean | fsyncs/s |",
                  "|---|---|---|---|---|---|---|"]
        for mode in modes:
            rs = [r[mode]["ingest"] for r in runs]
            lines.append("| %s | %s (**%.2fx**; runs %s) | %.2f µs | %s B | %s | %s ms | %s |"
                         % (_name(mode), _f(fig(mode, "ingest", "events/s")),
                            ratio(mode, "ingest", "events/s"),
                            ", ".join("%.0fk" % (x["events/s"] / 1000) for x in rs),
                            fig(mode, "ingest", "cpu us/event"),
                            _f(fig(mode, "ingest", "disk bytes/event")),
                            _f(fig(mode, "ingest", "events/commit")),
                            _f(fig(mode, "ingest", "commit ms mean")),
                            _f(fig(mode, "ingest", "fsyncs/s"))))
    if "latency" in args.only:
        lines += ["", "| store | ack p50 / p99 / max ms, one at a time, %d channels | the same "
                  "over %s channels (fsyncs per ack) | acks/s, 64 unanswered (x memory) | ack "
                  "p50 / p99 ms, 64 unanswered |" % (args.channels, _f(args.many_channels)),
                  "|---|---|---|---|---|"]
        many = "one at a time, many channels"
        for mode in modes:
            lines.append("| %s | %s / %s / %s | %s / %s / %s (%.2f) | %s (%.2fx) | %s / %s |"
                         % (_name(mode), _f(fig(mode, "one at a time", "p50 ms")),
                            _f(fig(mode, "one at a time", "p99 ms")),
                            _f(fig(mode, "one at a time", "max ms")),
                            _f(fig(mode, many, "p50 ms")), _f(fig(mode, many, "p99 ms")),
                            _f(fig(mode, many, "max ms")), fig(mode, many, "fsyncs/ack"),
                            _f(fig(mode, "window 64", "acks/s")),
                            ratio(mode, "window 64", "acks/s"),
                            _f(fig(mode, "window 64", "p50 ms")),
                            _f(fig(mode, "window 64", "p99 ms"))))
    if "history" in args.only:
        lines += ["", "| store | history events/s read (x memory) | broker CPU per 1,000 "
                  "events read | replies checked, errors |", "|---|---|---|---|"]
        for mode in ("memory", "batch"):
            if mode not in modes:
                continue
            lines.append("| %s | %s (%.2fx) | %s µs | %s, %d |"
                         % (_name(mode), _f(fig(mode, "history", "events/s")),
                            ratio(mode, "history", "events/s"),
                            _f(fig(mode, "history", "cpu us/1000 events")),
                            _f(sum(r[mode]["history"]["replies"] for r in runs)),
                            sum(r[mode]["history"]["errors"] for r in runs)))
    if restart_out:
        o = restart_out
        lines += ["", "Restart with %s events in %s channels (--fsync batch): data dir %.0f MiB "
                  "(allocated; %.0f MiB apparent), filled in %.1f s, broker RSS %.0f MB when "
                  "filled (%.0f MB not of the mapped store)."
                  % (_f(o["events"]), _f(o["channels"]), o["size MB"], o["apparent MB"],
                     o["fill s"], o["rss MB filled"], o["anon MB filled"]), "",
                  "| restart after | stop s | start → ready line s | broker CPU s | → /readyz "
                  "200 s | → first history reply s | sampled channels changed | recovered kept "
                  "/ new | RSS (not of the map) MB |", "|---|---|---|---|---|---|---|---|---|"]
        cases = []
        for s in o["starts"]:
            if s["case"] not in cases:
                cases.append(s["case"])
        for case in cases:
            ss = [s for s in o["starts"] if s["case"] == case]
            runs_of = lambda k: ", ".join("%.3f" % s[k] for s in ss if s[k] is not None)
            lines.append("| %s (%d) | %s | %s (%s) | %s | %s | %s | %d of %d | %s / %s | %.0f "
                         "(%.0f) |"
                         % (case, len(ss), _f(median([s["stop s"] for s in ss
                                                      if s["stop s"] is not None]))
                            if ss[0]["stop s"] is not None else "–",
                            _f(median([s["ready s"] for s in ss])), runs_of("ready s"),
                            _f(median([s.get("cpu s", float("nan")) for s in ss])),
                            _f(median([s["readyz s"] or float("nan") for s in ss])),
                            _f(median([s["first reply s"] for s in ss])),
                            max(s["changed"] for s in ss), 1000 if o["channels"] >= 1000
                            else o["channels"], _f(ss[-1]["kept"]), _f(ss[-1]["new"]),
                            median([s["rss MB"] for s in ss]),
                            median([s["anon MB"] for s in ss])))
    return lines


def _name(mode):
    return "memory" if mode == "memory" else "--fsync " + mode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--herald", default="build/herald")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--only", default="ingest,latency,history,restart")
    ap.add_argument("--duration", type=float, default=5.0, help="ingest seconds")
    ap.add_argument("--channels", type=int, default=100)
    ap.add_argument("--publishers", type=int, default=1, help="ingest PUSH processes")
    ap.add_argument("--latency-duration", type=float, default=3.0)
    ap.add_argument("--many-channels", type=int, default=10000,
                    help="acks one at a time spread over this many channels too")
    ap.add_argument("--history-channels", type=int, default=100)
    ap.add_argument("--history-events", type=int, default=1000, help="per channel")
    ap.add_argument("--history-duration", type=float, default=4.0)
    ap.add_argument("--readers", type=int, default=2, help="history reader processes")
    ap.add_argument("--restart-events", type=int, default=1000000)
    ap.add_argument("--restart-channels", type=int, default=100000)
    ap.add_argument("--fill-publishers", type=int, default=4)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    herald = os.path.abspath(args.herald)
    args.only = set(args.only.split(","))
    modes = [m for m in args.modes.split(",") if m]
    if "memory" not in modes or any(m not in MODES for m in modes):
        ap.error("--modes: some of %s, memory among them" % ",".join(MODES))
    helptext = subprocess.run([herald, "broker", "--help"], capture_output=True,
                              text=True).stdout
    if "--data-dir" not in helptext and (modes != ["memory"] or "restart" in args.only):
        sys.exit("%s has no --data-dir: run with --modes memory --only ingest,latency,history"
                 % herald)
    tmp = tempfile.mkdtemp(prefix="herald-bench-store-")
    runs, restart_out = [], None
    try:
        if args.only & {"ingest", "latency", "history"}:
            for run in range(args.runs):
                log("run %d of %d" % (run + 1, args.runs))
                runs.append(one_run(herald, tmp, run, modes, args))
        if "restart" in args.only:
            log("restart: %d events in %d channels" % (args.restart_events,
                                                       args.restart_channels))
            restart_out = restart(herald, tmp, args.restart_events, args.restart_channels,
                                  args.fill_publishers, args.restarts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps({"runs": runs, "restart": restart_out}))
    head = ("Run %s on %s: %d cores, load average %.1f at the end; %d runs, medians."
            % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), socket.gethostname(),
               os.cpu_count(), os.getloadavg()[0], len(runs)))
    print("\n".join([head] + tables(runs, restart_out, modes, args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
