#!/usr/bin/python3
"""Herald and nchan side by side (issue: benchmarks and performance).

Starts each server on loopback with one worker (so the load generator keeps
the other core), runs the same scenarios against both, alternately, several
times, and prints medians and the ratio Herald/nchan for every figure, as a
Markdown table. `--write docs/benchmarks.md` also replaces the results block
of that file. Standard library only; `make bench` runs it.

Scenarios (numbers as in the issue):
  1. 1,000 SSE subscribers, one channel, 200 events/s, 100-byte payloads
  2. 5,000 SSE subscribers, one channel, 20 events/s
  3. the same two over WebSocket (3a, 3b), and idle memory per WebSocket
     connection at 1k, 5k, 10k (3c); nchan alone when the Herald binary has
     no WebSocket endpoint
  4. idle memory per connection at 1k, 5k, 10k SSE connections (fresh process)
  5. highest publish rate with no loss and p99 < 50 ms, 1,000 subscribers
  6. broker ingest alone over PUSH, next to libzmq's own ceiling
  7. 100,000 channels with one subscriber each: memory and deliveries/s
"""
import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NCHAN = os.path.join(HERE, "nchan", "nchan.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Server:
    """A running server: its pids (CPU and RSS are summed over them)."""

    def __init__(self, name, port, procs, pids, pull=None, stop=None):
        self.name, self.port, self.procs, self.pids = name, port, procs, pids
        self.pull, self._stop = pull, stop

    def stop(self):
        if self._stop:
            self._stop()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def replace_block(path, begin, end, text):
    """Replaces what lies between the markers begin and end in the file
    at path with text (the markers stay)."""
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        raise SystemExit("%s has no %s ... %s block" % (path, begin, end))
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + text + end + tail)


def _herald_process(herald, args):
    """Starts a herald command and returns (process, its ready log entry)."""
    proc = subprocess.Popen([herald] + args + ["--log-format", "json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ready = {}
    got = threading.Event()

    def pump():
        for line in proc.stderr:
            if '"msg":"ready"' in line and not got.is_set():
                ready.update(json.loads(line))
                got.set()
    threading.Thread(target=pump, daemon=True).start()
    if not got.wait(20):
        proc.kill()
        raise RuntimeError("herald %s did not start" % args[0])
    return proc, ready


# Every client of a benchmark comes from 127.0.0.1: the limits per client
# address (1,000 connections, 1,000 publishes a second by default) are off.
LIMITS_OFF = ["--max-connections-per-ip", "0", "--publish-rate", "0"]


def start_herald(herald, gateways=0):
    """`herald run` with one worker, or a broker and `gateways` gateway
    processes sharing one port (SO_REUSEPORT), for more connections than
    one process may hold files."""
    port, pull = free_port(), "tcp://127.0.0.1:%d" % free_port()
    common = ["--log-level", "info"]
    if not gateways:
        proc, _ = _herald_process(herald, ["run", "--http", "127.0.0.1:%d" % port,
                                           "--pull", pull, "--router", "tcp://127.0.0.1:*",
                                           "--xpub", "tcp://127.0.0.1:*", "--workers", "1",
                                           "--max-connections", "19000"] + LIMITS_OFF + common)
        return Server("herald", port, [proc], [proc.pid], pull)
    xpub, router = "tcp://127.0.0.1:%d" % free_port(), "tcp://127.0.0.1:%d" % free_port()
    broker, _ = _herald_process(herald, ["broker", "--pull", pull, "--router", router,
                                         "--xpub", xpub] + common)
    procs = [broker]
    for _ in range(gateways):
        proc, _ = _herald_process(herald, ["gateway", "--http", "127.0.0.1:%d" % port,
                                           "--broker", "%s,%s" % (xpub, router),
                                           "--workers", "1", "--max-connections", "19000"]
                                  + LIMITS_OFF + common)
        procs.append(proc)
    return Server("herald", port, procs, [p.pid for p in procs], pull)


def start_nchan(workers=1):
    port = free_port()
    env = dict(os.environ, WORKERS=str(workers))
    out = subprocess.run([NCHAN, "start", str(port)], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    directory, pids = out[0], [int(p) for p in out[1:]]
    stop = lambda: subprocess.run([NCHAN, "stop", directory], capture_output=True)
    return Server("nchan", port, [], pids, stop=stop)


def bench(herald, server, *args):
    """One `herald bench` run against server; returns its JSON report."""
    argv = [herald, "bench", "--target", server.name, "--json", "-q"] + [str(a) for a in args]
    if server.port:
        argv += ["--port", str(server.port)]
    if server.pull:
        argv += ["--zmq-endpoint", server.pull]
    for pid in server.pids:
        argv += ["--server-pid", str(pid)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError("bench failed (%s): %s" % (" ".join(argv), result.stderr[-2000:]))
    return json.loads(result.stdout)


def fanout_figures(report):
    d, lat, server = report["deliveries"], report["latency_ms"], report["server"]
    cpu = server["cpu_s_publishing"]
    return {
        "events/s published": report["events"]["rate"],
        "deliveries/s": d["per_s"],
        "deliveries per server CPU-s": d["unique"] / cpu if cpu else float("nan"),
        "latency p50 ms": lat["p50"], "latency p99 ms": lat["p99"],
        "latency p99.9 ms": lat["p999"], "latency max ms": lat["max"],
        "fan-out p99 ms": report["fanout_ms"]["p99"],
        "lost": d["lost"], "duplicates": d["duplicates"], "out of order": d["out_of_order"],
    }


def median_figures(runs):
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def scenario_fanout(herald, servers, runs, subscribers, rate, duration, proto="sse"):
    results = {name: [] for name in servers}
    for i in range(runs):
        for name, start in servers.items():     # alternate: herald, nchan, herald...
            server = start()
            try:
                report = bench(herald, server, "-n", subscribers, "-r", rate, "-d", duration,
                               "-s", 100, "--proto", proto)
                results[name].append(fanout_figures(report))
                log("  run %d %s: %.0f deliveries/s, %.0f per CPU-s, p99 %.1f ms, lost %d, "
                    "%d of %d ready, %d dropped"
                    % (i + 1, name, results[name][-1]["deliveries/s"],
                       results[name][-1]["deliveries per server CPU-s"],
                       results[name][-1]["latency p99 ms"], results[name][-1]["lost"],
                       report["connections"]["ok"], subscribers,
                       report["connections"]["dropped"]))
            finally:
                server.stop()
    return {name: median_figures(r) for name, r in results.items()}


def herald_has_ws(herald):
    """True when `herald run` answers GET /v1/ws with 101 Switching Protocols."""
    server = start_herald(herald)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         b"Sec-WebSocket-Version: 13\r\n"
                         b"Sec-WebSocket-Protocol: herald.v1.json\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 101")
    except OSError:
        return False
    finally:
        server.stop()


def scenario_idle(herald, servers, counts, proto="sse"):
    out = {name: {} for name in servers}
    for n in counts:
        for name, start in servers.items():
            server = start()                     # fresh: RSS growth is the connections'
            try:
                report = bench(herald, server, "--mode", "idle", "-n", n, "--proto", proto)
                out[name]["bytes per idle connection, %dk" % (n // 1000)] = \
                    report["rss_bytes_per_conn"]
                log("  idle %d %s %s: %d bytes/connection (%d ready)"
                    % (n, name, proto, report["rss_bytes_per_conn"],
                       report["connections"]["ok"]))
            finally:
                server.stop()
    return out


def scenario_max_rate(herald, servers, rates, duration):
    """The highest rate of `rates` that loses nothing with p99 < 50 ms."""
    out = {}
    for name, start in servers.items():
        best = 0
        server = start()
        try:
            for rate in rates:
                figures = fanout_figures(bench(herald, server, "-n", 1000, "-r", rate,
                                               "-d", duration, "-s", 100))
                ok = (figures["lost"] == 0 and figures["latency p99 ms"] < 50
                      and figures["events/s published"] >= 0.98 * rate)
                log("  %s at %d/s: published %.0f/s, p99 %.1f ms, lost %d -> %s"
                    % (name, rate, figures["events/s published"], figures["latency p99 ms"],
                       figures["lost"], "ok" if ok else "no"))
                if not ok:
                    break
                best = rate
        finally:
            server.stop()
        out[name] = {"max events/s, no loss, p99 < 50 ms": best}
    return out


def scenario_ingest(herald, duration):
    pull = "tcp://127.0.0.1:%d" % free_port()
    proc, _ = _herald_process(herald, ["broker", "--pull", pull, "--router", "tcp://127.0.0.1:*",
                                       "--xpub", "tcp://127.0.0.1:*", "--log-level", "info"])
    server = Server("herald", 0, [proc], [proc.pid], pull)
    try:
        ingest = bench(herald, server, "--mode", "ingest", "-d", duration, "-s", 100)
    finally:
        server.stop()
    ceiling = json.loads(subprocess.run([herald, "bench", "--mode", "zmq-ceiling", "-d",
                                         str(duration), "-s", "100", "--json", "-q"],
                                        capture_output=True, text=True, check=True).stdout)
    return ingest, ceiling


def scenario_channels(herald, servers, channels, rate, duration):
    out = {}
    for name, start in servers.items():
        server = start()
        try:
            report = bench(herald, server, "-n", channels, "--channels", channels,
                           "-r", rate, "-d", duration, "-s", 100, "--connect-timeout", 120,
                           "--timeout", 600)
            figures = fanout_figures(report)
            conns = report["connections"]["ok"]
            rss = report["server"]["rss_kb_connected"] - report["server"]["rss_kb_before"]
            out[name] = {"connections": conns,
                         "RSS growth per connection, bytes": rss * 1024 / max(conns, 1),
                         "deliveries/s": figures["deliveries/s"],
                         "deliveries per server CPU-s": figures["deliveries per server CPU-s"],
                         "latency p99 ms": figures["latency p99 ms"], "lost": figures["lost"]}
            log("  %s: %s" % (name, out[name]))
        finally:
            server.stop()
    return out


def _fmt(value):
    if isinstance(value, float) and value != value:
        return "n/a"
    if isinstance(value, float) and abs(value) < 100:
        return "%.2f" % value
    return "{:,.0f}".format(value)


def table(title, results, lower_is_better=()):
    """Markdown rows: figure | Herald | nchan | Herald/nchan."""
    lines = ["", "**%s**" % title, "", "| figure | Herald | nchan | Herald / nchan |",
             "|---|---:|---:|---:|"]
    herald, nchan = results.get("herald", {}), results.get("nchan", {})
    for key in herald or nchan:
        h, n = herald.get(key), nchan.get(key)
        ratio = "n/a"
        if isinstance(h, (int, float)) and isinstance(n, (int, float)) and n:
            ratio = "%.2f" % (h / n)
            if key in lower_is_better:
                ratio += " (lower is better)"
        lines.append("| %s | %s | %s | %s |" % (key, "n/a" if h is None else _fmt(h),
                                               "n/a" if n is None else _fmt(n), ratio))
    return lines


LOWER = ("latency p50 ms", "latency p99 ms", "latency p99.9 ms", "latency max ms",
         "fan-out p99 ms", "lost", "duplicates", "out of order",
         "bytes per idle connection, 1k", "bytes per idle connection, 5k",
         "bytes per idle connection, 10k", "RSS growth per connection, bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--herald", default=os.path.join(ROOT, "build", "herald"))
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per scenario")
    parser.add_argument("--duration", type=int, default=10, help="seconds of publishing")
    parser.add_argument("--quick", action="store_true",
                        help="one run, 5 s, scenario 7 at 20,000 channels")
    parser.add_argument("--only", default="1,2,3,4,5,6,7",
                        help="scenarios to run, comma-separated (3 is 3a,3b,3c)")
    parser.add_argument("--write", metavar="FILE", help="replace the results block in FILE")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.duration = 1, 5
    only = set(args.only.split(","))
    herald = args.herald
    servers = {"herald": lambda: start_herald(herald), "nchan": lambda: start_nchan()}
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "unknown CPU")
    lines = ["Run %s on %s: %d cores (%s), %s, Linux %s; %d alternating runs of %d s, medians."
             % (time.strftime("%Y-%m-%d"), socket.gethostname(), os.cpu_count(), cpu,
                platform.libc_ver()[0] + " " + platform.libc_ver()[1], platform.release(),
                args.runs, args.duration)]
    if "1" in only:
        log("scenario 1: 1,000 subscribers, 200 events/s")
        lines += table("1. 1,000 SSE subscribers, one channel, 200 events/s, 100-byte payloads",
                       scenario_fanout(herald, servers, args.runs, 1000, 200, args.duration),
                       LOWER)
    if "2" in only:
        log("scenario 2: 5,000 subscribers, 20 events/s")
        lines += table("2. 5,000 SSE subscribers, one channel, 20 events/s",
                       scenario_fanout(herald, servers, args.runs, 5000, 20, args.duration),
                       LOWER)
    if only & {"3", "3a", "3b", "3c"}:
        ws = herald_has_ws(herald)
        ws_servers = servers if ws else {"nchan": servers["nchan"]}
        note = "" if ws else " (this Herald has no WebSocket endpoint: nchan alone)"
        for number, (subscribers, rate) in (("3a", (1000, 200)), ("3b", (5000, 20))):
            if not only & {"3", number}:
                continue
            log("scenario %s: WebSocket, %d subscribers, %d events/s%s"
                % (number, subscribers, rate, note))
            lines += table("%s. WebSocket: %s subscribers, one channel, %d events/s, 100-byte "
                           "payloads%s" % (number, "{:,}".format(subscribers), rate, note),
                           scenario_fanout(herald, ws_servers, args.runs, subscribers, rate,
                                           args.duration, proto="ws"), LOWER)
        if only & {"3", "3c"}:
            log("scenario 3c: idle memory per WebSocket connection%s" % note)
            lines += table("3c. Idle memory per WebSocket connection (RSS growth / N, fresh "
                           "process; Herald's connections subscribed to one channel)%s" % note,
                           scenario_idle(herald, ws_servers, (1000, 5000, 10000), proto="ws"),
                           LOWER)
    if "4" in only:
        log("scenario 4: idle memory")
        lines += table("4. Idle memory per SSE connection (RSS growth / N, fresh process)",
                       scenario_idle(herald, servers, (1000, 5000, 10000)), LOWER)
    if "5" in only:
        log("scenario 5: highest rate")
        rates = (50, 100, 200, 400, 800, 1600, 2400, 3200, 4800, 6400)
        lines += table("5. Highest publish rate with no loss and p99 < 50 ms, 1,000 subscribers "
                       "(rates tried: %s)" % ", ".join(map(str, rates)),
                       scenario_max_rate(herald, servers, rates, min(args.duration, 5)))
    if "6" in only:
        log("scenario 6: ingest")
        ingest, ceiling = scenario_ingest(herald, min(args.duration, 5))
        rate, limit = ingest["events_per_s"], ceiling["msgs_per_s"]
        lines += ["", "**6. Broker ingest over PUSH, 100-byte payloads, no subscribers**", "",
                  "| figure | value |", "|---|---:|",
                  "| Herald broker, events/s (sent until the broker took the last) | %s |"
                  % _fmt(rate),
                  "| Herald broker CPU-s per million events | %.2f |"
                  % (ingest["server"]["cpu_s"] * 1e6 / max(ingest["sent"], 1)),
                  "| libzmq PUSH→PULL ceiling on this machine, messages/s | %s |" % _fmt(limit),
                  "| Herald / ceiling | %.2f |" % (rate / limit)]
    if "7" in only:
        channels = 20000 if args.quick else 100000
        log("scenario 7: %d channels" % channels)
        multi = {"herald": lambda: start_herald(herald, gateways=channels // 12500),
                 "nchan": lambda: start_nchan(workers=channels // 12500)}
        lines += table("7. %s channels, one subscriber each, 10,000 events/s (Herald: one broker "
                       "and %d gateway processes; nchan: %d workers; one process holds at most "
                       "20,000 files here)" % ("{:,}".format(channels), channels // 12500,
                                               channels // 12500),
                       scenario_channels(herald, multi, channels, 10000, args.duration), LOWER)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        replace_block(args.write, "<!-- results:begin -->", "<!-- results:end -->", text)


if __name__ == "__main__":
    main()
