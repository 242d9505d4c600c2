// What both example backends share: publish to Herald over HTTP, serve the
// app's page with Herald's address filled in, and route JSON requests.
// Node 18+ and nothing else (built-in fetch and node:http).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";

// Where this backend publishes (HERALD_URL) and where browsers connect
// (HERALD_PUBLIC_URL, the same unless Herald is behind another address).
export const HERALD_URL = process.env.HERALD_URL || "http://127.0.0.1:8080";
export const PUBLIC_URL = process.env.HERALD_PUBLIC_URL || HERALD_URL;

// Publishes one event; resolves with Herald's {channel, seq, epoch, duplicate}.
// `id` makes a retry safe: Herald answers a repeated id with the original seq.
export async function publish(channel, type, data, id) {
  const res = await fetch(HERALD_URL + "/v1/publish", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ channel, type, data, id }),
  });
  if (!res.ok) throw new Error(`publish ${type} on ${channel}: ${res.status} ${await res.text()}`);
  return res.json();
}

// Serves `page` (its __HERALD_URL__ replaced) at / and each route
// [method, /regex/, handler(match, body, url)] whose handler returns
// [status, json] (or throws an error, whose `status` is answered, else
// 500). Resolves with the server once it listens.
export function startApp({ name, page, routes, port = Number(process.env.PORT || 3000) }) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const reply = (status, body, type = "application/json") => {
      res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
      res.end(type === "application/json" ? JSON.stringify(body) : body);
    };
    try {
      if (req.method === "GET" && url.pathname === "/") {
        const html = await readFile(page, "utf8");
        return reply(200, html.replaceAll("__HERALD_URL__", PUBLIC_URL), "text/html; charset=utf-8");
      }
      for (const [method, pattern, handler] of routes) {
        const match = req.method === method && url.pathname.match(pattern);
        if (!match) continue;
        let body = "";
        for await (const chunk of req) body += chunk;
        return reply(...(await handler(match, body ? JSON.parse(body) : {}, url)));
      }
      reply(404, { error: "not_found" });
    } catch (error) {
      if (!error.status) console.error(error);
      reply(error.status || 500, { error: String(error.message || error) });
    }
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => {
    console.log(`${name}: http://127.0.0.1:${server.address().port}/ (Herald at ${PUBLIC_URL})`);
    resolve(server);
  }));
}
