// examples/apps/sales-badge, started by its run.sh (`herald run` checking
// tokens, pinging every second here instead of 30 s): the admin's socket
// goes welcome (auth required) → auth → ok → sub, the badge counts each
// SALE_CREATED and Ventas clears it, the client answers Herald's pings; a
// client's token is refused admin:sales and its badge never shows.
//
// Run: HERALD=build/herald node tests/browser/test_app_sales_badge.mjs
import { fileURLToPath } from "node:url";
import { withApp } from "./apps.mjs";
import { HERALD, fail, freePort, recordWebSocket, run, waitFor, withBrowser } from "./harness.mjs";

const script = fileURLToPath(new URL("../../examples/apps/sales-badge/run.sh", import.meta.url));

run(async () => {
  const env = { PORT: String(await freePort()), HERALD, SALE_EVERY: "0", PING: "1s" };
  await withApp("bash", [script], env, (url) => withBrowser(async (browser) => {
    const sale = async (total) => {
      const response = await fetch(url + "api/ventas", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ total }),
      });
      if (!response.ok) fail("sale: " + response.status + " " + await response.text());
    };
    const admin = await browser.newPage();
    const frames = recordWebSocket(admin);
    await admin.goto(url + "?user=admin");
    await waitFor("the admin to subscribe", async () => (await admin.textContent("#status")) === "open" &&
      frames.some(([dir, m]) => dir === "<" && m.t === "ok" && m.ch === "admin:sales"));
    const client = await browser.newPage();
    await client.goto(url + "?user=client-7");
    await waitFor("the client to be refused", async () =>
      (await client.textContent("#status")) === "refused: forbidden");

    await sale(25);
    await sale(40);
    const badge = async (page) => (await page.isVisible("#badge")) ? await page.textContent("#badge") : "";
    await waitFor("the badge to count 2", async () => (await badge(admin)) === "2");
    await admin.click("#ventas");
    await waitFor("Ventas to clear the badge", async () =>
      (await badge(admin)) === "" && (await admin.locator("#sales li").count()) === 2);
    await admin.click("#home");
    await sale(15);
    await waitFor("the badge to count the next sale", async () => (await badge(admin)) === "1");
    if ((await badge(client)) !== "" || (await client.locator("#sales li").count()) !== 0)
      fail("a client received sales");

    // The handshake and the heartbeat, on the wire.
    await waitFor("a ping answered", () => {
      const ping = frames.findIndex(([dir, m]) => dir === "<" && m.t === "ping");
      return ping >= 0 && frames.slice(ping).some(([dir, m]) => dir === ">" && m.t === "pong");
    });
    const kinds = frames.filter(([, m]) => m.t !== "ping" && m.t !== "pong")
      .map(([dir, m]) => dir + m.t + (m.t === "welcome" ? ":" + m.auth : m.ch ? ":" + m.ch : ""));
    const expected = ["<welcome:required", ">auth", "<ok", ">sub:admin:sales", "<ok:admin:sales"];
    if (kinds.slice(0, 5).join(" ") !== expected.join(" "))
      fail("handshake: " + kinds.slice(0, 8).join(" "));
    const events = frames.filter(([dir, m]) => dir === "<" && m.t === "ev");
    if (events.length !== 3 || !events.every(([, m]) => m.type === "SALE_CREATED"))
      fail("events: " + JSON.stringify(events));
    console.log("ok: the badge counts sales after welcome → auth → ok, answers pings; a client is refused");
  }));
});
