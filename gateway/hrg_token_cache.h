/*  hrg_token_cache: tokens this gateway verified recently, so a token
    used again (a reconnect, another tab, the next publish) costs a hash
    instead of a signature check.

    Direct-mapped on a BLAKE2b-256 digest of the token's bytes: at most
    `slots` entries, a new one replaces whatever held its slot. An entry
    answers only for the keyset generation it was verified under (a reload
    empties the cache in effect) and only until its exp (+ leeway): the
    answer is exactly what verifying again would say. Revocation is not
    cached: the caller checks it on every use. Thread-safe.  */
#ifndef HRG_TOKEN_CACHE_H
#define HRG_TOKEN_CACHE_H

#include "hr_token.h"

#include <stddef.h>
#include <stdint.h>

typedef struct _hrg_token_cache_t hrg_token_cache_t;

#define HRG_TOKEN_DIGEST 32

//  A new, empty cache of slots entries (slots > 0). Caller owns.
hrg_token_cache_t *hrg_token_cache_new (size_t slots);
void hrg_token_cache_destroy (hrg_token_cache_t **self_p);

//  The digest a token is cached under.
void hrg_token_cache_digest (uint8_t digest [HRG_TOKEN_DIGEST], const char *token, size_t size);

//  A copy of the claims cached for digest under keyset generation, when
//  they are still valid at now_s with leeway_s (caller owns); else NULL.
hr_claims_t *hrg_token_cache_get (hrg_token_cache_t *self,
                                  const uint8_t digest [HRG_TOKEN_DIGEST],
                                  uint64_t generation, int64_t now_s, int64_t leeway_s);

//  Caches a copy of claims (verified under generation) for digest.
void hrg_token_cache_put (hrg_token_cache_t *self, const uint8_t digest [HRG_TOKEN_DIGEST],
                          uint64_t generation, const hr_claims_t *claims);

//  Entries held, and the bytes they take (herald_token_cache_bytes).
size_t hrg_token_cache_count (hrg_token_cache_t *self);
size_t hrg_token_cache_bytes (hrg_token_cache_t *self);

#endif
