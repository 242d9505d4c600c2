// The JS client (/herald.js, served by the gateway) in headless Chromium,
// over SSE and over WebSocket, each subscribed to two channels: the gateway
// is stopped, events are published meanwhile, it restarts; each Herald
// reconnects by itself and ends with every event of both channels once, in
// order, and no reset; the WebSocket one, refused while the gateway is
// down, stays on WebSocket (a gateway that is down is not a proxy blocking
// upgrades: /healthz does not answer either). Each then publishes (HTTP
// POST for SSE, the socket for WebSocket) and repeats the other's publish
// with the same key: one event, the repeat acknowledged as a duplicate.
// The cursor it would make of its positions is the one the gateway sends.
// /herald.js is JavaScript, cacheable, revalidated.
//
// Run: HERALD=build/herald node tests/browser/test_client_resume.mjs
import { readFileSync } from "node:fs";
import { fail, run, waitFor, withBrowser } from "./harness.mjs";
import { checkExact, clientPage, publish, rec, startClient, startSplit, waitEvents }
  from "./client_harness.mjs";

const CHANNELS = ["resume-a", "resume-b"];
const source = readFileSync(new URL("../../clients/js/herald.js", import.meta.url), "utf8");

async function checkServed(origin) {
  const response = await fetch(origin + "/herald.js");
  const body = await response.text();
  if (response.status !== 200 || body !== source)
    fail("/herald.js is not clients/js/herald.js: " + response.status);
  const type = response.headers.get("content-type"), cache = response.headers.get("cache-control");
  const etag = response.headers.get("etag");
  if (type !== "text/javascript; charset=utf-8") fail("/herald.js Content-Type: " + type);
  if (!/max-age=\d+/.test(cache || "") || !etag) fail("/herald.js not cacheable: " + cache + " " + etag);
  const again = await fetch(origin + "/herald.js", { headers: { "If-None-Match": etag } });
  if (again.status !== 304) fail("/herald.js with its ETag: " + again.status + ", not 304");
}

run(async () => {
  const split = await startSplit();   // no --demo: the client is served anyway
  await checkServed(split.origin);
  await withBrowser(async (browser) => {
    const page = await clientPage(browser, split.origin);
    // wsAttempts 1: one failed open would do to fall back, were the gateway not simply down
    for (const transport of ["sse", "ws"])
      await page.evaluate(startClient, { name: transport, channels: CHANNELS,
                                         options: { transport, wsAttempts: 1 } });
    for (const name of ["sse", "ws"])
      await waitFor(name + " open", async () =>
        (await rec(page, name)).statuses.some(([, s]) => s === "open"));

    for (const ch of CHANNELS) await publish(split.pull, ch, 1, 10);
    for (const name of ["sse", "ws"]) for (const ch of CHANNELS) await waitEvents(page, name, ch, 10);

    // The cursor made from positions is the gateway's own id: for them.
    const ids = await page.evaluate(async (channels) => {
      const { encodeCursor } = await import("/herald.js");
      const response = await fetch("/v1/sse?" + channels.map((c) => "channel=" + c).join("&"));
      const reader = response.body.getReader();
      let text = "";
      while (!/\nid: [^\n]+\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      reader.cancel();
      const epoch = (await (await fetch("/v1/history?channel=" + channels[0] + "&since=9")).json()).epoch;
      const epochB = (await (await fetch("/v1/history?channel=" + channels[1] + "&since=9")).json()).epoch;
      const mine = encodeCursor(channels, new Map([[channels[0], { epoch, seq: 10 }],
                                                   [channels[1], { epoch: epochB, seq: 10 }]]));
      return { server: text.match(/\nid: ([^\n]+)\n/)[1], mine };
    }, CHANNELS);
    if (ids.server !== ids.mine) fail("encodeCursor differs from the gateway's id: " + JSON.stringify(ids));

    await split.restartGateway(async () => {
      for (const ch of CHANNELS) await publish(split.pull, ch, 11, 25);
      await waitFor("the WebSocket client to try the stopped gateway", async () =>
        (await rec(page, "ws")).sockets >= 2);
    });
    for (const ch of CHANNELS) await publish(split.pull, ch, 26, 30);
    for (const name of ["sse", "ws"]) for (const ch of CHANNELS) await waitEvents(page, name, ch, 30);
    const acks = await page.evaluate(async ([a, b]) => {
      const { sse, ws } = window.heralds;
      const n31 = { n: 31 };
      return [await sse.publish(a, n31, { type: "made", key: "a-31" }),
              await ws.publish(a, n31, { type: "made", key: "a-31" }),
              await ws.publish(b, n31, { key: "b-31" }), await sse.publish(b, n31, { key: "b-31" })];
    }, CHANNELS);
    const dups = acks.map((a) => a.channel + " " + a.seq + " " + a.duplicate).join(", ");
    if (dups !== "resume-a 31 false, resume-a 31 true, resume-b 31 false, resume-b 31 true")
      fail("publish acknowledgements: " + JSON.stringify(acks));
    for (const name of ["sse", "ws"]) for (const ch of CHANNELS) await waitEvents(page, name, ch, 31);
    await new Promise((r) => setTimeout(r, 300));     // room for a duplicate to show

    for (const name of ["sse", "ws"]) {
      const r = await rec(page, name);
      for (const ch of CHANNELS) checkExact(name + " " + ch, r.got[ch], 1, 31);
      if (r.resets.length) fail(name + ": unexpected resets " + JSON.stringify(r.resets));
      if (r.errors.length) fail(name + ": unexpected errors " + JSON.stringify(r.errors));
      const states = r.statuses.map(([, s]) => s);
      if (!states.includes("reconnecting") || states.at(-1) !== "open" || r.statuses.at(-1)[2] !== name)
        fail(name + ": statuses " + JSON.stringify(r.statuses));
    }
    console.log("ok: SSE and WebSocket clients resumed 2 channels x 30 events across a gateway " +
                "restart, once each in order; their publishes acknowledged, repeats as duplicates; " +
                "encodeCursor matches the gateway; /herald.js cacheable");
  });
});
