// The live status page (GET /status of `herald run`; docs/operations.md,
// "Status page") in headless Chromium: it reads /metrics every 2 s, so an
// SSE stream opened in another tab shows up as one connection and one
// subscription, a publish as a delivery rate, and the stream's end takes the
// count back to 0.
//
// Run: HERALD=build/herald node tests/browser/test_status_page.mjs
import { fail, freePort, run, startHerald, waitFor, withBrowser } from "./harness.mjs";

run(async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  await startHerald(["run", "--http", "127.0.0.1:" + port, "--pull", "tcp://127.0.0.1:*",
                     "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*",
                     "--heartbeat", "1s"]);
  await withBrowser(async (browser) => {
    const status = await browser.newPage();
    const errors = [];
    status.on("pageerror", (error) => errors.push(String(error)));
    await status.goto(base + "/status");
    const text = async (id) => (await status.textContent("#" + id)).trim();
    await waitFor("the page to read /metrics", async () =>
      (await text("state")).startsWith("broker and gateway (herald run)"));
    if ((await text("connections")) !== "0") fail("connections before any stream: " + await text("connections"));
    if (!(await text("cluster")).includes("a single broker")) fail("cluster: " + await text("cluster"));

    // An SSE stream in another tab
    const client = await browser.newPage();
    await client.goto(base + "/status");
    await client.evaluate(() => new Promise((resolve, reject) => {
      window.source = new EventSource("/v1/sse?channel=watched");
      window.received = 0;
      window.source.onmessage = () => { window.received += 1; };
      window.source.onopen = resolve;
      setTimeout(() => reject(new Error("the stream did not open")), 10000);
    }));
    await waitFor("one connection on the status page", async () =>
      (await text("connections")) === "1" && (await text("sse")) === "1");
    if ((await text("ws")) !== "0") fail("WebSocket count: " + await text("ws"));
    await waitFor("one subscription", async () => (await text("subscriptions")) === "1");

    // A publish: delivered to the stream, and counted as a rate
    const r = await fetch(base + "/v1/publish", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ channel: "watched", data: { n: 1 } }),
    });
    if (r.status !== 200) fail("publish answered " + r.status);
    await waitFor("the event in the client tab", () => client.evaluate(() => window.received === 1));
    await waitFor("a delivery rate above zero", async () => {
      const rate = await status.textContent('[data-metric="herald_events_delivered_total"]');
      return Number(rate) > 0;
    });
    await waitFor("one channel", async () => (await text("channels")) === "1");

    await client.evaluate(() => window.source.close());
    await waitFor("the count back to 0 once the stream ends", async () =>
      (await text("connections")) === "0");
    if (errors.length) fail("page errors: " + errors.join("; "));
    console.log("ok: the status page counts an SSE stream, its delivery and its end");
  });
});
