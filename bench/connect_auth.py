#!/usr/bin/python3
"""The cost of authentication on connection setup (issue 9, "Measured").

Starts three `herald run` servers on loopback, one worker each: open (no
--token-keys), EdDSA (a JWKS from `herald keygen`) and HS256 (`herald keygen
--alg HS256`), mints one token per key with `herald token` (a marketplace
seller's: sub 123, three grants), and runs `herald bench --mode connect`
against each in turn, several times: every connection is a new TCP
connection, `GET /v1/sse?channel=seller:123` with the token, read up to the
first `id:` line, then closed. Prints connections per second and server CPU
per connection for each, their medians, and the ratios with tokens / without.

By default every connection sends the same token, as a page's EventSource
does each time it reconnects. --distinct gives every connection a token of
its own (same claims, own jti and signature, minted here), so nothing the
gateway might remember about a token helps. Standard library only, plus
python3-cryptography for --distinct EdDSA tokens; see bench/README.md.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import LIMITS_OFF, ROOT, Server, _herald_process, bench, free_port, log  # noqa: E402

CHANNEL = "seller:123"
GRANTS = ["--sub", "123", "--subscribe", "seller:{sub},business:*", "--publish", "seller:{sub}"]


def start(herald, keys=None):
    port = free_port()
    args = ["run", "--http", "127.0.0.1:%d" % port, "--pull", "tcp://127.0.0.1:%d" % free_port(),
            "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*", "--workers", "1",
            "--log-level", "info"] + LIMITS_OFF
    if keys:
        args += ["--token-keys", keys]
    proc, _ = _herald_process(herald, args)
    return Server("herald", port, [proc], [proc.pid])


def keys_and_tokens(herald, directory):
    """{config: (JWKS path, token file)} for EdDSA and HS256."""
    out = {}
    for name, alg, signer in (("eddsa", "EdDSA", "eddsa.private.jwk"), ("hs256", "HS256", "hs256.jwks")):
        base = os.path.join(directory, name)
        subprocess.run([herald, "keygen", "--out", base, "--alg", alg], check=True,
                       stdout=subprocess.DEVNULL)
        token = subprocess.run([herald, "token", "--key", os.path.join(directory, signer),
                                "--ttl", "1h"] + GRANTS,
                               check=True, capture_output=True, text=True).stdout.strip()
        path = base + ".token"
        with open(path, "w") as f:
            f.write(token + "\n")
        out[name] = (base + ".jwks", path)
    return out


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_distinct(directory, name, count):
    """count tokens with `herald token`'s claims (GRANTS), each with its own
    jti, signed with the key keys_and_tokens made; returns their file."""
    if name == "eddsa":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        with open(os.path.join(directory, "eddsa.private.jwk")) as f:
            jwk = json.load(f)
        private = Ed25519PrivateKey.from_private_bytes(_unb64url(jwk["d"]))
        sign = private.sign
    else:
        with open(os.path.join(directory, "hs256.jwks")) as f:
            jwk = json.load(f)["keys"][0]
        secret = _unb64url(jwk["k"])
        sign = lambda data: hmac.new(secret, data, hashlib.sha256).digest()  # noqa: E731
    header = _b64url(json.dumps({"alg": jwk["alg"], "typ": "JWT", "kid": jwk["kid"]},
                                separators=(",", ":")).encode())
    now = int(time.time())
    path = os.path.join(directory, name + ".distinct")
    with open(path, "w") as f:
        for i in range(count):
            claims = {"sub": "123", "aud": "herald", "iat": now, "exp": now + 3600,
                      "jti": "%016x" % i,
                      "herald": {"subscribe": ["seller:{sub}", "business:*"],
                                 "publish": ["seller:{sub}"]}}
            text = header + "." + _b64url(json.dumps(claims, separators=(",", ":")).encode())
            f.write(text + "." + _b64url(sign(text.encode())) + "\n")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--herald", default=os.path.join(ROOT, "build", "herald"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-n", type=int, default=20000, help="connections per run (count bound)")
    parser.add_argument("-d", type=float, default=10, help="seconds per run (time bound)")
    parser.add_argument("--max-pending", type=int, default=16, help="connections in flight")
    parser.add_argument("--src-addrs", type=int, default=4)
    parser.add_argument("--token-in", choices=["header", "query"], default="header")
    parser.add_argument("--distinct", action="store_true",
                        help="a token of its own for every connection (-n of them)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="herald-connect-") as directory:
        material = keys_and_tokens(args.herald, directory)
        if args.distinct:
            material = {name: (keys, mint_distinct(directory, name, args.n))
                        for name, (keys, _) in material.items()}
        configs = [("open", None, None)] + [(name, keys, token)
                                            for name, (keys, token) in material.items()]
        servers = {name: start(args.herald, keys) for name, keys, _ in configs}
        results = {name: [] for name, _, _ in configs}
        try:
            # Tokens are checked: the EdDSA server refuses a connection without one.
            try:
                bench(args.herald, servers["eddsa"], "--mode", "connect", "-n", 4,
                      "--channel", CHANNEL, "--connect-timeout", 2)
                raise SystemExit("the EdDSA server accepted a connection without a token")
            except RuntimeError as refused:
                if "status 4" not in str(refused):
                    raise
            for run in range(args.runs):
                # Rotate the order so no configuration always goes first.
                for name, _, token in configs[run % 3:] + configs[:run % 3]:
                    extra = ["--token", token, "--token-in", args.token_in] if token else []
                    report = bench(args.herald, servers[name], "--mode", "connect",
                                   "-n", args.n, "-d", args.d, "--channel", CHANNEL,
                                   "--max-pending", args.max_pending,
                                   "--src-addrs", args.src_addrs, *extra)
                    c, connect = report["connections"], report["connect"]
                    if c["failed"]:
                        raise SystemExit("run %d %s: %d connections failed: %s"
                                         % (run + 1, name, c["failed"], c))
                    results[name].append((connect["per_s"], connect["server_cpu_us_per_conn"]))
                    log("  run %d %-5s: %d connections in %.2f s, %.0f/s, server %.1f us each,"
                        " setup p50 %.2f ms p99 %.2f ms"
                        % (run + 1, name, c["ok"], c["ramp_s"], connect["per_s"],
                           connect["server_cpu_us_per_conn"], connect["setup_ms"]["p50"],
                           connect["setup_ms"]["p99"]))
        finally:
            for server in servers.values():
                server.stop()

    rate = {name: statistics.median(r[0] for r in runs) for name, runs in results.items()}
    cpu = {name: statistics.median(r[1] for r in runs) for name, runs in results.items()}
    print("| SSE connection setup (%s, in the %s) | connections/s, runs | median |"
          " with / without | server CPU us per connection (median) | without / with |"
          % ("a token per connection" if args.distinct else "one token", args.token_in))
    print("|---|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        print("| %s | %s | %.0f | %.2f | %.1f | %.2f |"
              % (name, ", ".join("%.0f" % r[0] for r in runs), rate[name],
                 rate[name] / rate["open"], cpu[name], cpu["open"] / cpu[name]))


if __name__ == "__main__":
    main()
