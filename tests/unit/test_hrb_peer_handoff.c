/*  test_hrb_peer_handoff: the handoff frames brokers send each other
    (broker/hrb_peer_msg: "handoff", "handoff_end", "handoff_ack").

    Each round trips with its events and keys; the decoder refuses a bad
    channel or epoch, a key past the head, an ack naming both or neither
    of a channel and the end, an event over the body bound, a frame over
    HRB_HANDOFF_FRAME_MAX, and truncation at every byte.  */
#include "hrb_peer_msg.h"

#include "hr_epoch.h"
#include "support.h"

#define S_ALL 0x7u
#define S_MAX 64
#define S_EPOCH "0000010000000001aaaaaaaaaaaaaaaa"

static hr_error_t
s_decode (const hr_buf_t *buf, hrb_peer_msg_t *msg)
{
    return hrb_peer_msg_decode (buf->data, buf->size, S_ALL, S_MAX, msg);
}

static void
s_chunk (hr_buf_t *buf, const char *ch, const char *epoch, uint64_t seq, uint64_t key_seq)
{
    hrb_peer_span_t events [] = { { "e1", 2, 0 }, { "e22", 3, 0 } };
    hrb_peer_span_t keys [] = { { "k1", 2, key_seq } };
    hr_buf_reset (buf);
    hrb_peer_msg_encode_handoff (buf, "b1", 9, 4, ch, strlen (ch), epoch, seq, 2, true,
                                 events, 2, keys, 1);
}

static void
test_handoff_round_trips (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    s_chunk (&buf, "room", S_EPOCH, 7, 6);
    hrb_peer_msg_t msg;
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.kind, HRB_PEER_HANDOFF);
    assert_int_equal (msg.number, 4);
    tu_assert_span (msg.ch, msg.ch_len, "room");
    tu_assert_span (msg.epoch, HR_EPOCH_LEN, S_EPOCH);
    assert_int_equal (msg.seq, 7);
    assert_int_equal (msg.part, 2);
    assert_true (msg.last);
    hrb_peer_iter_t iter;
    const uint8_t *data;
    size_t len;
    hrb_peer_msg_events (&msg, &iter);
    assert_true (hrb_peer_iter_event (&iter, &data, &len));
    tu_assert_span ((const char *) data, len, "e1");
    assert_true (hrb_peer_iter_event (&iter, &data, &len));
    tu_assert_span ((const char *) data, len, "e22");
    assert_false (hrb_peer_iter_event (&iter, &data, &len));
    const char *id;
    uint64_t seq;
    hrb_peer_msg_keys (&msg, &iter);
    assert_true (hrb_peer_iter_key (&iter, &id, &len, &seq));
    tu_assert_span (id, len, "k1");
    assert_int_equal (seq, 6);
    assert_false (hrb_peer_iter_key (&iter, &id, &len, &seq));

    hr_buf_reset (&buf);
    hrb_peer_msg_encode_handoff_end (&buf, "b1", 9, 4, 10000);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.kind, HRB_PEER_HANDOFF_END);
    assert_int_equal (msg.count, 10000);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_handoff_ack (&buf, "b2", 9, 4, "room", 4);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.kind, HRB_PEER_HANDOFF_ACK);
    tu_assert_span (msg.ch, msg.ch_len, "room");
    assert_false (msg.end);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_handoff_ack (&buf, "b2", 9, 4, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_null (msg.ch);
    assert_true (msg.end);
    hr_buf_free (&buf);
}

static void
test_bad_handoffs_are_refused (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_msg_t msg;
    s_chunk (&buf, "bad channel", S_EPOCH, 7, 6);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    s_chunk (&buf, "room", "0000010000000001AAAAAAAAAAAAAAAA", 7, 6);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    s_chunk (&buf, "room", "0000010000000001aaaaaaaaaaaaaaag", 7, 6);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    s_chunk (&buf, "room", S_EPOCH, 7, 8);            //  a key past the head
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    s_chunk (&buf, "room", S_EPOCH, 7, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    //  Truncated anywhere, or with a byte more
    s_chunk (&buf, "room", S_EPOCH, 7, 6);
    for (size_t len = 0; len < buf.size; len++)
        assert_int_not_equal (hrb_peer_msg_decode (buf.data, len, S_ALL, S_MAX, &msg), HR_OK);
    hr_buf_putc (&buf, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_TRAILING_BYTES);
    //  An ack with both or neither of ch and end; end false
    tu_map (6);
    tu_kstr ("t", "handoff_ack");
    tu_kstr ("from", "b1");
    tu_kuint ("cf", 1);
    tu_kuint ("n", 1);
    tu_kstr ("ch", "room");
    tu_key ("end");
    msgpack_pack_true (&tu_pk);
    assert_int_equal (hrb_peer_msg_decode (tu_frame.data, tu_frame.size, S_ALL, S_MAX, &msg),
                      HR_E_BAD_FIELD);
    tu_map (4);
    tu_kstr ("t", "handoff_ack");
    tu_kstr ("from", "b1");
    tu_kuint ("cf", 1);
    tu_kuint ("n", 1);
    assert_int_equal (hrb_peer_msg_decode (tu_frame.data, tu_frame.size, S_ALL, S_MAX, &msg),
                      HR_E_BAD_FIELD);
    tu_map (5);
    tu_kstr ("t", "handoff_ack");
    tu_kstr ("from", "b1");
    tu_kuint ("cf", 1);
    tu_kuint ("n", 1);
    tu_key ("end");
    msgpack_pack_false (&tu_pk);
    assert_int_equal (hrb_peer_msg_decode (tu_frame.data, tu_frame.size, S_ALL, S_MAX, &msg),
                      HR_E_BAD_FIELD);
    //  An end without its count
    tu_map (4);
    tu_kstr ("t", "handoff_end");
    tu_kstr ("from", "b1");
    tu_kuint ("cf", 1);
    tu_kuint ("n", 1);
    assert_int_equal (hrb_peer_msg_decode (tu_frame.data, tu_frame.size, S_ALL, S_MAX, &msg),
                      HR_E_MISSING_FIELD);
    hr_buf_free (&buf);
}

static void
test_chunks_are_bounded (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_msg_t msg;
    char big [S_MAX + 1];
    memset (big, 'x', sizeof big);
    hrb_peer_span_t over = { big, S_MAX + 1, 0 };
    hrb_peer_msg_encode_handoff (&buf, "b1", 9, 4, "room", 4, S_EPOCH, 1, 0, true,
                                 &over, 1, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_FRAME_TOO_LARGE);
    //  Many envelopes each within the bound, the frame over 1 MiB
    size_t count = HRB_HANDOFF_FRAME_MAX / S_MAX + 1;
    hrb_peer_span_t *events = hr_malloc (count * sizeof *events);
    for (size_t i = 0; i < count; i++)
        events [i] = (hrb_peer_span_t) { big, S_MAX, 0 };
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_handoff (&buf, "b1", 9, 4, "room", 4, S_EPOCH, 1, 0, true,
                                 events, count, NULL, 0);
    assert_true (buf.size > HRB_HANDOFF_FRAME_MAX);
    assert_int_equal (s_decode (&buf, &msg), HR_E_FRAME_TOO_LARGE);
    //  Just within it: accepted
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_handoff (&buf, "b1", 9, 4, "room", 4, S_EPOCH, 1, 0, true,
                                 events, HRB_HANDOFF_CHUNK_MAX / (S_MAX + 2), NULL, 0);
    assert_true (buf.size <= HRB_HANDOFF_FRAME_MAX);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    free (events);
    hr_buf_free (&buf);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_handoff_round_trips),
        cmocka_unit_test (test_bad_handoffs_are_refused),
        cmocka_unit_test (test_chunks_are_bounded),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
