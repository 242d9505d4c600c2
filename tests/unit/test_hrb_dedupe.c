/*  test_hrb_dedupe: the idempotency window (broker/hrb_dedupe): the memory
    bound, keys forgotten early being counted, and the expiry budget. (The
    window itself and --dedupe-max are in test_store.c.)  */
#include "hrb_dedupe.h"

#include "support.h"

#define S_EPOCH "0123456789abcdef"

static void
s_insert (hrb_dedupe_t *dedupe, const char *id, uint64_t now, uint64_t seq)
{
    hrb_dedupe_insert (dedupe, "ch", 2, id, strlen (id), now, seq, S_EPOCH);
}

static bool
s_known (hrb_dedupe_t *dedupe, const char *id, uint64_t now)
{
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    return hrb_dedupe_find (dedupe, "ch", 2, id, strlen (id), now, &seq, epoch);
}

static void
test_bytes_count_overhead_channel_and_id (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (1000, 100, 1 << 20);
    s_insert (dedupe, "k1", 1, 1);
    s_insert (dedupe, "key2", 1, 2);
    assert_int_equal (hrb_dedupe_bytes (dedupe),
                      2 * HRB_DEDUPE_KEY_OVERHEAD + (2 + 2) + (2 + 4));
    assert_int_equal (hrb_dedupe_keys (dedupe), 2);
    hrb_dedupe_expire (dedupe, 5000, SIZE_MAX);
    assert_int_equal (hrb_dedupe_bytes (dedupe), 0);
    hrb_dedupe_destroy (&dedupe);
}

static void
test_memory_bound_forgets_oldest_and_counts_it (void **state)
{
    //  Room for two keys of "ch" + 2-byte ids
    hrb_dedupe_t *dedupe = hrb_dedupe_new (1000, 100, 2 * (HRB_DEDUPE_KEY_OVERHEAD + 4));
    s_insert (dedupe, "k1", 1, 1);
    s_insert (dedupe, "k2", 2, 2);
    assert_int_equal (hrb_dedupe_dropped (dedupe), 0);
    s_insert (dedupe, "k3", 3, 3);
    assert_false (s_known (dedupe, "k1", 4));
    assert_true (s_known (dedupe, "k2", 4));
    assert_true (s_known (dedupe, "k3", 4));
    assert_int_equal (hrb_dedupe_keys (dedupe), 2);
    assert_int_equal (hrb_dedupe_dropped (dedupe), 1);      //  k1 was still in its window
    assert_true (hrb_dedupe_bytes (dedupe) <= 2 * (HRB_DEDUPE_KEY_OVERHEAD + 4));
    hrb_dedupe_destroy (&dedupe);
}

static void
test_key_over_the_memory_bound_is_not_kept (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (1000, 100, HRB_DEDUPE_KEY_OVERHEAD);
    s_insert (dedupe, "k1", 1, 1);
    assert_false (s_known (dedupe, "k1", 2));
    assert_int_equal (hrb_dedupe_bytes (dedupe), 0);
    hrb_dedupe_destroy (&dedupe);
}

static void
test_keys_forgotten_after_their_window_are_not_dropped (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (10, 1, 1 << 20);
    s_insert (dedupe, "k1", 1, 1);
    s_insert (dedupe, "k2", 100, 2);           //  k1's window ended long ago
    assert_int_equal (hrb_dedupe_dropped (dedupe), 0);
    s_insert (dedupe, "k3", 101, 3);           //  k2's had not
    assert_int_equal (hrb_dedupe_dropped (dedupe), 1);
    hrb_dedupe_destroy (&dedupe);
}

static void
test_expire_stops_at_its_budget (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (10, 100, 1 << 20);
    char id [8];
    for (int i = 0; i < 10; i++) {
        snprintf (id, sizeof id, "k%d", i);
        s_insert (dedupe, id, 1, (uint64_t) i);
    }
    assert_int_equal (hrb_dedupe_expire (dedupe, 100, 4), 4);
    assert_int_equal (hrb_dedupe_keys (dedupe), 6);
    assert_int_equal (hrb_dedupe_expire (dedupe, 100, 4), 4);
    assert_int_equal (hrb_dedupe_expire (dedupe, 100, 4), 2);
    assert_int_equal (hrb_dedupe_keys (dedupe), 0);
    assert_int_equal (hrb_dedupe_dropped (dedupe), 0);
    hrb_dedupe_destroy (&dedupe);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bytes_count_overhead_channel_and_id),
        cmocka_unit_test (test_memory_bound_forgets_oldest_and_counts_it),
        cmocka_unit_test (test_key_over_the_memory_bound_is_not_kept),
        cmocka_unit_test (test_keys_forgotten_after_their_window_are_not_dropped),
        cmocka_unit_test (test_expire_stops_at_its_budget),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
