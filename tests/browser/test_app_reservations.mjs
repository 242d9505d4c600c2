// examples/apps/reservations in headless Chromium: dashboards of two
// businesses against one Herald. Each sees only its business's events, in
// order, dispatched by type (through Herald's client, and through a plain
// EventSource with typed=1); after its connection is cut, a dashboard
// resumes exactly (the missed events, no reset, no reload of the list);
// with streaming blocked, it polls and still sees every event. Heartbeats
// keep a quiet stream open, and a stalled one (no FIN, no bytes) is left
// for a new one that resumes.
//
// Run: HERALD=build/herald node tests/browser/test_app_reservations.mjs
import { fileURLToPath } from "node:url";
import { fail, freePort, run, startHerald, waitFor, withBrowser } from "./harness.mjs";
import { proxy, withApp } from "./apps.mjs";

const SERVER = fileURLToPath(new URL("../../examples/apps/reservations/server.mjs", import.meta.url));

const state = (page) => page.evaluate(() => ({
  status: window.dashboard.status, events: window.dashboard.events, resets: window.dashboard.resets,
  loads: window.dashboard.loads, loaded: window.dashboard.loaded,
  rows: [...window.dashboard.reservations.values()],
}));

// Fails unless `page` received exactly `expected` ([type, id] pairs), with
// seqs from `first` up without a gap or a repeat, and shows the backend's list.
async function check(page, name, expected, first, list) {
  const s = await state(page);
  const got = s.events.map((e) => [e.type, e.id]);
  if (JSON.stringify(got) !== JSON.stringify(expected))
    fail(`${name} received ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  const seqs = s.events.map((e) => e.seq);
  if (seqs.some((seq, i) => seq !== first + i)) fail(`${name}: seqs ${seqs}`);
  if (s.resets.length) fail(`${name}: resets ${JSON.stringify(s.resets)}`);
  const sorted = (rows) => JSON.stringify(rows.sort((a, b) => a.reservationId.localeCompare(b.reservationId)));
  if (sorted(s.rows) !== sorted(list)) fail(`${name} shows ${sorted(s.rows)}, the backend ${sorted(list)}`);
}

run(async () => {
  const appPort = await freePort();
  const origin = "http://127.0.0.1:" + appPort;
  const herald = await startHerald(["run", "--http", "127.0.0.1:0", "--pull", "tcp://127.0.0.1:*",
                                    "--router", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*",
                                    "--cors-origins", origin, "--sse-retry", "300ms",
                                    "--heartbeat", "1s"]);
  const direct = herald.ready.http;
  // Browsers reach Herald through the proxy; the backend publishes directly.
  const gate = await proxy(Number(new URL(direct).port));
  const env = { HERALD_URL: direct, HERALD_PUBLIC_URL: "http://127.0.0.1:" + gate.port, PORT: String(appPort) };
  await withApp("node", [SERVER], env, (url) => withBrowser(async (browser) => {
    const api = async (method, path, body) => {
      const res = await fetch(url + path, { method, headers: { "Content-Type": "application/json" },
                                            body: body && JSON.stringify(body) });
      if (!res.ok) fail(`${method} ${path}: ${res.status}`);
      return res.json();
    };
    const create = async (businessId, customerName) =>
      (await api("POST", "api/reservas", { businessId, customerName, guestCount: 3 })).reservationId;
    const list = async (businessId) => (await api("GET", "api/reservas?businessId=" + businessId)).reservations;
    const open = async (query, before) => {
      const page = await browser.newPage();
      if (before) await before(page);
      await page.goto(url + query);
      return page;
    };
    const live = (page, status = "open", timeout) => waitFor(`the dashboard to be ${status}`, async () => {
      const s = await state(page);
      return s.status === status && s.loaded >= 1;
    }, timeout);

    // Dashboard one's client gives up on a stream after 4 s without a byte
    // (45 s by default, three of Herald's default 15 s heartbeats).
    const one = await open("?business=1", (page) =>
      page.route((u) => new URL(u).pathname === "/herald.js", async (route) => {
        const response = await route.fetch();
        const source = await response.text();
        if (!source.includes("idleTimeout: 45000")) fail("herald.js has no idleTimeout: 45000 to shorten");
        await route.fulfill({ response, body: source.replace("idleTimeout: 45000", "idleTimeout: 4000") });
      }));
    let streams = 0;
    one.on("request", (r) => { if (new URL(r.url()).pathname === "/v1/sse") streams += 1; });
    const two = await open("?business=2");
    const plain = await open("?business=1&client=eventsource");
    for (const page of [one, two, plain]) await live(page);

    // Each business's flow, as the team's API emits it.
    const ana = await create(1, "Ana");
    const bruno = await create(2, "Bruno");
    const carla = await create(1, "Carla");
    await api("PUT", "api/reservas/" + ana, { status: "CONFIRMED" });
    await api("POST", "api/reservas/qr-scan", { reservationId: ana });
    await api("DELETE", "api/reservas/" + carla);
    const flow = [["reservation-created", ana], ["reservation-created", carla],
                  ["reservation-updated", ana], ["qr-scanned", ana], ["reservation-deleted", carla]];
    for (const page of [one, plain])
      await waitFor("business 1's five events", async () => (await state(page)).events.length >= 5);
    await waitFor("business 2's event", async () => (await state(two)).events.length >= 1);
    await check(one, "business 1", flow, 1, await list(1));
    await check(plain, "business 1 (EventSource, typed=1)", flow, 1, await list(1));
    await check(two, "business 2", [["reservation-created", bruno]], 1, await list(2));
    if ((await list(1))[0].status !== "CHECKED_IN") fail("Ana not checked in");

    // Quiet for 5 s: the 1 s heartbeats keep dashboard one's stream alive.
    const before = streams;
    await new Promise((resolve) => setTimeout(resolve, 5000));
    if (streams !== before || (await state(one)).status !== "open")
      fail(`a quiet stream was dropped despite the heartbeats (${streams - before} new streams)`);

    // Cut the dashboards' connections; the business goes on meanwhile.
    gate.cut();
    for (const page of [one, plain])
      await waitFor("the dashboard to notice the cut", async () => (await state(page)).status !== "open");
    const missed = [];
    for (const name of ["Dora", "Emilio", "Fausto"]) missed.push(["reservation-created", await create(1, name)]);
    await api("PUT", "api/reservas/" + missed[0][1], { guestCount: 5 });
    missed.push(["reservation-updated", missed[0][1]]);
    gate.restore();
    for (const page of [one, plain]) {
      await waitFor("the missed events", async () => (await state(page)).events.length >= 9, 30000);
      await check(page, "business 1 after the cut", [...flow, ...missed], 1, await list(1));
      if ((await state(page)).loads !== 1) fail("the dashboard reloaded its list instead of resuming");
    }

    // Streaming blocked (a proxy that holds the stream back and never sends
    // a byte of it): after two streams silent for 5 s, the client polls.
    const blocked = await open("?business=1", (page) =>
      page.route((u) => new URL(u).pathname === "/v1/sse", () => {}));
    await live(blocked, "polling", 40000);
    await check(blocked, "the polling dashboard", [], 0, await list(1));
    const gala = await create(1, "Gala");
    const hugo = await create(2, "Hugo");
    await waitFor("the polled event", async () => (await state(blocked)).events.length >= 1);
    await check(blocked, "the polling dashboard", [["reservation-created", gala]], 10, await list(1));
    await waitFor("business 2's second event", async () => (await state(two)).events.length >= 2);
    await check(two, "business 2", [["reservation-created", bruno], ["reservation-created", hugo]],
                1, await list(2));

    // Stall every connection (no byte passes, none is closed): dashboard
    // one sees no heartbeat for 4 s, opens a new stream and resumes.
    const stalled = streams;
    gate.stall();
    const ines = await create(1, "Ines");
    await waitFor("the event after the stall", async () => (await state(one)).events.length >= 11, 30000);
    await check(one, "business 1 after the stall",
                [...flow, ...missed, ["reservation-created", gala], ["reservation-created", ines]], 1, await list(1));
    if (streams === stalled) fail("no new stream after the stall");
    if ((await state(one)).loads !== 1) fail("the dashboard reloaded its list after the stall");
    await gate.close();
    console.log("ok: per-business dashboards, typed dispatch, exact resume after a cut and a stall, heartbeats, polling");
  }));
});
