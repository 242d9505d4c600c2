"""bench/rawwriter.c, the reference `make bench` draws next to Herald and
nchan (bench/README.md): driven by `herald bench --target herald` exactly as
Herald is, every subscriber gets every event of its own channel once and in
order, one at a time and in batches (--batch N, flushed after 50 ms when
fewer come), and a subscriber that stops reading is closed at 1 MiB of
backlog without holding the others back. The binary is herald-rawwriter,
built next to herald."""
import json
import os
import socket
import subprocess
import unittest

import harness as h


def rawwriter_binary():
    path = os.path.join(os.path.dirname(h.herald_binary()), "herald-rawwriter")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest("herald-rawwriter not built next to herald (%s)" % path)
    return path


class RawWriter(unittest.TestCase):
    def start(self, *args):
        proc = subprocess.Popen([rawwriter_binary()] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        self.addCleanup(self.stop, proc)
        bound = dict(proc.stdout.readline().split(" ", 1) for _ in range(2))
        return proc, int(bound["http"].strip().rsplit(":", 1)[1]), bound["pull"].strip()

    def stop(self, proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    def bench(self, port, pull, pid, *args):
        r = subprocess.run([h.herald_binary(), "bench", "--json", "-q", "--port", str(port),
                            "--zmq-endpoint", pull, "--server-pid", str(pid), "--drain", "3",
                            "--connect-timeout", "5", "--timeout", "30"]
                           + [str(a) for a in args],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def assert_no_loss(self, report, subscribers, events):
        c, d = report["connections"], report["deliveries"]
        self.assertEqual((c["ok"], c["failed"], c["dropped"]), (subscribers, 0, 0), report)
        self.assertEqual(report["events"]["published"], events, report)
        self.assertEqual((d["lost"], d["duplicates"], d["out_of_order"], d["foreign"]),
                         (0, 0, 0, 0), report)
        self.assertEqual(d["unique"], d["expected"], report)
        self.assertGreater(d["expected"], 0)

    def test_every_event_to_its_own_channel_one_write_each(self):
        proc, port, pull = self.start()
        # 30 subscribers over 3 channels: each gets its channel's 100 of 300.
        report = self.bench(port, pull, proc.pid, "-n", 30, "--channels", 3, "-m", 300,
                            "-r", 300)
        self.assert_no_loss(report, 30, 300)
        self.assertEqual(report["deliveries"]["unique"], 30 * 100)

    def test_batches_and_the_late_remainder(self):
        # 10 events to one channel at --batch 4: two writes of four, and the
        # last two written once they have waited 50 ms.
        proc, port, pull = self.start("--batch", "4")
        report = self.bench(port, pull, proc.pid, "-n", 5, "-m", 10, "-r", 100)
        self.assert_no_loss(report, 5, 10)
        proc.terminate()
        proc.wait(5)
        counters = proc.stderr.read()
        # 5 heads + 5 x 3 writes of events (4, 4, 2)
        self.assertIn("10 events, 50 deliveries, 20 writes", counters)

    def test_a_subscriber_that_stops_reading_is_closed(self):
        proc, port, pull = self.start()
        stalled = socket.socket()
        self.addCleanup(stalled.close)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)    # a small window
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(b"GET /v1/sse?channel=bench HTTP/1.1\r\nHost: x\r\n\r\n")
        # 2,000 events of 4 kB: 8 MB for the stalled one, past 1 MiB and the
        # socket buffers (a few MB on loopback); the others read everything.
        report = self.bench(port, pull, proc.pid, "-n", 5, "-m", 2000, "-r", 2000, "-s", 4000)
        self.assert_no_loss(report, 5, 2000)
        proc.terminate()
        proc.wait(5)
        self.assertIn("1 closed for a full buffer", proc.stderr.read())


if __name__ == "__main__":
    unittest.main()
