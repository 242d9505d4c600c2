// A plain EventSource (no library) in headless Chromium loses its connection
// when the gateway stops, reconnects by itself with Last-Event-ID, and ends
// with every event exactly once, in order. Split mode: the broker keeps the
// history while the gateway is down; events are published meanwhile.
//
// Run: HERALD=build/herald node tests/browser/test_eventsource_resume.mjs
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const HERALD = process.env.HERALD || "build/herald";
const CHANNEL = "browser-resume";
const started = [];

function fail(message) {
  console.error("FAIL: " + message);
  process.exitCode = 1;
  throw new Error(message);
}

// Starts a herald command; resolves with {proc, ready} once it logs "ready".
function startHerald(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(HERALD, [...args, "--log-format", "json"],
                       { stdio: ["ignore", "ignore", "pipe"] });
    started.push(proc);
    let buffered = "";
    const timer = setTimeout(() => reject(new Error("herald did not get ready: " + buffered)), 20000);
    proc.stderr.on("data", (chunk) => {
      buffered += chunk;
      for (const line of buffered.split("\n")) {
        if (!line.includes('"msg":"ready"')) continue;
        clearTimeout(timer);
        resolve({ proc, ready: JSON.parse(line) });
        return;
      }
    });
    proc.on("exit", (code) => reject(new Error("herald exited " + code + ": " + buffered)));
  });
}

function stopHerald(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve(proc.exitCode);
    proc.removeAllListeners("exit");
    proc.on("exit", (code) => resolve(code));
    proc.kill("SIGTERM");
  });
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Publishes through the broker directly (works while the gateway is down).
function pub(pull, n) {
  return new Promise((resolve, reject) => {
    execFile(HERALD, ["pub", CHANNEL, JSON.stringify({ n }), "--pull", pull],
             (error) => (error ? reject(error) : resolve()));
  });
}

async function waitFor(what, predicate, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) fail("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const tcp = (list) => list.split(",").find((e) => e.startsWith("tcp://"));

async function main() {
  const broker = await startHerald(["broker", "--pull", "tcp://127.0.0.1:*",
                                    "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*"]);
  const pull = tcp(broker.ready.pull);
  const brokerArg = tcp(broker.ready.xpub) + "," + tcp(broker.ready.router);
  const port = await freePort();
  const gatewayArgs = ["gateway", "--http", "127.0.0.1:" + port, "--broker", brokerArg,
                       "--sse-retry", "200ms", "--workers", "1"];
  let gateway = await startHerald(gatewayArgs);
  const profile = mkdtempSync(join(tmpdir(), "herald-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
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
    // The initial id: block arrives once the subscription is live; give the
    // page a moment's worth of events to prove it is receiving.
    for (let n = 1; n <= 20; n++) await pub(pull, n);
    await waitFor("events 1-20", () => page.evaluate(() => window.got.length >= 20));

    // The server closes the connection; events keep coming meanwhile.
    const code = await stopHerald(gateway.proc);
    if (code !== 0) fail("gateway exited " + code);
    for (let n = 21; n <= 40; n++) await pub(pull, n);
    gateway = await startHerald(gatewayArgs);
    await waitFor("the reconnect", () => page.evaluate(() => window.opens >= 2));
    for (let n = 41; n <= 60; n++) await pub(pull, n);
    await waitFor("all 60 events", () => page.evaluate(() => window.got.length >= 60));

    const got = await page.evaluate(() => window.got);
    const resets = await page.evaluate(() => window.resets);
    const expected = Array.from({ length: 60 }, (_, i) => i + 1);
    if (JSON.stringify(got) !== JSON.stringify(expected))
      fail("events not exactly 1..60 once in order: " + JSON.stringify(got));
    if (resets.length) fail("unexpected resets: " + JSON.stringify(resets));
    console.log("ok: 60 events once, in order, across a server-side disconnect");
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
    for (const proc of started) {
      const code = await stopHerald(proc);
      if (code !== 0 && code !== null) fail("herald exited " + code);
    }
  }
}

main().catch((error) => {
  console.error(error);
  for (const proc of started) if (proc.exitCode === null) proc.kill("SIGKILL");
  process.exit(1);
});
