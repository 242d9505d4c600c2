// Token refresh in the JS client: `herald run --token-keys`, tokens of 35 s
// from `herald token --ttl 35s`, so the gateway warns 30 s before exp (5 s
// in). Over SSE the client gets a new token on `herald-token-expiring` and
// reconnects with its cursor; over WebSocket it answers `refresh`. Events
// published all along arrive once, in order; each new token is asked for
// before the one it replaces expires, and no connection is refused. Then
// `herald revoke --sub` ends both subscriptions with an error (SSE's
// herald-token-revoked, WebSocket's close 4503): they do not reconnect; nor
// does a new SSE subscription refused 401 token_revoked. Last, clients whose
// getToken gives a refused token (expired: `auth`'s err token_expired or
// SSE's 401; for another audience: close 4501): the refusal reaches onError,
// getToken is asked again, and the same token again closes the subscription
// (no retrying forever), while a new one opens it.
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
  const plans = {};                                             // name -> tokens getToken gives, the last one again
  const mint = (name) => {
    if (plans[name]) return plans[name][Math.min((mints[name] ||= []).push(0) - 1, plans[name].length - 1)];
    const token = execFileSync(HERALD, ["token", "--key", join(keys, "dev.private.jwk"), "--sub", "me",
                                        "--subscribe", CH, "--ttl", TTL + "s"]).toString().trim();
    const exp = JSON.parse(Buffer.from(token.split(".")[1], "base64url")).exp;
    mints[name].push([Date.now(), exp]);
    return token;
  };
  const port = await freePort();
  const herald = await startHerald(["run", "--http", "127.0.0.1:" + port, "--pull", "tcp://127.0.0.1:*",
                                    "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*",
                                    "--token-keys", join(keys, "dev.jwks"), "--token-leeway", "0s"]);
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
    await refusedTokens(page, plans, mints);
    console.log(`ok: ${n} events once, in order, through ${mints.sse.length - 1} (SSE) and ` +
                `${mints.ws.length - 1} (WebSocket) refreshes of 35 s tokens, each before expiry; ` +
                "a revocation closes both; a refused token is reported, asked again, and ends " +
                "the subscription when getToken gives it again");
  });
});

// Tokens the gateway refuses: one expired (leeway 0), one for another audience.
async function refusedTokens(page, plans, mints) {
  const token = (...args) => execFileSync(HERALD, ["token", "--key", join(keys, "dev.private.jwk"),
                                                   "--sub", "you", "--subscribe", CH, ...args]).toString().trim();
  const expired = token("--ttl", "1s"), elsewhere = token("--aud", "elsewhere"), good = token();
  const exp = JSON.parse(Buffer.from(expired.split(".")[1], "base64url")).exp;
  await waitFor("the 1 s token to expire", () => Date.now() >= exp * 1000 + 100);
  const cases = { "ws-expired": ["ws", expired, "token_expired:"], "ws-elsewhere": ["ws", elsewhere, "closed_4501:"],
                  "sse-expired": ["sse", expired, "token_expired:"] };
  for (const [name, [transport, bad]] of Object.entries(cases)) {
    plans[name] = [bad];                                        // the same refused token every time
    plans[name + "-then"] = [bad, good];                        // then a good one
    for (const which of [name, name + "-then"])
      await page.evaluate(startClient, { name: which, channels: [CH], options: { transport, backoff: { base: 50 } },
                                         token: true });
  }
  for (const [name, [, , error]] of Object.entries(cases)) {
    await waitFor(name + " closed", async () => (await rec(page, name)).statuses.at(-1)?.[1] === "closed");
    await waitFor(name + "-then open", async () => (await rec(page, name + "-then")).statuses.at(-1)?.[1] === "open");
    for (const which of [name, name + "-then"]) {
      const r = await rec(page, which);
      if (r.errors.length !== 1 || !r.errors[0].startsWith(error) || mints[which].length !== 2)
        fail(which + ": errors " + JSON.stringify(r.errors) + " (want one " + error + "), getToken called " +
             mints[which].length + " times (want 2)");
    }
  }
}
