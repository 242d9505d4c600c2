"""Resume and history are not memory amplifiers (issue 7 §1).

A client that resumes from seq 0 of a channel with a large history and
never reads holds at most one page of catch-up plus what the kernel takes;
20 of them must not grow the gateway by gigabytes (before the fix: about
60 MB each). An unread GET /v1/history holds one page, as the response is
streamed. A reading client still gets every event, in order, once, while the
fetches of clients resuming from the same position are shared."""
import socket
import threading
import time
import unittest
import urllib.parse

import harness as h
from test_resets import encode_cursor

EVENTS = 1000
EVENT_BYTES = 60000
CLIENTS = 20
# Growth of the gateway's RSS the 20 non-reading clients may cause. With the
# bound: one page (~half of --slow-consumer-bytes) queued and one shared page
# of fetched events per client, well under 1 MB each, so 120 MB is generous
# for ASan's shadow and allocator caches; without it: 1.2 GB and more.
RSS_GROWTH_MAX = 120 << 20
# ASan's quarantine would keep freed blocks resident and hide what is held.
ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=4"}


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def raw_request(base, target, headers=()):
    """Sends one GET and never reads: the socket's receive window fills."""
    u = urllib.parse.urlsplit(base)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect((u.hostname, u.port))
    lines = ["GET %s HTTP/1.1" % target, "Host: %s" % u.netloc] + list(headers)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return s


class ResumeBounds(unittest.TestCase):
    def setUp(self):
        self.broker = h.start(self, "broker", "--history-size", str(EVENTS))
        self.gateway = h.start(self, "gateway", "--broker",
                               "%s,%s" % (self.broker.xpub, self.broker.router),
                               "--workers", "1", env=ENV)
        h.wait_broker_linked(self.gateway)
        push = h.pusher(self, self.broker.pull)
        pad = "x" * EVENT_BYTES
        for i in range(EVENTS):
            push.send({"ch": "big", "data": {"i": i, "pad": pad}})
        self.epoch = h.wait_until(lambda: self.head("big") == EVENTS and
                                  self.history(channel="big", limit=0)["epoch"],
                                  60, "the history to fill")
        self.sockets = []
        self.addCleanup(self.close_sockets)

    def history(self, **params):
        r = h.http("GET", self.gateway.http + "/v1/history?" + urllib.parse.urlencode(params))
        self.assertEqual(r.status, 200, r)
        return r.json

    def head(self, channel):
        return self.history(channel=channel, limit=0)["head"]

    def close_sockets(self):
        for s in self.sockets:
            s.close()
        self.sockets = []

    def watch_growth(self, settled):
        """Peak RSS growth while the attack runs, failing as soon as it passes
        the bound; returns once settled() has held for a second."""
        base = rss(self.gateway.pid)
        state = {"peak": base, "since": None}

        def done():
            state["peak"] = max(state["peak"], rss(self.gateway.pid))
            if state["peak"] - base > RSS_GROWTH_MAX:
                self.close_sockets()
                self.fail("gateway RSS grew by %d MB (bound %d MB)"
                          % ((state["peak"] - base) >> 20, RSS_GROWTH_MAX >> 20))
            try:
                steady = settled()
            except OSError:                 # a busy gateway: not settled yet
                steady = False
            if not steady:
                state["since"] = None
                return False
            state["since"] = state["since"] or time.monotonic()
            return time.monotonic() - state["since"] >= 1.0
        h.wait_until(done, 60, "the attack to settle", interval=0.05)
        print("\n%s: gateway RSS %d MB -> peak %d MB (+%d MB)"
              % (self.id().rsplit(".", 1)[-1], base >> 20, state["peak"] >> 20,
                 (state["peak"] - base) >> 20))

    def test_unread_resumes_from_seq_0_stay_bounded(self):
        cursor = encode_cursor(["big"], [(self.epoch, 0)])
        last = {"replayed": -1}

        def settled():
            m = h.metrics(self.gateway.http)
            replayed = m.get("herald_events_replayed_total", 0)
            steady = replayed == last["replayed"]
            last["replayed"] = replayed
            return steady and m.get("herald_resumes_total", 0) >= CLIENTS
        for i in range(CLIENTS):
            header = "Last-Event-ID: %s" % cursor
            target = "/v1/sse?channel=big"
            if i % 2:                       # both ways of presenting a cursor
                header, target = "X-Unused: 1", target + "&lastEventId=" + cursor
            self.sockets.append(raw_request(self.gateway.http, target, [header]))
        self.watch_growth(settled)
        m = h.metrics(self.gateway.http)
        self.assertEqual(m.get("herald_connections"), CLIENTS, "clients were cut off")
        self.assertGreater(m.get("herald_catchup_bytes"), 0)
        self.close_sockets()
        h.wait_until(lambda: h.metric(self.gateway.http, "herald_connections") == 0, 10,
                     "the gateway to notice the closed clients")
        self.assertEqual(h.metric(self.gateway.http, "herald_catchup_bytes"), 0)
        self.assertEqual(h.metric(self.gateway.http, "herald_catchup_waiting"), 0)

    def test_unread_history_responses_stay_bounded(self):
        last = {"requests": -1}

        def settled():
            n = h.metric(self.gateway.http, "herald_http_requests_total")
            steady = n == last["requests"]
            last["requests"] = n + 1            # counting this very request
            return steady and n >= CLIENTS
        for _ in range(CLIENTS):
            self.sockets.append(raw_request(
                self.gateway.http, "/v1/history?channel=big&limit=1000"))
        self.watch_growth(settled)
        self.assertGreater(h.metric(self.gateway.http, "herald_catchup_bytes"), 0,
                           "the responses are not under way")
        self.close_sockets()
        h.wait_until(lambda: h.metric(self.gateway.http, "herald_catchup_bytes") == 0, 10,
                     "the history pages to be released")

    def test_history_streams_every_event_asked_for(self):
        """Bounded memory does not cut the response: limit=1000 of 60 KB
        events (60 MB) arrive whole, in order."""
        body = self.history(channel="big", limit=1000, since=0)
        self.assertEqual([e["seq"] for e in body["events"]], list(range(1, EVENTS + 1)))
        self.assertEqual((body["head"], body["reset"]), (EVENTS, None))
        self.assertEqual(h.metric(self.gateway.http, "herald_catchup_bytes"), 0)

    def small_cap_gateway(self):
        """A second gateway on the same broker whose --catchup-memory (64K)
        one history page is already over."""
        gateway = h.start(self, "gateway", "--broker",
                          "%s,%s" % (self.broker.xpub, self.broker.router),
                          "--workers", "1", "--catchup-memory", "64K", env=ENV)
        h.wait_broker_linked(gateway)
        return gateway

    def test_over_the_cap_history_waits_then_is_answered(self):
        gateway = self.small_cap_gateway()
        self.sockets.append(raw_request(gateway.http, "/v1/history?channel=big&limit=1000"))
        h.wait_until(lambda: h.metric(gateway.http, "herald_catchup_bytes") > 0, 10,
                     "the unread response to hold its page")
        answer = {}
        waiter = threading.Thread(target=lambda: answer.update(r=h.http(
            "GET", gateway.http + "/v1/history?channel=big&since=990", timeout=30)))
        waiter.start()
        h.wait_until(lambda: h.metric(gateway.http, "herald_catchup_waiting") == 1, 10,
                     "the second request to wait for memory")
        self.close_sockets()                # the first response's page is released
        waiter.join(30)
        self.assertEqual(answer["r"].status, 200, answer["r"])
        self.assertEqual([e["seq"] for e in answer["r"].json["events"]],
                         list(range(991, EVENTS + 1)))
        self.assertEqual(h.metric(gateway.http, "herald_catchup_waiting"), 0)

    def test_history_waiting_for_memory_at_shutdown_is_answered(self):
        gateway = self.small_cap_gateway()
        for since in (0, 10, 20):           # apart: nothing to share
            self.sockets.append(raw_request(
                gateway.http, "/v1/history?channel=big&since=%d" % since))
        h.wait_until(lambda: h.metric(gateway.http, "herald_catchup_waiting") == 2, 10,
                     "two requests to wait for memory")
        self.assertEqual(gateway.stop(), 0)         # no request left suspended


class ReadingResume(unittest.TestCase):
    def test_resumes_get_everything_once_with_shared_fetches(self):
        """Small events here: the point is order and completeness across many
        pages, and that clients at the same position share broker fetches."""
        herald = h.start(self, "run", "--workers", "1", "--recent-events", "0",
                         "--slow-consumer-bytes", "64K")
        push = h.pusher(self, herald.pull)
        for i in range(EVENTS):
            push.send({"ch": "small", "data": {"i": i, "pad": "y" * 500}})
        h.wait_until(lambda: h.metric(herald.http, "herald_broker_events_total") >= EVENTS,
                     30, "the history")
        epoch = h.http("GET", herald.http + "/v1/history?channel=small&limit=0").json["epoch"]
        cursor = encode_cursor(["small"], [(epoch, 0)])

        def resume(count):
            before = h.metric(herald.http, "herald_catchup_fetches_total")
            # Connect at once, as clients do after a restart (SSEClient reads
            # the response head before returning)
            clients = [None] * count

            def connect(i):
                clients[i] = h.sse(self, herald.http, ["small"], last_event_id=cursor)
            threads = [threading.Thread(target=connect, args=(i,)) for i in range(count)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            for c in clients:
                c.wait_events(EVENTS, timeout=60)
                c.wait_subscribed()
                self.assertEqual([e["seq"] for e in c.envelopes()],
                                 list(range(1, EVENTS + 1)))
                self.assertEqual([e["data"]["i"] for e in c.envelopes()], list(range(EVENTS)))
                c.close()
            return h.metric(herald.http, "herald_catchup_fetches_total") - before
        alone = resume(1)
        shared = h.metric(herald.http, "herald_catchup_shared_total")
        together = resume(5)
        shared = h.metric(herald.http, "herald_catchup_shared_total") - shared
        print("\n1,000 events: broker fetches for 1 client %d, for 5 at once %d (%d shared)"
              % (alone, together, shared))
        self.assertGreater(alone, 1, "the resume was not paged")
        # Pages are sized alike, so 5 unshared resumes make exactly 5 x alone
        # fetches; how many are shared depends on how the clients keep pace
        self.assertGreater(shared, 0, "no fetch was shared")
        self.assertLess(together, 5 * alone, "fetches were not shared")


if __name__ == "__main__":
    unittest.main()
