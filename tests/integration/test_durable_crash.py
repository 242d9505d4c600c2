"""Durable history (--data-dir) across a crash: publishers (DEALER with
keys, HTTP with ids) publish without pause to several channels, recording
every acknowledgement; the broker is killed (SIGKILL) mid-stream, right
after a publisher got an ack (its next batch then in commit), and started
again on the same directory, several times. Then every acknowledged publish is in
history at its acknowledged (epoch, seq) with its payload, no channel has a
new epoch, a publish that went unanswered and was sent again with its key
is stored exactly once (a dup of the stored event, or a new event), and the
SSE and WebSocket clients, dropping and resuming at random all along, got
every event once, in order, with no reset.

--fsync always in split mode (only the broker restarts; clients stay on
the gateway, which hears the broker's stream apart from it: an event sent
before its commit reaches clients and is then lost), and --fsync batch in
run mode (clients reconnect to the new process), and --fsync off likewise:
on the same machine boot a killed process loses nothing it committed,
whatever --fsync says. What batch and off lose when the machine
stops (a new epoch for the channels that may have lost events) is unit
tested with another boot id: tests/unit/test_hrb_store_lmdb.c."""
import http.client
import random
import shutil
import signal
import tempfile
import threading
import time
import unittest

import msgpack
import zmq

import harness as h
import noloss
import wsclient

CHANNELS = ["crash-%d" % i for i in range(6)]
SEED = noloss.SEED


class KeyedPublisher(threading.Thread):
    """Publishes one event at a time to random channels until stopped, each
    with its own key, over DEALER (endpoint) or HTTP (base URL). A publish
    without an answer (the broker gone: a timeout, a refused connection, a
    503) is sent again with its key until one comes. acks: key -> (channel,
    data, epoch, seq, dup, tries)."""

    def __init__(self, name, dealer=None, base=None):
        super().__init__(daemon=True)
        self.name, self.dealer, self.base = name, dealer, base
        self.rng = random.Random("%d-%s" % (SEED, name))
        self.acks, self.error = {}, None
        self.halt = threading.Event()
        self.after_ack = None           # called once, right after the next ack

    def _over_dealer(self, sock, rid, channel, key, data):
        sock.send(msgpack.packb({"ch": channel, "data": data, "id": key, "rid": rid}))
        deadline = time.monotonic() + 1.0
        while sock.poll(max(0, int((deadline - time.monotonic()) * 1000))):
            reply = msgpack.unpackb(sock.recv(), raw=False)
            if reply.get("rid") == rid:     # else a late answer to a repeat
                assert "seq" in reply, reply
                return reply["epoch"], reply["seq"], reply["dup"]
        return None

    def _over_http(self, channel, key, data):
        try:
            r = h.publish(self.base, {"channel": channel, "data": data, "id": key}, timeout=2)
        except (OSError, http.client.HTTPException):
            return None                     # the process is down (run mode)
        if r.status == 503:
            return None                     # the broker is down (split mode)
        assert r.status == 200, r
        return r.json["epoch"], r.json["seq"], r.json["duplicate"]

    def run(self):
        sock = None
        if self.dealer:
            sock = h.ZMQ.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self.dealer)
        try:
            i = 0
            while not self.halt.is_set():
                i += 1
                channel, key = self.rng.choice(CHANNELS), "%s-%d" % (self.name, i)
                data = {"key": key, "pad": "x" * self.rng.randrange(300)}
                deadline, tries, answer = time.monotonic() + 30, 0, None
                while answer is None:
                    assert time.monotonic() < deadline, "no answer for %s" % key
                    tries += 1
                    answer = self._over_dealer(sock, i, channel, key, data) if sock \
                        else self._over_http(channel, key, data)
                self.acks[key] = (channel, data) + answer + (tries,)
                if self.after_ack:
                    self.after_ack, after = None, self.after_ack
                    after()
        except BaseException as error:      # reported by the test
            self.error = error
        finally:
            if sock:
                sock.close()


class NoResets:
    """verify()'s publisher: no reset is ever justified here."""

    @staticmethod
    def sent_before(channel, moment):
        return 0


class CrashUnderLoad(unittest.TestCase):
    def crash(self, fsync, split, kills):
        data = tempfile.mkdtemp(prefix="herald-durable-")
        self.addCleanup(shutil.rmtree, data, True)
        args = ("--data-dir", data, "--fsync", fsync, "--history-size", "100000")
        server = h.Restartable(self, "broker" if split else "run", *args)
        base, watcher = server.http, None
        if split:
            gateway = h.start(self, "gateway", "--broker", "%s,%s" % (server.xpub, server.router))
            h.wait_broker_linked(gateway)
            base = gateway.http
            # connected all along: what the gateway hears, at once
            watcher = h.subscribed(self, base, CHANNELS)
        rng, stop = random.Random(SEED), threading.Event()
        clients = [noloss.Client(base, rng.sample(CHANNELS, 3), SEED + i, stop, 0.0)
                   for i in range(4)]
        clients += [noloss.WSClient(base, rng.sample(CHANNELS, 3), SEED + 10 + i, stop, 0.0,
                                    (wsclient.JSON, wsclient.MSGPACK)[i % 2]) for i in range(4)]
        publishers = [KeyedPublisher("dealer-a", dealer=server.router),
                      KeyedPublisher("dealer-b", dealer=server.router),
                      KeyedPublisher("http", base=base)]
        for thread in clients + publishers:
            thread.start()
        acked = lambda: sum(len(p.acks) for p in publishers)
        for kill in range(kills):
            # Killed right after an ack: whatever that ack's batch held must
            # be stored by then, the broker being busy with the next ones
            h.wait_until(lambda: acked() >= 250 * (kill + 1) and all(p.acks for p in publishers),
                         30, "acknowledgements before kill %d" % (kill + 1))
            proc, sent = server.proc, threading.Event()
            publishers[kill % 2].after_ack = lambda: (proc.send_signal(signal.SIGKILL), sent.set())
            h.wait_until(sent.is_set, 10, "the kill")
            before = acked() if kill == 0 else before
            server.restart(signal.SIGKILL)
        h.wait_until(lambda: acked() >= 250 * (kills + 1), 30, "acknowledgements after")
        for p in publishers:
            p.halt.set()
        for p in publishers:
            p.join(40)
            self.assertIsNone(p.error, p.error)
        acks = {key: ack for p in publishers for key, ack in p.acks.items()}
        retried = [key for key, ack in acks.items() if ack[-1] > 1]
        self.assertTrue(retried, "no publish was in flight at the kill")
        history = self.check_history(base, acks)
        if watcher:
            stored = sum(len(events) for events in history.values())
            got = watcher.wait_events(stored, 30)
            self.assertEqual([e.type for e in got], ["message"] * stored, "a reset")
            self.assertEqual(sorted((e.json["channel"], e.json["seq"]) for e in got),
                             sorted((ch, seq) for ch in history for seq in history[ch]))
            for e in got:
                self.assertEqual(e.json, history[e.json["channel"]][e.json["seq"]],
                                 "sent, then lost")
        stop.set()
        heads = noloss.final_heads(server.router, CHANNELS)
        for client in clients:
            client.final_heads = heads
            client.done.set()
        delivered = 0
        for client in clients:
            client.join(60)
            self.assertIsNone(client.error, client.error)
            self.assertFalse(client.is_alive())
            ws = isinstance(client, noloss.WSClient)
            received, resets = (noloss.verify_ws if ws else noloss.verify)(
                self, client, NoResets, 0)
            self.check_payloads(client, history, ws)
            delivered += received
        print("\n--fsync %s, %s: %d acks (%d before the first of %d kills, %d sent again: "
              "%d dups), %d deliveries" % (fsync, "split" if split else "run", len(acks), before,
                                           kills, len(retried),
                                           sum(1 for k in retried if acks[k][4]), delivered))

    def check_history(self, base, acks):
        """Every ack in history at its place, with its payload; one epoch
        per channel; every key stored once. Returns {ch: {seq: envelope}}."""
        history = {}
        for ch in CHANNELS:
            page, events = h.history_all(base, ch)
            self.assertEqual([e["seq"] for e in events], list(range(1, page["head"] + 1)), ch)
            self.assertEqual({e["epoch"] for e in events}, {page["epoch"]},
                             "%s changed epoch" % ch)
            keys = [e["id"] for e in events]
            self.assertEqual(len(keys), len(set(keys)), "%s: a key stored twice" % ch)
            history[ch] = {e["seq"]: e for e in events}
        for key, (ch, data, epoch, seq, dup, tries) in acks.items():
            event = history[ch].get(seq)
            self.assertEqual((epoch, seq), (event["epoch"], event["seq"]) if event else None,
                             "acknowledged %s lost" % key)
            self.assertEqual((event["id"], event["data"]), (key, data),
                             "%s's place holds another event" % key)
        stored = sum(len(events) for events in history.values())
        self.assertEqual(stored, len(acks), "events stored that nobody acknowledged")
        return history

    def check_payloads(self, client, history, ws):
        for items in client.connections:
            for item in items:
                if ws and item[0].get("t") == "ev":
                    m = item[0]
                    stored = history[m["ch"]][m["s"]]
                    self.assertEqual((m["e"], m["data"]), (stored["epoch"], stored["data"]))
                elif not ws and item[0] == "message":
                    self.assertEqual(item[1], history[item[1]["channel"]][item[1]["seq"]])

    def test_sigkill_of_the_broker_with_fsync_always_loses_no_acknowledged_publish(self):
        self.crash("always", split=True, kills=6)

    def test_sigkill_with_fsync_batch_same_boot_no_reset(self):
        self.crash("batch", split=False, kills=2)

    def test_sigkill_with_fsync_off_same_boot_no_reset(self):
        self.crash("off", split=False, kills=2)


if __name__ == "__main__":
    unittest.main()
