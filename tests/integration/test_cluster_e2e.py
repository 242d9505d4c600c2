"""End to end on a real cluster (3 brokers, 2 gateways; tests/integration/
cluster.py): one channel published through all three brokers at once by
three acknowledging publishers ends in one total order, seq 1..N without a
hole, and every acknowledged event reaches the SSE clients of both gateways
once, in that order (docs/cluster.md, "Publishing in a cluster" and
"Gateways in a cluster"). Labels: integration, cluster."""
import threading
import unittest

import zmq

import cluster
import harness as H

PER_PUBLISHER = 200
WINDOW = 20             # acknowledged publishes in flight per publisher


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.cluster = cluster.Cluster(self)

    def publish_through(self, i, channel, results, errors):
        """PER_PUBLISHER acknowledged publishes through broker i, WINDOW at
        a time; records (broker, data, ack)."""
        dealer = H.Zmq(zmq.DEALER, self.cluster.endpoints[i]["router"], linger=0)
        try:
            sent = done = 0
            while done < PER_PUBLISHER:
                while sent < PER_PUBLISHER and sent - done < WINDOW:
                    sent += 1
                    dealer.send({"ch": channel, "data": "b%d-%d" % (i + 1, sent), "rid": sent,
                                 "id": "b%d-%d" % (i + 1, sent)})
                reply = dealer.recv(10)[0]
                results.append((i, "b%d-%s" % (i + 1, reply.get("rid")), reply))
                done += 1
        except Exception as error:              # reported by the test
            errors.append(error)
        finally:
            dealer.close()

    def test_one_channel_through_three_brokers_is_one_order_everywhere(self):
        c = self.cluster
        channel = "total"
        # Two SSE clients on each gateway, subscribed before the first event
        clients = [H.subscribed(self, g.http, [channel]) for g in c.gateways for _ in range(2)]
        owner = c.owner(channel)
        c.wait_sequencing()
        results, errors = [], []
        threads = [threading.Thread(target=self.publish_through,
                                    args=(i, channel, results, errors)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual([r for _, _, r in results if "seq" not in r], [])
        # Each publisher got one answer per publish, with its rid (forwarded
        # or not, the reply names the request it answers)
        for i in range(3):
            self.assertEqual(sorted(r.get("rid", 0) for b, _, r in results if b == i),
                             list(range(1, PER_PUBLISHER + 1)), "publisher %d" % (i + 1))
        total = 3 * PER_PUBLISHER
        # One order: the acks are seq 1..N, each once, in one epoch, none a dup
        self.assertEqual(sorted(r["seq"] for _, _, r in results), list(range(1, total + 1)))
        self.assertEqual(len({r["epoch"] for _, _, r in results}), 1)
        self.assertFalse(any(r.get("dup") for _, _, r in results))
        epoch = results[0][2]["epoch"]
        data_of = {r["seq"]: data for _, data, r in results}
        # Each publisher's own events are in the order it sent them (one
        # connection to one broker, forwarded in order to the owner)
        for i in range(3):
            mine = sorted((r["seq"], int(data.split("-")[1])) for b, data, r in results
                          if b == i)
            self.assertEqual([n for _, n in mine], list(range(1, PER_PUBLISHER + 1)),
                             "publisher %d (owner b%d)" % (i + 1, owner + 1))
        # Every client, on either gateway: exactly that order, once
        for n, client in enumerate(clients):
            events = [e.json for e in client.wait_events(total, timeout=20)]
            self.assertEqual([(e["seq"], e["epoch"], e["data"]) for e in events],
                             [(s, epoch, data_of[s]) for s in range(1, total + 1)],
                             "client %d (gateway %d)" % (n, n // 2 + 1))
        for client in clients:                  # and nothing more
            with client.cond:
                self.assertEqual(len(client.events), total)
        forwarded = sum(H.metric(b.http, "herald_broker_forwarded_total")
                        for k, b in enumerate(c.brokers) if k != owner)
        self.assertGreaterEqual(forwarded, 2 * PER_PUBLISHER)   # the non-owners' publishes
        # A repeat through a non-owner is answered at once by the owner (the
        # event is published): a dup at its first seq, with the repeat's rid
        seq_of = {data: r["seq"] for _, data, r in results}
        for i in range(3):
            if i == owner:
                continue
            dealer = H.Zmq(zmq.DEALER, c.endpoints[i]["router"], linger=0)
            try:
                for n in (1, PER_PUBLISHER):
                    key = "b%d-%d" % (i + 1, n)
                    dealer.send({"ch": channel, "data": key, "rid": 9000 + n, "id": key})
                    reply = dealer.recv(10)[0]
                    self.assertEqual((reply.get("rid"), reply.get("seq"), reply.get("dup")),
                                     (9000 + n, seq_of[key], True), reply)
            finally:
                dealer.close()
        c.stop()


if __name__ == "__main__":
    unittest.main()
