// Publish one event with HTTP POST /v1/publish (docs/protocol.md §8) using
// Node's built-in fetch (Node 18 or later): no package needed.
// Run: node fetch.mjs         (HERALD_URL: the gateway, default http://127.0.0.1:8080)
const url = (process.env.HERALD_URL || "http://127.0.0.1:8080") + "/v1/publish";
const response = await fetch(url, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ channel: "demo", type: "greeting", data: { from: "node-fetch" } }),
});
console.log(await response.text()); // {"channel":"demo","seq":1,"epoch":"…","duplicate":false}
if (!response.ok) process.exit(1);
