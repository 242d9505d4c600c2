"""`herald keygen` and `herald token` (docs/security.md): the files keygen
writes and their modes, never overwriting; tokens `herald token` mints
verify with independent code (PyJWT) and say what was asked; invalid
grants are refused; and end to end, `herald run --token-keys` accepts
tokens from `herald token`, from PyJWT and from Node's built-in crypto
(mint_node.js), and refuses a wrong signature."""
import base64
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

import jwt
import zmq
import zmq.auth
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import harness as h
import tokens as t

HERE = os.path.dirname(os.path.abspath(__file__))


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def herald(*args, cwd=None):
    """Runs `herald ARGS` with umask 000, so every mode a file gets is the
    one herald asked for; checks for sanitizer reports."""
    r = subprocess.run([h.herald_binary()] + list(args), capture_output=True, text=True,
                       timeout=30, cwd=cwd, stdin=subprocess.DEVNULL,
                       preexec_fn=lambda: os.umask(0))
    report = next((m for m in h.SANITIZER_MARKERS if m in r.stderr), None)
    assert report is None, "herald %s: sanitizer report:\n%s" % (" ".join(args), r.stderr)
    return r


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_text(path):
    with open(path) as f:
        return f.read()


def tmpdir(test):
    path = tempfile.mkdtemp(prefix="herald-keygen-")
    test.addCleanup(shutil.rmtree, path, True)
    return path


def keygen(test, directory, name, *args):
    r = herald("keygen", "--out", os.path.join(directory, name), *args)
    test.assertEqual(r.returncode, 0, r.stderr)
    return r


def mint(test, *args):
    """`herald token ARGS`: the token it printed (one line, nothing else)."""
    r = herald("token", *args)
    test.assertEqual(r.returncode, 0, r.stderr)
    test.assertRegex(r.stdout, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$")
    return r.stdout.strip()


def pyjwt_verify(token, public_jwk, alg, **kw):
    key = jwt.PyJWK(public_jwk, algorithm=alg).key
    return jwt.decode(token, key, algorithms=[alg], audience=kw.pop("audience", "herald"), **kw)


class Help(unittest.TestCase):
    def test_both_commands_are_listed_and_have_help(self):
        self.assertRegex(herald("--help").stdout, r"\n  keygen\s+.*\n  token\s")
        for command, options in (("keygen", ["--out", "--kid", "--alg", "--curve"]),
                                 ("token", ["--key", "--kid", "--sub", "--subscribe",
                                            "--publish", "--ttl", "--admin", "--aud", "--iss",
                                            "--jti"])):
            r = herald(command, "--help")
            self.assertEqual(r.returncode, 0, r.stderr)
            for option in options:
                self.assertIn("  %s " % option, r.stdout)


class Keygen(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)

    def test_eddsa_writes_a_private_jwk_0600_and_a_public_jwks(self):
        r = keygen(self, self.dir, "dev", "--kid", "k1")
        private_path = os.path.join(self.dir, "dev.private.jwk")
        public_path = os.path.join(self.dir, "dev.jwks")
        self.assertEqual(mode(private_path), 0o600)
        self.assertEqual(mode(public_path), 0o644)
        private = read_json(private_path)
        self.assertEqual({k: private[k] for k in ("kty", "crv", "kid", "alg")},
                         {"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA"})
        jwks = read_json(public_path)
        self.assertEqual(len(jwks["keys"]), 1)
        public = jwks["keys"][0]
        self.assertNotIn("d", public)
        self.assertEqual(public, {k: v for k, v in private.items() if k != "d"})
        # d is the seed whose public key is x
        derived = Ed25519PrivateKey.from_private_bytes(b64decode(private["d"])).public_key()
        self.assertEqual(derived.public_bytes(Encoding.Raw, PublicFormat.Raw),
                         b64decode(private["x"]))
        self.assertIn("dev.private.jwk", r.stdout)
        self.assertIn("--token-keys " + public_path, r.stdout)
        self.assertIn("herald token --key " + private_path, r.stdout)

    def test_the_default_kid_is_short_and_random(self):
        kids = []
        for name in ("a", "b"):
            keygen(self, self.dir, name)
            kids.append(read_json(os.path.join(self.dir, name + ".jwks"))["keys"][0]["kid"])
        self.assertNotEqual(kids[0], kids[1])
        for kid in kids:
            self.assertRegex(kid, r"^[0-9a-f]{8}$")

    def test_existing_files_are_never_overwritten(self):
        keygen(self, self.dir, "dev")
        paths = [os.path.join(self.dir, n) for n in ("dev.private.jwk", "dev.jwks")]
        before = [read_text(p) for p in paths]
        for args in ((), ("--alg", "HS256")):
            r = herald("keygen", "--out", os.path.join(self.dir, "dev"), *args)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("already exists", r.stderr)
            self.assertEqual([read_text(p) for p in paths], before)
        # one file of the pair present: nothing written, not even the other
        os.unlink(paths[0])
        r = herald("keygen", "--out", os.path.join(self.dir, "dev"))
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(paths[0]))
        self.assertEqual(read_text(paths[1]), before[1])

    def test_hs256_writes_one_secret_jwks_0600(self):
        r = keygen(self, self.dir, "shared", "--alg", "HS256", "--kid", "h1")
        path = os.path.join(self.dir, "shared.jwks")
        self.assertEqual(sorted(os.listdir(self.dir)), ["shared.jwks"])
        self.assertEqual(mode(path), 0o600)
        key = read_json(path)["keys"][0]
        self.assertEqual({k: key[k] for k in ("kty", "kid", "alg")},
                         {"kty": "oct", "kid": "h1", "alg": "HS256"})
        self.assertEqual(len(b64decode(key["k"])), 32)
        self.assertIn("herald token --key " + path, r.stdout)

    def test_curve_writes_a_czmq_certificate_pair(self):
        keygen(self, self.dir, "broker", "--curve")
        public_path = os.path.join(self.dir, "broker")
        secret_path = public_path + "_secret"
        self.assertEqual(mode(secret_path), 0o600)
        self.assertEqual(mode(public_path), 0o644)
        public, none = zmq.auth.load_certificate(public_path)
        self.assertIsNone(none)
        public2, secret = zmq.auth.load_certificate(secret_path)
        self.assertEqual(public, public2)
        self.assertEqual(zmq.curve_public(secret), public)
        r = herald("keygen", "--out", public_path, "--curve")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already exists", r.stderr)

    def test_bad_arguments_are_refused(self):
        for args in (("--alg", "RS256"), ("--curve", "--kid", "x")):
            r = herald("keygen", "--out", os.path.join(self.dir, "x"), *args)
            self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(os.listdir(self.dir), [])


class Token(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="herald-token-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        for args in (("--out", "ed", "--kid", "e1"), ("--out", "ed2", "--kid", "e2"),
                     ("--out", "hs", "--alg", "HS256", "--kid", "h1")):
            r = herald("keygen", *args, cwd=cls.dir)
            assert r.returncode == 0, r.stderr
        cls.private = os.path.join(cls.dir, "ed.private.jwk")
        cls.public = read_json(os.path.join(cls.dir, "ed.jwks"))["keys"][0]
        cls.hs = os.path.join(cls.dir, "hs.jwks")

    def test_an_eddsa_token_verifies_with_pyjwt_and_says_what_was_asked(self):
        before = int(time.time())
        token = mint(self, "--key", self.private, "--sub", "alice", "--subscribe",
                     "demo, user:{sub},orders:*", "--publish", "demo", "--ttl", "10m",
                     "--iss", "https://auth.example")
        after = int(time.time())
        self.assertEqual(jwt.get_unverified_header(token),
                         {"alg": "EdDSA", "typ": "JWT", "kid": "e1"})
        claims = pyjwt_verify(token, self.public, "EdDSA", issuer="https://auth.example")
        self.assertEqual(claims["sub"], "alice")
        self.assertEqual(claims["aud"], "herald")
        self.assertTrue(before <= claims["iat"] <= after, claims)
        self.assertEqual(claims["exp"] - claims["iat"], 600)
        self.assertRegex(claims["jti"], r"^[0-9a-f]{16}$")
        self.assertEqual(claims["herald"], {"subscribe": ["demo", "user:{sub}", "orders:*"],
                                            "publish": ["demo"]})
        again = pyjwt_verify(mint(self, "--key", self.private, "--sub", "alice"),
                             self.public, "EdDSA")
        self.assertNotEqual(again["jti"], claims["jti"])
        self.assertEqual(again["exp"] - again["iat"], 3600)     # --ttl defaults to 1 h
        self.assertEqual(again["herald"], {"subscribe": [], "publish": []})
        self.assertNotIn("iss", again)

    def test_another_key_does_not_verify_it(self):
        token = mint(self, "--key", self.private, "--sub", "alice")
        other = read_json(os.path.join(self.dir, "ed2.jwks"))["keys"][0]
        with self.assertRaises(jwt.InvalidSignatureError):
            pyjwt_verify(token, other, "EdDSA")

    def test_admin_aud_jti_and_hs256(self):
        token = mint(self, "--key", self.hs, "--sub", "ops", "--admin", "--aud", "staging",
                     "--jti", "ops-1", "--ttl", "90")
        self.assertEqual(jwt.get_unverified_header(token)["alg"], "HS256")
        claims = pyjwt_verify(token, read_json(self.hs)["keys"][0], "HS256",
                              audience="staging")
        self.assertEqual((claims["sub"], claims["jti"], claims["exp"] - claims["iat"]),
                         ("ops", "ops-1", 90))
        self.assertEqual(claims["herald"], {"subscribe": [], "publish": [], "admin": True})

    def test_the_signing_key_is_picked_from_a_jwks(self):
        both = os.path.join(self.dir, "both.jwks")
        with open(both, "w") as f:
            json.dump({"keys": [read_json(os.path.join(self.dir, n))
                                for n in ("ed.private.jwk", "ed2.private.jwk")]}, f)
        r = herald("token", "--key", both, "--sub", "a")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--kid", r.stderr)
        self.assertEqual(r.stdout, "")
        token = mint(self, "--key", both, "--kid", "e2", "--sub", "a")
        self.assertEqual(jwt.get_unverified_header(token)["kid"], "e2")
        # a public key set verifies; it cannot sign
        for args in ((), ("--kid", "e1")):
            r = herald("token", "--key", os.path.join(self.dir, "ed.jwks"), "--sub", "a", *args)
            self.assertEqual(r.returncode, 1)
            self.assertIn("public", r.stderr)
            self.assertEqual(r.stdout, "")

    def test_an_invalid_grant_is_refused_and_nothing_is_printed(self):
        for option, grants in (("--subscribe", "seller:1*"), ("--publish", "demo,a**"),
                               ("--subscribe", "demo,"), ("--publish", "*x"),
                               ("--subscribe", ",".join("c%d" % i for i in range(65)))):
            r = herald("token", "--key", self.private, "--sub", "s", option, grants)
            self.assertEqual(r.returncode, 2, (grants, r.stderr))
            self.assertIn("invalid", r.stderr)
            self.assertEqual(r.stdout, "")

    def test_missing_or_unusable_arguments_are_refused(self):
        for args in (("--sub", "a"), ("--key", self.private),
                     ("--key", os.path.join(self.dir, "nope.jwk"), "--sub", "a"),
                     ("--key", self.private, "--sub", "a", "--kid", "zz"),
                     ("--key", self.private, "--sub", "x" * 300)):
            r = herald("token", *args)
            self.assertIn(r.returncode, (1, 2), (args, r.stderr))
            self.assertTrue(r.stderr.startswith("herald: "), r.stderr)
            self.assertEqual(r.stdout, "")


class Banner(unittest.TestCase):
    """herald run's banner says how to get a development token."""

    def banner(self, herald_run):
        h.wait_until(lambda: any("Ctrl-C" in l for l in herald_run.stdout_lines), 10,
                     "the banner")
        return "\n".join(herald_run.stdout_lines)

    def test_open_it_shows_keygen_run_and_token(self):
        text = self.banner(h.start(self, "run"))
        self.assertIn("Tokens are off", text)
        for command in ("keygen --out dev", "run --token-keys dev.jwks",
                        "token --key dev.private.jwk --sub me --subscribe demo"):
            self.assertIn(h.herald_binary() + " " + command, text)

    def test_with_keys_it_shows_token(self):
        directory = tmpdir(self)
        keygen(self, directory, "dev")
        text = self.banner(t.start_gateway(self, os.path.join(directory, "dev.jwks")))
        self.assertIn("Tokens are required", text)
        self.assertIn(h.herald_binary() + " token --key PRIVATE.jwk --sub me", text)
        self.assertNotIn("Tokens are off", text)


def node():
    path = shutil.which("node")
    assert path, "node is required (scripts/install-deps.sh test installs nodejs)"
    return path


def mint_node(test, key_path, claims):
    r = subprocess.run([node(), os.path.join(HERE, "mint_node.js"), key_path,
                        json.dumps(claims)], capture_output=True, text=True, timeout=30)
    test.assertEqual(r.returncode, 0, r.stderr)
    return r.stdout.strip()


class EndToEnd(unittest.TestCase):
    """herald run --token-keys FILE from keygen, and tokens from three minters."""

    def setUp(self):
        self.dir = tmpdir(self)
        keygen(self, self.dir, "dev", "--kid", "dev1")
        self.private = os.path.join(self.dir, "dev.private.jwk")
        self.jwks = os.path.join(self.dir, "dev.jwks")

    def assert_receives(self, herald_run, token, channel):
        c = t.sse(self, herald_run.http, [channel], token=token)
        self.assertEqual(c.status, 200, c.body)
        c.wait_subscribed()
        h.pusher(self, herald_run.pull).send({"ch": channel, "data": {"n": 1}})
        self.assertEqual(c.wait_events(1)[0].json["data"], {"n": 1})

    def claims(self, sub):
        now = int(time.time())
        return {"sub": sub, "aud": "herald", "iat": now, "exp": now + 300,
                "herald": {"subscribe": ["demo:{sub}"]}}

    def test_eddsa_tokens_from_herald_pyjwt_and_node_are_accepted(self):
        g = t.start_gateway(self, self.jwks)
        self.assert_receives(g, mint(self, "--key", self.private, "--sub", "cli",
                                     "--subscribe", "demo:{sub}"), "demo:cli")
        private = jwt.PyJWK(read_json(self.private)).key
        pyjwt_token = jwt.encode(self.claims("py"), private, algorithm="EdDSA",
                                 headers={"kid": "dev1"})
        self.assert_receives(g, pyjwt_token, "demo:py")
        self.assert_receives(g, mint_node(self, self.private, self.claims("node")), "demo:node")
        # a token for another channel: 403; the same kid, another key: 401 token_invalid
        c = t.sse(self, g.http, ["demo:other"], token=mint_node(self, self.private,
                                                                 self.claims("node")))
        t.assert_error(self, c, 403, "forbidden")
        os.mkdir(os.path.join(self.dir, "x"))
        keygen(self, os.path.join(self.dir, "x"), "dev", "--kid", "dev1")
        forged = mint(self, "--key", os.path.join(self.dir, "x", "dev.private.jwk"),
                      "--sub", "cli", "--subscribe", "demo:{sub}")
        c = t.sse(self, g.http, ["demo:cli"], token=forged)
        t.assert_error(self, c, 401, "token_invalid", token=forged)

    def test_hs256_tokens_from_herald_and_node_are_accepted(self):
        keygen(self, self.dir, "shared", "--alg", "HS256")
        path = os.path.join(self.dir, "shared.jwks")
        g = t.start_gateway(self, path)
        self.assert_receives(g, mint(self, "--key", path, "--sub", "cli",
                                     "--subscribe", "demo:*"), "demo:cli")
        self.assert_receives(g, mint_node(self, path, self.claims("node")), "demo:node")



def doc_snippets():
    """The code blocks of docs/security.md §8 (minting tokens), in order."""
    with open(os.path.join(HERE, "..", "..", "docs", "security.md")) as f:
        text = f.read()
    section = text[text.index("## 8. Minting tokens"):text.index("## 9. Key rotation")]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


class DocSnippets(unittest.TestCase):
    """The minting code docs/security.md shows mints tokens Herald accepts
    (with a private.jwk from herald keygen); Go only where go is installed.
    Its worked example token verifies with its example public key and
    decodes to the header and claims it shows."""

    def test_the_worked_example_verifies_and_decodes_as_shown(self):
        with open(os.path.join(HERE, "..", "..", "docs", "security.md")) as f:
            text = f.read()
        jwk = json.loads(re.search(r'(\{"kty": "OKP", "crv": "Ed25519", "x": "[^"]+",\s*'
                                   r'"kid": "2026-12", "alg": "EdDSA"\})', text).group(1))
        example = text[text.index("### 4.1") - 3000:text.index("### 4.1")]
        token = re.search(r"\n(eyJ[A-Za-z0-9_.-]+)\n", example).group(1)
        claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"], audience="herald",
                            options={"verify_exp": False})
        blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", example, re.S)]
        self.assertEqual(blocks[-2], jwt.get_unverified_header(token))
        self.assertEqual(blocks[-1], claims)

    def test_the_documented_minting_code_works(self):
        directory = tmpdir(self)
        keygen(self, directory, "dev", "--kid", "2026-12")
        os.rename(os.path.join(directory, "dev.private.jwk"),
                  os.path.join(directory, "private.jwk"))
        g = t.start_gateway(self, os.path.join(directory, "dev.jwks"))
        snippets = doc_snippets()
        self.assertEqual([lang for lang, _ in snippets], ["js", "js", "go", "python"])
        runs = [("mint.mjs", snippets[1][1], [node(), "mint.mjs"]),
                ("mint.py", snippets[3][1], ["/usr/bin/python3", "mint.py"])]
        if shutil.which("go"):
            runs.append(("main.go", snippets[2][1], [shutil.which("go"), "run", "main.go"]))
        for name, code, argv in runs:
            with self.subTest(snippet=name):
                with open(os.path.join(directory, name), "w") as f:
                    f.write(code)
                env = dict(os.environ, GOCACHE=os.path.join(directory, ".gocache"),
                           GOPATH=os.path.join(directory, ".gopath"), GO111MODULE="off")
                r = subprocess.run(argv, cwd=directory, capture_output=True, text=True,
                                   timeout=120, env=env)
                self.assertEqual(r.returncode, 0, r.stderr)
                c = t.sse(self, g.http, ["seller:123"], token=r.stdout.strip())
                self.assertEqual(c.status, 200, c.body)
                c.wait_subscribed()


if __name__ == "__main__":
    unittest.main()
