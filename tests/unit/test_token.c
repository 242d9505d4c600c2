/*  test_token: JWT verification and signing (common/hr_token,
    docs/security.md): tokens minted by PyJWT, the RFC 8037 A.4 and RFC
    7515 A.1 vectors, and every rejection the issue lists.

    The fixtures were minted once by PyJWT 2.6 (python3-jwt with
    python3-cryptography) with iat 1700000000 and exp 1700003600; the tests
    verify them at a fixed "now" inside that hour, so they never expire.  */
#include "hr_token.h"

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

static hr_keyset_t *
s_parse_keys (const char *json)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_keyset_t *keys = hr_keyset_parse (json, strlen (json), &err);
    if (!keys)
        fail_msg ("keyset refused: %s", err.data);
    hr_buf_free (&err);
    return keys;
}

static int
s_setup (void **state)
{
    (void) state;
    s_keys = s_parse_keys (s_jwks);
    s_private = s_parse_keys (s_jwks_private);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hr_keyset_unref (&s_keys);
    hr_keyset_unref (&s_private);
    return 0;
}

//  Verifies token against keys with policy; returns the code, *why set.
static hr_error_t
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
static void
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

static void
s_put_b64 (hr_buf_t *out, const void *data, size_t size, int variant)
{
    size_t len = sodium_base64_ENCODED_LEN (size, variant);
    hr_buf_reserve (out, len);
    sodium_bin2base64 (out->data + out->size, len, data, size, variant);
    out->size += len - 1;
}

//  "header_text.payload_text.signature", the parts used as given.
static char *
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
static char *
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
static void
s_expect_made (const char *header, const char *claims, s_signer_t signer, hr_error_t rc,
               const char *why)
{
    char *token = s_make (header, claims, signer);
    s_expect (token, rc, why);
    free (token);
}

static void
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

static void
test_pyjwt_eddsa_token_is_accepted (void **state)
{
    (void) state;
    const char *why;
    hr_claims_t *claims = NULL;
    assert_int_equal (s_check_with (s_keys, &s_policy, s_pyjwt_eddsa, &why, &claims), HR_OK);
    s_assert_marketplace_claims (claims);
    hr_claims_destroy (&claims);
    assert_null (claims);
}

static void
test_pyjwt_hs256_token_is_accepted (void **state)
{
    (void) state;
    const char *why;
    hr_claims_t *claims = NULL;
    hr_token_policy_t policy = s_policy;
    policy.issuer = "https://issuer.example";
    assert_int_equal (s_check_with (s_keys, &policy, s_pyjwt_hs256, &why, &claims), HR_OK);
    s_assert_marketplace_claims (claims);
    hr_claims_destroy (&claims);
}

static void
test_pyjwt_aud_array_without_iat_is_accepted (void **state)
{
    (void) state;
    const char *why;
    hr_claims_t *claims = NULL;
    assert_int_equal (s_check_with (s_keys, &s_policy, s_pyjwt_aud_array, &why, &claims),
                      HR_OK);
    assert_string_equal (claims->sub, "u");
    assert_string_equal (claims->jti, "");
    assert_int_equal (claims->jti_len, 0);
    assert_int_equal (claims->iat, 0);
    assert_false (claims->admin);
    assert_int_equal (claims->subscribe.count, 0);
    assert_false (hr_grants_match (&claims->subscribe, "u", 1));
    hr_claims_destroy (&claims);
}

//  RFC 8037 A.4: its payload is not JSON, so a token whose signature
//  verifies fails on the claims, and one whose signature does not fails on
//  the signature (which is checked first).
static void
test_rfc8037_a4_signature_verifies (void **state)
{
    (void) state;
    hr_keyset_t *keys = s_parse_keys (
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}");
    char token [] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0"
                    "JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    const char *why;
    assert_int_equal (s_check_with (keys, &s_policy, token, &why, NULL), HR_E_TOKEN_INVALID);
    assert_string_equal (why, "claims are not JSON (or repeat a key)");
    token [60] = token [60] == 'A'? 'B': 'A';
    assert_int_equal (s_check_with (keys, &s_policy, token, &why, NULL), HR_E_TOKEN_INVALID);
    assert_string_equal (why, "signature does not verify");
    hr_keyset_unref (&keys);
}

//  RFC 7515 A.1: an HS256 key of 64 bytes; its claims have no sub.
static void
test_rfc7515_a1_signature_verifies (void **state)
{
    (void) state;
    hr_keyset_t *keys = s_parse_keys (
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
        "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}]}");
    assert_int_equal (hr_keyset_key (keys, 0)->hmac_key_len, 64);
    char token [] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEz"
                    "MDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CV"
                    "P-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const char *why;
    assert_int_equal (s_check_with (keys, &s_policy, token, &why, NULL), HR_E_TOKEN_INVALID);
    assert_string_equal (why, "sub is missing or not a string of 1..256 bytes");
    char *sig = strrchr (token, '.') + 5;
    *sig = *sig == 'A'? 'B': 'A';
    assert_int_equal (s_check_with (keys, &s_policy, token, &why, NULL), HR_E_TOKEN_INVALID);
    assert_string_equal (why, "signature does not verify");
    hr_keyset_unref (&keys);
}

static void
test_signed_tokens_round_trip (void **state)
{
    (void) state;
    const char *claims_json = CLAIMS (",\"jti\":\"j-1\",\"herald\":{\"subscribe\":"
                                      "[\"seller:{sub}\",\"business:*\"],\"publish\":"
                                      "[\"seller:{sub}\"],\"admin\":true}");
    for (size_t i = 0; i < 2; i++) {
        hr_buf_t token = HR_BUF_INIT, err = HR_BUF_INIT;
        assert_true (hr_token_sign (&token, hr_keyset_key (s_private, i), claims_json, &err));
        const char *why;
        hr_claims_t *claims = NULL;
        assert_int_equal (s_check_with (s_keys, &s_policy, token.data, &why, &claims), HR_OK);
        s_assert_marketplace_claims (claims);
        hr_claims_destroy (&claims);
        hr_buf_free (&token);
        hr_buf_free (&err);
    }
}

static void
test_sign_refuses_public_key_and_bad_claims (void **state)
{
    (void) state;
    hr_buf_t token = HR_BUF_INIT, err = HR_BUF_INIT;
    assert_false (hr_token_sign (&token, hr_keyset_key (s_keys, 0), CLAIMS (""), &err));
    assert_non_null (strstr (err.data, "no secret"));
    hr_buf_reset (&err);
    assert_false (hr_token_sign (&token, hr_keyset_key (s_private, 0), "[1]", &err));
    assert_false (hr_token_sign (&token, hr_keyset_key (s_private, 0),
                                 "{\"a\":1,\"a\":2}", &err));
    assert_int_equal (token.size, 0);
    hr_buf_free (&token);
    hr_buf_free (&err);
}

static void
test_ed25519_alg_name_is_accepted_for_eddsa_keys (void **state)
{
    (void) state;
    s_expect_made ("{\"alg\":\"Ed25519\",\"kid\":\"ed1\"}", CLAIMS (""), SIGN_ED, HR_OK, NULL);
    s_expect_made ("{\"alg\":\"Ed25519\",\"kid\":\"hs1\"}", CLAIMS (""), SIGN_HS,
                   HR_E_TOKEN_INVALID, "alg is not the key's algorithm");
}

static void
test_alg_none_is_refused (void **state)
{
    (void) state;
    s_expect_made ("{\"alg\":\"none\",\"kid\":\"ed1\"}", CLAIMS (""), SIGN_NOTHING,
                   HR_E_TOKEN_INVALID, "alg none is refused");
    s_expect_made ("{\"alg\":\"none\",\"kid\":\"ed1\"}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "alg none is refused");
    s_expect_made ("{\"kid\":\"ed1\"}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "header alg is missing or not a string");
    s_expect_made ("{\"alg\":7,\"kid\":\"ed1\"}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "header alg is missing or not a string");
}

//  The classic confusion attack: the public key used as an HMAC secret.
static void
test_eddsa_key_resigned_as_hs256_is_refused (void **state)
{
    (void) state;
    s_expect_made ("{\"alg\":\"HS256\",\"kid\":\"ed1\"}", CLAIMS (""), SIGN_HS_WITH_ED_PUBLIC,
                   HR_E_TOKEN_INVALID, "alg is not the key's algorithm");
    //  Also with a lone key selected without a kid
    hr_keyset_t *keys = s_parse_keys ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                      "\"x\":\"" S_X "\"}]}");
    char *token = s_make ("{\"alg\":\"HS256\"}", CLAIMS (""), SIGN_HS_WITH_ED_PUBLIC);
    const char *why;
    assert_int_equal (s_check_with (keys, &s_policy, token, &why, NULL), HR_E_TOKEN_INVALID);
    assert_string_equal (why, "alg is not the key's algorithm");
    free (token);
    //  And the other way: an HS256 key named with EdDSA
    s_expect_made ("{\"alg\":\"EdDSA\",\"kid\":\"hs1\"}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "alg is not the key's algorithm");
    s_expect_made ("{\"alg\":\"HS512\",\"kid\":\"hs1\"}", CLAIMS (""), SIGN_HS,
                   HR_E_TOKEN_INVALID, "alg is not the key's algorithm");
    hr_keyset_unref (&keys);
}

//  Flips one signature character in the middle (the last one carries
//  padding bits, which the strict decoder would refuse anyway).
static void
test_bad_signature_is_refused (void **state)
{
    (void) state;
    const char *fixtures [] = { s_pyjwt_eddsa, s_pyjwt_hs256 };
    for (size_t i = 0; i < 2; i++) {
        char *token = strdup (fixtures [i]);
        char *sig = strrchr (token, '.') + 10;
        *sig = *sig == 'A'? 'B': 'A';
        s_expect (token, HR_E_TOKEN_INVALID, "signature does not verify");
        //  A signature of the wrong length
        strcpy (strrchr (token, '.') + 1, "AAAA");
        s_expect (token, HR_E_TOKEN_INVALID, "signature does not verify");
        *strrchr (token, '.') = 0;
        s_expect (token, HR_E_TOKEN_INVALID, "not three parts separated by '.'");
        free (token);
    }
    s_expect_made (HS_HEADER, CLAIMS (""), SIGN_HS, HR_OK, NULL);
    s_expect_made (ED_HEADER, CLAIMS (""), SIGN_HS, HR_E_TOKEN_INVALID,
                   "signature does not verify");
    s_expect_made (HS_HEADER, CLAIMS (""), SIGN_NOTHING, HR_E_TOKEN_INVALID,
                   "signature does not verify");
}

//  The payload of one valid token under the signature of another.
static void
test_tampered_payload_is_refused (void **state)
{
    (void) state;
    for (s_signer_t signer = SIGN_ED; signer <= SIGN_HS; signer++) {
        const char *header = signer == SIGN_ED? ED_HEADER: HS_HEADER;
        char *good = s_make (header, CLAIMS (""), signer);
        char *other = s_make (header, "{\"sub\":\"124\",\"aud\":\"herald\","
                              "\"iat\":1700000000,\"exp\":1700003600}", signer);
        s_expect (good, HR_OK, NULL);
        s_expect (other, HR_OK, NULL);
        //  other's header and payload with good's signature
        hr_buf_t mixed = HR_BUF_INIT;
        hr_buf_put (&mixed, other, (size_t) (strrchr (other, '.') - other));
        hr_buf_puts (&mixed, strrchr (good, '.'));
        s_expect (mixed.data, HR_E_TOKEN_INVALID, "signature does not verify");
        hr_buf_free (&mixed);
        free (good);
        free (other);
    }
}

static void
test_expiry_with_leeway (void **state)
{
    (void) state;
    //  exp + leeway (30) <= now is expired; one second later is not
    char claims [256];
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":%d}", NOW - 30);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_E_TOKEN_EXPIRED, "exp has passed");
    s_expect_made (HS_HEADER, claims, SIGN_HS, HR_E_TOKEN_EXPIRED, "exp has passed");
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":%d}", NOW - 29);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_OK, NULL);
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":%d}", -5);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_E_TOKEN_EXPIRED, "exp has passed");
    //  Without leeway the token expires at exp exactly
    hr_token_policy_t policy = s_policy;
    policy.leeway_s = 0;
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":%d}", NOW);
    char *token = s_make (ED_HEADER, claims, SIGN_ED);
    const char *why;
    assert_int_equal (s_check_with (s_keys, &policy, token, &why, NULL), HR_E_TOKEN_EXPIRED);
    free (token);
    //  Expired PyJWT fixtures, an hour and a leeway later
    hr_claims_t *c = NULL;
    assert_int_equal (hr_token_verify (s_keys, &s_policy, s_pyjwt_eddsa, strlen (s_pyjwt_eddsa),
                                       1700003630, &c, &why), HR_E_TOKEN_EXPIRED);
    assert_null (c);
    assert_int_equal (hr_token_verify (s_keys, &s_policy, s_pyjwt_eddsa, strlen (s_pyjwt_eddsa),
                                       1700003629, &c, &why), HR_OK);
    hr_claims_destroy (&c);
}

static void
test_not_yet_valid_with_leeway (void **state)
{
    (void) state;
    char claims [256];
    const char *fields [] = { "nbf", "iat" };
    for (size_t i = 0; i < 2; i++) {
        snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":%d,"
                  "\"%s\":%d}", NOW + 600, fields [i], NOW + 31);
        s_expect_made (ED_HEADER, claims, SIGN_ED, HR_E_TOKEN_NOT_YET_VALID,
                       "nbf or iat is in the future");
        snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":%d,"
                  "\"%s\":%d}", NOW + 600, fields [i], NOW + 30);
        s_expect_made (ED_HEADER, claims, SIGN_ED, HR_OK, NULL);
    }
}

static void
test_lifetime_is_bounded (void **state)
{
    (void) state;
    char claims [256];
    //  exp - iat
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"iat\":%d,\"exp\":%d}",
              NOW - 100, NOW - 100 + 24 * 3600 + 1);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_E_TOKEN_INVALID, "lifetime exceeds the maximum");
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"iat\":%d,\"exp\":%d}",
              NOW - 100, NOW - 100 + 24 * 3600);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_OK, NULL);
    //  exp - now without iat
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":%d}",
              NOW + 24 * 3600 + 1);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_E_TOKEN_INVALID, "lifetime exceeds the maximum");
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":%d}",
              NOW + 24 * 3600);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_OK, NULL);
    //  Extremes do not overflow into a short lifetime
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":\"herald\",\"iat\":-9223372036854775808,"
                   "\"exp\":9223372036854775807}", SIGN_ED, HR_E_TOKEN_INVALID,
                   "lifetime exceeds the maximum");
}

static void
test_times_must_be_integers (void **state)
{
    (void) state;
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":1700003600.0}", SIGN_ED,
                   HR_E_TOKEN_INVALID, "exp is missing or not an integer");
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":\"1700003600\"}",
                   SIGN_ED, HR_E_TOKEN_INVALID, "exp is missing or not an integer");
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":\"herald\"}", SIGN_ED,
                   HR_E_TOKEN_INVALID, "exp is missing or not an integer");
    s_expect_made (ED_HEADER, CLAIMS (",\"nbf\":1e9"), SIGN_ED,
                   HR_E_TOKEN_INVALID, "nbf or iat is not an integer");
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":\"herald\",\"iat\":null,\"exp\":1700003600}",
                   SIGN_ED, HR_E_TOKEN_INVALID, "nbf or iat is not an integer");
    //  Beyond int64: jansson refuses the document
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":99999999999999999999}",
                   SIGN_ED, HR_E_TOKEN_INVALID, "claims are not JSON (or repeat a key)");
}

static void
test_wrong_audience_is_refused (void **state)
{
    (void) state;
    const char *why = "aud is not the gateway's audience";
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":\"other\",\"exp\":1700003600}", SIGN_ED,
                   HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"exp\":1700003600}", SIGN_ED,
                   HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":[\"x\",\"y\"],\"exp\":1700003600}", SIGN_ED,
                   HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":[],\"exp\":1700003600}", SIGN_ED,
                   HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":[\"herald\",1],\"exp\":1700003600}",
                   SIGN_ED, HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":\"heraldx\",\"exp\":1700003600}", SIGN_ED,
                   HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, "{\"sub\":\"a\",\"aud\":[\"x\",\"herald\"],\"exp\":1700003600}",
                   SIGN_ED, HR_OK, NULL);
    //  Another configured audience
    hr_token_policy_t policy = s_policy;
    policy.audience = "other";
    const char *got;
    assert_int_equal (s_check_with (s_keys, &policy, s_pyjwt_eddsa, &got, NULL),
                      HR_E_TOKEN_INVALID);
    assert_string_equal (got, why);
}

static void
test_issuer_is_checked_when_set (void **state)
{
    (void) state;
    const char *why;
    hr_token_policy_t policy = s_policy;
    policy.issuer = "https://other.example";
    assert_int_equal (s_check_with (s_keys, &policy, s_pyjwt_eddsa, &why, NULL),
                      HR_E_TOKEN_INVALID);
    assert_string_equal (why, "iss is not the gateway's issuer");
    policy.issuer = "https://issuer.example";
    assert_int_equal (s_check_with (s_keys, &policy, s_pyjwt_eddsa, &why, NULL), HR_OK);
    //  A token without iss when one is required
    assert_int_equal (s_check_with (s_keys, &policy, s_pyjwt_aud_array, &why, NULL),
                      HR_E_TOKEN_INVALID);
    assert_string_equal (why, "iss is not the gateway's issuer");
    //  An empty issuer is no requirement
    policy.issuer = "";
    assert_int_equal (s_check_with (s_keys, &policy, s_pyjwt_aud_array, &why, NULL), HR_OK);
    //  iss of another type is refused even without a requirement
    s_expect_made (ED_HEADER, CLAIMS (",\"iss\":1"), SIGN_ED, HR_E_TOKEN_INVALID,
                   "iss is not the gateway's issuer");
}

static void
test_kid_selects_the_key (void **state)
{
    (void) state;
    s_expect_made ("{\"alg\":\"EdDSA\",\"kid\":\"nope\"}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "unknown kid");
    s_expect_made ("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "unknown kid");
    s_expect_made ("{\"alg\":\"EdDSA\"}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "kid is required when there are several keys");
    s_expect_made ("{\"alg\":\"EdDSA\",\"kid\":7}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "header kid or typ is not a string");
    //  A lone key: kid optional, a kid that names another key is unknown
    hr_keyset_t *keys = s_parse_keys ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                      "\"kid\":\"ed1\",\"x\":\"" S_X "\"}]}");
    const char *why;
    char *token = s_make ("{\"alg\":\"EdDSA\"}", CLAIMS (""), SIGN_ED);
    assert_int_equal (s_check_with (keys, &s_policy, token, &why, NULL), HR_OK);
    free (token);
    token = s_make ("{\"alg\":\"EdDSA\",\"kid\":\"ed2\"}", CLAIMS (""), SIGN_ED);
    assert_int_equal (s_check_with (keys, &s_policy, token, &why, NULL), HR_E_TOKEN_INVALID);
    assert_string_equal (why, "unknown kid");
    free (token);
    hr_keyset_unref (&keys);
}

static void
test_refused_headers (void **state)
{
    (void) state;
    const char *headers [] = {
        "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"crit\":[]}",
        "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"jku\":\"https://evil.example/jwks\"}",
        "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"jwk\":{\"kty\":\"OKP\"}}",
        "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"x5u\":\"https://evil.example/c\"}",
        "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"x5c\":[]}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers [0]; i++)
        s_expect_made (headers [i], CLAIMS (""), SIGN_ED, HR_E_TOKEN_INVALID,
                       "header crit, jku, jwk, x5u or x5c is refused");
    s_expect_made ("{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"typ\":\"JWT\",\"cty\":\"x\"}",
                   CLAIMS (""), SIGN_ED, HR_OK, NULL);
    s_expect_made ("{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"typ\":1}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "header kid or typ is not a string");
    s_expect_made ("{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"alg\":\"EdDSA\"}", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "header is not a JSON object");
    s_expect_made ("[\"EdDSA\"]", CLAIMS (""), SIGN_ED,
                   HR_E_TOKEN_INVALID, "header is not a JSON object");
}

//  Payload {"sub":"?>",...} encodes with '+', '/' and padding in standard
//  base64: each form is refused even when correctly signed.
static void
test_base64url_is_strict (void **state)
{
    (void) state;
    const char *claims = "{\"sub\":\"?>\",\"aud\":\"herald\",\"exp\":1700003600}";
    hr_buf_t h = HR_BUF_INIT;
    s_put_b64 (&h, ED_HEADER, strlen (ED_HEADER), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    int variants [] = { sodium_base64_VARIANT_URLSAFE_NO_PADDING, sodium_base64_VARIANT_URLSAFE,
                        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING };
    for (size_t i = 0; i < 4; i++) {
        hr_buf_t p = HR_BUF_INIT;
        s_put_b64 (&p, claims, strlen (claims), variants [i]);
        char *token = s_make_text (h.data, p.data, SIGN_ED);
        if (i == 0)
            s_expect (token, HR_OK, NULL);
        else {
            assert_true (strchr (p.data, '=') || strchr (p.data, '+') || strchr (p.data, '/'));
            s_expect (token, HR_E_TOKEN_INVALID, "payload is not base64url");
        }
        free (token);
        hr_buf_free (&p);
    }
    //  {"alg":"EdDSA","kid":"ed1" } as is, then with padding, whitespace,
    //  non-zero trailing bits, a byte over 0x7f, a lone last character
    const char *headers [] = { "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIgfQ",
                               "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIgfQ==",
                               "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIgfQ ",
                               "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIgfR",
                               "eyJhbGciOiJFZERTQSIsImtp\xdfZCI6ImVkMSIgfQ",
                               "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIgfQAAA" };
    for (size_t i = 0; i < sizeof headers / sizeof headers [0]; i++) {
        hr_buf_t p = HR_BUF_INIT;
        s_put_b64 (&p, claims, strlen (claims), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        char *token = s_make_text (headers [i], p.data, SIGN_ED);
        if (i == 0)
            s_expect (token, HR_OK, NULL);
        else
            s_expect (token, HR_E_TOKEN_INVALID, "header is not base64url");
        free (token);
        hr_buf_free (&p);
    }
    hr_buf_free (&h);
}

static void
test_payload_must_be_a_json_object_without_duplicates (void **state)
{
    (void) state;
    const char *why = "claims are not JSON (or repeat a key)";
    s_expect_made (ED_HEADER, "not json", SIGN_ED, HR_E_TOKEN_INVALID, why);
    s_expect_made (HS_HEADER, "{\"sub\":\"a\"", SIGN_HS, HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, "", SIGN_ED, HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, "[1,2]", SIGN_ED, HR_E_TOKEN_INVALID,
                   "claims are not a JSON object");
    s_expect_made (ED_HEADER, "{\"sub\":\"123\",\"sub\":\"admin\",\"aud\":\"herald\","
                   "\"exp\":1700003600}", SIGN_ED, HR_E_TOKEN_INVALID, why);
    s_expect_made (HS_HEADER, CLAIMS (",\"exp\":1700003000"), SIGN_HS, HR_E_TOKEN_INVALID, why);
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":{\"admin\":false,\"admin\":true}"), SIGN_ED,
                   HR_E_TOKEN_INVALID, why);
}

static void
test_oversized_token_is_refused (void **state)
{
    (void) state;
    //  100 KB, and one byte over the limit, both valid apart from size
    size_t sizes [] = { 100 * 1024, HR_TOKEN_MAX + 1 };
    for (size_t i = 0; i < 2; i++) {
        size_t pad = sizes [i] - 200;
        char *jti = malloc (pad + 1);
        memset (jti, 'j', pad);
        jti [pad] = 0;
        hr_buf_t claims = HR_BUF_INIT;
        hr_buf_printf (&claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":1700003600,"
                       "\"x\":\"%s\"}", jti);
        char *token = s_make (ED_HEADER, claims.data, SIGN_ED);
        assert_true (strlen (token) > HR_TOKEN_MAX);
        s_expect (token, HR_E_TOKEN_INVALID, "token longer than 8192 bytes");
        free (token);
        free (jti);
        hr_buf_free (&claims);
    }
    const char *why;
    hr_claims_t *claims = NULL;
    assert_int_equal (hr_token_verify (s_keys, &s_policy, "", 0, NOW, &claims, &why),
                      HR_E_TOKEN_INVALID);
}

static void
test_invalid_grant_makes_the_token_invalid (void **state)
{
    (void) state;
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":{\"subscribe\":[\"seller:1*\"]}"), SIGN_ED,
                   HR_E_TOKEN_INVALID, "grant with a '*' not after a separator (: / . -)");
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":{\"publish\":[\"ok\",\"*x\"]}"), SIGN_ED,
                   HR_E_TOKEN_INVALID, "grant with a '*' before its end");
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":{\"subscribe\":[\"\"]}"), SIGN_ED,
                   HR_E_TOKEN_INVALID, "empty grant");
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":{\"subscribe\":\"a\"}"), SIGN_ED,
                   HR_E_TOKEN_INVALID,
                   "herald.subscribe or herald.publish is not an array of at most 64 strings");
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":{\"publish\":[1]}"), SIGN_ED,
                   HR_E_TOKEN_INVALID,
                   "herald.subscribe or herald.publish is not an array of at most 64 strings");
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":[]"), SIGN_ED, HR_E_TOKEN_INVALID,
                   "herald is not an object, or herald.admin is not a boolean");
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":{\"admin\":1}"), SIGN_ED, HR_E_TOKEN_INVALID,
                   "herald is not an object, or herald.admin is not a boolean");
    //  A subject outside the channel alphabet cannot widen {sub}
    s_expect_made (ED_HEADER, "{\"sub\":\"*\",\"aud\":\"herald\",\"exp\":1700003600,"
                   "\"herald\":{\"subscribe\":[\"seller:{sub}\"]}}", SIGN_ED, HR_E_TOKEN_INVALID,
                   "grant with {sub}, and the subject has bytes not allowed in a channel name");
    //  ... but is fine without {sub}
    s_expect_made (ED_HEADER, "{\"sub\":\"a b*\",\"aud\":\"herald\",\"exp\":1700003600,"
                   "\"herald\":{\"subscribe\":[\"x\"]}}", SIGN_ED, HR_OK, NULL);
}

static void
test_grant_lists_are_bounded (void **state)
{
    (void) state;
    for (size_t count = HR_GRANT_MAX; count <= HR_GRANT_MAX + 1; count++) {
        hr_buf_t claims = HR_BUF_INIT;
        hr_buf_puts (&claims, CLAIMS (",\"herald\":{\"subscribe\":["));
        claims.size--;                  //  drop the closing brace of CLAIMS
        claims.size -= strlen (",\"herald\":{\"subscribe\":[");
        hr_buf_puts (&claims, ",\"herald\":{\"subscribe\":[");
        for (size_t i = 0; i < count; i++)
            hr_buf_printf (&claims, "%s\"c%zu\"", i? ",": "", i);
        hr_buf_puts (&claims, "]}}");
        if (count == HR_GRANT_MAX)
            s_expect_made (ED_HEADER, claims.data, SIGN_ED, HR_OK, NULL);
        else
            s_expect_made (ED_HEADER, claims.data, SIGN_ED, HR_E_TOKEN_INVALID,
                           "herald.subscribe or herald.publish is not an array of at most "
                           "64 strings");
        hr_buf_free (&claims);
    }
}

static void
test_sub_and_jti_are_bounded (void **state)
{
    (void) state;
    char claims [1024], big [300];
    memset (big, 's', sizeof big);
    snprintf (claims, sizeof claims, "{\"sub\":\"%.*s\",\"aud\":\"herald\",\"exp\":1700003600}",
              HR_TOKEN_SUB_MAX, big);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_OK, NULL);
    snprintf (claims, sizeof claims, "{\"sub\":\"%.*s\",\"aud\":\"herald\",\"exp\":1700003600}",
              HR_TOKEN_SUB_MAX + 1, big);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_E_TOKEN_INVALID,
                   "sub is missing or not a string of 1..256 bytes");
    s_expect_made (ED_HEADER, "{\"sub\":\"\",\"aud\":\"herald\",\"exp\":1700003600}", SIGN_ED,
                   HR_E_TOKEN_INVALID, "sub is missing or not a string of 1..256 bytes");
    s_expect_made (ED_HEADER, "{\"sub\":1,\"aud\":\"herald\",\"exp\":1700003600}", SIGN_ED,
                   HR_E_TOKEN_INVALID, "sub is missing or not a string of 1..256 bytes");
    snprintf (claims, sizeof claims, CLAIMS (",\"jti\":\"%.*s\""), HR_TOKEN_JTI_MAX, big);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_OK, NULL);
    snprintf (claims, sizeof claims, CLAIMS (",\"jti\":\"%.*s\""), HR_TOKEN_JTI_MAX + 1, big);
    s_expect_made (ED_HEADER, claims, SIGN_ED, HR_E_TOKEN_INVALID,
                   "jti is not a string of 1..128 bytes");
    s_expect_made (ED_HEADER, CLAIMS (",\"jti\":7"), SIGN_ED, HR_E_TOKEN_INVALID,
                   "jti is not a string of 1..128 bytes");
}

//  HMAC keys of any length: 32, 33, 64 (a block), 65 and 200 bytes.
static void
test_hs256_secrets_of_any_length (void **state)
{
    (void) state;
    size_t lengths [] = { 32, 33, 64, 65, 200 };
    for (size_t i = 0; i < 5; i++) {
        uint8_t secret [200];
        for (size_t j = 0; j < lengths [i]; j++)
            secret [j] = (uint8_t) (j * 7 + i);
        hr_buf_t jwks = HR_BUF_INIT;
        hr_buf_puts (&jwks, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"");
        s_put_b64 (&jwks, secret, lengths [i], sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        hr_buf_puts (&jwks, "\"}]}");
        hr_keyset_t *keys = s_parse_keys (jwks.data);
        hr_buf_t token = HR_BUF_INIT, err = HR_BUF_INIT;
        assert_true (hr_token_sign (&token, hr_keyset_key (keys, 0), CLAIMS (""), &err));
        //  The same HMAC computed in one call
        uint8_t mac [32], got [32];
        size_t signed_len = (size_t) (strrchr (token.data, '.') - token.data), got_len;
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init (&st, secret, lengths [i]);
        crypto_auth_hmacsha256_update (&st, (uint8_t *) token.data, signed_len);
        crypto_auth_hmacsha256_final (&st, mac);
        assert_int_equal (sodium_base642bin (got, sizeof got, token.data + signed_len + 1,
                                             token.size - signed_len - 1, NULL, &got_len, NULL,
                                             sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
        assert_memory_equal (got, mac, 32);
        const char *why;
        assert_int_equal (s_check_with (keys, &s_policy, token.data, &why, NULL), HR_OK);
        hr_buf_free (&token);
        hr_buf_free (&err);
        hr_buf_free (&jwks);
        hr_keyset_unref (&keys);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pyjwt_eddsa_token_is_accepted),
        cmocka_unit_test (test_pyjwt_hs256_token_is_accepted),
        cmocka_unit_test (test_pyjwt_aud_array_without_iat_is_accepted),
        cmocka_unit_test (test_rfc8037_a4_signature_verifies),
        cmocka_unit_test (test_rfc7515_a1_signature_verifies),
        cmocka_unit_test (test_signed_tokens_round_trip),
        cmocka_unit_test (test_sign_refuses_public_key_and_bad_claims),
        cmocka_unit_test (test_ed25519_alg_name_is_accepted_for_eddsa_keys),
        cmocka_unit_test (test_alg_none_is_refused),
        cmocka_unit_test (test_eddsa_key_resigned_as_hs256_is_refused),
        cmocka_unit_test (test_bad_signature_is_refused),
        cmocka_unit_test (test_tampered_payload_is_refused),
        cmocka_unit_test (test_expiry_with_leeway),
        cmocka_unit_test (test_not_yet_valid_with_leeway),
        cmocka_unit_test (test_lifetime_is_bounded),
        cmocka_unit_test (test_times_must_be_integers),
        cmocka_unit_test (test_wrong_audience_is_refused),
        cmocka_unit_test (test_issuer_is_checked_when_set),
        cmocka_unit_test (test_kid_selects_the_key),
        cmocka_unit_test (test_refused_headers),
        cmocka_unit_test (test_base64url_is_strict),
        cmocka_unit_test (test_payload_must_be_a_json_object_without_duplicates),
        cmocka_unit_test (test_oversized_token_is_refused),
        cmocka_unit_test (test_invalid_grant_makes_the_token_invalid),
        cmocka_unit_test (test_grant_lists_are_bounded),
        cmocka_unit_test (test_sub_and_jti_are_bounded),
        cmocka_unit_test (test_hs256_secrets_of_any_length),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
