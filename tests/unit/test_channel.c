/*  test_channel: channel names, tokens, ids and channel sets
    (common/hr_channel).  */
#include "hr_channel.h"
#include "hr_hash.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static bool
s_valid (const char *name)
{
    return hr_channel_valid (name, strlen (name));
}

static bool
s_in_alphabet (int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || (c && strchr ("_.:@/-", c));
}

//  --------------------------------------------------------------------
//  Names

static void
test_plain_names_are_valid (void **state)
{
    assert_true (s_valid ("a"));
    assert_true (s_valid ("orders"));
    assert_true (s_valid ("seller:1"));
    assert_true (s_valid ("Z9"));
    assert_true (s_valid ("0"));
}

static void
test_each_allowed_punctuation_is_valid (void **state)
{
    static const char *const punct = "_.:@/-";
    for (const char *p = punct; *p; p++) {
        char alone [2] = { *p, 0 };
        char inside [4] = { 'a', *p, 'b', 0 };
        assert_true (s_valid (alone));
        assert_true (s_valid (inside));
    }
    assert_true (s_valid ("tenant@example.com/seller:1_stats-v2"));
}

static void
test_empty_name_is_invalid (void **state)
{
    assert_false (hr_channel_valid ("", 0));
    assert_false (hr_channel_valid ("abc", 0));
}

static void
test_128_bytes_valid_129_invalid (void **state)
{
    char name [130];
    memset (name, 'x', sizeof name);
    assert_true (hr_channel_valid (name, 128));
    assert_false (hr_channel_valid (name, 129));
    assert_int_equal (HR_CHANNEL_MAX, 128);
}

static void
test_bar_space_and_other_punctuation_are_invalid (void **state)
{
    static const char *const bad [] = { "seller|1", "|", "a b", " a", "a ", "a\tb", "a\nb",
        "a*", "a#b", "a+b", "a?b", "a&b", "a=b", "a,b", "a;b", "a\"b", "a'b", "a\\b",
        "a%20b", "a~b", "a!b", "(a)", "[a]", "{a}", "<a>", "a$b", "a^b", "a`b" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        if (s_valid (bad [i]))
            fail_msg ("'%s' accepted as a channel name", bad [i]);
}

static void
test_utf8_is_invalid (void **state)
{
    assert_false (s_valid ("caf\xc3\xa9"));
    assert_false (s_valid ("\xe2\x82\xac"));
    assert_false (s_valid ("\xff"));
}

static void
test_nul_inside_is_invalid (void **state)
{
    assert_false (hr_channel_valid ("ab\0cd", 5));
    assert_false (hr_channel_valid ("\0", 1));
    assert_false (hr_channel_valid ("ab\0", 3));
}

static void
test_exactly_the_alphabet_is_accepted (void **state)
{
    for (int c = 0; c < 256; c++) {
        char name [3] = { 'a', (char) c, 'b' };
        if (hr_channel_valid (name, 3) != s_in_alphabet (c))
            fail_msg ("byte 0x%02x: valid=%d", c, hr_channel_valid (name, 3));
    }
}

static void
test_token_valid_uses_its_max (void **state)
{
    char text [70];
    memset (text, 't', sizeof text);
    assert_true (hr_token_valid (text, HR_TYPE_MAX, HR_TYPE_MAX));
    assert_false (hr_token_valid (text, HR_TYPE_MAX + 1, HR_TYPE_MAX));
    assert_true (hr_token_valid (text, HR_EPOCH_MAX, HR_EPOCH_MAX));
    assert_false (hr_token_valid (text, HR_EPOCH_MAX + 1, HR_EPOCH_MAX));
    assert_false (hr_token_valid (text, 0, HR_TYPE_MAX));
    assert_false (hr_token_valid ("a b", 3, HR_TYPE_MAX));
}

static void
test_id_is_printable_ascii_1_to_128 (void **state)
{
    for (int c = 0; c < 256; c++) {
        char id [1] = { (char) c };
        if (hr_id_valid (id, 1) != (c >= 0x21 && c <= 0x7e))
            fail_msg ("id byte 0x%02x: valid=%d", c, hr_id_valid (id, 1));
    }
    char id [130];
    memset (id, '|', sizeof id);
    assert_true (hr_id_valid (id, 128));
    assert_false (hr_id_valid (id, 129));
    assert_false (hr_id_valid (id, 0));
}

//  --------------------------------------------------------------------
//  Channel sets

static uint32_t
s_hash_of (const char *const *sorted, size_t count)
{
    uint32_t hash = HR_FNV1A_SEED;
    for (size_t i = 0; i < count; i++) {
        hash = hr_fnv1a (hash, sorted [i], strlen (sorted [i]));
        hash = hr_fnv1a (hash, "\n", 1);
    }
    return hash;
}

static void
test_chanset_sorts_names (void **state)
{
    const char *names [] = { "orders", "b", "a:1", "Zeta", "a" };
    hr_chanset_t *set = hr_chanset_new (names, 5);
    assert_int_equal (set->count, 5);
    assert_string_equal (set->names [0], "Zeta");       //  byte order: 'Z' < 'a'
    assert_string_equal (set->names [1], "a");
    assert_string_equal (set->names [2], "a:1");
    assert_string_equal (set->names [3], "b");
    assert_string_equal (set->names [4], "orders");
    hr_chanset_destroy (&set);
    assert_null (set);
}

static void
test_chanset_removes_duplicates (void **state)
{
    const char *names [] = { "b", "a", "b", "a", "a", "c" };
    hr_chanset_t *set = hr_chanset_new (names, 6);
    assert_int_equal (set->count, 3);
    assert_string_equal (set->names [0], "a");
    assert_string_equal (set->names [1], "b");
    assert_string_equal (set->names [2], "c");
    assert_string_equal (set->key, "a\nb\nc");
    hr_chanset_destroy (&set);
}

static void
test_chanset_key_and_hash_follow_the_format (void **state)
{
    const char *names [] = { "stats", "orders" };
    const char *sorted [] = { "orders", "stats" };
    hr_chanset_t *set = hr_chanset_new (names, 2);
    assert_string_equal (set->key, "orders\nstats");
    assert_int_equal (set->hash, s_hash_of (sorted, 2));
    hr_chanset_destroy (&set);
}

static void
test_chanset_key_and_hash_independent_of_order (void **state)
{
    const char *a [] = { "x", "y", "z", "w" };
    const char *b [] = { "z", "w", "x", "y", "z" };
    const char *c [] = { "w", "x", "y", "z" };
    hr_chanset_t *sa = hr_chanset_new (a, 4);
    hr_chanset_t *sb = hr_chanset_new (b, 5);
    hr_chanset_t *sc = hr_chanset_new (c, 4);
    assert_string_equal (sa->key, sb->key);
    assert_string_equal (sa->key, sc->key);
    assert_int_equal (sa->hash, sb->hash);
    assert_int_equal (sa->hash, sc->hash);
    hr_chanset_destroy (&sa);
    hr_chanset_destroy (&sb);
    hr_chanset_destroy (&sc);
}

static void
test_different_sets_have_different_keys_and_hashes (void **state)
{
    //  "a\nb" as one set must differ from {"a", "b"} run together, etc.
    const char *one [] = { "ab" };
    const char *two [] = { "a", "b" };
    hr_chanset_t *s1 = hr_chanset_new (one, 1);
    hr_chanset_t *s2 = hr_chanset_new (two, 2);
    assert_string_not_equal (s1->key, s2->key);
    assert_int_not_equal (s1->hash, s2->hash);
    hr_chanset_destroy (&s1);
    hr_chanset_destroy (&s2);
}

static void
test_chanset_copies_names (void **state)
{
    char name [] = "orders";
    const char *names [] = { name };
    hr_chanset_t *set = hr_chanset_new (names, 1);
    name [0] = 'X';
    assert_string_equal (set->names [0], "orders");
    assert_ptr_not_equal (set->names [0], name);
    hr_chanset_destroy (&set);
}

static void
test_chanset_of_64_channels (void **state)
{
    char storage [64][8];
    const char *names [64];
    for (int i = 0; i < 64; i++) {
        snprintf (storage [i], sizeof storage [i], "c%02d", 63 - i);
        names [i] = storage [i];
    }
    hr_chanset_t *set = hr_chanset_new (names, 64);
    assert_int_equal (set->count, 64);
    for (int i = 0; i < 64; i++) {
        char want [8];
        snprintf (want, sizeof want, "c%02d", i);
        assert_string_equal (set->names [i], want);
        assert_int_equal (hr_chanset_find (set, want), i);
    }
    hr_chanset_destroy (&set);
}

static void
test_chanset_find_returns_index_or_minus_one (void **state)
{
    const char *names [] = { "m", "c", "x", "a" };
    hr_chanset_t *set = hr_chanset_new (names, 4);
    assert_int_equal (hr_chanset_find (set, "a"), 0);
    assert_int_equal (hr_chanset_find (set, "c"), 1);
    assert_int_equal (hr_chanset_find (set, "m"), 2);
    assert_int_equal (hr_chanset_find (set, "x"), 3);
    assert_int_equal (hr_chanset_find (set, "b"), -1);
    assert_int_equal (hr_chanset_find (set, ""), -1);
    assert_int_equal (hr_chanset_find (set, "zz"), -1);
    assert_int_equal (hr_chanset_find (set, "mm"), -1);
    hr_chanset_destroy (&set);
}

static void
test_chanset_find_in_empty_set (void **state)
{
    hr_chanset_t *set = hr_chanset_new (NULL, 0);
    assert_int_equal (set->count, 0);
    assert_string_equal (set->key, "");
    assert_int_equal (set->hash, HR_FNV1A_SEED);
    assert_int_equal (hr_chanset_find (set, "a"), -1);
    hr_chanset_destroy (&set);
}

static void
test_chanset_destroy_accepts_null (void **state)
{
    hr_chanset_t *set = NULL;
    hr_chanset_destroy (&set);
    assert_null (set);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_plain_names_are_valid),
        cmocka_unit_test (test_each_allowed_punctuation_is_valid),
        cmocka_unit_test (test_empty_name_is_invalid),
        cmocka_unit_test (test_128_bytes_valid_129_invalid),
        cmocka_unit_test (test_bar_space_and_other_punctuation_are_invalid),
        cmocka_unit_test (test_utf8_is_invalid),
        cmocka_unit_test (test_nul_inside_is_invalid),
        cmocka_unit_test (test_exactly_the_alphabet_is_accepted),
        cmocka_unit_test (test_token_valid_uses_its_max),
        cmocka_unit_test (test_id_is_printable_ascii_1_to_128),
        cmocka_unit_test (test_chanset_sorts_names),
        cmocka_unit_test (test_chanset_removes_duplicates),
        cmocka_unit_test (test_chanset_key_and_hash_follow_the_format),
        cmocka_unit_test (test_chanset_key_and_hash_independent_of_order),
        cmocka_unit_test (test_different_sets_have_different_keys_and_hashes),
        cmocka_unit_test (test_chanset_copies_names),
        cmocka_unit_test (test_chanset_of_64_channels),
        cmocka_unit_test (test_chanset_find_returns_index_or_minus_one),
        cmocka_unit_test (test_chanset_find_in_empty_set),
        cmocka_unit_test (test_chanset_destroy_accepts_null),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
