/*  test_hrg_auth: the gateway's token decisions (gateway/hrg_auth): with
    and without keys, verification (ok, expired, invalid, revoked), the
    read decision on a real request (public channels, token_missing,
    forbidden, where the token comes from), and reloading the keys file
    (a good file swaps the keys, a bad one keeps them).  */
#include "hrg_auth_fixture.h"

#include <pthread.h>

typedef struct {
    hrg_config_t config;
    hrg_auth_t *auth;
    hr_buf_t token;
} s_fx_t;


//  A gateway's config with the keys file and public channels "news,pub:*"
static int
s_setup (void **state)
{
    s_fx_t *fx = calloc (1, sizeof *fx);
    fx->config = (hrg_config_t) HRG_CONFIG_DEFAULTS;
    fx->config.token_keys = s_keys.path;
    fx->config.public_channels = "news,pub:*";
    fx->token = (hr_buf_t) HR_BUF_INIT;
    ta_keys_write (&s_keys, "k1", TA_K1);
    fx->auth = ta_auth_new (&fx->config);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fx_t *fx = *state;
    hrg_auth_destroy (&fx->auth);
    assert_null (fx->auth);
    hr_buf_free (&fx->token);
    free (fx);
    return 0;
}

//  Verifies token with fx's auth; returns the code, claims in *claims
//  (NULL: freed here) and checks that a refusal gives a reason and no claims.
static hr_error_t
s_verify (s_fx_t *fx, const char *token, hr_claims_t **claims)
{
    hr_claims_t *local = NULL;
    const char *why = NULL;
    hr_error_t rc = hrg_auth_verify (fx->auth, token, strlen (token), &local, &why);
    if (rc == HR_OK)
        assert_non_null (local);
    else {
        assert_null (local);
        assert_non_null (why);
    }
    if (claims)
        *claims = local;
    else
        hr_claims_destroy (&local);
    return rc;
}

//  --------------------------------------------------------------------
//  Enabled or not

static void
test_without_keys_everything_is_allowed (void **state)
{
    hrg_config_t config = HRG_CONFIG_DEFAULTS;
    hrg_auth_t *auth = ta_auth_new (&config);
    assert_false (hrg_auth_enabled (auth));
    assert_false (hrg_auth_public (auth));
    assert_true (hrg_auth_may_subscribe (auth, NULL, "orders", 6));
    assert_true (hrg_auth_may_publish (auth, NULL, "orders", 6));
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrg_auth_reload (auth, &err), 0);
    //  A token cannot be checked without keys
    hr_claims_t *claims = NULL;
    const char *why = NULL;
    assert_int_equal (hrg_auth_verify (auth, "a.b.c", 5, &claims, &why), HR_E_TOKEN_INVALID);
    assert_null (claims);
    assert_non_null (why);
    hrg_auth_destroy (&auth);
    //  NULL is a disabled auth (a unit test's worker)
    assert_false (hrg_auth_enabled (NULL));
    assert_false (hrg_auth_public (NULL));
    assert_true (hrg_auth_may_subscribe (NULL, NULL, "orders", 6));
    assert_true (hrg_auth_may_publish (NULL, NULL, "orders", 6));
    assert_false (hrg_auth_revoked (NULL, NULL));
    assert_int_equal (hrg_auth_reload (NULL, &err), 0);
    hrg_auth_destroy (&auth);           //  twice: nothing
    hr_buf_free (&err);
}

static void
test_with_keys_it_is_enabled (void **state)
{
    s_fx_t *fx = *state;
    assert_true (hrg_auth_enabled (fx->auth));
    assert_true (hrg_auth_public (fx->auth));
    assert_non_null (hrg_auth_revocations (fx->auth));
    //  Public channels are read without a token, never published to
    assert_true (hrg_auth_may_subscribe (fx->auth, NULL, "news", 4));
    assert_true (hrg_auth_may_subscribe (fx->auth, NULL, "pub:x", 5));
    assert_false (hrg_auth_may_subscribe (fx->auth, NULL, "orders", 6));
    assert_false (hrg_auth_may_subscribe (fx->auth, NULL, "newsy", 5));
    assert_false (hrg_auth_may_publish (fx->auth, NULL, "news", 4));
}

static void
test_new_refuses_a_bad_keys_file_or_public_channels (void **state)
{
    hrg_config_t config = HRG_CONFIG_DEFAULTS;
    hr_buf_t err = HR_BUF_INIT;
    config.token_keys = "/nonexistent/keys.json";
    assert_null (hrg_auth_new (&config, &err));
    assert_non_null (err.data);
    assert_non_null (strstr (err.data, "--token-keys"));
    hr_buf_reset (&err);
    config.token_keys = "";
    config.public_channels = "seller:1*";
    assert_null (hrg_auth_new (&config, &err));
    assert_non_null (err.data);
    assert_non_null (strstr (err.data, "--public-channels"));
    hr_buf_free (&err);
}

//  --------------------------------------------------------------------
//  Verification

static void
test_a_valid_token_gives_its_claims (void **state)
{
    s_fx_t *fx = *state;
    int64_t exp = ta_now () + 600;
    ta_mint (&s_keys, &fx->token, "123", exp, "j-1", "[\"seller:{sub}\",\"business:*\"]",
             "[\"seller:{sub}\"]");
    hr_claims_t *claims;
    assert_int_equal (s_verify (fx, fx->token.data, &claims), HR_OK);
    assert_string_equal (claims->sub, "123");
    assert_string_equal (claims->jti, "j-1");
    assert_int_equal (claims->exp, exp);
    assert_false (hrg_auth_revoked (fx->auth, claims));
    assert_true (hrg_auth_may_subscribe (fx->auth, claims, "seller:123", 10));
    assert_true (hrg_auth_may_subscribe (fx->auth, claims, "business:7", 10));
    assert_true (hrg_auth_may_subscribe (fx->auth, claims, "news", 4));    //  public
    assert_false (hrg_auth_may_subscribe (fx->auth, claims, "seller:456", 10));
    assert_false (hrg_auth_may_subscribe (fx->auth, claims, "seller:1234", 11));
    assert_true (hrg_auth_may_publish (fx->auth, claims, "seller:123", 10));
    assert_false (hrg_auth_may_publish (fx->auth, claims, "business:7", 10));
    assert_false (hrg_auth_may_publish (fx->auth, claims, "news", 4));
    hr_claims_destroy (&claims);
}

static void
test_expired_and_invalid_tokens_are_refused (void **state)
{
    s_fx_t *fx = *state;
    //  Past exp by more than the leeway (30 s)
    ta_mint (&s_keys, &fx->token, "u", ta_now () - 120, "", NULL, NULL);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_E_TOKEN_EXPIRED);
    //  Within the leeway: still good
    ta_mint (&s_keys, &fx->token, "u", ta_now () - 5, "", NULL, NULL);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_OK);
    //  Not a token, a bad signature, another key's
    assert_int_equal (s_verify (fx, "not-a-token", NULL), HR_E_TOKEN_INVALID);
    ta_mint (&s_keys, &fx->token, "u", ta_now () + 60, "", NULL, NULL);
    char *sig = fx->token.data + fx->token.size - 5;     //  a signature byte
    *sig = *sig == 'A'? 'B': 'A';
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_E_TOKEN_INVALID);
    ta_keys_t other;
    ta_keys_init (&other);
    ta_keys_write (&other, "k1", TA_K2);
    ta_mint (&other, &fx->token, "u", ta_now () + 60, "", NULL, NULL);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_E_TOKEN_INVALID);
    ta_keys_fini (&other);
    //  An invalid grant makes the token invalid
    ta_mint (&s_keys, &fx->token, "u", ta_now () + 60, "", "[\"seller:1*\"]", NULL);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_E_TOKEN_INVALID);
}

static void
test_revoked_sub_or_jti_is_refused (void **state)
{
    s_fx_t *fx = *state;
    int64_t exp = ta_now () + 600;
    hr_claims_t *alice, *bob;
    ta_mint (&s_keys, &fx->token, "alice", exp, "a-1", NULL, NULL);
    assert_int_equal (s_verify (fx, fx->token.data, &alice), HR_OK);
    ta_mint (&s_keys, &fx->token, "bob", exp, "b-1", NULL, NULL);
    assert_int_equal (s_verify (fx, fx->token.data, &bob), HR_OK);
    ta_revoke (fx->auth, HR_REVOKE_SUB, "alice");
    ta_mint (&s_keys, &fx->token, "alice", exp, "a-2", NULL, NULL);
    hr_claims_t *claims = (hr_claims_t *) 1;
    const char *why = NULL;
    assert_int_equal (hrg_auth_verify (fx->auth, fx->token.data, fx->token.size, &claims, &why),
                      HR_E_TOKEN_REVOKED);
    assert_null (claims);
    assert_non_null (why);
    assert_true (hrg_auth_revoked (fx->auth, alice));
    assert_false (hrg_auth_revoked (fx->auth, bob));
    assert_false (hrg_auth_revoked (fx->auth, NULL));
    //  A jti: that token only
    ta_revoke (fx->auth, HR_REVOKE_JTI, "b-1");
    assert_true (hrg_auth_revoked (fx->auth, bob));
    ta_mint (&s_keys, &fx->token, "bob", exp, "b-1", NULL, NULL);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_E_TOKEN_REVOKED);
    ta_mint (&s_keys, &fx->token, "bob", exp, "b-2", NULL, NULL);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_OK);
    hr_claims_destroy (&alice);
    hr_claims_destroy (&bob);
}

//  --------------------------------------------------------------------
//  The read decision on a request

typedef struct {
    hrg_auth_t *auth;
    const char *const *channels;
    size_t count;
    bool done;
    hr_error_t rc;
    hr_claims_t *claims;
    const char *why;
} s_read_t;

static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *mhd, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size,
              void **con_cls)
{
    s_read_t *read = cls;
    read->claims = (hr_claims_t *) 1;   //  must be set
    read->why = "unset";
    read->rc = hrg_auth_request_read (read->auth, mhd, read->channels, read->count,
                                      &read->claims, &read->why);
    read->done = true;
    struct MHD_Response *response = MHD_create_response_from_buffer (0, NULL,
                                                                     MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response (mhd, MHD_HTTP_NO_CONTENT, response);
    MHD_destroy_response (response);
    return ret;
}

//  The read decision of auth on channels for a GET with query and headers
//  (each line ending in \r\n). Claims (when any) in *claims, or freed.
static hr_error_t
s_request_read (hrg_auth_t *auth, const char *const *channels, size_t count, const char *query,
                const char *headers, hr_claims_t **claims, const char **why)
{
    s_read_t read = { .auth = auth, .channels = channels, .count = count };
    tm_server_t server;
    tm_start (&server, s_on_request, &read);
    hr_buf_t request = HR_BUF_INIT;
    hr_buf_printf (&request, "GET /v1/sse?%s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", query,
                   headers);
    hr_buf_putc (&request, 0);
    int fd = tm_send (&server, request.data);
    assert_true (tm_run_until (&server, &read.done));
    close (fd);
    tm_stop (&server);
    hr_buf_free (&request);
    if (claims)
        *claims = read.claims;
    else
        hr_claims_destroy (&read.claims);
    if (why)
        *why = read.why;
    return read.rc;
}

static void
test_read_without_keys_is_allowed (void **state)
{
    hrg_config_t config = HRG_CONFIG_DEFAULTS;
    hrg_auth_t *auth = ta_auth_new (&config);
    const char *channels [] = { "orders" };
    hr_claims_t *claims;
    const char *why;
    assert_int_equal (s_request_read (auth, channels, 1, "channel=orders", "", &claims, &why),
                      HR_OK);
    assert_null (claims);
    assert_int_equal (s_request_read (NULL, channels, 1, "channel=orders", "", &claims, &why),
                      HR_OK);
    assert_null (claims);
    hrg_auth_destroy (&auth);
}

static void
test_read_of_public_channels_needs_no_token (void **state)
{
    s_fx_t *fx = *state;
    const char *channels [] = { "news", "pub:a" };
    hr_claims_t *claims;
    const char *why;
    assert_int_equal (s_request_read (fx->auth, channels, 2, "channel=news&channel=pub:a", "",
                                      &claims, &why), HR_OK);
    assert_null (claims);
}

static void
test_read_without_a_token_is_token_missing (void **state)
{
    s_fx_t *fx = *state;
    const char *channels [] = { "news", "orders" };
    hr_claims_t *claims;
    const char *why;
    //  One channel that is not public is enough
    assert_int_equal (s_request_read (fx->auth, channels, 2, "channel=news&channel=orders", "",
                                      &claims, &why), HR_E_TOKEN_MISSING);
    assert_null (claims);
    //  "Bearer" alone, or another scheme, is no token
    assert_int_equal (s_request_read (fx->auth, channels + 1, 1, "channel=orders",
                                      "Authorization: Basic dTpw\r\n", &claims, &why),
                      HR_E_TOKEN_MISSING);
    assert_null (claims);
}

static void
test_read_with_a_token_checks_every_channel (void **state)
{
    s_fx_t *fx = *state;
    ta_mint (&s_keys, &fx->token, "123", ta_now () + 600, "", "[\"seller:{sub}\"]", NULL);
    hr_buf_t header = HR_BUF_INIT;
    hr_buf_printf (&header, "Authorization: Bearer %s\r\n", fx->token.data);
    hr_buf_putc (&header, 0);
    const char *granted [] = { "seller:123", "news" };
    hr_claims_t *claims;
    const char *why;
    assert_int_equal (s_request_read (fx->auth, granted, 2, "channel=seller:123&channel=news",
                                      header.data, &claims, &why), HR_OK);
    assert_non_null (claims);
    assert_string_equal (claims->sub, "123");
    hr_claims_destroy (&claims);
    //  One channel not granted: forbidden, whatever the others
    const char *mixed [] = { "seller:123", "seller:456" };
    assert_int_equal (s_request_read (fx->auth, mixed, 2, "channel=seller:123&channel=seller:456",
                                      header.data, &claims, &why), HR_E_FORBIDDEN);
    assert_null (claims);
    assert_non_null (why);
    hr_buf_free (&header);
}

static void
test_read_takes_the_token_from_header_cookie_or_query (void **state)
{
    s_fx_t *fx = *state;
    const char *channels [] = { "orders" };
    hr_buf_t good = HR_BUF_INIT, bad = HR_BUF_INIT, text = HR_BUF_INIT, query = HR_BUF_INIT;
    ta_mint (&s_keys, &good, "u", ta_now () + 600, "", "[\"orders\"]", NULL);
    ta_mint (&s_keys, &bad, "u", ta_now () - 600, "", "[\"orders\"]", NULL);    //  expired
    hr_claims_t *claims;
    //  The cookie
    hr_buf_printf (&text, "Cookie: other=1; herald_token=%s\r\n", good.data);
    hr_buf_putc (&text, 0);
    assert_int_equal (s_request_read (fx->auth, channels, 1, "channel=orders", text.data,
                                      &claims, NULL), HR_OK);
    assert_non_null (claims);
    hr_claims_destroy (&claims);
    //  The query
    hr_buf_printf (&query, "channel=orders&token=%s", good.data);
    hr_buf_putc (&query, 0);
    assert_int_equal (s_request_read (fx->auth, channels, 1, query.data, "", &claims, NULL),
                      HR_OK);
    assert_non_null (claims);
    hr_claims_destroy (&claims);
    //  The header wins over the cookie, and the cookie over the query
    hr_buf_reset (&text);
    hr_buf_printf (&text, "Authorization: Bearer %s\r\nCookie: herald_token=%s\r\n",
                   bad.data, good.data);
    hr_buf_putc (&text, 0);
    assert_int_equal (s_request_read (fx->auth, channels, 1, "channel=orders", text.data,
                                      &claims, NULL), HR_E_TOKEN_EXPIRED);
    assert_null (claims);
    hr_buf_reset (&text);
    hr_buf_printf (&text, "Cookie: herald_token=%s\r\n", bad.data);
    hr_buf_putc (&text, 0);
    assert_int_equal (s_request_read (fx->auth, channels, 1, query.data, text.data,
                                      &claims, NULL), HR_E_TOKEN_EXPIRED);
    assert_null (claims);
    hr_buf_free (&good);
    hr_buf_free (&bad);
    hr_buf_free (&text);
    hr_buf_free (&query);
}

static void
test_read_with_a_bad_token_says_why (void **state)
{
    s_fx_t *fx = *state;
    const char *channels [] = { "news" };
    hr_buf_t header = HR_BUF_INIT;
    hr_claims_t *claims;
    const char *why;
    //  A bad token is refused even for a public channel: the client learns it
    ta_mint (&s_keys, &fx->token, "u", ta_now () - 600, "", "[\"news\"]", NULL);
    hr_buf_printf (&header, "Authorization: Bearer %s\r\n", fx->token.data);
    hr_buf_putc (&header, 0);
    assert_int_equal (s_request_read (fx->auth, channels, 1, "channel=news", header.data,
                                      &claims, &why), HR_E_TOKEN_EXPIRED);
    assert_null (claims);
    assert_non_null (why);
    //  Revoked
    ta_revoke (fx->auth, HR_REVOKE_SUB, "r");
    ta_mint (&s_keys, &fx->token, "r", ta_now () + 600, "", "[\"news\"]", NULL);
    hr_buf_reset (&header);
    hr_buf_printf (&header, "Authorization: Bearer %s\r\n", fx->token.data);
    hr_buf_putc (&header, 0);
    assert_int_equal (s_request_read (fx->auth, channels, 1, "channel=news", header.data,
                                      &claims, &why), HR_E_TOKEN_REVOKED);
    assert_null (claims);
    hr_buf_free (&header);
}

//  --------------------------------------------------------------------
//  Reloading the keys file

static void
test_reload_of_a_good_file_swaps_the_keys (void **state)
{
    s_fx_t *fx = *state;
    hr_buf_t old = HR_BUF_INIT;
    ta_mint (&s_keys, &old, "u", ta_now () + 600, "", NULL, NULL);
    assert_int_equal (s_verify (fx, old.data, NULL), HR_OK);
    ta_keys_write (&s_keys, "k2", TA_K2);
    //  Nothing changes before the reload
    ta_mint (&s_keys, &fx->token, "u", ta_now () + 600, "", NULL, NULL);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_E_TOKEN_INVALID);
    assert_int_equal (s_verify (fx, old.data, NULL), HR_OK);
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrg_auth_reload (fx->auth, &err), 0);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_OK);
    assert_int_equal (s_verify (fx, old.data, NULL), HR_E_TOKEN_INVALID);    //  unknown kid
    hr_buf_free (&err);
    hr_buf_free (&old);
}

static void
test_reload_of_a_bad_file_keeps_the_old_keys (void **state)
{
    s_fx_t *fx = *state;
    ta_mint (&s_keys, &fx->token, "u", ta_now () + 600, "", NULL, NULL);
    const char *bad [] = {
        "{\"keys\": [",                                                 //  not JSON
        "{\"keys\": [{\"kty\":\"oct\",\"kid\":\"s\",\"k\":\"c2hvcnQ\"}]}",  //  a 5-byte secret
        "{\"keys\": []}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        ta_keys_write_raw (&s_keys, bad [i]);
        hr_buf_t err = HR_BUF_INIT;
        assert_int_equal (hrg_auth_reload (fx->auth, &err), -1);
        assert_non_null (err.data);
        assert_true (err.size > 0);
        assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_OK);
        hr_buf_free (&err);
    }
    //  A missing file too
    unlink (s_keys.path);
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrg_auth_reload (fx->auth, &err), -1);
    assert_int_equal (s_verify (fx, fx->token.data, NULL), HR_OK);
    hr_buf_free (&err);
}

//  Verifications on other threads while the keys are reloaded: each sees
//  one whole keyset (ASan would see one freed under it).
typedef struct {
    hrg_auth_t *auth;
    const char *token;
    int failures;
} s_thread_t;

static void *
s_verify_loop (void *arg)
{
    s_thread_t *thread = arg;
    for (int i = 0; i < 2000; i++) {
        hr_claims_t *claims = NULL;
        const char *why = NULL;
        if (hrg_auth_verify (thread->auth, thread->token, strlen (thread->token), &claims,
                             &why) != HR_OK)
            thread->failures++;
        hr_claims_destroy (&claims);
    }
    return NULL;
}

static void
test_reload_while_verifying (void **state)
{
    s_fx_t *fx = *state;
    ta_mint (&s_keys, &fx->token, "u", ta_now () + 600, "", NULL, NULL);
    s_thread_t thread = { fx->auth, fx->token.data, 0 };
    pthread_t threads [2];
    for (int i = 0; i < 2; i++)
        assert_int_equal (pthread_create (&threads [i], NULL, s_verify_loop, &thread), 0);
    for (int i = 0; i < 200; i++) {
        hr_buf_t err = HR_BUF_INIT;
        assert_int_equal (hrg_auth_reload (fx->auth, &err), 0);
        hr_buf_free (&err);
    }
    for (int i = 0; i < 2; i++)
        pthread_join (threads [i], NULL);
    assert_int_equal (thread.failures, 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_without_keys_everything_is_allowed),
        cmocka_unit_test_setup_teardown (test_with_keys_it_is_enabled, s_setup, s_teardown),
        cmocka_unit_test (test_new_refuses_a_bad_keys_file_or_public_channels),
        cmocka_unit_test_setup_teardown (test_a_valid_token_gives_its_claims, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_and_invalid_tokens_are_refused, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_revoked_sub_or_jti_is_refused, s_setup, s_teardown),
        cmocka_unit_test (test_read_without_keys_is_allowed),
        cmocka_unit_test_setup_teardown (test_read_of_public_channels_needs_no_token, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_read_without_a_token_is_token_missing, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_read_with_a_token_checks_every_channel, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_read_takes_the_token_from_header_cookie_or_query,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_read_with_a_bad_token_says_why, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_reload_of_a_good_file_swaps_the_keys, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_reload_of_a_bad_file_keeps_the_old_keys, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_reload_while_verifying, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, ta_group_setup, ta_group_teardown);
}
