/*  test_hrb_replica_sync: the backup's side of synchronous replication in
    a replica (broker/hrb_replica): events its owner sends
    (hrb_replica_sync_event: held, started, missed), snapshot parts
    (hrb_replica_sync_part: part 0 installs the owner's epoch and head,
    parts restore consecutive seqs up to the head, with their keys; any
    other part drops the stream), and the takeover (hrb_replica_take,
    hrb_replica_take_keys, hrb_replica_visit).

    The replica is broker b1's in a real cluster of three brokers on ipc
    endpoints; no view is installed (sync_event and sync_part leave
    ownership to their caller). What a replica holds is read back through
    hrb_replica_take into the test's own streams and store.  */
#include "hrb_replica.h"
#include "hrb_store.h"
#include "hrb_stream.h"

#include "cluster_fixture.h"
#include "hr_time.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#define OLD "0000010000000001aaaaaaaaaaaaaaaa"
#define CUR "0000020000000001bbbbbbbbbbbbbbbb"
#define NEW "0000030000000001cccccccccccccccc"

//  The owner the snapshots come from (b2).
#define S_FROM 1
//  Most events a test reads back.
#define S_MAX 32

typedef struct {
    tu_cluster_t tu;                //  b1, running
    hrb_replica_t *replica;
    hrb_store_t *store;             //  the "broker's own", for takes
    hrb_streams_t *streams;
    hrb_dedupe_t *dedupe;
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fx = calloc (1, sizeof *fx);
    tu_cluster_open (&fx->tu, "/tmp/herald-replsync-XXXXXX");
    hr_buf_t err = HR_BUF_INIT;
    fx->replica = hrb_replica_new (fx->tu.ctx, &fx->tu.config, fx->tu.cluster, fx->tu.metrics, &err);
    assert_non_null (fx->replica);
    hr_buf_free (&err);
    fx->store = hrb_store_mem_new (1000, 3600 * 1000, 1 << 20);
    fx->streams = hrb_streams_new (fx->store, 64);
    fx->dedupe = hrb_dedupe_new (300 * 1000, 1000, 1 << 20);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    hrb_dedupe_destroy (&fx->dedupe);
    hrb_streams_destroy (&fx->streams);
    fx->store->ops->destroy (&fx->store);
    hrb_replica_destroy (&fx->replica);
    tu_cluster_close (&fx->tu);
    free (fx);
    return 0;
}

//  The idempotency key of event seq of a channel: "<ch>-<seq>".
static void
s_key (char *out, size_t size, const char *ch, uint64_t seq)
{
    snprintf (out, size, "%s-%llu", ch, (unsigned long long) seq);
}

//  Appends to out the envelope of event seq of ch in epoch, with its key.
static void
s_envelope (hr_buf_t *out, const char *ch, const char *epoch, uint64_t seq)
{
    char id [64];
    s_key (id, sizeof id, ch, seq);
    hr_event_t ev = { .ch = ch, .ch_len = strlen (ch), .epoch = epoch,
                      .epoch_len = strlen (epoch), .id = id, .id_len = strlen (id),
                      .data = (const uint8_t *) "\x01", .data_len = 1, .seq = seq,
                      .ts = 1000 + seq };
    hr_event_encode (&ev, out);
}

//  The owner sends event seq of ch in epoch; checks the channel reported.
static hrb_replica_sync_t
s_sync (s_fixture_t *fx, const char *ch, const char *epoch, uint64_t seq)
{
    hr_buf_t buf = HR_BUF_INIT;
    s_envelope (&buf, ch, epoch, seq);
    const char *got = NULL;
    size_t len = 0;
    hrb_replica_sync_t sync = hrb_replica_sync_event (fx->replica, buf.data, buf.size, &got,
                                                      &len);
    assert_non_null (got);
    assert_int_equal (len, strlen (ch));
    assert_memory_equal (got, ch, len);
    hr_buf_free (&buf);
    return sync;
}

//  Sends events from..to of ch in epoch, each expected as sync.
static void
s_sync_run (s_fixture_t *fx, const char *ch, const char *epoch, uint64_t from, uint64_t to)
{
    for (uint64_t seq = from; seq <= to; seq++)
        assert_int_equal (s_sync (fx, ch, epoch, seq),
                          seq == 1? HRB_REPLICA_STARTED: HRB_REPLICA_HELD);
}

//  Snapshot part `part` of ch (epoch, head) from the owner, carrying the
//  events seqs [0..count) of channel of (ch when NULL); its result.
static int
s_part (s_fixture_t *fx, const char *ch, const char *epoch, uint64_t head, uint64_t part,
        bool last, const uint64_t *seqs, size_t count, const char *of)
{
    hr_buf_t envelopes [S_MAX];
    hrb_peer_span_t spans [S_MAX];
    assert_true (count <= S_MAX);
    for (size_t i = 0; i < count; i++) {
        envelopes [i] = (hr_buf_t) HR_BUF_INIT;
        s_envelope (&envelopes [i], of? of: ch, epoch, seqs [i]);
        spans [i] = (hrb_peer_span_t) { envelopes [i].data, envelopes [i].size, 0 };
    }
    const hr_cluster_t *file = hrb_cluster_file (fx->tu.cluster);
    hr_buf_t frame = HR_BUF_INIT;
    hrb_peer_msg_encode_rsnap (&frame, "b2", hr_cluster_fingerprint (file), 1, part + 1,
                               part == 0, 0, ch, strlen (ch), epoch, head, part, last,
                               spans, count, NULL, 0);
    hrb_peer_msg_t msg;
    assert_int_equal (hrb_peer_msg_decode (frame.data, frame.size, hr_cluster_all (file),
                                           1 << 20, &msg), HR_OK);
    int rc = hrb_replica_sync_part (fx->replica, S_FROM, &msg, part == 0);
    hr_buf_free (&frame);
    for (size_t i = 0; i < count; i++)
        hr_buf_free (&envelopes [i]);
    return rc;
}

//  ---------------------------------------------------------------------
//  Reading a replica back

typedef struct {
    const char *ch;
    hrb_stream_t *stream;
    size_t visited;
    size_t stop_after;              //  0: visit all
} s_visit_t;

static bool
s_visit (void *arg, hrb_stream_t *stream)
{
    s_visit_t *visit = arg;
    visit->visited++;
    if (visit->ch && strcmp (stream->name, visit->ch) == 0)
        visit->stream = stream;
    return visit->stop_after == 0 || visit->visited < visit->stop_after;
}

//  The replica's stream of ch (NULL: none), by hrb_replica_visit.
static hrb_stream_t *
s_held (s_fixture_t *fx, const char *ch)
{
    s_visit_t visit = { .ch = ch };
    hrb_replica_visit (fx->replica, s_visit, &visit);
    return visit.stream;
}

typedef struct {
    const char *ch;
    const char *epoch;
    uint64_t seqs [S_MAX];
    size_t count;
} s_read_t;

//  Checks each event read is the envelope s_envelope makes for its seq.
static void
s_read_one (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    s_read_t *read = arg;
    hr_buf_t want = HR_BUF_INIT;
    s_envelope (&want, read->ch, read->epoch, seq);
    assert_int_equal (size, want.size);
    assert_memory_equal (bytes, want.data, size);
    hr_buf_free (&want);
    assert_true (read->count < S_MAX);
    read->seqs [read->count++] = seq;
}

//  Takes ch from the replica into the test's streams, checks its epoch
//  and head, and the seqs of its history are first..head (none when
//  first is 0).
static void
s_expect (s_fixture_t *fx, const char *ch, const char *epoch, uint64_t head, uint64_t first)
{
    hrb_stream_t *stream = hrb_replica_take (fx->replica, ch, strlen (ch), fx->streams);
    assert_non_null (stream);
    assert_ptr_equal (hrb_streams_find (fx->streams, ch, strlen (ch)), stream);
    assert_string_equal (stream->epoch, epoch);
    assert_int_equal (stream->seq, head);
    s_read_t read = { ch, epoch, { 0 }, 0 };
    fx->store->ops->read (fx->store, stream->history, 0, S_MAX, s_read_one, &read);
    size_t count = first? (size_t) (head - first + 1): 0;
    assert_int_equal (read.count, count);
    for (size_t i = 0; i < count; i++)
        assert_int_equal (read.seqs [i], first + i);
    assert_int_equal (hrb_streams_first (fx->streams, stream), first? first: head + 1);
}

//  ---------------------------------------------------------------------
//  hrb_replica_sync_event

static void
test_event_held_in_order (void **state)
{
    s_fixture_t *fx = *state;
    assert_int_equal (s_sync (fx, "orders", CUR, 1), HRB_REPLICA_STARTED);
    assert_int_equal (s_sync (fx, "orders", CUR, 2), HRB_REPLICA_HELD);
    assert_int_equal (s_sync (fx, "orders", CUR, 3), HRB_REPLICA_HELD);
    //  Sent again (a frame resent in a new session): held already
    assert_int_equal (s_sync (fx, "orders", CUR, 2), HRB_REPLICA_HELD);
    assert_int_equal (s_sync (fx, "orders", CUR, 3), HRB_REPLICA_HELD);
    s_expect (fx, "orders", CUR, 3, 1);
}

static void
test_event_newer_epoch_starts_at_seq_1 (void **state)
{
    s_fixture_t *fx = *state;
    s_sync_run (fx, "orders", CUR, 1, 4);
    //  A newer epoch from its middle: not all of it, the stream kept
    assert_int_equal (s_sync (fx, "orders", NEW, 5), HRB_REPLICA_MISSED);
    assert_int_equal (s_sync (fx, "orders", NEW, 2), HRB_REPLICA_MISSED);
    s_expect (fx, "orders", CUR, 4, 1);
    //  Its seq 1: the stream starts over
    assert_int_equal (s_sync (fx, "orders", NEW, 1), HRB_REPLICA_STARTED);
    assert_int_equal (s_sync (fx, "orders", NEW, 2), HRB_REPLICA_HELD);
    s_expect (fx, "orders", NEW, 2, 1);
    //  A channel not held: only its seq 1 starts it
    assert_int_equal (s_sync (fx, "room", CUR, 3), HRB_REPLICA_MISSED);
    assert_null (s_held (fx, "room"));
    assert_int_equal (s_sync (fx, "room", CUR, 1), HRB_REPLICA_STARTED);
    s_expect (fx, "room", CUR, 1, 1);
}

static void
test_event_missed (void **state)
{
    s_fixture_t *fx = *state;
    s_sync_run (fx, "orders", CUR, 1, 3);
    //  A gap: missed (a repair is wanted), nothing past it kept
    assert_int_equal (s_sync (fx, "orders", CUR, 5), HRB_REPLICA_MISSED);
    assert_int_equal (s_sync (fx, "orders", CUR, 6), HRB_REPLICA_MISSED);
    //  An older epoch, even at seq 1 or the next seq
    assert_int_equal (s_sync (fx, "orders", OLD, 1), HRB_REPLICA_MISSED);
    assert_int_equal (s_sync (fx, "orders", OLD, 4), HRB_REPLICA_MISSED);
    s_expect (fx, "orders", CUR, 3, 1);
    //  The next seq still goes on
    assert_int_equal (s_sync (fx, "orders", CUR, 4), HRB_REPLICA_HELD);
    s_expect (fx, "orders", CUR, 4, 1);
}

static void
test_event_malformed (void **state)
{
    s_fixture_t *fx = *state;
    s_sync_run (fx, "orders", CUR, 1, 2);
    const char *ch = "x";
    size_t len = 9;
    //  Not an envelope
    assert_int_equal (hrb_replica_sync_event (fx->replica, "\x93\x01\x02", 3, &ch, &len),
                      HRB_REPLICA_MISSED);
    assert_null (ch);
    assert_int_equal (len, 0);
    //  A head marker is no event to hold, even one seq ahead
    hr_buf_t buf = HR_BUF_INIT;
    hr_event_t marker = { .ch = "orders", .ch_len = 6, .epoch = CUR,
                          .epoch_len = strlen (CUR), .seq = 3, .head = true };
    hr_event_encode (&marker, &buf);
    ch = "x";
    assert_int_equal (hrb_replica_sync_event (fx->replica, buf.data, buf.size, &ch, &len),
                      HRB_REPLICA_MISSED);
    assert_null (ch);
    hr_buf_free (&buf);
    //  An epoch of the wrong length
    hr_event_t ev = { .ch = "orders", .ch_len = 6, .epoch = "0001", .epoch_len = 4,
                      .data = (const uint8_t *) "\x01", .data_len = 1, .seq = 3 };
    hr_event_encode (&ev, &buf);
    ch = "x";
    assert_int_equal (hrb_replica_sync_event (fx->replica, buf.data, buf.size, &ch, &len),
                      HRB_REPLICA_MISSED);
    assert_null (ch);
    hr_buf_free (&buf);
    s_expect (fx, "orders", CUR, 2, 1);
}

//  ---------------------------------------------------------------------
//  hrb_replica_sync_part

static void
test_part_replaces_and_restores (void **state)
{
    s_fixture_t *fx = *state;
    s_sync_run (fx, "orders", CUR, 1, 3);
    //  Part 0 installs the owner's epoch and head over what was there
    uint64_t first [] = { 8, 9 }, second [] = { 10 };
    assert_int_equal (s_part (fx, "orders", NEW, 10, 0, false, first, 2, NULL), 0);
    hrb_stream_t *held = s_held (fx, "orders");
    assert_non_null (held);
    assert_string_equal (held->epoch, NEW);
    assert_int_equal (held->seq, 10);
    assert_int_equal (s_part (fx, "orders", NEW, 10, 1, true, second, 1, NULL), 0);
    s_expect (fx, "orders", NEW, 10, 8);
    //  Live events go on from the head
    assert_int_equal (s_sync (fx, "orders", NEW, 11), HRB_REPLICA_HELD);
    s_expect (fx, "orders", NEW, 11, 8);
    //  An older owner's epoch replaces too (part 0 is the owner's word)
    uint64_t again [] = { 1, 2 };
    assert_int_equal (s_part (fx, "orders", CUR, 2, 0, true, again, 2, NULL), 0);
    s_expect (fx, "orders", CUR, 2, 1);
}

static void
test_part_without_history (void **state)
{
    s_fixture_t *fx = *state;
    //  The owner's history expired: the head alone
    assert_int_equal (s_part (fx, "orders", CUR, 7, 0, true, NULL, 0, NULL), 0);
    s_expect (fx, "orders", CUR, 7, 0);
    assert_int_equal (s_sync (fx, "orders", CUR, 8), HRB_REPLICA_HELD);
    s_expect (fx, "orders", CUR, 8, 8);
}

static void
test_part_not_consecutive (void **state)
{
    s_fixture_t *fx = *state;
    uint64_t holes [] = { 7, 9, 10 };
    assert_int_equal (s_part (fx, "orders", CUR, 10, 0, false, holes, 3, NULL), -1);
    assert_null (s_held (fx, "orders"));
    //  Across parts too
    uint64_t first [] = { 5, 6 }, second [] = { 8, 9, 10 };
    assert_int_equal (s_part (fx, "orders", CUR, 10, 0, false, first, 2, NULL), 0);
    assert_int_equal (s_part (fx, "orders", CUR, 10, 1, true, second, 3, NULL), -1);
    assert_null (s_held (fx, "orders"));
    //  Backwards
    uint64_t back [] = { 9, 8 };
    assert_int_equal (s_part (fx, "orders", CUR, 10, 0, false, back, 2, NULL), -1);
    assert_null (s_held (fx, "orders"));
}

static void
test_part_beyond_head_or_other_channel (void **state)
{
    s_fixture_t *fx = *state;
    uint64_t past [] = { 5, 6 };
    assert_int_equal (s_part (fx, "orders", CUR, 5, 0, true, past, 2, NULL), -1);
    assert_null (s_held (fx, "orders"));
    uint64_t seqs [] = { 1, 2 };
    assert_int_equal (s_part (fx, "orders", CUR, 2, 0, true, seqs, 2, "room"), -1);
    assert_null (s_held (fx, "orders"));
    assert_null (s_held (fx, "room"));
    //  In a later part
    assert_int_equal (s_part (fx, "orders", CUR, 4, 0, false, seqs, 2, NULL), 0);
    uint64_t rest [] = { 3, 4 };
    assert_int_equal (s_part (fx, "orders", CUR, 4, 1, true, rest, 2, "room"), -1);
    assert_null (s_held (fx, "orders"));
}

static void
test_part_stops_short_of_head (void **state)
{
    s_fixture_t *fx = *state;
    uint64_t short_one [] = { 1, 2, 3 };
    assert_int_equal (s_part (fx, "orders", CUR, 4, 0, true, short_one, 3, NULL), -1);
    assert_null (s_held (fx, "orders"));
    //  Across parts: a part that is not the last may stop anywhere
    uint64_t first [] = { 7, 8 }, second [] = { 9 };
    assert_int_equal (s_part (fx, "orders", CUR, 10, 0, false, first, 2, NULL), 0);
    assert_int_equal (s_part (fx, "orders", CUR, 10, 1, true, second, 1, NULL), -1);
    assert_null (s_held (fx, "orders"));
}

static void
test_part_needs_its_part_0 (void **state)
{
    s_fixture_t *fx = *state;
    uint64_t seqs [] = { 4, 5 };
    //  A channel not held
    assert_int_equal (s_part (fx, "orders", CUR, 5, 1, true, seqs, 2, NULL), -1);
    assert_null (s_held (fx, "orders"));
    //  Held, but not of this snapshot: another epoch, another head
    s_sync_run (fx, "orders", CUR, 1, 3);
    assert_int_equal (s_part (fx, "orders", NEW, 5, 1, true, seqs, 2, NULL), -1);
    assert_int_equal (s_part (fx, "orders", CUR, 5, 1, true, seqs, 2, NULL), -1);
    s_expect (fx, "orders", CUR, 3, 1);
    //  Held with this very epoch and head, but no part 0 began it: seqs
    //  already held must not be stored twice
    s_sync_run (fx, "orders", CUR, 4, 5);
    assert_int_equal (s_part (fx, "orders", CUR, 5, 1, true, seqs, 2, NULL), -1);
    //  Nor does the part 0 of another channel begin it
    uint64_t none [] = { 0 };
    assert_int_equal (s_part (fx, "news", CUR, 5, 0, false, none, 0, NULL), 0);
    assert_int_equal (s_part (fx, "orders", CUR, 5, 1, true, seqs, 2, NULL), -1);
}

//  hrb_replica_take_keys' taken: "orders" only.
static bool
s_orders (void *arg, const char *ch, size_t len)
{
    size_t *asked = arg;
    (*asked)++;
    return len == 6 && memcmp (ch, "orders", 6) == 0;
}

//  The key of event seq of ch in the test's dedupe: its seq and epoch.
static void
s_expect_key (s_fixture_t *fx, const char *ch, uint64_t seq, const char *epoch)
{
    char id [64], got_epoch [HR_EPOCH_LEN + 1] = "";
    s_key (id, sizeof id, ch, seq);
    uint64_t got = 0;
    bool found = hrb_dedupe_find (fx->dedupe, ch, strlen (ch), id, strlen (id), hr_wall_ms (),
                                  &got, got_epoch);
    if (!epoch) {
        assert_false (found);
        return;
    }
    assert_true (found);
    assert_int_equal (got, seq);
    assert_string_equal (got_epoch, epoch);
}

static void
test_part_keeps_keys (void **state)
{
    s_fixture_t *fx = *state;
    uint64_t first [] = { 3, 4 }, second [] = { 5, 6 };
    assert_int_equal (s_part (fx, "orders", NEW, 6, 0, false, first, 2, NULL), 0);
    assert_int_equal (s_part (fx, "orders", NEW, 6, 1, true, second, 2, NULL), 0);
    size_t asked = 0;
    hrb_replica_take_keys (fx->replica, fx->dedupe, fx->streams, s_orders, &asked);
    assert_int_equal (asked, 4);
    for (uint64_t seq = 3; seq <= 6; seq++)
        s_expect_key (fx, "orders", seq, NEW);
    assert_int_equal (hrb_dedupe_keys (fx->dedupe), 4);
}

//  ---------------------------------------------------------------------
//  Takeover

static void
test_take_copies_the_stream (void **state)
{
    s_fixture_t *fx = *state;
    assert_null (hrb_replica_take (fx->replica, "orders", 6, fx->streams));
    assert_int_equal (hrb_streams_count (fx->streams), 0);
    s_sync_run (fx, "orders", CUR, 1, 5);
    //  The broker's own stream, if any, is replaced
    hrb_stream_t *own = hrb_streams_install (fx->streams, "orders", 6, OLD, 40, hr_wall_ms ());
    assert_non_null (own);
    s_expect (fx, "orders", CUR, 5, 1);
    assert_int_equal (hrb_streams_count (fx->streams), 1);
    //  The replica keeps its own until its next tick
    hrb_stream_t *held = s_held (fx, "orders");
    assert_non_null (held);
    assert_int_equal (held->seq, 5);
    assert_null (hrb_replica_take (fx->replica, "room", 4, fx->streams));
}

static void
test_take_keys_of_channels_taken (void **state)
{
    s_fixture_t *fx = *state;
    s_sync_run (fx, "orders", CUR, 1, 3);
    s_sync_run (fx, "room", NEW, 1, 2);
    size_t asked = 0;
    hrb_replica_take_keys (fx->replica, fx->dedupe, fx->streams, s_orders, &asked);
    assert_int_equal (asked, 5);
    for (uint64_t seq = 1; seq <= 3; seq++)
        s_expect_key (fx, "orders", seq, CUR);
    s_expect_key (fx, "room", 1, NULL);
    s_expect_key (fx, "room", 2, NULL);
    assert_int_equal (hrb_dedupe_keys (fx->dedupe), 3);
}

static void
test_visit (void **state)
{
    s_fixture_t *fx = *state;
    s_visit_t none = { 0 };
    hrb_replica_visit (fx->replica, s_visit, &none);
    assert_int_equal (none.visited, 0);
    s_sync_run (fx, "orders", CUR, 1, 2);
    s_sync_run (fx, "room", CUR, 1, 1);
    assert_int_equal (s_sync (fx, "news", CUR, 1), HRB_REPLICA_STARTED);
    s_visit_t all = { 0 };
    hrb_replica_visit (fx->replica, s_visit, &all);
    assert_int_equal (all.visited, 3);
    assert_non_null (s_held (fx, "orders"));
    assert_non_null (s_held (fx, "room"));
    assert_non_null (s_held (fx, "news"));
    //  Stops when told
    s_visit_t one = { .stop_after = 1 };
    hrb_replica_visit (fx->replica, s_visit, &one);
    assert_int_equal (one.visited, 1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_event_held_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_event_newer_epoch_starts_at_seq_1, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_event_missed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_event_malformed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_part_replaces_and_restores, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_part_without_history, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_part_not_consecutive, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_part_beyond_head_or_other_channel, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_part_stops_short_of_head, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_part_needs_its_part_0, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_part_keeps_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_take_copies_the_stream, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_take_keys_of_channels_taken, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_visit, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
