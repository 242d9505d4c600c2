// A plain EventSource (no library) in headless Chromium loses its connection
// when the gateway stops, reconnects by itself with Last-Event-ID, and ends
// with every event exactly once, in order. Split mode: the broker keeps the
// history while the gateway is down; events are published meanwhile.
//
// Run: HERALD=build/herald node tests/browser/test_eventsource_resume.mjs
import { fail, freePort, pub, run, startHerald, stopHerald, tcp, waitFor,
         withBrowser } from "./harness.mjs";

const CHANNEL = "browser-resume";

run(async () => {
  const broker = await startHerald(["broker", "--pull", "tcp://127.0.0.1:*",
                                    "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*"]);
  const pull = tcp(broker.ready.pull);
  const brokerArg = tcp(broker.ready.xpub) + "," + tcp(broker.ready.router);
  const port = await freePort();
  const gatewayArgs = ["gateway", "--http", "127.0.0.1:" + port, "--broker", brokerArg,
                       "--sse-retry", "200ms", "--workers", "1"];
  let gateway = await startHerald(gatewayArgs);
  await withBrowser(async (browser) => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/healthz`);
    await page.evaluate((channel) => {
      window.got = [];
      window.opens = 0;
      window.resets = [];
      const source = new EventSource("/v1/sse?channel=" + channel);
      source.onopen = () => { window.opens += 1; };
      source.onmessage = (e) => window.got.push(JSON.parse(e.data).data.n);
      source.addEventListener("herald-reset", (e) => window.resets.push(JSON.parse(e.data)));
    }, CHANNEL);
    await waitFor("the first open", () => page.evaluate(() => window.opens === 1));
    for (let n = 1; n <= 20; n++) await pub(pull, CHANNEL, { n });
    await waitFor("events 1-20", () => page.evaluate(() => window.got.length >= 20));

    // The server closes the connection; events keep coming meanwhile.
    const code = await stopHerald(gateway.proc);
    if (code !== 0) fail("gateway exited " + code);
    for (let n = 21; n <= 40; n++) await pub(pull, CHANNEL, { n });
    gateway = await startHerald(gatewayArgs);
    await waitFor("the reconnect", () => page.evaluate(() => window.opens >= 2));
    for (let n = 41; n <= 60; n++) await pub(pull, CHANNEL, { n });
    await waitFor("all 60 events", () => page.evaluate(() => window.got.length >= 60));

    const got = await page.evaluate(() => window.got);
    const resets = await page.evaluate(() => window.resets);
    const expected = Array.from({ length: 60 }, (_, i) => i + 1);
    if (JSON.stringify(got) !== JSON.stringify(expected))
      fail("events not exactly 1..60 once in order: " + JSON.stringify(got));
    if (resets.length) fail("unexpected resets: " + JSON.stringify(resets));
    console.log("ok: 60 events once, in order, across a server-side disconnect");
  });
});
