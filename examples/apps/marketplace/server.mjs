// The marketplace backend: the REST service of the team's system, with
// Herald where Redis pub/sub and the realtime service were. It "logs in"
// an admin or a seller, mints each one a token that grants only its own
// channel, serves the page, simulates orders and publishes the stats
// events: SELLER_STATS_UPDATED to seller:<id>, ADMIN_STATS_UPDATED to
// stats:global. Herald filters by channel, so no event reaches the wrong
// user whatever a page asks for.
//
// Environment (run.sh sets it): PORT (8000), HERALD_KEY (the private JWK),
// GATEWAYS (the gateways' URLs, comma-separated), ORDER_EVERY (ms between
// simulated order changes, 3000; 0: only POST /api/orders makes orders).
import { startApp } from "../common/app.mjs";
import { minter, publishAs, serviceToken } from "../common/tokens.mjs";

const gateways = (process.env.GATEWAYS ?? "http://127.0.0.1:8080").split(",");
const mint = minter(process.env.HERALD_KEY ?? "dev.private.jwk");
const SELLERS = [1, 2, 3];

// Who may read what: the whole authorisation of the realtime side. The
// team's hub.go compared client.SellerID with event.SellerID for every
// event; here the token says it once and every gateway enforces it.
function userOf(url) {
  const name = url.searchParams.get("user") ?? "";
  if (name === "admin") return { sub: "admin", role: "ADMIN", subscribe: ["stats:global"] };
  const seller = Number(/^seller-(\d+)$/.exec(name)?.[1]);
  if (SELLERS.includes(seller))
    return { sub: String(seller), role: "SELLER", sellerId: seller, subscribe: ["seller:{sub}"] };
  throw Object.assign(new Error("unknown user"), { status: 403 });
}

// The backend's own token: it publishes every stats channel and reads none.
const backendToken = serviceToken(mint, "marketplace-backend",
                                  { publish: ["stats:global", "seller:*"] });

// The report service's numbers, kept in memory for the demo.
const orders = new Map();                        // id -> {id, seller, amount, status}
const emptyStats = () => ({ orders: 0, revenue: 0, paid: 0, delivered: 0 });
const totals = emptyStats();
const perSeller = new Map(SELLERS.map((id) => [id, emptyStats()]));
let nextOrder = 1, published = 0, sessions = 0;

// One order change: the stats move, then two events, one per audience,
// published together through the next gateway in turn (any gateway reaches
// every subscriber on every gateway: what Redis between instances was for).
async function orderChanged(order, action) {
  for (const stats of [totals, perSeller.get(order.seller)]) {
    if (action === "order_created") { stats.orders++; stats.revenue += order.amount; }
    if (action === "payment_verified") stats.paid++;
    if (action === "order_delivered") stats.delivered++;
  }
  const metadata = { order_id: order.id, status: order.status, action };
  const gateway = gateways[published++ % gateways.length];
  await publishAs(gateway, backendToken(), [
    { channel: "seller:" + order.seller, type: "SELLER_STATS_UPDATED",
      id: `order-${order.id}-${action}-seller`,
      data: { seller_id: String(order.seller), metadata,
              stats: { ...perSeller.get(order.seller) } } },
    { channel: "stats:global", type: "ADMIN_STATS_UPDATED",
      id: `order-${order.id}-${action}-admin`,
      data: { metadata, stats: { ...totals } } },
  ]);
  console.log(`published ${action} of order ${order.id} (seller ${order.seller}) via ${gateway}`);
}

async function createOrder(seller, amount) {
  const order = { id: nextOrder++, seller, amount, status: "pending" };
  orders.set(order.id, order);
  await orderChanged(order, "order_created");
  return order;
}

// The simulation: new orders, payments verified, orders delivered.
function simulate() {
  const open = [...orders.values()].filter((o) => o.status !== "delivered");
  const order = open[Math.floor(Math.random() * open.length)];
  if (!order || Math.random() < 0.5)
    return createOrder(SELLERS[Math.floor(Math.random() * SELLERS.length)],
                       5 + Math.floor(Math.random() * 95));
  const payment = order.status === "pending";
  order.status = payment ? "payment_confirmed" : "delivered";
  return orderChanged(order, payment ? "payment_verified" : "order_delivered");
}

await startApp({
  name: "marketplace",
  page: new URL("index.html", import.meta.url),
  port: Number(process.env.PORT ?? 8000),
  routes: [
    // The page's session: who it is, what it reads, which gateway it uses
    // (?gateway=N picks one, else they take turns). A real backend takes
    // the user from its own login session; this demo takes it from the URL.
    ["GET", /^\/api\/session$/, (_, __, url) => {
      const user = userOf(url);
      const asked = Number(url.searchParams.get("gateway"));
      const gateway = gateways[asked >= 1 && asked <= gateways.length
                               ? asked - 1 : sessions++ % gateways.length];
      return [200, { role: user.role, sellerId: user.sellerId ?? null, gateway,
                     channels: user.subscribe.map((grant) => grant.replace("{sub}", user.sub)),
                     stats: user.role === "ADMIN" ? totals : perSeller.get(user.sellerId) }];
    }],
    // The JS client's getToken: called at start, on a refusal, before exp.
    ["GET", /^\/api\/token$/, (_, __, url) => {
      const user = userOf(url);
      return [200, { token: mint(user.sub, { subscribe: user.subscribe }) }];
    }],
    // POST {seller, amount?}: a new order, as the team's CreateOrder.ts.
    ["POST", /^\/api\/orders$/, async (_, { seller, amount = 10 }) => {
      if (!SELLERS.includes(seller)) return [400, { error: "no such seller" }];
      const order = await createOrder(seller, amount);
      return [200, { order_id: order.id }];
    }],
  ],
});
const every = Number(process.env.ORDER_EVERY ?? 3000);
if (every > 0) setInterval(() => simulate().catch((error) => console.error(error.message)), every);
