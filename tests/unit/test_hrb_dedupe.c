/*  test_hrb_dedupe: the idempotency window (broker/hrb_dedupe): lookups,
    the window, --dedupe-max, the memory bound, keys forgotten early being
    counted, and the expiry budget.  */
#include "hrb_dedupe.h"
#include "hr_buf.h"
#include "hr_channel.h"

#include "support.h"

#define S_EPOCH "0123456789abcdef0123456789abcdef"

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

//  Expires without a budget; returns the keys left.
static size_t
s_expire_keys (hrb_dedupe_t *dedupe, uint64_t now_ms)
{
    hrb_dedupe_expire (dedupe, now_ms, SIZE_MAX);
    return hrb_dedupe_keys (dedupe);
}

#define K(text) text, strlen (text)

static void
test_dedupe_find_misses_then_hits_after_insert (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (300000, 100, SIZE_MAX);
    uint64_t seq = 0;
    char epoch [HR_EPOCH_LEN + 1] = "";
    assert_false (hrb_dedupe_find (dedupe, K ("orders"), K ("k1"), 1000, &seq, epoch));
    hrb_dedupe_insert (dedupe, K ("orders"), K ("k1"), 1000, 42, "0123456789abcdef0123456789abcdef");
    assert_true (hrb_dedupe_find (dedupe, K ("orders"), K ("k1"), 1000, &seq, epoch));
    assert_int_equal (seq, 42);
    assert_string_equal (epoch, "0123456789abcdef0123456789abcdef");
    hrb_dedupe_destroy (&dedupe);
    assert_null (dedupe);
}

static void
test_dedupe_keys_are_per_channel_and_id (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (300000, 100, SIZE_MAX);
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    hrb_dedupe_insert (dedupe, K ("a:b"), K ("c"), 0, 1, "00000000000000010000000000000001");
    assert_false (hrb_dedupe_find (dedupe, K ("a"), K ("b:c"), 0, &seq, epoch));
    assert_false (hrb_dedupe_find (dedupe, K ("a:b"), K ("C"), 0, &seq, epoch));
    assert_false (hrb_dedupe_find (dedupe, K ("other"), K ("c"), 0, &seq, epoch));
    hrb_dedupe_insert (dedupe, K ("other"), K ("c"), 0, 2, "00000000000000020000000000000002");
    assert_true (hrb_dedupe_find (dedupe, K ("a:b"), K ("c"), 0, &seq, epoch));
    assert_int_equal (seq, 1);
    assert_true (hrb_dedupe_find (dedupe, K ("other"), K ("c"), 0, &seq, epoch));
    assert_int_equal (seq, 2);
    hrb_dedupe_destroy (&dedupe);
}

static void
test_dedupe_window_is_measured_from_first_publish (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (500, 100, SIZE_MAX);
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    hrb_dedupe_insert (dedupe, K ("c"), K ("k"), 1000, 7, "00000000000000070000000000000007");
    assert_true (hrb_dedupe_find (dedupe, K ("c"), K ("k"), 1500, &seq, epoch));
    assert_false (hrb_dedupe_find (dedupe, K ("c"), K ("k"), 1501, &seq, epoch));
    assert_int_equal (s_expire_keys (dedupe, 1500), 1);
    assert_int_equal (s_expire_keys (dedupe, 1501), 0);
    assert_false (hrb_dedupe_find (dedupe, K ("c"), K ("k"), 1000, &seq, epoch));
    hrb_dedupe_destroy (&dedupe);
}

static void
test_dedupe_expire_forgets_oldest_first (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (100, 100, SIZE_MAX);
    hrb_dedupe_insert (dedupe, K ("c"), K ("k1"), 0, 1, "00000000000000010000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), K ("k2"), 50, 2, "00000000000000010000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), K ("k3"), 100, 3, "00000000000000010000000000000001");
    assert_int_equal (s_expire_keys (dedupe, 120), 2);
    assert_int_equal (s_expire_keys (dedupe, 180), 1);
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    assert_true (hrb_dedupe_find (dedupe, K ("c"), K ("k3"), 180, &seq, epoch));
    assert_int_equal (seq, 3);
    hrb_dedupe_destroy (&dedupe);
}

static void
test_dedupe_max_keys_forgets_oldest (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (300000, 2, SIZE_MAX);
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    hrb_dedupe_insert (dedupe, K ("c"), K ("k1"), 0, 1, "00000000000000010000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), K ("k2"), 1, 2, "00000000000000010000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), K ("k3"), 2, 3, "00000000000000010000000000000001");
    assert_false (hrb_dedupe_find (dedupe, K ("c"), K ("k1"), 3, &seq, epoch));
    assert_true (hrb_dedupe_find (dedupe, K ("c"), K ("k2"), 3, &seq, epoch));
    assert_true (hrb_dedupe_find (dedupe, K ("c"), K ("k3"), 3, &seq, epoch));
    assert_int_equal (s_expire_keys (dedupe, 3), 2);
    hrb_dedupe_destroy (&dedupe);
}

static void
test_dedupe_max_keys_zero_remembers_nothing (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (300000, 0, SIZE_MAX);
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    hrb_dedupe_insert (dedupe, K ("c"), K ("k"), 0, 1, "00000000000000010000000000000001");
    assert_false (hrb_dedupe_find (dedupe, K ("c"), K ("k"), 0, &seq, epoch));
    assert_int_equal (s_expire_keys (dedupe, 0), 0);
    hrb_dedupe_destroy (&dedupe);
}

static void
test_dedupe_reinsert_after_expiry_survives_old_entry (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (100, 100, SIZE_MAX);
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    hrb_dedupe_insert (dedupe, K ("c"), K ("k"), 0, 1, "000000000000000a000000000000000a");
    assert_false (hrb_dedupe_find (dedupe, K ("c"), K ("k"), 200, &seq, epoch));
    hrb_dedupe_insert (dedupe, K ("c"), K ("k"), 200, 9, "000000000000000b000000000000000b");
    //  forgetting the first entry must not drop the second one's key
    assert_int_equal (s_expire_keys (dedupe, 250), 1);
    assert_true (hrb_dedupe_find (dedupe, K ("c"), K ("k"), 250, &seq, epoch));
    assert_int_equal (seq, 9);
    assert_string_equal (epoch, "000000000000000b000000000000000b");
    hrb_dedupe_destroy (&dedupe);
}

static void
test_dedupe_ignores_oversized_keys (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (100, 100, SIZE_MAX);
    char big [200];
    memset (big, 'x', sizeof big);
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    hrb_dedupe_insert (dedupe, big, 129, K ("k"), 0, 1, "00000000000000010000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), big, 129, 0, 1, "00000000000000010000000000000001");
    assert_false (hrb_dedupe_find (dedupe, big, 129, K ("k"), 0, &seq, epoch));
    assert_false (hrb_dedupe_find (dedupe, K ("c"), big, 129, 0, &seq, epoch));
    assert_int_equal (s_expire_keys (dedupe, 0), 0);
    hrb_dedupe_insert (dedupe, big, 128, big, 128, 0, 5, "00000000000000010000000000000001");
    assert_true (hrb_dedupe_find (dedupe, big, 128, big, 128, 0, &seq, epoch));
    assert_int_equal (seq, 5);
    hrb_dedupe_destroy (&dedupe);
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

#ifdef TU_HAVE_ASAN                //  support.h: clang or GCC

//  herald_dedupe_bytes is what --dedupe-memory bounds, so it must not count
//  less than the keys take (as the allocator counts, under ASan)
static void
test_counted_bytes_cover_what_the_keys_take (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (1000, 100000, SIZE_MAX);
    char ch [HR_CHANNEL_MAX + 1], id [HR_ID_MAX + 1];
    memset (ch, 'c', HR_CHANNEL_MAX);
    memset (id, 'i', HR_ID_MAX);
    size_t before = __sanitizer_get_current_allocated_bytes ();
    for (int i = 0; i < 10000; i++) {
        snprintf (id, sizeof id, "%08d", i);
        id [8] = 'i';
        hrb_dedupe_insert (dedupe, ch, HR_CHANNEL_MAX, id, HR_ID_MAX, 1, (uint64_t) i, S_EPOCH);
    }
    size_t taken = __sanitizer_get_current_allocated_bytes () - before;
    assert_int_equal (hrb_dedupe_keys (dedupe), 10000);
    assert_true (taken <= hrb_dedupe_bytes (dedupe));
    hrb_dedupe_destroy (&dedupe);
}
#endif

//  Collects "ch/id=seq" of every key visited.
static void
s_collect (void *arg, const char *ch, size_t ch_len, const char *id, size_t id_len,
           uint64_t seq, const char *epoch)
{
    hr_buf_t *out = arg;
    assert_int_equal (strlen (epoch), HR_EPOCH_LEN);
    hr_buf_printf (out, "%.*s/%.*s=%llu ", (int) ch_len, ch, (int) id_len, id,
                   (unsigned long long) seq);
}

static void
test_dedupe_visit_lists_live_keys_oldest_first (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (100, 100, SIZE_MAX);
    hrb_dedupe_insert (dedupe, K ("a"), K ("k1"), 0, 1, S_EPOCH);
    hrb_dedupe_insert (dedupe, K ("b"), K ("k1"), 50, 2, S_EPOCH);
    hrb_dedupe_insert (dedupe, K ("a"), K ("k2"), 60, 3, S_EPOCH);
    hr_buf_t out = HR_BUF_INIT;
    hrb_dedupe_visit (dedupe, 60, s_collect, &out);
    assert_string_equal (out.data, "a/k1=1 b/k1=2 a/k2=3 ");
    //  Past its window a key is not visited, even before expire forgets it;
    //  a key inserted again is visited once, as its newer entry
    hrb_dedupe_insert (dedupe, K ("a"), K ("k1"), 120, 7, S_EPOCH);
    hr_buf_reset (&out);
    hrb_dedupe_visit (dedupe, 120, s_collect, &out);
    assert_string_equal (out.data, "b/k1=2 a/k2=3 a/k1=7 ");
    hr_buf_free (&out);
    hrb_dedupe_destroy (&dedupe);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_dedupe_find_misses_then_hits_after_insert),
        cmocka_unit_test (test_dedupe_keys_are_per_channel_and_id),
        cmocka_unit_test (test_dedupe_window_is_measured_from_first_publish),
        cmocka_unit_test (test_dedupe_expire_forgets_oldest_first),
        cmocka_unit_test (test_dedupe_max_keys_forgets_oldest),
        cmocka_unit_test (test_dedupe_max_keys_zero_remembers_nothing),
        cmocka_unit_test (test_dedupe_reinsert_after_expiry_survives_old_entry),
        cmocka_unit_test (test_dedupe_ignores_oversized_keys),
        cmocka_unit_test (test_bytes_count_overhead_channel_and_id),
        cmocka_unit_test (test_memory_bound_forgets_oldest_and_counts_it),
        cmocka_unit_test (test_key_over_the_memory_bound_is_not_kept),
        cmocka_unit_test (test_keys_forgotten_after_their_window_are_not_dropped),
        cmocka_unit_test (test_expire_stops_at_its_budget),
        cmocka_unit_test (test_dedupe_visit_lists_live_keys_oldest_first),
#ifdef TU_HAVE_ASAN
        cmocka_unit_test (test_counted_bytes_cover_what_the_keys_take),
#endif
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
