// The demo page against `herald run --token-keys`: with a token from
// `herald token` in its token field (the JS client's getToken) it goes live
// over SSE (Authorization: Bearer) and over WebSocket (an auth message after
// welcome) and publishes; without one it shows the gateway's refusal.
//
// Run: HERALD=build/herald node tests/browser/test_demo_token.mjs
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HERALD, fail, freePort, run, startHerald, waitFor, withBrowser } from "./harness.mjs";

const keys = mkdtempSync(join(tmpdir(), "herald-demo-keys-"));
process.on("exit", () => rmSync(keys, { recursive: true, force: true }));

run(async () => {
  execFileSync(HERALD, ["keygen", "--out", join(keys, "dev")]);
  const token = execFileSync(HERALD, ["token", "--key", join(keys, "dev.private.jwk"),
                                      "--sub", "me", "--subscribe", "demo",
                                      "--publish", "demo"]).toString().trim();
  const port = await freePort();
  await startHerald(["run", "--http", "127.0.0.1:" + port, "--pull", "tcp://127.0.0.1:*",
                     "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*",
                     "--token-keys", join(keys, "dev.jwks")]);
  const state = (tab) => tab.textContent("#state");
  await withBrowser(async (browser) => {
    const anonymous = await browser.newPage();
    await anonymous.goto(`http://127.0.0.1:${port}/`);
    await waitFor("the refusal to show", async () =>
      (await state(anonymous)).includes("401 token_missing"));
    await anonymous.goto(`http://127.0.0.1:${port}/?transport=ws`);
    await waitFor("the WebSocket refusal to show", async () =>
      (await state(anonymous)).startsWith("not subscribed") &&
      (await anonymous.textContent("#auth")).startsWith("a token is required"));

    const tabs = [];
    for (const transport of ["sse", "ws"]) {
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${port}/?transport=${transport}&token=${token}`);
      await waitFor(transport + " to go live", async () =>
        (await state(tab)).startsWith("live on demo"));
      tabs.push(tab);
    }
    const auth = await tabs[1].textContent("#auth");
    if (!auth.startsWith("authenticated as me")) fail("WebSocket auth state: " + auth);
    for (const [i, tab] of tabs.entries()) {
      await tab.fill("#data", `{"from": "tab ${i}"}`);
      await tab.click("#publish");
      await waitFor("tab " + i + "'s publish", async () =>
        (await tab.textContent("#result")).startsWith("published as seq " + (i + 1)));
    }
    for (const tab of tabs)
      await waitFor("both events in each tab", async () =>
        (await tab.locator("#events li").count()) === 2);
    console.log("ok: the demo page subscribes and publishes with a token over SSE and WebSocket");
  });
});
