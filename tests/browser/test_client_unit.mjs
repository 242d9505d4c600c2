// The JS client against a scripted server (a fetch stand-in, run in Node):
// what a real gateway does not do on demand. SSE split anywhere (mid-line,
// between \r and \n) parses; a reconnect sends the last id: as
// Last-Event-ID and the bearer token; a replay of events already delivered
// and an event of an older epoch are dropped; a reset is passed on and its
// new epoch's events follow (one with a typed=1 event: line); a 401 asks
// getToken for a new token; a 429's Retry-After is waited for; a 403 stops
// the subscription; a cursor refused as bad_cursor is a reset and the next
// stream starts afresh; a 401 after which getToken gives the same token
// again is final (onError, closed), not retried forever. Polling with
// streamRetry: a trial stream that opens while a history request is in
// flight takes over (the late history answer is dropped: no "polling" after
// "open"), events once, no more polls; with streamRetry 0 no trial at all.
// And `npm pack` accepts clients/js/ as herald-client.
//
// Run: node tests/browser/test_client_unit.mjs
import { execFileSync } from "node:child_process";
import { Herald } from "../../clients/js/herald.js";
import { fail, run, waitFor } from "./harness.mjs";

const E1 = "00000000000000010000000000000001", E2 = "00000000000000020000000000000002";
const OLD = "00000000000000000000000000000009";
const ev = (epoch, seq, id) => `id: ${id}\ndata: ${JSON.stringify({ channel: "u", seq, epoch, ts: 1, data: { seq } })}\n\n`;

// Each request gets the next scripted answer: [status, headers, chunks of body].
const script = [
  [200, {}, ["retry: 2000\n\nid: c0\n\n", ev(E1, 1, "c1").slice(0, 20), ev(E1, 1, "c1").slice(20) +
    ev(E1, 2, "c2").replace(/\n/g, "\r\n").slice(0, -1), "\n", ev(E1, 3, "c3")]],
  [401, {}, ['{"error":"token_expired","message":"exp is past"}']],
  [429, { "Retry-After": "1" }, ['{"error":"too_many_connections","message":"slow down"}']],
  [200, {}, [ev(E1, 2, "c2") + ev(E1, 3, "c3") + ev(E1, 4, "c4") + ev(OLD, 9, "c4") +
    "event: herald-reset\r", `\nid: c5\r\ndata: {"channel":"u","reason":"epoch-changed",` +
    `"epoch":"${E2}","seq":0}\r\n\r\n: heartbeat\n\n` + "event: made\n" + ev(E2, 1, "c6") + ev(E2, 2, "c7")]],
  [400, {}, ['{"error":"bad_cursor","message":"not a cursor of these channels"}']],
  [403, {}, ['{"error":"forbidden","message":"the token does not grant u"}']],
];
const requests = [];
const fakeFetch = scripted(script, requests);

/** A fetch stand-in answering each request with the next of script, recorded in requests. */
function scripted(script, requests) { return (url, init) => {
  requests.push({ at: Date.now(), url, headers: init.headers });
  const [status, headers, parts] = script[requests.length - 1], chunks = [...parts];
  const body = new ReadableStream({
    async pull(controller) {
      if (!chunks.length) return controller.close();
      await new Promise((r) => setTimeout(r, 5));
      controller.enqueue(new TextEncoder().encode(chunks.shift()));
    },
  });
  const type = status === 200 ? "text/event-stream" : "application/json";
  return Promise.resolve(new Response(body, { status, headers: { "Content-Type": type, ...headers } }));
}; }

/** A 401 whose getToken gives the same token again: one error, closed, no second request. */
async function sameTokenRefused() {
  const requests = [], errors = [], statuses = [];
  let tokens = 0;
  const refused = [401, {}, ['{"error":"unauthorized","message":"bad signature"}']];
  const h = new Herald("http://herald.invalid", { fetch: scripted([refused, refused, refused], requests),
    getToken: async () => (++tokens, "same"), backoff: { base: 50, cap: 100 } });
  h.subscribe("u", { onError: (e) => errors.push(e.code), onStatus: (s) => statuses.push(s) });
  await waitFor("a 401 with the same token again to close", () => statuses.at(-1) === "closed", 3000);
  if (JSON.stringify(errors) !== '["unauthorized"]' || requests.length !== 1 || tokens !== 2)
    fail(`same token refused: errors ${JSON.stringify(errors)}, ${requests.length} requests, ${tokens} tokens`);
}

/**
 * SSE blocked twice, then polling (events 1, 2); the trial stream (streamRetry 200) holds its
 * first bytes until a history request is in flight, whose answer (3, 4) comes after them.
 */
async function trialTakesOver(streamRetry) {
  const enc = (text) => new TextEncoder().encode(text);
  const json = (events, cursor) => JSON.stringify({ cursor, events: events.map((seq) =>
    ({ channel: "u", seq, epoch: E1, ts: 1, data: { seq } })), resets: [], more: false });
  const body = (start, signal) => new ReadableStream({ start(c) {
    signal.addEventListener("abort", () => c.error(new Error("aborted")));   // as fetch does
    return start(c);
  } });
  const sse = [], history = [], got = [], statuses = [];
  let held = null;                      // delivers the history answer held back for the trial
  const fetch = (url, { headers, signal }) => {
    const stream = url.includes("/v1/sse");
    (stream ? sse : history).push(stream ? headers["Last-Event-ID"] : new URL(url).searchParams.get("cursor"));
    const answer = (start) => Promise.resolve(new Response(stream ? body(start, signal) : new ReadableStream({ start }),
      { headers: { "Content-Type": stream ? "text/event-stream" : "application/json" } }));
    if (stream && sse.length <= 2) return answer(() => {});         // blocked: no byte
    if (stream) return answer(async (c) => {                        // the trial
      await waitFor("a history request in flight", () => held, 3000);
      c.enqueue(enc(ev(E1, 3, "c3")));
      await new Promise((r) => setTimeout(r, 20));
      held();                                                       // the late history answer
      await new Promise((r) => setTimeout(r, 20));
      c.enqueue(enc(ev(E1, 4, "c4") + ev(E1, 5, "c5")));
    });
    return answer((c) => {
      const deliver = (text) => { c.enqueue(enc(text)); c.close(); };
      if (history.length === 1) deliver(json([1, 2], "p2"));
      else if (sse.length === 3 && !held) held = () => deliver(json([3, 4], "p4"));
      else deliver(json([], "p2"));
    });
  };
  const h = new Herald("http://herald.invalid", { fetch, openTimeout: 400, pollInterval: 50,
    streamRetry, backoff: { base: 50, cap: 100 } });
  h.subscribe("u", { onEvent: (e) => got.push(e.seq), onStatus: (s) => statuses.push(s) });
  await waitFor("polling", () => statuses.includes("polling"), 5000);
  if (!streamRetry) await new Promise((r) => setTimeout(r, 600));   // 3 streamRetry of the other run
  else await waitFor("events 1..5", () => got.length >= 5, 5000);
  const polls = history.length;
  await new Promise((r) => setTimeout(r, 300));                     // 6 poll intervals
  const result = { got, statuses: [...statuses], transport: h.transport, sse, morePolls: history.length - polls };
  h.close();
  return result;
}

function checkPackage() {
  const cwd = new URL("../../clients/js/", import.meta.url);
  const [pack] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd }).toString());
  const files = pack.files.map((f) => f.path).sort().join(" ");
  if (pack.name !== "herald-client" || files !== "README.md herald.d.ts herald.js package.json")
    fail("npm pack: " + pack.name + ": " + files);
}

run(async () => {
  checkPackage();
  await sameTokenRefused();
  const r = await trialTakesOver(200), off = await trialTakesOver(0);
  if (JSON.stringify(r.got) !== "[1,2,3,4,5]" || r.statuses.at(-1) !== "open" || r.transport !== "sse" ||
      r.morePolls || r.sse[2] !== "p2")
    fail("trial stream taking over from polling: " + JSON.stringify(r));
  if (off.sse.length !== 2 || off.transport !== "poll" || off.statuses.at(-1) !== "polling")
    fail("streamRetry 0 still tried a stream: " + JSON.stringify(off));
  let tokens = 0;
  const got = [], resets = [], errors = [], statuses = [];
  const h = new Herald("http://herald.invalid", {
    fetch: fakeFetch, getToken: async () => "token-" + ++tokens, backoff: { base: 50, cap: 100 } });
  h.subscribe("u", { onEvent: (e) => got.push(e.epoch.slice(15, 16) + ":" + e.seq),
                     onReset: (r) => resets.push(r), onError: (e) => errors.push(e.code),
                     onStatus: (s) => statuses.push(s) });
  await waitFor("the subscription to stop at the 403", () => statuses.at(-1) === "closed", 10000);

  const want = ["1:1", "1:2", "1:3", "1:4", "2:1", "2:2"];
  if (JSON.stringify(got) !== JSON.stringify(want)) fail("events " + JSON.stringify(got));
  if (resets.length !== 2 || resets[0].reason !== "epoch-changed" || resets[0].epoch !== E2 ||
      resets[1].reason !== "bad-cursor")
    fail("resets " + JSON.stringify(resets));
  if (JSON.stringify(errors) !== '["token_expired","too_many_connections","bad_cursor","forbidden"]')
    fail("errors " + JSON.stringify(errors));
  const ids = requests.map((r) => r.headers["Last-Event-ID"] ?? null);
  const auth = requests.map((r) => r.headers.Authorization);
  if (JSON.stringify(ids) !== '[null,"c3","c3","c3","c7",null]') fail("Last-Event-ID sent: " + JSON.stringify(ids));
  if (JSON.stringify(auth) !== JSON.stringify(["Bearer token-1", "Bearer token-1", "Bearer token-2",
                                                "Bearer token-2", "Bearer token-2", "Bearer token-2"]))
    fail("tokens sent: " + JSON.stringify(auth));
  if (requests[3].at - requests[2].at < 1000) fail("Retry-After: 1 not waited for");
  if (!requests.every((r) => r.url.startsWith("http://herald.invalid/v1/sse?channel=u")))
    fail("urls " + requests.map((r) => r.url));
  console.log("ok: split SSE parsed, cursor and token sent on reconnect, replay and stale epoch " +
              "dropped, reset passed on, 401 -> new token, Retry-After waited, bad_cursor -> reset, 403 stops, " +
              "401 and the same token again stops; a trial stream takes over from polling (a late " +
              "history answer dropped), none with streamRetry 0; npm pack accepts it");
});
