"""Dashboards, alerts and the status page (docs/operations.md, "Status page"
and "Dashboards and alerts").

GET /status is served (200, HTML) by `herald run`, a split broker's
--http, and a gateway; every metric that deploy/grafana/herald.json and
deploy/prometheus/alerts.yml name is one those processes really serve on
/metrics (a single broker, a one-broker cluster and its gateway: the
cluster's metrics exist only with --cluster); promtool accepts the rules,
their unit tests (alerts_test.yml) pass, yamllint accepts both files in
deploy/'s style (lines up to 100), and every dashboard query parses
as PromQL; the dashboard is a Grafana dashboard over one Prometheus data
source, its panels laid out without overlap."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

import harness as H
from cluster import Cluster

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "herald.json")
ALERTS = os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")
ALERTS_TEST = os.path.join(ROOT, "deploy", "prometheus", "alerts_test.yml")
# Herald's metric names in PromQL; label names never start with herald_.
METRIC = re.compile(r"\bherald_[a-z0-9_]+\b")
# Grafana's variables, replaced as Grafana would before the query is parsed.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__range": "1h", "$instance": ".*"}


def promtool():
    path = shutil.which("promtool")
    if not path:
        raise AssertionError("promtool not found: apt-get install prometheus "
                             "(scripts/install-deps.sh installs it)")
    return path


def dashboard_queries():
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def alert_rules():
    with open(ALERTS, encoding="utf-8") as f:
        return [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]


def metric_names(base):
    """The metric names a /metrics serves (labels and values cut)."""
    return {key.split("{", 1)[0] for key in H.metrics(base)}


class StatusAndMetrics(unittest.TestCase):
    def check_status(self, base, what):
        r = H.http("GET", base + "/status")
        self.assertEqual(r.status, 200, "%s: %r" % (what, r))
        self.assertEqual(r.headers["Content-Type"], "text/html; charset=utf-8", what)
        page = r.body.decode()
        self.assertIn("<title>Herald status</title>", page, what)
        # It reads this server's /metrics (relative: works behind a path prefix)
        self.assertIn('fetch("metrics"', page, what)
        r = H.http("POST", base + "/status", b"")
        self.assertEqual(r.status, 405, "%s: POST /status %r" % (what, r))

    def test_status_pages_and_every_metric_used_is_served(self):
        run = H.start(self, "run")
        broker = H.start(self, "broker", "--http", "127.0.0.1:0")
        cluster = Cluster(self, brokers=1, gateways=1)
        sources = {"herald run": run.http, "herald broker --http": broker.http,
                   "herald broker --cluster --http": cluster.brokers[0].http,
                   "herald gateway --cluster": cluster.gateways[0].http}
        served = {}
        for what, base in sources.items():
            self.check_status(base, what)
            served[what] = metric_names(base)
        every = set().union(*served.values())
        # The processes' metrics as documented: a broker serves no gateway's
        self.assertIn("herald_connections", served["herald run"])
        self.assertNotIn("herald_connections", served["herald broker --http"])
        self.assertIn("herald_cluster_view", served["herald broker --cluster --http"])

        used = {}
        for expr in dashboard_queries():
            for name in METRIC.findall(expr):
                used.setdefault(name, "herald.json: " + expr)
        for rule in alert_rules():
            for name in METRIC.findall(rule["expr"]):
                used.setdefault(name, "alerts.yml %s: %s" % (rule["alert"], rule["expr"]))
        # The extraction itself works: the dashboard covers connections,
        # deliveries, resets, errors and the cluster view
        for name in ("herald_connections", "herald_ws_connections", "herald_events_delivered_total",
                     "herald_resets_total", "herald_errors_total", "herald_cluster_view",
                     "herald_cluster_members_up", "herald_slow_consumers_total"):
            self.assertIn(name, used)
        self.assertGreater(len(used), 40)
        missing = {name: where for name, where in used.items() if name not in every}
        self.assertEqual(missing, {}, "metrics used but served by no Herald process")


class PrometheusRules(unittest.TestCase):
    def test_promtool_checks_the_rules(self):
        r = subprocess.run([promtool(), "check", "rules", ALERTS], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"SUCCESS: \d+ rules found")

    def test_promtool_unit_tests_pass(self):
        r = subprocess.run([promtool(), "test", "rules", os.path.basename(ALERTS_TEST)],
                           cwd=os.path.dirname(ALERTS_TEST), capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_yamllint_accepts_the_rules_and_their_tests(self):
        # deploy/'s own YAML style (its other files: test_deploy_k8s)
        config = "{extends: default, rules: {line-length: {max: 100}, document-start: disable}}"
        r = subprocess.run(["yamllint", "-s", "-d", config, ALERTS, ALERTS_TEST],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_each_alert_is_labelled_and_explained(self):
        rules = alert_rules()
        names = [r["alert"] for r in rules]
        self.assertEqual(len(names), len(set(names)), "alert names repeat")
        for wanted in ("HeraldDown", "HeraldNoQuorum", "HeraldResetsRising", "HeraldSlowConsumers",
                       "HeraldServerErrors", "HeraldHistoryMemoryFull"):
            self.assertIn(wanted, names)
        for rule in rules:
            self.assertIn(rule["labels"]["severity"], ("critical", "warning"), rule["alert"])
            self.assertTrue(rule["annotations"]["summary"], rule["alert"])
            self.assertTrue(rule["annotations"]["description"], rule["alert"])
        # Broker down: through Prometheus's own `up`, for Herald's jobs only
        down = next(r for r in rules if r["alert"] == "HeraldDown")
        self.assertIn('up{job=~"herald.*"} == 0', down["expr"])


class GrafanaDashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD, encoding="utf-8") as f:
            cls.dash = json.load(f)

    def test_is_a_dashboard_over_one_prometheus_data_source(self):
        dash = self.dash
        self.assertGreaterEqual(dash["schemaVersion"], 36)
        self.assertEqual(dash["title"], "Herald")
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        self.assertEqual(variables["DS_PROMETHEUS"]["type"], "datasource")
        self.assertEqual(variables["DS_PROMETHEUS"]["query"], "prometheus")
        self.assertEqual([i["name"] for i in dash["__inputs"]], ["DS_PROMETHEUS"])
        panels = [p for p in dash["panels"] if p["type"] != "row"]
        self.assertGreaterEqual(len(panels), 20)
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        for p in panels:
            self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                             p["title"])
            self.assertTrue(p["targets"], p["title"])
            for t in p["targets"]:
                self.assertTrue(t["expr"].strip(), p["title"])
        titles = " ".join(p["title"] for p in panels)
        for wanted in ("Connections", "Deliveries/s", "Resets by reason", "HTTP errors by code",
                       "View (brokers)", "Broker memory"):
            self.assertIn(wanted, titles)

    def test_panels_do_not_overlap(self):
        cells = {}
        for p in self.dash["panels"]:
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertFalse((x, y) in cells,
                                     "%s overlaps %s" % (p["title"], cells.get((x, y))))
                    cells[(x, y)] = p["title"]

    def test_every_query_parses_as_promql(self):
        # promtool parses a recording rule's expression: one rule per query
        rules = []
        for i, expr in enumerate(dashboard_queries()):
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            self.assertNotIn("$", expr, "a Grafana variable this test does not know")
            rules.append({"record": "herald_dashboard:query%d" % i, "expr": expr})
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        self.addCleanup(os.unlink, f.name)
        r = subprocess.run([promtool(), "check", "rules", f.name], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
