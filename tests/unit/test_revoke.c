/*  test_revoke: the revocation list (common/hr_revoke).

    Every transition: a new entry, an extension, a repeat or an earlier
    until (nothing changes), expiry (dropped first, its room reused), a
    full list, lookups by sub and by jti, the generation, the bytes, and
    the walk by position the broker's replay uses.  */
#include "hr_revoke.h"

#include "support.h"

#include <pthread.h>

#define NOW 1000000

static void
test_new_entry_is_added_and_matches_until_its_time (void **state)
{
    hr_revoke_t *list = hr_revoke_new (4);
    assert_int_equal (hr_revoke_count (list, NOW), 0);
    assert_false (hr_revoke_matches (list, "u1", 2, "", 0, NOW));
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "u1", 2, NOW + 60, NOW), 0);
    assert_true (hr_revoke_matches (list, "u1", 2, "", 0, NOW));
    assert_true (hr_revoke_matches (list, "u1", 2, "", 0, NOW + 59));
    //  Live while now < until: at until it has expired
    assert_false (hr_revoke_matches (list, "u1", 2, "", 0, NOW + 60));
    assert_false (hr_revoke_matches (list, "u2", 2, "", 0, NOW));
    assert_false (hr_revoke_matches (list, "u", 1, "", 0, NOW));
    assert_int_equal (hr_revoke_count (list, NOW), 1);
    hr_revoke_destroy (&list);
    assert_null (list);
}

static void
test_later_until_extends_same_or_earlier_changes_nothing (void **state)
{
    hr_revoke_t *list = hr_revoke_new (4);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "u1", 2, NOW + 60, NOW), 0);
    uint64_t generation = hr_revoke_generation (list);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "u1", 2, NOW + 60, NOW), 1);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "u1", 2, NOW + 10, NOW), 1);
    assert_int_equal (hr_revoke_generation (list), generation);
    assert_false (hr_revoke_matches (list, "u1", 2, NULL, 0, NOW + 60));
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "u1", 2, NOW + 120, NOW), 0);
    assert_int_equal (hr_revoke_generation (list), generation + 1);
    assert_true (hr_revoke_matches (list, "u1", 2, NULL, 0, NOW + 119));
    assert_false (hr_revoke_matches (list, "u1", 2, NULL, 0, NOW + 120));
    assert_int_equal (hr_revoke_count (list, NOW), 1);
    hr_revoke_destroy (&list);
}

static void
test_until_already_past_changes_nothing (void **state)
{
    hr_revoke_t *list = hr_revoke_new (4);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "u1", 2, NOW, NOW), 1);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_JTI, "j1", 2, NOW - 5, NOW), 1);
    assert_int_equal (hr_revoke_count (list, NOW), 0);
    assert_int_equal (hr_revoke_generation (list), 0);
    hr_revoke_destroy (&list);
}

static void
test_sub_and_jti_are_separate_kinds (void **state)
{
    hr_revoke_t *list = hr_revoke_new (4);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_JTI, "abc", 3, NOW + 60, NOW), 0);
    //  A jti never matches a sub of the same text, nor the reverse
    assert_false (hr_revoke_matches (list, "abc", 3, "other", 5, NOW));
    assert_true (hr_revoke_matches (list, "u9", 2, "abc", 3, NOW));
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "abc", 3, NOW + 30, NOW), 0);
    assert_int_equal (hr_revoke_count (list, NOW), 2);
    assert_true (hr_revoke_matches (list, "abc", 3, NULL, 0, NOW + 40) == false);
    assert_true (hr_revoke_matches (list, "x", 1, "abc", 3, NOW + 40));
    hr_revoke_destroy (&list);
}

static void
test_empty_jti_never_matches (void **state)
{
    hr_revoke_t *list = hr_revoke_new (4);
    //  Nothing empty can be revoked, so a token without jti is not revoked by one
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_JTI, "", 0, NOW + 60, NOW), -1);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "", 0, NOW + 60, NOW), -1);
    assert_false (hr_revoke_matches (list, "u1", 2, "", 0, NOW));
    assert_false (hr_revoke_matches (list, "u1", 2, NULL, 0, NOW));
    assert_int_equal (hr_revoke_count (list, NOW), 0);
    hr_revoke_destroy (&list);
}

static void
test_value_over_the_maximum_or_bad_kind_is_refused (void **state)
{
    hr_revoke_t *list = hr_revoke_new (4);
    char value [HR_REVOKE_VALUE_MAX + 1];
    memset (value, 'v', sizeof value);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, value, HR_REVOKE_VALUE_MAX + 1,
                                     NOW + 60, NOW), -1);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, value, HR_REVOKE_VALUE_MAX,
                                     NOW + 60, NOW), 0);
    assert_true (hr_revoke_matches (list, value, HR_REVOKE_VALUE_MAX, NULL, 0, NOW));
    assert_false (hr_revoke_matches (list, value, HR_REVOKE_VALUE_MAX + 1, NULL, 0, NOW));
    assert_int_equal (hr_revoke_add (list, (hr_revoke_kind_t) 7, "x", 1, NOW + 60, NOW), -1);
    hr_revoke_destroy (&list);
}

static void
test_full_list_refuses_a_new_entry_but_extends_one_it_holds (void **state)
{
    hr_revoke_t *list = hr_revoke_new (3);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "a", 1, NOW + 60, NOW), 0);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "b", 1, NOW + 60, NOW), 0);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_JTI, "c", 1, NOW + 60, NOW), 0);
    uint64_t generation = hr_revoke_generation (list);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "d", 1, NOW + 60, NOW), -1);
    assert_int_equal (hr_revoke_generation (list), generation);
    assert_false (hr_revoke_matches (list, "d", 1, NULL, 0, NOW));
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "a", 1, NOW + 90, NOW), 0);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "b", 1, NOW + 60, NOW), 1);
    assert_int_equal (hr_revoke_count (list, NOW), 3);
    hr_revoke_destroy (&list);
}

static void
test_expired_entries_are_dropped_first_and_their_room_reused (void **state)
{
    hr_revoke_t *list = hr_revoke_new (3);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "short", 5, NOW + 10, NOW), 0);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "long", 4, NOW + 600, NOW), 0);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_JTI, "j", 1, NOW + 20, NOW), 0);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "new", 3, NOW + 60, NOW + 5), -1);
    //  At NOW + 10 "short" has expired: its room takes the new one
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "new", 3, NOW + 60, NOW + 10), 0);
    assert_true (hr_revoke_matches (list, "new", 3, NULL, 0, NOW + 10));
    assert_true (hr_revoke_matches (list, "long", 4, NULL, 0, NOW + 10));
    assert_true (hr_revoke_matches (list, "x", 1, "j", 1, NOW + 10));
    assert_false (hr_revoke_matches (list, "short", 5, NULL, 0, NOW + 10));
    assert_int_equal (hr_revoke_count (list, NOW + 10), 3);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "more", 4, NOW + 60, NOW + 10), -1);
    //  Counting drops the expired too; then both of these fit
    assert_int_equal (hr_revoke_count (list, NOW + 20), 2);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "more", 4, NOW + 60, NOW + 20), 0);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "short", 5, NOW + 60, NOW + 20), -1);
    assert_int_equal (hr_revoke_count (list, NOW + 61), 1);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "short", 5, NOW + 90, NOW + 61), 0);
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "again", 5, NOW + 90, NOW + 61), 0);
    assert_int_equal (hr_revoke_count (list, NOW + 61), 3);
    hr_revoke_destroy (&list);
}

static void
test_many_entries_all_found (void **state)
{
    //  Past the first bucket count: every entry is still found after growth
    hr_revoke_t *list = hr_revoke_new (5000);
    char value [32];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf (value, sizeof value, "user-%d", i);
        assert_int_equal (hr_revoke_add (list, i % 2? HR_REVOKE_SUB: HR_REVOKE_JTI, value,
                                         (size_t) len, NOW + 1 + i, NOW), 0);
    }
    assert_int_equal (hr_revoke_add (list, HR_REVOKE_SUB, "x", 1, NOW + 60, NOW), -1);
    for (int i = 0; i < 5000; i++) {
        int len = snprintf (value, sizeof value, "user-%d", i);
        bool sub = i % 2;
        assert_true (hr_revoke_matches (list, sub? value: "", sub? (size_t) len: 0,
                                        sub? NULL: value, sub? 0: (size_t) len, NOW));
    }
    //  Half expire; the other half are still found
    assert_int_equal (hr_revoke_count (list, NOW + 2501), 2499);
    for (int i = 2501; i < 5000; i++) {
        int len = snprintf (value, sizeof value, "user-%d", i);
        bool sub = i % 2;
        assert_true (hr_revoke_matches (list, sub? value: "", sub? (size_t) len: 0,
                                        sub? NULL: value, sub? 0: (size_t) len, NOW + 2501));
    }
    hr_revoke_destroy (&list);
}

static void
test_generation_moves_only_on_change (void **state)
{
    hr_revoke_t *list = hr_revoke_new (2);
    assert_int_equal (hr_revoke_generation (list), 0);
    hr_revoke_add (list, HR_REVOKE_SUB, "a", 1, NOW + 60, NOW);
    assert_int_equal (hr_revoke_generation (list), 1);
    hr_revoke_add (list, HR_REVOKE_SUB, "a", 1, NOW + 60, NOW);          //  same
    hr_revoke_add (list, HR_REVOKE_SUB, "a", 1, NOW + 30, NOW);          //  earlier
    hr_revoke_add (list, HR_REVOKE_SUB, "", 0, NOW + 30, NOW);           //  refused
    assert_int_equal (hr_revoke_generation (list), 1);
    hr_revoke_add (list, HR_REVOKE_JTI, "a", 1, NOW + 60, NOW);          //  new
    assert_int_equal (hr_revoke_generation (list), 2);
    hr_revoke_add (list, HR_REVOKE_SUB, "b", 1, NOW + 60, NOW);          //  full
    assert_int_equal (hr_revoke_generation (list), 2);
    hr_revoke_add (list, HR_REVOKE_SUB, "a", 1, NOW + 61, NOW);          //  extended
    assert_int_equal (hr_revoke_generation (list), 3);
    //  Expiry changes no decision a worker must act on: no bump
    hr_revoke_count (list, NOW + 100);
    assert_int_equal (hr_revoke_generation (list), 3);
    hr_revoke_destroy (&list);
}

static void
test_bytes_count_values_and_drop_with_them (void **state)
{
    hr_revoke_t *list = hr_revoke_new (100);
    size_t empty = hr_revoke_bytes (list);
    assert_true (empty > 0);
    hr_revoke_add (list, HR_REVOKE_SUB, "a", 1, NOW + 60, NOW);
    size_t one = hr_revoke_bytes (list);
    assert_true (one > empty);
    char value [200];
    memset (value, 'x', sizeof value);
    hr_revoke_add (list, HR_REVOKE_SUB, value, sizeof value, NOW + 10, NOW);
    //  Same slot capacity: the difference is the value's bytes
    assert_int_equal (hr_revoke_bytes (list), one + sizeof value);
    hr_revoke_count (list, NOW + 10);
    assert_int_equal (hr_revoke_bytes (list), one);
    hr_revoke_destroy (&list);
}

#ifdef TU_HAVE_ASAN
static void
test_bytes_cover_what_the_list_allocates (void **state)
{
    size_t before = __sanitizer_get_current_allocated_bytes ();
    hr_revoke_t *list = hr_revoke_new (1000);
    char value [64];
    for (int i = 0; i < 1000; i++) {
        int len = snprintf (value, sizeof value, "subject-number-%d", i);
        hr_revoke_add (list, HR_REVOKE_SUB, value, (size_t) len, NOW + 60, NOW);
    }
    size_t used = __sanitizer_get_current_allocated_bytes () - before;
    size_t counted = hr_revoke_bytes (list);
    //  The mutex and allocator rounding aside, what is counted is what is held
    assert_true (counted <= used);
    assert_true (counted * 10 >= used * 7);
    hr_revoke_destroy (&list);
}
#endif

static void
test_walk_visits_each_live_entry_once (void **state)
{
    hr_revoke_t *list = hr_revoke_new (8);
    hr_revoke_add (list, HR_REVOKE_SUB, "a", 1, NOW + 60, NOW);
    hr_revoke_add (list, HR_REVOKE_JTI, "b", 1, NOW + 5, NOW);
    hr_revoke_add (list, HR_REVOKE_SUB, "c", 1, NOW + 70, NOW);
    size_t at = 0;
    hr_revoke_kind_t kind;
    char value [HR_REVOKE_VALUE_MAX];
    size_t len;
    int64_t until;
    //  "b" has expired at NOW + 5: skipped
    assert_true (hr_revoke_next (list, &at, NOW + 5, &kind, value, &len, &until));
    assert_int_equal (kind, HR_REVOKE_SUB);
    tu_assert_span (value, len, "a");
    assert_int_equal (until, NOW + 60);
    //  An entry that stays is not lost when others come and go
    assert_int_equal (hr_revoke_count (list, NOW + 5), 2);
    //  "d" takes the freed slot of "b", ahead of "c": seen or not, "c" is
    hr_revoke_add (list, HR_REVOKE_SUB, "d", 1, NOW + 80, NOW + 5);
    bool seen_c = false;
    while (hr_revoke_next (list, &at, NOW + 5, &kind, value, &len, &until))
        seen_c |= len == 1 && value [0] == 'c';
    assert_true (seen_c);
    assert_false (hr_revoke_next (list, &at, NOW + 5, &kind, value, &len, &until));
    at = 0;
    int seen = 0;
    while (hr_revoke_next (list, &at, NOW + 5, &kind, value, &len, &until))
        seen++;
    assert_int_equal (seen, 3);
    hr_revoke_destroy (&list);
}

//  Workers read while the link adds: no torn state (run under TSan/ASan).
static void *
s_reader (void *arg)
{
    hr_revoke_t *list = arg;
    int found = 0;
    for (int i = 0; i < 20000; i++)
        found += hr_revoke_matches (list, "u1", 2, "j", 1, NOW);
    return (void *) (intptr_t) found;
}

static void
test_concurrent_readers_and_a_writer (void **state)
{
    hr_revoke_t *list = hr_revoke_new (1000);
    pthread_t threads [2];
    for (int t = 0; t < 2; t++)
        pthread_create (&threads [t], NULL, s_reader, list);
    char value [32];
    for (int i = 0; i < 999; i++) {
        int len = snprintf (value, sizeof value, "v%d", i);
        hr_revoke_add (list, HR_REVOKE_SUB, value, (size_t) len, NOW + 1 + i % 50, NOW);
        if (i % 100 == 0)
            hr_revoke_count (list, NOW + i % 50);
    }
    hr_revoke_add (list, HR_REVOKE_SUB, "u1", 2, NOW + 60, NOW);
    for (int t = 0; t < 2; t++)
        pthread_join (threads [t], NULL);
    assert_true (hr_revoke_matches (list, "u1", 2, NULL, 0, NOW));
    hr_revoke_destroy (&list);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_new_entry_is_added_and_matches_until_its_time),
        cmocka_unit_test (test_later_until_extends_same_or_earlier_changes_nothing),
        cmocka_unit_test (test_until_already_past_changes_nothing),
        cmocka_unit_test (test_sub_and_jti_are_separate_kinds),
        cmocka_unit_test (test_empty_jti_never_matches),
        cmocka_unit_test (test_value_over_the_maximum_or_bad_kind_is_refused),
        cmocka_unit_test (test_full_list_refuses_a_new_entry_but_extends_one_it_holds),
        cmocka_unit_test (test_expired_entries_are_dropped_first_and_their_room_reused),
        cmocka_unit_test (test_many_entries_all_found),
        cmocka_unit_test (test_generation_moves_only_on_change),
        cmocka_unit_test (test_bytes_count_values_and_drop_with_them),
#ifdef TU_HAVE_ASAN
        cmocka_unit_test (test_bytes_cover_what_the_list_allocates),
#endif
        cmocka_unit_test (test_walk_visits_each_live_entry_once),
        cmocka_unit_test (test_concurrent_readers_and_a_writer),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
