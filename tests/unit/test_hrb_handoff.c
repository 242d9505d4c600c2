/*  test_hrb_handoff: a new owner's side of a graceful handoff (broker/
    hrb_handoff).

    A channel of a source is awaited until it arrives whole, the source
    ends, or the timeout passes (then a takeover); chunks are taken only in
    order, of the view expected, from the channel's source, with one epoch
    and head; publishes are held in arrival order within the byte bound and
    released once; a new view supersedes the old expectations. The sender
    cuts a channel of 12 MiB into chunks whose frames stay within
    HRB_HANDOFF_FRAME_MAX, decoded and accepted in order by a receiver.  */
#include "hrb_handoff.h"

#include "hr_epoch.h"
#include "support.h"

#include <stdio.h>

#define S_EPOCH "0000050000000001aaaaaaaaaaaaaaaa"
#define S_OTHER "0000050000000001bbbbbbbbbbbbbbbb"

static hrb_peer_msg_t
s_chunk (const char *ch, uint64_t view, const char *epoch, uint64_t seq, uint64_t part,
         bool last)
{
    return (hrb_peer_msg_t) { .kind = HRB_PEER_HANDOFF, .number = view, .ch = ch,
                              .ch_len = strlen (ch), .epoch = epoch, .seq = seq,
                              .part = part, .last = last };
}

static void
test_awaiting_until_whole_end_or_timeout (void **state)
{
    hrb_handoff_t *h = hrb_handoff_new (1000, 5000);
    hrb_handoff_expect (h, 5, 1u << 2, 100);
    //  Only channels of broker 2 wait
    assert_int_equal (hrb_handoff_state (h, 2, "a", 1, 100), HRB_HANDOFF_AWAIT);
    assert_int_equal (hrb_handoff_state (h, 1, "a", 1, 100), HRB_HANDOFF_NONE);
    assert_int_equal (hrb_handoff_state (h, -1, "a", 1, 100), HRB_HANDOFF_NONE);
    //  a arrives in two parts
    hrb_peer_msg_t msg = s_chunk ("a", 5, S_EPOCH, 9, 0, false);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_MORE);
    assert_int_equal (hrb_handoff_state (h, 2, "a", 1, 100), HRB_HANDOFF_AWAIT);
    msg = s_chunk ("a", 5, S_EPOCH, 9, 1, true);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_WHOLE);
    assert_int_equal (hrb_handoff_state (h, 2, "a", 1, 100), HRB_HANDOFF_NONE);
    //  b waits until the timeout, then is taken over
    assert_int_equal (hrb_handoff_state (h, 2, "b", 1, 5099), HRB_HANDOFF_AWAIT);
    assert_int_equal (hrb_handoff_state (h, 2, "b", 1, 5100), HRB_HANDOFF_TIMED_OUT);
    //  The source's end: what it did not send is not awaited
    assert_false (hrb_handoff_end (h, 2, 4));
    assert_false (hrb_handoff_end (h, 1, 5));
    assert_true (hrb_handoff_end (h, 2, 5));
    assert_int_equal (hrb_handoff_state (h, 2, "b", 1, 200), HRB_HANDOFF_NONE);
    //  A new view supersedes everything
    hrb_handoff_expect (h, 6, 1u << 1, 10000);
    assert_int_equal (hrb_handoff_state (h, 2, "a", 1, 10000), HRB_HANDOFF_NONE);
    assert_int_equal (hrb_handoff_state (h, 1, "a", 1, 10000), HRB_HANDOFF_AWAIT);
    hrb_handoff_destroy (&h);
    assert_null (h);
}

static void
test_chunks_out_of_order_are_refused (void **state)
{
    hrb_handoff_t *h = hrb_handoff_new (1000, 5000);
    hrb_handoff_expect (h, 5, (1u << 2) | (1u << 0), 0);
    hrb_peer_msg_t msg = s_chunk ("a", 5, S_EPOCH, 9, 1, false);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_REFUSED);   //  part 1 first
    msg = s_chunk ("a", 4, S_EPOCH, 9, 0, false);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_REFUSED);   //  an old view
    msg = s_chunk ("a", 5, S_EPOCH, 9, 0, false);
    assert_int_equal (hrb_handoff_chunk (h, 1, &msg), HRB_CHUNK_REFUSED);   //  not a source
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_MORE);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_MORE);      //  part 0 again:
                                                                            //  sent again
    assert_int_equal (hrb_handoff_chunk (h, 0, &msg), HRB_CHUNK_REFUSED);   //  another source
    msg = s_chunk ("a", 5, S_EPOCH, 9, 2, false);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_REFUSED);   //  a part skipped
    msg = s_chunk ("a", 5, S_OTHER, 9, 1, false);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_REFUSED);   //  another epoch
    msg = s_chunk ("a", 5, S_EPOCH, 10, 1, false);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_REFUSED);   //  another head
    msg = s_chunk ("a", 5, S_EPOCH, 9, 1, true);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_WHOLE);
    msg = s_chunk ("a", 5, S_EPOCH, 9, 2, true);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_REFUSED);   //  already whole
    //  After its end, a source's chunks are refused
    assert_true (hrb_handoff_end (h, 2, 5));
    msg = s_chunk ("b", 5, S_EPOCH, 1, 0, true);
    assert_int_equal (hrb_handoff_chunk (h, 2, &msg), HRB_CHUNK_REFUSED);
    hrb_handoff_destroy (&h);
}

typedef struct {
    char got [64];
    size_t count;
} s_sink_t;

static void
s_collect (void *arg, int tag, const void *data, size_t size)
{
    s_sink_t *sink = arg;
    sink->got [sink->count++] = (char) ('0' + tag);
    assert_int_equal (size, 1);
    sink->got [sink->count++] = *(const char *) data;
}

static void
s_due (void *arg, const char *ch, bool timed_out)
{
    s_sink_t *sink = arg;
    sink->got [sink->count++] = ch [0];
    sink->got [sink->count++] = timed_out? 'T': 'E';
}

static void
test_held_publishes_are_bounded_and_released_in_order (void **state)
{
    //  Room for three one-byte publishes
    hrb_handoff_t *h = hrb_handoff_new (3 * (1 + HRB_HANDOFF_HELD_OVERHEAD), 5000);
    hrb_handoff_expect (h, 5, 1u << 2, 0);
    assert_int_equal (hrb_handoff_hold (h, 2, "a", 1, 1, "x", 1), 0);
    assert_int_equal (hrb_handoff_hold (h, 2, "b", 1, 2, "y", 1), 0);
    assert_int_equal (hrb_handoff_hold (h, 2, "a", 1, 3, "z", 1), 0);
    assert_int_equal (hrb_handoff_hold (h, 2, "a", 1, 4, "w", 1), -1);      //  over the bound
    assert_int_equal (hrb_handoff_held (h), 3);
    assert_int_equal (hrb_handoff_held_bytes (h), 3 * (1 + HRB_HANDOFF_HELD_OVERHEAD));
    s_sink_t sink = { "", 0 };
    //  Nothing is due while both wait
    assert_int_equal (hrb_handoff_due (h, 100, 10, s_due, &sink), 0);
    assert_int_equal (hrb_handoff_release (h, "a", 1, s_collect, &sink), 2);
    assert_string_equal (sink.got, "1x3z");
    assert_int_equal (hrb_handoff_release (h, "a", 1, s_collect, &sink), 0);  //  once
    assert_int_equal (hrb_handoff_held (h), 1);
    assert_int_equal (hrb_handoff_hold (h, 2, "a", 1, 4, "w", 1), 0);      //  room again
    //  A new view keeps what is held; at the timeout both are due
    hrb_handoff_expect (h, 6, 1u << 2, 1000);
    sink = (s_sink_t) { "", 0 };
    assert_int_equal (hrb_handoff_due (h, 5999, 10, s_due, &sink), 0);
    assert_int_equal (hrb_handoff_due (h, 6000, 1, s_due, &sink), 1);      //  the budget
    assert_int_equal (hrb_handoff_due (h, 6000, 10, s_due, &sink), 2);
    assert_int_equal (sink.count, 6);
    assert_int_equal (sink.got [1], 'T');
    hrb_handoff_destroy (&h);                    //  frees what is still held
}

static void
test_end_makes_held_publishes_due (void **state)
{
    hrb_handoff_t *h = hrb_handoff_new (1000, 5000);
    hrb_handoff_expect (h, 5, 1u << 2, 0);
    assert_int_equal (hrb_handoff_hold (h, 2, "c", 1, 1, "x", 1), 0);
    assert_true (hrb_handoff_end (h, 2, 5));
    s_sink_t sink = { "", 0 };
    assert_int_equal (hrb_handoff_due (h, 1, 10, s_due, &sink), 1);
    assert_string_equal (sink.got, "cE");
    hrb_handoff_release (h, "c", 1, s_collect, &sink);
    assert_int_equal (hrb_handoff_held_bytes (h), 0);
    hrb_handoff_destroy (&h);
}

//  Encodes each chunk as a frame, decodes it and feeds it to a receiver.
typedef struct {
    hrb_handoff_t *receiver;
    size_t chunks, events, keys, whole;
    uint64_t next_key_seq;
} s_wire_t;

static void
s_emit (void *arg, uint64_t part, bool last, const hrb_peer_span_t *events,
        size_t event_count, const hrb_peer_span_t *keys, size_t key_count)
{
    s_wire_t *wire = arg;
    hr_buf_t frame = HR_BUF_INIT;
    hrb_peer_msg_encode_handoff (&frame, "b3", 1, 5, "big", 3, S_EPOCH, 100000, part, last,
                                 events, event_count, keys, key_count);
    assert_true (frame.size <= HRB_HANDOFF_FRAME_MAX);
    hrb_peer_msg_t msg;
    assert_int_equal (hrb_peer_msg_decode (frame.data, frame.size, 7, 65536, &msg), HR_OK);
    assert_int_equal (msg.ev_count, event_count);
    hrb_peer_iter_t iter;
    const uint8_t *data;
    size_t len;
    hrb_peer_msg_events (&msg, &iter);
    while (hrb_peer_iter_event (&iter, &data, &len))
        assert_int_equal (data [0], (uint8_t) (wire->events++ % 251));     //  in order
    wire->keys += key_count;
    hrb_chunk_t rc = hrb_handoff_chunk (wire->receiver, 2, &msg);
    assert_int_equal (rc, last? HRB_CHUNK_WHOLE: HRB_CHUNK_MORE);
    wire->whole += last;
    wire->chunks++;
    hr_buf_free (&frame);
}

static void
test_a_channel_is_cut_into_chunks_of_at_most_1_mib (void **state)
{
    //  5,000 envelopes of 1 to 4 KiB (about 12 MiB) and 3,000 keys
    size_t count = 5000, key_count = 3000;
    uint8_t *bytes = hr_malloc (count * 4096);
    hrb_peer_span_t *events = hr_malloc (count * sizeof *events);
    for (size_t i = 0; i < count; i++) {
        size_t len = 1024 + (i * 7919) % 3072;
        memset (bytes + i * 4096, (int) (i % 251), len);
        events [i] = (hrb_peer_span_t) { bytes + i * 4096, len, 0 };
    }
    char (*ids) [24] = hr_malloc (key_count * sizeof *ids);
    hrb_peer_span_t *keys = hr_malloc (key_count * sizeof *keys);
    for (size_t i = 0; i < key_count; i++) {
        snprintf (ids [i], sizeof ids [i], "publisher-key-%zu", i);
        keys [i] = (hrb_peer_span_t) { ids [i], strlen (ids [i]), 1 + i };
    }
    hrb_handoff_t *receiver = hrb_handoff_new (0, 5000);
    hrb_handoff_expect (receiver, 5, 1u << 2, 0);
    s_wire_t wire = { receiver, 0, 0, 0, 0, 0 };
    size_t chunks = hrb_handoff_cut (events, count, keys, key_count, HRB_HANDOFF_CHUNK_MAX,
                                     s_emit, &wire);
    assert_int_equal (chunks, wire.chunks);
    assert_true (chunks >= 12 && chunks <= 14);
    assert_int_equal (wire.events, count);
    assert_int_equal (wire.keys, key_count);
    assert_int_equal (wire.whole, 1);
    //  A channel with nothing to carry: one empty last chunk
    hrb_handoff_expect (receiver, 5, 1u << 2, 0);
    wire = (s_wire_t) { receiver, 0, 0, 0, 0, 0 };
    assert_int_equal (hrb_handoff_cut (NULL, 0, NULL, 0, HRB_HANDOFF_CHUNK_MAX, s_emit, &wire),
                      1);
    assert_int_equal (wire.whole, 1);
    hrb_handoff_destroy (&receiver);
    free (bytes);
    free (events);
    free (ids);
    free (keys);
}

static void
test_settled_whole_and_overdue (void **state)
{
    hrb_handoff_t *h = hrb_handoff_new (1000, 5000);
    hrb_handoff_expect (h, 7, (1u << 1) | (1u << 2), 100);
    assert_int_equal (hrb_handoff_view (h), 7);
    //  Nothing settled yet; a broker that is no source never settles
    assert_false (hrb_handoff_settled (h, 1, "a", 1));
    assert_false (hrb_handoff_settled (h, 0, "a", 1));
    assert_false (hrb_handoff_whole (h, "a", 1));
    //  a comes whole from 1: settled and whole; b of 1 not yet
    hrb_peer_msg_t msg = s_chunk ("a", 7, S_EPOCH, 3, 0, true);
    assert_int_equal (hrb_handoff_chunk (h, 1, &msg), HRB_CHUNK_WHOLE);
    assert_true (hrb_handoff_settled (h, 1, "a", 1));
    assert_true (hrb_handoff_whole (h, "a", 1));
    assert_false (hrb_handoff_settled (h, 1, "b", 1));
    //  1 ends: all its channels settled (b never had state there)
    assert_true (hrb_handoff_end (h, 1, 7));
    assert_true (hrb_handoff_settled (h, 1, "b", 1));
    assert_false (hrb_handoff_whole (h, "b", 1));
    //  2 never ends: overdue at its deadline, 1 never (it ended)
    assert_int_equal (hrb_handoff_overdue (h, 5099), 0);
    assert_int_equal (hrb_handoff_overdue (h, 5100), 1u << 2);
    assert_false (hrb_handoff_settled (h, 2, "c", 1));
    //  A new view forgets what came whole
    hrb_handoff_expect (h, 8, 1u << 2, 6000);
    assert_false (hrb_handoff_whole (h, "a", 1));
    assert_false (hrb_handoff_settled (h, 1, "a", 1));
    hrb_handoff_destroy (&h);
}

static void
test_begun_until_whole_or_forgotten (void **state)
{
    hrb_handoff_t *h = hrb_handoff_new (1000, 5000);
    hrb_handoff_expect (h, 7, 1u << 1, 100);
    assert_false (hrb_handoff_begun (h, "a", 1));
    hrb_peer_msg_t msg = s_chunk ("a", 7, S_EPOCH, 30, 0, false);
    assert_int_equal (hrb_handoff_chunk (h, 1, &msg), HRB_CHUNK_MORE);
    assert_true (hrb_handoff_begun (h, "a", 1));
    //  Past the deadline it stays begun: the caller drops its partial stream
    assert_int_equal (hrb_handoff_state (h, 1, "a", 1, 5100), HRB_HANDOFF_TIMED_OUT);
    assert_true (hrb_handoff_begun (h, "a", 1));
    hrb_handoff_forget (h, "a", 1);
    assert_false (hrb_handoff_begun (h, "a", 1));
    assert_false (hrb_handoff_whole (h, "a", 1));
    //  What was cut off is not taken up again
    msg = s_chunk ("a", 7, S_EPOCH, 30, 1, true);
    assert_int_equal (hrb_handoff_chunk (h, 1, &msg), HRB_CHUNK_REFUSED);
    //  A channel that came whole is not begun
    msg = s_chunk ("b", 7, S_EPOCH, 3, 0, false);
    assert_int_equal (hrb_handoff_chunk (h, 1, &msg), HRB_CHUNK_MORE);
    msg = s_chunk ("b", 7, S_EPOCH, 3, 1, true);
    assert_int_equal (hrb_handoff_chunk (h, 1, &msg), HRB_CHUNK_WHOLE);
    assert_false (hrb_handoff_begun (h, "b", 1));
    hrb_handoff_destroy (&h);
}

//  A new view voids every channel that came whole in the one before, all
//  of them: deleting while walking the table once skipped some (its cursor
//  resets), which were then never awaited again.
static void
test_a_new_view_awaits_every_channel_again (void **state)
{
    hrb_handoff_t *h = hrb_handoff_new (1000, 5000);
    hrb_handoff_expect (h, 5, 1u << 2, 0);
    char name [16];
    for (int i = 0; i < 2000; i++) {
        snprintf (name, sizeof name, "ch%d", i);
        hrb_peer_msg_t msg = { .kind = HRB_PEER_HANDOFF, .number = 5, .ch = name,
                               .ch_len = strlen (name),
                               .epoch = "0000050000000001aaaaaaaaaaaaaaaa", .seq = 1,
                               .part = 0, .last = true };
        hrb_handoff_chunk (h, 2, &msg);
    }
    hrb_handoff_expect (h, 6, 1u << 2, 0);
    for (int i = 0; i < 2000; i++) {
        snprintf (name, sizeof name, "ch%d", i);
        assert_int_equal (hrb_handoff_state (h, 2, name, strlen (name), 0), HRB_HANDOFF_AWAIT);
    }
    hrb_handoff_destroy (&h);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_awaiting_until_whole_end_or_timeout),
        cmocka_unit_test (test_chunks_out_of_order_are_refused),
        cmocka_unit_test (test_settled_whole_and_overdue),
        cmocka_unit_test (test_begun_until_whole_or_forgotten),
        cmocka_unit_test (test_held_publishes_are_bounded_and_released_in_order),
        cmocka_unit_test (test_end_makes_held_publishes_due),
        cmocka_unit_test (test_a_channel_is_cut_into_chunks_of_at_most_1_mib),
        cmocka_unit_test (test_a_new_view_awaits_every_channel_again),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
