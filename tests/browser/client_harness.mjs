// Helpers shared by the tests of the JS client (clients/js/herald.js):
// a broker and a gateway started apart, on fixed ports, so that either can
// be restarted; a page on the gateway's origin that imports /herald.js and
// records what a Herald delivers; checks of what it recorded.
import { execFile } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { HERALD, fail, freePort, startHerald, stopHerald, waitFor } from "./harness.mjs";

// A broker and a gateway, each restartable on the same ports.
export async function startSplit({ brokerArgs = [], gatewayArgs = [] } = {}) {
  const [pull, router, xpub, http] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const at = (port) => "tcp://127.0.0.1:" + port;
  const bArgs = ["broker", "--pull", at(pull), "--router", at(router), "--xpub", at(xpub), ...brokerArgs];
  const gArgs = ["gateway", "--http", "127.0.0.1:" + http, "--broker", at(xpub) + "," + at(router),
                 "--workers", "1", ...gatewayArgs];
  const split = {
    pull: at(pull), port: http, origin: "http://127.0.0.1:" + http,
    broker: await startHerald(bArgs), gateway: await startHerald(gArgs),
    async restartGateway(between) {
      if ((await stopHerald(split.gateway.proc)) !== 0) fail("gateway did not exit cleanly");
      if (between) await between();
      split.gateway = await startHerald(gArgs);
    },
    async restartBroker() {
      if ((await stopHerald(split.broker.proc)) !== 0) fail("broker did not exit cleanly");
      split.broker = await startHerald(bArgs);
    },
  };
  return split;
}

// Publishes {n} for n in [from, to] on channel, one `herald pub` each, in order.
export async function publish(pull, channel, from, to) {
  for (let n = from; n <= to; n++)
    await new Promise((resolve, reject) => execFile(HERALD, ["pub", channel, JSON.stringify({ n }),
      "--pull", pull], (error) => (error ? reject(error) : resolve())));
}

// Runs in the page: a Herald subscribed to channels, recording into
// window.recs[name]: got[channel] = the n of each event, resets, statuses
// ([ms, status, transport]), errors, sockets (WebSockets it opened). getToken, when asked for, is
// window.mintToken(name) (exposed by the test). Options are the Herald's.
export async function startClient({ name, url, channels, options = {}, token = false }) {
  const { Herald } = await import("/herald.js");
  const rec = { got: {}, seqs: {}, resets: [], statuses: [], errors: [], tokens: 0, sockets: 0 };
  options.WebSocket = class extends WebSocket {
    constructor(...args) { super(...args); rec.sockets += 1; }
  };
  (window.recs ||= {})[name] = rec;
  if (token) options.getToken = async () => { rec.tokens += 1; return window.mintToken(name); };
  const h = new Herald(url || location.origin, options);
  (window.heralds ||= {})[name] = h;
  h.subscribe(channels, {
    onEvent: (ev) => {
      (rec.got[ev.channel] ||= []).push(ev.data.n);
      (rec.seqs[ev.channel] ||= []).push(ev.seq);
    },
    onReset: (r) => rec.resets.push(r),
    onStatus: (s) => rec.statuses.push([Date.now(), s, h.transport]),
    onError: (e) => rec.errors.push(e.code + ": " + e.message),
  });
}

// A page on origin (the gateway's, or a proxy's in front of it).
export async function clientPage(browser, origin) {
  const page = await browser.newPage();
  const expected = /^(Failed to load resource|WebSocket connection to)/;   // restarts, blocks
  page.on("console", (m) => m.type() === "error" && !expected.test(m.text()) &&
          console.error("page: " + m.text()));
  page.on("pageerror", (e) => console.error("page error: " + e.message));
  await page.goto(origin + "/healthz");
  return page;
}

export const rec = (page, name) => page.evaluate((n) => window.recs[n], name);

export async function waitEvents(page, name, channel, count, timeoutMs = 20000) {
  await waitFor(`${name}: ${count} events on ${channel}`, async () =>
    ((await rec(page, name)).got[channel] || []).length >= count, timeoutMs);
}

// Fails unless list is exactly from..to, once each, in order.
export function checkExact(what, list, from, to) {
  const want = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  if (JSON.stringify(list) !== JSON.stringify(want))
    fail(`${what}: not exactly ${from}..${to} once in order: ${JSON.stringify(list)}`);
}

// An HTTP proxy in front of the gateway that can block streaming as some
// proxies do: mode.ws "refuse" answers WebSocket upgrades 403; mode.sse
// "buffer" holds text/event-stream responses until they end (never, for a
// stream); a number N holds their start N ms (a slow gateway). kill()
// drops every connection, so clients meet the new mode; freeze() stops
// passing anything on the open ones, which stay open (a dead path the
// client can only notice by silence). hits[path] counts requests.
export async function startProxy(port, mode = { ws: "pass", sse: "pass" }) {
  const sockets = new Set(), pipes = new Set(), hits = {};
  const pipe = (from, to) => {
    const entry = [from, to];
    pipes.add(entry);
    from.on("close", () => pipes.delete(entry));
    return from.pipe(to);
  };
  const server = http.createServer((req, res) => {
    const path = req.url.split("?")[0];
    hits[path] = (hits[path] || 0) + 1;
    const up = http.request({ host: "127.0.0.1", port, method: req.method, path: req.url,
                              headers: req.headers }, (answer) => {
      const stream = /text\/event-stream/.test(answer.headers["content-type"] || "");
      if (mode.sse === "buffer" && stream) {
        const held = [];
        answer.on("data", (chunk) => held.push(chunk));
        answer.on("end", () => { res.writeHead(answer.statusCode, answer.headers); res.end(Buffer.concat(held)); });
        return;
      }
      if (typeof mode.sse === "number" && stream) {
        return setTimeout(() => {
          if (res.destroyed) return answer.destroy();
          res.writeHead(answer.statusCode, answer.headers);
          pipe(answer, res);
        }, mode.sse);
      }
      res.writeHead(answer.statusCode, answer.headers);
      pipe(answer, res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  server.on("upgrade", (req, socket, head) => {
    if (mode.ws === "refuse") return socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    const up = net.connect(port, "127.0.0.1", () => {
      up.write(`${req.method} ${req.url} HTTP/1.1\r\n` +
               Object.entries(req.headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n");
      up.write(head);
      pipe(up, socket);
      pipe(socket, up);
    });
    sockets.add(up);
    up.on("close", () => { sockets.delete(up); socket.destroy(); });
    socket.on("error", () => up.destroy());
    up.on("error", () => socket.destroy());
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: "http://127.0.0.1:" + server.address().port, mode, hits,
    kill() { for (const s of sockets) s.destroy(); },
    freeze() {
      for (const [from, to] of pipes) { from.unpipe(to); from.pause(); }
      pipes.clear();
    },
    close() { this.kill(); server.close(); },
  };
}
