/*  test_token: JWT verification and signing (common/hr_token,
    docs/security.md), what is accepted: tokens minted by PyJWT, the RFC
    8037 A.4 and RFC 7515 A.1 vectors, tokens hr_token_sign makes, HS256
    secrets of any length, the size limit, threads. What is refused is in
    test_token_reject.c; the shared fixtures in hr_token_fixture.h.  */
#include "hr_token_fixture.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

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

//  A token of exactly HR_TOKEN_MAX bytes is accepted; the limit is on
//  the whole token, not a part.
static void
test_token_of_the_maximum_size_is_accepted (void **state)
{
    (void) state;
    hr_buf_t claims = HR_BUF_INIT;
    size_t pad = 4000;
    for (int round = 0; round < 2; round++) {
        hr_buf_reset (&claims);
        hr_buf_puts (&claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":1700003600,\"x\":\"");
        for (size_t i = 0; i < pad; i++)
            hr_buf_putc (&claims, 'p');
        hr_buf_puts (&claims, "\"}");
        char *token = s_make (ED_HEADER, claims.data, SIGN_ED);
        size_t size = strlen (token);
        free (token);
        //  Each 3 claim bytes are 4 token characters: pad to land on the limit
        pad += (HR_TOKEN_MAX - size) / 4 * 3;
    }
    char *token = NULL;
    for (int extra = 0; extra < 4; extra++) {
        free (token);
        hr_buf_reset (&claims);
        hr_buf_puts (&claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":1700003600,\"x\":\"");
        for (size_t i = 0; i < pad + (size_t) extra; i++)
            hr_buf_putc (&claims, 'p');
        hr_buf_puts (&claims, "\"}");
        token = s_make (ED_HEADER, claims.data, SIGN_ED);
        if (strlen (token) >= HR_TOKEN_MAX)
            break;
    }
    assert_int_equal (strlen (token), HR_TOKEN_MAX);
    s_expect (token, HR_OK, NULL);
    free (token);
    hr_buf_free (&claims);
}

//  Members of "herald" other than subscribe, publish and admin are
//  ignored (room for later fields), and grant lists may be empty.
static void
test_other_herald_members_are_ignored (void **state)
{
    (void) state;
    s_expect_made (ED_HEADER, CLAIMS (",\"herald\":{\"subscribe\":[],\"future\":{\"a\":1}}"),
                   SIGN_ED, HR_OK, NULL);
    s_expect_made (ED_HEADER, CLAIMS (",\"other\":{\"subscribe\":[\"seller:1*\"]}"), SIGN_ED,
                   HR_OK, NULL);
}

//  hr_token keeps the headers it parsed, never their keys: a header seen
//  before is judged against each keyset anew, headers of one length are
//  told apart, and more headers than it keeps all still verify.
static void
test_a_header_seen_before_is_judged_by_each_keyset (void **state)
{
    (void) state;
    char *hs = s_make (HS_HEADER, CLAIMS (""), SIGN_HS);
    char *ed = s_make (ED_HEADER, CLAIMS (""), SIGN_ED);
    assert_int_equal (strchr (hs, '.') - hs, strchr (ed, '.') - ed);
    hr_keyset_t *ed_only = s_parse_keys ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                         "\"kid\":\"ed1\",\"x\":\"" S_X "\"}]}");
    hr_keyset_t *hs1_is_ed = s_parse_keys ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                           "\"kid\":\"hs1\",\"x\":\"" S_X "\"}]}");
    const char *why;
    for (int round = 0; round < 3; round++) {
        assert_int_equal (s_check_with (s_keys, &s_policy, hs, &why, NULL), HR_OK);
        assert_int_equal (s_check_with (s_keys, &s_policy, ed, &why, NULL), HR_OK);
        assert_int_equal (s_check_with (ed_only, &s_policy, hs, &why, NULL), HR_E_TOKEN_INVALID);
        assert_string_equal (why, "unknown kid");
        assert_int_equal (s_check_with (hs1_is_ed, &s_policy, hs, &why, NULL),
                          HR_E_TOKEN_INVALID);
        assert_string_equal (why, "alg is not the key's algorithm");
        assert_int_equal (s_check_with (ed_only, &s_policy, ed, &why, NULL), HR_OK);
    }
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 6; i++) {
            char header [64];
            snprintf (header, sizeof header,
                      "{\"alg\":\"HS256\",\"kid\":\"hs1\",\"typ\":\"T%d\"}", i);
            s_expect_made (header, CLAIMS (""), SIGN_HS, HR_OK, NULL);
            snprintf (header, sizeof header,
                      "{\"alg\":\"EdDSA\",\"kid\":\"hs1\",\"typ\":\"T%d\"}", i);
            s_expect_made (header, CLAIMS (""), SIGN_HS, HR_E_TOKEN_INVALID,
                           "alg is not the key's algorithm");
        }
    hr_keyset_unref (&ed_only);
    hr_keyset_unref (&hs1_is_ed);
    free (hs);
    free (ed);
}

typedef struct {
    const hr_keyset_t *keys;
    int failures;
} s_thread_t;

static void *
s_verify_many (void *arg)
{
    s_thread_t *self = arg;
    for (int i = 0; i < 300; i++) {
        const char *token = i % 2? s_pyjwt_eddsa: s_pyjwt_hs256;
        hr_keyset_t *ref = hr_keyset_ref ((hr_keyset_t *) self->keys);
        hr_claims_t *claims = NULL;
        const char *why;
        if (hr_token_verify (ref, &s_policy, token, strlen (token), NOW, &claims, &why) != HR_OK
        ||  strcmp (claims->subscribe.grant [0], "seller:123"))
            self->failures++;
        hr_claims_destroy (&claims);
        hr_keyset_unref (&ref);
    }
    return NULL;
}

//  Verification keeps no state: threads share one keyset.
static void
test_threads_verify_with_one_keyset (void **state)
{
    (void) state;
    pthread_t threads [4];
    s_thread_t args [4];
    for (int i = 0; i < 4; i++) {
        args [i] = (s_thread_t) { s_keys, 0 };
        assert_int_equal (pthread_create (&threads [i], NULL, s_verify_many, &args [i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join (threads [i], NULL);
        assert_int_equal (args [i].failures, 0);
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
        cmocka_unit_test (test_hs256_secrets_of_any_length),
        cmocka_unit_test (test_token_of_the_maximum_size_is_accepted),
        cmocka_unit_test (test_other_herald_members_are_ignored),
        cmocka_unit_test (test_a_header_seen_before_is_judged_by_each_keyset),
        cmocka_unit_test (test_threads_verify_with_one_keyset),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
