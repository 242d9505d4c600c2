"""deploy/Containerfile builds with podman, and the image serves
(deploy/README.md, "Containers and Kubernetes"). The base images come from
deploy/base-images.sh (made offline with mmdebstrap when no registry has
them). The test stage's RUN starts `herald run`, then a cluster of 3
brokers and 2 gateways, inside the image and delivers an event over HTTP
and SSE through each (deploy/smoke.sh): a build that succeeds printed both
lines. The runtime image runs as a user of its own, by number (what
Kubernetes' runAsNonRoot can check), has herald as its entrypoint and a
health check, and carries no compiler and no curl.

podman here can build (--isolation=chroot) but not run containers: that is
why the smoke test runs inside the build. Minutes on a first build; later
ones reuse the cached layers (the smoke step runs again each time).
"""
import json
import os
import shutil
import subprocess
import unittest
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTAINERFILE = os.path.join("deploy", "Containerfile")
RUNTIME_TAG = "localhost/herald:ctest"
SMOKE_LINES = ("herald-smoke: delivered ", "herald-smoke: cluster delivered ")


def run(argv, timeout):
    """Runs argv in the repository's root; (status, stdout and stderr)."""
    p = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def build(target, *extra, timeout=1500):
    return run(["nice", "podman", "build", "--isolation=chroot", "--format", "docker",
                "--target", target, "-f", CONTAINERFILE] + list(extra) + ["."], timeout)


class Container(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [t for t in ("podman", "mmdebstrap") if not shutil.which(t)]
        if missing:
            raise AssertionError("the container test needs %s: apt-get install podman "
                                 "mmdebstrap (scripts/install-deps.sh test)" % " and ".join(missing))
        status, out = run([os.path.join(ROOT, "deploy", "base-images.sh")], 1200)
        if status != 0:
            raise AssertionError("deploy/base-images.sh failed (%d):\n%s" % (status, out[-4000:]))

    def test_smoke_stage_delivers(self):
        status, out = build("test", "--build-arg", "SMOKE_RUN=" + uuid.uuid4().hex)
        # What the smoke test said went wrong comes before its logs: keep it
        said = [l for l in out.splitlines() if "FAILED" in l or l.startswith("local-cluster:")]
        self.assertEqual(status, 0, "podman build --target test failed: %s\n%s"
                         % ("\n".join(said), out[-6000:]))
        for prefix, channel in zip(SMOKE_LINES, ("smoke", "smoke-cluster")):
            lines = [l for l in out.splitlines() if l.startswith(prefix)]
            self.assertEqual(len(lines), 1, "no line %r in the build's output:\n%s"
                             % (prefix, out[-6000:]))
            event = json.loads(lines[0][len(prefix):])
            self.assertEqual((event["channel"], event["seq"], event["type"]),
                             (channel, 1, "hello"))
            self.assertEqual(event["data"], {"from": "container"})

    def test_runtime_image(self):
        status, out = build("runtime", "-t", RUNTIME_TAG)
        self.assertEqual(status, 0, "podman build --target runtime failed:\n" + out[-6000:])
        status, out = run(["podman", "image", "inspect", RUNTIME_TAG], 60)
        self.assertEqual(status, 0, out)
        image = json.loads(out)[0]
        config = image["Config"]
        uid = config.get("User", "").split(":")[0]
        self.assertTrue(uid.isdigit() and uid != "0",
                        "User %r: want a numeric uid other than 0 (runAsNonRoot)" % config.get("User"))
        self.assertEqual(config.get("Entrypoint"), ["herald"])
        self.assertEqual(config.get("Cmd"), ["run", "--http", "0.0.0.0:8080"])
        self.assertIn("8080/tcp", config.get("ExposedPorts", {}))
        self.assertEqual((image.get("Healthcheck") or {}).get("Test"),
                         ["CMD", "herald-healthcheck"])
        # The files themselves: the user exists with its own uid, the
        # binary and health check are there, no build tools are
        status, root = run(["podman", "image", "mount", RUNTIME_TAG], 60)
        self.assertEqual(status, 0, root)
        root = root.strip()
        try:
            with open(os.path.join(root, "etc", "passwd")) as f:
                users = dict((l.split(":")[0], l.split(":")) for l in f if l.strip())
            self.assertEqual(users.get("herald", [None] * 3)[2], uid,
                             "the image's uid is user herald")
            for present in ("usr/local/bin/herald", "usr/local/bin/herald-healthcheck"):
                self.assertTrue(os.access(os.path.join(root, present), os.X_OK), present)
            for absent in ("usr/bin/gcc", "usr/bin/cc", "usr/bin/cmake", "usr/bin/curl",
                           "usr/include/zmq.h"):
                self.assertFalse(os.path.lexists(os.path.join(root, absent)),
                                 "%s in the runtime image" % absent)
            # apt's downloads and caches are not kept either
            cache = os.path.join(root, "var", "cache", "apt")
            kept = [f for d, _, fs in os.walk(cache) for f in fs
                    if f.endswith((".deb", ".bin"))]
            self.assertEqual(kept, [], "apt's cache in the runtime image")
        finally:
            run(["podman", "image", "unmount", RUNTIME_TAG], 60)


if __name__ == "__main__":
    unittest.main()
