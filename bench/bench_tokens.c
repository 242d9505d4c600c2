/*  bench_tokens: token verifications per second per core.

    Measures, on one thread and in CPU time (so other load on the machine
    slows both sides alike), a whole token check (hr_token_verify: split,
    base64url, header, key, signature, claims, {sub} grants, then one grant
    match and hr_claims_destroy) against the bare primitive on the same
    bytes: crypto_sign_verify_detached for EdDSA, crypto_auth_hmacsha256
    for HS256. Rounds alternate whole and bare so drift hits both; the
    rate reported is the median round. See bench/README.md.

        herald-bench-tokens [--seconds S] [--rounds N] [--only EdDSA|HS256] [--json]

    --only measures one algorithm (for a profiler).  */
#include "hr_token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_ROUNDS_MAX 99

//  The token a marketplace seller would carry: six claims, three grants.
#define S_CLAIMS "{\"sub\":\"123\",\"aud\":\"herald\",\"iss\":\"https://id.example\"," \
    "\"iat\":1700000000,\"exp\":1700003600,\"jti\":\"5f2c9a51-3d1e-4c1b-9c36-0d1e7a1f2b3c\"," \
    "\"herald\":{\"subscribe\":[\"seller:{sub}\",\"business:*\"],\"publish\":[\"seller:{sub}\"]}}"
#define S_NOW 1700001000

static double
s_cpu_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef struct {
    const hr_keyset_t *keys;
    const hr_key_t *key;
    const char *token;
    size_t size;
    const uint8_t *signed_text;         //  "header.payload"
    size_t signed_len;
    uint8_t sig [64];
} s_case_t;

static hr_token_policy_t s_policy = HR_TOKEN_POLICY_DEFAULTS;
static volatile int s_sink;             //  keeps results alive

static void
s_whole (const s_case_t *c)
{
    hr_claims_t *claims;
    const char *why;
    if (hr_token_verify (c->keys, &s_policy, c->token, c->size, S_NOW, &claims, &why) != HR_OK) {
        fprintf (stderr, "bench_tokens: the token does not verify: %s\n", why);
        exit (1);
    }
    s_sink += hr_grants_match (&claims->subscribe, "seller:123", 10);
    hr_claims_destroy (&claims);
}

static void
s_bare (const s_case_t *c)
{
    if (c->key->alg == HR_ALG_EDDSA)
        s_sink += crypto_sign_verify_detached (c->sig, c->signed_text, c->signed_len,
                                               c->key->public_key);
    else {
        uint8_t mac [32];
        crypto_auth_hmacsha256 (mac, c->signed_text, c->signed_len, c->key->hmac_key);
        s_sink += mac [0];
    }
}

//  Calls fn for about seconds of CPU time; returns calls per CPU second.
static double
s_rate (void (*fn) (const s_case_t *), const s_case_t *c, double seconds)
{
    size_t calls = 0, batch = 64;
    double start = s_cpu_now (), elapsed;
    do {
        for (size_t i = 0; i < batch; i++)
            fn (c);
        calls += batch;
        elapsed = s_cpu_now () - start;
    } while (elapsed < seconds);
    return (double) calls / elapsed;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

//  Median rates of the whole check and the bare primitive, rounds alternated.
static void
s_measure (const s_case_t *c, double seconds, int rounds, double *whole, double *bare)
{
    double w [S_ROUNDS_MAX], b [S_ROUNDS_MAX];
    s_rate (s_whole, c, seconds / 4);   //  warm caches and the allocator
    s_rate (s_bare, c, seconds / 4);
    for (int i = 0; i < rounds; i++) {
        w [i] = s_rate (s_whole, c, seconds);
        b [i] = s_rate (s_bare, c, seconds);
    }
    qsort (w, (size_t) rounds, sizeof (double), s_cmp);
    qsort (b, (size_t) rounds, sizeof (double), s_cmp);
    *whole = w [rounds / 2];
    *bare = b [rounds / 2];
}

static void
s_case_init (s_case_t *c, const hr_keyset_t *keys, size_t index, hr_buf_t *token)
{
    hr_buf_t err = HR_BUF_INIT;
    c->keys = keys;
    c->key = hr_keyset_key (keys, index);
    if (!hr_token_sign (token, c->key, S_CLAIMS, &err)) {
        fprintf (stderr, "bench_tokens: %s\n", err.data);
        exit (1);
    }
    c->token = token->data;
    c->size = token->size;
    const char *dot = strrchr (token->data, '.');
    c->signed_text = (const uint8_t *) token->data;
    c->signed_len = (size_t) (dot - token->data);
    size_t sig_len;
    sodium_base642bin (c->sig, sizeof c->sig, dot + 1, strlen (dot + 1), NULL, &sig_len, NULL,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hr_buf_free (&err);
}

int
main (int argc, char **argv)
{
    double seconds = 0.5;
    int rounds = 7;
    bool json = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv [i], "--seconds") && i + 1 < argc)
            seconds = atof (argv [++i]);
        else
        if (!strcmp (argv [i], "--rounds") && i + 1 < argc)
            rounds = atoi (argv [++i]);
        else
        if (!strcmp (argv [i], "--only") && i + 1 < argc)
            only = argv [++i];
        else
        if (!strcmp (argv [i], "--json"))
            json = true;
        else {
            fprintf (stderr, "usage: herald-bench-tokens [--seconds S (0.5)] [--rounds N (7)] "
                     "[--only EdDSA|HS256] [--json]\n");
            return 2;
        }
    }
    if (seconds <= 0 || rounds < 1 || rounds > S_ROUNDS_MAX) {
        fprintf (stderr, "bench_tokens: --seconds must be > 0, --rounds 1..%d\n", S_ROUNDS_MAX);
        return 2;
    }
    //  Two keys, so kid selects one, as in a rotation
    uint8_t seed [32], public_key [32], secret_key [64], secret [32];
    for (int i = 0; i < 32; i++) {
        seed [i] = (uint8_t) i;
        secret [i] = (uint8_t) (0xa0 + i);
    }
    if (sodium_init () < 0)
        return 1;
    crypto_sign_seed_keypair (public_key, secret_key, seed);
    char x [64], d [64], k [64];
    sodium_bin2base64 (x, sizeof x, public_key, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64 (d, sizeof d, seed, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64 (k, sizeof k, secret, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hr_buf_t jwks = HR_BUF_INIT, err = HR_BUF_INIT;
    hr_buf_printf (&jwks, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed-2026\","
                   "\"x\":\"%s\",\"d\":\"%s\"},{\"kty\":\"oct\",\"kid\":\"hs-2026\",\"k\":\"%s\"}]}",
                   x, d, k);
    hr_keyset_t *keys = hr_keyset_parse (jwks.data, jwks.size, &err);
    if (!keys) {
        fprintf (stderr, "bench_tokens: %s\n", err.data);
        return 1;
    }
    const char *names [] = { "EdDSA", "HS256" };
    const double targets [] = { 0.85, 0.5 };
    double whole [2], bare [2];
    size_t sizes [2];
    bool skip [2];
    for (size_t i = 0; i < 2; i++)
        skip [i] = only && strcmp (only, names [i]);
    if (skip [0] && skip [1]) {
        fprintf (stderr, "bench_tokens: --only takes EdDSA or HS256\n");
        return 2;
    }
    for (size_t i = 0; i < 2; i++) {
        if (skip [i])
            continue;
        hr_buf_t token = HR_BUF_INIT;
        s_case_t c;
        s_case_init (&c, keys, i, &token);
        sizes [i] = token.size;
        s_measure (&c, seconds, rounds, &whole [i], &bare [i]);
        hr_buf_free (&token);
    }
    if (json) {
        printf ("{");
        for (size_t i = 0; i < 2; i++)
            if (!skip [i])
                printf ("%s\"%s\":{\"token_bytes\":%zu,\"whole_per_s\":%.0f,\"bare_per_s\":%.0f,"
                        "\"ratio\":%.3f,\"target\":%.2f}", i && !skip [0]? ",": "", names [i],
                        sizes [i], whole [i], bare [i], whole [i] / bare [i], targets [i]);
        printf ("}\n");
    }
    else {
        printf ("per CPU second, one thread, median of %d rounds of %.2f s\n", rounds, seconds);
        for (size_t i = 0; i < 2; i++)
            if (!skip [i])
                printf ("%-6s token %zu B: whole check %9.0f/s, bare %s %9.0f/s, ratio %.3f "
                        "(target >= %.2f)\n", names [i], sizes [i], whole [i],
                        i? "HMAC-SHA256 ": "verify_detached", bare [i], whole [i] / bare [i],
                        targets [i]);
    }
    hr_keyset_unref (&keys);
    hr_buf_free (&jwks);
    hr_buf_free (&err);
    return 0;
}
