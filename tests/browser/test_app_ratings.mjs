// examples/apps/ratings, started as a user would (its run.sh: `herald run`
// on free ports, then the backend), in two headless Chromium tabs: a rating
// in one tab reaches the other live, over SSE, then over WebSocket after
// the transport switch, then between an SSE tab and a WebSocket tab, and
// each tab shows the backend's average.
//
// Run: HERALD=build/herald node tests/browser/test_app_ratings.mjs
import { fileURLToPath } from "node:url";
import { HERALD, fail, freePort, run, waitFor, withBrowser } from "./harness.mjs";
import { withApp } from "./apps.mjs";

const RUN = fileURLToPath(new URL("../../examples/apps/ratings/run.sh", import.meta.url));

// Rates in tab `from`, then waits until tab `to` shows the new summary and
// the event that carried it, received over `transport`.
async function rate(from, to, stars, transport, count, average) {
  await from.click(`button[data-stars="${stars}"]`);
  await waitFor(`rating ${count} over ${transport}`, async () =>
    (await to.textContent("#count")) === String(count));
  const shown = await to.textContent("#average");
  if (shown !== String(average)) fail(`average ${shown}, expected ${average}`);
  const line = await to.textContent("#log li:first-child");
  if (line !== `${transport}: ${stars}★ → average ${average} (seq ${count})`)
    fail(`the last event in the other tab reads "${line}"`);
}

run(async () => {
  const env = { HERALD, PORT: String(await freePort()) };
  await withApp(RUN, [], env, (url) => withBrowser(async (browser) => {
    const tabs = [await browser.newPage(), await browser.newPage()];
    const sockets = [];
    for (const tab of tabs) {
      tab.on("websocket", (ws) => sockets.push(ws.url()));
      await tab.goto(url + "?movie=dune");
      await waitFor("the tab to subscribe over SSE", async () =>
        (await tab.textContent("#status")) === "sse open");
    }
    await rate(tabs[0], tabs[1], 4, "sse", 1, 4);
    await rate(tabs[1], tabs[0], 2, "sse", 2, 3);
    if (sockets.length) fail("a WebSocket was opened in SSE mode: " + sockets);

    for (const tab of tabs) {
      await tab.selectOption("#transport", "ws");
      await waitFor("the tab to subscribe over WebSocket", async () =>
        (await tab.textContent("#status")) === "ws open");
    }
    if (sockets.length !== 2 || !sockets.every((s) => s.endsWith("/v1/ws")))
      fail("expected one WebSocket to /v1/ws per tab: " + sockets);
    await rate(tabs[0], tabs[1], 5, "ws", 3, 3.67);
    await rate(tabs[1], tabs[0], 1, "ws", 4, 3);

    // One tab on each transport.
    await tabs[0].selectOption("#transport", "sse");
    await waitFor("tab one back on SSE", async () => (await tabs[0].textContent("#status")) === "sse open");
    await rate(tabs[1], tabs[0], 5, "sse", 5, 3.4);
    await rate(tabs[0], tabs[1], 3, "ws", 6, 3.33);

    // A third tab opened now starts from the backend's state.
    const late = await browser.newPage();
    await late.goto(url + "?movie=dune");
    await waitFor("the late tab to show the average", async () =>
      (await late.textContent("#count")) === "6" && (await late.textContent("#average")) === "3.33");
    console.log("ok: ratings cross between tabs over SSE and over WebSocket");
  }));
});
