// No reconnect storm: clients of the JS client spread their reconnects over
// the backoff window after a gateway restart. 500 Heralds on SSE run here,
// in Node (fetch streaming; Node 20 has no WebSocket), each recording when
// it asks for a stream; 250 on WebSocket run in one headless Chromium page.
// The gateway restarts; each client's first attempt after its stream ended
// comes after a full-jitter delay: over SSE uniform in [0, base) (the
// first step of the backoff; base 2 s here, so that the lag of a loaded
// machine's event loop stays small beside it), over WebSocket uniform in
// [0, bye's retry_after) (1-5 s). Also a unit check of backoffDelay.
//
// Run: HERALD=build/herald node tests/browser/test_client_backoff.mjs
import { Herald, backoffDelay } from "../../clients/js/herald.js";
import { fail, run, waitFor, withBrowser } from "./harness.mjs";
import { clientPage, startSplit } from "./client_harness.mjs";

const SSE_CLIENTS = 500, WS_CLIENTS = 250, BASE = 2000;

function checkUnit() {
  const o = { base: 500, cap: 30000 };
  for (const [n, top] of [[0, 500], [1, 1000], [3, 4000], [6, 30000], [40, 30000]])
    if (backoffDelay(n, o, () => 0.999999) > top || backoffDelay(n, o, () => 0.999999) < top * 0.99)
      fail(`backoffDelay(${n}) does not reach min(cap, base x 2^n) = ${top}`);
  const d = Array.from({ length: 4000 }, () => backoffDelay(2, o)).sort((a, b) => a - b);
  if (d[0] < 0 || d.at(-1) >= 2000 || Math.abs(d[2000] - 1000) > 100)
    fail("backoffDelay(2) not uniform in [0, 2000): median " + d[2000]);
}

// Fails unless delays (ms) are spread over [0, window): few in the first
// 100 ms, at least lowest of them in every fifth of the window, the middle
// 80% over half of it at least, none over limit.
function checkSpread(what, delays, window, lowest, limit) {
  const sorted = [...delays].sort((a, b) => a - b);
  const share = (from, to) => delays.filter((d) => d >= from && d < to).length / delays.length;
  const fifths = [0, 1, 2, 3, 4].map((i) => share(i * window / 5, (i + 1) * window / 5));
  const q = (p) => Math.round(sorted[Math.floor(p * (sorted.length - 1))]);
  const summary = `${what}: ${delays.length} reconnects, first 100 ms ${(share(0, 100) * 100).toFixed(0)}%, ` +
    `fifths of ${window} ms ${fifths.map((f) => (f * 100).toFixed(0) + "%").join(" ")}, ` +
    `min ${q(0)} median ${q(0.5)} p90 ${q(0.9)} max ${q(1)} ms`;
  console.log(summary);
  if (share(0, 100) > 0.35 || fifths.some((f) => f < lowest) || q(0.9) - q(0.1) < window / 2 ||
      sorted.at(-1) > limit)
    fail("reconnects not spread over the backoff window: " + summary);
}

// The first stream request after each client's stream ended, minus its end.
function firstDelays(clients) {
  return clients.map((c) => {
    const next = c.attempts.find((t) => t >= c.lostAt);
    return next === undefined ? Infinity : next - c.lostAt;
  });
}

// Runs in the page: n Heralds over WebSocket, recording when each opens a socket.
async function wsClients(n) {
  const { Herald } = await import("/herald.js");
  window.clients = [];
  for (let i = 0; i < n; i++) {
    const c = { attempts: [], lostAt: null, open: 0 };
    class Recorded extends WebSocket {
      constructor(...args) { super(...args); c.attempts.push(Date.now()); }
    }
    const h = new Herald(location.origin, { transport: "ws", WebSocket: Recorded });
    h.subscribe(["backoff"], { onStatus: (s) => {
      if (s === "open") c.open += 1;
      if (s === "reconnecting" && c.lostAt === null) c.lostAt = Date.now();
    } });
    window.clients.push(c);
  }
}

run(async () => {
  checkUnit();
  const split = await startSplit({ gatewayArgs: ["--max-connections-per-ip", "2000"] });
  const clients = Array.from({ length: SSE_CLIENTS }, () => ({ attempts: [], lostAt: null, open: 0 }));
  const heralds = clients.map((c) => {
    const record = (url, init) => { if (url.includes("/v1/sse")) c.attempts.push(Date.now()); return fetch(url, init); };
    const h = new Herald(split.origin, { fetch: record, backoff: { base: BASE } });
    h.subscribe(["backoff"], { onStatus: (s) => {
      if (s === "open") c.open += 1;
      if (s === "reconnecting" && c.lostAt === null) c.lostAt = Date.now();
    } });
    return h;
  });
  await waitFor("500 SSE clients open", () => clients.every((c) => c.open === 1), 30000);
  await split.restartGateway();
  await waitFor("500 SSE clients open again", () => clients.every((c) => c.open === 2), 60000);
  checkSpread("SSE", firstDelays(clients), BASE, 0.05, 2 * BASE);
  for (const h of heralds) h.close();

  await withBrowser(async (browser) => {
    const page = await clientPage(browser, split.origin);
    await page.evaluate(wsClients, WS_CLIENTS);
    await waitFor("WebSocket clients open", () => page.evaluate(() => window.clients.every((c) => c.open === 1)),
                  30000);
    await split.restartGateway();
    await waitFor("WebSocket clients open again", () =>
      page.evaluate(() => window.clients.every((c) => c.open >= 2)), 60000);
    // delay = U x retry_after, retry_after uniform in [1, 5] s: 6.6% in [3.2, 4) s
    checkSpread("WebSocket", firstDelays(await page.evaluate(() => window.clients)), 4000, 0.02, 5100);
  });
  console.log("ok: reconnects after a gateway restart spread over the backoff window (SSE and WebSocket)");
});
