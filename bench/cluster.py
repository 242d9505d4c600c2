#!/usr/bin/python3
"""Herald in a cluster vs one broker (issue 10, Measured; docs/benchmarks.md,
"Cluster"). Standard library only, plus the `herald bench` generator.

  /usr/bin/python3 bench/cluster.py [--herald build/herald] [--runs 3] [--duration 5]

Setups, each started afresh for every run: `single` is today's split
deployment, one `herald broker` (no cluster file) and one `herald gateway`;
`cluster` is 3 brokers and 1 gateway started by deploy/local-cluster.sh;
tcp loopback, default options everywhere (the gateway's workers: one per
core).

1. Publish throughput over PUSH, 100-byte payloads, no subscribers: three
   `herald bench --mode ingest` publishers at once, each on its own channel,
   as fast as the brokers take them, for --duration s. Reported: events/s
   *sequenced*, summed over every broker's herald_broker_events_total
   (sampled every 100 ms, from the first increase to the last), and the
   events/s the publishers handed to ZeroMQ. Single: all three to the one
   broker. Cluster, `to owner`: the three channels are owned by b1, b2, b3
   (asked of /v1/cluster) and each publisher pushes to its channel's owner;
   `forwarded`: each pushes to a broker that does not own its channel, which
   forwards every event to the owner.
2. End-to-end latency, publish (PUSH) -> SSE client: `herald bench` fanout,
   100 SSE subscribers on the gateway, 500 events/s, for --duration s;
   p50/p99 of every first delivery. Cluster: pushed to the channel's owner,
   and pushed to a non-owner (forwarded).

3. With --handoff (instead of 1 and 2), a graceful handoff: a fresh
   cluster (no gateway), N channels (--handoff-channels, 1000 and 10000)
   owned by b1 with --handoff-history events of 100 bytes each, pushed to
   b1; then SIGTERM to b1. Reported, from the signal: b1's exit; the first
   and the last ack by a new owner (for each successor, once its
   /v1/cluster shows a view without b1, one acknowledged publish to each of
   three of the channels it gets, the first, middle and last created, held
   until that channel is installed; each must continue the channel's epoch
   at head + 1);
   every channel installed (the successors' herald_cluster_handoff_received
   _total up by N); takeovers. Uses pyzmq and msgpack, as the tests do.

4. With --replication-compare (instead of 1 and 2), synchronous replication
   (issue 11, Measured): fresh 3-broker clusters with --replication sync
   --min-replicas 1, sync --min-replicas 2 and async (the options as
   HERALD_* variables), one gateway (--write-interval, 0 here), in each run, the
   order rotated. Per cluster: SSE latency as in 2 (--subscribers,
   --rate); acknowledged publishing (DEALER, rid and idempotency key, at
   most --window unanswered) to three channels owned by b1, b2 and b3, one
   process each through the owner's ROUTER: ack latency at --acked-rate per
   channel, then acks/s as fast as the window allows, for --duration s.
   Then the failover (unless --no-failover), sync --min-replicas 1 and
   async, --runs times: b1, owning 4 channels under acknowledged publishing
   (50/s each, through each channel's backup) with 3 SSE clients, is
   SIGKILLed; from the kill to the first ack of a publish sent after it,
   the epoch kept or not, and the clients' resets, losses and duplicates.

5. With --durable-compare (instead of 1 and 2), durable history in a
   cluster: as 4, with fresh 3-broker `--replication sync` clusters
   (--min-replicas 1) in memory, with a --data-dir per broker and --fsync
   batch, and with --fsync always (local-cluster.sh --data). Then, --runs
   times, a whole-cluster restart: a fresh sync cluster with data dirs
   (--restart-fsync), --restart-channels channels of --restart-history
   events of 100 bytes (PUSH to each owner), SIGKILL of all three brokers,
   then all three started again with the same command lines; from the
   starts: each broker's /readyz 200, and the ack of one publish to each of
   three channels per owner (first, middle, last created), retried with
   its key while unavailable, which must continue the channel's epoch at
   head + 1.

Prints a Markdown table of medians over --runs; --json prints the raw runs.
"""
import argparse
import json
import os
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOCAL_CLUSTER = os.path.join(ROOT, "deploy", "local-cluster.sh")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def counter(http, name):
    status, body = get(http + "/metrics")
    if status != 200:
        return 0.0
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


class Setup:
    """brokers: [{"publish", "http", "id"}], gateway: its base URL."""

    def owner(self, channel):
        if len(self.brokers) == 1:
            return 0
        status, body = get(self.brokers[0]["http"] + "/v1/cluster?channel=" + channel)
        assert status == 200, body
        owner = json.loads(body)["channel"]["owner"]
        return next(i for i, b in enumerate(self.brokers) if b["id"] == owner)

    def channel_owned_by(self, i, prefix):
        return next(c for c in ("%s%d" % (prefix, n) for n in range(1000)) if self.owner(c) == i)

    def warm(self, channel):
        """Publishes through the gateway until the channel's owner sequences
        (a new view's owners wait out their lease first)."""
        wait(lambda: post(self.gateway + "/v1/publish",
                          {"channel": channel, "data": "warm"}) == 200, 20, "warm " + channel)


class Single(Setup):
    name = "single"

    def __init__(self, herald):
        self.procs = []
        pull, router, xpub = ("tcp://127.0.0.1:%d" % free_port() for _ in range(3))
        http, gw = "127.0.0.1:%d" % free_port(), free_port()
        self._start([herald, "broker", "--pull", pull, "--router", router, "--xpub", xpub,
                     "--http", http])
        self._start([herald, "gateway", "--http", "127.0.0.1:%d" % gw, "--broker",
                     "%s,%s" % (xpub, router)])
        self.brokers = [{"id": "", "publish": pull, "http": "http://" + http}]
        self.gateway = "http://127.0.0.1:%d" % gw
        wait(lambda: get(self.gateway + "/readyz")[0] == 200, 20, "the gateway")
        self.pids = [p.pid for p in self.procs]

    def _start(self, argv):
        self.procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(15)


class Cluster(Setup):
    name = "cluster"

    def __init__(self, herald, brokers=3, gateways=1, env=None, data=False):
        """env: HERALD_* variables for every broker and gateway, options
        without a flag of local-cluster.sh (HERALD_REPLICATION=async); each
        process reads those it has. data: a --data-dir per broker."""
        self.dir = tempfile.mkdtemp(prefix="herald-bench-cluster-")
        try:
            subprocess.run([LOCAL_CLUSTER, "start", "--dir", self.dir, "--brokers",
                            str(brokers), "--gateways", str(gateways), "--herald", herald]
                           + (["--data"] if data else []), check=True, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, **(env or {})))
        except BaseException:       # also Ctrl-C: what had started is stopped
            self.stop()
            raise
        env = {}
        with open(os.path.join(self.dir, "cluster.env")) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                env[key] = value
        self.brokers = [{"id": "b%d" % i, "publish": env["HERALD_BROKER_%d_PUBLISH" % i],
                         "router": env["HERALD_BROKER_%d_ROUTER" % i],
                         "http": env["HERALD_BROKER_%d_HTTP" % i],
                         "pid": int(env["HERALD_BROKER_%d_PID" % i])}
                        for i in range(1, brokers + 1)]
        self.gateway = env.get("HERALD_GATEWAY_1_HTTP")     # none with gateways=0
        self.file = env["HERALD_CLUSTER_FILE"]
        self.pids = [int(v) for k, v in env.items() if k.endswith("_PID")]

    def stop(self):
        subprocess.run([LOCAL_CLUSTER, "stop", "--dir", self.dir], check=True,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(self.dir, True)


def bench(herald, *args):
    argv = [herald, "bench", "--json", "-q"] + [str(a) for a in args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("bench failed (%s): %s" % (" ".join(argv), r.stderr[-2000:]))
    return json.loads(r.stdout)


def throughput(herald, setup, duration, forwarded):
    """Three ingest publishers at once; returns (sequenced/s, sent/s)."""
    routes = []
    for k in range(3):
        owner = k % len(setup.brokers)
        channel = setup.channel_owned_by(owner, "tp%d-" % k)
        setup.warm(channel)
        via = (owner + 1) % len(setup.brokers) if forwarded else owner
        routes.append((channel, setup.brokers[via]["publish"]))
    https = [b["http"] for b in setup.brokers]
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append((time.monotonic(),
                            sum(counter(h, "herald_broker_events_total") for h in https)))
            time.sleep(0.1)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    reports = [None] * len(routes)

    def publish(k, channel, endpoint):
        reports[k] = bench(herald, "--mode", "ingest", "--zmq-endpoint", endpoint,
                           "--channel", channel, "-d", duration)
    threads = [threading.Thread(target=publish, args=(k, c, e)) for k, (c, e) in
               enumerate(routes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Until the brokers have sequenced what is queued: no change for 1 s
    wait(lambda: len(samples) > 10 and samples[-1][1] == samples[-11][1], 60, "the brokers")
    done.set()
    sampler.join()
    base = samples[0][1]
    moving = [i for i in range(1, len(samples)) if samples[i][1] != samples[i - 1][1]]
    first, last = samples[moving[0] - 1], samples[moving[-1]]
    sequenced = (last[1] - base) / (last[0] - first[0])
    sent = sum(_sent_rate(r) for r in reports)
    published = sum(r["sent"] for r in reports) + len(reports)   # + each untimed first
    return {"sequenced/s": sequenced, "sent/s": sent, "events": last[1] - base,
            "published": published, "not sequenced": 1 - (last[1] - base) / published}


def _sent_rate(report):
    return report["sent"] / report["send_s"] if report["send_s"] else 0.0


def latency(herald, setup, duration, forwarded, subscribers=100, rate=500):
    channel = setup.channel_owned_by(0, "lat-")
    setup.warm(channel)
    via = 1 if forwarded else 0
    port = setup.gateway.rsplit(":", 1)[1]
    argv = ["--target", "herald", "--port", port, "--zmq-endpoint",
            setup.brokers[via]["publish"], "--channel", channel, "-n", subscribers,
            "-r", rate, "-d", duration]
    for pid in setup.pids:
        argv += ["--server-pid", pid]
    r = bench(herald, *argv)
    lat, d = r["latency_ms"], r["deliveries"]
    return {"p50 ms": lat["p50"], "p99 ms": lat["p99"], "lost": d["lost"],
            "duplicates": d["duplicates"]}


def _up(pid):
    """pid runs (neither gone nor a zombie). The brokers of
    local-cluster.sh are not our children: no waitpid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _view(http):
    status, body = get(http + "/v1/cluster", timeout=2)
    return json.loads(body)["view"] if status == 200 else None


def handoff(herald, channels, history, size=100):
    """Graceful handoff of `channels` channels with `history` events each,
    all owned by b1 of a fresh 3-broker cluster (default options): SIGTERM
    b1, and time (monotonic, from the signal) its exit, the view without
    it on each successor, the first ack there of a publish to one of its
    moved channels sent after that view (held until the channel is
    installed), and every channel installed (the successors'
    herald_cluster_handoff_received_total). Needs pyzmq and msgpack."""
    import msgpack
    import zmq
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from harness import rendezvous_order
    setup = Cluster(herald, gateways=0)
    try:
        b = setup.brokers
        ids = [x["id"] for x in b]
        # Every broker an owner (a late broker owns after --hold-down, 30 s)
        wait(lambda: all((_view(x["http"]) or {}).get("owners") == ids for x in b), 90,
             "a view of three owners")
        names, n = [], 0
        while len(names) < channels:
            n += 1
            if rendezvous_order(ids, "ho%d" % n)[0] == "b1":
                names.append("ho%d" % n)
        successor = {ch: ids.index(rendezvous_order(ids, ch)[1]) for ch in names}
        ctx = zmq.Context()
        # Until b1 sequences: a new view's owner waits out its lease first,
        # and a PUSH meanwhile is dropped (`unavailable`)
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(b[0]["router"])

        def acked():
            dealer.send(msgpack.packb({"ch": "warm", "data": "warm", "id": "warm"}))
            return dealer.poll(5000) and "seq" in msgpack.unpackb(dealer.recv())
        wait(acked, 30, "b1 sequencing")
        dealer.close(0)
        push = ctx.socket(zmq.PUSH)
        push.connect(b[0]["publish"])
        base = counter(b[0]["http"], "herald_broker_events_total")
        payload = "x" * size
        for k in range(history):
            for ch in names:
                push.send(msgpack.packb({"ch": ch, "data": payload}))
        wait(lambda: counter(b[0]["http"], "herald_broker_events_total")
             >= base + channels * history, 60 + channels * history / 1000,
             "the history sequenced")
        push.close(5000)
        # Probes, per successor: its first, middle and last channel (in the
        # order they were created), whatever order b1 hands them over in;
        # each one's head and epoch before the leave
        probes = []
        for s in (1, 2):
            mine = [ch for ch in names if successor[ch] == s]
            probes += [(s, ch) for ch in dict.fromkeys((mine[0], mine[len(mine) // 2],
                                                        mine[-1]))]
        heads = {}
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(b[0]["router"])
        for s, ch in probes:
            dealer.send(msgpack.packb({"op": "history", "ch": ch, "limit": 0}))
            assert dealer.poll(10000), "no history reply"
            reply = msgpack.unpackb(dealer.recv_multipart()[0])
            heads[ch] = (reply["epoch"], reply["head"])
        dealer.close(0)
        installed0 = sum(counter(b[s]["http"], "herald_cluster_handoff_received_total")
                         for s in (1, 2))
        times, acks = {}, {}

        def watch_exit():
            while _up(b[0]["pid"]):
                time.sleep(0.001)
            times["exit"] = time.monotonic()

        def probe(s, ch):
            while "b1" in ((_view(b[s]["http"]) or {}).get("owners") or ["b1"]):
                time.sleep(0.002)
            times.setdefault("view on " + ids[s], time.monotonic())
            dealer = ctx.socket(zmq.DEALER)
            dealer.connect(b[s]["router"])
            unavailable = 0
            for rid in range(1000):     # retried with its key while unavailable
                dealer.send(msgpack.packb({"ch": ch, "data": "probe", "id": "probe-" + ch,
                                           "rid": rid}))
                if not dealer.poll(20000):
                    break
                reply = msgpack.unpackb(dealer.recv_multipart()[0])
                if reply.get("error") != "unavailable":
                    break
                unavailable += 1
                time.sleep(0.005)
            times["ack %s on %s" % (ch, ids[s])] = time.monotonic()
            dealer.close(0)
            acks[ch] = {"reply": reply, "unavailable": unavailable, "kept":
                        (reply.get("epoch"), reply.get("seq")) == (heads[ch][0],
                                                                  heads[ch][1] + 1)}

        threads = [threading.Thread(target=watch_exit, daemon=True)] + \
            [threading.Thread(target=probe, args=(s, ch), daemon=True)
             for s, ch in probes]
        for t in threads:
            t.start()
        sigterm = time.monotonic()
        os.kill(b[0]["pid"], signal.SIGTERM)
        try:
            wait(lambda: sum(counter(b[s]["http"], "herald_cluster_handoff_received_total")
                             for s in (1, 2)) >= installed0 + channels, 30,
                 "every channel installed by a successor")
            times["installed"] = time.monotonic()
        except RuntimeError as e:
            log(e)
        for t in threads:
            t.join(60)
        ctx.term()
        with open(os.path.join(setup.dir, "broker-1.log")) as f:
            said = [line.strip() for line in f if "handed over" in line or "left the cluster"
                    in line]
        out = {k + " s": round(v - sigterm, 3) for k, v in times.items()}
        out.update({"channels": channels, "events/channel": history, "probes": acks,
                    "takeovers": sum(counter(b[s]["http"], "herald_cluster_takeovers_total")
                                     for s in (1, 2)), "leaver said": said})
        return out
    finally:
        setup.stop()


def main_handoff(herald, args):
    log("host: %d cores, load %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[:3]))
    results = {}
    for run in range(args.runs):
        for n in (int(x) for x in args.handoff_channels.split(",")):
            figures = handoff(herald, n, args.handoff_history)
            results.setdefault(n, []).append(figures)
            log("run %d handoff of %d channels: %s" % (run + 1, n, json.dumps(figures)))
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print("| b1's channels (x %d events of 100 B) | SIGTERM -> b1 exits | -> first ack of a "
          "moved channel on its new owner | -> last of the 6 probes acked | -> every channel "
          "installed | takeovers | epoch and head kept |" % args.handoff_history)
    print("|---|---|---|---|---|---|---|")

    def median(runs, key):
        values = [r[key] for r in runs if key in r]
        return "%.2f s" % statistics.median(values) if values else "never"
    for n, runs in results.items():
        for r in runs:      # the earliest and the latest of the probes' acks
            probed = [v for k, v in r.items() if k.startswith("ack ")]
            if probed:
                r["first ack s"], r["last ack s"] = min(probed), max(probed)
        kept = all(p["kept"] for r in runs for p in r["probes"].values())
        print("| %d | %s | %s | %s | %s | %d | %s |" % (
            n, median(runs, "exit s"), median(runs, "first ack s"), median(runs, "last ack s"),
            median(runs, "installed s"), max(r["takeovers"] for r in runs),
            "yes" if kept else "NO"))


# --replication-compare: the clusters of issue 11, each started afresh per run
REPLICATIONS = [
    ("sync, min-replicas 1", {"HERALD_REPLICATION": "sync", "HERALD_MIN_REPLICAS": "1"}),
    ("sync, min-replicas 2", {"HERALD_REPLICATION": "sync", "HERALD_MIN_REPLICAS": "2"}),
    ("async", {"HERALD_REPLICATION": "async"})]


def percentile(values, p):
    """values sorted; nearest rank."""
    return values[min(len(values) - 1, int(len(values) * p / 100.0))] if values else None


def _acked_worker(router, channel, go, duration, window, rate, size, out):
    """One acknowledged publisher, in its own process (ZeroMQ context and
    interpreter): DEALER to router, each publish {ch, data, id, rid} with
    its own idempotency key, at most `window` unanswered, `rate` a second
    (0: as fast as acks come back), for `duration` s from the barrier `go`,
    then at most 5 s more for the last answers. Puts on `out`: acks, errors
    by kind, unanswered, every ack's latency (s, send to answer) and the
    span (first send to last answer, s)."""
    import msgpack
    import zmq
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(router)
    key, payload = "%s-%d-" % (channel, os.getpid()), "x" * size
    sent, lat, errors, rid = {}, [], {}, 0
    go.wait(60)
    start = last = time.monotonic()
    end = start + duration
    while True:
        now = time.monotonic()
        if now >= end + 5 or (now >= end and not sent):
            break
        while now < end and len(sent) < window and (not rate or rid < (now - start) * rate):
            rid += 1
            sock.send(msgpack.packb({"ch": channel, "data": payload, "id": key + str(rid),
                                     "rid": rid}))
            sent[rid] = now = time.monotonic()
        due = start + rid / rate - now if rate else 0.1     # the next send
        if not sock.poll(max(1, min(100, int(due * 1000)))):
            continue
        while True:
            try:
                reply = msgpack.unpackb(sock.recv(zmq.NOBLOCK))
            except zmq.Again:
                break
            t = sent.pop(reply.get("rid"), None)
            if t is None:
                continue
            last = time.monotonic()
            if reply.get("error"):
                errors[reply["error"]] = errors.get(reply["error"], 0) + 1
            else:
                lat.append(last - t)
    ctx.destroy(0)
    out.put({"acked": len(lat), "errors": errors, "unanswered": len(sent), "lat": lat,
             "span": last - start})


def acked(setup, duration, window, rate, size=100):
    """Acknowledged publishing to three channels owned by b1, b2 and b3, each
    by its own process through its owner's ROUTER (_acked_worker), all
    started at once. Returns acks/s (the sum of each publisher's acks over
    its span) and the ack latency p50/p99 over every ack."""
    import multiprocessing
    mp = multiprocessing.get_context("spawn")
    routes = []
    for k in range(3):
        channel = setup.channel_owned_by(k, "ack%d-" % k)
        setup.warm(channel)
        routes.append((setup.brokers[k]["router"], channel))
    out, go = mp.Queue(), mp.Barrier(len(routes) + 1)
    procs = [mp.Process(target=_acked_worker, daemon=True,
                        args=(r, c, go, duration, window, rate, size, out)) for r, c in routes]
    for p in procs:
        p.start()
    try:
        go.wait(60)
        results = [out.get(timeout=duration + 60) for _ in procs]
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    lat = sorted(x for r in results for x in r["lat"])
    errors = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {"acks/s": sum(r["acked"] / r["span"] for r in results if r["span"] > 0),
            "acks": len(lat), "ack p50 ms": 1000 * percentile(lat, 50) if lat else None,
            "ack p99 ms": 1000 * percentile(lat, 99) if lat else None, "errors": errors,
            "unanswered": sum(r["unanswered"] for r in results)}


def cpu_s(pids):
    """utime + stime of these processes, in s."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def released(setup):
    """Events the owners released after their backup held them, and
    without one (--min-replicas 1 while a backup is not in sync)."""
    name = 'herald_sync_released_total{outcome="%s"}'
    return {o: sum(counter(b["http"], name % o) for b in setup.brokers)
            for o in ("replicated", "alone")}


def compare_run(herald, env, args, data=False):
    """One fresh 3-broker cluster of `env` (data: a --data-dir per broker),
    one gateway: SSE latency, acked latency at a fixed rate, then acked
    throughput (latency first: throughput fills the histories)."""
    setup = Cluster(herald, env=dict(env, HERALD_WRITE_INTERVAL=args.write_interval),
                    data=data)
    try:
        out = {"load": float(open("/proc/loadavg").read().split()[0])}
        sse = latency(herald, setup, args.duration, False, args.subscribers, args.rate)
        out.update({"sse " + k: v for k, v in sse.items()})
        fixed = acked(setup, args.duration, args.window, args.acked_rate)
        out.update({"fixed " + k: v for k, v in fixed.items()})
        brokers = [b["pid"] for b in setup.brokers]
        cpu = cpu_s(brokers)
        out.update(acked(setup, args.duration, args.window, 0))
        out["broker cpu us/ack"] = 1e6 * (cpu_s(brokers) - cpu) / max(1, out["acks"])
        out.update(released(setup))
        out["fsyncs"] = sum(counter(b["http"], "herald_store_fsyncs_total")
                            for b in setup.brokers)
        return out
    finally:
        setup.stop()


def failover(herald, env, channels=4, rate=50, after=3.0):
    """SIGKILL the owner of busy channels and time the failover. A fresh
    3-broker cluster of `env` and a gateway; `channels` channels owned by
    b1; on the gateway three SSE clients of all of them. Per channel a
    thread publishes acknowledged, `rate` a second, each with its own key
    (retried with it on `unavailable` or no answer within 0.25 s) through
    the ROUTER of the channel's backup (it forwards to b1, and owns the
    channel once b1 is gone). Once every channel's backup holds it in sync
    (sync only) and publishing runs, b1 is SIGKILLed; publishing goes on
    `after` s past each channel's first ack. Returns, from the kill: the
    first ack of a publish sent after it (the new owner's), per channel
    min and max; whether every channel kept its epoch with consecutive
    seqs; and what the SSE clients saw: resets, and acked events missing
    or delivered twice. Needs pyzmq and msgpack."""
    import msgpack
    import zmq
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    import failover as F
    import harness as H
    setup = Cluster(herald, env=env)
    ctx, received = zmq.Context(), []
    try:
        b = setup.brokers
        ids = [x["id"] for x in b]
        wait(lambda: all((_view(x["http"]) or {}).get("owners") == ids for x in b), 90,
             "a view of three owners")
        names = [ch for ch in ("fo%d" % n for n in range(1000))
                 if H.rendezvous_order(ids, ch)[0] == "b1"][:channels]
        via = {ch: ids.index(H.rendezvous_order(ids, ch)[1]) for ch in names}
        received = [F.Received("sse%d" % k, H.SSEClient(setup.gateway, names), names)
                    for k in range(3)]
        for r in received:
            r.client.wait_subscribed(10)
        halt, kill = threading.Event(), {}
        acks = {ch: [] for ch in names}     # (data, epoch, seq, sent, answered)

        def publish(ch):
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(b[via[ch]]["router"])
            rid, n, give_up = 0, 0, time.monotonic() + 120
            while not halt.is_set() and time.monotonic() < give_up:
                n += 1
                data = "%s-%d" % (ch, n)
                tries = {}
                while time.monotonic() < give_up:
                    rid += 1
                    sock.send(msgpack.packb({"ch": ch, "data": data, "id": data, "rid": rid}))
                    tries[rid] = time.monotonic()
                    reply = None
                    while reply is None and sock.poll(250):
                        r = msgpack.unpackb(sock.recv())
                        if r.get("rid") in tries:   # a late answer to an earlier try too
                            reply = r
                    if reply and not reply.get("error"):
                        acks[ch].append((data, reply["epoch"], reply["seq"],
                                         tries[reply["rid"]], time.monotonic()))
                        break
                    if reply:
                        time.sleep(0.01)    # unavailable: pacing the retry
                time.sleep(1.0 / rate)
            sock.close(0)
        threads = [threading.Thread(target=publish, args=(ch,), daemon=True) for ch in names]
        for t in threads:
            t.start()
        wait(lambda: all(len(a) >= 10 for a in acks.values()), 30, "publishing under way")
        if env.get("HERALD_REPLICATION") != "async":
            wait(lambda: sum(counter(b[s]["http"], "herald_backup_channels_in_sync")
                             for s in (1, 2)) >= channels, 30, "backups in sync")
        kill["at"] = time.monotonic()
        os.kill(b[0]["pid"], signal.SIGKILL)

        def first_after(ch):
            return next((a for a in acks[ch] if a[3] > kill["at"]), None)
        wait(lambda: all(first_after(ch) and time.monotonic() > first_after(ch)[4] + after
                         for ch in names), 60, "acks by the new owners")
        halt.set()
        for t in threads:
            t.join(5)
        want = {ch: [a[0] for a in acks[ch]] for ch in names}

        def settled():
            for r in received:
                r.update()
            return all(sum(1 for i in r.items if i[0] == "event" and i[1] == ch) >=
                       len(want[ch]) for r in received for ch in names)
        try:
            wait(settled, 10, "every ack delivered")
        except RuntimeError as e:
            log(e)
        firsts = [first_after(ch)[4] - kill["at"] for ch in names]
        before = sorted(a[4] - a[3] for ch in names for a in acks[ch] if a[4] < kill["at"])
        kept = all(len({a[1] for a in acks[ch]}) == 1 and
                   [a[2] for a in acks[ch]] == list(range(acks[ch][0][2],
                                                          acks[ch][0][2] + len(acks[ch])))
                   for ch in names)
        resets = missing = twice = 0
        for r in received:
            for ch in names:
                resets += sum(1 for i in r.items if i[0] == "reset" and i[1] == ch)
                got = [i[4] for i in r.items if i[0] == "event" and i[1] == ch]
                missing += len(set(want[ch]) - set(got))
                twice += len(got) - len(set(got))
        return {"first ack s": min(firsts), "last channel's first ack s": max(firsts),
                "epoch kept, seqs consecutive": kept, "sse resets": resets,
                "acked not delivered": missing, "delivered twice": twice,
                "acks": sum(len(a) for a in acks.values()),
                "ack p50 ms before the kill": 1000 * percentile(before, 50),
                "takeovers": {e: sum(counter(b[s]["http"],
                                             'herald_takeovers_total{epoch="%s"}' % e)
                                     for s in (1, 2)) for e in ("kept", "new")}}
    finally:
        for r in received:
            r.client.sock.close()
        ctx.destroy(0)
        setup.stop()


def main_replication(herald, args):
    """Every setup of REPLICATIONS in each run, the order rotated per run;
    then the failover, sync (min-replicas 1) and async, each --runs times."""
    log("host: %d cores, load %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[:3]))
    results = {name: [] for name, _ in REPLICATIONS}
    for run in range(args.runs):
        order = REPLICATIONS[run % 3:] + REPLICATIONS[:run % 3]
        for name, env in order:
            figures = compare_run(herald, env, args)
            results[name].append(figures)
            log("run %d %s: %s" % (run + 1, name, json.dumps(figures)))
    fails = {}
    for run in range(args.runs if args.failover else 0):
        for name, env in (REPLICATIONS[0], REPLICATIONS[2]):
            figures = failover(herald, env)
            fails.setdefault(name, []).append(figures)
            log("run %d failover %s: %s" % (run + 1, name, json.dumps(figures)))
    if args.json:
        for r in results.values():
            for x in r:
                x.pop("lat", None)
        print(json.dumps({"compare": results, "failover": fails}, indent=1))
        return
    replication_table(results, fails, args.acked_rate)


def replication_table(results, fails, acked_rate):
    """Markdown tables of medians, from main_replication's results (also
    those it printed with --json: {"compare": results, "failover": fails})."""
    def med(runs, key, fmt="%.2f"):
        values = [r[key] for r in runs if r.get(key) is not None]
        return fmt % statistics.median(values) if values else "-"
    base = statistics.median(r["acks/s"] for r in results["async"])
    print("| cluster (3 brokers) | acked publishes/s (x async) | ack p50 / p99 ms, at %d/s "
          "per channel | ack p50 / p99 ms, saturated | SSE p50 / p99 ms | lost / dup (SSE) | "
          "brokers' CPU per ack, saturated | released replicated / alone |" % acked_rate)
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        tput = statistics.median(r["acks/s"] for r in runs)
        print("| %s | %.0f (%.2fx; runs %s) | %s / %s | %s / %s | %s / %s | %s / %s | %s µs "
              "| %s / %s |" % (
            name, tput, tput / base, ", ".join("%.0fk" % (r["acks/s"] / 1000) for r in runs),
            med(runs, "fixed ack p50 ms"), med(runs, "fixed ack p99 ms"),
            med(runs, "ack p50 ms"), med(runs, "ack p99 ms"), med(runs, "sse p50 ms"),
            med(runs, "sse p99 ms"), med(runs, "sse lost", "%d"),
            med(runs, "sse duplicates", "%d"), med(runs, "broker cpu us/ack", "%.1f"),
            med(runs, "replicated", "%d"),
            med(runs, "alone", "%d")))
    if fails:
        print()
        print("| failover (SIGKILL b1) | -> first ack by a new owner (runs) | -> every "
              "channel's first ack | epoch kept | SSE resets | acked not delivered / twice | "
              "ack p50 ms before the kill |")
        print("|---|---|---|---|---|---|---|")
        for name, runs in fails.items():
            print("| %s | %s s (%s) | %s s | %s | %d | %d / %d | %s |" % (
                name, med(runs, "first ack s"),
                ", ".join("%.2f" % r["first ack s"] for r in runs),
                med(runs, "last channel's first ack s"),
                "yes" if all(r["epoch kept, seqs consecutive"] for r in runs) else "NO",
                sum(r["sse resets"] for r in runs), sum(r["acked not delivered"] for r in runs),
                sum(r["delivered twice"] for r in runs),
                med(runs, "ack p50 ms before the kill")))


# --durable-compare: sync clusters in memory and with a --data-dir per broker
DURABLES = [
    ("sync, memory", REPLICATIONS[0][1], False),
    ("sync, --data-dir, --fsync batch", dict(REPLICATIONS[0][1], HERALD_FSYNC="batch"), True),
    ("sync, --data-dir, --fsync always", dict(REPLICATIONS[0][1], HERALD_FSYNC="always"), True)]


def _publish_acked(sock, ch, key, tries_max=4000, alive=lambda: True):
    """One acknowledged publish of `key` to `ch` on a DEALER, resent with
    the same key while unavailable or unanswered for 1 s (a starting
    broker binds late), while alive(). Returns (reply, unavailable answers)."""
    import msgpack
    unavailable, sent = 0, set()
    for rid in range(tries_max):
        if not alive():
            break
        sock.send(msgpack.packb({"ch": ch, "data": "probe", "id": key, "rid": rid}))
        sent.add(rid)
        reply = None
        while reply is None and sock.poll(1000):
            r = msgpack.unpackb(sock.recv())
            if r.get("rid") in sent:
                reply = r
        if reply is None:
            continue
        if reply.get("error") != "unavailable":
            return reply, unavailable
        unavailable += 1
        time.sleep(0.005)
    return None, unavailable


def restart(herald, env, channels, history, size=100):
    """A whole sync cluster with a --data-dir per broker SIGKILLed and
    started again: `channels` channels of `history` events, spread over
    the three owners (PUSH to each owner); all three brokers killed, then
    started again at once with their command lines. Returns, from the
    first start: each broker's /readyz 200, and per owner the acks of a
    publish to its first, middle and last channel (each must continue the
    epoch at head + 1). Needs pyzmq and msgpack."""
    import msgpack
    import zmq
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from harness import rendezvous_order
    setup = Cluster(herald, gateways=0, env=env, data=True)
    procs, ctx = [], zmq.Context()
    try:
        b = setup.brokers
        ids = [x["id"] for x in b]
        wait(lambda: all((_view(x["http"]) or {}).get("owners") == ids for x in b), 90,
             "a view of three owners")
        names = ["rs%d" % n for n in range(channels)]
        owner = {ch: ids.index(rendezvous_order(ids, ch)[0]) for ch in names}
        dealers = []
        for i, x in enumerate(b):       # until each owner sequences (its lease)
            d = ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.connect(x["router"])
            ch = next(c for c in names if owner[c] == i)
            reply, _ = _publish_acked(d, ch, "warm-" + ch)
            assert reply and "seq" in reply, reply
            dealers.append(d)
        base = sum(counter(x["http"], "herald_broker_events_total") for x in b)
        pushes = []
        for x in b:
            p = ctx.socket(zmq.PUSH)
            p.connect(x["publish"])
            pushes.append(p)
        payload = "x" * size
        filled = time.monotonic()
        for k in range(history):
            for ch in names:
                pushes[owner[ch]].send(msgpack.packb({"ch": ch, "data": payload}))
        wait(lambda: sum(counter(x["http"], "herald_broker_events_total") for x in b)
             >= base + channels * history, 120 + channels * history / 1000,
             "the history sequenced")
        filled = time.monotonic() - filled
        for p in pushes:
            p.close(5000)
        probes = []
        for i in range(len(b)):
            mine = [ch for ch in names if owner[ch] == i]
            probes += [(i, ch) for ch in dict.fromkeys((mine[0], mine[len(mine) // 2],
                                                        mine[-1]))]
        heads = {}
        for i, ch in probes:
            dealers[i].send(msgpack.packb({"op": "history", "ch": ch, "limit": 0}))
            reply = {"rid": None}
            while "rid" in reply:       # a late answer to a warming publish's resend
                assert dealers[i].poll(10000), "no history reply"
                reply = msgpack.unpackb(dealers[i].recv())
            heads[ch] = (reply["epoch"], reply["head"])
        for d in dealers:
            d.close(0)
        stored = sum(os.path.getsize(os.path.join(r, f))
                     for r, _, fs in os.walk(setup.dir) if "/data-b" in r for f in fs)
        argvs = []
        for x in b:
            with open("/proc/%d/cmdline" % x["pid"], "rb") as f:
                argvs.append([a.decode() for a in f.read().split(b"\0") if a])
        for x in b:
            os.kill(x["pid"], signal.SIGKILL)
        wait(lambda: not any(_up(x["pid"]) for x in b), 10, "the brokers killed")
        times, acks = {}, {}

        def ready(i):
            while get(b[i]["http"] + "/readyz", timeout=1)[0] != 200:
                if procs[i].poll() is not None:
                    return      # could not start (a port taken meanwhile): a failed run
                time.sleep(0.005)
            times["ready " + ids[i]] = time.monotonic()

        def probe(i, ch):
            d = ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.connect(b[i]["router"])
            reply, unavailable = _publish_acked(d, ch, "probe-" + ch,
                                                alive=lambda: procs[i].poll() is None)
            times["ack " + ch] = time.monotonic()
            d.close(0)
            reply = reply or {}
            acks[ch] = {"owner": ids[i], "reply": reply, "unavailable": unavailable,
                        "kept": (reply.get("epoch"), reply.get("seq")) ==
                        (heads[ch][0], heads[ch][1] + 1)}
        threads = [threading.Thread(target=ready, args=(i,), daemon=True) for i in range(3)]
        threads += [threading.Thread(target=probe, args=p, daemon=True) for p in probes]
        start = time.monotonic()
        for i, argv in enumerate(argvs):
            log_file = open(os.path.join(setup.dir, "broker-%d.restart.log" % (i + 1)), "w")
            procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          env=dict(os.environ, **env)))
            log_file.close()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        said = []
        for i in range(3):
            with open(os.path.join(setup.dir, "broker-%d.restart.log" % (i + 1))) as f:
                said += [line.strip() for line in f if "history:" in line or
                         (procs[i].poll() is not None and "cannot start" in line)]
        out = {k + " s": round(v - start, 3) for k, v in times.items()}
        ready_s = [v for k, v in out.items() if k.startswith("ready ")]
        acked_s = [v for k, v in out.items() if k.startswith("ack ")]
        out.update({"channels": channels, "events/channel": history,
                    "fill s": round(filled, 2), "stored bytes": stored,
                    "every ready s": max(ready_s) if len(ready_s) == 3 else None,
                    "first ack s": min(acked_s) if acked_s else None,
                    "last ack s": max(acked_s) if len(acked_s) == len(probes) else None,
                    "probes": acks, "kept": all(a["kept"] for a in acks.values()) and
                    len(acks) == len(probes), "said": said,
                    "failed": [ids[i] for i in range(3) if procs[i].poll() is not None]})
        return out
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        ctx.destroy(0)
        setup.stop()


def main_durable(herald, args):
    """Every setup of DURABLES in each run, the order rotated per run; then
    the whole-cluster restart, --runs times."""
    log("host: %d cores, load %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[:3]))
    results = {name: [] for name, _, _ in DURABLES}
    for run in range(args.runs if args.compare else 0):
        order = DURABLES[run % 3:] + DURABLES[:run % 3]
        for name, env, data in order:
            figures = compare_run(herald, env, args, data)
            figures.pop("lat", None)
            results[name].append(figures)
            log("run %d %s: %s" % (run + 1, name, json.dumps(figures)))
    restarts = []
    env = dict(REPLICATIONS[0][1], HERALD_FSYNC=args.restart_fsync)
    for run in range(args.runs if args.restart else 0):
        figures = restart(herald, env, args.restart_channels, args.restart_history)
        log("run %d restart: %s" % (run + 1, json.dumps(figures)))
        if figures["failed"]:       # a broker that did not start measures nothing
            log("run %d restart left out: %s exited" % (run + 1, figures["failed"]))
        else:
            restarts.append(figures)
    log("load at the end: %s" % open("/proc/loadavg").read().split()[:3])
    if args.json:
        print(json.dumps({"compare": results, "restart": restarts}, indent=1))
        return
    durable_table(results, restarts, args)


def durable_table(results, restarts, args):
    """Markdown tables of medians from main_durable's results."""
    def med(runs, key, fmt="%.2f"):
        values = [r[key] for r in runs if r.get(key) is not None]
        return fmt % statistics.median(values) if values else "-"
    if any(results.values()):
        base = statistics.median(r["acks/s"] for r in results[DURABLES[0][0]])
        print("| cluster (3 brokers) | acked publishes/s (x memory; runs) | ack p50 / p99 ms, "
              "at %d/s per channel | ack p50 / p99 ms, saturated | SSE p50 / p99 ms | "
              "lost / dup (SSE) | brokers' CPU per ack, saturated | fsyncs per ack |"
              % args.acked_rate)
        print("|---|---|---|---|---|---|---|---|")
        for name, runs in results.items():
            tput = statistics.median(r["acks/s"] for r in runs)
            print("| %s | %.0f (%.2fx; %s) | %s / %s | %s / %s | %s / %s | %s / %s | %s µs | "
                  "%s |" % (
                      name, tput, tput / base,
                      ", ".join("%.0fk" % (r["acks/s"] / 1000) for r in runs),
                      med(runs, "fixed ack p50 ms"), med(runs, "fixed ack p99 ms"),
                      med(runs, "ack p50 ms"), med(runs, "ack p99 ms"),
                      med(runs, "sse p50 ms"), med(runs, "sse p99 ms"),
                      med(runs, "sse lost", "%d"), med(runs, "sse duplicates", "%d"),
                      med(runs, "broker cpu us/ack", "%.1f"),
                      "%.3f" % statistics.median(r["fsyncs"] / max(1, r["acks"] + r["fixed acks"])
                                                 for r in runs)))
    if restarts:
        print()
        print("| whole cluster SIGKILLed, %d channels x %d events, --fsync %s | fill s | "
              "starts -> every /readyz 200 (runs) | -> first probe acked | -> last of %d "
              "probes acked | epoch kept at head + 1 |" % (
                  args.restart_channels, args.restart_history, args.restart_fsync,
                  len(restarts[0]["probes"])))
        print("|---|---|---|---|---|---|")
        print("| sync | %s | %s s (%s) | %s s | %s s (%s) | %s |" % (
            med(restarts, "fill s"), med(restarts, "every ready s"),
            ", ".join("%.2f" % r["every ready s"] for r in restarts
                      if r["every ready s"] is not None),
            med(restarts, "first ack s"), med(restarts, "last ack s"),
            ", ".join("%.2f" % r["last ack s"] for r in restarts
                      if r["last ack s"] is not None),
            "yes" if all(r["kept"] for r in restarts) else "NO"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--herald", default=os.path.join(ROOT, "build", "herald"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--handoff", action="store_true",
                    help="measure a graceful handoff (3, below) instead of 1 and 2")
    ap.add_argument("--handoff-channels", default="1000,10000")
    ap.add_argument("--handoff-history", type=int, default=10, help="events per channel")
    ap.add_argument("--replication-compare", action="store_true",
                    help="synchronous replication against async (4, below) instead of 1 and 2")
    ap.add_argument("--window", type=int, default=64, help="unanswered acked publishes "
                    "per publisher (4)")
    ap.add_argument("--acked-rate", type=int, default=300, help="acked publishes/s per "
                    "channel for the fixed-rate ack latency (4)")
    ap.add_argument("--subscribers", type=int, default=100, help="SSE subscribers (4)")
    ap.add_argument("--rate", type=int, default=500, help="events/s for SSE latency (4)")
    ap.add_argument("--write-interval", default="0", help="the gateway's (4): 0, so that "
                    "its grouping of writes (20 ms by default) hides no sub-ms cost")
    ap.add_argument("--no-failover", dest="failover", action="store_false",
                    help="skip the failover runs of 4")
    ap.add_argument("--table", metavar="FILE", help="print 4's tables from what "
                    "--replication-compare --json printed, and nothing else")
    ap.add_argument("--durable-compare", action="store_true", help="sync clusters with a "
                    "--data-dir per broker against memory, and a whole-cluster restart (5)")
    ap.add_argument("--no-compare", dest="compare", action="store_false",
                    help="5: the restart only")
    ap.add_argument("--no-restart", dest="restart", action="store_false",
                    help="5: the compare only")
    ap.add_argument("--restart-channels", type=int, default=10000, help="(5)")
    ap.add_argument("--restart-history", type=int, default=10, help="events per channel (5)")
    ap.add_argument("--restart-fsync", default="batch", help="(5)")
    args = ap.parse_args()
    herald = os.path.abspath(args.herald)
    if args.handoff:
        return main_handoff(herald, args)
    if args.table:
        with open(args.table) as f:
            raw = json.load(f)
        return replication_table(raw["compare"], raw["failover"], args.acked_rate)
    if args.replication_compare:
        return main_replication(herald, args)
    if args.durable_compare:
        return main_durable(herald, args)
    # Latency first: a setup's throughput run leaves its brokers' history full
    cases = [("latency", "single", False), ("latency", "cluster", False),
             ("latency", "cluster", True), ("throughput", "single", False),
             ("throughput", "cluster", False), ("throughput", "cluster", True)]
    results = {c: [] for c in cases}
    log("host: %d cores, load %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[:3]))
    for run in range(args.runs):
        for kind in ("single", "cluster"):      # alternate setups, fresh each run
            setup = Single(herald) if kind == "single" else Cluster(herald)
            try:
                for case in cases:
                    what, k, forwarded = case
                    if k != kind:
                        continue
                    fn = throughput if what == "throughput" else latency
                    figures = fn(herald, setup, args.duration, forwarded)
                    results[case].append(figures)
                    log("run %d %s %s%s: %s" % (run + 1, what, kind,
                                               " forwarded" if forwarded else "", figures))
            finally:
                setup.stop()
    if args.json:
        print(json.dumps({"%s %s%s" % (w, k, " forwarded" if f else ""): v
                          for (w, k, f), v in results.items()}, indent=1))
        return
    print("| measure | setup | median of %d runs |" % args.runs)
    print("|---|---|---|")
    for (what, kind, forwarded), runs in results.items():
        label = {"single": "1 broker (split, no cluster file)",
                 "cluster": "3 brokers, %s" % ("pushed to a non-owner (forwarded)" if forwarded
                                               else "pushed to each channel's owner")}[kind]
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        if what == "throughput":
            text = ("%.0f events/s sequenced (publishers handed ZeroMQ %.0f/s; "
                    "not sequenced: %.1f %%)" % (med["sequenced/s"], med["sent/s"],
                                                 100.0 * med["not sequenced"]))
        else:
            text = "p50 %.2f ms, p99 %.2f ms (lost %d, duplicates %d)" % (
                med["p50 ms"], med["p99 ms"], med["lost"], med["duplicates"])
        print("| %s | %s | %s |" % ("PUSH throughput, 3 publishers" if what == "throughput"
                                    else "latency publish -> SSE", label, text))


if __name__ == "__main__":
    main()

