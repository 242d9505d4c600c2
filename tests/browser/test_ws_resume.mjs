// A native WebSocket (no library) in headless Chromium speaks herald.v1.json:
// it subscribes, receives events published over ZeroMQ, is told `bye` 1001
// when the gateway stops, reconnects, resumes with the last `e`/`s` it
// received, and ends with every event exactly once, in order. The demo page,
// switched to WebSocket, does the same through the JS client (/herald.js).
// Split mode: the broker keeps the history while the gateway is down; events
// are published meanwhile.
//
// Run: HERALD=build/herald node tests/browser/test_ws_resume.mjs
import { fail, freePort, pub, run, startHerald, stopHerald, tcp, waitFor,
         withBrowser } from "./harness.mjs";

const CHANNEL = "browser-ws-resume";
const expected = (n) => JSON.stringify(Array.from({ length: n }, (_, i) => i + 1));

// Runs in the page: a minimal herald.v1 client that records everything. It
// reconnects 100 ms after any close (the test wants speed, not the backoff
// of the demo page's client) and resubscribes from its last position.
function rawClient(channel) {
  const w = window;
  Object.assign(w, { got: [], oks: [], resets: [], byes: [], closes: [], errors: [],
                     protocols: [], misordered: [], welcomes: 0 });
  let position = null, id = 0;
  function connect() {
    const socket = new WebSocket(`ws://${location.host}/v1/ws`, "herald.v1.json");
    let subscribed = false;
    socket.onmessage = (e) => {
      const frame = JSON.parse(e.data);
      for (const m of Array.isArray(frame) ? frame : [frame]) {
        if (m.t === "welcome") {
          w.welcomes += 1;
          w.welcome = m;
          w.protocols.push(socket.protocol);
          const sub = { t: "sub", id: ++id, ch: channel };
          if (position) Object.assign(sub, position);
          w.lastSub = sub;
          socket.send(JSON.stringify(sub));
        } else if (m.t === "ok") {
          subscribed = true;
          w.oks.push(m);
          if (!position) position = { e: m.e, s: m.s };
        } else if (m.t === "ev" || m.t === "reset") {
          if (!subscribed) w.misordered.push(m);       // ok must come first
          position = { e: m.e, s: m.s };
          if (m.t === "ev") w.got.push(m.data.n); else w.resets.push(m);
        } else if (m.t === "ping") {
          socket.send(JSON.stringify({ t: "pong" }));
        } else if (m.t === "bye") {
          w.byes.push(m);
        } else if (m.t === "err") {
          w.errors.push(m);
        }
      }
    };
    socket.onclose = (e) => {
      w.closes.push(e.code);
      setTimeout(connect, 100);
    };
  }
  connect();
}

// The demo page lists events newest first: their seqs, oldest first.
const demoSeqs = (page) => page.evaluate(() =>
  [...document.querySelectorAll("#events li .seq")].map((s) => Number(s.textContent.slice(1))).reverse());

run(async () => {
  const broker = await startHerald(["broker", "--pull", "tcp://127.0.0.1:*",
                                    "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*"]);
  const pull = tcp(broker.ready.pull);
  const brokerArg = tcp(broker.ready.xpub) + "," + tcp(broker.ready.router);
  const port = await freePort();
  const gatewayArgs = ["gateway", "--http", "127.0.0.1:" + port, "--broker", brokerArg,
                       "--workers", "1", "--demo"];
  let gateway = await startHerald(gatewayArgs);
  await withBrowser(async (browser) => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/healthz`);
    await page.evaluate(rawClient, CHANNEL);
    const demo = await browser.newPage();
    await demo.goto(`http://127.0.0.1:${port}/?transport=ws&channels=${CHANNEL}`);

    await waitFor("the first subscription", () => page.evaluate(() => window.oks.length === 1));
    await waitFor("the demo page to go live", async () =>
      (await demo.textContent("#state")).startsWith("live on " + CHANNEL + " (WebSocket)"));
    const welcome = await page.evaluate(() => window.welcome);
    if (welcome.v !== 1 || typeof welcome.sid !== "string" || !(welcome.hb > 0) ||
        !(welcome.max > 0) || welcome.auth !== "none")
      fail("unexpected welcome: " + JSON.stringify(welcome));
    const first = (await page.evaluate(() => window.oks))[0];
    if (first.e !== null || first.s !== 0)
      fail("a channel with no history must be subscribed at e null, s 0: " + JSON.stringify(first));
    for (let n = 1; n <= 20; n++) await pub(pull, CHANNEL, { n });
    await waitFor("events 1-20", () => page.evaluate(() => window.got.length >= 20));

    // The gateway shuts down (bye 1001, close 1001); events keep coming meanwhile.
    const code = await stopHerald(gateway.proc);
    if (code !== 0) fail("gateway exited " + code);
    for (let n = 21; n <= 40; n++) await pub(pull, CHANNEL, { n });
    gateway = await startHerald(gatewayArgs);
    await waitFor("the resumed subscription", () => page.evaluate(() => window.oks.length >= 2));
    for (let n = 41; n <= 60; n++) await pub(pull, CHANNEL, { n });
    await waitFor("all 60 events", () => page.evaluate(() => window.got.length >= 60));
    await waitFor("all 60 events on the demo page", async () => (await demoSeqs(demo)).length >= 60,
                  30000);

    const w = await page.evaluate(() => ({
      got: window.got, oks: window.oks, resets: window.resets, byes: window.byes,
      closes: window.closes, errors: window.errors, protocols: window.protocols,
      misordered: window.misordered, lastSub: window.lastSub }));
    if (JSON.stringify(w.got) !== expected(60))
      fail("events not exactly 1..60 once in order: " + JSON.stringify(w.got));
    if (w.resets.length) fail("unexpected resets: " + JSON.stringify(w.resets));
    if (w.errors.length) fail("unexpected errors: " + JSON.stringify(w.errors));
    if (w.misordered.length) fail("ev or reset before ok: " + JSON.stringify(w.misordered));
    if (w.protocols.some((p) => p !== "herald.v1.json"))
      fail("subprotocol not selected: " + JSON.stringify(w.protocols));
    const bye = w.byes[0];
    if (!bye || bye.code !== 1001 || !(bye.retry_after >= 1000 && bye.retry_after <= 5000))
      fail("shutdown without bye 1001 and retry_after in [1000, 5000] ms: " + JSON.stringify(w.byes));
    if (w.closes[0] !== 1001) fail("shutdown close code not 1001: " + JSON.stringify(w.closes));
    // The resuming sub named the last event received; its ok named the head.
    const epoch = w.oks[1].e;
    if (w.lastSub.e !== epoch || w.lastSub.s !== 20 || w.oks[1].s !== 40)
      fail("resume not from (e, 20) with head 40: sub " + JSON.stringify(w.lastSub) +
           ", ok " + JSON.stringify(w.oks[1]));

    const seqs = await demoSeqs(demo);
    if (JSON.stringify(seqs) !== expected(60))
      fail("demo page: events not exactly 1..60 once in order: " + JSON.stringify(seqs));
    if (await demo.locator("#events li.reset").count()) fail("demo page shows a reset");
    await waitFor("the demo page live again", async () =>
      (await demo.textContent("#state")).startsWith("live on " + CHANNEL));

    // The demo page publishes over its socket (pub): acknowledged with the
    // seq, and delivered to every subscriber, itself included.
    await demo.fill("#channel", CHANNEL);
    await demo.fill("#data", '{"n": 61}');
    await demo.click("#publish");
    await waitFor("the demo page's pub acknowledged", async () =>
      (await demo.textContent("#result")).startsWith("published as seq 61 (epoch " + epoch + ")"));
    await waitFor("event 61 on both pages", async () =>
      (await page.evaluate(() => window.got.length)) >= 61 && (await demoSeqs(demo)).length >= 61);
    if (JSON.stringify(await page.evaluate(() => window.got)) !== expected(61))
      fail("event 61 not delivered once: " + JSON.stringify(await page.evaluate(() => window.got)));
    if (JSON.stringify(await demoSeqs(demo)) !== expected(61))
      fail("demo page: its own publish not delivered once: " + JSON.stringify(await demoSeqs(demo)));
    console.log("ok: 60 events once, in order, across a gateway restart (raw WebSocket and demo " +
                "page); the demo page's pub acknowledged and delivered to both");
  });
});
