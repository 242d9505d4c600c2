/*  test_store: the broker's history store (broker/hrb_store_mem), the
    idempotency window (broker/hrb_dedupe) and channel streams
    (broker/hrb_stream).  */
#include "hrb_dedupe.h"
#include "hrb_store.h"
#include "hrb_stream.h"
#include "hr_epoch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

//  Per-event bookkeeping the memory store counts (hrb_store_mem.c).
#define S_OVERHEAD 64

//  A ring of 8 pointers: what a channel with 1-8 events adds to the bytes.
#define S_RING (8 * sizeof (void *))

//  Expires without a budget; returns the keys left.
static size_t
s_expire_keys (hrb_dedupe_t *dedupe, uint64_t now_ms)
{
    hrb_dedupe_expire (dedupe, now_ms, SIZE_MAX);
    return hrb_dedupe_keys (dedupe);
}

//  --------------------------------------------------------------------
//  Store helpers

typedef struct {
    size_t count;
    uint64_t seqs [256];
    char bytes [256][32];
    size_t sizes [256];
} s_seen_t;

static void
s_visit (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    s_seen_t *seen = arg;
    assert_true (seen->count < 256);
    assert_true (size < 32);
    seen->seqs [seen->count] = seq;
    memcpy (seen->bytes [seen->count], bytes, size);
    seen->bytes [seen->count][size] = 0;
    seen->sizes [seen->count] = size;
    seen->count++;
}

//  Appends seq with the body "ev<seq>" padded to size bytes (10 by default).
static void
s_append (hrb_store_t *store, hrb_history_t *history, uint64_t seq, uint64_t ts)
{
    char body [16];
    snprintf (body, sizeof body, "ev%-8llu", (unsigned long long) seq);
    store->ops->append (store, history, seq, ts, body, 10);
}

static size_t
s_read (hrb_store_t *store, hrb_history_t *history, uint64_t since, size_t limit,
        s_seen_t *seen)
{
    memset (seen, 0, sizeof *seen);
    return store->ops->read (store, history, since, limit, s_visit, seen);
}

static hrb_store_stats_t
s_stats (hrb_store_t *store)
{
    hrb_store_stats_t stats;
    store->ops->stats (store, &stats);
    return stats;
}

//  --------------------------------------------------------------------
//  hrb_store_mem

static void
test_store_reads_appended_events_in_order (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 3600000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_append (store, h, seq, 1000 + seq);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 0, 100, &seen), 5);
    for (size_t i = 0; i < 5; i++) {
        char want [16];
        snprintf (want, sizeof want, "ev%-8zu", i + 1);
        assert_int_equal (seen.seqs [i], i + 1);
        assert_int_equal (seen.sizes [i], 10);
        assert_string_equal (seen.bytes [i], want);
    }
    store->ops->close (store, h);
    store->ops->destroy (&store);
    assert_null (store);
}

static void
test_store_read_since_and_limit (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 3600000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_append (store, h, seq, 1);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 2, 100, &seen), 3);
    assert_int_equal (seen.seqs [0], 3);
    assert_int_equal (seen.seqs [2], 5);
    assert_int_equal (s_read (store, h, 0, 2, &seen), 2);
    assert_int_equal (seen.seqs [1], 2);
    assert_int_equal (s_read (store, h, 3, 1, &seen), 1);
    assert_int_equal (seen.seqs [0], 4);
    assert_int_equal (s_read (store, h, 0, 0, &seen), 0);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_read_since_head_or_beyond_is_empty (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 3600000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_append (store, h, seq, 1);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 5, 100, &seen), 0);
    assert_int_equal (s_read (store, h, 6, 100, &seen), 0);
    assert_int_equal (s_read (store, h, UINT64_MAX, 100, &seen), 0);
    assert_int_equal (seen.count, 0);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_read_since_behind_first_starts_at_first (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (3, 3600000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    for (uint64_t seq = 1; seq <= 6; seq++)
        s_append (store, h, seq, 1);
    assert_int_equal (store->ops->first (store, h), 4);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 1, 100, &seen), 3);
    assert_int_equal (seen.seqs [0], 4);
    assert_int_equal (s_read (store, h, 3, 100, &seen), 3);
    assert_int_equal (seen.seqs [0], 4);
    assert_int_equal (s_read (store, h, 4, 100, &seen), 2);
    assert_int_equal (seen.seqs [0], 5);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_first_is_zero_when_empty (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (10, 1000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    assert_int_equal (store->ops->first (store, h), 0);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 0, 10, &seen), 0);
    s_append (store, h, 7, 1);
    assert_int_equal (store->ops->first (store, h), 7);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_count_eviction_keeps_newest (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (3, 3600000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_append (store, h, seq, 1);
    assert_int_equal (store->ops->first (store, h), 3);
    hrb_store_stats_t stats = s_stats (store);
    assert_int_equal (stats.events, 3);
    assert_int_equal (stats.evicted_count, 2);
    assert_int_equal (stats.evicted_age, 0);
    assert_int_equal (stats.evicted_memory, 0);
    assert_int_equal (stats.bytes, 3 * (10 + S_OVERHEAD) + S_RING);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 0, 100, &seen), 3);
    assert_int_equal (seen.seqs [0], 3);
    assert_int_equal (seen.seqs [2], 5);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_count_is_per_channel (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (2, 3600000, 1 << 20);
    hrb_history_t *a = store->ops->open (store), *b = store->ops->open (store);
    s_append (store, a, 1, 1);
    s_append (store, a, 2, 1);
    s_append (store, b, 1, 1);
    s_append (store, b, 2, 1);
    s_append (store, a, 3, 1);
    assert_int_equal (store->ops->first (store, a), 2);
    assert_int_equal (store->ops->first (store, b), 1);
    assert_int_equal (s_stats (store).events, 4);
    store->ops->close (store, a);
    store->ops->close (store, b);
    store->ops->destroy (&store);
}

static void
test_store_ring_wraps_and_grows_in_order (void **state)
{
    //  a bound that is not a power of two, and many more events than it
    hrb_store_t *store = hrb_store_mem_new (12, 3600000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    s_seen_t seen;
    for (uint64_t seq = 1; seq <= 100; seq++) {
        s_append (store, h, seq, 1);
        uint64_t first = seq > 12? seq - 11: 1;
        assert_int_equal (store->ops->first (store, h), first);
        assert_int_equal (s_read (store, h, 0, 100, &seen), seq - first + 1);
        for (size_t i = 0; i < seen.count; i++)
            assert_int_equal (seen.seqs [i], first + i);
    }
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_max_count_zero_keeps_nothing (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (0, 3600000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    s_append (store, h, 1, 1);
    assert_int_equal (store->ops->first (store, h), 0);
    assert_int_equal (s_stats (store).events, 0);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_age_eviction_by_expire (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    s_append (store, h, 1, 1000);
    s_append (store, h, 2, 1500);
    s_append (store, h, 3, 2000);
    store->ops->expire (store, 2000, SIZE_MAX);           //  1000 + 1000 is not older than 2000
    assert_int_equal (store->ops->first (store, h), 1);
    store->ops->expire (store, 2001, SIZE_MAX);
    assert_int_equal (store->ops->first (store, h), 2);
    assert_int_equal (s_stats (store).evicted_age, 1);
    store->ops->expire (store, 2501, SIZE_MAX);
    assert_int_equal (store->ops->first (store, h), 3);
    store->ops->expire (store, 3001, SIZE_MAX);
    assert_int_equal (store->ops->first (store, h), 0);
    hrb_store_stats_t stats = s_stats (store);
    assert_int_equal (stats.evicted_age, 3);
    assert_int_equal (stats.events, 0);
    assert_int_equal (stats.bytes, 0);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_age_eviction_spans_channels (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 100, 1 << 20);
    hrb_history_t *a = store->ops->open (store), *b = store->ops->open (store);
    s_append (store, a, 1, 10);
    s_append (store, b, 1, 20);
    s_append (store, a, 2, 30);
    s_append (store, b, 2, 40);
    store->ops->expire (store, 125, SIZE_MAX);            //  drops ts 10 and 20
    assert_int_equal (store->ops->first (store, a), 2);
    assert_int_equal (store->ops->first (store, b), 2);
    assert_int_equal (s_stats (store).evicted_age, 2);
    store->ops->close (store, a);
    store->ops->close (store, b);
    store->ops->destroy (&store);
}

static void
test_store_memory_cap_evicts_oldest_across_channels (void **state)
{
    //  room for exactly three 10-byte events in two channels (two rings)
    hrb_store_t *store = hrb_store_mem_new (100, 3600000, 3 * (10 + S_OVERHEAD) + 2 * S_RING);
    hrb_history_t *a = store->ops->open (store), *b = store->ops->open (store);
    s_append (store, a, 1, 1);
    s_append (store, a, 2, 2);
    s_append (store, b, 1, 3);
    assert_int_equal (s_stats (store).evicted_memory, 0);
    s_append (store, b, 2, 4);                  //  over the cap: a#1 is the oldest
    assert_int_equal (store->ops->first (store, a), 2);
    assert_int_equal (store->ops->first (store, b), 1);
    assert_int_equal (s_stats (store).evicted_memory, 1);
    s_append (store, b, 3, 5);                  //  then a#2
    assert_int_equal (store->ops->first (store, a), 0);
    assert_int_equal (store->ops->first (store, b), 1);
    s_append (store, b, 4, 6);                  //  then b#1, b's own oldest
    assert_int_equal (store->ops->first (store, b), 2);
    hrb_store_stats_t stats = s_stats (store);
    assert_int_equal (stats.evicted_memory, 3);
    assert_int_equal (stats.events, 3);
    assert_true (stats.bytes <= 3 * (10 + S_OVERHEAD) + 2 * S_RING);
    store->ops->close (store, a);
    store->ops->close (store, b);
    store->ops->destroy (&store);
}

static void
test_store_stats_count_bytes_with_overhead (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 3600000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    store->ops->append (store, h, 1, 1, "abc", 3);
    store->ops->append (store, h, 2, 1, "defghij", 7);
    hrb_store_stats_t stats = s_stats (store);
    assert_int_equal (stats.events, 2);
    assert_int_equal (stats.bytes, 3 + 7 + 2 * S_OVERHEAD + S_RING);
    store->ops->close (store, h);
    stats = s_stats (store);
    assert_int_equal (stats.events, 0);
    assert_int_equal (stats.bytes, 0);
    store->ops->destroy (&store);
}

static void
test_store_ring_shrinks_as_it_empties (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (1000, 1000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    for (uint64_t seq = 1; seq <= 100; seq++)
        s_append (store, h, seq, seq);
    //  128 slots for 100 events
    assert_int_equal (s_stats (store).bytes, 100 * (10 + S_OVERHEAD) + 16 * S_RING);
    store->ops->expire (store, 1090, SIZE_MAX);     //  leaves seqs 90..100
    assert_int_equal (s_stats (store).events, 11);
    assert_true (s_stats (store).bytes <= 11 * (10 + S_OVERHEAD) + 8 * S_RING);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 0, 100, &seen), 11);
    assert_int_equal (seen.seqs [0], 90);
    assert_int_equal (seen.seqs [10], 100);
    store->ops->expire (store, 5000, SIZE_MAX);     //  empty: no ring at all
    assert_int_equal (s_stats (store).bytes, 0);
    s_append (store, h, 101, 5000);
    assert_int_equal (s_stats (store).bytes, 10 + S_OVERHEAD + S_RING);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_expire_stops_at_its_budget (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_history_t *h = store->ops->open (store);
    for (uint64_t seq = 1; seq <= 10; seq++)
        s_append (store, h, seq, 1);
    assert_int_equal (store->ops->expire (store, 5000, 4), 4);
    assert_int_equal (store->ops->first (store, h), 5);
    assert_int_equal (store->ops->expire (store, 5000, 4), 4);
    assert_int_equal (store->ops->expire (store, 5000, 4), 2);
    assert_int_equal (store->ops->expire (store, 5000, 4), 0);
    assert_int_equal (s_stats (store).evicted_age, 10);
    store->ops->close (store, h);
    store->ops->destroy (&store);
}

static void
test_store_close_drops_only_that_channel (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_history_t *a = store->ops->open (store), *b = store->ops->open (store);
    s_append (store, a, 1, 1);
    s_append (store, b, 1, 2);
    s_append (store, a, 2, 3);
    store->ops->close (store, a);
    assert_int_equal (s_stats (store).events, 1);
    store->ops->expire (store, 1002, SIZE_MAX);           //  the global list is still sound
    assert_int_equal (store->ops->first (store, b), 1);
    store->ops->expire (store, 1003, SIZE_MAX);
    assert_int_equal (store->ops->first (store, b), 0);
    store->ops->close (store, b);
    store->ops->destroy (&store);
}

//  --------------------------------------------------------------------
//  hrb_dedupe

#define K(text) text, strlen (text)

static void
test_dedupe_find_misses_then_hits_after_insert (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (300000, 100, SIZE_MAX);
    uint64_t seq = 0;
    char epoch [HR_EPOCH_LEN + 1] = "";
    assert_false (hrb_dedupe_find (dedupe, K ("orders"), K ("k1"), 1000, &seq, epoch));
    hrb_dedupe_insert (dedupe, K ("orders"), K ("k1"), 1000, 42, "0123456789abcdef");
    assert_true (hrb_dedupe_find (dedupe, K ("orders"), K ("k1"), 1000, &seq, epoch));
    assert_int_equal (seq, 42);
    assert_string_equal (epoch, "0123456789abcdef");
    hrb_dedupe_destroy (&dedupe);
    assert_null (dedupe);
}

static void
test_dedupe_keys_are_per_channel_and_id (void **state)
{
    hrb_dedupe_t *dedupe = hrb_dedupe_new (300000, 100, SIZE_MAX);
    uint64_t seq;
    char epoch [HR_EPOCH_LEN + 1];
    hrb_dedupe_insert (dedupe, K ("a:b"), K ("c"), 0, 1, "0000000000000001");
    assert_false (hrb_dedupe_find (dedupe, K ("a"), K ("b:c"), 0, &seq, epoch));
    assert_false (hrb_dedupe_find (dedupe, K ("a:b"), K ("C"), 0, &seq, epoch));
    assert_false (hrb_dedupe_find (dedupe, K ("other"), K ("c"), 0, &seq, epoch));
    hrb_dedupe_insert (dedupe, K ("other"), K ("c"), 0, 2, "0000000000000002");
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
    hrb_dedupe_insert (dedupe, K ("c"), K ("k"), 1000, 7, "0000000000000007");
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
    hrb_dedupe_insert (dedupe, K ("c"), K ("k1"), 0, 1, "0000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), K ("k2"), 50, 2, "0000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), K ("k3"), 100, 3, "0000000000000001");
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
    hrb_dedupe_insert (dedupe, K ("c"), K ("k1"), 0, 1, "0000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), K ("k2"), 1, 2, "0000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), K ("k3"), 2, 3, "0000000000000001");
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
    hrb_dedupe_insert (dedupe, K ("c"), K ("k"), 0, 1, "0000000000000001");
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
    hrb_dedupe_insert (dedupe, K ("c"), K ("k"), 0, 1, "000000000000000a");
    assert_false (hrb_dedupe_find (dedupe, K ("c"), K ("k"), 200, &seq, epoch));
    hrb_dedupe_insert (dedupe, K ("c"), K ("k"), 200, 9, "000000000000000b");
    //  forgetting the first entry must not drop the second one's key
    assert_int_equal (s_expire_keys (dedupe, 250), 1);
    assert_true (hrb_dedupe_find (dedupe, K ("c"), K ("k"), 250, &seq, epoch));
    assert_int_equal (seq, 9);
    assert_string_equal (epoch, "000000000000000b");
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
    hrb_dedupe_insert (dedupe, big, 129, K ("k"), 0, 1, "0000000000000001");
    hrb_dedupe_insert (dedupe, K ("c"), big, 129, 0, 1, "0000000000000001");
    assert_false (hrb_dedupe_find (dedupe, big, 129, K ("k"), 0, &seq, epoch));
    assert_false (hrb_dedupe_find (dedupe, K ("c"), big, 129, 0, &seq, epoch));
    assert_int_equal (s_expire_keys (dedupe, 0), 0);
    hrb_dedupe_insert (dedupe, big, 128, big, 128, 0, 5, "0000000000000001");
    assert_true (hrb_dedupe_find (dedupe, big, 128, big, 128, 0, &seq, epoch));
    assert_int_equal (seq, 5);
    hrb_dedupe_destroy (&dedupe);
}

//  --------------------------------------------------------------------
//  hrb_streams

static int
s_epoch_setup (void **state)
{
    return hr_epoch_init ();
}

static bool
s_is_hex16 (const char *epoch)
{
    return strlen (epoch) == HR_EPOCH_LEN && strspn (epoch, "0123456789abcdef") == HR_EPOCH_LEN;
}

//  Sequences one event on a stream as the broker does.
static void
s_publish (hrb_streams_t *streams, hrb_stream_t *stream, uint64_t ts)
{
    stream->seq++;
    hrb_streams_append (streams, stream, ts, "x", 1);
}

static void
test_streams_ensure_creates_with_fresh_epoch (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *a = hrb_streams_ensure (streams, K ("orders"), 10);
    assert_non_null (a);
    assert_string_equal (a->name, "orders");
    assert_int_equal (a->seq, 0);
    assert_true (s_is_hex16 (a->epoch));
    assert_ptr_equal (hrb_streams_ensure (streams, K ("orders"), 20), a);
    assert_ptr_equal (hrb_streams_find (streams, "orders:ignored", 6), a);
    hrb_stream_t *b = hrb_streams_ensure (streams, K ("stats"), 10);
    assert_ptr_not_equal (a, b);
    assert_string_not_equal (a->epoch, b->epoch);
    assert_int_equal (hrb_streams_count (streams), 2);
    assert_null (hrb_streams_find (streams, K ("nope")));
    hrb_streams_destroy (&streams);
    assert_null (streams);
    store->ops->destroy (&store);
}

static void
test_streams_first_is_seq_plus_one_when_empty (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (2, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *s = hrb_streams_ensure (streams, K ("c"), 0);
    assert_int_equal (hrb_streams_first (streams, s), 1);
    s_publish (streams, s, 1);
    s_publish (streams, s, 2);
    s_publish (streams, s, 3);
    assert_int_equal (hrb_streams_first (streams, s), 2);     //  count bound 2
    store->ops->expire (store, 5000, SIZE_MAX);
    assert_int_equal (hrb_streams_first (streams, s), 4);     //  none kept: head + 1
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_streams_expire_drops_idle_empty_streams (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_streams_ensure (streams, K ("idle"), 0);
    assert_int_equal (hrb_streams_expire (streams, 1000, 1000, SIZE_MAX), 0);   //  not past idle
    assert_int_equal (hrb_streams_expire (streams, 1001, 1000, SIZE_MAX), 1);
    assert_null (hrb_streams_find (streams, K ("idle")));
    assert_int_equal (hrb_streams_count (streams), 0);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_streams_expire_keeps_streams_with_events (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *s = hrb_streams_ensure (streams, K ("busy"), 0);
    s_publish (streams, s, 0);
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, SIZE_MAX), 0);
    assert_ptr_equal (hrb_streams_find (streams, K ("busy")), s);
    //  once the store's age bound drops its events, it goes
    store->ops->expire (store, 5000, SIZE_MAX);
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, SIZE_MAX), 1);
    assert_int_equal (hrb_streams_count (streams), 0);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_streams_expire_keeps_recently_published (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *old = hrb_streams_ensure (streams, K ("old"), 0);
    hrb_stream_t *fresh = hrb_streams_ensure (streams, K ("fresh"), 0);
    s_publish (streams, old, 100);              //  published, but long ago
    s_publish (streams, fresh, 1500);           //  recently
    store->ops->expire (store, 2000, SIZE_MAX);           //  drops old's event only
    assert_int_equal (hrb_streams_expire (streams, 2000, 1000, SIZE_MAX), 1);
    assert_null (hrb_streams_find (streams, K ("old")));
    assert_ptr_equal (hrb_streams_find (streams, K ("fresh")), fresh);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_streams_recreated_channel_gets_new_epoch_and_seq (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *s = hrb_streams_ensure (streams, K ("c"), 0);
    s_publish (streams, s, 0);
    s_publish (streams, s, 0);
    char old_epoch [HR_EPOCH_LEN + 1];
    memcpy (old_epoch, s->epoch, sizeof old_epoch);
    store->ops->expire (store, 2000, SIZE_MAX);
    assert_int_equal (hrb_streams_expire (streams, 2000, 1000, SIZE_MAX), 1);
    s = hrb_streams_ensure (streams, K ("c"), 2000);
    assert_int_equal (s->seq, 0);
    assert_string_not_equal (s->epoch, old_epoch);
    assert_true (s_is_hex16 (s->epoch));
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_streams_destroy_closes_histories (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    for (int i = 0; i < 10; i++) {
        char name [8];
        snprintf (name, sizeof name, "c%d", i);
        hrb_stream_t *s = hrb_streams_ensure (streams, name, strlen (name), 0);
        s_publish (streams, s, 0);
    }
    assert_int_equal (s_stats (store).events, 10);
    hrb_streams_destroy (&streams);
    assert_int_equal (s_stats (store).events, 0);
    store->ops->destroy (&store);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_store_reads_appended_events_in_order),
        cmocka_unit_test (test_store_read_since_and_limit),
        cmocka_unit_test (test_store_read_since_head_or_beyond_is_empty),
        cmocka_unit_test (test_store_read_since_behind_first_starts_at_first),
        cmocka_unit_test (test_store_first_is_zero_when_empty),
        cmocka_unit_test (test_store_count_eviction_keeps_newest),
        cmocka_unit_test (test_store_count_is_per_channel),
        cmocka_unit_test (test_store_ring_wraps_and_grows_in_order),
        cmocka_unit_test (test_store_max_count_zero_keeps_nothing),
        cmocka_unit_test (test_store_age_eviction_by_expire),
        cmocka_unit_test (test_store_age_eviction_spans_channels),
        cmocka_unit_test (test_store_memory_cap_evicts_oldest_across_channels),
        cmocka_unit_test (test_store_stats_count_bytes_with_overhead),
        cmocka_unit_test (test_store_close_drops_only_that_channel),
        cmocka_unit_test (test_store_ring_shrinks_as_it_empties),
        cmocka_unit_test (test_store_expire_stops_at_its_budget),
        cmocka_unit_test (test_dedupe_find_misses_then_hits_after_insert),
        cmocka_unit_test (test_dedupe_keys_are_per_channel_and_id),
        cmocka_unit_test (test_dedupe_window_is_measured_from_first_publish),
        cmocka_unit_test (test_dedupe_expire_forgets_oldest_first),
        cmocka_unit_test (test_dedupe_max_keys_forgets_oldest),
        cmocka_unit_test (test_dedupe_max_keys_zero_remembers_nothing),
        cmocka_unit_test (test_dedupe_reinsert_after_expiry_survives_old_entry),
        cmocka_unit_test (test_dedupe_ignores_oversized_keys),
        cmocka_unit_test_setup (test_streams_ensure_creates_with_fresh_epoch, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_first_is_seq_plus_one_when_empty, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_expire_drops_idle_empty_streams, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_expire_keeps_streams_with_events, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_expire_keeps_recently_published, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_recreated_channel_gets_new_epoch_and_seq, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_destroy_closes_histories, s_epoch_setup),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
