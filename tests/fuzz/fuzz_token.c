/*  fuzz_token: libFuzzer target for token verification, keysets and
    grants (common/hr_token, hr_keyset, hr_grant).

    The first byte picks a mode (its value mod 4):
      0  the rest is a token, verified against a fixed keyset (one EdDSA
         key "ed1", one HS256 key "hs1") at a fixed time;
      1  the rest is header JSON, a NUL, claims JSON: the harness encodes
         and signs them (EdDSA or HS256, by the next bit) so the fuzzer
         reaches the claims behind the signature;
      2  the rest is a JWKS document for hr_keyset_parse;
      3  the rest is a --public-channels list, and a pattern NUL subject
         for hr_grant_expand.
    Checked: nothing crashes or leaks, the result is one of the four codes,
    a verified token's claims keep every bound and rule, a refused one has
    no claims and a static reason.  */
#include "hr_token.h"
#include "hr_channel.h"

#include <sodium.h>
#include "fuzz_support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NOW 1700001000

static hr_keyset_t *s_keys;
static hr_token_policy_t s_policy = HR_TOKEN_POLICY_DEFAULTS;

//  True when grant is "*", a channel name, or a channel prefix ending in
//  a separator followed by '*' (written independently of hr_grant.c).
static int
s_grant_ok (const char *grant, size_t len)
{
    if (len == 1 && grant [0] == '*')
        return 1;
    if (len >= 2 && grant [len - 1] == '*')
        return strchr (":/.-", grant [len - 2]) != NULL && hr_channel_valid (grant, len - 1);
    return hr_channel_valid (grant, len);
}

//  A token's lists hold at most HR_GRANT_MAX; --public-channels any number.
static void
s_check_grants (const hr_grants_t *grants, size_t max)
{
    fz_check (grants->count <= max, "too many grants");
    for (size_t i = 0; i < grants->count; i++) {
        fz_check (strlen (grants->grant [i]) == grants->len [i], "grant length");
        fz_check (s_grant_ok (grants->grant [i], grants->len [i]), "invalid grant accepted");
        fz_check (hr_grants_match (grants, grants->grant [i], grants->len [i])
                  || grants->grant [i][grants->len [i] - 1] == '*', "exact grant does not match itself");
    }
}

static void
s_verify (const char *token, size_t size)
{
    hr_claims_t *claims = (hr_claims_t *) (uintptr_t) 1;     //  must be overwritten
    const char *why = NULL;
    hr_error_t rc = hr_token_verify (s_keys, &s_policy, token, size, S_NOW, &claims, &why);
    fz_check (rc == HR_OK || rc == HR_E_TOKEN_INVALID || rc == HR_E_TOKEN_EXPIRED
              || rc == HR_E_TOKEN_NOT_YET_VALID, "unexpected code");
    if (rc != HR_OK) {
        fz_check (claims == NULL, "claims on failure");
        fz_check (why && (why < token || why >= token + size), "reason points into the token");
        fz_check (strlen (why) > 0 && strlen (why) < 200, "reason length");
        return;
    }
    fz_check (claims != NULL, "no claims on success");
    fz_check (size <= HR_TOKEN_MAX, "oversized token accepted");
    fz_check (claims->sub_len >= 1 && claims->sub_len <= HR_TOKEN_SUB_MAX, "sub length");
    fz_check (strlen (claims->sub) == claims->sub_len, "sub not terminated");
    fz_check (claims->jti_len <= HR_TOKEN_JTI_MAX && strlen (claims->jti) == claims->jti_len,
              "jti length");
    fz_check ((__int128) claims->exp + s_policy.leeway_s > S_NOW, "expired token accepted");
    fz_check ((__int128) claims->exp - (claims->iat? claims->iat: S_NOW) <= s_policy.max_ttl_s
              || claims->iat == 0, "lifetime over the maximum");
    s_check_grants (&claims->subscribe, HR_GRANT_MAX);
    s_check_grants (&claims->publish, HR_GRANT_MAX);
    hr_claims_destroy (&claims);
    fz_check (claims == NULL, "destroy does not clear");
}

//  Mode 1: header NUL claims, signed by the harness.
static void
s_signed (const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    const hr_key_t *key = hr_keyset_key (s_keys, data [0] & 1);
    data++, size--;
    const uint8_t *nul = memchr (data, 0, size);
    if (!nul || size > HR_TOKEN_MAX)
        return;
    size_t header_len = (size_t) (nul - data);
    static char text [2 * HR_TOKEN_MAX];
    size_t n = 0;
    sodium_bin2base64 (text, sizeof text, data, header_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    n = strlen (text);
    text [n++] = '.';
    sodium_bin2base64 (text + n, sizeof text - n, nul + 1, size - header_len - 1,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    n += strlen (text + n);
    uint8_t sig [64];
    size_t sig_len = 64;
    if (key->alg == HR_ALG_EDDSA)
        crypto_sign_detached (sig, NULL, (uint8_t *) text, n, key->secret_key);
    else {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init (&st, key->hmac_key, key->hmac_key_len);
        crypto_auth_hmacsha256_update (&st, (uint8_t *) text, n);
        crypto_auth_hmacsha256_final (&st, sig);
        sig_len = 32;
    }
    text [n++] = '.';
    sodium_bin2base64 (text + n, sizeof text - n, sig, sig_len,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    n += strlen (text + n);
    s_verify (text, n);
}

static void
s_keyset (const uint8_t *data, size_t size)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_keyset_t *keys = hr_keyset_parse ((const char *) data, size, &err);
    if (!keys) {
        fz_check (err.size > 0, "refused without a reason");
        hr_buf_free (&err);
        return;
    }
    size_t count = hr_keyset_size (keys);
    fz_check (count >= 1 && count <= HR_KEYSET_MAX, "key count");
    for (size_t i = 0; i < count; i++) {
        const hr_key_t *key = hr_keyset_key (keys, i);
        fz_check (key->alg == HR_ALG_EDDSA || key->alg == HR_ALG_HS256, "alg");
        fz_check (key->kid_len <= HR_KEY_KID_MAX && strlen (key->kid) == key->kid_len, "kid");
        fz_check (count == 1 || key->kid_len > 0, "kid missing among several keys");
        fz_check (hr_keyset_find (keys, key->kid_len? key->kid: NULL, key->kid_len) == key,
                  "kid does not find its key");
        if (key->alg == HR_ALG_HS256)
            fz_check (key->hmac_key_len >= 32 && key->hmac_key_len <= HR_KEY_SECRET_MAX,
                      "HS256 secret length");
        if (key->alg == HR_ALG_EDDSA && key->has_secret)
            fz_check (memcmp (key->secret_key + 32, key->public_key, 32) == 0, "d does not match x");
    }
    hr_keyset_t *ref = hr_keyset_ref (keys);
    hr_keyset_unref (&ref);
    hr_keyset_unref (&keys);
    hr_buf_free (&err);
}

static void
s_grants (const uint8_t *data, size_t size)
{
    //  The whole input as a list (C string: up to the first NUL)
    char *list = malloc (size + 1);
    memcpy (list, data, size);
    list [size] = 0;
    hr_grants_t grants;
    hr_buf_t err = HR_BUF_INIT;
    if (hr_grants_parse_list (&grants, list, &err)) {
        s_check_grants (&grants, SIZE_MAX);
        hr_grants_free (&grants);
    }
    else
        fz_check (err.size > 0 && grants.count == 0, "refused list");
    hr_buf_free (&err);
    free (list);
    //  pattern NUL subject
    const uint8_t *nul = memchr (data, 0, size);
    if (!nul)
        return;
    hr_buf_t out = HR_BUF_INIT;
    const char *why = NULL;
    size_t sub_len = size - (size_t) (nul - data) - 1;
    if (hr_grant_expand (&out, (const char *) data, (size_t) (nul - data),
                         (const char *) nul + 1, sub_len, &why))
        fz_check (s_grant_ok (out.data, out.size), "invalid expansion accepted");
    else
        fz_check (why && out.size == 0, "refused expansion");
    hr_buf_free (&out);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_keys) {
        const char *jwks =
            "{\"keys\": [{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\","
            "\"x\":\"ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ\","
            "\"d\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\"},"
            "{\"kty\":\"oct\",\"kid\":\"hs1\",\"k\":\"aGVyYWxkLXRlc3Qtc2VjcmV0LW9mLWZvcnR5LWJ5dGVzLWxvbmchIQ\"}]}";
        hr_buf_t err = HR_BUF_INIT;
        s_keys = hr_keyset_parse (jwks, strlen (jwks), &err);
        fz_check (s_keys != NULL, "fixed keyset refused");
        hr_buf_free (&err);
    }
    if (size < 1)
        return 0;
    switch (data [0] % 4) {
        case 0: s_verify ((const char *) data + 1, size - 1); break;
        case 1: s_signed (data + 1, size - 1); break;
        case 2: s_keyset (data + 1, size - 1); break;
        default: s_grants (data + 1, size - 1); break;
    }
    return 0;
}
