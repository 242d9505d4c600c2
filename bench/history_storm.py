#!/usr/bin/python3
"""A reconnect storm against one broker: publish acknowledgements while
many clients read history at once (docs/benchmarks.md, "Publishing during a
history storm"; tests/integration/test_history_storm.py).

It starts `herald broker`, fills CHANNELS channels with EVENTS events each,
then opens CLIENTS DEALER sockets spread over PROCS processes (niced: they
stand for other machines, and must not starve the broker of this machine's
cores). At a common instant every client asks the history of one channel
from seq 0 (limit 1000) and asks again as soon as its reply is complete,
for DURATION seconds. Meanwhile a publisher sends acknowledged publishes
(DEALER, a rid each) at RATE per second, round-robin over the same
channels, and times each acknowledgement. Every reply is checked: its
header (first 1, count 1000 or all there is), then every event (channel,
seq contiguous from 1, the payload written for that seq).

    /usr/bin/python3 bench/history_storm.py --herald build/herald [--json]

Prints a report (JSON with --json); exit status 0 when the run happened,
whatever it measured."""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time

import msgpack
import zmq

LIMIT = 1000


def payload(ch, seq):
    """The data of event seq of channel ch (checked in every reply)."""
    return {"c": ch, "n": seq, "pad": "p" * 48}


def channel(i):
    return "storm-%d" % i


class Broker:
    """`herald broker` on ephemeral loopback ports."""

    def __init__(self, herald, args=(), prefix=()):
        argv = list(prefix) + [herald, "broker", "--pull", "tcp://127.0.0.1:*", "--router",
                "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*", "--log-format", "json",
                "--history-size", "100000"] + list(args)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        self.lines = []
        ready = threading.Event()
        self.ready = None

        def pump():
            for raw in iter(self.proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("msg") == "ready" and not ready.is_set():
                    self.ready = entry
                    ready.set()
            ready.set()
        self.thread = threading.Thread(target=pump, daemon=True)
        self.thread.start()
        ready.wait(30)
        if not self.ready:
            self.kill()
            raise RuntimeError("herald broker did not start:\n" + "\n".join(self.lines[-20:]))
        self.router = self.ready["router"].split(",")[0]
        self.pid = self.proc.pid

    def stop(self, timeout=30):
        """SIGTERM; returns the exit status and stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(5)
        return self.proc.returncode, "\n".join(self.lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def fill(router, channels, events):
    """Acknowledged publishes of events events to each channel, in windows."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(router)
    rid = 0
    for seq in range(1, events + 1):
        for c in range(channels):
            rid += 1
            sock.send(msgpack.packb({"ch": channel(c), "data": payload(c, seq), "rid": rid}))
        for _ in range(channels):
            if not sock.poll(30000):
                raise RuntimeError("no ack while filling history")
            reply = msgpack.unpackb(sock.recv(), raw=False)
            if reply.get("seq") != seq:
                raise RuntimeError("fill: unexpected reply %r" % reply)
    sock.close()


def check_reply(frames, ch_index, errors):
    """Checks one history reply from seq 0; returns its event count."""
    header = msgpack.unpackb(frames[0], raw=False)
    if "error" in header:
        errors.append("error reply: %r" % header)
        return 0
    count = header.get("count")
    head = header.get("head")
    if header.get("ch") != channel(ch_index) or header.get("first") != 1 \
            or "reset" in header or count != min(head, LIMIT) or len(frames) != count + 1:
        errors.append("bad header %r with %d frames" % (header, len(frames) - 1))
        return 0
    for i, raw in enumerate(frames[1:]):
        ev = msgpack.unpackb(raw, raw=False)
        if ev.get("ch") != channel(ch_index) or ev.get("seq") != i + 1 \
                or ev.get("epoch") != header.get("epoch") \
                or ev.get("data") != payload(ch_index, i + 1):
            errors.append("bad event %d of %s: %r" % (i + 1, channel(ch_index), ev))
            return 0
    return count


def storm_process(router, first, count, channels, start_at, duration, out):
    """count clients (numbered from first) asking history until the end."""
    os.nice(19)
    ctx = zmq.Context()
    socks = []
    for i in range(count):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(router)
        socks.append(s)
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    index = {s: first + i for i, s in enumerate(socks)}
    rids = {}
    replies = events = 0
    errors = []
    asked = 0

    def ask(s):
        nonlocal asked
        asked += 1
        rids[s] = asked
        ch = index[s] % channels
        s.send(msgpack.packb({"op": "history", "ch": channel(ch), "since": 0,
                              "limit": LIMIT, "rid": asked}))
    while time.time() < start_at:
        time.sleep(0.001)
    for s in socks:
        ask(s)
    end = start_at + duration
    pending = len(socks)
    while pending:
        for s, _ in poller.poll(1000):
            frames = s.recv_multipart()
            header = msgpack.unpackb(frames[0], raw=False)
            if header.get("rid") != rids[s]:
                errors.append("rid %r for request %r" % (header.get("rid"), rids[s]))
            events += check_reply(frames, index[s] % channels, errors)
            replies += 1
            if time.time() < end:
                ask(s)
            else:
                pending -= 1
        if time.time() > end + 60:
            errors.append("%d replies missing 60 s after the end" % pending)
            break
    for s in socks:
        s.close()
    ctx.term()
    out.put({"replies": replies, "events": events, "errors": errors[:10],
             "error_count": len(errors)})


def publisher(router, channels, rate, start_at, duration, warmup, out):
    """Acknowledged publishes at rate/s from warmup s before start_at to the
    end; each ack's latency (s) from its send."""
    os.nice(0)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(router)
    sent = {}
    latencies = []          # (send time relative to start_at, latency)
    errors = []
    rid = 0
    t0 = start_at - warmup
    while time.time() < t0:
        time.sleep(0.001)
    end = start_at + duration
    next_send = time.time()
    while True:
        now = time.time()
        if now >= next_send and now < end:
            rid += 1
            sent[rid] = time.monotonic(), now - start_at
            c = rid % channels
            # Published data that is not the fill's: readers check only seq 1..1000
            sock.send(msgpack.packb({"ch": channel(c), "data": {"late": rid}, "rid": rid}))
            next_send += 1.0 / rate
        if now >= end and not sent:
            break
        if now > end + 10:
            errors.append("%d acks missing 10 s after the end" % len(sent))
            break
        wait = max(0.0, min(next_send - time.time(), 0.05)) if now < end else 0.05
        if sock.poll(int(wait * 1000) + 1):
            while True:
                try:
                    raw = sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                got = time.monotonic()
                reply = msgpack.unpackb(raw, raw=False)
                at = sent.pop(reply.get("rid"), None)
                if at is None or "seq" not in reply:
                    errors.append("unexpected reply %r" % reply)
                    continue
                latencies.append((at[1], got - at[0]))
    sock.close()
    ctx.term()
    out.put({"latencies": latencies, "errors": errors[:10], "error_count": len(errors)})


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def run(herald, clients=1000, procs=4, channels=100, events=1000, duration=4.0, rate=200,
        warmup=1.0, broker_args=(), prefix=()):
    """One storm; returns the report (a dict). prefix: a command to run the
    broker under (e.g. taskset, nice)."""
    broker = Broker(herald, broker_args, prefix)
    try:
        t = time.monotonic()
        fill(broker.router, channels, events)
        fill_s = time.monotonic() - t
        out = multiprocessing.Queue()
        # Clients connect first; the common instant leaves them time to
        start_at = time.time() + 2.0 + clients / 1000.0
        workers = []
        per = (clients + procs - 1) // procs
        for p in range(procs):
            n = min(per, clients - p * per)
            if n > 0:
                workers.append(multiprocessing.Process(
                    target=storm_process,
                    args=(broker.router, p * per, n, channels, start_at, duration, out)))
        workers.append(multiprocessing.Process(
            target=publisher,
            args=(broker.router, channels, rate, start_at, duration, warmup, out)))
        for w in workers:
            w.start()
        results = [out.get(timeout=duration + 200) for _ in workers]
        for w in workers:
            w.join(30)
        status, log = broker.stop()
    finally:
        broker.kill()
    pub = next(r for r in results if "latencies" in r)
    storm = [r for r in results if "replies" in r]
    during = [lat for at, lat in pub["latencies"] if 0 <= at < duration]
    before = [lat for at, lat in pub["latencies"] if at < 0]
    ms = lambda v: None if v is None else round(v * 1000, 2)
    return {
        "clients": clients, "procs": procs, "channels": channels, "events": events,
        "duration_s": duration, "rate": rate, "fill_s": round(fill_s, 2),
        "history_replies": sum(r["replies"] for r in storm),
        "history_events": sum(r["events"] for r in storm),
        "history_errors": sum(r["error_count"] for r in storm),
        "history_error_samples": [e for r in storm for e in r["errors"]][:10],
        "acks": len(pub["latencies"]), "acks_during_storm": len(during),
        "ack_errors": pub["error_count"], "ack_error_samples": pub["errors"],
        "ack_ms_before": {"p50": ms(percentile(before, 50)), "max": ms(max(before, default=None))},
        "ack_ms_during": {"p50": ms(percentile(during, 50)), "p99": ms(percentile(during, 99)),
                          "max": ms(max(during, default=None))},
        "broker_exit": status,
        "broker_log_tail": log.splitlines()[-5:] if status else [],
        "sanitizer": next((m for m in ("AddressSanitizer", "LeakSanitizer",
                                       "runtime error:") if m in log), None),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--herald", default="build/herald")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--channels", type=int, default=100)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--prefix", default="", help="run the broker under this command")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    for _ in range(args.runs):
        report = run(os.path.abspath(args.herald), args.clients, args.procs, args.channels,
                     args.events, args.duration, args.rate, prefix=args.prefix.split())
        if args.json:
            print(json.dumps(report))
        else:
            print("history: %d replies, %d events, %d errors; acks during the storm: %d, "
                  "ms p50 %s p99 %s max %s (before: p50 %s max %s); ack errors %d"
                  % (report["history_replies"], report["history_events"],
                     report["history_errors"], report["acks_during_storm"],
                     report["ack_ms_during"]["p50"], report["ack_ms_during"]["p99"],
                     report["ack_ms_during"]["max"], report["ack_ms_before"]["p50"],
                     report["ack_ms_before"]["max"], report["ack_errors"]))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
