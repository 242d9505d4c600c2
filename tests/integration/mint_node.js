// Mints a token with Node's built-in crypto only (no npm package), as
// docs/security.md shows: independent code that Herald must accept.
//
//   node mint_node.js KEY CLAIMS_JSON
//
// KEY: a private JWK file (herald keygen's NAME.private.jwk: OKP Ed25519
// with d, or oct for HS256), or a JWKS holding exactly one such key.
// CLAIMS_JSON: the claims as JSON text. Prints the compact token.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");

const [keyPath, claimsText] = process.argv.slice(2);
if (!keyPath || claimsText === undefined) {
  console.error("usage: node mint_node.js KEY CLAIMS_JSON");
  process.exit(2);
}
let jwk = JSON.parse(fs.readFileSync(keyPath, "utf8"));
if (Array.isArray(jwk.keys)) {
  if (jwk.keys.length !== 1) throw new Error("the JWKS must hold exactly one key");
  jwk = jwk.keys[0];
}
const claims = JSON.parse(claimsText);

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const alg = jwk.kty === "oct" ? "HS256" : "EdDSA";
const header = { alg, typ: "JWT" };
if (jwk.kid) header.kid = jwk.kid;
const input = b64url(JSON.stringify(header)) + "." + b64url(JSON.stringify(claims));

let signature;
if (alg === "EdDSA") {
  // Node takes the JWK as it is; kid and alg are ignored by the import
  const privateKey = crypto.createPrivateKey({ key: jwk, format: "jwk" });
  signature = crypto.sign(null, Buffer.from(input), privateKey);
} else {
  signature = crypto.createHmac("sha256", Buffer.from(jwk.k, "base64url")).update(input).digest();
}
process.stdout.write(input + "." + b64url(signature) + "\n");
