"""No loss across gateway crashes: the no-loss workload in split mode while
the gateway is killed (SIGKILL) and restarted on the same port, twice.
Clients reconnect to the new process with their cursors and resume from
the broker's history."""
import signal
import unittest

import harness as h
import noloss

HISTORY = 400


class NoLossAcrossGatewayRestarts(unittest.TestCase):
    def test_gateway_sigkill_and_restart_lose_nothing(self):
        broker = h.start(self, "broker", "--history-size", str(HISTORY))
        broker_arg = ["--broker", "%s,%s" % (broker.xpub, broker.router)]
        # The first gateway binds port 0 (no race with concurrent tests);
        # its restarts take the port it got back
        gateways = [h.Herald("gateway", broker_arg)]
        self.addCleanup(lambda: [g.kill() for g in gateways])
        port = int(gateways[0].http.rsplit(":", 1)[1])
        args = ["--http", "127.0.0.1:%d" % port] + broker_arg
        restarts = []

        def crash_and_restart(publisher):
            for fraction in (0.3, 0.6):
                h.wait_until(lambda: sum(map(len, publisher.sends.values()))
                             >= fraction * publisher.total, 60, "publishing progress")
                gateways[-1].send_signal(signal.SIGKILL)
                gateways[-1].kill()
                gateways.append(h.Herald("gateway", args))
                restarts.append(fraction)

        totals = noloss.run_workload(self, "http://127.0.0.1:%d" % port, broker.pull,
                                     broker.router, history_size=HISTORY,
                                     during=crash_and_restart)
        print("\nno-loss across %d gateway restarts (seed %d): %s"
              % (len(restarts), noloss.SEED, totals))
        self.assertEqual(len(restarts), 2)
        gateways[-1].stop()


if __name__ == "__main__":
    unittest.main()
