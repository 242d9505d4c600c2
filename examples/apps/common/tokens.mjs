// For the example apps that check tokens (marketplace, sales-badge): mint
// Herald tokens with the private JWK `herald keygen` writes (Node's built-in
// crypto, docs/security.md §8.1), and publish as the backend itself, with
// its own token and idempotency ids.
import crypto from "node:crypto";
import fs from "node:fs";

// Returns mint(sub, grants, ttlSeconds): a signed EdDSA token for Herald.
export function minter(privateJwkPath) {
  const jwk = JSON.parse(fs.readFileSync(privateJwkPath, "utf8"));
  const key = crypto.createPrivateKey({ key: jwk, format: "jwk" });
  const b64url = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return (sub, grants, ttlSeconds = 900) => {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "EdDSA", typ: "JWT", kid: jwk.kid };
    const claims = { sub, aud: "herald", iat: now, exp: now + ttlSeconds,
                     jti: crypto.randomUUID(), herald: grants };
    const input = b64url(header) + "." + b64url(claims);
    return input + "." + crypto.sign(null, Buffer.from(input), key).toString("base64url");
  };
}

// Returns the backend's own token for `grants`, minted again a minute
// before it expires.
export function serviceToken(mint, sub, grants) {
  let token = null, exp = 0;
  return () => {
    if (Date.now() / 1000 > exp - 60) { token = mint(sub, grants, 900); exp = Date.now() / 1000 + 900; }
    return token;
  };
}

// Publishes events ({channel, type, data, id}) through the gateway at
// `url` with `token`. A 503 (no broker yet, or a channel's new owner
// waiting out its fence right after a cluster starts) or a 207 (some
// events of the array not published) is retried whole with the same ids:
// Herald answers those already sequenced as duplicates, never twice.
export async function publishAs(url, token, events, attempts = 20) {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(url + "/v1/publish", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
      body: JSON.stringify(events),
    });
    const body = await response.json();
    if (response.status === 200) return body;
    if ((response.status !== 503 && response.status !== 207) || attempt >= attempts)
      throw new Error(`publish through ${url}: ${response.status} ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
}
