/*  test_hrb_stream_load: the broker's channels rebuilt from a durable store
    at start-up (hrb_streams_load): every stored channel goes on in its
    epoch at its head, in the order of its last publish; one the store
    calls suspect (a crash may have lost events of it) starts a new epoch,
    newer than every stored one even when the clock went back; keys come
    back only for a channel's current epoch; over --max-channels the start
    fails with a reason.

    The store is the memory store with a scan of the test's own (its other
    ops are the memory store's), so the tests choose what was "stored".  */
#include "hrb_stream.h"

#include "support.h"

#define K(text) text, strlen (text)

//  What the stub's scan visits.
typedef struct {
    const char *name;
    const char *epoch;
    uint64_t head;
    uint64_t last_ms;
    bool suspect;
} s_channel_t;

typedef struct {
    const char *name;
    const char *id;
    uint64_t seq;
    const char *epoch;
} s_key_t;

static const s_channel_t *s_channels;
static size_t s_channel_count;
static const s_key_t *s_keys;
static size_t s_key_count;
static hrb_store_rc_t s_scan_rc;
static hrb_store_ops_t s_ops;

static hrb_store_rc_t
s_scan (hrb_store_t *store, hrb_store_channel_fn *channel, hrb_store_key_fn *key, void *arg,
        hr_buf_t *err)
{
    for (size_t i = 0; i < s_channel_count; i++) {
        hrb_store_state_t state = { "", s_channels [i].head, 0, s_channels [i].last_ms,
                                    s_channels [i].suspect };
        snprintf (state.epoch, sizeof state.epoch, "%s", s_channels [i].epoch);
        channel (arg, K (s_channels [i].name), &state);
    }
    if (s_scan_rc != HRB_STORE_OK) {
        hr_buf_printf (err, "cannot read the store");
        return s_scan_rc;
    }
    for (size_t i = 0; i < s_key_count; i++)
        key (arg, K (s_keys [i].name), K (s_keys [i].id), s_keys [i].seq, s_keys [i].epoch,
             10);
    return HRB_STORE_OK;
}

static hrb_store_t *
s_store (const s_channel_t *channels, size_t channel_count, const s_key_t *keys,
         size_t key_count)
{
    hrb_store_t *store = hrb_store_mem_new (100, 3600000, 1 << 20);
    s_ops = *store->ops;
    s_ops.scan = s_scan;
    store->ops = &s_ops;
    s_channels = channels;
    s_channel_count = channel_count;
    s_keys = keys;
    s_key_count = key_count;
    s_scan_rc = HRB_STORE_OK;
    return store;
}

//  Keys passed on by the load, as "name/id/seq" lines.
static char s_seen [1024];

static void
s_key_fn (void *arg, const char *ch, size_t ch_len, const char *id, size_t id_len,
          uint64_t seq, const char *epoch, uint64_t age_ms)
{
    size_t used = strlen (s_seen);
    snprintf (s_seen + used, sizeof s_seen - used, "%.*s/%.*s/%llu;", (int) ch_len, ch,
              (int) id_len, id, (unsigned long long) seq);
}

static int
s_setup (void **state)
{
    s_seen [0] = 0;
    return hr_epoch_init ();
}

//  Far in the future: a clock gone back since these were made.
#define S_EPOCH_A "00ffff0000000000aaaaaaaaaaaaaaaa"
#define S_EPOCH_B "00ffff0000000001bbbbbbbbbbbbbbbb"

static void
test_load_keeps_epochs_heads_and_recency (void **state)
{
    s_channel_t channels [] = {
        { "new", S_EPOCH_A, 7, 300, false },
        { "old", S_EPOCH_B, 42, 100, false },
        { "mid", S_EPOCH_A, 1, 200, false },
    };
    hrb_store_t *store = s_store (channels, 3, NULL, 0);
    hrb_streams_t *streams = hrb_streams_new (store, 10);
    hrb_streams_loaded_t loaded;
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_streams_load (streams, s_key_fn, NULL, &loaded, &err), 0);
    assert_int_equal (loaded.kept, 3);
    assert_int_equal (loaded.renewed, 0);
    hrb_stream_t *old = hrb_streams_find (streams, K ("old"));
    assert_non_null (old);
    assert_string_equal (old->epoch, S_EPOCH_B);
    assert_int_equal (old->seq, 42);
    assert_int_equal (old->sequenced, 42);
    assert_int_equal (old->last_ms, 100);
    //  The least recently published is dropped first when idle
    assert_int_equal (hrb_streams_expire (streams, 250 + 10, 10, SIZE_MAX), 2);
    assert_null (hrb_streams_find (streams, K ("old")));
    assert_null (hrb_streams_find (streams, K ("mid")));
    assert_non_null (hrb_streams_find (streams, K ("new")));
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
    hr_buf_free (&err);
}

static void
test_load_renews_suspect_channels_above_every_stored_epoch (void **state)
{
    s_channel_t channels [] = {
        { "cut", S_EPOCH_A, 9, 100, true },
        { "whole", S_EPOCH_B, 5, 200, false },
    };
    hrb_store_t *store = s_store (channels, 2, NULL, 0);
    hrb_streams_t *streams = hrb_streams_new (store, 10);
    hrb_streams_loaded_t loaded;
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_streams_load (streams, s_key_fn, NULL, &loaded, &err), 0);
    assert_int_equal (loaded.kept, 1);
    assert_int_equal (loaded.renewed, 1);
    hrb_stream_t *cut = hrb_streams_find (streams, K ("cut"));
    assert_non_null (cut);
    assert_int_equal (cut->seq, 0);
    assert_int_equal (cut->sequenced, 0);
    //  A new epoch, newer than both stored ones though the clock is behind them
    assert_string_not_equal (cut->epoch, S_EPOCH_A);
    assert_true (hr_epoch_older (K (S_EPOCH_B), K (cut->epoch)));
    char later [HR_EPOCH_LEN + 1];
    hr_epoch_new (later, 0);
    assert_true (hr_epoch_older (K (S_EPOCH_B), K (later)));
    assert_string_equal (hrb_streams_find (streams, K ("whole"))->epoch, S_EPOCH_B);
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
    hr_buf_free (&err);
}

static void
test_load_passes_only_keys_of_current_epochs (void **state)
{
    s_channel_t channels [] = {
        { "a", S_EPOCH_A, 9, 100, false },
        { "cut", S_EPOCH_A, 9, 100, true },
    };
    s_key_t keys [] = {
        { "a", "k1", 3, S_EPOCH_A },
        { "a", "k0", 2, S_EPOCH_B },        //  an older epoch of a
        { "cut", "k2", 4, S_EPOCH_A },      //  its channel renewed: the event may be lost
        { "gone", "k3", 1, S_EPOCH_A },     //  no such channel
        { "a", "k9", 10, S_EPOCH_A },       //  above the head
    };
    hrb_store_t *store = s_store (channels, 2, keys, 5);
    hrb_streams_t *streams = hrb_streams_new (store, 10);
    hrb_streams_loaded_t loaded;
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_streams_load (streams, s_key_fn, NULL, &loaded, &err), 0);
    assert_string_equal (s_seen, "a/k1/3;");
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
    hr_buf_free (&err);
}

static void
test_load_fails_over_the_cap_or_on_a_bad_store (void **state)
{
    s_channel_t channels [] = {
        { "a", S_EPOCH_A, 1, 100, false },
        { "b", S_EPOCH_A, 1, 100, false },
        { "c", S_EPOCH_A, 1, 100, false },
    };
    hrb_store_t *store = s_store (channels, 3, NULL, 0);
    hrb_streams_t *streams = hrb_streams_new (store, 2);
    hrb_streams_loaded_t loaded;
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_streams_load (streams, s_key_fn, NULL, &loaded, &err), -1);
    assert_non_null (strstr (err.data, "holds 3 channels, over --max-channels 2"));
    hrb_streams_destroy (&streams);         //  the loaded ones released, no leak
    hr_buf_reset (&err);
    streams = hrb_streams_new (store, 10);
    s_scan_rc = HRB_STORE_IO;
    assert_int_equal (hrb_streams_load (streams, s_key_fn, NULL, &loaded, &err), -1);
    assert_string_equal (err.data, "cannot read the store");
    hrb_streams_destroy (&streams);
    store->ops->destroy (&store);
    hr_buf_free (&err);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_load_keeps_epochs_heads_and_recency, s_setup),
        cmocka_unit_test_setup (test_load_renews_suspect_channels_above_every_stored_epoch,
                                s_setup),
        cmocka_unit_test_setup (test_load_passes_only_keys_of_current_epochs, s_setup),
        cmocka_unit_test_setup (test_load_fails_over_the_cap_or_on_a_bad_store, s_setup),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
