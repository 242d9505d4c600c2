/*  test_hrb_stream: the broker's channel streams (broker/hrb_stream): the
    --max-channels cap (replace a stream without history, refuse
    otherwise), the memory they count, and the expiry budget. (Creation,
    epochs and idle expiry are in test_store.c.)  */
#include "hrb_stream.h"

#include "support.h"

static hrb_store_t *
s_store (void)
{
    return hrb_store_mem_new (100, 3600000, 1 << 20);
}

static hrb_stream_t *
s_publish (hrb_streams_t *streams, const char *name, uint64_t now)
{
    hrb_stream_t *stream = hrb_streams_ensure (streams, name, strlen (name), now);
    if (stream) {
        stream->seq++;
        hrb_streams_append (streams, stream, now, "x", 1);
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
    hrb_store_t *store = hrb_store_mem_new (0, 3600000, 1 << 20);     //  no history
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
    store->ops->expire (store, 3600000 + 10, SIZE_MAX);     //  a's event ages out
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

static void
test_expire_stops_at_its_budget (void **state)
{
    hrb_store_t *store = hrb_store_mem_new (0, 1000, 1 << 20);
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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_cap_refuses_a_new_channel_when_all_keep_history),
        cmocka_unit_test (test_cap_replaces_the_least_recent_stream_without_history),
        cmocka_unit_test (test_cap_replaces_only_when_the_least_recent_is_empty),
        cmocka_unit_test (test_bytes_count_every_stream),
        cmocka_unit_test (test_expire_stops_at_its_budget),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
