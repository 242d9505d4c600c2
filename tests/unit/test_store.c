/*  test_store: the broker's history store (broker/hrb_store_mem). The
    idempotency window and the channel streams are in test_hrb_dedupe.c
    and test_hrb_stream.c.  */
#include "hrb_store.h"
#include "store_fixture.h"

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

//  --------------------------------------------------------------------
//  Store helpers

//  The store's clock (store_fixture.h's tu_now): the ts of the last
//  append, or the time an expiry runs at (the tests' time line)
static hrb_store_t *
s_mem (size_t max_count, uint64_t max_age_ms, uint64_t max_bytes)
{
    hrb_store_t *store = hrb_store_mem_new (max_count, max_age_ms, max_bytes);
    store->clock = tu_clock;
    return store;
}

//  A channel's history (the memory store keeps no names: any will do).
static hrb_history_t *
s_open (hrb_store_t *store)
{
    hrb_store_state_t state;
    hrb_history_t *history = store->ops->open (store, "c", 1, &state);
    assert_string_equal (state.epoch, "");
    return history;
}

//  Store expiry at now_ms on the tests' time line.
static size_t
s_expire (hrb_store_t *store, uint64_t now_ms, size_t budget)
{
    tu_now = now_ms;
    return store->ops->expire (store, budget);
}

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
    tu_now = ts;
    assert_int_equal (store->ops->append (store, history, seq, ts, body, 10), HRB_STORE_OK);
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
    hrb_store_t *store = s_mem (100, 3600000, 1 << 20);
    hrb_history_t *h = s_open (store);
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
    store->ops->drop (store, h);
    store->ops->destroy (&store);
    assert_null (store);
}

static void
test_store_read_since_and_limit (void **state)
{
    hrb_store_t *store = s_mem (100, 3600000, 1 << 20);
    hrb_history_t *h = s_open (store);
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
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_read_since_head_or_beyond_is_empty (void **state)
{
    hrb_store_t *store = s_mem (100, 3600000, 1 << 20);
    hrb_history_t *h = s_open (store);
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_append (store, h, seq, 1);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 5, 100, &seen), 0);
    assert_int_equal (s_read (store, h, 6, 100, &seen), 0);
    assert_int_equal (s_read (store, h, UINT64_MAX, 100, &seen), 0);
    assert_int_equal (seen.count, 0);
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_read_since_behind_first_starts_at_first (void **state)
{
    hrb_store_t *store = s_mem (3, 3600000, 1 << 20);
    hrb_history_t *h = s_open (store);
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
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_first_is_zero_when_empty (void **state)
{
    hrb_store_t *store = s_mem (10, 1000, 1 << 20);
    hrb_history_t *h = s_open (store);
    assert_int_equal (store->ops->first (store, h), 0);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 0, 10, &seen), 0);
    s_append (store, h, 7, 1);
    assert_int_equal (store->ops->first (store, h), 7);
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_count_eviction_keeps_newest (void **state)
{
    hrb_store_t *store = s_mem (3, 3600000, 1 << 20);
    hrb_history_t *h = s_open (store);
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
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_count_is_per_channel (void **state)
{
    hrb_store_t *store = s_mem (2, 3600000, 1 << 20);
    hrb_history_t *a = s_open (store), *b = s_open (store);
    s_append (store, a, 1, 1);
    s_append (store, a, 2, 1);
    s_append (store, b, 1, 1);
    s_append (store, b, 2, 1);
    s_append (store, a, 3, 1);
    assert_int_equal (store->ops->first (store, a), 2);
    assert_int_equal (store->ops->first (store, b), 1);
    assert_int_equal (s_stats (store).events, 4);
    store->ops->drop (store, a);
    store->ops->drop (store, b);
    store->ops->destroy (&store);
}

static void
test_store_ring_wraps_and_grows_in_order (void **state)
{
    //  a bound that is not a power of two, and many more events than it
    hrb_store_t *store = s_mem (12, 3600000, 1 << 20);
    hrb_history_t *h = s_open (store);
    s_seen_t seen;
    for (uint64_t seq = 1; seq <= 100; seq++) {
        s_append (store, h, seq, 1);
        uint64_t first = seq > 12? seq - 11: 1;
        assert_int_equal (store->ops->first (store, h), first);
        assert_int_equal (s_read (store, h, 0, 100, &seen), seq - first + 1);
        for (size_t i = 0; i < seen.count; i++)
            assert_int_equal (seen.seqs [i], first + i);
    }
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_max_count_zero_keeps_nothing (void **state)
{
    hrb_store_t *store = s_mem (0, 3600000, 1 << 20);
    hrb_history_t *h = s_open (store);
    s_append (store, h, 1, 1);
    assert_int_equal (store->ops->first (store, h), 0);
    assert_int_equal (s_stats (store).events, 0);
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_age_eviction_by_expire (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_history_t *h = s_open (store);
    s_append (store, h, 1, 1000);
    s_append (store, h, 2, 1500);
    s_append (store, h, 3, 2000);
    s_expire (store, 2000, SIZE_MAX);           //  1000 + 1000 is not older than 2000
    assert_int_equal (store->ops->first (store, h), 1);
    s_expire (store, 2001, SIZE_MAX);
    assert_int_equal (store->ops->first (store, h), 2);
    assert_int_equal (s_stats (store).evicted_age, 1);
    s_expire (store, 2501, SIZE_MAX);
    assert_int_equal (store->ops->first (store, h), 3);
    s_expire (store, 3001, SIZE_MAX);
    assert_int_equal (store->ops->first (store, h), 0);
    hrb_store_stats_t stats = s_stats (store);
    assert_int_equal (stats.evicted_age, 3);
    assert_int_equal (stats.events, 0);
    assert_int_equal (stats.bytes, 0);
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_age_eviction_spans_channels (void **state)
{
    hrb_store_t *store = s_mem (100, 100, 1 << 20);
    hrb_history_t *a = s_open (store), *b = s_open (store);
    s_append (store, a, 1, 10);
    s_append (store, b, 1, 20);
    s_append (store, a, 2, 30);
    s_append (store, b, 2, 40);
    s_expire (store, 125, SIZE_MAX);            //  drops ts 10 and 20
    assert_int_equal (store->ops->first (store, a), 2);
    assert_int_equal (store->ops->first (store, b), 2);
    assert_int_equal (s_stats (store).evicted_age, 2);
    store->ops->drop (store, a);
    store->ops->drop (store, b);
    store->ops->destroy (&store);
}

static void
test_store_memory_cap_evicts_oldest_across_channels (void **state)
{
    //  room for exactly three 10-byte events in two channels (two rings)
    hrb_store_t *store = s_mem (100, 3600000, 3 * (10 + S_OVERHEAD) + 2 * S_RING);
    hrb_history_t *a = s_open (store), *b = s_open (store);
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
    store->ops->drop (store, a);
    store->ops->drop (store, b);
    store->ops->destroy (&store);
}

static void
test_store_stats_count_bytes_with_overhead (void **state)
{
    hrb_store_t *store = s_mem (100, 3600000, 1 << 20);
    hrb_history_t *h = s_open (store);
    store->ops->append (store, h, 1, 1, "abc", 3);
    store->ops->append (store, h, 2, 1, "defghij", 7);
    hrb_store_stats_t stats = s_stats (store);
    assert_int_equal (stats.events, 2);
    assert_int_equal (stats.bytes, 3 + 7 + 2 * S_OVERHEAD + S_RING);
    store->ops->drop (store, h);
    stats = s_stats (store);
    assert_int_equal (stats.events, 0);
    assert_int_equal (stats.bytes, 0);
    store->ops->destroy (&store);
}

static void
test_store_ring_shrinks_as_it_empties (void **state)
{
    hrb_store_t *store = s_mem (1000, 1000, 1 << 20);
    hrb_history_t *h = s_open (store);
    for (uint64_t seq = 1; seq <= 100; seq++)
        s_append (store, h, seq, seq);
    //  128 slots for 100 events
    assert_int_equal (s_stats (store).bytes, 100 * (10 + S_OVERHEAD) + 16 * S_RING);
    s_expire (store, 1090, SIZE_MAX);     //  leaves seqs 90..100
    assert_int_equal (s_stats (store).events, 11);
    assert_true (s_stats (store).bytes <= 11 * (10 + S_OVERHEAD) + 8 * S_RING);
    s_seen_t seen;
    assert_int_equal (s_read (store, h, 0, 100, &seen), 11);
    assert_int_equal (seen.seqs [0], 90);
    assert_int_equal (seen.seqs [10], 100);
    s_expire (store, 5000, SIZE_MAX);     //  empty: no ring at all
    assert_int_equal (s_stats (store).bytes, 0);
    s_append (store, h, 101, 5000);
    assert_int_equal (s_stats (store).bytes, 10 + S_OVERHEAD + S_RING);
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_expire_stops_at_its_budget (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_history_t *h = s_open (store);
    for (uint64_t seq = 1; seq <= 10; seq++)
        s_append (store, h, seq, 1);
    assert_int_equal (s_expire (store, 5000, 4), 4);
    assert_int_equal (store->ops->first (store, h), 5);
    assert_int_equal (s_expire (store, 5000, 4), 4);
    assert_int_equal (s_expire (store, 5000, 4), 2);
    assert_int_equal (s_expire (store, 5000, 4), 0);
    assert_int_equal (s_stats (store).evicted_age, 10);
    store->ops->drop (store, h);
    store->ops->destroy (&store);
}

static void
test_store_close_drops_only_that_channel (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_history_t *a = s_open (store), *b = s_open (store);
    s_append (store, a, 1, 1);
    s_append (store, b, 1, 2);
    s_append (store, a, 2, 3);
    store->ops->drop (store, a);
    assert_int_equal (s_stats (store).events, 1);
    s_expire (store, 1002, SIZE_MAX);           //  the global list is still sound
    assert_int_equal (store->ops->first (store, b), 1);
    s_expire (store, 1003, SIZE_MAX);
    assert_int_equal (store->ops->first (store, b), 0);
    store->ops->drop (store, b);
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
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
