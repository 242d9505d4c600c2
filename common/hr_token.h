/*  hr_token: JSON Web Tokens as Herald accepts them (docs/security.md).

    Verification: a compact JWS of three base64url parts (strict: no
    padding, no other alphabet), at most HR_TOKEN_MAX bytes. The header's
    `alg` must be the algorithm pinned on the key that `kid` selects (kid
    is required when the keyset holds several keys); `alg: none` and the
    headers crit, jku, jwk, x5u and x5c are refused. EdDSA signatures are
    checked with crypto_sign_verify_detached, HS256 with libsodium's
    HMAC-SHA256 compared in constant time. Header and claims are JSON
    objects parsed with duplicate keys refused. Claims: sub and exp
    required, aud equal to the policy's audience (a string, or an array
    holding it), iss equal to the policy's issuer when one is set, exp, nbf
    and iat checked with the leeway, lifetime (exp - iat, or exp - now
    without iat) at most max_ttl. Grants sit under "herald":
    {"subscribe": [...], "publish": [...], "admin": bool}.  */
#ifndef HR_TOKEN_H
#define HR_TOKEN_H

#include "hr_error.h"
#include "hr_grant.h"
#include "hr_keyset.h"

#include <stdbool.h>
#include <stdint.h>

#define HR_TOKEN_MAX 8192               //  bytes of a whole token
#define HR_TOKEN_SUB_MAX 256            //  bytes of sub
#define HR_TOKEN_JTI_MAX 128            //  bytes of jti

typedef struct {
    const char *audience;               //  required aud (default "herald")
    const char *issuer;                 //  required iss, or NULL for any
    int64_t leeway_s;                   //  clock skew allowed on exp, nbf, iat
    int64_t max_ttl_s;                  //  longest lifetime accepted
} hr_token_policy_t;

#define HR_TOKEN_POLICY_DEFAULTS { .audience = "herald", .issuer = NULL, \
                                   .leeway_s = 30, .max_ttl_s = 24 * 3600 }

//  What a verified token says. Owned by the caller: hr_claims_destroy.
typedef struct {
    char sub [HR_TOKEN_SUB_MAX + 1];
    size_t sub_len;
    char jti [HR_TOKEN_JTI_MAX + 1];    //  "" when absent
    size_t jti_len;
    int64_t exp;                        //  Unix seconds
    int64_t iat;                        //  0 when absent
    hr_grants_t subscribe;              //  {sub} already expanded
    hr_grants_t publish;
    bool admin;
} hr_claims_t;

//  Verifies token against keys and policy at Unix time now_s. On success
//  returns HR_OK and a new claims object in *claims. Otherwise returns
//  HR_E_TOKEN_EXPIRED, HR_E_TOKEN_NOT_YET_VALID or HR_E_TOKEN_INVALID, and
//  *why points to a short static reason ("signature does not verify",
//  "unknown kid", "aud is not \"herald\"", "grant \"seller:1*\": ...").
//  Reasons never quote the token. Never fails on an assert: any bytes may
//  come in.
hr_error_t hr_token_verify (const hr_keyset_t *keys, const hr_token_policy_t *policy,
                            const char *token, size_t size, int64_t now_s,
                            hr_claims_t **claims, const char **why);

//  Frees claims and sets *claims_p to NULL.
void hr_claims_destroy (hr_claims_t **claims_p);

//  A copy of claims (caller owns), and the bytes one takes on the heap.
hr_claims_t *hr_claims_dup (const hr_claims_t *claims);
size_t hr_claims_bytes (const hr_claims_t *claims);

//  Signs claims_json (a JSON object, used as is) with key, which must hold
//  a secret (an EdDSA key with d, or HS256). Appends the compact token to
//  out. Returns false with a reason in err. For `herald token` and tests.
bool hr_token_sign (hr_buf_t *out, const hr_key_t *key, const char *claims_json,
                    hr_buf_t *err);

#endif
