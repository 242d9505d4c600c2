/*  test_hrb_store_contract: the store interface (broker/hrb_store.h), one
    suite run against both stores: the memory store and the LMDB store (in
    a fresh temporary directory per case). What only the durable store does
    (reopen, crashes, keys, bad directories) is in test_hrb_store_lmdb.c.

    Where the header lets the stores differ (the memory store forgets a
    released channel; only a durable store reports a head back through
    open), the case checks each store against its own rule.  */
#include "store_fixture.h"

//  The store under test: which kind, and for LMDB the group's directory
//  (each case gets its own store directory inside it).
typedef struct {
    const char *name;
    bool lmdb;
} s_kind_t;

static const s_kind_t *s_kind;
static char s_group_dir [64];
static char s_dir [96];
static int s_cases;

static hrb_store_t *
s_new (size_t max_count, uint64_t max_age_ms, uint64_t max_bytes)
{
    hrb_store_t *store;
    if (s_kind->lmdb) {
        snprintf (s_dir, sizeof s_dir, "%s/case%d", s_group_dir, ++s_cases);
        hrb_store_lmdb_config_t config = tu_lmdb_config (s_dir, max_count, max_age_ms,
                                                         max_bytes);
        hr_buf_t err = HR_BUF_INIT;
        store = hrb_store_lmdb_new (&config, &err);
        if (!store)
            fail_msg ("hrb_store_lmdb_new: %s", err.data? err.data: "(no reason)");
        hr_buf_free (&err);
        assert_true (store->durable);
    }
    else {
        store = hrb_store_mem_new (max_count, max_age_ms, max_bytes);
        assert_false (store->durable);
    }
    tu_now = 1000000;
    store->clock = tu_clock;
    return store;
}

//  A new channel: opened (empty), given epoch, committed.
static hrb_history_t *
s_channel (hrb_store_t *store, const char *name, const char *epoch)
{
    hrb_store_state_t state;
    hrb_history_t *history = tu_open (store, name, &state);
    assert_string_equal (state.epoch, "");
    assert_int_equal (store->ops->set_epoch (store, history, epoch, 0, 5000), HRB_STORE_OK);
    return history;
}

//  Appends seq one ms after the last append.
static void
s_append_later (hrb_store_t *store, hrb_history_t *history, const char *name, uint64_t seq,
                size_t size)
{
    tu_now++;
    assert_int_equal (tu_append (store, history, name, seq, size), HRB_STORE_OK);
}

static void
s_commit (hrb_store_t *store)
{
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
}

//  Releases and opens again: the state a durable store kept.
static hrb_history_t *
s_reopen (hrb_store_t *store, hrb_history_t *history, const char *name,
          hrb_store_state_t *state)
{
    store->ops->release (store, history);
    return tu_open (store, name, state);
}

//  --------------------------------------------------------------------

static void
test_open_unknown_channel_is_empty (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    hrb_store_state_t state;
    hrb_history_t *history = tu_open (store, "nobody", &state);
    assert_string_equal (state.epoch, "");
    assert_int_equal (state.head, 0);
    assert_int_equal (state.first, 0);
    assert_int_equal (store->ops->first (store, history), 0);
    tu_seen_t seen;
    assert_int_equal (tu_read (store, history, "nobody", 10, 0, 100, &seen), 0);
    store->ops->release (store, history);
    s_commit (store);
    //  Opening without set_epoch or append leaves nothing behind
    history = tu_open (store, "nobody", &state);
    assert_string_equal (state.epoch, "");
    assert_int_equal (state.head, 0);
    store->ops->release (store, history);
    assert_int_equal (tu_stats (store).events, 0);
    store->ops->destroy (&store);
    assert_null (store);
}

static void
test_append_commit_read_in_order (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    hrb_history_t *history = s_channel (store, "orders", TU_EPOCH_A);
    tu_append_range (store, history, "orders", 1, 10, 40);
    //  The broker thread sees its own appends before commit
    tu_assert_range (store, history, "orders", 40, 1, 10);
    s_commit (store);
    tu_assert_range (store, history, "orders", 40, 1, 10);
    tu_seen_t seen;
    assert_int_equal (tu_read (store, history, "orders", 40, 3, 4, &seen), 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal (seen.seqs [i], 4 + i);
    assert_int_equal (tu_read (store, history, "orders", 40, 9, 100, &seen), 1);
    assert_int_equal (seen.seqs [0], 10);
    assert_int_equal (tu_read (store, history, "orders", 40, 10, 100, &seen), 0);
    assert_int_equal (tu_read (store, history, "orders", 40, 0, 0, &seen), 0);
    assert_int_equal (tu_read (store, history, "orders", 40, 0, 1, &seen), 1);
    assert_int_equal (seen.seqs [0], 1);
    //  A channel's events are its own: another channel with other seqs
    hrb_history_t *other = s_channel (store, "other", TU_EPOCH_B);
    tu_append_range (store, other, "other", 1, 3, 700);
    s_commit (store);
    tu_assert_range (store, other, "other", 700, 1, 3);
    tu_assert_range (store, history, "orders", 40, 1, 10);
    //  Empty and long bodies come back whole
    assert_int_equal (tu_append (store, history, "orders", 11, 1500), HRB_STORE_OK);
    s_commit (store);
    assert_int_equal (tu_read (store, history, "orders", 1500, 10, 5, &seen), 1);
    store->ops->release (store, history);
    store->ops->release (store, other);
    store->ops->destroy (&store);
}

static void
test_first_follows_the_oldest_kept (void **unused)
{
    hrb_store_t *store = s_new (3, 60000, 1 << 20);
    hrb_history_t *history = s_channel (store, "c", TU_EPOCH_A);
    assert_int_equal (store->ops->first (store, history), 0);
    tu_append_range (store, history, "c", 1, 1, 10);
    s_commit (store);
    assert_int_equal (store->ops->first (store, history), 1);
    tu_append_range (store, history, "c", 2, 5, 10);
    s_commit (store);
    assert_int_equal (store->ops->first (store, history), 3);
    store->ops->release (store, history);
    store->ops->destroy (&store);
}

static void
test_head_is_the_max_of_set_and_appended (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    hrb_store_state_t state;
    //  A channel handed over at head 10, restored with seqs up to 10
    hrb_history_t *history = tu_open (store, "moved", &state);
    assert_int_equal (store->ops->set_epoch (store, history, TU_EPOCH_A, 10, 7000),
                      HRB_STORE_OK);
    s_commit (store);
    if (store->durable) {
        history = s_reopen (store, history, "moved", &state);
        assert_string_equal (state.epoch, TU_EPOCH_A);
        assert_int_equal (state.head, 10);
        assert_int_equal (state.first, 0);
        assert_int_equal (state.last_ms, 7000);
    }
    tu_append_range (store, history, "moved", 8, 10, 20);
    s_commit (store);
    tu_assert_range (store, history, "moved", 20, 8, 10);
    if (store->durable) {
        history = s_reopen (store, history, "moved", &state);
        assert_int_equal (state.head, 10);
        assert_int_equal (state.first, 8);
        assert_int_equal (state.last_ms, 1000 + 10);
    }
    //  An append above the head moves it
    tu_append_range (store, history, "moved", 11, 12, 20);
    s_commit (store);
    tu_assert_range (store, history, "moved", 20, 8, 12);
    tu_seen_t seen;
    assert_int_equal (tu_read (store, history, "moved", 20, 11, 100, &seen), 1);
    assert_int_equal (seen.seqs [0], 12);
    if (store->durable) {
        history = s_reopen (store, history, "moved", &state);
        assert_int_equal (state.head, 12);
        assert_int_equal (state.first, 8);
    }
    store->ops->release (store, history);
    store->ops->destroy (&store);
}

static void
test_set_epoch_drops_kept_events (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    hrb_history_t *history = s_channel (store, "c", TU_EPOCH_A);
    hrb_history_t *other = s_channel (store, "d", TU_EPOCH_A);
    tu_append_range (store, history, "c", 1, 5, 30);
    tu_append_range (store, other, "d", 1, 2, 30);
    s_commit (store);
    hrb_store_stats_t before = tu_stats (store);
    assert_int_equal (before.events, 7);
    assert_int_equal (store->ops->set_epoch (store, history, TU_EPOCH_B, 0, 9000),
                      HRB_STORE_OK);
    s_commit (store);
    tu_assert_range (store, history, "c", 30, 0, 0);
    tu_assert_range (store, other, "d", 30, 1, 2);
    hrb_store_stats_t after = tu_stats (store);
    assert_int_equal (after.events, 2);
    assert_true (after.bytes < before.bytes);
    //  The new epoch starts at 1 again
    tu_append_range (store, history, "c", 1, 2, 30);
    s_commit (store);
    tu_assert_range (store, history, "c", 30, 1, 2);
    if (store->durable) {
        hrb_store_state_t state;
        history = s_reopen (store, history, "c", &state);
        assert_string_equal (state.epoch, TU_EPOCH_B);
        assert_int_equal (state.head, 2);
        assert_int_equal (state.first, 1);
    }
    store->ops->release (store, history);
    store->ops->release (store, other);
    store->ops->destroy (&store);
}

static void
test_append_past_a_gap_drops_the_kept_run (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    hrb_history_t *history = s_channel (store, "c", TU_EPOCH_A);
    hrb_history_t *other = s_channel (store, "d", TU_EPOCH_A);
    tu_append_range (store, history, "c", 1, 3, 30);
    tu_append_range (store, other, "d", 1, 2, 30);
    s_commit (store);
    hrb_store_stats_t before = tu_stats (store);
    //  History is one unbroken run: 7 after 3 drops 1..3, counted nowhere
    s_append_later (store, history, "c", 7, 30);
    s_commit (store);
    tu_assert_range (store, history, "c", 30, 7, 7);
    assert_int_equal (store->ops->first (store, history), 7);
    tu_seen_t seen;
    assert_int_equal (tu_read (store, history, "c", 30, 0, 100, &seen), 1);
    assert_int_equal (seen.seqs [0], 7);
    tu_assert_range (store, other, "d", 30, 1, 2);
    hrb_store_stats_t after = tu_stats (store);
    assert_int_equal (after.events, before.events - 2);
    assert_int_equal (after.evicted_count + after.evicted_age + after.evicted_memory, 0);
    if (store->durable) {
        hrb_store_state_t state;
        history = s_reopen (store, history, "c", &state);
        assert_int_equal (state.head, 7);
        assert_int_equal (state.first, 7);
    }
    //  8 follows 7
    s_append_later (store, history, "c", 8, 30);
    s_commit (store);
    tu_assert_range (store, history, "c", 30, 7, 8);
    if (store->durable) {
        hrb_store_state_t state;
        history = s_reopen (store, history, "c", &state);
        assert_int_equal (state.head, 8);
        assert_int_equal (state.first, 7);
        tu_assert_range (store, history, "c", 30, 7, 8);
    }
    store->ops->release (store, history);
    store->ops->release (store, other);
    store->ops->destroy (&store);
}

static void
test_max_count_evicts_the_channels_oldest (void **unused)
{
    hrb_store_t *store = s_new (3, 60000, 1 << 20);
    hrb_history_t *a = s_channel (store, "a", TU_EPOCH_A);
    hrb_history_t *b = s_channel (store, "b", TU_EPOCH_A);
    tu_append_range (store, a, "a", 1, 2, 10);
    tu_append_range (store, b, "b", 1, 3, 10);
    tu_append_range (store, a, "a", 3, 6, 10);
    s_commit (store);
    tu_assert_range (store, a, "a", 10, 4, 6);
    tu_assert_range (store, b, "b", 10, 1, 3);
    hrb_store_stats_t stats = tu_stats (store);
    assert_int_equal (stats.events, 6);
    assert_int_equal (stats.evicted_count, 3);
    assert_int_equal (stats.evicted_age + stats.evicted_memory, 0);
    store->ops->release (store, a);
    store->ops->release (store, b);
    store->ops->destroy (&store);
}

static void
test_expire_by_age_on_the_store_clock (void **unused)
{
    hrb_store_t *store = s_new (100, 1000, 1 << 20);
    hrb_history_t *a = s_channel (store, "a", TU_EPOCH_A);
    hrb_history_t *b = s_channel (store, "b", TU_EPOCH_A);
    //  ts (the publish's wall clock) is far in the past: the age counts
    //  on the store's clock, from the append
    tu_append_range (store, a, "a", 1, 2, 10);
    tu_now += 100;
    tu_append_range (store, b, "b", 1, 2, 10);
    tu_now += 100;
    tu_append_range (store, a, "a", 3, 3, 10);
    s_commit (store);
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 0);
    //  At exactly the bound nothing goes; one ms later the oldest do
    tu_now += 1000 - 200;
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 0);
    s_commit (store);
    tu_now += 1;
    //  Oldest first across channels, within the budget
    assert_int_equal (store->ops->expire (store, 1), 1);
    s_commit (store);
    tu_assert_range (store, a, "a", 10, 2, 3);
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 1);
    s_commit (store);
    tu_assert_range (store, a, "a", 10, 3, 3);
    tu_assert_range (store, b, "b", 10, 1, 2);
    tu_now += 100;
    assert_int_equal (store->ops->expire (store, 1), 1);
    assert_int_equal (store->ops->expire (store, 5), 1);
    s_commit (store);
    tu_assert_range (store, b, "b", 10, 0, 0);
    tu_assert_range (store, a, "a", 10, 3, 3);
    tu_now += 100;
    assert_int_equal (store->ops->expire (store, 5), 1);
    s_commit (store);
    tu_assert_range (store, a, "a", 10, 0, 0);
    hrb_store_stats_t stats = tu_stats (store);
    assert_int_equal (stats.events, 0);
    assert_int_equal (stats.evicted_age, 5);
    assert_int_equal (stats.evicted_count + stats.evicted_memory, 0);
    //  An emptied channel takes appends again
    tu_append_range (store, a, "a", 4, 4, 10);
    s_commit (store);
    tu_assert_range (store, a, "a", 10, 4, 4);
    store->ops->release (store, a);
    store->ops->release (store, b);
    store->ops->destroy (&store);
}

//  Fills a store with events a1 b1 a2 and returns the bytes the store
//  counts then; *each is what one more event of size bytes adds.
static uint64_t
s_measure (size_t size, uint64_t *each)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 30);
    hrb_history_t *a = s_channel (store, "a", TU_EPOCH_A);
    hrb_history_t *b = s_channel (store, "b", TU_EPOCH_A);
    tu_append_range (store, a, "a", 1, 1, size);
    tu_append_range (store, b, "b", 1, 1, size);
    s_commit (store);
    uint64_t before = tu_stats (store).bytes;
    tu_append_range (store, a, "a", 2, 2, size);
    s_commit (store);
    uint64_t after = tu_stats (store).bytes;
    *each = after - before;
    tu_append_range (store, b, "b", 2, 2, size);
    s_commit (store);
    assert_int_equal (tu_stats (store).bytes - after, *each);
    store->ops->release (store, a);
    store->ops->release (store, b);
    store->ops->destroy (&store);
    assert_true (*each >= size);
    return after;
}

static void
test_budget_evicts_oldest_first_across_channels (void **unused)
{
    uint64_t each;
    uint64_t base = s_measure (1000, &each);
    //  Room for a1 b1 a2 and three more events, not four
    uint64_t budget = base + 3 * each + each / 2;
    hrb_store_t *store = s_new (100, 60000, budget);
    //  (the clock moves 1 ms per append: the LMDB store orders by stamp)
    hrb_history_t *a = s_channel (store, "a", TU_EPOCH_A);
    hrb_history_t *b = s_channel (store, "b", TU_EPOCH_A);
    s_append_later (store, a, "a", 1, 1000);
    s_append_later (store, b, "b", 1, 1000);
    s_append_later (store, a, "a", 2, 1000);
    s_append_later (store, b, "b", 2, 1000);
    s_append_later (store, a, "a", 3, 1000);
    s_append_later (store, b, "b", 3, 1000);
    s_commit (store);
    hrb_store_stats_t stats = tu_stats (store);
    assert_int_equal (stats.events, 6);
    assert_int_equal (stats.evicted_memory, 0);
    //  a4 evicts a1, the oldest; b4 then evicts b1, then a5 evicts a2
    s_append_later (store, a, "a", 4, 1000);
    s_commit (store);
    tu_assert_range (store, a, "a", 1000, 2, 4);
    tu_assert_range (store, b, "b", 1000, 1, 3);
    s_append_later (store, b, "b", 4, 1000);
    s_append_later (store, a, "a", 5, 1000);
    s_commit (store);
    tu_assert_range (store, a, "a", 1000, 3, 5);
    tu_assert_range (store, b, "b", 1000, 2, 4);
    stats = tu_stats (store);
    assert_int_equal (stats.events, 6);
    assert_int_equal (stats.evicted_memory, 3);
    assert_int_equal (stats.evicted_count + stats.evicted_age, 0);
    assert_true (stats.bytes <= budget);
    //  A big event evicts as many as it needs, across channels
    s_append_later (store, b, "b", 5, 1000 + each);
    s_commit (store);
    stats = tu_stats (store);
    assert_true (stats.bytes <= budget);
    assert_int_equal (stats.evicted_memory, 5);
    tu_assert_range (store, a, "a", 1000, 4, 5);
    store->ops->release (store, a);
    store->ops->release (store, b);
    store->ops->destroy (&store);
}

static void
test_drop_deletes_release_keeps (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    hrb_history_t *kept = s_channel (store, "kept", TU_EPOCH_A);
    hrb_history_t *gone = s_channel (store, "gone", TU_EPOCH_B);
    tu_append_range (store, kept, "kept", 1, 4, 50);
    tu_append_range (store, gone, "gone", 1, 6, 50);
    s_commit (store);
    uint64_t bytes = tu_stats (store).bytes;
    store->ops->drop (store, gone);
    s_commit (store);
    hrb_store_stats_t stats = tu_stats (store);
    assert_int_equal (stats.events, 4);
    assert_true (stats.bytes < bytes);
    hrb_store_state_t state;
    gone = tu_open (store, "gone", &state);
    assert_string_equal (state.epoch, "");
    assert_int_equal (state.head, 0);
    tu_assert_range (store, gone, "gone", 50, 0, 0);
    store->ops->release (store, gone);
    kept = s_reopen (store, kept, "kept", &state);
    if (store->durable) {
        assert_string_equal (state.epoch, TU_EPOCH_A);
        assert_int_equal (state.head, 4);
        assert_int_equal (state.first, 1);
        tu_assert_range (store, kept, "kept", 50, 1, 4);
        assert_int_equal (tu_stats (store).events, 4);
    }
    else {
        //  The memory store forgets a released channel and frees its events
        assert_string_equal (state.epoch, "");
        tu_assert_range (store, kept, "kept", 50, 0, 0);
        stats = tu_stats (store);
        assert_int_equal (stats.events, 0);
    }
    //  A dropped channel is a new one: nothing of the old survives
    store->ops->release (store, kept);
    gone = s_channel (store, "gone", TU_EPOCH_A);
    tu_append_range (store, gone, "gone", 1, 1, 50);
    s_commit (store);
    tu_assert_range (store, gone, "gone", 50, 1, 1);
    store->ops->drop (store, gone);
    s_commit (store);
    store->ops->destroy (&store);
}

static void
test_stats_count_what_is_kept (void **unused)
{
    hrb_store_t *store = s_new (2, 60000, 1 << 20);
    hrb_store_stats_t empty = tu_stats (store);
    assert_int_equal (empty.events, 0);
    assert_int_equal (empty.evicted_count + empty.evicted_age + empty.evicted_memory, 0);
    assert_int_equal (empty.failures, 0);
    hrb_history_t *a = s_channel (store, "a", TU_EPOCH_A);
    tu_append_range (store, a, "a", 1, 1, 100);
    s_commit (store);
    hrb_store_stats_t one = tu_stats (store);
    assert_int_equal (one.events, 1);
    assert_true (one.bytes >= empty.bytes + 100);
    tu_append_range (store, a, "a", 2, 2, 100);
    s_commit (store);
    hrb_store_stats_t two = tu_stats (store);
    assert_int_equal (two.events, 2);
    assert_true (two.bytes >= one.bytes + 100);
    tu_append_range (store, a, "a", 3, 3, 100);
    s_commit (store);
    hrb_store_stats_t three = tu_stats (store);
    assert_int_equal (three.events, 2);
    assert_int_equal (three.evicted_count, 1);
    assert_int_equal (three.bytes, two.bytes);
    if (store->durable) {
        assert_true (three.commits >= 3);
        assert_true (three.commits > two.commits);
        assert_true (three.map_bytes > 0);
        assert_true (three.disk_bytes > 0);
        assert_true (three.commit_us_sum >= three.commit_us_max);
        assert_int_equal (three.failures, 0);
    }
    else {
        assert_int_equal (three.disk_bytes + three.map_bytes + three.commits
                          + three.commit_us_sum + three.fsyncs + three.failures, 0);
    }
    store->ops->drop (store, a);
    s_commit (store);
    hrb_store_stats_t none = tu_stats (store);
    assert_int_equal (none.events, 0);
    assert_int_equal (none.bytes, empty.bytes);
    store->ops->destroy (&store);
}

static void
test_commit_of_an_empty_batch (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    s_commit (store);
    s_commit (store);
    hrb_history_t *a = s_channel (store, "a", TU_EPOCH_A);
    tu_append_range (store, a, "a", 1, 2, 10);
    s_commit (store);
    s_commit (store);
    tu_assert_range (store, a, "a", 10, 1, 2);
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 0);
    s_commit (store);
    tu_assert_range (store, a, "a", 10, 1, 2);
    assert_int_equal (tu_stats (store).events, 2);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

//  The view mark (hrb_store.h: view, set_view): in the batch like any
//  change, so a restarted cluster broker can trust it.
static void
test_view_mark_is_stored_by_commit_only (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    assert_int_equal (store->ops->view (store), 0);
    hrb_history_t *a = s_channel (store, "a", TU_EPOCH_A);
    tu_append_range (store, a, "a", 1, 2, 10);
    store->ops->set_view (store, 7);
    //  Not before the commit
    assert_int_equal (store->ops->view (store), 0);
    s_commit (store);
    assert_int_equal (store->ops->view (store), 7);
    //  Later batches leave it as it is
    tu_append_range (store, a, "a", 3, 3, 10);
    s_commit (store);
    s_commit (store);
    assert_int_equal (store->ops->view (store), 7);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

static void
test_view_mark_alone_is_stored_by_an_otherwise_idle_commit (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    s_commit (store);
    //  Nothing else changed: the commit must still store it (a view
    //  install that dropped and took nothing)
    store->ops->set_view (store, 3);
    s_commit (store);
    assert_int_equal (store->ops->view (store), 3);
    store->ops->set_view (store, 4);
    s_commit (store);
    assert_int_equal (store->ops->view (store), 4);
    store->ops->destroy (&store);
}

static void
test_view_mark_is_undone_by_rollback (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 20);
    hrb_history_t *a = s_channel (store, "a", TU_EPOCH_A);
    store->ops->set_view (store, 5);
    s_commit (store);
    store->ops->set_view (store, 9);
    store->ops->rollback (store);
    assert_int_equal (store->ops->view (store), 5);
    //  And the next batch, with other changes, does not store it
    tu_append_range (store, a, "a", 1, 2, 10);
    s_commit (store);
    assert_int_equal (store->ops->view (store), 5);
    //  Nor an idle one
    s_commit (store);
    assert_int_equal (store->ops->view (store), 5);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

static void
s_scan_channel (void *arg, const char *name, size_t len, const hrb_store_state_t *state)
{
    (*(size_t *) arg)++;
}

#define S_MANY 600

static void
test_many_channels (void **unused)
{
    hrb_store_t *store = s_new (100, 60000, 1 << 26);
    static hrb_history_t *histories [S_MANY];
    char names [S_MANY][16];
    for (int i = 0; i < S_MANY; i++) {
        snprintf (names [i], sizeof names [i], "ch.%d", i);
        histories [i] = s_channel (store, names [i], TU_EPOCH_A);
        tu_append_range (store, histories [i], names [i], 1, 1 + i % 4, 20);
        if (i % 50 == 0)
            s_commit (store);
    }
    s_commit (store);
    size_t events = 0;
    for (int i = 0; i < S_MANY; i++) {
        tu_assert_range (store, histories [i], names [i], 20, 1, 1 + i % 4);
        events += 1 + i % 4;
    }
    assert_int_equal (tu_stats (store).events, events);
    //  Dropping every other channel leaves the rest whole
    for (int i = 0; i < S_MANY; i += 2) {
        store->ops->drop (store, histories [i]);
        events -= 1 + i % 4;
    }
    s_commit (store);
    assert_int_equal (tu_stats (store).events, events);
    for (int i = 1; i < S_MANY; i += 2) {
        tu_assert_range (store, histories [i], names [i], 20, 1, 1 + i % 4);
        store->ops->release (store, histories [i]);
    }
    //  A durable store lists the channels it keeps; the memory store none
    size_t scanned = 0;
    hr_buf_t err = HR_BUF_INIT;
    store->ops->destroy (&store);
    if (s_kind->lmdb) {
        hrb_store_lmdb_config_t config = tu_lmdb_config (s_dir, 100, 60000, 1 << 26);
        store = hrb_store_lmdb_new (&config, &err);
        assert_non_null (store);
    }
    else
        store = hrb_store_mem_new (100, 60000, 1 << 26);
    assert_int_equal (store->ops->scan (store, s_scan_channel, NULL, &scanned, &err),
                      HRB_STORE_OK);
    assert_int_equal (scanned, s_kind->lmdb? S_MANY / 2: 0);
    hr_buf_free (&err);
    store->ops->destroy (&store);
}

//  --------------------------------------------------------------------

static const s_kind_t s_mem = { "memory", false };
static const s_kind_t s_lmdb = { "lmdb", true };

static int
s_group_mem (void **unused)
{
    s_kind = &s_mem;
    return 0;
}

static int
s_group_lmdb (void **unused)
{
    s_kind = &s_lmdb;
    s_cases = 0;
    tu_tempdir (s_group_dir, "contract");
    return 0;
}

static int
s_group_lmdb_end (void **unused)
{
    tu_rmtree (s_group_dir);
    return 0;
}

int
main (int argc, char *argv [])
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_open_unknown_channel_is_empty),
        cmocka_unit_test (test_append_commit_read_in_order),
        cmocka_unit_test (test_first_follows_the_oldest_kept),
        cmocka_unit_test (test_head_is_the_max_of_set_and_appended),
        cmocka_unit_test (test_set_epoch_drops_kept_events),
        cmocka_unit_test (test_append_past_a_gap_drops_the_kept_run),
        cmocka_unit_test (test_max_count_evicts_the_channels_oldest),
        cmocka_unit_test (test_expire_by_age_on_the_store_clock),
        cmocka_unit_test (test_budget_evicts_oldest_first_across_channels),
        cmocka_unit_test (test_drop_deletes_release_keeps),
        cmocka_unit_test (test_stats_count_what_is_kept),
        cmocka_unit_test (test_commit_of_an_empty_batch),
        cmocka_unit_test (test_many_channels),
        cmocka_unit_test (test_view_mark_is_stored_by_commit_only),
        cmocka_unit_test (test_view_mark_alone_is_stored_by_an_otherwise_idle_commit),
        cmocka_unit_test (test_view_mark_is_undone_by_rollback),
    };
    //  argv [1], when given, runs one store: "memory" or "lmdb" (ctest
    //  names each group)
    bool all = argc < 2;
    int failed = 0;
    if (all || strcmp (argv [1], "memory") == 0)
        failed += cmocka_run_group_tests_name ("memory", tests, s_group_mem, NULL);
    if (all || strcmp (argv [1], "lmdb") == 0)
        failed += cmocka_run_group_tests_name ("lmdb", tests, s_group_lmdb,
                                               s_group_lmdb_end);
    return failed;
}
