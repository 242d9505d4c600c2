#!/usr/bin/python3
"""Latency and CPU per delivery against offered load: Herald, nchan and a raw writer.

For 1,000 and 5,000 SSE subscribers on one channel (100-byte payloads), offered
loads from 10 events/s up to saturation, this runs the same `herald bench`
against:

  herald      `herald run --workers 1` with its default options (whatever the
              build's default write policy is), and one more series for each
              --herald-args (e.g. "--write-interval 0");
  raw         bench/rawwriter.c: one pre-rendered frame per connection per
              event, one write() each: the kernel's cost, no server work;
  raw@B       the raw writer writing B events at a time, B = Herald's measured
              deliveries per socket write rounded (at least 1), at the same
              load: Herald's deliveries per CPU-s / raw@B's is the "same
              batching" ratio;
  nchan       nginx + nchan via bench/nchan/nchan.sh, one worker.

A load is saturated for a server when delivered events/s < 0.95 x offered,
or something was lost; a series stops after two saturated loads in a row
(one may be a stall of the machine: the table marks it). Runs alternate between servers (`--runs`, medians);
every server is started fresh for each run, on 127.0.0.1 ephemeral ports.
The benchmark only reports: it prints which targets of the issue are met.
It reuses compare.py's server starters and report fields; standard library
only, plus python3-matplotlib for --plot.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare import (LIMITS_OFF, Server, _herald_process, free_port, log,  # noqa: E402
                     replace_block, start_nchan)

LOADS = {1000: (10, 20, 50, 100, 200, 400, 800, 1600, 3200),
         5000: (5, 10, 20, 50, 100, 200, 400)}
QUICK_LOADS = {1000: (10, 50, 200, 800), 5000: (10, 50, 200)}
TARGET_POINT = (1000, 200)      # Herald's CPU per delivery ≤ half nchan's: run even if saturated
BEGIN, END = "<!-- curves:begin -->", "<!-- curves:end -->"


# --------------------------------------------------------------------------
# Servers

def start_herald(herald, extra):
    port, pull = free_port(), "tcp://127.0.0.1:%d" % free_port()
    proc, _ = _herald_process(herald, ["run", "--http", "127.0.0.1:%d" % port, "--pull", pull,
                                       "--router", "tcp://127.0.0.1:*",
                                       "--xpub", "tcp://127.0.0.1:*", "--workers", "1",
                                       "--max-connections", "19000", "--log-level", "info"]
                              + LIMITS_OFF + list(extra))
    return Server("herald", port, [proc], [proc.pid], pull)


def start_raw(rawwriter, batch):
    """The raw writer speaks Herald's protocol, so its Server is a "herald"
    target for `herald bench`."""
    proc = subprocess.Popen([rawwriter, "--batch", str(batch)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines, deadline = {}, time.monotonic() + 10
    while len(lines) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        key, _, value = line.strip().partition(" ")
        lines[key] = value
    if len(lines) < 2:
        proc.kill()
        proc.wait()
        raise RuntimeError("herald-rawwriter did not start")
    port = int(lines["http"].rsplit(":", 1)[1])
    return Server("herald", port, [proc], [proc.pid], lines["pull"])


def metrics(port):
    """Herald's two counters of the coalescing, from /metrics."""
    out = {}
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            name, _, value = line.partition(" ")
            if name in ("herald_events_delivered_total", "herald_gateway_writes_total"):
                out[name] = float(value)
    return out


def run_bench(herald, server, subscribers, rate, duration, on_ready=None):
    """One `herald bench` run; on_ready() is called once every subscriber is
    connected (before publishing), so counters read then leave setup out."""
    argv = [herald, "bench", "--target", server.name, "--json", "--port", str(server.port),
            "-n", str(subscribers), "-r", str(rate), "-d", str(duration), "-s", "100",
            "--conn-rate", "5000", "--drain", "5", "--timeout", str(60 + 2 * duration)]
    if server.pull:
        argv += ["--zmq-endpoint", server.pull]
    for pid in server.pids:
        argv += ["--server-pid", str(pid)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tail = []

    def pump():
        for line in proc.stderr:
            tail.append(line)
            if "connections ready" in line and on_ready:
                try:
                    on_ready()
                except OSError as error:        # no figure then, rather than a wrong one
                    log("  /metrics: %s" % error)
    out = []
    readers = [threading.Thread(target=pump, daemon=True),
               threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=120 + 2 * duration)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError("bench did not end: %s" % " ".join(argv))
    for reader in readers:
        reader.join(5)
    if proc.returncode != 0:
        raise RuntimeError("bench failed (%s): %s" % (" ".join(argv), "".join(tail)[-2000:]))
    return json.loads(out[0])


def figures(report, subscribers, offered):
    d, lat, cpu = report["deliveries"], report["latency_ms"] or {}, \
        report["server"]["cpu_s_publishing"]
    return {"offered": offered,
            "published/s": report["events"]["rate"],
            "delivered/s": d["per_s"] / subscribers,      # events/s each subscriber got
            "p50 ms": lat.get("p50", float("nan")), "p99 ms": lat.get("p99", float("nan")),
            "cpu us/delivery": cpu * 1e6 / d["unique"] if d["unique"] else float("nan"),
            "lost": d["lost"]}


def saturated(fig):
    return fig["lost"] > 0 or not fig["delivered/s"] >= 0.95 * fig["offered"]


# --------------------------------------------------------------------------
# One load point: every server once per run, in an order that rotates

def measure_point(args, subscribers, load, active, run):
    """Returns {series: figures} for one run at one load."""
    out = {}

    def once(name, start, with_metrics=False):
        server = start()
        before, after = {}, {}
        try:
            ready = (lambda: before.update(metrics(server.port))) if with_metrics else None
            fig = figures(run_bench(args.herald, server, subscribers, load, args.duration,
                                    ready), subscribers, load)
            if with_metrics:
                after.update(metrics(server.port))
        finally:
            server.stop()
        if with_metrics and before and after:
            writes = after["herald_gateway_writes_total"] - before["herald_gateway_writes_total"]
            delivered = (after["herald_events_delivered_total"]
                         - before["herald_events_delivered_total"])
            fig["deliveries/write"] = delivered / writes if writes else float("nan")
        log("  %5d subs %5d/s run %d %-22s %8.1f ev/s  p50 %8.2f  p99 %8.2f ms  %6.2f us/del%s"
            "  lost %d" % (subscribers, load, run + 1, name, fig["delivered/s"], fig["p50 ms"],
                           fig["p99 ms"], fig["cpu us/delivery"],
                           "  %.2f del/write" % fig["deliveries/write"]
                           if "deliveries/write" in fig else "", fig["lost"]))
        out[name] = fig
        return fig

    steps = []
    for name, extra in args.heralds:
        if name in active:
            steps.append(("herald", name, extra))
    if "nchan" in active:
        steps.append(("nchan", "nchan", None))
    if "raw" in active:
        steps.append(("raw", "raw", 1))
    shift = run % len(steps) if steps else 0
    steps = steps[shift:] + steps[:shift]            # alternate who goes first
    for kind, name, extra in steps:
        try:
            if kind == "herald":
                fig = once(name, lambda: start_herald(args.herald, extra), with_metrics=True)
                per_write = fig.get("deliveries/write", 1.0)
                batch = max(1, int(round(per_write if per_write == per_write else 1.0)))
                raw = once("raw@%d for %s" % (batch, name),
                           lambda: start_raw(args.rawwriter, batch))
                raw["batch"] = batch
                out[name]["raw ratio"] = raw["cpu us/delivery"] / fig["cpu us/delivery"]
                out[name]["raw batch"] = batch
            elif kind == "nchan":
                once(name, start_nchan)
            else:
                once(name, lambda: start_raw(args.rawwriter, 1))
        except (RuntimeError, OSError, KeyError, ValueError) as error:
            log("  %s at %d/s failed: %s" % (name, load, error))
            out[name] = {"offered": load, "error": str(error)[:300]}
    return out


def median(runs):
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    keys = [k for k in good[0] if isinstance(good[0][k], (int, float))]
    fig = {k: statistics.median(r[k] for r in good if k in r) for k in keys}
    fig["lost"] = max(r["lost"] for r in good)       # any loss counts
    fig["offered"] = good[0]["offered"]
    return fig


def curves(args, subscribers, loads, deadline):
    """{series: [figures per load]} for one subscriber count."""
    series = [name for name, _ in args.heralds] + ["nchan", "raw"]
    if args.no_nchan:
        series.remove("nchan")
    active, result = set(series), {name: [] for name in series}
    strikes = {name: 0 for name in series}
    for load in loads:
        if time.monotonic() > deadline:
            log("  time bound reached: stopping at %d/s" % load)
            break
        running = set(active)
        if (subscribers, load) == TARGET_POINT:
            running |= {args.heralds[0][0], "nchan"} & set(series)
        if not running:
            continue
        per_run = {}
        for run in range(args.runs):
            for name, fig in measure_point(args, subscribers, load, running, run).items():
                per_run.setdefault(name, []).append(fig)
        for name, runs in per_run.items():
            if name.startswith("raw@"):
                continue
            fig = median(runs)
            result[name].append(fig)
            # One saturated point may be the machine's noise (a stall of a
            # few hundred ms in a short run); two in a row end the series.
            strikes[name] = strikes[name] + 1 if "error" in fig or saturated(fig) else 0
            if strikes[name] >= 2 or "error" in fig:
                log("  %s saturated at %d/s" % (name, load))
                active.discard(name)
    return result


# --------------------------------------------------------------------------
# Output

def _f(value, fmt="%.2f"):
    return "n/a" if value is None or value != value else fmt % value


def tables(results, heralds):
    lines = []
    for subscribers, series in results.items():
        lines += ["", "**%s SSE subscribers, one channel, 100-byte payloads**"
                  % "{:,}".format(int(subscribers)), "",
                  "| offered events/s | server | delivered events/s | p50 ms | p99 ms "
                  "| CPU µs / delivery | deliveries / write | raw@B | Herald ÷ raw@B, "
                  "deliveries per CPU-s |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        loads = sorted({fig["offered"] for figs in series.values() for fig in figs})
        for load in loads:
            for name, figs in series.items():
                fig = next((f for f in figs if f["offered"] == load), None)
                if fig is None:
                    continue
                if "error" in fig:
                    lines.append("| %d | %s | failed | | | | | | |" % (load, name))
                    continue
                mark = " (saturated)" if saturated(fig) else ""
                lines.append("| %d | %s | %s%s | %s | %s | %s | %s | %s | %s |" % (
                    load, name, _f(fig["delivered/s"], "%.1f"), mark, _f(fig["p50 ms"]),
                    _f(fig["p99 ms"]), _f(fig["cpu us/delivery"]),
                    _f(fig.get("deliveries/write")),
                    "%d" % fig["raw batch"] if "raw batch" in fig else "",
                    _f(fig.get("raw ratio"))))
    lines += [""] + targets(results, heralds)
    return lines


def targets(results, heralds):
    """The issue's targets, on the default Herald series, as met / not met."""
    out = ["**Targets** (Herald's default series against nchan at each load both were run "
           "at; against the raw writer at Herald's batching):", ""]
    default = heralds[0][0]
    for subscribers, series in results.items():
        herald = {f["offered"]: f for f in series.get(default, []) if "error" not in f}
        nchan = {f["offered"]: f for f in series.get("nchan", []) if "error" not in f}
        both = [l for l in sorted(herald) if l in nchan]
        if both:
            p99 = [l for l in both if herald[l]["p99 ms"] <= nchan[l]["p99 ms"]]
            cpu = [l for l in both if herald[l]["cpu us/delivery"] <= nchan[l]["cpu us/delivery"]]
            out.append("- %d subscribers: p99 ≤ nchan's at %d of %d loads (%s); CPU per "
                       "delivery ≤ nchan's at %d of %d" % (
                           subscribers, len(p99), len(both),
                           "not at " + ", ".join(map(str, sorted(set(both) - set(p99))))
                           if len(p99) < len(both) else "all", len(cpu), len(both)))
        if subscribers == TARGET_POINT[0]:
            at = TARGET_POINT[1]
            if at in herald and at in nchan:
                ratio = herald[at]["cpu us/delivery"] / nchan[at]["cpu us/delivery"]
                out.append("- 1,000 × %d/s: Herald's CPU per delivery is %.2f of nchan's "
                           "(target ≤ 0.5: %s)" % (at, ratio, "met" if ratio <= 0.5 else "not met"))
            else:
                out.append("- 1,000 × %d/s: not measured" % at)
        ratios = [(l, f["raw ratio"]) for l, f in sorted(herald.items()) if "raw ratio" in f]
        if ratios:
            low = [l for l, r in ratios if r < 0.85]
            out.append("- %d subscribers: deliveries per CPU-s ÷ raw writer's at the same "
                       "batching ≥ 0.85 at %d of %d loads%s" % (
                           subscribers, len(ratios) - len(low), len(ratios),
                           " (not at %s)" % ", ".join("%g" % l for l in low) if low else ""))
    return out


def plot(results, directory):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matplotlib.rcParams["svg.fonttype"] = "none"     # text as text: small files, clean diffs
    matplotlib.rcParams["svg.hashsalt"] = "herald"   # stable ids: the same figures, the same file
    os.makedirs(directory, exist_ok=True)
    files = []
    for subscribers, series in results.items():
        fig, (lat, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
        for name, figs in series.items():
            good = [f for f in figs if "error" not in f]
            if not good:
                continue
            x = [f["offered"] for f in good]
            line, = lat.plot(x, [f["p99 ms"] for f in good], marker="o", label=name + " p99")
            lat.plot(x, [f["p50 ms"] for f in good], marker=".", linestyle="--",
                     color=line.get_color(), label=name + " p50")
            cpu.plot(x, [f["cpu us/delivery"] for f in good], marker="o",
                     color=line.get_color(), label=name)
            for f in good:                      # saturated loads: a cross over the point
                if saturated(f):
                    lat.plot([f["offered"]], [f["p99 ms"]], marker="x", markersize=10,
                             color="black")
                    cpu.plot([f["offered"]], [f["cpu us/delivery"]], marker="x",
                             markersize=10, color="black")
        for ax, title, unit in ((lat, "latency", "ms"), (cpu, "server CPU per delivery", "µs")):
            ax.set_xscale("log")
            ax.set_xlabel("offered events/s")
            ax.set_ylabel(unit)
            ax.set_title("%s, %s subscribers" % (title, "{:,}".format(int(subscribers))))
            ax.grid(True, which="both", alpha=0.3)
        lat.set_yscale("log")
        fig.suptitle("× saturated: delivered < 0.95 × offered, or loss", fontsize=8, y=0.02,
                     x=0.99, ha="right")
        lat.legend(fontsize=7)
        cpu.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(directory, "curves-%d.svg" % int(subscribers))
        fig.savefig(path, metadata={"Date": None})
        plt.close(fig)
        files.append(path)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--herald", default=os.path.join(ROOT, "build", "herald"))
    parser.add_argument("--rawwriter", help="default: herald-rawwriter next to --herald")
    parser.add_argument("--herald-args", action="append", default=[], metavar="ARGS",
                        help="one more Herald series with these `herald run` options "
                             "(repeatable), e.g. --herald-args='--write-interval 0'")
    parser.add_argument("--runs", type=int, default=2, help="alternating runs per load")
    parser.add_argument("--duration", type=int, default=5, help="seconds of publishing")
    parser.add_argument("--subscribers", default="1000,5000")
    parser.add_argument("--quick", action="store_true",
                        help="one run of 2 s at fewer loads (%s)" % QUICK_LOADS)
    parser.add_argument("--loads", help="offered events/s, comma-separated, for every "
                        "subscriber count (default: %s)" % LOADS)
    parser.add_argument("--no-nchan", action="store_true", help="Herald and the raw writer only")
    parser.add_argument("--max-minutes", type=float, default=30,
                        help="no new load starts after this (default 30)")
    parser.add_argument("--json", metavar="FILE", help="save every figure")
    parser.add_argument("--from-json", metavar="FILE", help="no runs: tables/plots from FILE")
    parser.add_argument("--plot", metavar="DIR", help="write curves-N.svg into DIR "
                        "(default: img/ beside --write's file, else beside --json's)")
    parser.add_argument("--write", metavar="FILE", help="replace the curves block of FILE "
                        "(and plot into img/ beside it unless --plot)")
    args = parser.parse_args()
    args.rawwriter = args.rawwriter or os.path.join(os.path.dirname(args.herald),
                                                    "herald-rawwriter")
    args.heralds = [("herald", [])] + [("herald " + a, shlex.split(a)) for a in args.herald_args]
    if args.quick:
        args.runs, args.duration = 1, 2
    loads = QUICK_LOADS if args.quick else LOADS
    if args.loads:
        loads = {n: tuple(int(l) for l in args.loads.split(","))
                 for n in (int(s) for s in args.subscribers.split(","))}

    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        results, header = {int(k): v for k, v in saved["results"].items()}, saved["header"]
    else:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no",
                                "--", "broker", "gateway", "common", "cli"],
                               capture_output=True, text=True).stdout.strip()
        commit += " (with uncommitted changes to the server)" if dirty else ""
        header = ("Run %s at commit %s on %s (%d cores, load average %.1f at start); %d "
                  "alternating run(s) of %d s per load, medians; Herald series: %s."
                  % (time.strftime("%Y-%m-%d %H:%M"), commit, os.uname().nodename,
                     os.cpu_count(), os.getloadavg()[0], args.runs, args.duration,
                     ", ".join("`%s`" % (name if not extra else " ".join(extra))
                               for name, extra in args.heralds)))
        deadline = time.monotonic() + args.max_minutes * 60
        results = {}
        for subscribers in (int(s) for s in args.subscribers.split(",")):
            log("%d subscribers" % subscribers)
            results[subscribers] = curves(args, subscribers, loads.get(subscribers,
                                                                       LOADS[1000]), deadline)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"header": header, "results": results}, f, indent=1)
    if args.write and not args.plot:      # the images go with the document
        args.plot = os.path.join(os.path.dirname(os.path.abspath(args.write)), "img")
    elif args.json and not args.plot:     # else beside the figures (make bench: build/)
        args.plot = os.path.dirname(os.path.abspath(args.json))
    lines = [header] + tables(results, args.heralds)
    images = plot(results, args.plot) if args.plot else []
    if images and args.write:
        base = os.path.dirname(os.path.abspath(args.write))
        lines += [""] + ["![curves, %s subscribers](%s)" % (os.path.basename(p)[7:-4],
                                                           os.path.relpath(p, base))
                         for p in images]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        replace_block(args.write, BEGIN, END, text)


if __name__ == "__main__":
    main()
