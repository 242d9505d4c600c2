// herald.js: the Herald client for browsers and Node 20+ (an ES module, no
// dependencies). One API over Server-Sent Events (read with fetch streaming,
// so it can send Authorization and see why a request was refused),
// WebSocket (herald.v1.json) and polling GET /v1/history. Every reconnect
// resumes each channel exactly where it stopped; events arrive in order per
// channel, never twice; reconnects wait a full-jitter exponential backoff.
// The wire protocol is docs/protocol.md (§5 SSE, §6 cursors, §7 resume,
// §8 HTTP, §11 WebSocket).

/**
 * @typedef {{channel: string, seq: number, epoch: string, type?: string, data: any,
 *            id?: string, ts: number}} HeraldEvent
 */
/** @typedef {{channel: string, reason: string, epoch: string|null, seq: number}} HeraldReset */
/** @typedef {"connecting"|"open"|"reconnecting"|"polling"|"closed"} HeraldStatus */

const DEFAULTS = {
  transport: "sse",     // "sse" | "ws"
  fallback: true,       // ws -> sse -> polling when a proxy blocks streaming
  typed: false,         // sse: ask for `event: <type>` lines (typed=1)
  backoff: { base: 500, cap: 30000 },
  openTimeout: 5000,    // sse: no byte of the stream within this: blocked
  idleTimeout: 45000,   // sse: no byte (heartbeats included) within this: dead
  pollInterval: 2000,   // polling: wait between history requests
  pollLimit: 100,       // polling: events per history request (at most 1000)
  streamRetry: 60000,   // polling: try an SSE stream this often, back to it if it opens (0: never)
  wsAttempts: 2,        // ws: failed opens in a row before trying sse
  sseAttempts: 2,       // sse: blocked streams in a row before polling
  credentials: "same-origin",
};
const LONG_CONNECTION = 60000; // a connection this old resets the backoff (§11.11)

/**
 * Full-jitter exponential backoff: a random delay in [0, min(cap, base × 2^attempt)).
 * @param {number} attempt reconnects since the last connection that lasted (0, 1, …)
 * @param {{base?: number, cap?: number}} [options] milliseconds
 * @param {() => number} [random] Math.random, or a stand-in for tests
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, { base = 500, cap = 30000 } = {}, random = Math.random) {
  return random() * Math.min(cap, base * 2 ** Math.min(attempt, 30));
}

/** The delay before a retry the server asked to wait for: at least retryAfter ms. */
function afterRetry(delay, retryAfter) {
  return retryAfter > 0 ? Math.max(delay, retryAfter) : delay;
}

/** An error from Herald: HTTP status (0 for WebSocket), code (§9, §11.8), retry hint. */
export class HeraldError extends Error {
  constructor(status, code, message, { retry = false, retryAfter } = {}) {
    super(message || code);
    this.name = "HeraldError";
    Object.assign(this, { status, code, retry, retryAfter });
  }
}

// ---- Cursors (§6): base64url of version, channel-set hash, positions, checksum

function fnv1a(bytes, hash = 0x811c9dc5) {
  for (const b of bytes) hash = Math.imul(hash ^ b, 0x01000193) >>> 0;
  return hash;
}

function varint(out, n) {
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80); }
  out.push(n);
}

/**
 * The SSE cursor of positions in channels: what Herald sends as `id:` for
 * the same positions, accepted as Last-Event-ID and as history's cursor.
 * A channel without a position is written as "did not exist" (epoch none, seq 0).
 * @param {string[]} channels
 * @param {Map<string, {epoch: string|null, seq: number}>} positions
 * @returns {string}
 */
export function encodeCursor(channels, positions) {
  const utf8 = new TextEncoder();
  const names = [...new Set(channels)].sort();
  const bytes = [1];
  const hash = fnv1a(utf8.encode(names.map((n) => n + "\n").join("")));
  for (let i = 0; i < 4; i++) bytes.push((hash >>> (8 * i)) & 0xff);
  varint(bytes, names.length);
  for (const name of names) {
    const at = positions.get(name);
    const epoch = at && at.epoch ? utf8.encode(at.epoch) : new Uint8Array(0);
    bytes.push(epoch.length, ...epoch);
    varint(bytes, at && at.epoch ? at.seq : 0);
  }
  const check = fnv1a(bytes);
  for (let i = 0; i < 4; i++) bytes.push((check >>> (8 * i)) & 0xff);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** True when epoch a is older than b (§1.1: the first 16 of 32 hex digits order them). */
function olderEpoch(a, b) {
  const gen = (e) => (/^[0-9a-f]{32}$/.test(e) ? e.slice(0, 16) : "0".repeat(16));
  return gen(a) < gen(b);
}

/** The `exp` claim of a JWT (seconds), or undefined. */
function tokenExp(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part)).exp;
  } catch { return undefined; }
}

/** Calls a handler of the application; what it throws is reported, not ours. */
function call(fn, ...args) {
  if (!fn) return;
  try { fn(...args); } catch (error) { setTimeout(() => { throw error; }); }
}

// ---- Server-Sent Events, parsed from the text of a fetch stream

/** Turns stream text into messages {event, data, id}; data null for an id-only block. */
class SseParser {
  constructor() { this.buffer = ""; this.reset(); }
  reset() { this.event = ""; this.data = []; this.id = undefined; }
  /** @param {string} text  @returns {{event: string, data: string|null, id?: string}[]} */
  push(chunk) {
    let text = this.buffer + chunk, keep = "";
    if (text.endsWith("\r")) { keep = "\r"; text = text.slice(0, -1); }  // maybe half of \r\n
    const lines = text.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() + keep;
    const out = [];
    for (const line of lines) {
      if (line === "") {
        if (this.data.length || this.id !== undefined) {
          const data = this.data.length ? this.data.join("\n") : null;
          out.push({ event: this.event || "message", data, id: this.id });
        }
        this.reset();
        continue;
      }
      if (line[0] === ":") continue;                  // comment: a heartbeat
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
      else if (field === "id" && !value.includes("\0")) this.id = value;
    }
    return out;
  }
}

// ---- A subscription: a set of channels, its handlers and its positions

/** A subscription made by Herald.subscribe(); close() ends it. */
class Subscription {
  constructor(herald, channels, handlers) {
    this.channels = channels;
    this.status = "connecting";
    this._h = herald;
    this._handlers = handlers;
    this._positions = new Map();   // channel -> {epoch, seq}: last event or reset delivered
    this._lastId = null;           // the last SSE id: / history cursor, while it is current
    this._closed = false;
    this._abort = null;            // aborts the current fetch
    this._probe = this._taken = this._probing = null;  // polling: a trial SSE stream (_run)
    this._wake = null;             // ends the current wait
  }

  /** Stops the subscription: no handler is called after this. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._abort?.abort();
    this._probing?.abort();
    if (this._wake) this._wake();
    this._h._remove(this);
    this._setStatus("closed");
  }

  _setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    call(this._handlers.onStatus, status);
    this._h._emit("status", status, this);
  }

  _error(error) {
    call(this._handlers.onError, error);
    this._h._emit("error", error, this);
  }

  /** Delivers an event once and in order: drops what is at or before the position. */
  _event(ev) {
    if (this._closed || !this.channels.includes(ev.channel)) return;
    const at = this._positions.get(ev.channel);
    if (at && at.epoch === ev.epoch && ev.seq <= at.seq) return;      // seen
    if (at && at.epoch && olderEpoch(ev.epoch, at.epoch)) return;      // stale history
    this._positions.set(ev.channel, { epoch: ev.epoch, seq: ev.seq });
    call(this._handlers.onEvent, { channel: ev.channel, seq: ev.seq, epoch: ev.epoch, type: ev.type,
                                   data: ev.data, id: ev.id, ts: ev.ts });
  }

  /** A reset (§7): continuity is lost; the application refetches that channel's state. */
  _reset(r) {
    if (this._closed || !this.channels.includes(r.channel)) return;
    this._positions.set(r.channel, { epoch: r.epoch, seq: r.seq });
    call(this._handlers.onReset,
         { channel: r.channel, reason: r.reason, epoch: r.epoch, seq: r.seq });
  }

  /** The position to resume from, as a cursor; null before any. */
  _cursor() {
    if (this._lastId) return this._lastId;
    return this._positions.size ? encodeCursor(this.channels, this._positions) : null;
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(this._wake = () => { clearTimeout(timer); resolve(); }, ms);
    });
  }

  /** The reconnect loop over SSE or polling (WebSocket is the Herald's WsLink). */
  async _run() {
    const o = this._h._o;
    let attempt = 0, blocked = 0, probeAt = Date.now();
    while (!this._closed && this._h._mode !== "ws") {
      const taken = this._taken;
      this._taken = null;
      const poll = (this._polling = !taken && this._h._mode === "poll");
      if (poll && o.streamRetry > 0 && !this._probe && Date.now() - probeAt >= o.streamRetry) {
        probeAt = Date.now();                          // polling goes on meanwhile
        const p = (this._probe = this._stream(true).catch(() => ({}))
          .finally(() => { if (this._probe === p) this._probe = null; }));
      }
      const started = Date.now();
      let r;
      try { r = await (taken || (poll ? this._poll() : this._stream())); }
      catch (error) { r = { error }; }
      if (this._closed || this._h._mode === "ws") return;
      if (this._taken) continue;                       // the trial stream opened: stop polling
      if (r.fatal) { this._error(r.fatal); this.close(); return; }
      if (r.error) this._error(r.error);
      if (r.badCursor) {                               // start afresh: everything may be missed
        for (const channel of this.channels)
          this._reset({ channel, reason: "bad-cursor", epoch: null, seq: 0 });
        this._lastId = null;
        this._positions.clear();
      }
      if (r.unsupported || (r.blocked && ++blocked >= this._h._o.sseAttempts)) {
        if (o.fallback && !poll) { this._h._mode = "poll"; probeAt = Date.now(); continue; }
      }
      if (!r.blocked) blocked = 0;
      if (r.ok || (r.opened && Date.now() - started >= LONG_CONNECTION)) attempt = 0;
      let delay = r.wait ?? 0;
      if (!r.ok && !r.again) {
        this._setStatus("reconnecting");
        delay = afterRetry(backoffDelay(attempt++, o.backoff), r.retryAfter);
      }
      if (delay > 0) await this._sleep(delay);
    }
  }

  /**
   * One SSE connection, read to its end. A probe (while polling) is dropped unless its
   * first bytes come within openTimeout; then it replaces the polling (the loop awaits it).
   */
  async _stream(probe = false) {
    const h = this._h, o = h._o;
    const token = await h._token();
    const query = this.channels.map((c) => ["channel", c]);
    if (o.typed) query.push(["typed", "1"]);
    const headers = { Accept: "text/event-stream" };
    if (token) headers.Authorization = "Bearer " + token;
    const cursor = this._cursor();
    if (cursor) headers["Last-Event-ID"] = cursor;
    const abort = new AbortController();
    this[probe ? "_probing" : "_abort"] = abort;
    let opened = false, blocked = false, idle = null, outcome = null;
    const guard = setTimeout(() => { blocked = true; abort.abort(); }, o.openTimeout);
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(), o.idleTimeout);
    };
    try {
      const response = await h._fetch(h._url("v1/sse", query),
                                      { headers, signal: abort.signal, cache: "no-store" });
      if (!response.ok) return await refusal(response, h, token);
      if (!response.body || !response.body.getReader) {      // no fetch streaming here
        abort.abort();
        return { unsupported: true };
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!opened) {
          opened = true;
          clearTimeout(guard);
          if (probe) {                                 // positions dedupe what polling had
            if (this._closed || !this._polling) { abort.abort(); return {}; }
            [this._polling, this._taken, this._h._mode] = [false, this._probe, "sse"];
            this._abort?.abort();                      // the history request in flight
            this._abort = abort;
            this._wake?.();
          }
          this._setStatus("open");
        }
        alive();
        for (const message of parser.push(decoder.decode(value, { stream: true }))) {
          outcome = this._message(message, token, abort);
          if (outcome) { abort.abort(); return outcome; }
        }
      }
      return { opened };
    } catch (error) {
      if (blocked) return { blocked: true };
      return this._again ? { again: true, opened } : { opened };
    } finally {
      clearTimeout(guard);
      clearTimeout(idle);
      if (abort === this._abort) this._again = false;
    }
  }

  /** Handles one SSE message; returns an outcome that ends the stream, if any. */
  _message(m, token, abort) {
    if (m.data !== null) {
      const body = JSON.parse(m.data);
      switch (m.event) {
        case "herald-reset": this._reset(body); break;
        case "herald-token-expiring":                   // 30 s left: reconnect with a new one
          if (!this._h._getToken) break;                // (a cookie's owner renews it)
          this._h._token(token).then((fresh) => {
            if (fresh !== token && abort === this._abort) { this._again = true; abort.abort(); }
          }, (error) => this._error(error));
          break;
        case "herald-token-expired": this._h._token(token).catch(() => {}); return { again: true };
        case "herald-token-revoked":                    // as WebSocket's 4503: stop
          return { fatal: new HeraldError(401, "token_revoked", "the token was revoked") };
        default: if (!m.event.startsWith("herald-")) this._event(body);
      }
    }
    if (m.id !== undefined) this._lastId = m.id;
    return null;
  }

  /** One history request from the cursor (§8): resets, events, the next cursor. */
  async _poll() {
    const h = this._h, o = h._o;
    const token = await h._token();
    if (this._taken) return {};
    const query = this.channels.map((c) => ["channel", c]);
    query.push(["cursor", this._cursor() || "now"], ["limit", String(o.pollLimit)]);
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const abort = (this._abort = new AbortController());
    const timer = setTimeout(() => abort.abort(), o.idleTimeout);
    try {
      const response = await h._fetch(h._url("v1/history", query),
                                      { headers, signal: abort.signal, cache: "no-store" });
      if (!response.ok) return await refusal(response, h, token);
      const body = await response.json();
      if (this._taken) return {};                     // a trial stream took over
      for (const r of body.resets || []) this._reset(r);
      for (const ev of body.events || []) this._event(ev);
      if (body.cursor) this._lastId = body.cursor;
      this._setStatus("polling");
      return body.more ? { ok: true, again: true } : { ok: true, wait: o.pollInterval };
    } catch (error) {
      return {};
    } finally {
      clearTimeout(timer);
    }
  }
}

/** After an HTTP refusal: 401 retries with a new token (stops if it is the same), 4xx stop. */
async function refusal(response, h, token) {
  const body = await response.json().catch(() => ({}));
  const header = Number(response.headers.get("Retry-After"));
  const retryAfter = body.retry_after ?? (header > 0 ? header * 1000 : undefined);
  const status = response.status;
  const retry = status >= 500 || status === 429 || status === 401;
  const error = new HeraldError(status, body.error || "http_" + status, body.message,
                                { retry, retryAfter });
  if (status === 401 && h._getToken && body.error !== "token_revoked") {
    const fresh = await h._token(token).catch(() => undefined);
    return fresh === token ? { fatal: error } : { error };
  }
  if (status === 400 && body.error === "bad_cursor") return { error, badCursor: true };
  if (status >= 400 && status < 500 && status !== 429) return { fatal: error };
  return { error, retryAfter };
}

// ---- WebSocket: one socket per Herald carries every subscription (§11)

class WsLink {
  constructor(herald) {
    this.h = herald;
    this.at = new Map();       // channel -> {e, s}: last ev or reset received (§11.6)
    this.pending = new Map();  // request id -> callback(reply)
    this.nextId = 1;
    this.attempt = 0;          // reconnects since the last long connection
    this.failedOpens = 0;      // connections closed before welcome, in a row
    this.ready = this.stopped = false;
    this.authToken = null;     // the token sent in the last auth
    this.waiters = [];         // resolved when ready
    this.connect();
  }

  connect() {
    const h = this.h;
    this.welcomed = false;
    this.answered = new Set();   // channels whose sub this connection has answered
    this.bye = null;
    let ws;
    try {
      ws = this.ws = new h._WebSocket(h._url("v1/ws", [], true), "herald.v1.json");
    } catch (error) {                         // e.g. a page's Content-Security-Policy
      h._emit("error", error);
      this.ws = { close() {} };
      return setTimeout(() => this.closed(1006, String(error)));
    }
    ws.onmessage = (e) => {
      this.lastRx = Date.now();
      const frame = JSON.parse(e.data);
      for (const m of Array.isArray(frame) ? frame : [frame]) this.handle(m);
    };
    ws.onclose = (e) => this.closed(e.code, e.reason);
    ws.onerror = () => {};
  }

  /** Every channel some subscription of the Herald wants. */
  channels() { return [...new Set(this.h._subs.flatMap((s) => s.channels))]; }

  subsOf(ch) { return this.h._subs.filter((s) => s.channels.includes(ch)); }

  send(message) { this.ws.send(JSON.stringify(message)); }

  request(message, callback) {
    message.id = this.nextId++;
    this.pending.set(message.id, callback);
    return message;
  }

  /** Subscribes channels, each from its last position when it has one (resume). */
  sub(channels) {
    for (let i = 0; i < channels.length; i += 64) {
      this.send(channels.slice(i, i + 64).map((ch) => this.request(
        { t: "sub", ch, ...this.at.get(ch) },
        (reply) => {
          this.answered.add(ch);
          if (reply.t === "err") {
            const error = new HeraldError(0, reply.code, ch + ": " + reply.msg,
                                          { retry: reply.retry });
            for (const s of this.subsOf(ch)) s._error(error);
          } else if (!this.at.has(ch)) {           // resuming: the replay brings us there
            this.at.set(ch, { e: reply.e, s: reply.s });
            for (const s of this.subsOf(ch))
              if (!s._positions.has(ch)) s._positions.set(ch, { epoch: reply.e, seq: reply.s });
          }
          for (const s of this.subsOf(ch)) this.opened(s);
        })));
    }
  }

  /** A subscription is open once every channel of it has been answered on this connection. */
  opened(sub) {
    if (sub.channels.every((ch) => this.answered.has(ch))) sub._setStatus("open");
  }

  /** A subscription joined: subscribe its new channels; it starts at their current position. */
  add(sub) {
    for (const ch of sub.channels) {
      const at = this.at.get(ch);
      if (at) sub._positions.set(ch, { epoch: at.e, seq: at.s });
    }
    this.opened(sub);
    const fresh = sub.channels.filter((ch) => !this.at.has(ch) && this.subsOf(ch).length === 1);
    if (this.ready && fresh.length) this.sub(fresh);
  }

  /** A subscription left: unsubscribe channels no one wants any more. */
  remove(sub) {
    for (const ch of sub.channels) {
      if (this.subsOf(ch).length) continue;
      this.at.delete(ch);
      this.answered.delete(ch);
      if (this.ready) this.send(this.request({ t: "unsub", ch }, () => {}));
    }
  }

  async welcome(m) {
    this.welcomed = true;
    this.openedAt = Date.now();
    this.failedOpens = 0;
    this.watchdog = setInterval(() => {       // nothing for 2 heartbeats: dead (§11.9)
      if (Date.now() - this.lastRx > 2 * m.hb * 1000 + 5000) this.drop();
    }, m.hb * 1000);
    const ws = this.ws;
    if (m.auth === "required" && this.h._getToken) {
      let token;
      try { token = await this.h._token(); } catch (error) { this.h._emit("error", error); }
      if (ws !== this.ws || token == null) return ws === this.ws && this.drop();
      this.authToken = token;
      const reply = await new Promise((resolve) =>
        this.send(this.request({ t: "auth", token }, resolve)));
      if (ws !== this.ws || reply.closed) return;
      if (reply.t === "err") {               // expired: a new token, a new connection
        const error = new HeraldError(0, reply.code, reply.msg, { retry: reply.retry });
        if ((await this.refuse(token, error)) && ws === this.ws) this.drop();
        return;
      }
    }
    this.ready = true;
    this.sub(this.channels());
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  handle(m) {
    switch (m.t) {
      case "welcome": this.welcome(m); break;
      case "ok": case "err": {
        const callback = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (callback) callback(m);
        break;
      }
      case "ev":
        this.at.set(m.ch, { e: m.e, s: m.s });
        for (const s of this.subsOf(m.ch))
          s._event({ channel: m.ch, seq: m.s, epoch: m.e, type: m.type, data: m.data, ts: m.ts });
        break;
      case "reset":
        this.at.set(m.ch, { e: m.e, s: m.s });
        for (const s of this.subsOf(m.ch))
          s._reset({ channel: m.ch, reason: m.why, epoch: m.e, seq: m.s });
        break;
      case "ping": this.send({ t: "pong" }); break;
      case "refresh": this.refresh(); break;  // the token expires in m.in s
      case "unsub": {
        this.at.delete(m.ch);
        const error = new HeraldError(0, m.why, m.ch + ": unsubscribed (" + m.why + ")");
        for (const s of this.subsOf(m.ch)) s._error(error);
        break;
      }
      case "bye": this.bye = m; break;
    }
  }

  async refresh() {
    const ws = this.ws, old = this.h._tok;
    try {
      const token = await this.h._token(old);
      if (ws !== this.ws) return;
      this.send(this.request({ t: "refresh", token }, (reply) => {
        if (reply.t === "err") this.h._emit("error", new HeraldError(0, reply.code, reply.msg));
      }));
    } catch (error) { this.h._emit("error", error); }
  }

  /** token refused in auth: tell every subscription, ask getToken, end if same. True: go on. */
  async refuse(token, error) {
    const h = this.h;
    for (const s of h._subs) s._error(error);
    const fresh = await h._token(token).catch((e) => h._emit("error", e));
    if (this.stopped) return false;
    if (fresh !== token) return true;
    this.end();
    return false;
  }

  /** Closes every subscription (after their error) and the socket: no reconnect. */
  end(error) {
    for (const s of [...this.h._subs]) { if (error) s._error(error); s.close(); }
    this.stop();
  }

  /** The connection is dead: forget it and reconnect (unless that is already under way). */
  drop() {
    const ws = this.ws;
    if (!ws.onclose) return;
    ws.onclose = ws.onmessage = null;
    try { ws.close(); } catch { /* already closing */ }
    this.closed(1006, "no answer");
  }

  async closed(code, reason) {
    this.ws.onclose = this.ws.onmessage = null;
    this.ready = false;
    this.answered.clear();
    clearInterval(this.watchdog);
    for (const callback of this.pending.values())
      callback({ t: "err", code: "unavailable", msg: "closed", retry: true, closed: true });
    this.pending.clear();
    if (this.stopped) return;
    const h = this.h;
    if (code >= 4500 && code <= 4999) {       // a person must change something first
      // (or getToken, for a bad token: 4501)
      const error = new HeraldError(0, "closed_" + code, (this.bye && this.bye.why) || reason);
      if (code !== 4501 || !h._getToken) return this.end(error);
      if (!(await this.refuse(this.authToken, error))) return;   // a bad token: ask for another
    }
    if (!this.welcomed && ++this.failedOpens >= h._o.wsAttempts && h._o.fallback &&
        await h._reachable()) {
      this.stop();
      return h._fallback();                  // the server answers HTTP but not WebSocket
    }
    if (code === 4003 || code === 4005) await h._token(h._tok).catch(() => {});
    if (this.openedAt && Date.now() - this.openedAt >= LONG_CONNECTION) this.attempt = 0;
    this.openedAt = 0;
    const delay = this.bye && this.bye.retry_after !== undefined
      ? Math.random() * this.bye.retry_after
      : backoffDelay(this.attempt++, h._o.backoff);
    for (const s of h._subs) s._setStatus("reconnecting");
    this.timer = setTimeout(() => this.stopped || this.connect(), delay);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (!this.ws) return;
    this.ws.onclose = this.ws.onmessage = null;
    try { this.ws.close(1000); } catch { /* not open yet */ }
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Resolves once the socket can publish, or after ms. */
  whenReady(ms) {
    if (this.ready || this.stopped) return Promise.resolve();
    return new Promise((resolve) => { this.waiters.push(resolve); setTimeout(resolve, ms); });
  }

  publish(ch, data, { type, key } = {}) {
    const pub = { t: "pub", ch, data };
    if (type) pub.type = type;
    if (key) pub.key = key;
    return new Promise((resolve, reject) => this.send(this.request(pub, (reply) => {
      if (reply.t === "ok")
        resolve({ channel: ch, seq: reply.s, epoch: reply.e, duplicate: reply.dup });
      else reject(new HeraldError(0, reply.code, reply.msg,
                                  { retry: reply.retry, retryAfter: reply.retry_after }));
    })));
  }
}

// ---- The client

/**
 * A Herald client: subscriptions and publishes against one gateway.
 * @example
 *   const h = new Herald("http://127.0.0.1:8080", { transport: "ws" });
 *   h.subscribe(["orders"], { onEvent: (ev) => console.log(ev.seq, ev.data) });
 *   await h.publish("orders", { id: 7 }, { type: "created", key: "order-7" });
 */
export class Herald {
  /**
   * @param {string} [url] the gateway's base URL (default: the page's origin)
   * @param {object} [options] see README.md: transport, getToken, fallback, typed, backoff,
   *   openTimeout, idleTimeout, pollInterval, pollLimit, streamRetry, wsAttempts,
   *   sseAttempts, credentials, fetch, WebSocket
   */
  constructor(url, options = {}) {
    const here = globalThis.location ? globalThis.location.href : undefined;
    this._base = new URL(url || "/", here);
    if (!this._base.pathname.endsWith("/")) this._base.pathname += "/";
    this._o = { ...DEFAULTS, ...options, backoff: { ...DEFAULTS.backoff, ...options.backoff } };
    this._getToken = options.getToken;
    this._fetchImpl = options.fetch || globalThis.fetch.bind(globalThis);
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    this._mode = this._o.transport === "ws" && this._WebSocket ? "ws" : "sse";
    this._subs = [];
    this._listeners = { status: [], error: [] };
    this._tok = this._tokWait = this._link = null;
  }

  /** The transport in use now: "ws", "sse" or "poll" (after a fallback). */
  get transport() { return this._mode; }

  /**
   * Subscribes to channels; events of each arrive in order, once, from now on.
   * @param {string|string[]} channels
   * @param {{onEvent?: (ev: HeraldEvent) => void, onReset?: (r: HeraldReset) => void,
   *          onStatus?: (s: HeraldStatus) => void, onError?: (e: Error) => void}} handlers
   * @returns {Subscription}
   */
  subscribe(channels, handlers = {}) {
    const sub = new Subscription(this, [...new Set([].concat(channels))], handlers);
    this._subs.push(sub);
    if (this._mode === "ws") {
      if (!this._link || this._link.stopped) this._link = new WsLink(this);
      this._link.add(sub);
    } else {
      sub._run();
    }
    return sub;
  }

  /**
   * Publishes one event: over the WebSocket when it is open, else HTTP POST /v1/publish.
   * With a key, a retry publishes nothing twice (the reply says duplicate: true).
   * @returns {Promise<{channel: string, seq: number, epoch: string, duplicate: boolean}>}
   */
  async publish(channel, data, { type, key } = {}) {
    if (this._mode === "ws") {
      if (!this._link || this._link.stopped) this._link = new WsLink(this);
      await this._link.whenReady(3000);
      if (this._link.ready) return this._link.publish(channel, data, { type, key });
    }
    const event = { channel, data };
    if (type) event.type = type;
    if (key) event.id = key;
    for (let tries = 0; ; tries++) {
      const token = await this._token();
      const headers = { "Content-Type": "application/json" };
      if (token) headers.Authorization = "Bearer " + token;
      const response = await this._fetch(this._url("v1/publish"),
                                         { method: "POST", headers, body: JSON.stringify(event) });
      const body = await response.json().catch(() => ({}));
      if (response.ok)
        return { channel, seq: body.seq, epoch: body.epoch, duplicate: body.duplicate };
      if (response.status === 401 && this._getToken && tries === 0) {   // expired: once more
        await this._token(token);
        continue;
      }
      const retryAfter = Number(response.headers.get("Retry-After")) * 1000 || undefined;
      const retry = response.status === 429 || response.status >= 500;
      throw new HeraldError(response.status, body.error, body.message, { retry, retryAfter });
    }
  }

  /**
   * Listens to every subscription's status changes ("status": fn(status, subscription))
   * or errors ("error": fn(error, subscription)).
   */
  on(event, fn) {
    this._listeners[event].push(fn);
    return () => { this._listeners[event] = this._listeners[event].filter((f) => f !== fn); };
  }

  /** Closes every subscription and the socket. */
  close() {
    for (const sub of [...this._subs]) sub.close();
    if (this._link) this._link.stop();
  }

  _emit(event, ...args) { for (const fn of this._listeners[event]) call(fn, ...args); }

  _remove(sub) {
    this._subs = this._subs.filter((s) => s !== sub);
    if (this._link && !this._link.stopped) this._link.remove(sub);
  }

  _url(path, query = [], ws = false) {
    const url = new URL(path, this._base);
    for (const [k, v] of query) url.searchParams.append(k, v);
    if (ws) url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  _fetch(url, init) { return this._fetchImpl(url, { credentials: this._o.credentials, ...init }); }

  /**
   * The token to send: getToken()'s, kept until it has 5 s left. With stale
   * (the token a refusal or an expiry notice was about), a new one unless that
   * one was already replaced; concurrent callers share one getToken call.
   */
  async _token(stale) {
    if (!this._getToken) return null;
    const exp = this._tok && tokenExp(this._tok);
    const fresh = this._tok && this._tok !== stale && !(exp && exp * 1000 - Date.now() < 5000);
    if (fresh) return this._tok;
    if (!this._tokWait)
      this._tokWait = Promise.resolve().then(() => this._getToken())
        .then((token) => (this._tok = token)).finally(() => { this._tokWait = null; });
    return this._tokWait;
  }

  /** True when the gateway answers plain HTTP (so a failing WebSocket is blocked, not down). */
  async _reachable() {
    try {
      await this._fetch(this._url("healthz"), { mode: "no-cors", cache: "no-store" });
      return true;
    } catch { return false; }
  }

  /** WebSocket is blocked: every subscription goes on over SSE from its positions. */
  _fallback() {
    this._mode = "sse";
    this._link = null;
    for (const sub of this._subs) sub._run();
  }
}
