/*  test_hrg_token_cache: the cache of verified tokens answers exactly as a
    new verification would: only for the same digest and keyset
    generation, only until exp + leeway; a slot holds one token; copies
    are deep; bytes are counted. And through hrg_auth: a reload makes
    every cached token be verified again.  */
#include "hrg_auth_fixture.h"
#include "hrg_token_cache.h"


//  Claims for sub with grants, valid an hour, verified by a fresh auth.
static hr_claims_t *
s_claims (const char *sub, int64_t exp)
{
    hrg_config_t config = HRG_CONFIG_DEFAULTS;
    config.token_keys = s_keys.path;
    hrg_auth_t *auth = ta_auth_new (&config);
    hr_claims_t *claims = ta_claims (&s_keys, auth, sub, exp, "j-1",
                                     "[\"seller:{sub}\",\"news\"]", "[\"orders\"]");
    hrg_auth_destroy (&auth);
    return claims;
}

static void
test_hit_is_a_deep_copy (void **state)
{
    hrg_token_cache_t *cache = hrg_token_cache_new (16);
    uint8_t digest [HRG_TOKEN_DIGEST];
    hrg_token_cache_digest (digest, "token-a", 7);
    hr_claims_t *claims = s_claims ("123", ta_now () + 3600);
    hrg_token_cache_put (cache, digest, 1, claims);
    hr_claims_destroy (&claims);        //  the cache keeps its own copy
    hr_claims_t *hit = hrg_token_cache_get (cache, digest, 1, ta_now (), 30);
    assert_non_null (hit);
    assert_string_equal (hit->sub, "123");
    assert_string_equal (hit->jti, "j-1");
    assert_int_equal (hit->subscribe.count, 2);
    assert_true (hr_grants_match (&hit->subscribe, "seller:123", 10));
    assert_true (hr_grants_match (&hit->subscribe, "news", 4));
    assert_false (hr_grants_match (&hit->subscribe, "seller:456", 10));
    assert_true (hr_grants_match (&hit->publish, "orders", 6));
    hr_claims_t *again = hrg_token_cache_get (cache, digest, 1, ta_now (), 30);
    assert_ptr_not_equal (again, hit);
    assert_ptr_not_equal (again->subscribe.data, hit->subscribe.data);
    hr_claims_destroy (&hit);
    hr_claims_destroy (&again);
    hrg_token_cache_destroy (&cache);
}

static void
test_miss_on_other_digest_or_generation (void **state)
{
    hrg_token_cache_t *cache = hrg_token_cache_new (16);
    uint8_t a [HRG_TOKEN_DIGEST], b [HRG_TOKEN_DIGEST];
    hrg_token_cache_digest (a, "token-a", 7);
    hrg_token_cache_digest (b, "token-b", 7);
    hr_claims_t *claims = s_claims ("123", ta_now () + 3600);
    hrg_token_cache_put (cache, a, 7, claims);
    hr_claims_destroy (&claims);
    assert_null (hrg_token_cache_get (cache, b, 7, ta_now (), 30));
    assert_null (hrg_token_cache_get (cache, a, 8, ta_now (), 30));
    hr_claims_t *hit = hrg_token_cache_get (cache, a, 7, ta_now (), 30);
    assert_non_null (hit);
    hr_claims_destroy (&hit);
    hrg_token_cache_destroy (&cache);
}

static void
test_miss_once_expired_with_leeway (void **state)
{
    hrg_token_cache_t *cache = hrg_token_cache_new (16);
    uint8_t digest [HRG_TOKEN_DIGEST];
    hrg_token_cache_digest (digest, "t", 1);
    int64_t exp = ta_now () + 100;
    hr_claims_t *claims = s_claims ("123", exp);
    hrg_token_cache_put (cache, digest, 1, claims);
    hr_claims_destroy (&claims);
    //  A new verification accepts while now < exp + leeway
    hr_claims_t *hit = hrg_token_cache_get (cache, digest, 1, exp + 29, 30);
    assert_non_null (hit);
    hr_claims_destroy (&hit);
    assert_null (hrg_token_cache_get (cache, digest, 1, exp + 30, 30));
    assert_null (hrg_token_cache_get (cache, digest, 1, exp, 0));
    hrg_token_cache_destroy (&cache);
}

static void
test_a_slot_holds_one_token_and_bytes_are_counted (void **state)
{
    hrg_token_cache_t *cache = hrg_token_cache_new (1);
    assert_int_equal (hrg_token_cache_bytes (cache), 0);
    uint8_t a [HRG_TOKEN_DIGEST], b [HRG_TOKEN_DIGEST];
    hrg_token_cache_digest (a, "token-a", 7);
    hrg_token_cache_digest (b, "token-b", 7);
    hr_claims_t *claims = s_claims ("123", ta_now () + 3600);
    hrg_token_cache_put (cache, a, 1, claims);
    size_t one = hrg_token_cache_bytes (cache);
    assert_int_equal (one, hr_claims_bytes (claims));
    assert_true (one > sizeof (hr_claims_t));
    hrg_token_cache_put (cache, b, 1, claims);   //  replaces a
    assert_int_equal (hrg_token_cache_count (cache), 1);
    assert_int_equal (hrg_token_cache_bytes (cache), one);
    assert_null (hrg_token_cache_get (cache, a, 1, ta_now (), 30));
    hr_claims_t *hit = hrg_token_cache_get (cache, b, 1, ta_now (), 30);
    assert_non_null (hit);
    hr_claims_destroy (&hit);
    hr_claims_destroy (&claims);
    hrg_token_cache_destroy (&cache);
}

//  Through hrg_auth: the second verification of a token is answered by
//  the cache, and a reload that drops its key makes it refused at once
static void
test_reload_refuses_a_cached_token_of_a_dropped_key (void **state)
{
    ta_keys_t keys;
    ta_keys_init (&keys);
    hrg_config_t config = HRG_CONFIG_DEFAULTS;
    config.token_keys = keys.path;
    hrg_auth_t *auth = ta_auth_new (&config);
    hr_buf_t token = HR_BUF_INIT;
    ta_mint (&keys, &token, "123", ta_now () + 3600, "", "[\"a\"]", NULL);
    for (int i = 0; i < 2; i++) {
        hr_claims_t *claims = NULL;
        const char *why = NULL;
        assert_int_equal (hrg_auth_verify (auth, token.data, token.size, &claims, &why), HR_OK);
        assert_string_equal (claims->sub, "123");
        hr_claims_destroy (&claims);
    }
    assert_true (hrg_auth_cache_bytes (auth) > 0);
    ta_keys_write (&keys, "k2", TA_K2);
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrg_auth_reload (auth, &err), 0);
    hr_buf_free (&err);
    hr_claims_t *claims = NULL;
    const char *why = NULL;
    assert_int_equal (hrg_auth_verify (auth, token.data, token.size, &claims, &why),
                      HR_E_TOKEN_INVALID);
    assert_null (claims);
    hr_buf_free (&token);
    hrg_auth_destroy (&auth);
    ta_keys_fini (&keys);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_hit_is_a_deep_copy),
        cmocka_unit_test (test_miss_on_other_digest_or_generation),
        cmocka_unit_test (test_miss_once_expired_with_leeway),
        cmocka_unit_test (test_a_slot_holds_one_token_and_bytes_are_counted),
        cmocka_unit_test (test_reload_refuses_a_cached_token_of_a_dropped_key),
    };
    return cmocka_run_group_tests (tests, ta_group_setup, ta_group_teardown);
}
