"""Token helpers for the security tests (docs/security.md): keys, JWKS
files, tokens minted by independent code (PyJWT with python3-cryptography)
and tokens built by hand for the malformed cases, plus a gateway started
with those keys and the checks every refusal shares.

Run with /usr/bin/python3 (Debian's python3-jwt and python3-cryptography).
"""
import atexit
import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import harness as h

AUDIENCE = "herald"


def b64url(data):
    """Base64url without padding (RFC 7515 §2), as a str."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- keys

class EdKey:
    """An Ed25519 key pair; kid names it in the JWKS and in tokens."""
    alg = "EdDSA"

    def __init__(self, kid="k1"):
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()
        self.public_bytes = self.private.public_key().public_bytes(Encoding.Raw,
                                                                   PublicFormat.Raw)

    def jwk(self, with_kid=True, alg="EdDSA"):
        out = {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public_bytes)}
        if alg:
            out["alg"] = alg
        if with_kid:
            out["kid"] = self.kid
        return out

    def pyjwt_key(self):
        return self.private

    def sign(self, data):
        return self.private.sign(data)


class HSKey:
    """An HS256 shared secret (32 random bytes unless given)."""
    alg = "HS256"

    def __init__(self, kid="h1", secret=None):
        self.kid = kid
        self.secret = secret if secret is not None else os.urandom(32)

    def jwk(self, with_kid=True, alg="HS256"):
        out = {"kty": "oct", "k": b64url(self.secret)}
        if alg:
            out["alg"] = alg
        if with_kid:
            out["kid"] = self.kid
        return out

    def pyjwt_key(self):
        return self.secret

    def sign(self, data):
        return hmac.new(self.secret, data, hashlib.sha256).digest()


_DIRS = {"dir": None, "count": 0}


def jwks_file(keys, without_kid=()):
    """Writes {"keys": [...]} to a new file in a private directory (removed
    at exit) and returns its path. Keys in without_kid get no kid."""
    if _DIRS["dir"] is None:
        _DIRS["dir"] = tempfile.mkdtemp(prefix="herald-keys-")
        atexit.register(shutil.rmtree, _DIRS["dir"], True)
    _DIRS["count"] += 1
    path = os.path.join(_DIRS["dir"], "jwks-%d.json" % _DIRS["count"])
    rewrite_jwks(path, keys, without_kid)
    return path


def rewrite_jwks(path, keys, without_kid=(), text=None):
    """Replaces the file at path atomically (rename) with keys' JWKS, or
    with text as given (to write a bad file)."""
    if text is None:
        text = json.dumps({"keys": [k.jwk(with_kid=k not in without_kid) for k in keys]})
    with open(path + ".new", "w") as f:
        f.write(text)
    os.replace(path + ".new", path)


# ---------------------------------------------------------------- tokens

def claims(sub="user-1", subscribe=None, publish=None, ttl=300, aud=AUDIENCE, iss=None,
           admin=None, now=None, **extra):
    """A claims set: sub, aud, iat, exp (now + ttl), iss when given, and the
    "herald" grants when any is given. extra overrides or adds claims."""
    now = int(time.time()) if now is None else now
    out = {"sub": sub, "aud": aud, "iat": now, "exp": now + ttl}
    if iss is not None:
        out["iss"] = iss
    grants = {}
    if subscribe is not None:
        grants["subscribe"] = list(subscribe)
    if publish is not None:
        grants["publish"] = list(publish)
    if admin is not None:
        grants["admin"] = admin
    if grants:
        out["herald"] = grants
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}   # None: leave the claim out


def mint(key, claim_set, kid=True, headers=None):
    """A token signed by PyJWT (independent code) with key's algorithm;
    kid: True for the key's own, a string for another, False for none."""
    hdrs = dict(headers or {})
    if kid is True:
        hdrs["kid"] = key.kid
    elif kid:
        hdrs["kid"] = kid
    token = jwt.encode(claim_set, key.pyjwt_key(), algorithm=key.alg, headers=hdrs or None)
    return token if isinstance(token, str) else token.decode()


def _part(value):
    if isinstance(value, dict):
        value = json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        value = value.encode()
    return value


def build(header, payload, key=None, header_b64=None, payload_b64=None, signature=None):
    """A compact JWS built by hand. header and payload: a dict (serialised
    compactly) or the exact JSON text (str or bytes). header_b64 and
    payload_b64 replace the encoded parts as given (to test the decoder);
    the signature is key's over the parts exactly as sent, so only the
    defect under test is wrong. signature: bytes to use instead, or b""."""
    h64 = header_b64 if header_b64 is not None else b64url(_part(header))
    p64 = payload_b64 if payload_b64 is not None else b64url(_part(payload))
    signing_input = ("%s.%s" % (h64, p64)).encode()
    if signature is None:
        signature = key.sign(signing_input)
    return "%s.%s.%s" % (h64, p64, b64url(signature))


def header_for(key, **extra):
    out = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------- gateways

def start_gateway(test, keys_path, *args):
    """`herald run` with --token-keys keys_path, stopped (sanitizer checked)
    at test cleanup."""
    return h.start(test, "run", "--token-keys", keys_path, *args)


def start_class_gateway(cls, keys_path, *args):
    """The same for a whole TestCase class (setUpClass)."""
    g = h.Herald("run", ["--token-keys", keys_path] + list(args))
    cls.addClassCleanup(g.kill)
    cls.addClassCleanup(g.stop)
    return g


def bearer(token):
    return {"Authorization": "Bearer " + token}


def cookie(token, name="herald_token"):
    return {"Cookie": "%s=%s" % (name, token)}


def with_query(path, **params):
    sep = "&" if "?" in path else "?"
    return path + sep + urllib.parse.urlencode(params)


def history(base, channel, token=None, headers=None, query_token=None):
    hdrs = dict(headers or {})
    if token is not None:
        hdrs.update(bearer(token))
    url = base + "/v1/history?" + urllib.parse.urlencode({"channel": channel})
    if query_token is not None:
        url += "&" + urllib.parse.urlencode({"token": query_token})
    return h.http("GET", url, headers=hdrs)


def publish(base, event, token=None, headers=None):
    hdrs = {"Content-Type": "application/json"}
    if token is not None:
        hdrs.update(bearer(token))
    hdrs.update(headers or {})
    return h.http("POST", base + "/v1/publish", event, headers=hdrs)


def sse(test, base, channels, token=None, via="header", headers=None):
    """An SSE request carrying token in the Authorization header
    (via="header"), the herald_token cookie ("cookie") or ?token= ("query");
    closed at cleanup. Check .status before waiting for events."""
    hdrs = dict(headers or {})
    query = None
    if token is not None:
        if via == "header":
            hdrs.update(bearer(token))
        elif via == "cookie":
            hdrs.update(cookie(token))
        elif via == "query":
            query = {"token": token}
        else:
            raise ValueError(via)
    return h.sse(test, base, channels, query=query, headers=hdrs)


def raw_get(base, path, headers=None, timeout=10.0):
    """One GET over a raw socket, for requests too large to be answered in
    full: returns (status or None when the server reset the connection while
    the request was still being sent, the raw answer)."""
    u = urllib.parse.urlsplit(base)
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % u.netloc, "Connection: close"]
    lines += ["%s: %s" % kv for kv in (headers or {}).items()]
    out = b""
    try:
        with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            while b"\r\n\r\n" not in out:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    if not out.startswith(b"HTTP/1."):
        return None, out
    return int(out.split(b" ", 2)[1]), out


def error_of(response):
    """(status, headers with lower-case names, parsed JSON body) of an
    h.Response, an h.SSEClient or a wsclient.Answer."""
    headers = response.headers
    if not isinstance(headers, dict):
        headers = {k.lower(): v for k, v in headers.items()}
    try:
        body = json.loads(response.body.decode("utf-8"))
    except ValueError:
        body = {"<not JSON>": response.body[:300]}
    if not isinstance(body, dict):
        body = {"<not an object>": body}
    return response.status, headers, body


def assert_error(test, response, status, code, token=None):
    """The decision's status, JSON body {"error": code, "message": text}
    (the message never quotes the token) and, on 401, WWW-Authenticate:
    Bearer."""
    got_status, headers, body = error_of(response)
    test.assertEqual((got_status, body.get("error")), (status, code),
                     "expected %d %s, got %d %r" % (status, code, got_status, body))
    test.assertIn("application/json", headers.get("content-type", ""))
    test.assertIsInstance(body.get("message"), str, body)
    test.assertTrue(body["message"], body)
    if token and len(token.split(".")[-1]) >= 16:
        test.assertNotIn(token.split(".")[-1], body["message"])
    if status == 401:
        test.assertTrue(headers.get("www-authenticate", "").startswith("Bearer"),
                        "401 without WWW-Authenticate: Bearer: %r" % headers)
    return body
