"""WebSocket clients for Herald's integration tests (GET /v1/ws, herald.v1).

WS: python3-websockets 10.4 (asyncio only) on one private event-loop
thread behind a blocking API, so tests read like the SSE ones: an
independent implementation of RFC 6455 checks the server's framing.
RawWS: a raw-socket client that can send any frame (unmasked, RSV bits,
any opcode, any length, fragmented control frames) and parses the server's
frames itself, with a reader that can be stopped (slow consumer).
handshake(): one upgrade request, any headers, the raw HTTP answer.

Both record every server message in arrival order, batches flattened, with
its arrival time; wait for conditions with deadlines, never sleep.
"""
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import threading
import time
import urllib.parse

import msgpack
import websockets

JSON, MSGPACK = "herald.v1.json", "herald.v1.msgpack"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0


def accept_key(key):
    """RFC 6455 §4.2.2: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def ws_url(base):
    return "ws" + base[len("http"):] + "/v1/ws"


def host_of(base):
    return urllib.parse.urlsplit(base).netloc


def decode(payload):
    """A server frame's message(s): text is JSON, binary is MessagePack."""
    if isinstance(payload, str):
        return json.loads(payload)
    return msgpack.unpackb(payload, raw=False, strict_map_key=False)


def msgpack_field(frame, name):
    """The exact bytes of field `name` of the MessagePack map in `frame`
    (None when absent): how the server encoded it, not just its value."""
    u = msgpack.Unpacker(raw=False, strict_map_key=False)
    u.feed(frame)
    for _ in range(u.read_map_header()):
        key = u.unpack()
        start = u.tell()
        u.skip()
        if key == name:
            return frame[start:u.tell()]
    return None


class _Recorder:
    """Message log shared by both clients. Subclasses set self.binary and
    call _record(payload, time) for each message and _ended() at the end."""

    def _init_recorder(self):
        self.cond = threading.Condition()
        self.messages, self.times, self.frames = [], [], []
        self.ended, self.close_code, self.close_reason, self.error = False, None, None, None
        self._next_id = 0

    def _record(self, payload, moment):
        try:
            value = decode(payload)
        except Exception as e:              # a server bug, reported by the test
            value = {"t": "<undecodable>", "error": repr(e), "payload": payload[:200]}
        with self.cond:
            self.frames.append((payload, len(self.messages)))
            for msg in value if isinstance(value, list) else [value]:
                self.messages.append(msg)
                self.times.append(moment)
            self.cond.notify_all()

    def _ended(self, code, reason):
        with self.cond:
            self.ended, self.close_code, self.close_reason = True, code, reason
            self.cond.notify_all()

    def new_id(self):
        self._next_id += 1
        return self._next_id

    def wait_for(self, predicate, timeout=5.0, message="WebSocket condition"):
        """Waits until predicate(self) is true (returned); fails at the
        deadline or when the connection ended without it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    raise AssertionError("%s waiting for %s; close=%s %r; last messages=%s" % (
                        "connection ended" if self.ended else "timed out after %.1fs" % timeout,
                        message, self.close_code, self.close_reason, self.messages[-6:]))
                self.cond.wait(left)

    def wait_end(self, timeout=5.0):
        """Waits for the connection to end; returns the close code."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("connection still open after %.1fs; last messages=%s"
                                         % (timeout, self.messages[-6:]))
                self.cond.wait(left)
            return self.close_code

    def find(self, predicate, start=0):
        """Index of the first message from `start` matching predicate, or None."""
        with self.cond:
            for i in range(start, len(self.messages)):
                if predicate(self.messages[i]):
                    return i
        return None

    def wait_message(self, predicate, timeout=5.0, start=0, message="a message"):
        """Waits for a message matching predicate at index >= start; returns it."""
        found = []

        def seen(c):
            i = c.find(predicate, start)
            if i is not None:
                found.append(i)
            return i is not None
        self.wait_for(seen, timeout, message)
        return self.messages[found[-1]]

    def index_of(self, msg):
        with self.cond:
            return next(i for i, m in enumerate(self.messages) if m is msg)

    def reply(self, rid, timeout=5.0, start=0):
        """The first reply (ok, err or pong) carrying id `rid` from index start."""
        return self.wait_message(lambda m: m.get("t") in ("ok", "err", "pong")
                                 and m.get("id") == rid, timeout, start,
                                 message="reply to id %d" % rid)

    def of_type(self, t, ch=None):
        with self.cond:
            return [m for m in self.messages
                    if m.get("t") == t and (ch is None or m.get("ch") == ch)]

    def events(self, ch=None):
        return self.of_type("ev", ch)

    def wait_events(self, ch, n, timeout=10.0):
        """Waits for n ev of channel ch; returns the first n."""
        self.wait_for(lambda c: len(c.events(ch)) >= n, timeout, "%d events of %s" % (n, ch))
        return self.events(ch)[:n]

    def welcome(self, timeout=5.0):
        return self.wait_message(lambda m: m.get("t") == "welcome", timeout, message="welcome")

    def encode(self, obj):
        if self.binary:
            return msgpack.packb(obj, use_bin_type=True)
        return json.dumps(obj, separators=(",", ":"))

    def request(self, obj, timeout=5.0):
        """Sends a message (an id is added when missing) and returns its reply."""
        if "id" not in obj:
            obj = dict(obj, id=self.new_id())
        with self.cond:
            start = len(self.messages)
        self.send(obj)
        return self.reply(obj["id"], timeout, start)

    def subscribe(self, ch, timeout=10.0, **resume):
        """sub (resume: e=, s=); returns the ok, failing on anything else."""
        rid = self.new_id()
        reply = self.request(dict({"t": "sub", "id": rid, "ch": ch}, **resume), timeout)
        if reply.get("t") != "ok":
            raise AssertionError("sub %s: %r" % (ch, reply))
        return reply

    def frames_of(self, t):
        """The raw payloads of the frames holding one message of type t."""
        with self.cond:
            return [p for p, i in self.frames
                    if i < len(self.messages) and isinstance(self.messages[i], dict) and self.messages[i].get("t") == t
                    and not isinstance(decode(p), list)]

    def bye(self):
        byes = self.of_type("bye")
        return byes[0] if byes else None


# ---------------------------------------------------------------- websockets

_LOOP = {"loop": None, "lock": threading.Lock()}


def _loop():
    with _LOOP["lock"]:
        if _LOOP["loop"] is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
            _LOOP["loop"] = loop
        return _LOOP["loop"]


def _run(coro, timeout=10.0):
    return asyncio.run_coroutine_threadsafe(coro, _loop()).result(timeout)


class WS(_Recorder):
    """A python3-websockets client. protocols: list of subprotocols offered
    (None: none). Attributes: subprotocol, binary, messages, times, frames
    [(payload, index of its first message)], ended, close_code."""

    def __init__(self, base, protocols=None, origin=None, headers=None, timeout=10.0):
        self._init_recorder()
        self.ws = _run(self._open(ws_url(base), protocols, origin, headers, timeout),
                       timeout + 5)
        self.subprotocol = self.ws.subprotocol
        self.binary = self.subprotocol == MSGPACK

    async def _open(self, url, protocols, origin, headers, timeout):
        ws = await websockets.connect(url, subprotocols=protocols, origin=origin,
                                      extra_headers=headers, open_timeout=timeout,
                                      ping_interval=None, close_timeout=3,
                                      max_size=None, max_queue=None, compression=None)
        self._reader = asyncio.ensure_future(self._read(ws))
        return ws

    async def _read(self, ws):
        try:
            async for payload in ws:
                self._record(payload, time.monotonic())
        except websockets.ConnectionClosed:
            pass
        except Exception as e:          # reported through self.error
            self.error = e
        self._ended(ws.close_code, ws.close_reason)

    def send(self, obj):
        self.send_raw(self.encode(obj))

    def send_raw(self, payload):
        """One text (str) or binary (bytes) frame, or fragments (list)."""
        _run(self.ws.send(payload))

    def ping_frame(self, data=b"herald", timeout=5.0):
        """A protocol-level ping; returns once its pong came back."""
        async def ping():
            waiter = await self.ws.ping(data)
            await asyncio.wait_for(waiter, timeout)
        _run(ping(), timeout + 2)

    def close(self, code=1000):
        if not self.ws.closed:
            try:
                _run(self.ws.close(code), 10)
            except Exception:
                pass
        self.abort()

    def abort(self):
        """Drops the TCP connection without a close handshake."""
        transport = self.ws.transport
        if transport is not None:
            _loop().call_soon_threadsafe(transport.abort)


def connect(test, base, protocols=None, **kw):
    """A WS closed at test cleanup."""
    c = WS(base, protocols, **kw)
    test.addCleanup(c.close)
    return c


def welcomed(test, base, protocols=None, **kw):
    """A WS whose welcome arrived."""
    c = connect(test, base, protocols, **kw)
    c.welcome()
    return c


# ---------------------------------------------------------------- raw socket

class Answer:
    """A handshake's HTTP answer: status, headers (lower-case names), body."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return "<Answer %d %r %r>" % (self.status, self.headers, self.body[:300])


def _request_lines(base, path, method, key, version, protocols, origin, headers, upgrade):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host_of(base)]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade"]
    if key is not None:
        lines.append("Sec-WebSocket-Key: %s" % key)
    if version is not None:
        lines.append("Sec-WebSocket-Version: %s" % version)
    if protocols is not None:
        lines.append("Sec-WebSocket-Protocol: %s" % ", ".join(protocols))
    if origin is not None:
        lines.append("Origin: %s" % origin)
    lines += ["%s: %s" % kv for kv in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class RawWS(_Recorder):
    """A WebSocket over a raw socket. After a 101 a thread reads and parses
    frames (answering pings unless auto_pong is False); any other answer is
    read whole (status, headers, body) and the socket closed.
    rcvbuf: SO_RCVBUF set before connecting (a small one makes the server's
    writes back up); read=False: nothing is read after the HTTP head until
    resume(). Attributes besides _Recorder's: status,
    headers, body, key, control [(opcode, payload, time)], server_masked."""

    def __init__(self, base, protocols=None, origin=None, headers=None, key="generate",
                 version="13", path="/v1/ws", method="GET", upgrade=True, rcvbuf=None,
                 auto_pong=True, read=True, timeout=10.0):
        self._init_recorder()
        self.key = new_key() if key == "generate" else key
        self.auto_pong, self.control, self.server_masked = auto_pong, [], False
        self.gate = threading.Event()
        self.gate.set()
        self._send_lock = threading.Lock()
        u = urllib.parse.urlsplit(base)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self._buf = bytearray()
        try:
            self.sock.connect((u.hostname, u.port))
            self.sock.sendall(_request_lines(base, path, method, self.key, version, protocols,
                                             origin, headers, upgrade))
            self._read_head()
        except BaseException:
            self.sock.close()       # refused or cut: else a ResourceWarning per retry
            raise
        self.subprotocol = self.headers.get("sec-websocket-protocol")
        self.binary = self.subprotocol == MSGPACK
        self.body = b""
        if self.status != 101:
            self._read_body()
            self.sock.close()
            self.ended = True
            return
        self.sock.settimeout(None)
        self._thread = threading.Thread(target=self._run, daemon=True)
        if read:
            self._thread.start()

    @property
    def answer(self):
        return Answer(self.status, self.headers, self.body)

    def _fill(self):
        self.gate.wait()
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self._buf += chunk

    def _read_head(self):
        while b"\r\n\r\n" not in self._buf:
            chunk = self.sock.recv(1)      # the head only: frames stay in the socket
            if not chunk:
                raise EOFError
            self._buf += chunk
        head, _, rest = bytes(self._buf).partition(b"\r\n\r\n")
        self._buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            self.headers[k] = (self.headers[k] + ", " + v.strip()) if k in self.headers \
                else v.strip()

    def _read_body(self):
        try:
            if "content-length" in self.headers:
                n = int(self.headers["content-length"])
                while len(self._buf) < n:
                    self._fill()
                self.body = bytes(self._buf[:n])
                return
            while True:
                self._fill()
        except (EOFError, OSError):
            self.body = bytes(self._buf)

    def _take(self, n):
        while len(self._buf) < n:
            self._fill()
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _run(self):
        code = reason = None
        parts, first = [], None
        try:
            while True:
                b0, b1 = self._take(2)
                fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._take(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._take(8))[0]
                if b1 & 0x80:               # RFC 6455 §5.1: servers never mask
                    self.server_masked = True
                    mask = self._take(4)
                    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._take(n)))
                else:
                    payload = self._take(n)
                now = time.monotonic()
                if opcode >= 8:
                    with self.cond:
                        self.control.append((opcode, payload, now))
                        self.cond.notify_all()
                    if opcode == CLOSE:
                        code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                        reason = payload[2:].decode("utf-8", "replace")
                        self.send_frame(CLOSE, payload[:2], quiet=True)
                    elif opcode == PING and self.auto_pong:
                        self.send_frame(PONG, payload, quiet=True)
                    continue
                if opcode != CONT:
                    first = opcode
                parts.append(payload)
                if fin:
                    data = b"".join(parts)
                    parts = []
                    self._record(data.decode("utf-8") if first == TEXT else data, now)
        except (EOFError, OSError, ValueError):
            pass
        self._ended(code, reason)

    # ---- sending

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, masked=True, quiet=False):
        """One frame exactly as asked (RFC 6455 §5.2)."""
        if isinstance(payload, str):
            payload = payload.encode()
        head = bytearray([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0x0F)])
        n = len(payload)
        bit = 0x80 if masked else 0
        if n < 126:
            head.append(bit | n)
        elif n < 65536:
            head += bytes([bit | 126]) + struct.pack(">H", n)
        else:
            head += bytes([bit | 127]) + struct.pack(">Q", n)
        if masked:
            mask = os.urandom(4)
            head += mask
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            with self._send_lock:
                self.sock.sendall(bytes(head) + payload)
        except OSError:
            if not quiet:
                raise

    def send(self, obj):
        payload = self.encode(obj)
        self.send_frame(BINARY if self.binary else TEXT, payload)

    def send_raw(self, payload):
        self.send_frame(TEXT if isinstance(payload, str) else BINARY, payload)

    def stall(self):
        """Stops reading after the read under way: the socket's buffers fill
        and the server's writes back up."""
        self.gate.clear()

    def resume(self):
        self.gate.set()
        if self.status == 101 and self._thread.ident is None:
            self._thread.start()

    def close(self, abrupt=False):
        """Sends a close frame (unless abrupt) and drops the socket."""
        self.gate.set()
        if not abrupt and not self.ended:
            self.send_frame(CLOSE, struct.pack(">H", 1000), quiet=True)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.status == 101 and self._thread.ident is not None:
            self._thread.join(5)


def raw(test, base, **kw):
    """A RawWS closed at test cleanup."""
    c = RawWS(base, **kw)
    test.addCleanup(c.close)
    return c


def handshake(base, **kw):
    """One upgrade request (RawWS's arguments); returns its Answer, with
    the connection closed."""
    c = RawWS(base, **kw)
    if c.status == 101:
        c.close()
    return c.answer
