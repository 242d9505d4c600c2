"""No loss across gateway crashes: the no-loss workload in split mode while
the gateway is killed (SIGKILL) and restarted on the same port, twice.
Clients reconnect to the new process with their cursors and resume from
the broker's history."""
import signal
import socket
import unittest

import harness as h
import noloss

HISTORY = 400


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoLossAcrossGatewayRestarts(unittest.TestCase):
    def test_gateway_sigkill_and_restart_lose_nothing(self):
        broker = h.start(self, "broker", "--history-size", str(HISTORY))
        port = free_port()
        args = ["--http", "127.0.0.1:%d" % port, "--broker",
                "%s,%s" % (broker.xpub, broker.router)]
        gateways = [h.Herald("gateway", args)]
        self.addCleanup(lambda: [g.kill() for g in gateways])
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
