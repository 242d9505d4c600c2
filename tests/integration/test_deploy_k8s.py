"""deploy/k8s/ and deploy/compose.yaml agree with their cluster files and
with Herald (deploy/README.md, "Containers and Kubernetes"): every YAML
parses and passes yamllint; Herald loads each cluster file; the brokers of
the Kubernetes cluster file are exactly the StatefulSet's pods, named
through its headless Service, and those of compose's are its broker
services; the file's ports are the containers' and the Services' ports;
every flag given to herald exists in `herald broker --help` or `herald
gateway --help`; the cluster file and token keys are mounted where the
flags say; pods run as the image's user; probes ask paths a running
Herald serves; brokers get more time to stop than the graceful handoff's
limit; the PodDisruptionBudget lets one broker go at a time; Services
select the pods they serve; Prometheus scrapes every broker and gateway
and loads the alert rules (promtool); Grafana is provisioned with the
dashboard and compose's Prometheus.

Each check is a function of the repository's root, and
test_each_check_can_fail breaks a copy of deploy/ in one way per check and
sees that check fail.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

try:
    import yaml
except ImportError:
    raise SystemExit("test_deploy_k8s needs PyYAML: apt-get install python3-yaml "
                     "(scripts/install-deps.sh test)")

import harness as H

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KINDS = ("publish", "router", "stream", "peer")


# ---------------------------------------------------------------- reading

def yaml_files(root):
    d = os.path.join(root, "deploy")
    return sorted(glob.glob(os.path.join(d, "k8s", "*.yaml"))
                  + [os.path.join(d, "compose.yaml"),
                     os.path.join(d, "prometheus", "prometheus.yml")]
                  + glob.glob(os.path.join(d, "grafana", "provisioning", "*", "*.yml")))


def k8s(root):
    """Every object of deploy/k8s/*.yaml but the kustomization."""
    docs = []
    for path in sorted(glob.glob(os.path.join(root, "deploy", "k8s", "*.yaml"))):
        if os.path.basename(path) != "kustomization.yaml":
            with open(path) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
    return docs


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind
             and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, "want one %s %s, found %d" % (kind, name or "", len(found))
    return found[0]


def compose(root):
    with open(os.path.join(root, "deploy", "compose.yaml")) as f:
        return yaml.safe_load(f)


def k8s_cluster_text(root):
    cm = one(k8s(root), "ConfigMap", "herald-cluster")
    return cm["data"]["cluster.json"]


def brokers_of(text):
    return json.loads(text)["brokers"]


def host_port(endpoint):
    """tcp://HOST:PORT or HOST:PORT -> (HOST, PORT)."""
    host, port = endpoint.split("://")[-1].rsplit(":", 1)
    return host, int(port)


def container(pod_template):
    containers = pod_template["spec"]["containers"]
    assert len(containers) == 1, "one container per pod"
    return containers[0]


def flag_value(args, flag):
    for i, a in enumerate(args):
        if a == flag:
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def compose_role(service):
    command = service.get("command") or []
    return command[0] if command and command[0] in ("broker", "gateway") else None


# ---------------------------------------------------------------- Herald itself

_HELP = {}
_SERVED = {}


def help_flags(command):
    """The flags `herald COMMAND --help` lists."""
    if command not in _HELP:
        out = subprocess.run([H.herald_binary(), command, "--help"], capture_output=True,
                             text=True, timeout=30).stdout
        _HELP[command] = set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", out, re.M))
        assert "--help" in _HELP[command], out
    return _HELP[command]


def served(role, path):
    """The status a running Herald answers GET path with: a single broker's
    --http for role broker, a gateway (herald run's) for role gateway."""
    key = (role, path)
    if key not in _SERVED:
        if role not in _SERVED:
            if role == "broker":
                h = H.Herald("broker", ["--http", "127.0.0.1:0"])
            else:
                h = H.Herald("run")
            _SERVED[role] = h
        _SERVED[key] = H.http("GET", _SERVED[role].http + path).status
    return _SERVED[key]


def stop_served():
    for key, h in list(_SERVED.items()):
        if isinstance(h, H.Herald):
            h.stop()
    _SERVED.clear()


def handoff_limit_s():
    """How long a broker may take to hand over on SIGTERM (hrb_transfer.h)."""
    with open(os.path.join(ROOT, "broker", "hrb_transfer.h")) as f:
        ms = re.search(r"#define HRB_TRANSFER_LEAVE_MAX_MS (\d+)", f.read())
    assert ms, "HRB_TRANSFER_LEAVE_MAX_MS not found"
    return int(ms.group(1)) / 1000.0


def duration_s(text):
    m = re.fullmatch(r"(\d+)(ms|s|m)", str(text))
    assert m, "duration %r" % text
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


# ---------------------------------------------------------------- checks

def check_yaml_parses(root):
    for path in yaml_files(root):
        with open(path) as f:
            try:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                raise AssertionError("%s: %s" % (path, e))
        assert docs, "%s: empty" % path


def check_yamllint(root):
    assert shutil.which("yamllint"), "needs yamllint: apt-get install yamllint"
    config = os.path.join(root, "deploy", ".yamllint")
    p = subprocess.run(["yamllint", "-s", "-f", "parsable", "-c", config] + yaml_files(root),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "yamllint:\n" + p.stdout + p.stderr


def check_cluster_files_load(root):
    """Herald loads both cluster files (exit status 2 is a file it refuses;
    1 only says no broker answered)."""
    with tempfile.TemporaryDirectory() as d:
        k8s_file = os.path.join(d, "k8s-cluster.json")
        with open(k8s_file, "w") as f:
            f.write(k8s_cluster_text(root))
        for path in (k8s_file, os.path.join(root, "deploy", "cluster.json")):
            p = subprocess.run([H.herald_binary(), "cluster", "owner", "x", "--cluster", path,
                                "--timeout", "100ms"], capture_output=True, text=True,
                               timeout=60)
            assert p.returncode in (0, 1), "%s refused: %s" % (path, p.stderr)


def check_brokers_are_pods(root):
    docs = k8s(root)
    sts = one(docs, "StatefulSet")
    headless = one(docs, "Service", sts["spec"]["serviceName"])
    assert headless["spec"].get("clusterIP") == "None", "the StatefulSet's Service is headless"
    assert headless["spec"].get("publishNotReadyAddresses") is True, \
        "brokers must resolve each other before they are ready"
    assert sts["spec"].get("podManagementPolicy") == "Parallel", \
        "brokers are ready only together: OrderedReady never gets past the first"
    name, service = sts["metadata"]["name"], headless["metadata"]["name"]
    pods = ["%s-%d" % (name, i) for i in range(sts["spec"]["replicas"])]
    brokers = brokers_of(k8s_cluster_text(root))
    assert [b["id"] for b in brokers] == pods, \
        "cluster file ids %s, StatefulSet pods %s" % ([b["id"] for b in brokers], pods)
    for b in brokers:
        for kind in KINDS + ("http",):
            host = host_port(b[kind])[0]
            assert host.split(".")[:2] == [b["id"], service], \
                "%s %s: %s is not the pod's name %s.%s" % (b["id"], kind, host, b["id"], service)
    c = container(sts["spec"]["template"])
    assert flag_value(c["args"], "--id") == "$(POD_NAME)", "--id is the pod's name"
    env = {e["name"]: e for e in c.get("env", [])}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert flag_value(c["args"], "--bind-host"), \
        "the file names brokers by DNS names, which ZeroMQ cannot bind: --bind-host"


def check_ports(root):
    docs = k8s(root)
    sts = one(docs, "StatefulSet")
    c = container(sts["spec"]["template"])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    headless = one(docs, "Service", sts["spec"]["serviceName"])
    service = {p["name"]: p for p in headless["spec"]["ports"]}
    for b in brokers_of(k8s_cluster_text(root)):
        for kind in KINDS + ("http",):
            port = host_port(b[kind])[1]
            assert ports.get(kind) == port, \
                "%s %s port %d, container port %s" % (b["id"], kind, port, ports.get(kind))
            assert kind in service and service[kind]["port"] == port \
                and service[kind]["targetPort"] in (kind, port), \
                "%s %s port %d, Service %s" % (b["id"], kind, port, service.get(kind))
        assert host_port(flag_value(c["args"], "--http"))[1] == host_port(b["http"])[1], \
            "--http is not on the file's http port"
    # Every Service port reaches a named port of the pods it selects
    gw = one(docs, "Deployment")
    gw_ports = {p["name"]: p["containerPort"] for p in container(gw["spec"]["template"])["ports"]}
    assert host_port(flag_value(container(gw["spec"]["template"])["args"], "--http"))[1] \
        == gw_ports["http"], "the gateway's --http is not its container port"
    for svc in (d for d in docs if d["kind"] == "Service"):
        names = ports if svc["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"] \
            else gw_ports
        for p in svc["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            assert target in names or target in names.values(), \
                "Service %s port %s: no such container port" % (svc["metadata"]["name"], target)


def check_flags(root):
    uses = []
    docs = k8s(root)
    for d in docs:
        if d["kind"] in ("StatefulSet", "Deployment"):
            args = container(d["spec"]["template"])["args"]
            uses.append((d["metadata"]["name"], args[0], args[1:]))
    for name, service in compose(root)["services"].items():
        role = compose_role(service)
        if role:
            uses.append((name, role, service["command"][1:]))
    assert {u[1] for u in uses} == {"broker", "gateway"}, uses
    for name, role, args in uses:
        for a in args:
            if a.startswith("--"):
                flag = a.split("=", 1)[0]
                assert flag in help_flags(role), \
                    "%s: herald %s has no %s" % (name, role, flag)


def check_probes(root):
    for d in k8s(root):
        if d["kind"] not in ("StatefulSet", "Deployment"):
            continue
        c = container(d["spec"]["template"])
        role = c["args"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        http_port = host_port(flag_value(c["args"], "--http"))[1]
        want = {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}
        for probe, path in want.items():
            get = c[probe]["httpGet"]
            assert get["path"] == path, "%s %s asks %s" % (d["metadata"]["name"], probe,
                                                           get["path"])
            port = ports.get(get["port"], get["port"])
            assert port == http_port, "%s %s on port %s, --http on %d" % (
                d["metadata"]["name"], probe, port, http_port)
            status = served(role, get["path"])
            assert status != 404, "herald %s does not serve %s" % (role, get["path"])
    for name, service in compose(root)["services"].items():
        role = compose_role(service)
        if role:
            port = int(service["environment"]["HERALD_HEALTH_PORT"])
            assert port == host_port(flag_value(service["command"], "--http"))[1], \
                "%s: the health check asks port %d" % (name, port)


def check_grace(root):
    limit = handoff_limit_s()
    sts = one(k8s(root), "StatefulSet")
    grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > limit, "brokers get %ss to stop, the handoff takes up to %ss" % (grace, limit)
    gw = one(k8s(root), "Deployment")["spec"]["template"]["spec"]
    command = container({"spec": gw})["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and gw["terminationGracePeriodSeconds"] > int(command[1]), \
        "the gateway's preStop must end within its grace period"
    for name, service in compose(root)["services"].items():
        if compose_role(service) == "broker":
            grace = duration_s(service.get("stop_grace_period", "10s"))
            assert grace > limit, "%s gets %ss to stop, the handoff up to %ss" % (
                name, grace, limit)


def check_pdb(root):
    docs = k8s(root)
    sts = one(docs, "StatefulSet")
    pdb = one(docs, "PodDisruptionBudget", sts["metadata"]["name"])
    assert pdb["spec"].get("maxUnavailable") == 1, "one broker at a time"
    assert pdb["spec"]["selector"] == sts["spec"]["selector"], "the PDB selects the brokers"


def check_selectors(root):
    docs = k8s(root)
    templates = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
                 for d in docs if d["kind"] in ("StatefulSet", "Deployment")}
    for d in docs:
        if d["kind"] in ("StatefulSet", "Deployment"):
            labels = templates[d["metadata"]["name"]]
            for k, v in d["spec"]["selector"]["matchLabels"].items():
                assert labels.get(k) == v, "%s selects pods it does not make" % d["metadata"]["name"]
        if d["kind"] == "Service":
            sel = d["spec"]["selector"]
            assert any(all(l.get(k) == v for k, v in sel.items()) for l in templates.values()), \
                "Service %s selects no pods" % d["metadata"]["name"]


def check_compose(root):
    services = compose(root)["services"]
    with open(os.path.join(root, "deploy", "cluster.json")) as f:
        brokers = brokers_of(f.read())
    broker_services = {n: s for n, s in services.items() if compose_role(s) == "broker"}
    assert sorted(broker_services) == sorted(b["id"] for b in brokers), \
        "compose brokers %s, cluster file %s" % (sorted(broker_services),
                                                 [b["id"] for b in brokers])
    for b in brokers:
        s = broker_services[b["id"]]
        assert flag_value(s["command"], "--id") == b["id"], "%s: --id" % b["id"]
        for kind in KINDS + ("http",):
            assert host_port(b[kind])[0] == b["id"], "%s %s: not its service name" % (
                b["id"], kind)
        assert host_port(flag_value(s["command"], "--http"))[1] == host_port(b["http"])[1], \
            "%s: --http is not on the file's http port" % b["id"]
        assert flag_value(s["command"], "--bind-host"), "%s: --bind-host" % b["id"]
    gateways = [s for s in services.values() if compose_role(s) == "gateway"]
    assert len(broker_services) == 3 and len(gateways) == 2, "3 brokers, 2 gateways"
    for name, s in services.items():
        if compose_role(s):
            mounts = {v.split(":")[1]: v.split(":")[0] for v in s["volumes"]}
            path = flag_value(s["command"], "--cluster")
            assert mounts.get(path) == "./cluster.json", "%s: --cluster %s is not ./cluster.json" \
                % (name, path)
    assert {"prometheus", "grafana"} <= set(services)


def check_prometheus(root):
    services = compose(root)["services"]
    with open(os.path.join(root, "deploy", "prometheus", "prometheus.yml")) as f:
        prom = yaml.safe_load(f)
    targets = {}
    for job in prom["scrape_configs"]:
        assert job["job_name"].startswith("herald-"), "alerts.yml expects herald-* jobs"
        for sc in job["static_configs"]:
            targets.setdefault(job["job_name"], set()).update(sc["targets"])
    want = {}
    for name, s in services.items():
        role = compose_role(s)
        if role:
            port = host_port(flag_value(s["command"], "--http"))[1]
            want.setdefault("herald-" + role, set()).add("%s:%d" % (name, port))
    assert targets == want, "Prometheus scrapes %s, compose runs %s" % (targets, want)
    assert any(r.endswith("alerts.yml") for r in prom.get("rule_files", []))
    # Rule files are found beside the configuration, as mounted in compose
    mounts = dict(reversed(v.split(":")[:2]) for v in services["prometheus"]["volumes"])
    config = flag_value([a for c in services["prometheus"]["command"] for a in c.split("=", 1)],
                        "--config.file")
    assert mounts.get(config) == "./prometheus/prometheus.yml", "compose's --config.file"
    for rule in prom["rule_files"]:
        src = mounts.get(os.path.join(os.path.dirname(config), rule))
        assert src and os.path.exists(os.path.join(root, "deploy", src)), \
            "rule file %s not mounted beside %s" % (rule, config)
    assert shutil.which("promtool"), "needs promtool: apt-get install prometheus"
    p = subprocess.run(["promtool", "check", "config",
                        os.path.join(root, "deploy", "prometheus", "prometheus.yml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "promtool check config:\n" + p.stdout + p.stderr


def check_grafana(root):
    """Grafana's provisioning finds the dashboard where compose mounts it,
    and its data source is compose's Prometheus."""
    services = compose(root)["services"]
    mounts = dict(reversed(v.split(":")[:2]) for v in services["grafana"]["volumes"])
    provisioning = os.path.join(root, "deploy", mounts["/etc/grafana/provisioning"])
    with open(os.path.join(provisioning, "dashboards", "herald.yml")) as f:
        path = yaml.safe_load(f)["providers"][0]["options"]["path"]
    dashboards = [src for dst, src in mounts.items() if os.path.dirname(dst) == path]
    assert dashboards and all(os.path.exists(os.path.join(root, "deploy", s))
                              for s in dashboards), "no dashboard mounted in %s" % path
    with open(os.path.join(provisioning, "datasources", "prometheus.yml")) as f:
        source = yaml.safe_load(f)["datasources"][0]
    host, port = host_port(source["url"].split("//", 1)[1])
    assert host in services and "--config.file" in " ".join(services[host]["command"]) \
        and port == 9090, "the data source %s is not compose's Prometheus" % source["url"]


def check_mounts(root):
    """Each workload's --cluster (and --token-keys) is a key of the
    ConfigMap mounted there, and no mount lies inside another (a read-only
    ConfigMap volume cannot hold another's mount point)."""
    docs = k8s(root)
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    for d in docs:
        if d["kind"] not in ("StatefulSet", "Deployment"):
            continue
        spec = d["spec"]["template"]["spec"]
        c = container(d["spec"]["template"])
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        mounts = c.get("volumeMounts", [])
        paths = [m["mountPath"].rstrip("/") for m in mounts]
        for a in paths:
            for b in paths:
                assert a == b or not b.startswith(a + "/"), \
                    "%s: %s is mounted inside %s" % (d["metadata"]["name"], b, a)
        for flag, configmap in (("--cluster", "herald-cluster"),
                                ("--token-keys", "herald-token-keys")):
            path = flag_value(c["args"], flag)
            if path is None:
                continue
            directory, key = os.path.split(path)
            mount = [m for m in mounts if m["mountPath"].rstrip("/") == directory]
            assert mount, "%s: %s %s is in no mounted volume" % (d["metadata"]["name"], flag, path)
            volume = volumes[mount[0]["name"]]
            assert volume.get("configMap", {}).get("name") == configmap, \
                "%s: %s is not from the ConfigMap %s" % (d["metadata"]["name"], path, configmap)
            if configmap in configmaps:
                assert key in configmaps[configmap]["data"], "%s has no %s" % (configmap, key)


def check_user(root):
    """Pods run as the image's user, by number, never as root."""
    with open(os.path.join(root, "deploy", "Containerfile")) as f:
        runtime = f.read().split("AS runtime", 1)[1].split("\nFROM ", 1)[0]
    users = re.findall(r"^USER (\d+)(?::(\d+))?$", runtime, re.M)
    assert len(users) == 1, "the runtime stage names one numeric USER: %s" % users
    uid = int(users[0][0])
    assert uid != 0
    for d in k8s(root):
        if d["kind"] in ("StatefulSet", "Deployment"):
            ctx = d["spec"]["template"]["spec"].get("securityContext", {})
            assert ctx.get("runAsNonRoot") is True and ctx.get("runAsUser") == uid, \
                "%s runs as %s, the image's user is %d" % (d["metadata"]["name"],
                                                         ctx.get("runAsUser"), uid)
            if d["kind"] == "StatefulSet":
                assert ctx.get("fsGroup") == uid, "the state volume must be writable by %d" % uid


def check_kustomization(root):
    d = os.path.join(root, "deploy", "k8s")
    with open(os.path.join(d, "kustomization.yaml")) as f:
        listed = yaml.safe_load(f)["resources"]
    present = sorted(os.path.basename(p) for p in glob.glob(os.path.join(d, "*.yaml"))
                     if os.path.basename(p) != "kustomization.yaml")
    assert sorted(listed) == present, "kustomization lists %s, files %s" % (listed, present)


CHECKS = [check_yaml_parses, check_yamllint, check_cluster_files_load, check_brokers_are_pods,
          check_ports, check_flags, check_probes, check_grace, check_pdb, check_selectors,
          check_compose, check_prometheus, check_grafana, check_mounts, check_user, check_kustomization]

# One way to break deploy/ for each check: (file under deploy/, old, new, check)
BREAKAGES = [
    ("k8s/broker-pdb.yaml", "kind: PodDisruptionBudget", "kind: PodDisruptionBudget\n  bad: [",
     check_yaml_parses),
    ("compose.yaml", "name: herald\n", "name: herald   \n", check_yamllint),
    ("cluster.json", '"id": "b3"', '"id": "b2"', check_cluster_files_load),
    ("k8s/broker-statefulset.yaml", "replicas: 3", "replicas: 4", check_brokers_are_pods),
    ("k8s/cluster-configmap.yaml", "herald-broker-2.herald-broker:5557",
     "herald-broker-2.herald-brokers:5557", check_brokers_are_pods),
    ("k8s/broker-statefulset.yaml", "{name: stream, containerPort: 5557}",
     "{name: stream, containerPort: 5559}", check_ports),
    ("k8s/broker-service.yaml", "{name: stream, port: 5557", "{name: stream, port: 5560",
     check_ports),
    ("k8s/broker-statefulset.yaml", "--bind-host, 0.0.0.0", "--bind-hostname, 0.0.0.0",
     check_flags),
    ("k8s/gateway-deployment.yaml", '--workers, "2"', '--worker, "2"', check_flags),
    ("compose.yaml", "--id, b2,", "--id, b2, --hold-down-time, 30s,", check_flags),
    ("k8s/gateway-deployment.yaml", "path: /readyz", "path: /ready", check_probes),
    ("k8s/broker-statefulset.yaml", "{path: /healthz, port: http}",
     "{path: /healthz, port: 8080}", check_probes),
    ("k8s/broker-statefulset.yaml", "terminationGracePeriodSeconds: 15",
     "terminationGracePeriodSeconds: 9", check_grace),
    ("compose.yaml", "stop_grace_period: 15s", "stop_grace_period: 8s", check_grace),
    ("k8s/broker-pdb.yaml", "maxUnavailable: 1", "maxUnavailable: 2", check_pdb),
    ("k8s/gateway-service.yaml", "    app.kubernetes.io/name: herald-gateway\n  ports",
     "    app.kubernetes.io/name: herald-gw\n  ports", check_selectors),
    ("compose.yaml", "--id, b3,", "--id, b4,", check_compose),
    ("prometheus/prometheus.yml", '"b3:8081"', '"b3:8082"', check_prometheus),
    ("prometheus/prometheus.yml", "scrape_interval: 5s", "scrape_interval: 5 s",
     check_prometheus),
    ("grafana/provisioning/dashboards/herald.yml", "path: /var/lib/grafana/dashboards",
     "path: /var/lib/grafana/dashboard", check_grafana),
    ("grafana/provisioning/datasources/prometheus.yml", "http://prometheus:9090",
     "http://prom:9090", check_grafana),
    ("k8s/gateway-deployment.yaml", "{name: cluster, mountPath: /etc/herald/cluster,",
     "{name: cluster, mountPath: /etc/herald,", check_mounts),
    ("k8s/broker-statefulset.yaml", "--cluster, /etc/herald/cluster/cluster.json",
     "--cluster, /etc/herald/cluster/herald.json", check_mounts),
    ("k8s/gateway-deployment.yaml", "runAsUser: 10001", "runAsUser: 10002", check_user),
    ("k8s/kustomization.yaml", "  - gateway-pdb.yaml\n", "", check_kustomization),
]


class Deploy(unittest.TestCase):
    @classmethod
    def tearDownClass(cls):
        stop_served()

    def test_checks_pass(self):
        for check in CHECKS:
            with self.subTest(check=check.__name__):
                check(ROOT)

    def test_each_check_can_fail(self):
        broken = set()
        for path, old, new, check in BREAKAGES:
            with self.subTest(path=path, old=old), tempfile.TemporaryDirectory() as d:
                shutil.copytree(os.path.join(ROOT, "deploy"), os.path.join(d, "deploy"))
                target = os.path.join(d, "deploy", path)
                with open(target) as f:
                    text = f.read()
                self.assertEqual(text.count(old), 1, "%s: %r" % (path, old))
                with open(target, "w") as f:
                    f.write(text.replace(old, new))
                with self.assertRaises(AssertionError, msg="%s did not notice %s: %r -> %r"
                                       % (check.__name__, path, old, new)):
                    check(d)
                broken.add(check)
        self.assertEqual(broken, set(CHECKS), "checks never broken on purpose")


if __name__ == "__main__":
    unittest.main()
