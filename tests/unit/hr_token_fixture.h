/*  hr_token_fixture: what test_token.c and test_token_reject.c share: the
    keys, the PyJWT fixtures, and builders for hand-made tokens.

    The fixtures were minted once by PyJWT 2.6 (python3-jwt with
    python3-cryptography) with iat 1700000000 and exp 1700003600; the tests
    verify them at a fixed "now" inside that hour, so they never expire.  */
#ifndef HERALD_TEST_TOKEN_FIXTURE_H
#define HERALD_TEST_TOKEN_FIXTURE_H

#include "hr_token.h"

#define TK_UNUSED __attribute__ ((unused))

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#define NOW 1700001000
#define S_X "ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ"
#define S_D "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"
#define S_K "aGVyYWxkLXRlc3Qtc2VjcmV0LW9mLWZvcnR5LWJ5dGVzLWxvbmchIQ"

//  The verifying keys (public EdDSA, 40-byte HS256 secret) and the same
//  with the Ed25519 private part, for minting test tokens.
static const char *s_jwks =
    "{\"keys\": [{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\",\"alg\":\"EdDSA\","
    "\"x\":\"" S_X "\"}, {\"kty\":\"oct\",\"kid\":\"hs1\",\"alg\":\"HS256\",\"k\":\"" S_K "\"}]}";
static const char *s_jwks_private =
    "{\"keys\": [{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\",\"alg\":\"EdDSA\","
    "\"x\":\"" S_X "\",\"d\":\"" S_D "\"}, {\"kty\":\"oct\",\"kid\":\"hs1\",\"k\":\"" S_K "\"}]}";

//  PyJWT: jwt.encode (claims, key, algorithm=..., headers={"kid": ...})
//  claims: sub "123", aud "herald", iss "https://issuer.example", iat, exp,
//  jti "j-1", herald {subscribe ["seller:{sub}", "business:*"], publish
//  ["seller:{sub}"], admin true}
static const char *s_pyjwt_eddsa =
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjMiLCJhdWQiOiJoZXJhbG"
    "QiLCJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2"
    "MDAsImp0aSI6ImotMSIsImhlcmFsZCI6eyJzdWJzY3JpYmUiOlsic2VsbGVyOntzdWJ9IiwiYnVzaW5lc3M6Ki"
    "JdLCJwdWJsaXNoIjpbInNlbGxlcjp7c3VifSJdLCJhZG1pbiI6dHJ1ZX19.9k5ZmzflALk2y_sSqFfhi2vI8x-G"
    "VquYQks6ze06kMgSFnSi4fuVTZfqEDtK2P2YKr0uRqM4UMCSBX6mq_1mBQ";
static const char *s_pyjwt_hs256 =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzMSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjMiLCJhdWQiOiJoZXJhbG"
    "QiLCJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2"
    "MDAsImp0aSI6ImotMSIsImhlcmFsZCI6eyJzdWJzY3JpYmUiOlsic2VsbGVyOntzdWJ9IiwiYnVzaW5lc3M6Ki"
    "JdLCJwdWJsaXNoIjpbInNlbGxlcjp7c3VifSJdLCJhZG1pbiI6dHJ1ZX19.dwODO1UFKHtbhbYc9ln_cm9n9mZv"
    "hFa5uCYkw3ZLu7Y";
//  claims: sub "u", aud ["other", "herald"], exp (no iat, no grants)
static const char *s_pyjwt_aud_array =
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiYXVkIjpbIm90aGVyIi"
    "wiaGVyYWxkIl0sImV4cCI6MTcwMDAwMzYwMH0._X1tEhPIm6I3zmViKIGNoFQjtvBmsTV8FVY-76w5ZSW-h8Wx"
    "PvJxnTXwrktDE1Jkg6zlit077uI0GUscZ1QhAw";

static hr_keyset_t *s_keys;
static hr_keyset_t *s_private;
static hr_token_policy_t s_policy = HR_TOKEN_POLICY_DEFAULTS;

TK_UNUSED static hr_keyset_t *
s_parse_keys (const char *json)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_keyset_t *keys = hr_keyset_parse (json, strlen (json), &err);
    if (!keys)
        fail_msg ("keyset refused: %s", err.data);
    hr_buf_free (&err);
    return keys;
}

TK_UNUSED static int
s_setup (void **state)
{
    (void) state;
    s_keys = s_parse_keys (s_jwks);
    s_private = s_parse_keys (s_jwks_private);
    return 0;
}

TK_UNUSED static int
s_teardown (void **state)
{
    (void) state;
    hr_keyset_unref (&s_keys);
    hr_keyset_unref (&s_private);
    return 0;
}

//  Verifies token against keys with policy; returns the code, *why set.
TK_UNUSED static hr_error_t
s_check_with (const hr_keyset_t *keys, const hr_token_policy_t *policy, const char *token,
              const char **why, hr_claims_t **claims)
{
    hr_claims_t *local = NULL;
    hr_error_t rc = hr_token_verify (keys, policy, token, strlen (token), NOW,
                                     claims? claims: &local, why);
    if (rc == HR_OK)
        assert_non_null (claims? *claims: local);
    else
        assert_null (claims? *claims: local);
    assert_non_null (*why);
    hr_claims_destroy (&local);
    return rc;
}

//  Fails unless token is refused with code rc and exactly the reason why.
TK_UNUSED static void
s_expect (const char *token, hr_error_t rc, const char *why)
{
    const char *got = NULL;
    hr_error_t code = s_check_with (s_keys, &s_policy, token, &got, NULL);
    if (code != rc || (rc != HR_OK && strcmp (got, why)))
        fail_msg ("got %s (%s), want %s (%s)", hr_error_code (code), got,
                  hr_error_code (rc), why);
}

//  How a hand-made token is signed.
typedef enum { SIGN_ED, SIGN_HS, SIGN_HS_WITH_ED_PUBLIC, SIGN_NOTHING } s_signer_t;

TK_UNUSED static void
s_put_b64 (hr_buf_t *out, const void *data, size_t size, int variant)
{
    size_t len = sodium_base64_ENCODED_LEN (size, variant);
    hr_buf_reserve (out, len);
    sodium_bin2base64 (out->data + out->size, len, data, size, variant);
    out->size += len - 1;
}

//  "header_text.payload_text.signature", the parts used as given.
TK_UNUSED static char *
s_make_text (const char *header_text, const char *payload_text, s_signer_t signer)
{
    hr_buf_t out = HR_BUF_INIT;
    hr_buf_printf (&out, "%s.%s", header_text, payload_text);
    const hr_key_t *ed = hr_keyset_key (s_private, 0), *hs = hr_keyset_key (s_private, 1);
    uint8_t sig [64];
    size_t sig_len = 0;
    if (signer == SIGN_ED) {
        crypto_sign_detached (sig, NULL, (uint8_t *) out.data, out.size, ed->secret_key);
        sig_len = 64;
    }
    else
    if (signer == SIGN_HS || signer == SIGN_HS_WITH_ED_PUBLIC) {
        crypto_auth_hmacsha256_state st;
        if (signer == SIGN_HS)
            crypto_auth_hmacsha256_init (&st, hs->hmac_key, hs->hmac_key_len);
        else
            crypto_auth_hmacsha256_init (&st, ed->public_key, 32);
        crypto_auth_hmacsha256_update (&st, (uint8_t *) out.data, out.size);
        crypto_auth_hmacsha256_final (&st, sig);
        sig_len = 32;
    }
    hr_buf_putc (&out, '.');
    if (sig_len)
        s_put_b64 (&out, sig, sig_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return hr_buf_detach (&out);
}

//  A token of header and claims JSON (base64url-encoded here).
TK_UNUSED static char *
s_make (const char *header, const char *claims, s_signer_t signer)
{
    hr_buf_t h = HR_BUF_INIT, p = HR_BUF_INIT;
    s_put_b64 (&h, header, strlen (header), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    s_put_b64 (&p, claims, strlen (claims), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *token = s_make_text (h.data, p.data, signer);
    hr_buf_free (&h);
    hr_buf_free (&p);
    return token;
}

#define ED_HEADER "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}"
#define HS_HEADER "{\"alg\":\"HS256\",\"kid\":\"hs1\"}"
#define CLAIMS(extra) "{\"sub\":\"123\",\"aud\":\"herald\",\"iat\":1700000000," \
                      "\"exp\":1700003600" extra "}"

//  Makes and checks one token; frees it.
TK_UNUSED static void
s_expect_made (const char *header, const char *claims, s_signer_t signer, hr_error_t rc,
               const char *why)
{
    char *token = s_make (header, claims, signer);
    s_expect (token, rc, why);
    free (token);
}

TK_UNUSED static void
s_assert_marketplace_claims (const hr_claims_t *c)
{
    assert_string_equal (c->sub, "123");
    assert_int_equal (c->sub_len, 3);
    assert_string_equal (c->jti, "j-1");
    assert_int_equal (c->jti_len, 3);
    assert_int_equal (c->exp, 1700003600);
    assert_int_equal (c->iat, 1700000000);
    assert_true (c->admin);
    assert_int_equal (c->subscribe.count, 2);
    assert_string_equal (c->subscribe.grant [0], "seller:123");
    assert_string_equal (c->subscribe.grant [1], "business:*");
    assert_int_equal (c->publish.count, 1);
    assert_string_equal (c->publish.grant [0], "seller:123");
    assert_true (hr_grants_match (&c->subscribe, "seller:123", 10));
    assert_false (hr_grants_match (&c->subscribe, "seller:456", 10));
    assert_false (hr_grants_match (&c->subscribe, "seller:1234", 11));
    assert_true (hr_grants_match (&c->subscribe, "business:7", 10));
    assert_false (hr_grants_match (&c->publish, "business:7", 10));
}

#endif
