"""No loss across gateway crashes: the no-loss workload in split mode while
the gateway is killed (SIGKILL) and restarted on the same port, twice.
Clients reconnect to the new process with their cursors and resume from
the broker's history."""
import unittest

import harness as h
import noloss

HISTORY = 400


class NoLossAcrossGatewayRestarts(unittest.TestCase):
    def test_gateway_sigkill_and_restart_lose_nothing(self):
        totals, restarts = noloss.run_across_gateway_restarts(self, HISTORY)
        print("\nno-loss across %d gateway restarts (seed %d): %s"
              % (len(restarts), noloss.SEED, totals))
        self.assertEqual(len(restarts), 2)

if __name__ == "__main__":
    unittest.main()
