/*  test_token_reject: every token hr_token_verify must refuse, with the
    code and the reason (common/hr_token, docs/security.md): the rejection
    table of the issue (alg none, algorithm confusion, bad signature,
    tampered payload, expired, not yet valid, wrong aud and iss, unknown or
    missing kid, crit and friends, base64 that is not strict base64url,
    payloads that are not JSON objects or repeat a key, oversized tokens,
    invalid grants) and the bounds on each claim.  */
#include "hr_token_fixture.h"

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
    //  A lone key without a kid verifies a token that names one
    keys = s_parse_keys ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" S_X "\"}]}");
    token = s_make ("{\"alg\":\"EdDSA\",\"kid\":\"any\"}", CLAIMS (""), SIGN_ED);
    assert_int_equal (s_check_with (keys, &s_policy, token, &why, NULL), HR_OK);
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
    //  The header alone is bounded: 1024 bytes pass, 1025 do not
    for (size_t size = 1024; size <= 1025; size++) {
        hr_buf_t header = HR_BUF_INIT;
        hr_buf_puts (&header, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"x\":\"");
        while (header.size < size - 2)
            hr_buf_putc (&header, 'h');
        hr_buf_puts (&header, "\"}");
        assert_int_equal (header.size, size);
        if (size == 1024)
            s_expect_made (header.data, CLAIMS (""), SIGN_ED, HR_OK, NULL);
        else
            s_expect_made (header.data, CLAIMS (""), SIGN_ED, HR_E_TOKEN_INVALID,
                           "header longer than 1024 bytes");
        hr_buf_free (&header);
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

//  Deeply nested claims (as only a key holder can send them) fail cleanly.
static void
test_deep_nesting_in_claims_fails_cleanly (void **state)
{
    (void) state;
    size_t depths [] = { 100, 3000 };
    for (size_t i = 0; i < 2; i++) {
        hr_buf_t claims = HR_BUF_INIT;
        hr_buf_puts (&claims, "{\"sub\":\"a\",\"aud\":\"herald\",\"exp\":1700003600,\"x\":");
        for (size_t j = 0; j < depths [i]; j++)
            hr_buf_putc (&claims, '[');
        for (size_t j = 0; j < depths [i]; j++)
            hr_buf_putc (&claims, ']');
        hr_buf_putc (&claims, '}');
        if (i == 0)
            s_expect_made (HS_HEADER, claims.data, SIGN_HS, HR_OK, NULL);
        else
            s_expect_made (HS_HEADER, claims.data, SIGN_HS, HR_E_TOKEN_INVALID,
                           "claims are not JSON (or repeat a key)");
        hr_buf_free (&claims);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
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
        cmocka_unit_test (test_deep_nesting_in_claims_fails_cleanly),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
