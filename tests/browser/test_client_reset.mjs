// Resets reach the application through the JS client's onReset, over SSE
// and WebSocket: a gateway restart while more events were published than
// the broker keeps (--history-size 3) resumes into an `expired` reset; a
// broker restart (a new epoch) gives `epoch-changed`. After each, events go
// on from the position the reset names, in order, none twice.
//
// Run: HERALD=build/herald node tests/browser/test_client_reset.mjs
import { fail, run, waitFor, withBrowser } from "./harness.mjs";
import { checkExact, clientPage, publish, rec, startClient, startSplit, waitEvents }
  from "./client_harness.mjs";

const CH = "reset-a";
const NAMES = ["sse", "ws"];

run(async () => {
  const split = await startSplit({ brokerArgs: ["--history-size", "3"] });
  await withBrowser(async (browser) => {
    const page = await clientPage(browser, split.origin);
    for (const transport of NAMES)
      await page.evaluate(startClient, { name: transport, channels: [CH], options: { transport } });
    for (const name of NAMES)
      await waitFor(name + " open", async () =>
        (await rec(page, name)).statuses.some(([, s]) => s === "open"));
    await publish(split.pull, CH, 1, 5);
    for (const name of NAMES) await waitEvents(page, name, CH, 5);

    // 10 events while the gateway is down, of which the broker keeps 3.
    await split.restartGateway(() => publish(split.pull, CH, 6, 15));
    for (const name of NAMES)
      await waitFor(name + ": the expired reset", async () => (await rec(page, name)).resets.length >= 1);
    await publish(split.pull, CH, 16, 20);
    for (const name of NAMES) await waitEvents(page, name, CH, 10);

    // A new broker: a new epoch, announced by a reset before its events.
    await split.restartBroker();
    await waitFor("the gateway ready again", async () =>
      (await fetch(split.origin + "/readyz")).status === 200);
    // One event first: the gateway's subscription to the new broker may not
    // be confirmed yet, and what it misses comes from a history of 3 (a
    // slow machine would turn 5 missed events into an expired reset).
    await publish(split.pull, CH, 21, 21);
    for (const name of NAMES)
      await waitFor(name + ": the epoch-changed reset", async () => (await rec(page, name)).resets.length >= 2);
    for (const name of NAMES) await waitEvents(page, name, CH, 11);
    await publish(split.pull, CH, 22, 25);
    for (const name of NAMES) await waitEvents(page, name, CH, 15);

    for (const name of NAMES) {
      const r = await rec(page, name);
      checkExact(name + " before the resets", r.got[CH].slice(0, 5), 1, 5);
      checkExact(name + " after the expired reset", r.got[CH].slice(5, 10), 16, 20);
      checkExact(name + " after the broker restart", r.got[CH].slice(10), 21, 25);
      checkExact(name + " seqs in the new epoch", r.seqs[CH].slice(10), 1, 5);
      const [expired, changed] = r.resets;
      if (r.resets.length !== 2 || expired.channel !== CH || expired.reason !== "expired" ||
          expired.seq !== 15 || changed.reason !== "epoch-changed" || changed.epoch === expired.epoch)
        fail(name + ": resets " + JSON.stringify(r.resets));
      if (r.errors.length) fail(name + ": unexpected errors " + JSON.stringify(r.errors));
    }
    console.log("ok: SSE and WebSocket clients called onReset for expired (seq 15) and " +
                "epoch-changed, then delivered the events after each once, in order");
  });
});
