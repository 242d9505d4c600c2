"""A reconnect storm does not stall sequencing (issue 10, "Sequencing stays
fast under read storms"; docs/operations.md, "Threads of the broker").

A broker with 100 channels of 1,000 events; 1,000 DEALER clients (4
processes) ask the history of a channel from seq 0, all at once and again as
soon as each reply is in, for 4 s, while a publisher sends 200 acknowledged
publishes a second to the same channels. Every history reply must be
complete and correct (bench/history_storm.py checks each event) and every
publish acknowledged within 50 ms.

The 50 ms bound holds in a release build on a machine with cores to spare
(docs/benchmarks.md, "Publishing during a history storm"); it is asserted
there: a build without sanitizers and a 1-minute load average under the
number of cores when the test starts. Under ASan (make test) or on a busy
machine the broker's threads wait for a core as long as ZeroMQ's work takes
(measured on 2 cores: 170-560 ms under ASan), so there the bound is 1 s,
which a broker serving history in its own thread still fails (1.5-3.8 s in
a release build, more under ASan). HERALD_STORM_BOUND_MS overrides both.
"""
import os
import sys
import unittest

import harness as h

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "bench"))
import history_storm  # noqa: E402


def sanitized(path):
    """True when the binary was linked with AddressSanitizer."""
    with open(path, "rb") as f:
        return b"AddressSanitizer" in f.read()


class HistoryStorm(unittest.TestCase):
    def test_acks_stay_fast_while_a_thousand_clients_read_history(self):
        herald = h.herald_binary()
        quiet = not sanitized(herald) and os.getloadavg()[0] < (os.cpu_count() or 1)
        bound_ms = float(os.environ.get("HERALD_STORM_BOUND_MS", 50 if quiet else 1000))
        report = history_storm.run(herald, clients=1000, procs=4, channels=100, events=1000,
                                   duration=4.0, rate=200)
        summary = {k: report[k] for k in ("history_replies", "history_errors", "acks_during_storm",
                                          "ack_ms_before", "ack_ms_during", "ack_errors")}
        print("storm:", summary, "bound %.0f ms" % bound_ms)
        self.assertIsNone(report["sanitizer"], report["broker_log_tail"])
        self.assertEqual(report["broker_exit"], 0, report["broker_log_tail"])
        # Every reply complete and correct, and every client answered at least once
        self.assertEqual(report["history_errors"], 0, report["history_error_samples"])
        self.assertGreaterEqual(report["history_replies"], 1000)
        self.assertEqual(report["history_events"], 1000 * report["history_replies"])
        # Every publish acknowledged, each within the bound while the storm runs
        self.assertEqual(report["ack_errors"], 0, report["ack_error_samples"])
        # (a publisher kept waiting for a core sends fewer: half is plenty)
        self.assertGreaterEqual(report["acks_during_storm"], 0.5 * 200 * 4.0)
        self.assertLessEqual(report["ack_ms_during"]["max"], bound_ms, summary)


if __name__ == "__main__":
    unittest.main()
