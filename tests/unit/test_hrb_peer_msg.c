/*  test_hrb_peer_msg: the frames brokers send each other (broker/
    hrb_peer_msg).

    Every type round trips; the decoder refuses every malformed frame:
    not a map, unknown type or field, a field the type does not carry, a
    missing or repeated field, wrong kinds, ids too long, bitmasks naming
    brokers outside the file, owners outside members, a vote request for
    another term, bodies over the bound, truncation at every byte.  */
#include "hrb_peer_msg.h"

#include "support.h"

#define S_ALL 0x7u          //  a file of three brokers
#define S_MAX 64

static void
s_decode_ok (const hr_buf_t *buf, hrb_peer_msg_t *msg)
{
    assert_int_equal (hrb_peer_msg_decode (buf->data, buf->size, S_ALL, S_MAX, msg), HR_OK);
}

static hr_error_t
s_decode_frame (void)
{
    hrb_peer_msg_t msg;
    return hrb_peer_msg_decode (tu_frame.data, tu_frame.size, S_ALL, S_MAX, &msg);
}

static void
test_view_messages_round_trip (void **state)
{
    hrb_view_msg_t in [] = {
        { .type = HRB_VIEW_HEARTBEAT, .term = 7, .view = { 7, 7, 3, 0, 6 }, .stamp = 123456,
          .leaving = true },
        { .type = HRB_VIEW_HEARTBEAT_ACK, .term = 7, .view = { 7, 5, 5, 2, 0 }, .stamp = 99 },
        { .type = HRB_VIEW_VOTE_REQUEST, .term = 8, .view = { 8, 6, 2, 1, 5 } },
        { .type = HRB_VIEW_VOTE, .term = 8, .granted = true, .base = 6 },
        { .type = HRB_VIEW_VOTE, .term = UINT64_MAX, .granted = false },
    };
    for (size_t i = 0; i < sizeof in / sizeof in [0]; i++) {
        hr_buf_t buf = HR_BUF_INIT;
        hrb_peer_msg_encode_view (&buf, "b2", 0xdeadbeef, &in [i]);
        hrb_peer_msg_t msg;
        s_decode_ok (&buf, &msg);
        assert_int_equal (msg.kind, HRB_PEER_VIEW);
        tu_assert_span (msg.from, msg.from_len, "b2");
        assert_int_equal (msg.cf, 0xdeadbeef);
        assert_int_equal (msg.view.type, in [i].type);
        assert_int_equal (msg.view.from, -1);
        assert_int_equal (msg.view.to, -1);
        assert_int_equal (msg.view.term, in [i].term);
        if (in [i].type != HRB_VIEW_VOTE)
            assert_memory_equal (&msg.view.view, &in [i].view, sizeof in [i].view);
        if (in [i].type <= HRB_VIEW_HEARTBEAT_ACK)
            assert_int_equal (msg.view.stamp, in [i].stamp);
        assert_int_equal (msg.view.leaving, in [i].leaving);
        assert_int_equal (msg.view.granted, in [i].granted);
        assert_int_equal (msg.view.base, in [i].base);
        hr_buf_free (&buf);
    }
    assert_string_equal (hrb_peer_msg_type_name (HRB_VIEW_HEARTBEAT_ACK), "hback");
}

static void
test_forwards_round_trip (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    uint64_t fid = 42;
    hrb_peer_msg_encode_fwd (&buf, "b1", 1, 9, &fid, "\x81\xa2" "ch\xa1x", 6);
    hrb_peer_msg_t msg;
    s_decode_ok (&buf, &msg);
    assert_int_equal (msg.kind, HRB_PEER_FWD);
    assert_int_equal (msg.number, 9);
    assert_true (msg.has_fid);
    assert_int_equal (msg.fid, 42);
    assert_int_equal (msg.body_len, 6);
    assert_memory_equal (msg.body, "\x81\xa2" "ch\xa1x", 6);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_fwd (&buf, "b1", 1, 9, NULL, "", 0);
    s_decode_ok (&buf, &msg);
    assert_false (msg.has_fid);
    assert_int_equal (msg.body_len, 0);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_fwdack (&buf, "b3", 2, 10, 42, "ack", 3);
    s_decode_ok (&buf, &msg);
    assert_int_equal (msg.kind, HRB_PEER_FWDACK);
    tu_assert_span (msg.from, msg.from_len, "b3");
    assert_int_equal (msg.number, 10);
    assert_int_equal (msg.fid, 42);
    tu_assert_span ((const char *) msg.body, msg.body_len, "ack");
    hr_buf_free (&buf);
}

//  A heartbeat with the fields from t to leaving; skip names one left out,
//  extra adds pairs the caller appends.
static void
s_hb (const char *skip, size_t extra)
{
    const char *fields [] = { "t", "from", "cf", "term", "view", "stamp", "leaving" };
    size_t n = 7 + extra - (skip? 1: 0);
    tu_map (n);
    for (size_t i = 0; i < 7; i++) {
        if (skip && strcmp (skip, fields [i]) == 0)
            continue;
        if (i == 0)
            tu_kstr ("t", "hb");
        else if (i == 1)
            tu_kstr ("from", "b1");
        else if (i == 4) {
            tu_key ("view");
            msgpack_pack_map (&tu_pk, 5);
            tu_kuint ("n", 3);
            tu_kuint ("m", 3);
            tu_kuint ("o", 1);
            tu_kuint ("h", 4);
            tu_kuint ("f", 2);
        }
        else if (i == 6) {
            tu_key ("leaving");
            msgpack_pack_false (&tu_pk);
        }
        else
            tu_kuint (fields [i], 3);
    }
}

static void
test_a_well_formed_frame_is_accepted (void **state)
{
    s_hb (NULL, 0);
    assert_int_equal (s_decode_frame (), HR_OK);
}

static void
test_every_missing_field_is_refused (void **state)
{
    const char *fields [] = { "from", "cf", "term", "view", "stamp", "leaving" };
    for (size_t i = 0; i < 6; i++) {
        s_hb (fields [i], 0);
        assert_int_equal (s_decode_frame (), HR_E_MISSING_FIELD);
    }
    s_hb ("t", 0);
    assert_int_equal (s_decode_frame (), HR_E_MISSING_FIELD);
}

static void
test_unknown_or_foreign_fields_are_refused (void **state)
{
    s_hb (NULL, 1);
    tu_kuint ("extra", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    s_hb (NULL, 1);
    tu_key ("granted");                         //  a vote's field in a heartbeat
    msgpack_pack_true (&tu_pk);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    s_hb (NULL, 1);
    tu_kuint ("fid", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    tu_map (3);
    tu_kstr ("t", "handover");                  //  not a type
    tu_kstr ("from", "b1");
    tu_kuint ("cf", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
}

static void
test_repeated_fields_are_refused (void **state)
{
    s_hb (NULL, 1);
    tu_kuint ("term", 4);
    assert_int_equal (s_decode_frame (), HR_E_DUPLICATE_FIELD);
    tu_map (2);
    tu_key ("view");
    msgpack_pack_map (&tu_pk, 2);
    tu_kuint ("n", 1);
    tu_kuint ("n", 1);
    tu_kstr ("t", "hb");
    assert_int_equal (s_decode_frame (), HR_E_DUPLICATE_FIELD);
}

static void
test_wrong_kinds_are_refused (void **state)
{
    s_hb ("term", 1);
    tu_kstr ("term", "3");
    assert_int_equal (s_decode_frame (), HR_E_BAD_TYPE);
    s_hb ("leaving", 1);
    tu_kuint ("leaving", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_TYPE);
    s_hb ("from", 1);
    tu_kuint ("from", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_TYPE);
    s_hb ("view", 1);
    tu_kuint ("view", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_TYPE);
    s_hb ("t", 1);
    tu_kuint ("t", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_TYPE);
    tu_map (5);                                 //  req as a string, not bin
    tu_kstr ("t", "fwd");
    tu_kstr ("from", "b1");
    tu_kuint ("cf", 1);
    tu_kuint ("n", 1);
    tu_kstr ("req", "x");
    assert_int_equal (s_decode_frame (), HR_E_BAD_TYPE);
    tu_key ("x");                               //  not a map at all
    assert_int_equal (s_decode_frame (), HR_E_BAD_TYPE);
}

static void
test_bad_values_are_refused (void **state)
{
    char id [HR_CLUSTER_ID_MAX + 2];
    memset (id, 'a', sizeof id - 1);
    id [sizeof id - 1] = 0;
    s_hb ("from", 1);
    tu_kstr ("from", id);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    s_hb ("from", 1);
    tu_kstr ("from", "");
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    s_hb ("cf", 1);
    tu_kuint ("cf", (uint64_t) UINT32_MAX + 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    //  Views: a broker outside the file, an owner not a member, a member
    //  also handed off, following a view not before it, a field missing,
    //  an unknown field
    uint64_t views [][5] = { { 3, 8, 0, 0, 0 }, { 3, 1, 2, 0, 0 }, { 3, 1, 1, 1, 0 },
                             { 3, 1, 1, 0, 3 } };
    for (size_t i = 0; i < 4; i++) {
        s_hb ("view", 1);
        tu_key ("view");
        msgpack_pack_map (&tu_pk, 5);
        tu_kuint ("n", views [i][0]);
        tu_kuint ("m", views [i][1]);
        tu_kuint ("o", views [i][2]);
        tu_kuint ("h", views [i][3]);
        tu_kuint ("f", views [i][4]);
        assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    }
    s_hb ("view", 1);
    tu_key ("view");
    msgpack_pack_map (&tu_pk, 3);
    tu_kuint ("n", 1);
    tu_kuint ("m", 1);
    tu_kuint ("o", 1);
    assert_int_equal (s_decode_frame (), HR_E_MISSING_FIELD);
    s_hb ("view", 1);
    tu_key ("view");
    msgpack_pack_map (&tu_pk, 1);
    tu_kuint ("x", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    //  A vote request proposes the view of its own term
    hr_buf_t buf = HR_BUF_INIT;
    hrb_view_msg_t vreq = { .type = HRB_VIEW_VOTE_REQUEST, .term = 5, .view = { 4, 1, 1, 0, 0 } };
    hrb_peer_msg_encode_view (&buf, "b1", 1, &vreq);
    hrb_peer_msg_t msg;
    assert_int_equal (hrb_peer_msg_decode (buf.data, buf.size, S_ALL, S_MAX, &msg),
                      HR_E_BAD_FIELD);
    hr_buf_free (&buf);
}

static void
test_bodies_are_bounded (void **state)
{
    char body [S_MAX + 1];
    memset (body, 'x', sizeof body);
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_msg_encode_fwdack (&buf, "b1", 1, 1, 1, body, S_MAX);
    hrb_peer_msg_t msg;
    s_decode_ok (&buf, &msg);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_fwdack (&buf, "b1", 1, 1, 1, body, S_MAX + 1);
    assert_int_equal (hrb_peer_msg_decode (buf.data, buf.size, S_ALL, S_MAX, &msg),
                      HR_E_FRAME_TOO_LARGE);
    hr_buf_free (&buf);
}

static void
test_truncated_and_trailing_bytes_are_refused (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    hrb_view_msg_t hb = { .type = HRB_VIEW_HEARTBEAT, .term = 300, .view = { 300, 7, 7, 0, 0 },
                          .stamp = 1u << 20 };
    hrb_peer_msg_encode_view (&buf, "b1", 70000, &hb);
    hrb_peer_msg_t msg;
    for (size_t len = 0; len < buf.size; len++)
        assert_int_not_equal (hrb_peer_msg_decode (buf.data, len, S_ALL, S_MAX, &msg), HR_OK);
    hr_buf_putc (&buf, 0);
    assert_int_equal (hrb_peer_msg_decode (buf.data, buf.size, S_ALL, S_MAX, &msg),
                      HR_E_TRAILING_BYTES);
    //  A fwdack without its fid
    tu_map (5);
    tu_kstr ("t", "fwdack");
    tu_kstr ("from", "b1");
    tu_kuint ("cf", 1);
    tu_kuint ("n", 1);
    tu_key ("rep");
    msgpack_pack_bin (&tu_pk, 0);
    assert_int_equal (s_decode_frame (), HR_E_MISSING_FIELD);
    hr_buf_free (&buf);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_view_messages_round_trip),
        cmocka_unit_test (test_forwards_round_trip),
        cmocka_unit_test (test_a_well_formed_frame_is_accepted),
        cmocka_unit_test (test_every_missing_field_is_refused),
        cmocka_unit_test (test_unknown_or_foreign_fields_are_refused),
        cmocka_unit_test (test_repeated_fields_are_refused),
        cmocka_unit_test (test_wrong_kinds_are_refused),
        cmocka_unit_test (test_bad_values_are_refused),
        cmocka_unit_test (test_bodies_are_bounded),
        cmocka_unit_test (test_truncated_and_trailing_bytes_are_refused),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
