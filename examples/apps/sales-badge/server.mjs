// The sales-badge backend: the team's VentasService and payment service,
// with Herald where the `ws` server and the Redis event bus were. Every new
// sale (and every confirmed payment) is published once as SALE_CREATED on
// admin:sales; Herald's WebSocket does the rest: welcome, the auth message
// with the token this backend mints, ok, the events, a ping every 30 s.
// Only admins' tokens grant admin:sales, so nobody else receives a sale.
//
// Environment (run.sh sets it): PORT (3000), HERALD_URL (Herald's address),
// HERALD_KEY (the private JWK that signs tokens), SALE_EVERY (ms between
// simulated sales, 5000; 0: only POST /api/ventas makes sales).
import { HERALD_URL, startApp } from "../common/app.mjs";
import { minter, publishAs, serviceToken } from "../common/tokens.mjs";

const mint = minter(process.env.HERALD_KEY ?? "dev.private.jwk");
const ADMINS = new Set(["admin"]);             // the demo's role table

// The page's user (a real backend takes it from its own session; the team
// verified a Firebase token here), and what its Herald token grants: an
// admin reads every admin:* channel, anyone else only its own user:<sub>.
function grantsOf(url) {
  const user = url.searchParams.get("user") ?? "";
  if (!/^[\w-]{1,64}$/.test(user)) throw Object.assign(new Error("unknown user"), { status: 403 });
  return [user, { subscribe: ADMINS.has(user) ? ["admin:*"] : ["user:{sub}"] }];
}

const backendToken = serviceToken(mint, "sales-backend", { publish: ["admin:sales"] });
let nextSale = 1;

// VentasService.create / PaymentProcessingService.confirmPayment: the sale
// is saved (here: numbered), then announced. The id makes a retry safe.
async function saleCreated(total, source) {
  const sale = { saleId: nextSale++, total, status: "approved", source,
                 createdAt: new Date().toISOString() };
  await publishAs(HERALD_URL, backendToken(), [{ channel: "admin:sales", type: "SALE_CREATED",
                                                 id: "sale-" + sale.saleId, data: sale }]);
  console.log(`published SALE_CREATED ${sale.saleId} (${source})`);
  return sale;
}

await startApp({
  name: "badge",
  page: new URL("index.html", import.meta.url),
  port: Number(process.env.PORT ?? 3000),
  routes: [
    // The JS client's getToken: called at start, on a refusal, before exp.
    ["GET", /^\/api\/token$/, (_, __, url) => {
      const [user, grants] = grantsOf(url);
      return [200, { user, admin: ADMINS.has(user), token: mint(user, grants) }];
    }],
    // POST {total, source?}: a new sale (source "ventas" or "pago").
    ["POST", /^\/api\/ventas$/, async (_, { total = 10, source = "ventas" }) =>
      [200, await saleCreated(total, source)]],
  ],
});
const every = Number(process.env.SALE_EVERY ?? 5000);
if (every > 0)
  setInterval(() => saleCreated(5 + Math.floor(Math.random() * 95), Math.random() < 0.5
                                ? "ventas" : "pago").catch((error) => console.error(error.message)),
              every);
