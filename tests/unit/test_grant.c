/*  test_grant: grant patterns (common/hr_grant, docs/security.md): which
    forms are valid, {sub} expansion, matching, and --public-channels.  */
#include "hr_grant.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

//  Expands pattern with sub; returns the grant (static buffer) or NULL,
//  with the reason in *why.
static const char *
s_expand (const char *pattern, const char *sub, const char **why)
{
    static char result [512];
    hr_buf_t out = HR_BUF_INIT;
    hr_buf_puts (&out, "x");            //  expansion appends after what is there
    *why = NULL;
    bool ok = hr_grant_expand (&out, pattern, strlen (pattern), sub, sub? strlen (sub): 0, why);
    assert_true (out.size >= 1 && out.data [0] == 'x');
    if (ok) {
        assert_null (*why);
        snprintf (result, sizeof result, "%s", out.data + 1);
    }
    else {
        assert_non_null (*why);
        assert_int_equal (out.size, 1);  //  nothing left behind on failure
    }
    hr_buf_free (&out);
    return ok? result: NULL;
}

static void
s_valid (const char *pattern, const char *sub, const char *want)
{
    const char *why;
    const char *got = s_expand (pattern, sub, &why);
    if (!got || strcmp (got, want))
        fail_msg ("\"%s\" (sub %s): got %s (%s), want %s", pattern, sub, got, why, want);
}

static void
s_invalid (const char *pattern, const char *sub, const char *want_why)
{
    const char *why;
    const char *got = s_expand (pattern, sub, &why);
    if (got || strcmp (why, want_why))
        fail_msg ("\"%s\" (sub %s): got %s (%s), want refusal (%s)", pattern, sub, got, why,
                  want_why);
}

static void
test_valid_forms (void **state)
{
    (void) state;
    s_valid ("seller:123", NULL, "seller:123");
    s_valid ("*", NULL, "*");
    s_valid ("business:*", NULL, "business:*");
    s_valid ("a/*", NULL, "a/*");
    s_valid ("a.b.*", NULL, "a.b.*");
    s_valid ("a-*", NULL, "a-*");
    s_valid ("admin:stats", "u1", "admin:stats");
}

static void
test_invalid_forms (void **state)
{
    (void) state;
    const char *sep = "grant with a '*' not after a separator (: / . -)";
    const char *mid = "grant with a '*' before its end";
    const char *name = "grant that is not a channel name, \"*\" or a prefix ending in \"*\"";
    s_invalid ("seller:1*", NULL, sep);
    s_invalid ("a_*", NULL, sep);
    s_invalid ("a@*", NULL, sep);
    s_invalid ("*x", NULL, mid);
    s_invalid ("a**", NULL, mid);
    s_invalid ("**", NULL, mid);
    s_invalid ("seller:*:x", NULL, mid);
    s_invalid ("", NULL, "empty grant");
    s_invalid ("a b", NULL, name);
    s_invalid ("a{b}", NULL, name);
    s_invalid ("{su}", "x", name);
    s_invalid ("a b:*", NULL, "grant prefix that cannot start a channel name");
    //  128 bytes is a channel name; a prefix must leave room for one more
    char big [200];
    memset (big, 'c', sizeof big);
    big [128] = 0;
    s_valid (big, NULL, big);
    big [128] = 'c';
    big [129] = 0;
    s_invalid (big, NULL, name);
    memcpy (big + 126, ":*", 3);        //  127-byte prefix, then '*'
    s_valid (big, NULL, big);
    memcpy (big + 127, ":*", 3);
    s_invalid (big, NULL, "grant prefix that cannot start a channel name");
}

static void
test_sub_is_substituted (void **state)
{
    (void) state;
    s_valid ("seller:{sub}", "123", "seller:123");
    s_valid ("{sub}", "u@example.com", "u@example.com");
    s_valid ("u/{sub}/*", "7", "u/7/*");
    s_valid ("{sub}-{sub}", "a", "a-a");
    s_valid ("team:{sub}:*", "blue", "team:blue:*");
    //  The subject cannot bring a '*', a space or anything outside the alphabet
    const char *bad = "grant with {sub}, and the subject has bytes not allowed in a channel name";
    s_invalid ("seller:{sub}", "*", bad);
    s_invalid ("seller:{sub}", "1*", bad);
    s_invalid ("seller:{sub}", "a b", bad);
    s_invalid ("seller:{sub}", "", bad);
    //  The result must still be a valid grant
    s_invalid ("seller:{sub}*", "1", "grant with a '*' not after a separator (: / . -)");
    s_invalid ("seller:{sub}", NULL, "grant with {sub} where there is no subject");
    //  A subject that makes the name too long
    char sub [130];
    memset (sub, 's', 125);
    sub [125] = 0;
    char want [200];
    snprintf (want, sizeof want, "ab:%s", sub);
    s_valid ("ab:{sub}", sub, want);
    s_invalid ("abc:{sub}", sub,
               "grant that is not a channel name, \"*\" or a prefix ending in \"*\"");
}

static bool
s_match (const char *grant, const char *channel)
{
    return hr_grant_match (grant, strlen (grant), channel, strlen (channel));
}

static void
test_matching (void **state)
{
    (void) state;
    assert_true (s_match ("seller:123", "seller:123"));
    assert_false (s_match ("seller:123", "seller:1234"));
    assert_false (s_match ("seller:123", "seller:12"));
    assert_false (s_match ("seller:123", "seller:456"));
    assert_true (s_match ("*", "anything"));
    assert_true (s_match ("*", "a"));
    assert_true (s_match ("business:*", "business:1"));
    assert_true (s_match ("business:*", "business:1:orders"));
    assert_false (s_match ("business:*", "business:"));   //  '*' is one or more bytes
    assert_false (s_match ("business:*", "business"));
    assert_false (s_match ("business:*", "businesses:1"));
    assert_false (s_match ("business:*", "admin:stats"));
    assert_false (s_match ("", "a"));
}

static void
test_lists_parse_and_match (void **state)
{
    (void) state;
    hr_grants_t grants;
    hr_buf_t err = HR_BUF_INIT;
    assert_true (hr_grants_parse_list (&grants, "news, public:* ,status", &err));
    assert_int_equal (grants.count, 3);
    assert_string_equal (grants.grant [0], "news");
    assert_string_equal (grants.grant [1], "public:*");
    assert_int_equal (grants.len [1], 8);
    assert_string_equal (grants.grant [2], "status");
    assert_true (hr_grants_match (&grants, "news", 4));
    assert_true (hr_grants_match (&grants, "public:x", 8));
    assert_false (hr_grants_match (&grants, "newsx", 5));
    assert_false (hr_grants_match (&grants, "private:x", 9));
    hr_grants_free (&grants);
    assert_int_equal (grants.count, 0);
    assert_null (grants.data);
    hr_grants_free (&grants);           //  twice is harmless
    //  Empty list: nothing is public
    assert_true (hr_grants_parse_list (&grants, "", &err));
    assert_int_equal (grants.count, 0);
    assert_false (hr_grants_match (&grants, "news", 4));
    hr_grants_free (&grants);
    assert_true (hr_grants_parse_list (&grants, NULL, &err));
    hr_grants_free (&grants);
    assert_null (err.data);
}

static void
s_list_refused (const char *list, const char *want)
{
    hr_grants_t grants;
    hr_buf_t err = HR_BUF_INIT;
    assert_false (hr_grants_parse_list (&grants, list, &err));
    assert_int_equal (grants.count, 0);
    assert_null (grants.data);
    if (!strstr (err.data, want))
        fail_msg ("\"%s\": got \"%s\", want \"%s\"", list, err.data, want);
    hr_buf_free (&err);
}

static void
test_bad_lists_are_refused (void **state)
{
    (void) state;
    s_list_refused ("news,seller:1*", "channel pattern 2 \"seller:1*\": grant with a '*' not "
                    "after a separator");
    s_list_refused ("news,,x", "channel pattern 2 \"\": empty grant");
    s_list_refused ("news,", "channel pattern 2 is empty");
    s_list_refused ("user:{sub}", "grant with {sub} where there is no subject");
    s_list_refused (" ", "empty grant");
}

static void
test_from_buf_builds_one_block (void **state)
{
    (void) state;
    hr_grants_t grants;
    hr_grants_from_buf (&grants, "a\0bc:*\0", 7, 2);
    assert_int_equal (grants.count, 2);
    assert_string_equal (grants.grant [0], "a");
    assert_int_equal (grants.len [0], 1);
    assert_string_equal (grants.grant [1], "bc:*");
    assert_int_equal (grants.len [1], 4);
    assert_true (hr_grants_match (&grants, "bc:d", 4));
    hr_grants_free (&grants);
    hr_grants_from_buf (&grants, NULL, 0, 0);
    assert_int_equal (grants.count, 0);
    assert_false (hr_grants_match (&grants, "a", 1));
    hr_grants_free (&grants);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_valid_forms),
        cmocka_unit_test (test_invalid_forms),
        cmocka_unit_test (test_sub_is_substituted),
        cmocka_unit_test (test_matching),
        cmocka_unit_test (test_lists_parse_and_match),
        cmocka_unit_test (test_bad_lists_are_refused),
        cmocka_unit_test (test_from_buf_builds_one_block),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
