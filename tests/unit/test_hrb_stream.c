/*  test_hrb_stream: the broker's channel streams (broker/hrb_stream):
    creation and epochs, idle expiry, the --max-channels cap (replace a
    stream without history, refuse otherwise), the memory they count, and
    the expiry budget.  */
#include "hrb_stream.h"
#include "store_fixture.h"

#include "support.h"

#define K(text) text, strlen (text)

static hrb_store_t *
s_mem (size_t max_count, uint64_t max_age_ms, uint64_t max_bytes)
{
    hrb_store_t *store = hrb_store_mem_new (max_count, max_age_ms, max_bytes);
    store->clock = tu_clock;
    return store;
}

//  Store expiry at now_ms on the tests' time line.
static size_t
s_expire (hrb_store_t *store, uint64_t now_ms)
{
    tu_now = now_ms;
    return store->ops->expire (store, SIZE_MAX);
}

static hrb_store_stats_t
s_stats (hrb_store_t *store)
{
    hrb_store_stats_t stats;
    store->ops->stats (store, &stats);
    return stats;
}

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
s_sequence (hrb_streams_t *streams, hrb_stream_t *stream, uint64_t ts)
{
    stream->sequenced = ++stream->seq;
    tu_now = ts;
    hrb_streams_append (streams, stream, stream->seq, ts, "x", 1);
}

static void
test_streams_ensure_creates_with_fresh_epoch (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
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
    hrb_store_t *store = s_mem (2, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *s = hrb_streams_ensure (streams, K ("c"), 0);
    assert_int_equal (hrb_streams_first (streams, s), 1);
    s_sequence (streams, s, 1);
    s_sequence (streams, s, 2);
    s_sequence (streams, s, 3);
    assert_int_equal (hrb_streams_first (streams, s), 2);     //  count bound 2
    s_expire (store, 5000);
    assert_int_equal (hrb_streams_first (streams, s), 4);     //  none kept: head + 1
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_streams_expire_drops_idle_empty_streams (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
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
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *s = hrb_streams_ensure (streams, K ("busy"), 0);
    s_sequence (streams, s, 0);
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, SIZE_MAX), 0);
    assert_ptr_equal (hrb_streams_find (streams, K ("busy")), s);
    //  once the store's age bound drops its events, it goes
    s_expire (store, 5000);
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, SIZE_MAX), 1);
    assert_int_equal (hrb_streams_count (streams), 0);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_streams_expire_keeps_recently_published (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *old = hrb_streams_ensure (streams, K ("old"), 0);
    hrb_stream_t *fresh = hrb_streams_ensure (streams, K ("fresh"), 0);
    s_sequence (streams, old, 100);              //  published, but long ago
    s_sequence (streams, fresh, 1500);           //  recently
    s_expire (store, 2000);           //  drops old's event only
    assert_int_equal (hrb_streams_expire (streams, 2000, 1000, SIZE_MAX), 1);
    assert_null (hrb_streams_find (streams, K ("old")));
    assert_ptr_equal (hrb_streams_find (streams, K ("fresh")), fresh);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_streams_recreated_channel_gets_new_epoch_and_seq (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *s = hrb_streams_ensure (streams, K ("c"), 0);
    s_sequence (streams, s, 0);
    s_sequence (streams, s, 0);
    char old_epoch [HR_EPOCH_LEN + 1];
    memcpy (old_epoch, s->epoch, sizeof old_epoch);
    s_expire (store, 2000);
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
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    for (int i = 0; i < 10; i++) {
        char name [8];
        snprintf (name, sizeof name, "c%d", i);
        hrb_stream_t *s = hrb_streams_ensure (streams, name, strlen (name), 0);
        s_sequence (streams, s, 0);
    }
    assert_int_equal (s_stats (store).events, 10);
    hrb_streams_destroy (&streams);
    assert_int_equal (s_stats (store).events, 0);
    store->ops->destroy (&store);
}

static hrb_store_t *
s_store (void)
{
    return s_mem (100, 3600000, 1 << 20);
}

static hrb_stream_t *
s_publish (hrb_streams_t *streams, const char *name, uint64_t now)
{
    hrb_stream_t *stream = hrb_streams_ensure (streams, name, strlen (name), now);
    if (stream) {
        stream->sequenced = ++stream->seq;
        tu_now = now;
        hrb_streams_append (streams, stream, stream->seq, now, "x", 1);
    }
    return stream;
}

static void
test_cap_refuses_a_new_channel_when_all_keep_history (void **state)
{
    hrb_store_t *store = s_store ();
    hrb_streams_t *streams = hrb_streams_new (store, 2);
    assert_non_null (s_publish (streams, "a", 1));
    assert_non_null (s_publish (streams, "b", 2));
    assert_null (s_publish (streams, "c", 3));
    assert_int_equal (hrb_streams_count (streams), 2);
    assert_int_equal (hrb_streams_refused (streams), 1);
    assert_int_equal (hrb_streams_replaced (streams), 0);
    //  Existing channels are never refused
    hrb_stream_t *a = s_publish (streams, "a", 4);
    assert_non_null (a);
    assert_int_equal (a->seq, 2);
    assert_null (hrb_streams_find (streams, "c", 1));
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_cap_replaces_the_least_recent_stream_without_history (void **state)
{
    hrb_store_t *store = s_mem (0, 3600000, 1 << 20);     //  no history
    hrb_streams_t *streams = hrb_streams_new (store, 2);
    s_publish (streams, "a", 1);
    s_publish (streams, "b", 2);
    s_publish (streams, "a", 3);                //  b is now the least recent
    assert_non_null (s_publish (streams, "c", 4));
    assert_int_equal (hrb_streams_count (streams), 2);
    assert_null (hrb_streams_find (streams, "b", 1));
    assert_non_null (hrb_streams_find (streams, "a", 1));
    assert_int_equal (hrb_streams_replaced (streams), 1);
    assert_int_equal (hrb_streams_refused (streams), 0);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

//  A stream whose events wait for their backup (sequenced above seq, no
//  history yet) is neither expired nor replaced at the cap: its seqs are
//  taken, and a new epoch would orphan them.
static void
test_streams_with_events_waiting_stay (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, 1);
    hrb_stream_t *s = hrb_streams_ensure (streams, K ("waiting"), 0);
    s->sequenced = 1;
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, SIZE_MAX), 0);
    assert_null (hrb_streams_ensure (streams, K ("other"), 6000));
    assert_ptr_equal (hrb_streams_find (streams, K ("waiting")), s);
    s->seq = 1;                         //  published: now it may go
    s_expire (store, 5000);
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, SIZE_MAX), 1);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_cap_replaces_only_when_the_least_recent_is_empty (void **state)
{
    hrb_store_t *store = s_store ();
    hrb_streams_t *streams = hrb_streams_new (store, 2);
    s_publish (streams, "a", 1);
    //  b exists but was never published to: it keeps nothing, yet a (the
    //  least recent) keeps an event: refused
    assert_non_null (hrb_streams_ensure (streams, "b", 1, 2));
    assert_null (s_publish (streams, "c", 3));
    s_expire (store, 3600000 + 10);     //  a's event ages out
    assert_non_null (s_publish (streams, "c", 3600000 + 11));
    assert_null (hrb_streams_find (streams, "a", 1));
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

static void
test_bytes_count_every_stream (void **state)
{
    hrb_store_t *store = s_store ();
    hrb_streams_t *streams = hrb_streams_new (store, 100);
    assert_int_equal (hrb_streams_bytes (streams), 0);
    s_publish (streams, "a", 1);
    s_publish (streams, "b", 1);
    assert_int_equal (hrb_streams_bytes (streams), 2 * HRB_STREAM_BYTES);
    assert_true (HRB_STREAM_BYTES > sizeof (hrb_stream_t));
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

#ifdef TU_HAVE_ASAN                //  support.h: clang or GCC

//  herald_broker_channel_bytes must not count less than the streams take
//  (as the allocator counts, under ASan), names of the longest kind
static void
test_counted_bytes_cover_what_the_streams_take (void **state)
{
    hrb_store_t *store = s_mem (0, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, 100000);
    char name [HR_CHANNEL_MAX + 1];
    memset (name, 'c', HR_CHANNEL_MAX);
    name [HR_CHANNEL_MAX] = 0;
    size_t before = __sanitizer_get_current_allocated_bytes ();
    for (int i = 0; i < 10000; i++) {
        snprintf (name, sizeof name, "%08d", i);
        name [8] = 'c';
        assert_non_null (hrb_streams_ensure (streams, name, HR_CHANNEL_MAX, 1));
    }
    size_t taken = __sanitizer_get_current_allocated_bytes () - before;
    assert_int_equal (hrb_streams_count (streams), 10000);
    assert_true (taken <= hrb_streams_bytes (streams));
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}
#endif

static void
test_expire_stops_at_its_budget (void **state)
{
    hrb_store_t *store = s_mem (0, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, 100);
    char name [8];
    for (int i = 0; i < 10; i++) {
        snprintf (name, sizeof name, "c%d", i);
        s_publish (streams, name, 1);
    }
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, 4), 4);
    assert_int_equal (hrb_streams_count (streams), 6);
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, 4), 4);
    assert_int_equal (hrb_streams_expire (streams, 5000, 1000, 4), 2);
    assert_int_equal (hrb_streams_count (streams), 0);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

//  In a cluster new epochs are made in the installed view, and a new view
//  drops the streams the broker does not keep (with their history).
static bool
s_keep_orders (void *arg, const hrb_stream_t *stream)
{
    (*(int *) arg)++;
    return strcmp (stream->name, "orders") == 0;
}

static void
test_streams_view_and_retain (void **state)
{
    hrb_store_t *store = s_mem (100, 1000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    hrb_stream_t *a = hrb_streams_ensure (streams, K ("orders"), 10);
    assert_int_equal (hr_epoch_view (a->epoch, HR_EPOCH_LEN), 0);
    hrb_streams_set_view (streams, 7);
    hrb_stream_t *b = hrb_streams_ensure (streams, K ("stats"), 10);
    assert_int_equal (hr_epoch_view (b->epoch, HR_EPOCH_LEN), 7);
    s_sequence (streams, b, 11);
    hrb_streams_ensure (streams, K ("news"), 10);
    int visited = 0;
    assert_int_equal (hrb_streams_retain (streams, s_keep_orders, &visited), 2);
    assert_int_equal (visited, 3);
    assert_int_equal (hrb_streams_count (streams), 1);
    assert_ptr_equal (hrb_streams_find (streams, K ("orders")), a);
    assert_null (hrb_streams_find (streams, K ("stats")));
    assert_int_equal (s_stats (store).events, 0);       //  its history went with it
    hrb_stream_t *again = hrb_streams_ensure (streams, K ("stats"), 12);
    assert_int_equal (again->seq, 0);
    assert_int_equal (hr_epoch_view (again->epoch, HR_EPOCH_LEN), 7);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

//  Counts the events a history read visits, checking they come in seq order.
static void
s_count_visit (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    uint64_t *last = arg;
    assert_true (seq > last [0]);
    last [0] = seq;
    last [1]++;
}

static void
test_streams_install_keeps_the_given_epoch_and_head (void **state)
{
    hrb_store_t *store = s_mem (100, 1000000, 1 << 20);
    hrb_streams_t *streams = hrb_streams_new (store, SIZE_MAX);
    const char *epoch = "0000000000000001aaaaaaaaaaaaaaaa";
    hrb_stream_t *a = hrb_streams_install (streams, K ("orders"), epoch, 7, 10);
    assert_non_null (a);
    assert_string_equal (a->epoch, epoch);
    assert_int_equal (a->seq, 7);
    hrb_streams_restore (streams, a, 6, 10, "x", 1);
    hrb_streams_restore (streams, a, 7, 10, "y", 1);
    assert_int_equal (hrb_streams_first (streams, a), 6);
    assert_int_equal (a->seq, 7);
    //  The next event the new owner sequences continues the epoch
    s_sequence (streams, a, 11);
    assert_int_equal (a->seq, 8);
    uint64_t seen [2] = { 0, 0 };
    assert_int_equal (store->ops->read (store, a->history, 0, 100, s_count_visit, seen), 3);
    assert_int_equal (seen [0], 8);
    //  Installed again (a newer handoff): the old history is gone
    const char *newer = "0000000000000002bbbbbbbbbbbbbbbb";
    assert_ptr_equal (hrb_streams_install (streams, K ("orders"), newer, 20, 12), a);
    assert_string_equal (a->epoch, newer);
    assert_int_equal (a->seq, 20);
    assert_int_equal (hrb_streams_first (streams, a), 21);
    assert_int_equal (s_stats (store).events, 0);
    //  Removed: gone with its history
    hrb_streams_restore (streams, a, 20, 12, "z", 1);
    hrb_streams_remove (streams, a);
    assert_null (hrb_streams_find (streams, K ("orders")));
    assert_int_equal (hrb_streams_count (streams), 0);
    assert_int_equal (s_stats (store).events, 0);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_streams_ensure_creates_with_fresh_epoch, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_view_and_retain, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_first_is_seq_plus_one_when_empty, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_expire_drops_idle_empty_streams, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_expire_keeps_streams_with_events, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_expire_keeps_recently_published, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_recreated_channel_gets_new_epoch_and_seq, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_destroy_closes_histories, s_epoch_setup),
        cmocka_unit_test_setup (test_cap_refuses_a_new_channel_when_all_keep_history,
                                s_epoch_setup),
        cmocka_unit_test_setup (test_cap_replaces_the_least_recent_stream_without_history,
                                s_epoch_setup),
        cmocka_unit_test_setup (test_cap_replaces_only_when_the_least_recent_is_empty,
                                s_epoch_setup),
        cmocka_unit_test_setup (test_streams_with_events_waiting_stay, s_epoch_setup),
        cmocka_unit_test_setup (test_bytes_count_every_stream, s_epoch_setup),
        cmocka_unit_test_setup (test_expire_stops_at_its_budget, s_epoch_setup),
        cmocka_unit_test_setup (test_streams_install_keeps_the_given_epoch_and_head,
                                s_epoch_setup),
#ifdef TU_HAVE_ASAN
        cmocka_unit_test_setup (test_counted_bytes_cover_what_the_streams_take, s_epoch_setup),
#endif
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
