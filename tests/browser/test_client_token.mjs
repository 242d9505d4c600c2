// Token refresh in the JS client: `herald run --token-keys`, tokens of 35 s
// from `herald token --ttl 35s`, so the gateway warns 30 s before exp (5 s
// in). Over SSE the client gets a new token on `herald-token-expiring` and
// reconnects with its cursor; over WebSocket it answers `refresh`. Events
// published all along arrive once, in order; each new token is asked for
// before the one it replaces expires, and no connection is refused. Then
// `herald revoke --sub` ends both subscriptions with an error (SSE's
// herald-token-revoked, WebSocket's close 4503): they do not reconnect; nor
// does a new SSE subscription refused 401 token_revoked.
//
// Run: HERALD=build/herald node tests/browser/test_client_token.mjs
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HERALD, fail, freePort, run, startHerald, tcp, waitFor, withBrowser } from "./harness.mjs";
import { checkExact, clientPage, publish, rec, startClient, waitEvents } from "./client_harness.mjs";

const TTL = 35;
const CH = "token-a";
const NAMES = ["sse", "ws"];
const keys = mkdtempSync(join(tmpdir(), "herald-client-keys-"));
process.on("exit", () => rmSync(keys, { recursive: true, force: true }));

run(async () => {
  execFileSync(HERALD, ["keygen", "--out", join(keys, "dev")]);
  const mints = { sse: [], ws: [], late: [] };                  // [ms, exp in s] of each token made, per client
  const mint = (name) => {
    const token = execFileSync(HERALD, ["token", "--key", join(keys, "dev.private.jwk"), "--sub", "me",
                                        "--subscribe", CH, "--ttl", TTL + "s"]).toString().trim();
    const exp = JSON.parse(Buffer.from(token.split(".")[1], "base64url")).exp;
    mints[name].push([Date.now(), exp]);
    return token;
  };
  const port = await freePort();
  const herald = await startHerald(["run", "--http", "127.0.0.1:" + port, "--pull", "tcp://127.0.0.1:*",
                                    "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*",
                                    "--token-keys", join(keys, "dev.jwks")]);
  const pull = tcp(herald.ready.pull);
  await withBrowser(async (browser) => {
    const page = await clientPage(browser, "http://127.0.0.1:" + port);
    await page.exposeFunction("mintToken", mint);
    for (const transport of NAMES)
      await page.evaluate(startClient, { name: transport, channels: [CH], options: { transport }, token: true });
    for (const name of NAMES)
      await waitFor(name + " open", async () =>
        (await rec(page, name)).statuses.some(([, s]) => s === "open"));

    // Publish through two rounds of refresh (the first comes 5 s in).
    let n = 0;
    const until = Date.now() + 12000;
    while (Date.now() < until) await publish(pull, CH, ++n, n);
    for (const name of NAMES) await waitEvents(page, name, CH, n);

    for (const name of NAMES) {
      const r = await rec(page, name);
      checkExact(name, r.got[CH], 1, n);
      if (r.tokens < 3) fail(name + ": getToken called " + r.tokens + " times in 12 s, not refreshed");
      if (r.errors.length) fail(name + ": errors " + JSON.stringify(r.errors));
      const states = r.statuses.map(([, s]) => s);
      if (states.includes("reconnecting")) fail(name + ": a connection failed: " + JSON.stringify(states));
    }
    // Every token after the first was made before the one it replaces expired.
    for (const name of NAMES)
      for (let i = 1; i < mints[name].length; i++)
        if (mints[name][i][0] > mints[name][i - 1][1] * 1000 - 1000)
          fail(name + ": token " + i + " made after the one before expired: " + JSON.stringify(mints));

    execFileSync(HERALD, ["revoke", "--sub", "me", "--until", "5m", "--router", tcp(herald.ready.router)]);
    for (const name of NAMES)
      await waitFor(name + " closed by the revocation", async () =>
        (await rec(page, name)).statuses.at(-1)?.[1] === "closed");
    const errors = await Promise.all(NAMES.map(async (name) => (await rec(page, name)).errors.join()));
    await page.evaluate(startClient, { name: "late", channels: [CH], token: true });
    await waitFor("a new subscription refused", async () =>
      (await rec(page, "late")).statuses.at(-1)?.[1] === "closed");
    errors.push((await rec(page, "late")).errors.join());
    // SSE stops at the event itself (its own message), without asking again
    if (errors[0] !== "token_revoked: the token was revoked" || !errors[1].startsWith("closed_4503") ||
        !errors[2].startsWith("token_revoked:") || mints.late.length !== 1)
      fail("errors after the revocation: " + JSON.stringify(errors) + ", tokens " + mints.late.length);
    console.log(`ok: ${n} events once, in order, through ${mints.sse.length - 1} (SSE) and ` +
                `${mints.ws.length - 1} (WebSocket) refreshes of 35 s tokens, each before expiry; ` +
                "a revocation closes both");
  });
});
