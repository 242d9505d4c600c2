/*  hr_keyset: the keys that verify (and, for the CLI, sign) tokens, read
    from a JWKS file (RFC 7517): {"keys": [...]} with

      {"kty":"OKP","crv":"Ed25519","x":B64URL,"kid":K,"alg":"EdDSA"}   public
      {"kty":"OKP","crv":"Ed25519","x":..,"d":B64URL,...}               private (CLI)
      {"kty":"oct","k":B64URL,"kid":K,"alg":"HS256"}                    shared secret

    `alg` may be "Ed25519" for EdDSA keys; a key without `alg` gets it from
    its type. A key without `kid` is allowed only when it is the only key.
    HS256 secrets under 32 bytes are refused (RFC 7518 §3.2). At most
    HR_KEYSET_MAX keys, a file of at most HR_KEYSET_MAX_FILE bytes.

    A keyset is immutable once loaded and reference-counted, so a reload
    (SIGHUP) swaps in a new one while requests still hold the old.  */
#ifndef HR_KEYSET_H
#define HR_KEYSET_H

#include "hr_buf.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_KEYSET_MAX 64
#define HR_KEYSET_MAX_FILE (256 * 1024)
#define HR_KEY_KID_MAX 128              //  bytes of a kid
#define HR_KEY_SECRET_MAX 1024          //  bytes of an HS256 secret

typedef enum { HR_ALG_EDDSA = 1, HR_ALG_HS256 } hr_alg_t;

typedef struct {
    char kid [HR_KEY_KID_MAX + 1];      //  "" when the file gave none
    size_t kid_len;
    hr_alg_t alg;
    uint8_t public_key [32];            //  EdDSA
    uint8_t secret_key [64];            //  EdDSA with `d` (libsodium form: seed || public)
    bool has_secret;                    //  EdDSA key with `d`, or any HS256 key
    uint8_t *hmac_key;                  //  HS256: the secret (owned by the keyset)
    size_t hmac_key_len;
    //  HS256: HMAC-SHA256 keyed with the secret, before any message (the
    //  inner and outer pads hashed once at load); a verification copies it
    crypto_auth_hmacsha256_state hmac_state;
} hr_key_t;

typedef struct _hr_keyset_t hr_keyset_t;

//  Parses a JWKS document. Returns a new keyset (reference count 1), or
//  NULL with a one-line reason in err ("key 2 (kid \"a\"): HS256 secret is
//  16 bytes, at least 32 are required").
hr_keyset_t *hr_keyset_parse (const char *json, size_t size, hr_buf_t *err);

//  Reads and parses the file at path; NULL with a reason in err.
hr_keyset_t *hr_keyset_load (const char *path, hr_buf_t *err);

//  Another reference to self (thread-safe). Returns self.
hr_keyset_t *hr_keyset_ref (hr_keyset_t *self);

//  Drops a reference (thread-safe); frees at zero. Sets *self_p to NULL.
void hr_keyset_unref (hr_keyset_t **self_p);

//  Number of keys.
size_t hr_keyset_size (const hr_keyset_t *self);

//  The i-th key, in file order. Borrowed: lives as long as the keyset.
const hr_key_t *hr_keyset_key (const hr_keyset_t *self, size_t i);

//  The key for kid, or with kid NULL the only key when there is exactly
//  one. NULL when there is none. Borrowed.
const hr_key_t *hr_keyset_find (const hr_keyset_t *self, const char *kid, size_t kid_len);

#endif
