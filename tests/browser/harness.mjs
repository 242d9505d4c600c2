// Shared helpers for the browser tests: start and stop the real herald
// binaries, find a free port, launch Debian's Chromium headless through
// playwright-core (never a downloaded browser), wait for conditions.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const HERALD = process.env.HERALD || "build/herald";
const started = [];

export function fail(message) {
  console.error("FAIL: " + message);
  process.exitCode = 1;
  throw new Error(message);
}

// Starts a herald command; resolves with {proc, ready} once it logs "ready".
export function startHerald(args) {
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

export function stopHerald(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve(proc.exitCode);
    proc.removeAllListeners("exit");
    proc.on("exit", (code) => resolve(code));
    proc.kill("SIGTERM");
  });
}

// Stops every herald this test started; fails on a non-zero exit.
export async function stopAll() {
  for (const proc of started) {
    const code = await stopHerald(proc);
    if (code !== 0 && code !== null) fail("herald exited " + code);
  }
}

export function killAll() {
  for (const proc of started) if (proc.exitCode === null) proc.kill("SIGKILL");
}

export function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Publishes through a broker's PULL socket with `herald pub`.
export function pub(pull, channel, data) {
  return new Promise((resolve, reject) => {
    execFile(HERALD, ["pub", channel, JSON.stringify(data), "--pull", pull],
             (error) => (error ? reject(error) : resolve()));
  });
}

export async function waitFor(what, predicate, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) fail("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Records every JSON message of a page's WebSockets (herald.v1.json), in
// order, as [dir, message]: dir "<" received, ">" sent; a batch gives one
// entry per message. Call before the page opens its sockets.
export function recordWebSocket(page) {
  const messages = [];
  page.on("websocket", (ws) => {
    const add = (dir) => ({ payload }) => {
      const value = JSON.parse(payload);
      for (const m of Array.isArray(value) ? value : [value]) messages.push([dir, m]);
    };
    ws.on("framereceived", add("<"));
    ws.on("framesent", add(">"));
  });
  return messages;
}

export const tcp = (list) => list.split(",").find((e) => e.startsWith("tcp://"));

// Runs body(context) with a fresh headless Chromium profile, then cleans up.
export async function withBrowser(body) {
  const profile = mkdtempSync(join(tmpdir(), "herald-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    await body(context);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// Runs a test's main, stopping every herald it started, failing loudly.
export function run(main) {
  main().then(stopAll).catch((error) => {
    console.error(error);
    killAll();
    process.exit(1);
  });
}
