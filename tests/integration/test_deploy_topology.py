"""The command lines of deploy/compose.yaml and of the Kubernetes manifests
(deploy/k8s/), run for real without containers (deploy/README.md,
"Containers and Kubernetes"). Each broker and gateway runs in a network
namespace of its own, named as its service or pod: its own address on a
bridge, the same ports as every other broker, and an /etc/hosts (from
/etc/netns) that resolves the cluster file's names, as a container's DNS
would. Only the paths are changed (cluster file, state directory, token
keys); every flag is the manifest's.

For each: the brokers elect a view and every broker and gateway answers
/readyz; an event published through one gateway reaches an SSE client of
the other; the channel's owner stopped with SIGTERM hands it over and
exits 0 within the stop grace period the manifest gives it; the next
event arrives in the same epoch, with no reset for the client.

Needs root and `ip` (iproute2); skipped otherwise. About 10 s.
"""
import os
import shutil
import subprocess
import tempfile
import time
import types
import unittest

import harness as H
from test_cluster_partition import Net, _run, _skip_reason, _tool
from test_deploy_k8s import (ROOT, brokers_of, compose, compose_role, container, duration_s,
                             flag_value, host_port, k8s, k8s_cluster_text, one)

CHANNEL = "deploy-topology"


class Node(H.Herald):
    """herald with the manifest's flags only (no test defaults)."""
    DEFAULTS = {"broker": [], "gateway": []}


class Lan:
    """A network namespace per node on a bridge (in a namespace of its
    own), and one more address on the host side for the test's clients.
    nodes: [(label, hostnames)]. close() removes all of it, even half made."""

    def __init__(self, nodes):
        self.ip = _tool("ip")
        tag = "hd%d" % (os.getpid() % 100000)       # interface names: 15 characters at most
        net = Net._pick(types.SimpleNamespace(ip=self.ip))
        addresses = [str(a) for a in net.hosts()]
        assert len(addresses) > len(nodes), "a /29 holds %d nodes" % (len(addresses) - 1)
        self.switch, self.host_veth = tag + "-sw", tag + "h"
        self.ns, self.address, self.etc = {}, {}, []
        hosts = "127.0.0.1 localhost\n" + "".join(
            "%s %s\n" % (addresses[i], " ".join(names)) for i, (_, names) in enumerate(nodes))
        try:
            _run(self.ip, "netns", "add", self.switch)
            _run(self.ip, "-n", self.switch, "link", "add", "br0", "type", "bridge")
            _run(self.ip, "-n", self.switch, "link", "set", "br0", "up")
            for i, (label, _) in enumerate(nodes):
                ns = "%s-%s" % (tag, label)
                etc = os.path.join("/etc/netns", ns)
                os.makedirs(etc)
                self.etc.append(etc)
                with open(os.path.join(etc, "hosts"), "w") as f:
                    f.write(hosts)
                _run(self.ip, "netns", "add", ns)
                self.ns[label], self.address[label] = ns, addresses[i]
                self._plug("%sn%d" % (tag, i), ns, addresses[i], net.prefixlen)
            self._plug(self.host_veth, None, addresses[-1], net.prefixlen)
        except BaseException:
            self.close()
            raise

    def _plug(self, veth, ns, address, prefix):
        """A veth pair: veth in ns (None: the host) with address, its peer
        on the bridge."""
        peer = veth + "b"
        _run(self.ip, "link", "add", veth, "type", "veth", "peer", "name", peer)
        _run(self.ip, "link", "set", peer, "netns", self.switch)
        _run(self.ip, "-n", self.switch, "link", "set", peer, "master", "br0", "up")
        where = [self.ip] if ns is None else [self.ip, "-n", ns]
        if ns is not None:
            _run(self.ip, "link", "set", veth, "netns", ns)
            _run(*where, "link", "set", "lo", "up")
        _run(*where, "addr", "add", "%s/%d" % (address, prefix), "dev", veth)
        _run(*where, "link", "set", veth, "up")

    def wrap(self, label):
        return [self.ip, "netns", "exec", self.ns[label]]

    def close(self):
        for ns in list(self.ns.values()) + [self.switch]:
            subprocess.run([self.ip, "netns", "del", ns], capture_output=True, timeout=10)
        subprocess.run([self.ip, "link", "del", self.host_veth], capture_output=True, timeout=10)
        for etc in self.etc:
            shutil.rmtree(etc, True)


def adapt(args, paths):
    """The manifest's args with each path flag's value replaced (paths:
    {flag: value}) and $(POD_NAME) expanded by the caller."""
    out = list(args)
    for i, a in enumerate(out[:-1]):
        if a in paths:
            out[i + 1] = paths[a]
    return out


@unittest.skipIf(_skip_reason(), _skip_reason() or "")
class Topology(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-topology-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def lan(self, nodes):
        lan = Lan(nodes)
        self.addCleanup(lan.close)
        return lan

    def start(self, lan, label, args):
        role = args[0]
        node = Node(role, args[1:], wrap=lan.wrap(label))
        self.addCleanup(node.kill)
        self.addCleanup(lambda: node.running() and node.stop())
        return node

    def exercise(self, lan, brokers, gateways, grace, headers=None):
        """brokers, gateways: {label: (process, http port)}."""
        url = {label: "http://%s:%d" % (lan.address[label], port)
               for label, (_, port) in list(brokers.items()) + list(gateways.items())}
        H.wait_until(lambda: all(H.http("GET", url[l] + "/readyz", timeout=2).status == 200
                                 for l in url), 60, "every broker and gateway ready",
                     interval=0.1)
        (g1, g2), first = sorted(gateways), sorted(brokers)[0]
        client = H.subscribed(self, url[g2], [CHANNEL], headers=headers)

        def publish(n):
            def accepted():
                r = H.publish(url[g1], {"channel": CHANNEL, "data": {"n": n},
                                        "id": "%s-%d" % (CHANNEL, n)}, headers=headers)
                self.assertIn(r.status, (200, 503), r)
                return r.status == 200
            H.wait_until(accepted, 20, "publish %d accepted" % n, interval=0.05)

        publish(1)
        client.wait_events(1, timeout=10)
        owner_id = H.http("GET", url[first] + "/v1/cluster?channel=" + CHANNEL) \
            .json["channel"]["owner"]
        owner = owner_id                # brokers are keyed by their ids
        process = brokers[owner][0]
        started = time.monotonic()
        process.stop(timeout=grace, expect_code=0)
        took = time.monotonic() - started
        print("\n%s: the owner %s handed over and exited in %.2f s (grace %s s)"
              % (self._testMethodName, owner, took, grace))
        self.assertTrue(any(e.get("msg") == "left the cluster" for e in process.logs()),
                        process.stderr()[-3000:])
        publish(2)
        events = client.wait_events(2, timeout=20)
        self.assertEqual([e.json["data"]["n"] for e in events], [1, 2])
        self.assertEqual(events[0].json["epoch"], events[1].json["epoch"],
                         "a graceful handoff keeps the epoch")
        self.assertFalse([e for e in client.events if e.type == "herald-reset"])

    def test_compose(self):
        services = compose(ROOT)["services"]
        brokers = [n for n, s in services.items() if compose_role(s) == "broker"]
        gateways = [n for n, s in services.items() if compose_role(s) == "gateway"]
        lan = self.lan([(n, [n]) for n in brokers + gateways])
        cluster = os.path.join(self.dir, "cluster.json")
        shutil.copy(os.path.join(ROOT, "deploy", "cluster.json"), cluster)
        procs = {}
        for n in brokers + gateways:
            state = os.path.join(self.dir, "state-" + n)
            os.makedirs(state)
            args = adapt(services[n]["command"], {"--cluster": cluster, "--state-dir": state})
            procs[n] = (self.start(lan, n, args), host_port(flag_value(args, "--http"))[1])
        grace = duration_s(services[brokers[0]]["stop_grace_period"])
        self.exercise(lan, {n: procs[n] for n in brokers}, {n: procs[n] for n in gateways},
                      grace)

    def test_kubernetes(self):
        docs = k8s(ROOT)
        sts, gw = one(docs, "StatefulSet"), one(docs, "Deployment")
        service = sts["spec"]["serviceName"]
        pods = [b["id"] for b in brokers_of(k8s_cluster_text(ROOT))]
        gateways = ["%s-%d" % (gw["metadata"]["name"], i) for i in range(gw["spec"]["replicas"])]
        lan = self.lan([(p.rsplit("-", 1)[1], ["%s.%s" % (p, service), p]) for p in pods]
                       + [("g%d" % i, [g]) for i, g in enumerate(gateways)])
        cluster = os.path.join(self.dir, "cluster.json")
        with open(cluster, "w") as f:
            f.write(k8s_cluster_text(ROOT))
        keys = os.path.join(self.dir, "keys")
        subprocess.run([H.herald_binary(), "keygen", "--out", keys], check=True,
                       capture_output=True, timeout=30)
        token = subprocess.run([H.herald_binary(), "token", "--key", keys + ".private.jwk",
                                "--sub", "deploy", "--subscribe", CHANNEL, "--publish", CHANNEL],
                               check=True, capture_output=True, text=True, timeout=30).stdout
        brokers, gws = {}, {}
        broker_args = container(sts["spec"]["template"])["args"]
        for p in pods:
            label = p.rsplit("-", 1)[1]
            state = os.path.join(self.dir, "state-" + p)
            os.makedirs(state)
            args = [a.replace("$(POD_NAME)", p) for a in
                    adapt(broker_args, {"--cluster": cluster, "--state-dir": state})]
            brokers[p] = (self.start(lan, label, args),
                          host_port(flag_value(args, "--http"))[1])
        lan.address.update({p: lan.address[p.rsplit("-", 1)[1]] for p in pods})
        for i, g in enumerate(gateways):
            args = adapt(container(gw["spec"]["template"])["args"],
                         {"--cluster": cluster, "--token-keys": keys + ".jwks"})
            gws["g%d" % i] = (self.start(lan, "g%d" % i, args),
                              host_port(flag_value(args, "--http"))[1])
        grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        self.exercise(lan, brokers, gws, grace,
                      headers={"Authorization": "Bearer " + token.strip()})


if __name__ == "__main__":
    unittest.main()
