#!/usr/bin/python3
"""100,000 SSE connections held across the gateways of one cluster (issue 10,
Measured; docs/benchmarks.md, "100,000 SSE connections across gateways").
Standard library only, plus the `herald bench` generator.

  /usr/bin/python3 bench/connections.py [--herald build/herald] [-n 100000]
      [--gateways K] [--channels 100] [--events 3] [--rate 50] [--json]

Starts 3 brokers with deploy/local-cluster.sh (bench/cluster.py's Cluster)
and K `herald gateway --cluster` processes (default: one per 15,000
connections, since one process may hold at most 20,000 files here), all
listening on ONE loopback port with SO_REUSEPORT, as behind a load
balancer: the kernel spreads the connections over the gateways. Each
gateway has one worker and no per-address limits (every client is
127.0.0.x). Then one `herald bench` run opens -n SSE connections, each
subscribed to one of --channels channels, from as many subscriber processes
as the open-file limit needs and from 127.0.0.1..X (each address carries at
most a third of the ephemeral port range: see source_addresses), at
--conn-rate; waits until every one got its first `id:` line; then PUSHes
--events events to every channel at --rate events/s through broker b1
(which forwards those of channels it does not own) and checks that every
connection got every event of its channel, once and in order. Exit status
0 when every connection got ready and every event arrived, 1 otherwise.

Reported: connections ready, dropped, and held (the gateways' open sockets
1 s into publishing); each gateway's connections and RSS (VmRSS) before
connecting, once all are ready, and while publishing; memory per connection
= the gateways' RSS growth / connections; time to connect all; deliveries /
expected; latency publish -> delivery (p50/p99 over every delivery;
fan-out p99: per event, its last delivery); CPU of the gateways, the brokers and the generator.

Bounded: every wait has a deadline, `herald bench` its --timeout; every
process started here is stopped by PID on exit, error or Ctrl-C.
"""
import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time

import cluster as C

HZ = os.sysconf("SC_CLK_TCK")
PER_GATEWAY = 15000     # connections per gateway by default (20,000 files each)
MAX_PER_GATEWAY = 19000  # --max-connections: under the open-file limit, with room


def log(*args):
    C.log(*args)


def sample(pid):
    """{rss_kb, cpu_s, fds} of a live process, from /proc."""
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / HZ       # utime, stime
    return {"rss_kb": rss, "cpu_s": cpu, "fds": len(os.listdir("/proc/%d/fd" % pid))}


class Gateways:
    """k `herald gateway --cluster FILE` processes sharing 127.0.0.1:port."""

    def __init__(self, herald, cluster_file, k, max_connections):
        self.port = C.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.dir = tempfile.mkdtemp(prefix="herald-bench-gateways-")
        self.procs = []
        try:
            for j in range(k):
                logf = open(os.path.join(self.dir, "gateway-%d.log" % (j + 1)), "w")
                self.procs.append(subprocess.Popen(
                    [herald, "gateway", "--cluster", cluster_file,
                     "--http", "127.0.0.1:%d" % self.port, "--workers", "1",
                     "--max-connections", str(max_connections),
                     "--max-connections-per-ip", "0", "--publish-rate", "0"],
                    stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT))
                logf.close()
            # /readyz on the shared port answers from any one of them: each
            # gateway's own log says when it follows a view.
            C.wait(lambda: all(self._following(j) for j in range(k)), 30,
                   "every gateway following a view")
            C.wait(lambda: C.get(self.url + "/readyz")[0] == 200, 10, "/readyz")
        except BaseException:
            self.stop()
            raise
        self.pids = [p.pid for p in self.procs]

    def idle_fds(self):
        """Each gateway's open files with no client: once unchanged for 0.5 s
        (warm()'s HTTP connections closed)."""
        last = [None]

        def steady():
            now = {"g%d" % (j + 1): sample(pid)["fds"] for j, pid in enumerate(self.pids)}
            same, last[0] = now == last[0], now
            return same
        C.wait(lambda: steady() or time.sleep(0.45), 10, "the gateways' idle open files")
        return last[0]

    def _following(self, j):
        if self.procs[j].poll() is not None:
            raise RuntimeError("gateway %d exited: %s" % (j + 1, self.log_tail(j)))
        with open(os.path.join(self.dir, "gateway-%d.log" % (j + 1))) as f:
            text = f.read()
        return " ready " in text and "following a new view" in text

    def log_tail(self, j, lines=5):
        with open(os.path.join(self.dir, "gateway-%d.log" % (j + 1))) as f:
            return "".join(f.readlines()[-lines:])

    def stop(self):
        """SIGTERM each, wait up to 15 s, then SIGKILL; logs kept on failure."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 15
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log("gateway pid %d still up after 15 s: SIGKILL" % p.pid)
                p.kill()
                p.wait(5)
        if all(p.returncode == 0 for p in self.procs):
            subprocess.run(["rm", "-rf", self.dir])
        else:
            log("gateway exit codes %s; logs in %s" % ([p.returncode for p in self.procs],
                                                         self.dir))


def source_addresses(n):
    """127.0.0.1..X to connect from, each used for at most a third of the
    ephemeral port range. At 14,000 connections per source address (half
    the range) the ramp fell from 4,000 to about 150 connections/s, the
    generator spending its time in the kernel: that fits Linux's connect()
    trying ports of one parity first (__inet_hash_connect) and, once that
    half is used for a (source, destination) pair, scanning it each time."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = (int(v) for v in f.read().split())
    return max(1, min(254, -(-n // ((high - low + 1) // 3))))


def warm(cluster, gateways):
    """Until every broker sequences a channel it owns (a new view's owners
    wait out their lease first): PUSHed events before that would be lost."""
    cluster.gateway = gateways.url
    for i in range(len(cluster.brokers)):
        cluster.warm(cluster.channel_owned_by(i, "warm-"))


def run_bench(herald, args, cluster, gateways):
    """One `herald bench` fan-out run; samples every server process when all
    connections are ready. Returns (report, samples, client CPU s)."""
    pids = {"b%d" % (i + 1): pid for i, pid in enumerate(cluster.pids)}
    pids.update({"g%d" % (j + 1): pid for j, pid in enumerate(gateways.pids)})
    samples = {"before": {name: sample(pid) for name, pid in pids.items()}}
    events = args.channels * args.events
    timeout = (args.connections / args.conn_rate + args.connect_timeout + 5 + args.settle
               + events / args.rate + args.drain + 30)
    argv = [herald, "bench", "--json", "--port", gateways.port,
            "--zmq-endpoint", cluster.brokers[0]["publish"],
            "-n", args.connections, "--src-addrs", source_addresses(args.connections),
            "--channel", "conns", "--channels", args.channels,
            "-m", events, "-r", args.rate, "-d", events / args.rate + 5,
            "--conn-rate", args.conn_rate, "--connect-timeout", args.connect_timeout,
            "--settle", args.settle, "--drain", args.drain, "--timeout", int(timeout)]
    for pid in pids.values():
        argv += ["--server-pid", pid]
    argv = [str(a) for a in argv]
    log("$ " + " ".join(argv))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = tempfile.TemporaryFile("w+")
    bench = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.PIPE, text=True)
    stderr = []

    def watch():
        # "N of N connections ready (F failed) in S s": the settle pause
        # follows, so the servers are sampled with every stream started
        for line in bench.stderr:
            stderr.append(line)
            log("  " + line.rstrip())
            if "connections ready" in line and "connected" not in samples:
                samples["connected"] = {n: sample(p) for n, p in pids.items()}
                samples["connected_at"] = time.monotonic() - started
            elif "published" in line and "publishing" not in samples:
                # the first, 1 s into publishing: every connection open (a
                # later line may be read here only once the run is closing)
                samples["publishing"] = {n: sample(p) for n, p in pids.items()}
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        bench.wait(timeout + 30)
    except BaseException:
        bench.kill()        # its subscriber processes exit when it is gone
        bench.wait(5)
        raise
    watcher.join(5)
    samples["end"] = {name: sample(pid) for name, pid in pids.items()}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if bench.returncode != 0:
        raise RuntimeError("herald bench exited %d: %s" % (bench.returncode,
                                                           "".join(stderr[-20:])))
    if "connected" not in samples:
        raise RuntimeError("herald bench never reported its connections ready")
    samples.setdefault("publishing", samples["connected"])
    out.seek(0)
    return json.load(out), samples, client_cpu


def figures(args, report, samples, client_cpu, gateway_fds):
    conns, d = report["connections"], report["deliveries"]
    before, connected = samples["before"], samples["connected"]
    publishing, end = samples["publishing"], samples["end"]
    gws = sorted((n for n in before if n.startswith("g")), key=lambda n: int(n[1:]))
    brokers = sorted(n for n in before if n.startswith("b"))
    per_gateway = []
    for n in gws:
        held = connected[n]["fds"] - gateway_fds[n]
        grow = connected[n]["rss_kb"] - before[n]["rss_kb"]
        per_gateway.append({
            "gateway": n, "connections": held,
            "connections publishing": publishing[n]["fds"] - gateway_fds[n],
            "rss kB before": before[n]["rss_kb"], "rss kB connected": connected[n]["rss_kb"],
            "rss kB publishing": publishing[n]["rss_kb"],
            "KiB per connection": grow / held if held else float("nan"),
            "cpu s": end[n]["cpu_s"] - before[n]["cpu_s"]})
    ok = conns["ok"]
    grow_kb = sum(connected[n]["rss_kb"] - before[n]["rss_kb"] for n in gws)
    grow_pub_kb = sum(publishing[n]["rss_kb"] - before[n]["rss_kb"] for n in gws)
    cpu = lambda names, a, b: sum(samples[b][n]["cpu_s"] - samples[a][n]["cpu_s"]
                                  for n in names)
    return {
        "connections requested": args.connections,
        "connections ready": ok, "failed": conns["failed"], "dropped": conns["dropped"],
        "held while publishing (gateways' open sockets)": sum(
            g["connections publishing"] for g in per_gateway),
        "gateways": len(gws), "channels": args.channels,
        "subscriber processes": report["procs"], "source addresses": report["src_addrs"],
        "time to connect all s": conns["ramp_s"],
        "gateway RSS growth kB (all ready)": grow_kb,
        "KiB per connection (all ready)": grow_kb / ok if ok else float("nan"),
        "KiB per connection (publishing)": grow_pub_kb / ok if ok else float("nan"),
        "broker RSS kB before / publishing": [(before[n]["rss_kb"], publishing[n]["rss_kb"])
                                              for n in brokers],
        "events published": report["events"]["published"],
        "deliveries unique": d["unique"], "deliveries expected": d["expected"],
        "lost": d["lost"], "duplicates": d["duplicates"], "out of order": d["out_of_order"],
        "latency p50 ms": report["latency_ms"]["p50"],
        "latency p99 ms": report["latency_ms"]["p99"],
        "fan-out p99 ms": report["fanout_ms"]["p99"],
        "gateways cpu s connecting": cpu(gws, "before", "connected"),
        "gateway CPU us per connection": (cpu(gws, "before", "connected") * 1e6 / ok
                                          if ok else float("nan")),
        # from all ready to the end: settle, publishing, drain, and the closes
        "gateways cpu s after ready": cpu(gws, "connected", "end"),
        "brokers cpu s": cpu(brokers, "before", "end"),
        "generator cpu s": client_cpu,
        "per gateway": per_gateway,
    }


def markdown(f):
    lines = ["| figure | value |", "|---|---:|"]
    for key, value in f.items():
        if key in ("per gateway", "broker RSS kB before / publishing"):
            continue
        if isinstance(value, float):
            value = "%.2f" % value if abs(value) < 100 else "{:,.0f}".format(value)
        elif isinstance(value, int):
            value = "{:,}".format(value)
        lines.append("| %s | %s |" % (key, value))
    lines.append("| broker RSS kB before -> publishing | %s |" % ", ".join(
        "%d -> %d" % tuple(pair) for pair in f["broker RSS kB before / publishing"]))
    lines += ["", "| gateway | connections | RSS kB before | all ready | publishing "
              "| KiB per connection (all ready) | CPU s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for g in f["per gateway"]:
        lines.append("| %s | %s | %s | %s | %s | %.2f | %.1f |" % (
            g["gateway"], "{:,}".format(g["connections"]), "{:,}".format(g["rss kB before"]),
            "{:,}".format(g["rss kB connected"]), "{:,}".format(g["rss kB publishing"]),
            g["KiB per connection"], g["cpu s"]))
    return "\n".join(lines)


def _interrupted(signum, frame):
    """SIGTERM as Ctrl-C: the finally clauses stop what was started."""
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--herald", default=os.path.join(C.ROOT, "build", "herald"))
    ap.add_argument("-n", "--connections", type=int, default=100000)
    ap.add_argument("--gateways", type=int, default=0,
                    help="gateway processes (default: one per %d connections)" % PER_GATEWAY)
    ap.add_argument("--channels", type=int, default=100)
    ap.add_argument("--events", type=int, default=3, help="events published to each channel")
    ap.add_argument("--rate", type=float, default=50, help="events/s, all channels")
    ap.add_argument("--conn-rate", type=int, default=4000, help="new connections/s")
    ap.add_argument("--connect-timeout", type=float, default=30)
    ap.add_argument("--settle", type=float, default=2)
    ap.add_argument("--drain", type=float, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    herald = os.path.abspath(args.herald)
    k = args.gateways or -(-args.connections // PER_GATEWAY)
    if args.connections > k * MAX_PER_GATEWAY * 0.9:
        ap.error("%d connections need more than %d gateways (at most %d files each here)"
                 % (args.connections, k, MAX_PER_GATEWAY))
    signal.signal(signal.SIGTERM, _interrupted)
    log("host: %d cores, load %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[:3]))
    t0 = time.monotonic()
    cluster = C.Cluster(herald, brokers=3, gateways=0)
    try:
        gateways = Gateways(herald, cluster.file, k, MAX_PER_GATEWAY)
        try:
            log("3 brokers, %d gateways on %s (up in %.1f s)" % (k, gateways.url,
                                                                 time.monotonic() - t0))
            warm(cluster, gateways)
            gateway_fds = gateways.idle_fds()
            report, samples, client_cpu = run_bench(herald, args, cluster, gateways)
        finally:
            gateways.stop()
    finally:
        cluster.stop()
    result = figures(args, report, samples, client_cpu, gateway_fds)
    log("load %s; %.0f s in all" % (open("/proc/loadavg").read().split()[:3],
                                    time.monotonic() - t0))
    print(json.dumps({"figures": result, "bench": report}, indent=1) if args.json
          else markdown(result))
    complete = (result["connections ready"] == args.connections and not result["lost"]
                and result["deliveries unique"] == result["deliveries expected"])
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
