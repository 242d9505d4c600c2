/*  test_proto_reply: broker replies (common/hr_proto).

    Encoder/decoder round trips for acks, errors and history headers, the
    decoder's errors, and reset reason names.  Requests are in test_proto.c.  */
#include "hr_proto.h"
#include "hr_pack.h"

#include "support.h"

//  --------------------------------------------------------------------
//  Replies

static void
test_ack_round_trips (void **state)
{
    uint64_t rid = 12;
    hr_buf_t buf = HR_BUF_INIT;
    hr_reply_encode_ack (&buf, &rid, 42, "9f1c2ab03e4d5f60", true);
    hr_reply_t reply;
    assert_int_equal (hr_reply_decode (buf.data, buf.size, &reply), HR_OK);
    assert_int_equal (reply.error, HR_OK);
    assert_true (reply.has_rid);
    assert_int_equal (reply.rid, 12);
    assert_int_equal (reply.seq, 42);
    assert_true (reply.dup);
    tu_assert_span (reply.epoch, reply.epoch_len, "9f1c2ab03e4d5f60");
    hr_buf_reset (&buf);
    hr_reply_encode_ack (&buf, NULL, 1, "e", false);
    assert_int_equal (hr_reply_decode (buf.data, buf.size, &reply), HR_OK);
    assert_false (reply.has_rid);
    assert_false (reply.dup);
    assert_int_equal (reply.seq, 1);
    hr_buf_free (&buf);
}

static void
test_error_reply_round_trips_every_code (void **state)
{
    for (int code = HR_E_FRAME_TOO_LARGE; code < HR_E_COUNT; code++) {
        uint64_t rid = (uint64_t) code;
        hr_buf_t buf = HR_BUF_INIT;
        hr_reply_encode_error (&buf, &rid, (hr_error_t) code);
        hr_reply_t reply;
        assert_int_equal (hr_reply_decode (buf.data, buf.size, &reply), HR_OK);
        assert_int_equal (reply.error, code);
        assert_int_equal (reply.rid, rid);
        tu_assert_span (reply.message, reply.message_len, hr_error_message ((hr_error_t) code));
        hr_buf_free (&buf);
    }
}

static void
test_error_reply_with_unknown_code_is_internal (void **state)
{
    tu_map (2);
    tu_kstr ("error", "no_such_code");
    tu_kstr ("message", "m");
    hr_reply_t reply;
    assert_int_equal (hr_reply_decode (tu_frame.data, tu_frame.size, &reply), HR_OK);
    assert_int_equal (reply.error, HR_E_INTERNAL);
}

static void
test_history_header_round_trips_every_reset (void **state)
{
    for (int reset = HR_RESET_NONE; reset < HR_RESET_COUNT; reset++) {
        uint64_t rid = 7;
        hr_buf_t buf = HR_BUF_INIT;
        hr_reply_encode_history (&buf, reset % 2? &rid: NULL, "orders", "e1",
                                 38, 57, 17, (hr_reset_t) reset);
        hr_reply_t reply;
        assert_int_equal (hr_reply_decode (buf.data, buf.size, &reply), HR_OK);
        assert_int_equal (reply.error, HR_OK);
        assert_int_equal (reply.has_rid, reset % 2 != 0);
        tu_assert_span (reply.ch, reply.ch_len, "orders");
        tu_assert_span (reply.epoch, reply.epoch_len, "e1");
        assert_int_equal (reply.first, 38);
        assert_int_equal (reply.head, 57);
        assert_int_equal (reply.count, 17);
        assert_int_equal (reply.reset, reset);
        hr_buf_free (&buf);
    }
}

static void
test_history_header_with_nil_epoch (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    hr_reply_encode_history (&buf, NULL, "gone", NULL, 1, 0, 0, HR_RESET_UNKNOWN_CHANNEL);
    hr_reply_t reply;
    assert_int_equal (hr_reply_decode (buf.data, buf.size, &reply), HR_OK);
    assert_null (reply.epoch);
    assert_int_equal (reply.head, 0);
    assert_int_equal (reply.first, 1);
    assert_int_equal (reply.reset, HR_RESET_UNKNOWN_CHANNEL);
    hr_buf_free (&buf);
}

static void
test_reply_unknown_reset_is_bad_field (void **state)
{
    tu_map (1);
    tu_kstr ("reset", "none");
    hr_reply_t reply;
    assert_int_equal (hr_reply_decode (tu_frame.data, tu_frame.size, &reply), HR_E_BAD_FIELD);
    tu_map (1);
    tu_kstr ("reset", "exploded");
    assert_int_equal (hr_reply_decode (tu_frame.data, tu_frame.size, &reply), HR_E_BAD_FIELD);
}

static void
test_reply_decode_errors (void **state)
{
    hr_reply_t reply;
    assert_int_equal (hr_reply_decode ("\x90", 1, &reply), HR_E_BAD_TYPE);
    assert_int_equal (hr_reply_decode ("", 0, &reply), HR_E_TRUNCATED);
    assert_int_equal (hr_reply_decode ("\x80\x00", 2, &reply), HR_E_TRAILING_BYTES);
    tu_map (1);
    tu_kraw ("seq", "\xa1" "1", 2);
    assert_int_equal (hr_reply_decode (tu_frame.data, tu_frame.size, &reply), HR_E_BAD_TYPE);
    tu_map (1);
    tu_kraw ("dup", "\x01", 1);
    assert_int_equal (hr_reply_decode (tu_frame.data, tu_frame.size, &reply), HR_E_BAD_TYPE);
    tu_map (1);
    tu_kstr ("epoch", "not valid");
    assert_int_equal (hr_reply_decode (tu_frame.data, tu_frame.size, &reply), HR_E_BAD_FIELD);
    tu_map (1);
    tu_kraw ("epoch", "\x01", 1);
    assert_int_equal (hr_reply_decode (tu_frame.data, tu_frame.size, &reply), HR_E_BAD_TYPE);
    assert_int_equal (hr_reply_decode ("\xdf\xff\xff\xff\xff", 5, &reply), HR_E_BAD_LENGTH);
}

static void
test_reply_unknown_keys_are_skipped (void **state)
{
    tu_map (3);
    tu_kuint ("seq", 4);
    tu_key ("later");
    msgpack_pack_array (&tu_pk, 2);
    msgpack_pack_nil (&tu_pk);
    msgpack_pack_map (&tu_pk, 0);
    tu_kstr ("epoch", "e");
    hr_reply_t reply;
    assert_int_equal (hr_reply_decode (tu_frame.data, tu_frame.size, &reply), HR_OK);
    assert_int_equal (reply.seq, 4);
    tu_assert_span (reply.epoch, reply.epoch_len, "e");
}

//  --------------------------------------------------------------------
//  Reset names

static void
test_reset_names_are_the_protocol_names (void **state)
{
    assert_string_equal (hr_reset_name (HR_RESET_EPOCH_CHANGED), "epoch-changed");
    assert_string_equal (hr_reset_name (HR_RESET_UNKNOWN_CHANNEL), "unknown-channel");
    assert_string_equal (hr_reset_name (HR_RESET_EXPIRED), "expired");
    assert_string_equal (hr_reset_name (HR_RESET_CURSOR_AHEAD), "cursor-ahead");
    assert_string_equal (hr_reset_name (HR_RESET_UNAVAILABLE), "unavailable");
    assert_string_equal (hr_reset_name (HR_RESET_NONE), "none");
    assert_string_equal (hr_reset_name (HR_RESET_COUNT), "none");
    assert_string_equal (hr_reset_name ((hr_reset_t) 1000), "none");
}

static void
test_reset_parse_inverts_name (void **state)
{
    for (int reset = HR_RESET_EPOCH_CHANGED; reset < HR_RESET_COUNT; reset++) {
        const char *name = hr_reset_name ((hr_reset_t) reset);
        assert_int_equal (hr_reset_parse (name, strlen (name)), reset);
    }
}

static void
test_reset_parse_rejects_unknown_and_partial_names (void **state)
{
    assert_int_equal (hr_reset_parse ("none", 4), HR_RESET_NONE);
    assert_int_equal (hr_reset_parse ("expire", 6), HR_RESET_NONE);
    assert_int_equal (hr_reset_parse ("expiredx", 8), HR_RESET_NONE);
    assert_int_equal (hr_reset_parse ("expired", 6), HR_RESET_NONE);
    assert_int_equal (hr_reset_parse ("EXPIRED", 7), HR_RESET_NONE);
    assert_int_equal (hr_reset_parse ("", 0), HR_RESET_NONE);
}

//  --------------------------------------------------------------------
//  Error messages (issue 7 §2)

static void
test_error_reply_with_message_round_trips (void **state)
{
    hr_buf_t out = HR_BUF_INIT;
    uint64_t rid = 9;
    hr_reply_encode_error_message (&out, &rid, HR_E_OVERLOADED, "too many");
    hr_reply_t reply;
    assert_int_equal (hr_reply_decode (out.data, out.size, &reply), HR_OK);
    assert_int_equal (reply.error, HR_E_OVERLOADED);
    assert_true (reply.has_rid);
    assert_int_equal (reply.rid, 9);
    tu_assert_span (reply.message, reply.message_len, "too many");
    hr_buf_free (&out);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_ack_round_trips),
        cmocka_unit_test (test_error_reply_round_trips_every_code),
        cmocka_unit_test (test_error_reply_with_unknown_code_is_internal),
        cmocka_unit_test (test_history_header_round_trips_every_reset),
        cmocka_unit_test (test_history_header_with_nil_epoch),
        cmocka_unit_test (test_reply_unknown_reset_is_bad_field),
        cmocka_unit_test (test_reply_decode_errors),
        cmocka_unit_test (test_reply_unknown_keys_are_skipped),
        cmocka_unit_test (test_reset_names_are_the_protocol_names),
        cmocka_unit_test (test_reset_parse_inverts_name),
        cmocka_unit_test (test_reset_parse_rejects_unknown_and_partial_names),
        cmocka_unit_test (test_error_reply_with_message_round_trips),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
