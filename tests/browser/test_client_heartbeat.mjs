// Heartbeats in the JS client, against a gateway beating every second
// (--heartbeat 1s, --ws-heartbeat 1s): over WebSocket the client answers the
// server's pings, so the gateway (which closes a silent client after the
// beat plus 10 s) keeps it for 13 s; then a proxy in between goes silent
// without closing anything, and each client notices by the silence alone
// (WebSocket: nothing for two beats; SSE: idleTimeout, here 3 s), reconnects
// and resumes: events published meanwhile arrive once, in order.
//
// Run: HERALD=build/herald node tests/browser/test_client_heartbeat.mjs
import { fail, run, waitFor, withBrowser } from "./harness.mjs";
import { checkExact, clientPage, publish, rec, startClient, startProxy, startSplit, waitEvents }
  from "./client_harness.mjs";

const CH = "heartbeat-a";
const NAMES = ["sse", "ws"];
const lost = (r) => r.statuses.filter(([, s]) => s === "reconnecting").length;

run(async () => {
  const split = await startSplit({ gatewayArgs: ["--heartbeat", "1s", "--ws-heartbeat", "1s"] });
  const proxy = await startProxy(split.port);
  await withBrowser(async (browser) => {
    const page = await clientPage(browser, proxy.origin);
    for (const transport of NAMES)
      await page.evaluate(startClient, { name: transport, channels: [CH],
                                         options: { transport, idleTimeout: 3000 } });
    for (const name of NAMES)
      await waitFor(name + " open", async () =>
        (await rec(page, name)).statuses.some(([, s]) => s === "open"));
    await publish(split.pull, CH, 1, 5);
    for (const name of NAMES) await waitEvents(page, name, CH, 5);

    // An observation window, not a wait for a condition: past the gateway's
    // 11 s of tolerated silence, nothing may have been lost.
    await new Promise((r) => setTimeout(r, 13000));
    for (const name of NAMES)
      if (lost(await rec(page, name))) fail(name + ": a connection was lost while idle");

    proxy.freeze();
    await publish(split.pull, CH, 6, 10);
    for (const name of NAMES) await waitEvents(page, name, CH, 10, 30000);
    for (const name of NAMES) {
      const r = await rec(page, name);
      checkExact(name, r.got[CH], 1, 10);
      if (lost(r) !== 1) fail(name + ": statuses " + JSON.stringify(r.statuses));
      if (r.resets.length || r.errors.length) fail(name + ": " + JSON.stringify([r.resets, r.errors]));
    }
    console.log("ok: WebSocket pings answered for 13 s at a 1 s beat; a silent path noticed and " +
                "replaced over SSE and WebSocket, 10 events once, in order");
  });
  proxy.close();
});
