#!/usr/bin/python3
"""check_deps: the gateway's modules depend on each other one way only.

A module is a file stem (hrg_group.c and hrg_group.h are "hrg_group"); it
depends on every module whose header it includes. The check fails on any
cycle, and on the fan-out core including a transport: the arrows must run
loop -> transports -> fan-out core -> common (and common includes nothing
of the gateway). Usage: check_deps.py SOURCE_DIR"""
import os
import re
import sys

# The fan-out core: knows nothing of SSE or WebSocket.
CORE = {"hrg_channel", "hrg_group", "hrg_stream", "hrg_catchup", "hrg_conn",
        "hrg_frame", "hrg_event", "hrg_fetch", "hrg_link", "hrg_worker"}
TRANSPORT = re.compile(r"^hrg_(sse|ws)")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_0-9]+)\.h"', re.M)


def graph(root):
    edges = {}
    for folder in ("gateway", "common"):
        for name in sorted(os.listdir(os.path.join(root, folder))):
            stem, ext = os.path.splitext(name)
            if ext not in (".c", ".h"):
                continue
            with open(os.path.join(root, folder, name), encoding="utf-8") as f:
                text = f.read()
            deps = edges.setdefault(stem, set())
            deps.update(d for d in INCLUDE.findall(text) if d != stem)
    return edges


def cycles(edges):
    """Every module on a cycle, as one example path per cycle found."""
    found, state = [], {}

    def visit(node, path):
        state[node] = 1
        for dep in sorted(edges.get(node, ())):
            if dep not in edges:
                continue
            if state.get(dep) == 1:
                found.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    edges = graph(root)
    problems = [" -> ".join(c) for c in cycles(edges)]
    for module, deps in sorted(edges.items()):
        if module in CORE:
            problems += ["%s (fan-out core) includes the transport %s" % (module, d)
                         for d in sorted(deps) if TRANSPORT.match(d)]
        if module.startswith("hr_"):
            problems += ["%s (common) includes the gateway's %s" % (module, d)
                         for d in sorted(deps) if d.startswith("hrg_")]
    for p in problems:
        print("dependency problem:", p)
    print("%d modules, %d problems" % (len(edges), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
