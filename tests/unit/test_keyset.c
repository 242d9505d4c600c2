/*  test_keyset: JWKS parsing (common/hr_keyset, docs/security.md): the
    key forms accepted, every refusal with a reason naming the key, the
    limits, and reference counting across threads.  */
#include "hr_keyset.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define S_X "ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ"
#define S_D "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"
#define S_K "aGVyYWxkLXRlc3Qtc2VjcmV0LW9mLWZvcnR5LWJ5dGVzLWxvbmchIQ"    //  40 bytes
#define S_K31 "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MA"             //  31 bytes
#define S_K32 "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE"            //  32 bytes
#define ED(extra) "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" S_X "\"" extra "}"
#define HS(extra) "{\"kty\":\"oct\",\"k\":\"" S_K "\"" extra "}"

static hr_keyset_t *
s_ok (const char *json)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_keyset_t *keys = hr_keyset_parse (json, strlen (json), &err);
    if (!keys)
        fail_msg ("refused %s: %s", json, err.data);
    hr_buf_free (&err);
    return keys;
}

//  Fails unless json is refused with a reason containing want.
static void
s_refused (const char *json, const char *want)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_keyset_t *keys = hr_keyset_parse (json, strlen (json), &err);
    if (keys)
        fail_msg ("accepted %s", json);
    if (!err.data || !strstr (err.data, want))
        fail_msg ("refused %s with \"%s\", want \"%s\"", json, err.data, want);
    hr_buf_free (&err);
}

static void
test_public_and_secret_keys_load (void **state)
{
    (void) state;
    hr_keyset_t *keys = s_ok ("{\"keys\":[" ED (",\"kid\":\"a\",\"alg\":\"EdDSA\",\"use\":\"sig\"")
                              "," ED (",\"kid\":\"b\",\"alg\":\"Ed25519\"") ","
                              HS (",\"kid\":\"c\",\"alg\":\"HS256\"") "," HS (",\"kid\":\"d\"")
                              "],\"other\":1}");
    assert_int_equal (hr_keyset_size (keys), 4);
    const hr_key_t *a = hr_keyset_key (keys, 0), *c = hr_keyset_key (keys, 2);
    assert_string_equal (a->kid, "a");
    assert_int_equal (a->kid_len, 1);
    assert_int_equal (a->alg, HR_ALG_EDDSA);
    assert_false (a->has_secret);
    assert_int_equal (a->public_key [0], 0x79);
    assert_int_equal (hr_keyset_key (keys, 1)->alg, HR_ALG_EDDSA);
    assert_int_equal (c->alg, HR_ALG_HS256);
    assert_true (c->has_secret);
    assert_int_equal (c->hmac_key_len, 40);
    assert_memory_equal (c->hmac_key, "herald-test-secret-of-forty-bytes-long!!", 40);
    assert_int_equal (hr_keyset_key (keys, 3)->alg, HR_ALG_HS256);
    assert_null (hr_keyset_key (keys, 4));
    assert_ptr_equal (hr_keyset_find (keys, "c", 1), c);
    assert_null (hr_keyset_find (keys, "c", 0));
    assert_null (hr_keyset_find (keys, "cc", 2));
    assert_null (hr_keyset_find (keys, NULL, 0));     //  several keys: a kid is needed
    hr_keyset_unref (&keys);
    assert_null (keys);
}

static void
test_lone_key_needs_no_kid (void **state)
{
    (void) state;
    hr_keyset_t *keys = s_ok ("{\"keys\":[" ED ("") "]}");
    assert_ptr_equal (hr_keyset_find (keys, NULL, 0), hr_keyset_key (keys, 0));
    assert_string_equal (hr_keyset_key (keys, 0)->kid, "");
    hr_keyset_unref (&keys);
}

static void
test_private_ed25519_key_matches_its_public_part (void **state)
{
    (void) state;
    hr_keyset_t *keys = s_ok ("{\"keys\":[" ED (",\"d\":\"" S_D "\"") "]}");
    const hr_key_t *key = hr_keyset_key (keys, 0);
    assert_true (key->has_secret);
    //  libsodium's form: seed || public key
    assert_int_equal (key->secret_key [0], 1);
    assert_int_equal (key->secret_key [31], 32);
    assert_memory_equal (key->secret_key + 32, key->public_key, 32);
    hr_keyset_unref (&keys);
    //  A d from another key pair
    s_refused ("{\"keys\":[" ED (",\"d\":\"" S_K32 "\"") "]}",
               "key 1: the public key derived from \"d\" is not \"x\"");
    s_refused ("{\"keys\":[" ED (",\"d\":\"AQID\"") "]}", "\"d\" is 3 bytes");
}

static void
test_hs256_secret_under_32_bytes_is_refused (void **state)
{
    (void) state;
    s_refused ("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\",\"k\":\"" S_K31 "\"}]}",
               "key 1 (kid \"a\"): HS256 secret is 31 bytes, at least 32 are required "
               "(RFC 7518 section 3.2)");
    hr_keyset_unref ((hr_keyset_t *[]) { s_ok ("{\"keys\":[{\"kty\":\"oct\",\"k\":\"" S_K32
                                               "\"}]}") });
    //  HR_KEY_SECRET_MAX + 1 bytes
    hr_buf_t json = HR_BUF_INIT;
    hr_buf_puts (&json, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"");
    for (size_t i = 0; i < (HR_KEY_SECRET_MAX + 3) / 3; i++)
        hr_buf_puts (&json, "AAAA");
    hr_buf_puts (&json, "\"}]}");
    s_refused (json.data, "\"k\" is not base64url");
    hr_buf_free (&json);
}

static void
test_kid_rules (void **state)
{
    (void) state;
    s_refused ("{\"keys\":[" ED (",\"kid\":\"a\"") "," HS ("") "]}",
               "key 2: \"kid\" is missing (required when the file holds several keys)");
    s_refused ("{\"keys\":[" ED (",\"kid\":\"a\"") "," HS (",\"kid\":\"a\"") "]}",
               "key 2 (kid \"a\"): duplicate kid (key 1 has it too)");
    s_refused ("{\"keys\":[" ED (",\"kid\":\"\"") "]}", "kid must be 1..128 bytes");
    s_refused ("{\"keys\":[" ED (",\"kid\":5") "]}", "must be strings");
    //  A kid that is not printable is left out of the message
    s_refused ("{\"keys\":[" ED (",\"kid\":\"a\\u001b[31m\"") "," HS (",\"kid\":\"a\\u001b[31m\"")
               "]}", "key 2: duplicate kid (key 1 has it too)");
}

static void
test_unknown_kty_crv_alg_name_the_key (void **state)
{
    (void) state;
    s_refused ("{\"keys\":[" ED (",\"kid\":\"a\"") ",{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"x\","
               "\"e\":\"AQAB\"}]}", "key 2 (kid \"r\"): unknown kty");
    s_refused ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" S_X "\"}]}",
               "key 1: unknown crv");
    s_refused ("{\"keys\":[{\"kty\":\"OKP\",\"x\":\"" S_X "\"}]}", "key 1: unknown crv");
    s_refused ("{\"keys\":[" ED (",\"alg\":\"ES256\"") "]}", "key 1: unknown alg");
    s_refused ("{\"keys\":[" ED (",\"alg\":\"HS256\"") "]}", "key 1: unknown alg");
    s_refused ("{\"keys\":[" HS (",\"alg\":\"HS512\"") "]}", "key 1: unknown alg");
    s_refused ("{\"keys\":[" HS (",\"alg\":\"EdDSA\"") "]}", "key 1: unknown alg");
    s_refused ("{\"keys\":[{\"crv\":\"Ed25519\",\"x\":\"" S_X "\"}]}", "\"kty\" is missing");
    s_refused ("{\"keys\":[" ED (",\"use\":\"enc\"") "]}", "\"use\" must be \"sig\"");
    s_refused ("{\"keys\":[7]}", "key 1: not a JSON object");
}

static void
test_key_material_is_strict (void **state)
{
    (void) state;
    s_refused ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}", "\"x\" is missing");
    s_refused ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":1}]}", "\"x\" is not a string");
    s_refused ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" S_X "=\"}]}",
               "\"x\" is not base64url");
    s_refused ("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AQID\"}]}",
               "\"x\" is 3 bytes, an Ed25519 key is 32");
    s_refused ("{\"keys\":[{\"kty\":\"oct\"}]}", "\"k\" is missing");
    s_refused ("{\"keys\":[{\"kty\":\"oct\",\"k\":\"aGVyYWxkLXRlc3Qtc2VjcmV0LW9mLWZvcnR5LWJ5dGVzLW"
               "xvbmchIQ+/\"}]}", "\"k\" is not base64url");
}

static void
test_document_shape_and_limits (void **state)
{
    (void) state;
    s_refused ("{\"keys\":[", "not valid JSON");
    s_refused ("[" ED ("") "]", "a JWKS {\"keys\": [...]} with 1..64 keys is required");
    s_refused ("{\"keys\":[]}", "a JWKS");
    s_refused ("{\"keys\":{}}", "a JWKS");
    s_refused ("{\"keys\":[" ED ("") "],\"keys\":[]}", "not valid JSON");
    s_refused ("{\"keys\":[{\"kty\":\"OKP\",\"kty\":\"oct\"}]}", "not valid JSON");
    //  HR_KEYSET_MAX keys load, one more does not
    for (int count = HR_KEYSET_MAX; count <= HR_KEYSET_MAX + 1; count++) {
        hr_buf_t json = HR_BUF_INIT;
        hr_buf_puts (&json, "{\"keys\":[");
        for (int i = 0; i < count; i++)
            hr_buf_printf (&json, "%s" ED (",\"kid\":\"k%d\""), i? ",": "", i);
        hr_buf_puts (&json, "]}");
        if (count == HR_KEYSET_MAX)
            hr_keyset_unref ((hr_keyset_t *[]) { s_ok (json.data) });
        else
            s_refused (json.data, "with 1..64 keys");
        hr_buf_free (&json);
    }
    //  The file size is checked before parsing
    size_t size = HR_KEYSET_MAX_FILE + 1;
    char *big = malloc (size + 1);
    memset (big, ' ', size);
    big [size] = 0;
    memcpy (big, "{\"keys\":[" ED ("") "]}", strlen ("{\"keys\":[" ED ("") "]}"));
    s_refused (big, "at most 262144 are allowed");
    free (big);
}

static void
test_load_reads_a_file_and_names_it_in_errors (void **state)
{
    (void) state;
    char path [] = "/tmp/test_keyset_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *json = "{\"keys\":[" ED (",\"kid\":\"a\"") "]}";
    assert_int_equal (write (fd, json, strlen (json)), (ssize_t) strlen (json));
    close (fd);
    hr_buf_t err = HR_BUF_INIT;
    hr_keyset_t *keys = hr_keyset_load (path, &err);
    assert_non_null (keys);
    assert_int_equal (hr_keyset_size (keys), 1);
    hr_keyset_unref (&keys);
    FILE *file = fopen (path, "w");
    fputs ("{\"keys\":[" HS (",\"k\":\"" S_K31 "\"") "]}", file);
    fclose (file);
    assert_null (hr_keyset_load (path, &err));
    assert_non_null (strstr (err.data, path));
    assert_non_null (strstr (err.data, "not valid JSON"));   //  "k" twice
    hr_buf_reset (&err);
    unlink (path);
    assert_null (hr_keyset_load (path, &err));
    assert_non_null (strstr (err.data, "No such file"));
    hr_buf_reset (&err);
    assert_null (hr_keyset_load ("/tmp", &err));
    assert_non_null (strstr (err.data, "/tmp: Is a directory"));
    hr_buf_free (&err);
}

static void *
s_ref_unref (void *arg)
{
    hr_keyset_t *keys = arg;
    for (int i = 0; i < 100000; i++) {
        hr_keyset_t *ref = hr_keyset_ref (keys);
        hr_keyset_unref (&ref);
    }
    return NULL;
}

//  Four threads take and drop references; the count ends where it began
//  (ASan would see a free while the last reference is held).
static void
test_reference_count_is_thread_safe (void **state)
{
    (void) state;
    hr_keyset_t *keys = s_ok ("{\"keys\":[" HS ("") "]}");
    pthread_t threads [4];
    for (int i = 0; i < 4; i++)
        assert_int_equal (pthread_create (&threads [i], NULL, s_ref_unref, keys), 0);
    for (int i = 0; i < 4; i++)
        pthread_join (threads [i], NULL);
    assert_int_equal (hr_keyset_key (keys, 0)->hmac_key_len, 40);
    hr_keyset_unref (&keys);
    hr_keyset_unref (&keys);          //  NULL: nothing to do
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_public_and_secret_keys_load),
        cmocka_unit_test (test_lone_key_needs_no_kid),
        cmocka_unit_test (test_private_ed25519_key_matches_its_public_part),
        cmocka_unit_test (test_hs256_secret_under_32_bytes_is_refused),
        cmocka_unit_test (test_kid_rules),
        cmocka_unit_test (test_unknown_kty_crv_alg_name_the_key),
        cmocka_unit_test (test_key_material_is_strict),
        cmocka_unit_test (test_document_shape_and_limits),
        cmocka_unit_test (test_load_reads_a_file_and_names_it_in_errors),
        cmocka_unit_test (test_reference_count_is_thread_safe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
