"""No loss across broker restarts with durable history: the randomized
no-loss workload (seeded: HERALD_TEST_SEED) on `herald run --data-dir`,
SSE and WebSocket (JSON, MessagePack) clients dropping and resuming at
random, while the whole process is stopped twice, by SIGTERM or SIGKILL
drawn from the seed, and started again on the same directory and ports.
Publishes are keyed and sent again until acknowledged. Every delivery is
checked (no loss, no duplicate, in order), and with history large enough
to keep everything there is no reset at all: each channel keeps its epoch."""
import random
import shutil
import signal
import tempfile
import unittest

import noloss
import wsclient

HISTORY = 100000


class NoLossAcrossBrokerRestarts(unittest.TestCase):
    def test_sigterm_and_sigkill_restarts_lose_nothing_and_reset_nothing(self):
        data = tempfile.mkdtemp(prefix="herald-durable-")
        self.addCleanup(shutil.rmtree, data, True)
        rng = random.Random(noloss.SEED)
        signals = [rng.choice((signal.SIGTERM, signal.SIGKILL)) for _ in range(2)]
        if len(set(signals)) == 1:      # both kinds, in the seed's order
            signals[rng.randrange(2)] = ({signal.SIGTERM, signal.SIGKILL} - set(signals)).pop()
        totals, restarts = noloss.run_across_broker_restarts(
            self, data, signals, HISTORY, events=5000, clients=24, rate=500.0,
            transports=("sse", wsclient.JSON, wsclient.MSGPACK))
        print("\nno-loss across broker restarts %s (seed %d): %s"
              % (restarts, noloss.SEED, totals))
        self.assertEqual(len(restarts), 2)
        self.assertEqual(totals["resets"], 0)
        self.assertGreater(totals["connections"], 2 * totals["clients"])


if __name__ == "__main__":
    unittest.main()
