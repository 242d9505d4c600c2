"""No loss, no duplicates, in order, over SSE and WebSocket together: the
randomized workload of test_noloss (PUSH and acknowledged publishes to 8
channels) with a third of the clients on SSE, a third on WebSocket JSON and
a third on WebSocket MessagePack, all dropping and resuming at random (the
WebSocket ones with sub{e, s}), in run mode and across gateway SIGKILL
restarts. Resets only where history really expired."""
import unittest

import harness as h
import noloss
import wsclient

HISTORY = 400


class NoLossMixed(unittest.TestCase):
    def test_sse_and_websocket_clients_lose_nothing(self):
        herald = h.start(self, "run", "--history-size", str(HISTORY))
        totals = noloss.run_workload(self, herald.http, herald.pull, herald.router,
                                     events=8000, clients=48, history_size=HISTORY,
                                     transports=("sse", wsclient.JSON, wsclient.MSGPACK))
        print("\nmixed no-loss (seed %d): %s" % (noloss.SEED, totals))
        self.assertGreater(totals["connections"], 3 * totals["clients"])

    def test_gateway_sigkill_and_restart_lose_nothing(self):
        totals, restarts = noloss.run_across_gateway_restarts(
            self, HISTORY, events=6000, clients=36,
            transports=("sse", wsclient.JSON, wsclient.MSGPACK))
        print("\nmixed no-loss across %d gateway restarts (seed %d): %s"
              % (len(restarts), noloss.SEED, totals))
        self.assertEqual(len(restarts), 2)

if __name__ == "__main__":
    unittest.main()
