// The JS client's fallbacks, through a proxy that starts blocking what it
// passed (client_harness.mjs startProxy): a Herald on WebSocket receives
// events; the proxy refuses upgrades and drops its connections: after a
// few failed opens (while plain HTTP answers) the Herald goes on over SSE
// from its positions (the cursor it makes of them); the proxy then buffers
// event streams: after streams that bring no byte it polls GET /v1/history
// from its last cursor. Events published during each switch arrive, every
// one once, in order. A second Herald on SSE behind the buffering proxy
// polls from the start. Then the proxy stops buffering but holds each
// stream's start 600 ms (a slow gateway, under openTimeout): within
// streamRetry a trial stream from the cursor opens (replaying what polling
// delivered meanwhile) and both go back to SSE (not WebSocket), polling
// stops, and events published before, during and after the switch arrive
// once, in order.
//
// Run: HERALD=build/herald node tests/browser/test_client_fallback.mjs
import { fail, run, waitFor, withBrowser } from "./harness.mjs";
import { checkExact, clientPage, publish, rec, startClient, startProxy, startSplit, waitEvents }
  from "./client_harness.mjs";

const CH = "fallback-a";
// pollLimit 3: the 10 events of a switch take several requests, each from the last cursor
const OPTIONS = { fallback: true, openTimeout: 1000, pollInterval: 200, pollLimit: 3, streamRetry: 2000 };

const transportOf = async (page, name) => (await rec(page, name)).statuses.at(-1)?.[2];

run(async () => {
  const split = await startSplit();
  const proxy = await startProxy(split.port);
  await withBrowser(async (browser) => {
    const page = await clientPage(browser, proxy.origin);
    await page.evaluate(startClient, { name: "a", channels: [CH], options: { ...OPTIONS, transport: "ws" } });
    await waitFor("open over WebSocket", async () => {
      const r = await rec(page, "a");
      return r.statuses.some(([, s, t]) => s === "open" && t === "ws");
    });
    await publish(split.pull, CH, 1, 10);
    await waitEvents(page, "a", CH, 10);

    proxy.mode.ws = "refuse";
    proxy.kill();
    await publish(split.pull, CH, 11, 20);
    await waitEvents(page, "a", CH, 20, 30000);
    if ((await transportOf(page, "a")) !== "sse") fail("not on SSE after WebSocket was refused");

    proxy.mode.sse = "buffer";
    proxy.kill();
    await publish(split.pull, CH, 21, 30);
    await waitEvents(page, "a", CH, 30, 30000);
    if ((await transportOf(page, "a")) !== "poll") fail("not polling after SSE was buffered");

    await page.evaluate(startClient, { name: "b", channels: [CH], options: { ...OPTIONS, transport: "sse" } });
    await waitFor("b polling", async () => (await rec(page, "b")).statuses.some(([, s]) => s === "polling"),
                  30000);
    await publish(split.pull, CH, 31, 35);
    await waitEvents(page, "a", CH, 35);
    await waitEvents(page, "b", CH, 5);
    await new Promise((r) => setTimeout(r, 500));     // a few more polls: room for a duplicate

    const a = await rec(page, "a"), b = await rec(page, "b");
    checkExact("a (ws, then sse, then polling)", a.got[CH], 1, 35);
    checkExact("b (sse, then polling)", b.got[CH], 31, 35);
    for (const [name, r] of [["a", a], ["b", b]]) {
      if (r.resets.length) fail(name + ": unexpected resets " + JSON.stringify(r.resets));
      if (r.errors.length) fail(name + ": unexpected errors " + JSON.stringify(r.errors));
    }
    console.log("ok: WebSocket refused -> SSE from the positions, SSE buffered -> polling from the " +
                "cursor: 35 events once in order; a new SSE client behind the buffering proxy polls");

    proxy.mode.sse = 600;                             // no kill: the polls in flight go on
    const unbuffered = Date.now();
    const onSse = async (name) => (await rec(page, name)).statuses.findLast(
      ([at, s, t]) => at >= unbuffered && s === "open" && t === "sse");
    let n = 35;
    await waitFor("a and b back on SSE", async () => {      // publishing during the switch
      await publish(split.pull, CH, n + 1, n + 1);
      n += 1;
      return (await onSse("a")) && (await onSse("b"));
    }, 15000);
    const after = [];             // the trial starts at most streamRetry after the last one
    for (const name of ["a", "b"]) {
      const [at] = await onSse(name), r = await rec(page, name);
      after.push(`${name} ${at - unbuffered} ms`);
      if (at - unbuffered > OPTIONS.streamRetry + 600 + 1500)
        fail(`${name}: back on SSE only ${at - unbuffered} ms after the proxy stopped buffering`);
      if (r.statuses.at(-1)[1] !== "open" || r.statuses.at(-1)[2] !== "sse")
        fail(`${name}: not staying open on SSE: ${JSON.stringify(r.statuses.slice(-3))}`);
    }
    const during = n;
    await publish(split.pull, CH, n + 1, n + 5);
    n += 5;
    await waitEvents(page, "a", CH, n);
    await waitEvents(page, "b", CH, n - 30);
    const polls = proxy.hits["/v1/history"];
    await new Promise((r) => setTimeout(r, 1000));    // 5 poll intervals: room for a poll or a duplicate
    if (proxy.hits["/v1/history"] !== polls) fail("still polling after going back to SSE");
    const a2 = await rec(page, "a"), b2 = await rec(page, "b");
    checkExact("a (polling, then sse again)", a2.got[CH], 1, n);
    checkExact("b (polling, then sse again)", b2.got[CH], 31, n);
    for (const [name, r] of [["a", a2], ["b", b2]]) {
      if (r.resets.length) fail(name + ": unexpected resets " + JSON.stringify(r.resets));
      if (r.errors.length) fail(name + ": unexpected errors " + JSON.stringify(r.errors));
      if (r.statuses.at(-1)[1] !== "open" || r.statuses.at(-1)[2] !== "sse")
        fail(`${name}: not open on SSE at the end: ${JSON.stringify(r.statuses.slice(-3))}`);
    }
    console.log(`ok: proxy stopped buffering -> back on SSE (${after.join(", ")}), polling stopped; ` +
                `events 36..${during} during and ${during + 1}..${n} after the switch once in order`);
  });
  proxy.close();
});
