/*  test_hrb_store_lmdb: what only the durable store does
    (broker/hrb_store_lmdb*.c): a reopen keeps every channel and key, the
    reader thread sees committed batches only and never skips evicted
    events unsaid, a failed batch and its rollback, the clock carried
    across restarts, key expiry, the view mark on the disk, and the
    directories and files it refuses. Crashes (a killed process, a machine
    stop) are in test_hrb_store_lmdb_crash.c; the contract both stores
    share is in test_hrb_store_contract.c.  */
#include "store_fixture.h"
#include "hr_time.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>

//  --------------------------------------------------------------------
//  Reopen

static void
test_reopen_keeps_channels_events_and_keys (void **unused)
{
    hrb_store_t *store = tu_lmdb ();
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    hrb_history_t *b = tu_open (store, "b", &state);
    hrb_history_t *c = tu_open (store, "c", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 5000), HRB_STORE_OK);
    assert_int_equal (store->ops->set_epoch (store, b, TU_EPOCH_B, 7, 6000), HRB_STORE_OK);
    assert_int_equal (store->ops->set_epoch (store, c, TU_EPOCH_A, 0, 6500), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 5, 300);
    tu_store_key (store, a, "k-a1", 1);
    tu_now += 10000;
    tu_store_key (store, b, "k-b", 7);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    tu_now += 10000;
    tu_store_key (store, a, "k-a5", 5);
    tu_append_range (store, c, "c", 1, 1, 10);
    tu_store_key (store, c, "k-c", 1);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    tu_now += 10000;
    store->ops->drop (store, c);        //  its key goes with it
    store->ops->release (store, a);
    store->ops->release (store, b);
    store->ops->destroy (&store);

    store = tu_lmdb ();
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.channels, 2);
    const hrb_store_state_t *sa = tu_scanned (&scan, "a");
    assert_string_equal (sa->epoch, TU_EPOCH_A);
    assert_int_equal (sa->head, 5);
    assert_int_equal (sa->first, 1);
    assert_int_equal (sa->last_ms, 1000 + 5);
    assert_false (sa->suspect);
    const hrb_store_state_t *sb = tu_scanned (&scan, "b");
    assert_string_equal (sb->epoch, TU_EPOCH_B);
    assert_int_equal (sb->head, 7);
    assert_int_equal (sb->first, 0);
    assert_int_equal (sb->last_ms, 6000);
    assert_false (sb->suspect);
    //  Keys oldest first, with their ages on the carried clock
    assert_int_equal (scan.keys, 3);
    assert_string_equal (scan.key_ids [0], "k-a1");
    assert_string_equal (scan.key_names [0], "a");
    assert_int_equal (scan.key_seqs [0], 1);
    assert_string_equal (scan.key_epochs [0], TU_EPOCH_A);
    assert_string_equal (scan.key_ids [1], "k-b");
    assert_string_equal (scan.key_names [1], "b");
    assert_int_equal (scan.key_seqs [1], 7);
    assert_string_equal (scan.key_epochs [1], TU_EPOCH_B);
    assert_string_equal (scan.key_ids [2], "k-a5");
    assert_int_equal (scan.key_ages [0] - scan.key_ages [1], 10000);
    assert_int_equal (scan.key_ages [1] - scan.key_ages [2], 10000);
    //  k-a5 was stamped 10 s of store clock before the last commit
    assert_in_range (scan.key_ages [2], 10000, 10000 + 5000);
    a = tu_open (store, "a", &state);
    assert_string_equal (state.epoch, TU_EPOCH_A);
    assert_int_equal (state.head, 5);
    assert_int_equal (state.first, 1);
    tu_assert_range (store, a, "a", 300, 1, 5);
    c = tu_open (store, "c", &state);
    assert_string_equal (state.epoch, "");
    tu_assert_range (store, c, "c", 10, 0, 0);
    assert_int_equal (tu_stats (store).events, 5);
    store->ops->release (store, a);
    store->ops->release (store, c);
    store->ops->destroy (&store);
    //  c's event went from the disk with it
    assert_int_equal (tu_entries (tu_dir, "events"), 5);
}

//  --------------------------------------------------------------------
//  The reader thread

typedef struct {
    hrb_store_t *store;
    hrb_history_t *history;
    tu_seen_t seen;
    uint64_t first;
} s_reader_t;

static void *
s_reader (void *arg)
{
    s_reader_t *reader = arg;
    memset (&reader->seen, 0, sizeof reader->seen);
    reader->seen.name = "a";
    reader->seen.size = 30;
    reader->store->ops->read (reader->store, reader->history, 0, SIZE_MAX, tu_visit,
                              &reader->seen);
    reader->first = reader->store->ops->first (reader->store, reader->history);
    return NULL;
}

//  Reads and first on another thread, as the history reader does.
static void
s_read_elsewhere (s_reader_t *reader)
{
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_reader, reader), 0);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_false (reader->seen.bad_body);
}

static void
test_reader_thread_sees_only_committed (void **unused)
{
    hrb_store_t *store = tu_lmdb ();
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 3, 30);
    s_reader_t reader = { .store = store, .history = a };
    s_read_elsewhere (&reader);
    assert_int_equal (reader.seen.count, 0);
    assert_int_equal (reader.first, 0);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    //  A batch in progress is the broker thread's alone
    tu_append_range (store, a, "a", 4, 5, 30);
    tu_assert_range (store, a, "a", 30, 1, 5);
    s_read_elsewhere (&reader);
    assert_int_equal (reader.seen.count, 3);
    assert_int_equal (reader.seen.seqs [2], 3);
    assert_int_equal (reader.first, 1);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    s_read_elsewhere (&reader);
    assert_int_equal (reader.seen.count, 5);
    //  A new epoch in progress drops nothing the reader sees yet
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_B, 0, 2), HRB_STORE_OK);
    s_read_elsewhere (&reader);
    assert_int_equal (reader.seen.count, 5);
    assert_int_equal (reader.first, 1);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    s_read_elsewhere (&reader);
    assert_int_equal (reader.seen.count, 0);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

//  The history reader's pattern against a broker whose commits run without
//  the reader lock (a5f38cb): under the lock, first, then a read from
//  first - 1; a commit landing in between may evict what first named, and
//  the read must then still start at first (or find nothing), never above
//  it unsaid. The reader counts the reads a commit landed in.
typedef struct {
    hrb_store_t *store;
    hrb_history_t *history;
    pthread_mutex_t *lock;      //  the reader lock
    bool stop;                  //  atomic
    size_t reads, raced, skips;
    uint64_t skip_first, skip_seen;
} s_racer_t;

static void
s_first_seq (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    (void) bytes;
    (void) size;
    uint64_t *first = arg;
    if (*first == 0)
        *first = seq;
}

static void *
s_racer (void *arg)
{
    s_racer_t *racer = arg;
    hrb_store_t *store = racer->store;
    while (!__atomic_load_n (&racer->stop, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock (racer->lock);
        hrb_store_stats_t stats;
        store->ops->stats (store, &stats);
        uint64_t commits = stats.commits;
        uint64_t first = store->ops->first (store, racer->history);
        //  Widens the window a commit may land in
        for (int i = 0; i < 20; i++)
            sched_yield ();
        uint64_t seen = 0;
        if (first)
            store->ops->read (store, racer->history, first - 1, 4, s_first_seq, &seen);
        store->ops->stats (store, &stats);
        racer->reads++;
        if (stats.commits != commits)
            racer->raced++;
        if (seen && seen != first && racer->skips++ == 0) {
            racer->skip_first = first;
            racer->skip_seen = seen;
        }
        pthread_mutex_unlock (racer->lock);
    }
    return NULL;
}

static void
test_reader_first_then_read_never_skips_unsaid (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 8, 3600000, 1 << 26);
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    s_racer_t racer = { .store = store, .history = a, .lock = &lock };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_racer, &racer), 0);
    //  The broker: batches of 5 appends under the lock, each evicting 5
    //  once 8 are kept, committed without it; until the reader raced
    //  enough commits, or a deadline
    uint64_t seq = 0;
    uint64_t deadline = hr_mono_ms () + 20000;
    size_t raced;
    do {
        pthread_mutex_lock (&lock);
        for (int i = 0; i < 5; i++)
            assert_int_equal (tu_append (store, a, "a", ++seq, 30), HRB_STORE_OK);
        raced = racer.raced;
        pthread_mutex_unlock (&lock);
        assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    } while (raced < 200 && hr_mono_ms () < deadline);
    __atomic_store_n (&racer.stop, true, __ATOMIC_RELEASE);
    assert_int_equal (pthread_join (thread, NULL), 0);
    print_message ("%zu reads, %zu with a commit inside, %zu skipped (first %" PRIu64
                   ", read from %" PRIu64 ")\n", racer.reads, racer.raced, racer.skips,
                   racer.skip_first, racer.skip_seen);
    assert_true (racer.raced > 0);
    assert_int_equal (racer.skips, 0);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

//  --------------------------------------------------------------------
//  A failed batch

#define S_FILL_MAX 4000

//  Fails the batch as a full disk does: new channels until their records,
//  which eviction cannot free, are over the budget. The handles it opened
//  are in fill, to release once the batch is rolled back; returns how many.
static size_t
s_fail_batch (hrb_store_t *store, hrb_history_t **fill)
{
    hrb_store_state_t state;
    for (size_t i = 0; i < S_FILL_MAX; i++) {
        char name [16];
        snprintf (name, sizeof name, "fill%zu", i);
        fill [i] = tu_open (store, name, &state);
        hrb_store_rc_t rc = store->ops->set_epoch (store, fill [i], TU_EPOCH_A, 0, 2);
        if (rc == HRB_STORE_OK)
            rc = tu_append (store, fill [i], name, 1, 100);
        if (rc != HRB_STORE_OK) {
            assert_int_equal (rc, HRB_STORE_FULL);
            return i + 1;
        }
    }
    fail_msg ("%d channels never filled the budget", S_FILL_MAX);
    return 0;
}

static void
s_release_fill (hrb_store_t *store, hrb_history_t **fill, size_t count)
{
    for (size_t i = 0; i < count; i++)
        store->ops->release (store, fill [i]);
}

static void
test_failed_batch_rolls_back (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 3600000, 64 * 1024);
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    hrb_history_t *b = tu_open (store, "b", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    assert_int_equal (store->ops->set_epoch (store, b, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 3, 100);
    tu_append_range (store, b, "b", 1, 2, 100);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    hrb_store_stats_t before = tu_stats (store);

    //  A batch that changes both channels, then fills the disk budget
    tu_append_range (store, a, "a", 4, 5, 100);
    assert_int_equal (store->ops->set_epoch (store, b, TU_EPOCH_B, 0, 2), HRB_STORE_OK);
    hrb_history_t *c = tu_open (store, "c", &state);
    assert_int_equal (store->ops->set_epoch (store, c, TU_EPOCH_A, 0, 2), HRB_STORE_OK);
    tu_append_range (store, c, "c", 1, 1, 100);
    hrb_history_t **fill = calloc (S_FILL_MAX, sizeof *fill);
    size_t filled = s_fail_batch (store, fill);
    //  The batch is lost: later changes fail, and so does commit
    assert_int_not_equal (tu_append (store, a, "a", 6, 100), HRB_STORE_OK);
    assert_int_not_equal (tu_append (store, b, "b", 1, 100), HRB_STORE_OK);
    store->ops->drop (store, c);
    assert_int_equal (store->ops->commit (store), HRB_STORE_FULL);
    store->ops->rollback (store);
    s_release_fill (store, fill, filled);
    free (fill);
    hrb_store_stats_t after = tu_stats (store);
    assert_int_equal (after.failures, before.failures + 1);
    assert_int_equal (after.events, before.events);
    assert_int_equal (after.bytes, before.bytes);
    //  As at the last commit: reads, first, and the handles kept open go
    //  on from their committed state (heads, epochs, counts)
    tu_assert_range (store, a, "a", 100, 1, 3);
    tu_assert_range (store, b, "b", 100, 1, 2);
    c = tu_open (store, "c", &state);
    assert_string_equal (state.epoch, "");
    store->ops->release (store, c);
    //  The next batch works
    tu_append_range (store, a, "a", 4, 4, 100);
    assert_int_equal (store->ops->first (store, a), 1);
    tu_append_range (store, b, "b", 3, 3, 100);
    assert_int_equal (store->ops->first (store, b), 1);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    tu_assert_range (store, a, "a", 100, 1, 4);
    tu_assert_range (store, b, "b", 100, 1, 3);
    assert_int_equal (tu_stats (store).events, before.events + 2);
    store->ops->release (store, a);
    a = tu_open (store, "a", &state);
    assert_string_equal (state.epoch, TU_EPOCH_A);
    assert_int_equal (state.head, 4);
    assert_int_equal (state.first, 1);
    store->ops->release (store, b);
    b = tu_open (store, "b", &state);
    assert_string_equal (state.epoch, TU_EPOCH_A);
    assert_int_equal (state.head, 3);
    assert_int_equal (state.first, 1);
    store->ops->release (store, a);
    store->ops->release (store, b);
    store->ops->destroy (&store);
    //  and the disk agrees
    store = tu_lmdb_new (&config);
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.channels, 2);
    assert_int_equal (tu_scanned (&scan, "a")->head, 4);
    assert_string_equal (tu_scanned (&scan, "b")->epoch, TU_EPOCH_A);
    assert_int_equal (tu_scanned (&scan, "b")->head, 3);
    store->ops->destroy (&store);
}

//  An event over the whole budget can never be stored: it is refused alone
//  (counted), and the rest of its batch is committed.
static void
test_an_event_over_the_budget_is_refused_alone (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 3600000, 64 * 1024);
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 2, 100);
    hrb_store_stats_t before = tu_stats (store);
    size_t big = 100 * 1024;
    char *bytes = calloc (1, big);
    assert_int_equal (store->ops->append (store, a, 3, 1, bytes, big), HRB_STORE_TOO_BIG);
    free (bytes);
    tu_append_range (store, a, "a", 3, 4, 100);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    assert_int_equal (tu_stats (store).failures, before.failures + 1);
    tu_assert_range (store, a, "a", 100, 1, 4);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

//  A run dropped by an append past a gap (hrb_store.h: one unbroken run)
//  comes back with the rest of a failed batch.
static void
test_a_gap_dropped_in_a_failed_batch_comes_back (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 3600000, 64 * 1024);
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 3, 100);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    hrb_store_stats_t before = tu_stats (store);
    tu_append_range (store, a, "a", 7, 7, 100);
    hrb_history_t **fill = calloc (S_FILL_MAX, sizeof *fill);
    size_t filled = s_fail_batch (store, fill);
    assert_int_equal (store->ops->commit (store), HRB_STORE_FULL);
    store->ops->rollback (store);
    s_release_fill (store, fill, filled);
    free (fill);
    tu_assert_range (store, a, "a", 100, 1, 3);
    assert_int_equal (tu_stats (store).events, before.events);
    assert_int_equal (tu_stats (store).bytes, before.bytes);
    //  and the handle goes on from 3
    tu_append_range (store, a, "a", 4, 4, 100);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    tu_assert_range (store, a, "a", 100, 1, 4);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

//  --------------------------------------------------------------------
//  Clocks and expiry

static void
test_age_counts_on_the_clock_carried_across_restarts (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 60000, 1 << 24);
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 1, 10);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    //  40 s of store clock pass (more than the wall clock does)
    tu_now += 40000;
    tu_append_range (store, a, "a", 2, 2, 10);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->release (store, a);
    store->ops->destroy (&store);

    //  The restarted clock goes on from 40 s: one more ms past 60 s
    //  evicts event 1, not before, and event 2 stays
    tu_now = 5;
    store = tu_lmdb_new (&config);
    a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 0);
    tu_now += 19000;
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 0);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    tu_assert_range (store, a, "a", 10, 1, 2);
    tu_now += 2000;
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 1);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    tu_assert_range (store, a, "a", 10, 2, 2);
    //  A store clock far ahead of the wall (the wall stepped back, or
    //  this run's clock ran fast) is kept at the next start
    tu_now += 10 * 86400 * 1000ULL;
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 1);
    tu_append_range (store, a, "a", 3, 3, 10);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->release (store, a);
    store->ops->destroy (&store);
    store = tu_lmdb_new (&config);
    a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 0);
    tu_now += 60001;
    assert_int_equal (store->ops->expire (store, SIZE_MAX), 1);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    tu_assert_range (store, a, "a", 10, 0, 0);
    assert_int_equal (tu_stats (store).evicted_age, 1);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

//  At most key_max keys are kept, the oldest dropped first, also across a
//  reopen (the count comes from the disk) and a failed batch.
static void
test_keys_are_bounded_by_key_max (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 3600000, 1 << 24);
    config.key_max = 3;
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 6, 10);
    const char *ids [] = { "k1", "k2", "k3", "k4" };
    for (int i = 0; i < 4; i++) {
        tu_now += 10;
        tu_store_key (store, a, ids [i], (uint64_t) i + 1);
    }
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->release (store, a);
    store->ops->destroy (&store);
    assert_int_equal (tu_entries (tu_dir, "keys"), 3);
    store = tu_lmdb_new (&config);
    a = tu_open (store, "a", &state);
    tu_now += 10;
    tu_store_key (store, a, "k5", 5);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->release (store, a);
    store->ops->destroy (&store);
    store = tu_lmdb_new (&config);
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.keys, 3);
    assert_string_equal (scan.key_ids [0], "k3");
    assert_string_equal (scan.key_ids [2], "k5");
    store->ops->destroy (&store);
}

static void
test_keys_expire_after_the_key_window (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 3600000, 1 << 24);
    config.key_window_ms = 10000;
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 2, 10);
    tu_store_key (store, a, "old", 1);
    tu_now += 6000;
    tu_store_key (store, a, "new", 2);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    tu_now += 4001;
    store->ops->expire (store, SIZE_MAX);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->release (store, a);
    store->ops->destroy (&store);
    //  Deleted from the disk, not only skipped by the scan
    assert_int_equal (tu_entries (tu_dir, "keys"), 1);
    store = tu_lmdb_new (&config);
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.keys, 1);
    assert_string_equal (scan.key_ids [0], "new");
    assert_int_equal (scan.key_seqs [0], 2);
    //  The events outlive their keys
    assert_int_equal (tu_scanned (&scan, "a")->first, 1);
    //  A key past the window that no expire deleted (the broker stopped
    //  first) is not reported
    a = tu_open (store, "a", &state);
    tu_append_range (store, a, "a", 3, 3, 10);     //  commits the clock
    tu_now += 6001;
    tu_append_range (store, a, "a", 4, 4, 10);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->release (store, a);
    store->ops->destroy (&store);
    assert_int_equal (tu_entries (tu_dir, "keys"), 1);
    store = tu_lmdb_new (&config);
    tu_scan (store, &scan);
    assert_int_equal (scan.keys, 0);
    store->ops->destroy (&store);
}

//  --------------------------------------------------------------------
//  The view mark

//  The meta key "view" as the disk holds it: its big-endian value, or -1
//  when missing; remove deletes it (a store written before the mark).
static int64_t
s_meta_view (const char *dir, bool remove)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_set_maxdbs (env, 8), 0);
    assert_int_equal (mdb_env_set_mapsize (env, 1 << 24), 0);
    assert_int_equal (mdb_env_open (env, dir, 0, 0600), 0);
    assert_int_equal (mdb_txn_begin (env, NULL, 0, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, "meta", 0, &dbi), 0);
    MDB_val key = { 4, "view" }, value;
    int64_t view = -1;
    if (mdb_get (txn, dbi, &key, &value) == 0) {
        assert_int_equal (value.mv_size, 8);
        view = 0;
        for (int i = 0; i < 8; i++)
            view = view << 8 | ((const uint8_t *) value.mv_data) [i];
        if (remove)
            assert_int_equal (mdb_del (txn, dbi, &key, NULL), 0);
    }
    assert_int_equal (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
    return view;
}

static void
test_view_mark_survives_a_reopen_and_reads_zero_when_missing (void **unused)
{
    hrb_store_t *store = tu_lmdb ();
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    tu_append_range (store, a, "a", 1, 2, 10);
    store->ops->set_view (store, 12);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->release (store, a);
    store->ops->destroy (&store);
    assert_int_equal (s_meta_view (tu_dir, false), 12);
    store = tu_lmdb ();
    assert_int_equal (store->ops->view (store), 12);
    //  Alone in its batch, after a reopen: on the disk too
    store->ops->set_view (store, 13);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->destroy (&store);
    //  A store written before the mark existed: its channels, no "view"
    assert_int_equal (s_meta_view (tu_dir, true), 13);
    store = tu_lmdb ();
    assert_int_equal (store->ops->view (store), 0);
    a = tu_open (store, "a", &state);
    assert_int_equal (state.head, 2);
    store->ops->release (store, a);
    store->ops->destroy (&store);
}

static void
test_view_mark_of_a_failed_batch_is_never_stored (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 3600000, 64 * 1024);
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    hrb_history_t *a = tu_open (store, "a", &state);
    assert_int_equal (store->ops->set_epoch (store, a, TU_EPOCH_A, 0, 1), HRB_STORE_OK);
    store->ops->set_view (store, 5);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->set_view (store, 8);
    hrb_history_t **fill = calloc (S_FILL_MAX, sizeof *fill);
    size_t filled = s_fail_batch (store, fill);
    assert_int_equal (store->ops->commit (store), HRB_STORE_FULL);
    assert_int_equal (store->ops->view (store), 5);
    store->ops->rollback (store);
    s_release_fill (store, fill, filled);
    free (fill);
    assert_int_equal (store->ops->view (store), 5);
    //  The next batch stores its own changes, not the mark it lost
    tu_append_range (store, a, "a", 1, 1, 100);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    assert_int_equal (store->ops->view (store), 5);
    store->ops->release (store, a);
    store->ops->destroy (&store);
    assert_int_equal (s_meta_view (tu_dir, false), 5);
}

//  --------------------------------------------------------------------
//  Directories it refuses

//  Asserts that opening dir fails with a reason naming what, and returns
//  nothing.
static void
s_assert_refused (const char *dir, const char *what)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (dir, 1000, 60000, 1 << 24);
    hr_buf_t err = HR_BUF_INIT;
    hrb_store_t *store = hrb_store_lmdb_new (&config, &err);
    if (store)
        fail_msg ("%s opened", dir);
    assert_non_null (err.data);
    print_message ("%s: %s\n", dir, err.data);
    if (!strstr (err.data, what))
        fail_msg ("the reason \"%s\" does not say \"%s\"", err.data, what);
    hr_buf_free (&err);
}

static void
s_write_file (const char *path, const void *bytes, size_t size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, bytes, size), (ssize_t) size);
    close (fd);
}

static void
test_refuses_paths_it_cannot_use (void **unused)
{
    char path [128], sub [160];
    snprintf (path, sizeof path, "%s/file", tu_dir);
    s_write_file (path, "x", 1);
    s_assert_refused (path, path);
    //  Under a file: refused even for root (chmod would not stop root)
    snprintf (sub, sizeof sub, "%s/dir", path);
    s_assert_refused (sub, sub);
    //  Two levels missing: only one is made
    snprintf (sub, sizeof sub, "%s/none/dir", tu_dir);
    s_assert_refused (sub, sub);
    //  A directory without write permission refuses everyone but root
    snprintf (sub, sizeof sub, "%s/ro", tu_dir);
    assert_int_equal (mkdir (sub, 0500), 0);
    if (geteuid () != 0)
        s_assert_refused (sub, sub);
    //  A missing last level is made
    snprintf (sub, sizeof sub, "%s/made", tu_dir);
    hrb_store_lmdb_config_t config = tu_lmdb_config (sub, 1000, 60000, 1 << 24);
    hrb_store_t *store = tu_lmdb_new (&config);
    store->ops->destroy (&store);
}

static void
test_refuses_a_foreign_data_file (void **unused)
{
    char path [128];
    snprintf (path, sizeof path, "%s/data.mdb", tu_dir);
    unsigned char noise [16384];
    srand (12);
    for (size_t i = 0; i < sizeof noise; i++)
        noise [i] = (unsigned char) rand ();
    s_write_file (path, noise, sizeof noise);
    s_assert_refused (tu_dir, "data.mdb");
    s_assert_refused (tu_dir, "not an LMDB file");
}

//  Makes an LMDB environment in dir as another program would: a named
//  database "other" with one record.
static void
s_other_app (const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_set_maxdbs (env, 4), 0);
    assert_int_equal (mdb_env_open (env, dir, 0, 0600), 0);
    assert_int_equal (mdb_txn_begin (env, NULL, 0, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, "other", MDB_CREATE, &dbi), 0);
    MDB_val key = { 5, "hello" }, value = { 5, "world" };
    assert_int_equal (mdb_put (txn, dbi, &key, &value, 0), 0);
    assert_int_equal (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
}

static void
test_refuses_another_programs_lmdb (void **unused)
{
    s_other_app (tu_dir);
    s_assert_refused (tu_dir, "not a Herald store");
    //  And left it alone
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_set_maxdbs (env, 4), 0);
    assert_int_equal (mdb_env_open (env, tu_dir, MDB_RDONLY, 0600), 0);
    assert_int_equal (mdb_txn_begin (env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, "other", 0, &dbi), 0);
    MDB_val key = { 5, "hello" }, value;
    assert_int_equal (mdb_get (txn, dbi, &key, &value), 0);
    assert_int_equal (mdb_dbi_open (txn, "meta", 0, &dbi), MDB_NOTFOUND);
    mdb_txn_abort (txn);
    mdb_env_close (env);
}

static void
test_initialises_an_empty_lmdb (void **unused)
{
    MDB_env *env;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_open (env, tu_dir, 0, 0600), 0);
    mdb_env_close (env);
    hrb_store_t *store = tu_lmdb ();
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.channels, 0);
    store->ops->destroy (&store);
}

#define S_CASE(test) cmocka_unit_test_setup_teardown (test, tu_dir_setup, tu_dir_teardown)

int
main (void)
{
    const struct CMUnitTest tests [] = {
        S_CASE (test_reopen_keeps_channels_events_and_keys),
        S_CASE (test_reader_thread_sees_only_committed),
        S_CASE (test_reader_first_then_read_never_skips_unsaid),
        S_CASE (test_an_event_over_the_budget_is_refused_alone),
        S_CASE (test_failed_batch_rolls_back),
        S_CASE (test_a_gap_dropped_in_a_failed_batch_comes_back),
        S_CASE (test_age_counts_on_the_clock_carried_across_restarts),
        S_CASE (test_keys_are_bounded_by_key_max),
        S_CASE (test_keys_expire_after_the_key_window),
        S_CASE (test_refuses_paths_it_cannot_use),
        S_CASE (test_refuses_a_foreign_data_file),
        S_CASE (test_refuses_another_programs_lmdb),
        S_CASE (test_initialises_an_empty_lmdb),
        S_CASE (test_view_mark_survives_a_reopen_and_reads_zero_when_missing),
        S_CASE (test_view_mark_of_a_failed_batch_is_never_stored),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
