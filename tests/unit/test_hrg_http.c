/*  test_hrg_http: the checks of gateway/hrg_http that need no connection:
    which Origin values may be reflected into a response head.  */
#include "hrg_respond.h"
#include "support.h"

static void
test_well_formed_origins_are_valid (void **state)
{
    const char *good [] = {
        "http://a", "https://app.example.com", "http://localhost:8080", "http://127.0.0.1:1",
        "https://x-y.example:65535", "http://[::1]:3000", "http://[2001:db8::1]",
        "chrome-extension://abcdefghijklmnop", "git+ssh://host",
    };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++)
        assert_true (hrg_respond_origin_valid (good [i]));
}

static void
test_anything_else_is_refused (void **state)
{
    const char *bad [] = {
        "", "null", "http://", "http:/a", "://a", "1http://a", "http://a/", "http://a/path",
        "http://a?x", "http://a#f", "http://a:", "http://a:0x1", "http://a:123456",
        "http://a:65536", "http://a b", "http://a\rX: y", "http://a\nX: y", "http://a\x01",
        "http://a\x7f", "http://\xc3\xa9.example", "http://[::1", "http://[]", "http://[::g]",
        "http://user@a", "HTTP://a:80:80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        assert_false (hrg_respond_origin_valid (bad [i]));
    assert_false (hrg_respond_origin_valid (NULL));
}

static void
test_length_is_bounded_at_300 (void **state)
{
    char origin [400] = "http://";
    memset (origin + 7, 'a', 293);                  //  300 bytes in all
    origin [300] = 0;
    assert_true (hrg_respond_origin_valid (origin));
    memset (origin + 7, 'a', 294);
    origin [301] = 0;
    assert_false (hrg_respond_origin_valid (origin));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_well_formed_origins_are_valid),
        cmocka_unit_test (test_anything_else_is_refused),
        cmocka_unit_test (test_length_is_bounded_at_300),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
