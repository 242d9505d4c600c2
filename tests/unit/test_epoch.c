/*  test_epoch: ordered epochs (common/hr_epoch): the 32-hex format, the
    generation (view in the high bits, then ms since 2025-01-01Z) strictly
    increasing per process even within one ms and across threads, the view
    clamp, old and invalid text as generation 0, and hr_epoch_older.  */
#include "hr_epoch.h"

#include "support.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define S_MS_BITS 40
#define S_CLOCK_BASE 1735689600000ULL

static uint64_t
s_generation (const char *epoch)
{
    return hr_epoch_generation (epoch, strlen (epoch));
}

static bool
s_older (const char *a, const char *b)
{
    return hr_epoch_older (a, strlen (a), b, strlen (b));
}

static uint64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000 - S_CLOCK_BASE;
}

static void
test_new_epoch_is_32_lowercase_hex_generation_then_random (void **state)
{
    char a [HR_EPOCH_LEN + 1], b [HR_EPOCH_LEN + 1];
    uint64_t before = s_now_ms ();
    hr_epoch_new (a, 0);
    hr_epoch_new (b, 0);
    uint64_t after = s_now_ms ();
    assert_int_equal (strlen (a), HR_EPOCH_LEN);
    assert_int_equal (strspn (a, "0123456789abcdef"), HR_EPOCH_LEN);
    //  View 0: the generation is the ms clock (raised past the last one)
    uint64_t generation = s_generation (a);
    assert_int_equal (generation >> S_MS_BITS, 0);
    assert_true (generation >= before && generation <= after + 1);
    //  The random halves differ (64 bits each)
    assert_memory_not_equal (a + 16, b + 16, 16);
}

static void
test_generations_strictly_increase_within_one_ms (void **state)
{
    char epoch [HR_EPOCH_LEN + 1];
    hr_epoch_new (epoch, 0);
    uint64_t last = s_generation (epoch);
    //  Far more than one ms can hold at this rate: raised one by one
    for (int i = 0; i < 10000; i++) {
        hr_epoch_new (epoch, 0);
        uint64_t generation = s_generation (epoch);
        assert_true (generation > last);
        last = generation;
    }
}

#define S_THREADS 4
#define S_PER_THREAD 5000

static void *
s_make_many (void *arg)
{
    uint64_t *out = arg;
    char epoch [HR_EPOCH_LEN + 1];
    for (int i = 0; i < S_PER_THREAD; i++) {
        hr_epoch_new (epoch, 0);
        out [i] = s_generation (epoch);
    }
    return NULL;
}

static int
s_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

static void
test_generations_are_unique_across_threads (void **state)
{
    static uint64_t made [S_THREADS * S_PER_THREAD];
    pthread_t threads [S_THREADS];
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal (pthread_create (&threads [i], NULL, s_make_many,
                                          made + i * S_PER_THREAD), 0);
    for (int i = 0; i < S_THREADS; i++)
        pthread_join (threads [i], NULL);
    //  Each thread's increase, and no generation made twice
    for (int i = 0; i < S_THREADS; i++)
        for (int j = 1; j < S_PER_THREAD; j++)
            assert_true (made [i * S_PER_THREAD + j] > made [i * S_PER_THREAD + j - 1]);
    qsort (made, S_THREADS * S_PER_THREAD, sizeof made [0], s_compare);
    for (size_t i = 1; i < S_THREADS * S_PER_THREAD; i++)
        assert_true (made [i] > made [i - 1]);
}

//  Runs after the view-0 tests: generations only go up in one process.
static void
test_view_is_in_the_high_bits_and_never_goes_back (void **state)
{
    char v1 [HR_EPOCH_LEN + 1], v0 [HR_EPOCH_LEN + 1], v7 [HR_EPOCH_LEN + 1];
    uint64_t before = s_now_ms ();
    hr_epoch_new (v1, 1);
    uint64_t ms = s_generation (v1) & ((1ULL << S_MS_BITS) - 1);
    assert_int_equal (hr_epoch_view (v1, strlen (v1)), 1);
    assert_int_equal (s_generation (v1) >> S_MS_BITS, 1);
    assert_true (ms >= before && ms <= s_now_ms ());     //  the first of view 1: the clock
    //  A later view beats any ms of an earlier one
    hr_epoch_new (v7, 7);
    assert_int_equal (hr_epoch_view (v7, strlen (v7)), 7);
    assert_true (s_older (v1, v7));
    assert_false (s_older (v7, v1));
    //  Asked for an earlier view later, this process still goes up: what
    //  it made stays older than what it makes
    hr_epoch_new (v0, 0);
    assert_true (s_generation (v0) > s_generation (v7));
    assert_int_equal (hr_epoch_view (v0, strlen (v0)), 7);
}

static void
test_views_over_the_maximum_are_clamped (void **state)
{
    char epoch [HR_EPOCH_LEN + 1];
    hr_epoch_new (epoch, HR_EPOCH_VIEW_MAX + 5);
    assert_int_equal (hr_epoch_view (epoch, strlen (epoch)), HR_EPOCH_VIEW_MAX);
    hr_epoch_new (epoch, UINT64_MAX);
    assert_int_equal (hr_epoch_view (epoch, strlen (epoch)), HR_EPOCH_VIEW_MAX);
    assert_int_equal (strspn (epoch, "0123456789abcdef"), HR_EPOCH_LEN);
}

static void
test_old_and_invalid_epochs_are_generation_0 (void **state)
{
    //  Before ordering: 16 hex digits
    assert_int_equal (s_generation ("9f1c2ab03e4d5f60"), 0);
    assert_int_equal (s_generation (""), 0);
    //  Upper case, a non-hex digit, one short, one long
    assert_int_equal (s_generation ("0000010000000000ABCDEF0123456789"), 0);
    assert_int_equal (s_generation ("000001000000000g0123456789abcdef"), 0);
    assert_int_equal (s_generation ("0000010000000000abcdef012345678"), 0);
    assert_int_equal (s_generation ("0000010000000000abcdef0123456789a"), 0);
    assert_int_equal (s_generation ("00000100000000000123456789abcdef"), 1ULL << S_MS_BITS);
    assert_int_equal (hr_epoch_view ("00000100000000000123456789abcdef", HR_EPOCH_LEN), 1);
    //  len counts, not a NUL: the first 32 of a longer text
    assert_int_equal (hr_epoch_generation ("0000000000000002ffffffffffffffffXX", HR_EPOCH_LEN), 2);
}

static void
test_older_compares_generations_only (void **state)
{
    const char *g1 = "00000000000000010123456789abcdef";
    const char *g1b = "0000000000000001fedcba9876543210";
    const char *g2 = "00000000000000020000000000000000";
    const char *v1 = "00000100000000000000000000000000";
    assert_true (s_older (g1, g2));
    assert_false (s_older (g2, g1));
    assert_true (s_older (g2, v1));             //  a later view beats any ms
    //  One generation, two epochs: not ordered (the later heard replaces)
    assert_false (s_older (g1, g1b));
    assert_false (s_older (g1b, g1));
    assert_false (s_older (g1, g1));
    //  An old epoch is older than every ordered one
    assert_true (s_older ("9f1c2ab03e4d5f60", g1));
    assert_false (s_older (g1, "9f1c2ab03e4d5f60"));
    assert_false (s_older ("9f1c2ab03e4d5f60", "0123456789abcdef"));
    //  No epoch (no such channel) is neither older nor newer
    assert_false (s_older ("", g1));
    assert_false (s_older (g1, ""));
}

static void
test_random_hex_writes_twice_the_bytes_and_a_nul (void **state)
{
    char out [40];
    memset (out, 'x', sizeof out);
    hr_epoch_random_hex (out, 8);
    assert_int_equal (strlen (out), 16);
    assert_int_equal (strspn (out, "0123456789abcdef"), 16);
}

static int
s_setup (void **state)
{
    return hr_epoch_init ();
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_new_epoch_is_32_lowercase_hex_generation_then_random),
        cmocka_unit_test (test_generations_strictly_increase_within_one_ms),
        cmocka_unit_test (test_generations_are_unique_across_threads),
        cmocka_unit_test (test_view_is_in_the_high_bits_and_never_goes_back),
        cmocka_unit_test (test_views_over_the_maximum_are_clamped),
        cmocka_unit_test (test_old_and_invalid_epochs_are_generation_0),
        cmocka_unit_test (test_older_compares_generations_only),
        cmocka_unit_test (test_random_hex_writes_twice_the_bytes_and_a_nul),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
