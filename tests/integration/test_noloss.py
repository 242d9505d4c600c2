"""No loss, no duplicates, in order: 10,000 events over 8 channels (PUSH and
acknowledged) while 50 SSE clients with random channel sets drop and resume
at random moments. Resets only where history really expired."""
import unittest

import harness as h
import noloss

HISTORY = 400


class NoLoss(unittest.TestCase):
    def test_random_disconnects_lose_nothing(self):
        herald = h.start(self, "run", "--history-size", str(HISTORY))
        totals = noloss.run_workload(self, herald.http, herald.pull, herald.router,
                                     history_size=HISTORY)
        print("\nno-loss (seed %d): %s" % (noloss.SEED, totals))
        self.assertGreater(totals["connections"], 3 * totals["clients"])
        m = h.metrics(herald.http)
        print("replayed %d, resumes %d" % (m["herald_events_replayed_total"],
                                           m["herald_resumes_total"]))
        self.assertGreater(m["herald_resumes_total"], 0)


if __name__ == "__main__":
    unittest.main()
