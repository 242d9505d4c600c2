// examples/apps/marketplace, started by its run.sh (a one-broker cluster,
// two gateways checking tokens, the backend): the admin's page on gateway 1
// sees the global stats, seller 1's page on gateway 2 sees only seller:1's
// events and is refused seller:2, seller 2 sees only its own; orders are
// published through both gateways in turn.
//
// Run: HERALD=build/herald node tests/browser/test_app_marketplace.mjs
import { fileURLToPath } from "node:url";
import { withApp } from "./apps.mjs";
import { HERALD, fail, freePort, recordWebSocket, run, waitFor, withBrowser } from "./harness.mjs";

const script = fileURLToPath(new URL("../../examples/apps/marketplace/run.sh", import.meta.url));

run(async () => {
  const env = { PORT: String(await freePort()), HERALD, ORDER_EVERY: "0" };
  await withApp("bash", [script], env, (url) => withBrowser(async (browser) => {
    // A page is live once its gateway has answered its sub: events
    // published from then on reach it.
    const open = async (query, channel) => {
      const page = await browser.newPage();
      const messages = recordWebSocket(page);
      await page.goto(url + query);
      await waitFor(query + " to subscribe", async () => (await page.textContent("#status")) === "open" &&
        messages.some(([dir, m]) => dir === "<" && m.t === "ok" && m.ch === channel), 30000);
      return page;
    };
    const admin = await open("?user=admin&gateway=1", "stats:global");
    const seller1 = await open("?user=seller-1&gateway=2", "seller:1");
    const seller2 = await open("?user=seller-2&gateway=1", "seller:2");
    if ((await admin.textContent("#gateway")) === (await seller1.textContent("#gateway")))
      fail("admin and seller 1 are on the same gateway");

    for (const [seller, amount] of [[1, 30], [2, 50], [1, 20]]) {
      const response = await fetch(url + "api/orders", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ seller, amount }),
      });
      if (!response.ok) fail("order: " + response.status + " " + await response.text());
    }
    const stats = async (page) => [await page.textContent("#orders"),
                                   await page.textContent("#revenue")].join("/");
    const events = (page) => page.locator("#events li").allTextContents();
    await waitFor("the admin's global stats", async () => (await stats(admin)) === "3/100");
    await waitFor("seller 1's own stats", async () => (await stats(seller1)) === "2/50");
    await waitFor("seller 2's own stats", async () => (await stats(seller2)) === "1/50");
    await waitFor("seller 1's two events", async () => (await events(seller1)).length === 2);
    for (const [page, name, channel, count] of [[admin, "admin", "stats:global", 3],
                                                [seller1, "seller 1", "seller:1", 2],
                                                [seller2, "seller 2", "seller:2", 1]]) {
      const lines = await events(page);
      if (lines.length !== count || !lines.every((line) => line.startsWith(channel + " ")))
        fail(`${name} should see ${count} events of ${channel} only: ${JSON.stringify(lines)}`);
    }

    // The token, not the page, decides: another seller's channel, or a
    // seller's channel for the admin, is refused by the gateway.
    for (const [page, channel] of [[seller1, "seller:2"], [admin, "seller:1"]]) {
      await page.fill("#peek-channel", channel);
      await page.click("#peek");
      await waitFor(channel + " refused", async () =>
        (await page.textContent("#peek-result")) === "refused: forbidden");
    }
    const leaked = (await events(seller1)).filter((line) => !line.startsWith("seller:1 "));
    if (leaked.length) fail("seller 1 received other events: " + JSON.stringify(leaked));
    console.log("ok: admin sees global stats, each seller only its own, across two gateways");
  }));
});
