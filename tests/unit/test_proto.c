/*  test_proto: broker requests (common/hr_proto).

    hr_request_decode against every error code of docs/protocol.md §2.2 (and
    bad_request of §3), each with a crafted frame; the request encoders'
    round trips; the rid an error reply must carry.  Replies are in
    test_proto_reply.c.  */
#include "hr_proto.h"
#include "hr_pack.h"

#include "support.h"

#define S_MAX 65536

static hr_error_t
s_decode (hr_request_t *req)
{
    return hr_request_decode (tu_frame.data, tu_frame.size, S_MAX, req);
}

static hr_error_t
s_rc (void)
{
    hr_request_t req;
    return s_decode (&req);
}

//  A minimal valid publish: {"ch": "orders", "data": 7}
static void
s_publish (size_t extra)
{
    tu_map (2 + extra);
    tu_kstr ("ch", "orders");
    tu_kuint ("data", 7);
}

//  A minimal valid history request: {"op": "history", "ch": "orders"}
static void
s_history (size_t extra)
{
    tu_map (2 + extra);
    tu_kstr ("op", "history");
    tu_kstr ("ch", "orders");
}

//  --------------------------------------------------------------------
//  Accepted requests

static void
test_publish_without_op_or_rid (void **state)
{
    s_publish (0);
    hr_request_t req;
    assert_int_equal (s_decode (&req), HR_OK);
    assert_int_equal (req.op, HR_OP_PUBLISH);
    assert_false (req.has_rid);
    tu_assert_span (req.event.ch, req.event.ch_len, "orders");
    assert_int_equal (req.event.data_len, 1);
    assert_int_equal (req.event.data [0], 7);
    assert_null (req.event.type);
    assert_null (req.event.id);
    assert_null (req.event.epoch);
}

static void
test_publish_with_op_rid_type_id (void **state)
{
    tu_map (6);
    tu_kuint ("rid", UINT64_MAX);
    tu_kstr ("type", "created");
    tu_kstr ("op", "publish");
    tu_kstr ("id", "order-7-created");
    tu_key ("data");
    msgpack_pack_map (&tu_pk, 1);
    tu_kuint ("id", 7);
    tu_kstr ("ch", "orders");
    hr_request_t req;
    assert_int_equal (s_decode (&req), HR_OK);
    assert_int_equal (req.op, HR_OP_PUBLISH);
    assert_true (req.has_rid);
    assert_true (req.rid == UINT64_MAX);
    tu_assert_span (req.event.type, req.event.type_len, "created");
    tu_assert_span (req.event.id, req.event.id_len, "order-7-created");
    assert_int_equal (req.event.data_len, 5);
}

static void
test_rid_zero_is_present (void **state)
{
    s_publish (1);
    tu_kuint ("rid", 0);
    hr_request_t req;
    assert_int_equal (s_decode (&req), HR_OK);
    assert_true (req.has_rid);
    assert_int_equal (req.rid, 0);
}

static void
test_history_defaults_since_0_limit_100 (void **state)
{
    s_history (0);
    hr_request_t req;
    assert_int_equal (s_decode (&req), HR_OK);
    assert_int_equal (req.op, HR_OP_HISTORY);
    assert_int_equal (req.since, 0);
    assert_int_equal (req.limit, HR_HISTORY_LIMIT_DEFAULT);
    assert_int_equal (req.limit, 100);
    assert_null (req.event.epoch);
    assert_false (req.has_rid);
}

static void
test_history_with_epoch_since_limit_rid (void **state)
{
    s_history (4);
    tu_kstr ("epoch", "9f1c2ab03e4d5f60");
    tu_kuint ("since", 40);
    tu_kuint ("limit", 17);
    tu_kuint ("rid", 3);
    hr_request_t req;
    assert_int_equal (s_decode (&req), HR_OK);
    tu_assert_span (req.event.epoch, req.event.epoch_len, "9f1c2ab03e4d5f60");
    assert_int_equal (req.since, 40);
    assert_int_equal (req.limit, 17);
    assert_int_equal (req.rid, 3);
}

static void
test_history_limit_clamped_to_1000 (void **state)
{
    static const uint64_t asked [] = { 999, 1000, 1001, 5000, UINT64_MAX };
    static const uint64_t got [] = { 999, 1000, 1000, 1000, 1000 };
    for (int i = 0; i < 5; i++) {
        s_history (1);
        tu_kuint ("limit", asked [i]);
        hr_request_t req;
        assert_int_equal (s_decode (&req), HR_OK);
        assert_int_equal (req.limit, got [i]);
    }
}

static void
test_op_may_come_after_history_fields (void **state)
{
    tu_map (3);
    tu_kstr ("ch", "c");
    tu_kuint ("since", 5);
    tu_kstr ("op", "history");
    hr_request_t req;
    assert_int_equal (s_decode (&req), HR_OK);
    assert_int_equal (req.op, HR_OP_HISTORY);
    assert_int_equal (req.since, 5);
}

//  --------------------------------------------------------------------
//  §2.2 errors, one crafted frame each

static void
test_frame_over_max_is_frame_too_large (void **state)
{
    s_publish (0);
    hr_request_t req;
    assert_int_equal (hr_request_decode (tu_frame.data, tu_frame.size, tu_frame.size, &req), HR_OK);
    assert_int_equal (hr_request_decode (tu_frame.data, tu_frame.size, tu_frame.size - 1, &req),
                      HR_E_FRAME_TOO_LARGE);
}

static void
test_frame_ending_mid_value_is_truncated (void **state)
{
    hr_request_t req;
    assert_int_equal (hr_request_decode ("", 0, S_MAX, &req), HR_E_TRUNCATED);
    s_publish (0);
    //  {"ch": "orders", "data": <missing>}
    assert_int_equal (hr_request_decode (tu_frame.data, tu_frame.size - 1, S_MAX, &req),
                      HR_E_TRUNCATED);
    tu_map (2);
    tu_kstr ("ch", "orders");
    tu_kraw ("data", "\xcd\x01", 2);             //  uint16 missing a byte
    assert_int_equal (s_rc (), HR_E_TRUNCATED);
}

static void
test_declared_length_over_bytes_left_is_bad_length (void **state)
{
    tu_map (2);
    tu_kraw ("ch", "\xd9\xc8" "orders", 8);       //  str8 of 200 bytes, 6 present
    tu_kuint ("data", 1);
    assert_int_equal (s_rc (), HR_E_BAD_LENGTH);
    tu_map (2);
    tu_kstr ("ch", "orders");
    tu_kraw ("data", "\xdd\xff\xff\xff\xff\x01", 6);
    assert_int_equal (s_rc (), HR_E_BAD_LENGTH);
    hr_request_t req;
    assert_int_equal (hr_request_decode ("\xdf\xff\xff\xff\xff\xa1x", 7, S_MAX, &req),
                      HR_E_BAD_LENGTH);
}

static void
test_0xc1_is_bad_msgpack (void **state)
{
    tu_map (2);
    tu_kstr ("ch", "orders");
    tu_kraw ("data", "\x91\xc1", 2);
    assert_int_equal (s_rc (), HR_E_BAD_MSGPACK);
    hr_request_t req;
    assert_int_equal (hr_request_decode ("\xc1", 1, S_MAX, &req), HR_E_BAD_MSGPACK);
}

static void
test_data_deeper_than_32_is_too_deep (void **state)
{
    uint8_t nested [33];
    for (int depth = 32; depth <= 33; depth++) {
        memset (nested, 0x91, sizeof nested);
        nested [depth - 1] = 0x90;
        tu_map (2);
        tu_kstr ("ch", "orders");
        tu_kraw ("data", nested, (size_t) depth);
        assert_int_equal (s_rc (), depth == 32? HR_OK: HR_E_TOO_DEEP);
    }
}

static void
test_bytes_after_map_are_trailing_bytes (void **state)
{
    s_publish (0);
    hr_buf_putc (&tu_frame, 0);
    assert_int_equal (s_rc (), HR_E_TRAILING_BYTES);
}

static void
test_not_a_map_is_bad_type (void **state)
{
    hr_request_t req;
    assert_int_equal (hr_request_decode ("\x92\x01\x02", 3, S_MAX, &req), HR_E_BAD_TYPE);
    assert_int_equal (hr_request_decode ("\xa2op", 3, S_MAX, &req), HR_E_BAD_TYPE);
}

static void
test_non_string_key_is_bad_type (void **state)
{
    s_publish (1);
    msgpack_pack_int (&tu_pk, 1);
    msgpack_pack_int (&tu_pk, 1);
    assert_int_equal (s_rc (), HR_E_BAD_TYPE);
}

static void
test_wrong_field_types_are_bad_type (void **state)
{
    static const struct { const char *key; const char *value; size_t size; } cases [] = {
        { "rid", "\xa1" "1", 2 },
        { "rid", "\xff", 1 },
        { "type", "\x01", 1 },
        { "id", "\xc0", 1 },
        { "op", "\x01", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_publish (1);
        tu_kraw (cases [i].key, cases [i].value, cases [i].size);
        hr_error_t rc = s_rc ();
        if (rc != HR_E_BAD_TYPE)
            fail_msg ("%s of the wrong type: got %d", cases [i].key, rc);
    }
    tu_map (2);
    tu_kraw ("ch", "\x07", 1);
    tu_kuint ("data", 1);
    assert_int_equal (s_rc (), HR_E_BAD_TYPE);
    s_history (1);
    tu_kraw ("since", "\xa2" "40", 3);
    assert_int_equal (s_rc (), HR_E_BAD_TYPE);
    s_history (1);
    tu_kraw ("limit", "\xff", 1);
    assert_int_equal (s_rc (), HR_E_BAD_TYPE);
    s_history (1);
    tu_kraw ("epoch", "\xc0", 1);
    assert_int_equal (s_rc (), HR_E_BAD_TYPE);
}

static void
test_missing_ch_or_data_is_missing_field (void **state)
{
    tu_map (1);
    tu_kuint ("data", 1);
    assert_int_equal (s_rc (), HR_E_MISSING_FIELD);
    tu_map (1);
    tu_kstr ("ch", "orders");
    assert_int_equal (s_rc (), HR_E_MISSING_FIELD);
    tu_map (1);
    tu_kstr ("op", "history");
    assert_int_equal (s_rc (), HR_E_MISSING_FIELD);
    hr_request_t req;
    assert_int_equal (hr_request_decode ("\x80", 1, S_MAX, &req), HR_E_MISSING_FIELD);
}

static void
test_repeated_key_is_duplicate_field (void **state)
{
    static const char *const keys [] = { "ch", "data", "rid", "op", "type", "id" };
    for (size_t k = 0; k < sizeof keys / sizeof keys [0]; k++) {
        s_publish (2);
        for (int twice = 0; twice < 2; twice++) {
            if (!strcmp (keys [k], "ch") || !strcmp (keys [k], "type") || !strcmp (keys [k], "id"))
                tu_kstr (keys [k], "x");
            else if (!strcmp (keys [k], "op"))
                tu_kstr (keys [k], "publish");
            else
                tu_kuint (keys [k], 1);
        }
        hr_error_t rc = s_rc ();
        if (rc != HR_E_DUPLICATE_FIELD)
            fail_msg ("%s repeated: got %d", keys [k], rc);
    }
    s_history (2);
    tu_kuint ("since", 1);
    tu_kuint ("since", 2);
    assert_int_equal (s_rc (), HR_E_DUPLICATE_FIELD);
}

static void
test_unknown_key_is_bad_field (void **state)
{
    s_publish (1);
    tu_kstr ("chan", "orders");
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    s_publish (1);
    tu_kstr ("", "x");
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    s_publish (1);
    tu_kstr ("CH", "orders");
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
}

static void
test_type_out_of_format_is_bad_field (void **state)
{
    char type [66];
    memset (type, 't', 65);
    type [65] = 0;
    s_publish (1);
    tu_kstr ("type", type);
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    type [64] = 0;
    s_publish (1);
    tu_kstr ("type", type);
    assert_int_equal (s_rc (), HR_OK);
    static const char *const bad [] = { "", "a b", "a|b", "caf\xc3\xa9", "x!" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_publish (1);
        tu_kstr ("type", bad [i]);
        assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    }
}

static void
test_id_out_of_format_is_bad_field (void **state)
{
    char id [130];
    memset (id, '~', 129);
    id [129] = 0;
    s_publish (1);
    tu_kstr ("id", id);
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    id [128] = 0;
    s_publish (1);
    tu_kstr ("id", id);
    assert_int_equal (s_rc (), HR_OK);
    static const char *const bad [] = { "", "a b", "a\tb", "\x7f", "\xc3\xa9" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_publish (1);
        tu_kstr ("id", bad [i]);
        assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    }
}

static void
test_history_epoch_out_of_format_is_bad_field (void **state)
{
    static const char *const bad [] = { "", "a b", "123456789012345678901234567890123" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_history (1);
        tu_kstr ("epoch", bad [i]);
        assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    }
}

static void
test_history_fields_on_publish_are_bad_field (void **state)
{
    s_publish (1);
    tu_kstr ("epoch", "e1");
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    s_publish (1);
    tu_kuint ("since", 1);
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    s_publish (1);
    tu_kuint ("limit", 1);
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
}

static void
test_publish_fields_on_history_are_bad_field (void **state)
{
    s_history (1);
    tu_kuint ("data", 1);
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    s_history (1);
    tu_kstr ("type", "t");
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
    s_history (1);
    tu_kstr ("id", "i");
    assert_int_equal (s_rc (), HR_E_BAD_FIELD);
}

static void
test_invalid_channel_is_bad_channel (void **state)
{
    static const char *const bad [] = { "", "a b", "seller|1", "caf\xc3\xa9",
        ("123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
         "123456789012345678901234567890123456789") };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        tu_map (2);
        tu_kstr ("ch", bad [i]);
        tu_kuint ("data", 1);
        assert_int_equal (s_rc (), HR_E_BAD_CHANNEL);
        tu_map (2);
        tu_kstr ("op", "history");
        tu_kstr ("ch", bad [i]);
        assert_int_equal (s_rc (), HR_E_BAD_CHANNEL);
    }
}

static void
test_unknown_op_is_bad_request (void **state)
{
    static const char *const ops [] = { "subscribe", "", "PUBLISH", "history ", "hist" };
    for (size_t i = 0; i < sizeof ops / sizeof ops [0]; i++) {
        s_publish (1);
        tu_kstr ("op", ops [i]);
        assert_int_equal (s_rc (), HR_E_BAD_REQUEST);
    }
}

//  --------------------------------------------------------------------
//  Request encoders

static void
test_encode_publish_round_trips (void **state)
{
    hr_event_t ev = { .ch = "orders", .ch_len = 6, .type = "created", .type_len = 7,
                      .id = "k1", .id_len = 2, .data = (const uint8_t *) "\x92\x01\xc3",
                      .data_len = 3 };
    uint64_t rid = 99;
    hr_buf_t buf = HR_BUF_INIT;
    hr_request_encode_publish (&buf, &rid, &ev);
    hr_request_t req;
    assert_int_equal (hr_request_decode (buf.data, buf.size, S_MAX, &req), HR_OK);
    assert_int_equal (req.op, HR_OP_PUBLISH);
    assert_true (req.has_rid);
    assert_int_equal (req.rid, 99);
    tu_assert_span (req.event.ch, req.event.ch_len, "orders");
    tu_assert_span (req.event.type, req.event.type_len, "created");
    tu_assert_span (req.event.id, req.event.id_len, "k1");
    assert_int_equal (req.event.data_len, 3);
    assert_memory_equal (req.event.data, "\x92\x01\xc3", 3);
    //  and without rid, type, id
    hr_buf_reset (&buf);
    ev.type = ev.id = NULL;
    hr_request_encode_publish (&buf, NULL, &ev);
    assert_int_equal (hr_request_decode (buf.data, buf.size, S_MAX, &req), HR_OK);
    assert_false (req.has_rid);
    assert_null (req.event.type);
    assert_null (req.event.id);
    hr_buf_free (&buf);
}

static void
test_encode_history_round_trips (void **state)
{
    uint64_t rid = 5;
    hr_buf_t buf = HR_BUF_INIT;
    hr_request_encode_history (&buf, &rid, "orders", "e-1", 40, 17);
    hr_request_t req;
    assert_int_equal (hr_request_decode (buf.data, buf.size, S_MAX, &req), HR_OK);
    assert_int_equal (req.op, HR_OP_HISTORY);
    assert_int_equal (req.rid, 5);
    tu_assert_span (req.event.ch, req.event.ch_len, "orders");
    tu_assert_span (req.event.epoch, req.event.epoch_len, "e-1");
    assert_int_equal (req.since, 40);
    assert_int_equal (req.limit, 17);
    hr_buf_reset (&buf);
    hr_request_encode_history (&buf, NULL, "c", NULL, 0, 100);
    assert_int_equal (hr_request_decode (buf.data, buf.size, S_MAX, &req), HR_OK);
    assert_false (req.has_rid);
    assert_null (req.event.epoch);
    assert_int_equal (req.limit, 100);
    hr_buf_free (&buf);
}

//  --------------------------------------------------------------------
//  rid on errors: the error reply must reach its caller (issue 7 §2)

static void
test_oversized_frame_keeps_its_rid (void **state)
{
    tu_map (3);
    tu_kuint ("rid", 41);
    tu_kstr ("ch", "orders");
    tu_kstr ("data", "0123456789");
    hr_request_t req;
    assert_int_equal (hr_request_decode (tu_frame.data, tu_frame.size, tu_frame.size - 1, &req),
                      HR_E_FRAME_TOO_LARGE);
    assert_true (req.has_rid);
    assert_int_equal (req.rid, 41);
}

static void
test_rid_after_a_bad_field_is_found (void **state)
{
    tu_map (3);
    tu_kstr ("ch", "bad channel");
    tu_kuint ("data", 1);
    tu_kuint ("rid", 42);
    hr_request_t req;
    assert_int_equal (s_decode (&req), HR_E_BAD_CHANNEL);
    assert_true (req.has_rid);
    assert_int_equal (req.rid, 42);
    //  and after an unknown key, and in a frame that ends early
    tu_map (3);
    tu_kuint ("nope", 1);
    tu_kuint ("rid", 43);
    tu_kstr ("ch", "a");
    assert_int_equal (s_decode (&req), HR_E_BAD_FIELD);
    assert_int_equal (req.rid, 43);
    tu_map (3);
    tu_kuint ("rid", 44);
    tu_kstr ("ch", "a");
    tu_key ("data");
    assert_int_equal (s_decode (&req), HR_E_TRUNCATED);
    assert_true (req.has_rid);
    assert_int_equal (req.rid, 44);
}

static void
test_rid_that_cannot_be_read_is_absent (void **state)
{
    //  Not an unsigned integer
    tu_map (3);
    tu_kstr ("ch", "a");
    tu_kuint ("data", 1);
    tu_kstr ("rid", "seven");
    hr_request_t req;
    assert_int_equal (s_decode (&req), HR_E_BAD_TYPE);
    assert_false (req.has_rid);
    //  After bytes that are not MessagePack
    tu_map (2);
    tu_key ("data");
    tu_raw ("\xc1", 1);
    tu_kuint ("rid", 5);
    assert_int_equal (s_decode (&req), HR_E_BAD_MSGPACK);
    assert_false (req.has_rid);
    //  Not a map
    uint64_t rid = 0;
    assert_false (hr_request_find_rid ("\x93\x01\x02\x03", 4, &rid));
    assert_false (hr_request_find_rid ("", 0, &rid));
}

static void
test_find_rid_stops_at_rid (void **state)
{
    tu_map (3);
    tu_kuint ("rid", 7);
    tu_kstr ("ch", "a");
    tu_raw ("\xc1", 1);                       //  never read
    uint64_t rid = 0;
    assert_true (hr_request_find_rid (tu_frame.data, tu_frame.size, &rid));
    assert_int_equal (rid, 7);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_publish_without_op_or_rid),
        cmocka_unit_test (test_publish_with_op_rid_type_id),
        cmocka_unit_test (test_rid_zero_is_present),
        cmocka_unit_test (test_history_defaults_since_0_limit_100),
        cmocka_unit_test (test_history_with_epoch_since_limit_rid),
        cmocka_unit_test (test_history_limit_clamped_to_1000),
        cmocka_unit_test (test_op_may_come_after_history_fields),
        cmocka_unit_test (test_frame_over_max_is_frame_too_large),
        cmocka_unit_test (test_frame_ending_mid_value_is_truncated),
        cmocka_unit_test (test_declared_length_over_bytes_left_is_bad_length),
        cmocka_unit_test (test_0xc1_is_bad_msgpack),
        cmocka_unit_test (test_data_deeper_than_32_is_too_deep),
        cmocka_unit_test (test_bytes_after_map_are_trailing_bytes),
        cmocka_unit_test (test_not_a_map_is_bad_type),
        cmocka_unit_test (test_non_string_key_is_bad_type),
        cmocka_unit_test (test_wrong_field_types_are_bad_type),
        cmocka_unit_test (test_missing_ch_or_data_is_missing_field),
        cmocka_unit_test (test_repeated_key_is_duplicate_field),
        cmocka_unit_test (test_unknown_key_is_bad_field),
        cmocka_unit_test (test_type_out_of_format_is_bad_field),
        cmocka_unit_test (test_id_out_of_format_is_bad_field),
        cmocka_unit_test (test_history_epoch_out_of_format_is_bad_field),
        cmocka_unit_test (test_history_fields_on_publish_are_bad_field),
        cmocka_unit_test (test_publish_fields_on_history_are_bad_field),
        cmocka_unit_test (test_invalid_channel_is_bad_channel),
        cmocka_unit_test (test_unknown_op_is_bad_request),
        cmocka_unit_test (test_encode_publish_round_trips),
        cmocka_unit_test (test_encode_history_round_trips),
        cmocka_unit_test (test_oversized_frame_keeps_its_rid),
        cmocka_unit_test (test_rid_after_a_bad_field_is_found),
        cmocka_unit_test (test_rid_that_cannot_be_read_is_absent),
        cmocka_unit_test (test_find_rid_stops_at_rid),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
