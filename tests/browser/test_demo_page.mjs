// The demo page of `herald run`, in two headless Chromium tabs: what one
// publishes through the page's form, both see arrive live.
//
// Run: HERALD=build/herald node tests/browser/test_demo_page.mjs
import { fail, freePort, run, startHerald, waitFor, withBrowser } from "./harness.mjs";

run(async () => {
  const port = await freePort();
  await startHerald(["run", "--http", "127.0.0.1:" + port, "--pull", "tcp://127.0.0.1:*",
                     "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*"]);
  await withBrowser(async (browser) => {
    const tabs = [await browser.newPage(), await browser.newPage()];
    for (const tab of tabs) {
      await tab.goto(`http://127.0.0.1:${port}/`);
      await waitFor("the page to go live", async () =>
        (await tab.textContent("#state")).startsWith("live on demo"));
    }
    await tabs[0].fill("#data", '{"from": "tab one"}');
    await tabs[0].click("#publish");
    await waitFor("the publish result", async () =>
      (await tabs[0].textContent("#result")).startsWith("published as seq 1"));
    await tabs[1].fill("#data", '{"from": "tab two"}');
    await tabs[1].click("#publish");
    for (const tab of tabs)
      await waitFor("both events in each tab", async () =>
        (await tab.locator("#events li").count()) === 2);
    for (const tab of tabs) {
      const text = await tab.textContent("#events");
      if (!text.includes("tab one") || !text.includes("tab two") || !text.includes("#2"))
        fail("a tab misses an event: " + text);
    }
    console.log("ok: two tabs see each other's events");
  });
});
