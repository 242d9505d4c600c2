// Helpers for the example apps' tests (examples/apps/*): start an app's
// backend or run.sh and stop it, and a TCP proxy between the browser and
// Herald that can cut the browser's connections.
import { spawn } from "node:child_process";
import { createConnection, createServer } from "node:net";

// Runs body(url) with an app started by `command args` (a run.sh or
// `node server.mjs`): url is the address the app prints once it listens.
// The app is stopped with SIGTERM afterwards (run.sh stops what it started).
export async function withApp(command, args, env, body) {
  const proc = spawn(command, args, { env: { ...process.env, ...env },
                                      stdio: ["ignore", "pipe", "inherit"] });
  try {
    const url = await new Promise((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error("the app did not start: " + out)), 20000);
      proc.stdout.on("data", (chunk) => {
        out += chunk;
        const match = out.match(/^\w+: (http:\/\/127\.0\.0\.1:\d+\/)/m);
        if (match) { clearTimeout(timer); resolve(match[1]); }
      });
      proc.on("exit", (code) => reject(new Error("the app exited " + code + ": " + out)));
    });
    await body(url);
  } finally {
    if (proc.exitCode === null) {
      proc.removeAllListeners("exit");
      const exited = new Promise((resolve) => proc.on("exit", resolve));
      proc.kill("SIGTERM");
      await exited;
    }
  }
}

// A proxy on a free port to 127.0.0.1:targetPort. cut() closes every
// connection and refuses new ones until restore(); stall() keeps them open
// but passes no more bytes either way (a dead path that sends no FIN).
export function proxy(targetPort) {
  const pairs = new Set();
  let mode = "pass";
  const server = createServer((client) => {
    if (mode === "cut") return client.destroy();
    const upstream = createConnection(targetPort, "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    const forward = (from, to) => from.on("data", (chunk) => { if (!pair.stalled) to.write(chunk); });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  const cut = () => { mode = "cut"; for (const { client } of pairs) client.destroy(); };
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    port: server.address().port,
    connections: () => pairs.size,
    cut,
    stall() { for (const pair of pairs) pair.stalled = true; },
    restore() { mode = "pass"; },
    close: () => new Promise((done) => { cut(); server.close(done); }),
  })));
}
