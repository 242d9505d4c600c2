/*  test_proto_revoke: revocation on the wire (common/hr_proto, docs/
    protocol.md §3.3 and §4.1).

    The revoke request and its acknowledgement round trip; the decoder
    refuses what is not a revocation (kind, empty or long value, until,
    fields of other ops, missing fields) with rid kept; the stream body
    round trips and refuses bad entries, all or nothing.  */
#include "hr_proto.h"
#include "hr_channel.h"
#include "hr_pack.h"

#include "support.h"

static void
test_revoke_request_round_trips (void **state)
{
    uint64_t rid = 77;
    hr_buf_t buf = HR_BUF_INIT;
    hr_request_encode_revoke (&buf, &rid, HR_REVOKE_JTI, "tok-1", 5, 1764000000);
    hr_request_t req;
    assert_int_equal (hr_request_decode (buf.data, buf.size, 65536, &req), HR_OK);
    assert_int_equal (req.op, HR_OP_REVOKE);
    assert_true (req.has_rid);
    assert_int_equal (req.rid, 77);
    assert_int_equal (req.kind, HR_REVOKE_JTI);
    tu_assert_span (req.value, req.value_len, "tok-1");
    assert_int_equal (req.until, 1764000000);
    hr_buf_reset (&buf);
    hr_request_encode_revoke (&buf, NULL, HR_REVOKE_SUB, "u1", 2, 5);
    assert_int_equal (hr_request_decode (buf.data, buf.size, 65536, &req), HR_OK);
    assert_false (req.has_rid);
    assert_int_equal (req.kind, HR_REVOKE_SUB);
    hr_buf_free (&buf);
}

//  A revoke request with rid 9 and the given fields after op and rid.
static void
s_revoke_frame (int extra)
{
    tu_map ((size_t) (2 + extra));
    tu_kstr ("op", "revoke");
    tu_kuint ("rid", 9);
}

static void
s_expect (hr_error_t want)
{
    hr_request_t req;
    assert_int_equal (hr_request_decode (tu_frame.data, tu_frame.size, 65536, &req), want);
    assert_true (req.has_rid);
    assert_int_equal (req.rid, 9);
}

static void
test_revoke_request_refuses_what_is_not_a_revocation (void **state)
{
    s_revoke_frame (3);
    tu_kstr ("kind", "user");
    tu_kstr ("value", "u1");
    tu_kuint ("until", 10);
    s_expect (HR_E_BAD_FIELD);

    s_revoke_frame (3);
    tu_kstr ("kind", "sub");
    tu_kstr ("value", "");
    tu_kuint ("until", 10);
    s_expect (HR_E_BAD_FIELD);

    char value [HR_REVOKE_VALUE_MAX + 2];
    memset (value, 'v', sizeof value);
    value [HR_REVOKE_VALUE_MAX + 1] = 0;
    s_revoke_frame (3);
    tu_kstr ("kind", "sub");
    tu_kstr ("value", value);
    tu_kuint ("until", 10);
    s_expect (HR_E_BAD_FIELD);
    value [HR_REVOKE_VALUE_MAX] = 0;
    s_revoke_frame (3);
    tu_kstr ("kind", "sub");
    tu_kstr ("value", value);
    tu_kuint ("until", 10);
    s_expect (HR_OK);

    s_revoke_frame (3);
    tu_kstr ("kind", "sub");
    tu_kstr ("value", "u1");
    tu_kuint ("until", (uint64_t) INT64_MAX + 1);
    s_expect (HR_E_BAD_FIELD);

    s_revoke_frame (3);
    tu_kstr ("kind", "sub");
    tu_kstr ("value", "u1");
    tu_key ("until");
    msgpack_pack_int64 (&tu_pk, -5);
    s_expect (HR_E_BAD_TYPE);

    s_revoke_frame (2);
    tu_kstr ("kind", "sub");
    tu_kstr ("value", "u1");
    s_expect (HR_E_MISSING_FIELD);

    s_revoke_frame (2);
    tu_kstr ("value", "u1");
    tu_kuint ("until", 10);
    s_expect (HR_E_MISSING_FIELD);

    //  Fields of other ops
    s_revoke_frame (4);
    tu_kstr ("kind", "sub");
    tu_kstr ("value", "u1");
    tu_kuint ("until", 10);
    tu_kstr ("ch", "orders");
    s_expect (HR_E_BAD_FIELD);

    s_revoke_frame (4);
    tu_kstr ("kind", "sub");
    tu_kstr ("value", "u1");
    tu_kuint ("until", 10);
    tu_kuint ("since", 1);
    s_expect (HR_E_BAD_FIELD);

    s_revoke_frame (4);
    tu_kstr ("kind", "sub");
    tu_kstr ("kind", "sub");
    tu_kstr ("value", "u1");
    tu_kuint ("until", 10);
    s_expect (HR_E_DUPLICATE_FIELD);
}

static void
test_other_ops_refuse_revoke_fields (void **state)
{
    tu_map (4);
    tu_kuint ("rid", 9);
    tu_kstr ("ch", "orders");
    tu_kstr ("data", "x");
    tu_kstr ("kind", "sub");
    s_expect (HR_E_BAD_FIELD);

    tu_map (4);
    tu_kstr ("op", "history");
    tu_kuint ("rid", 9);
    tu_kstr ("ch", "orders");
    tu_kuint ("until", 4);
    s_expect (HR_E_BAD_FIELD);
}

static void
test_revoke_reply_round_trips (void **state)
{
    uint64_t rid = 3;
    hr_buf_t buf = HR_BUF_INIT;
    hr_reply_encode_revoked (&buf, &rid, HR_REVOKE_SUB, 1764000000);
    hr_reply_t reply;
    assert_int_equal (hr_reply_decode (buf.data, buf.size, &reply), HR_OK);
    assert_int_equal (reply.error, HR_OK);
    assert_int_equal (reply.rid, 3);
    assert_int_equal (reply.revoked, HR_REVOKE_SUB);
    assert_int_equal (reply.until, 1764000000);
    hr_buf_reset (&buf);
    //  Other replies say nothing was revoked
    hr_reply_encode_ack (&buf, &rid, 4, "e", false);
    assert_int_equal (hr_reply_decode (buf.data, buf.size, &reply), HR_OK);
    assert_int_equal (reply.revoked, 0);
    hr_buf_free (&buf);
}

static void
test_revocations_round_trip (void **state)
{
    hr_revocation_t in [HR_REVOKE_BATCH];
    char values [HR_REVOKE_BATCH][8];
    for (int i = 0; i < HR_REVOKE_BATCH; i++) {
        snprintf (values [i], sizeof values [i], "v%d", i);
        in [i] = (hr_revocation_t) { i % 2? HR_REVOKE_JTI: HR_REVOKE_SUB, values [i],
                                     strlen (values [i]), 1000 + i };
    }
    for (size_t count = 1; count <= HR_REVOKE_BATCH; count += HR_REVOKE_BATCH - 1) {
        hr_buf_t buf = HR_BUF_INIT;
        hr_revocations_encode (&buf, in, count);
        hr_revocation_t out [HR_REVOKE_BATCH];
        size_t got = 99;
        assert_int_equal (hr_revocations_decode (buf.data, buf.size, out, &got), HR_OK);
        assert_int_equal (got, count);
        for (size_t i = 0; i < count; i++) {
            assert_int_equal (out [i].kind, in [i].kind);
            tu_assert_span (out [i].value, out [i].len, values [i]);
            assert_int_equal (out [i].until, in [i].until);
        }
        hr_buf_free (&buf);
    }
}

//  Decodes tu_frame as a revocation body; expects want and count 0 on error.
static void
s_expect_body (hr_error_t want)
{
    hr_revocation_t out [HR_REVOKE_BATCH];
    size_t count = 99;
    assert_int_equal (hr_revocations_decode (tu_frame.data, tu_frame.size, out, &count), want);
    if (want)
        assert_int_equal (count, 0);
}

static void
s_entry (const char *kind, const char *value, uint64_t until)
{
    msgpack_pack_array (&tu_pk, 3);
    hr_pack_cstr (&tu_pk, kind);
    hr_pack_cstr (&tu_pk, value);
    msgpack_pack_uint64 (&tu_pk, until);
}

static void
test_revocations_refuse_bad_bodies (void **state)
{
    tu_map (1);
    tu_key ("revoked");
    msgpack_pack_array (&tu_pk, 2);
    s_entry ("sub", "u1", 10);
    s_entry ("sub", "", 10);                //  one bad entry fails the message
    s_expect_body (HR_E_BAD_FIELD);

    tu_map (1);
    tu_key ("revoked");
    msgpack_pack_array (&tu_pk, 0);
    s_expect_body (HR_E_BAD_FIELD);

    tu_map (1);
    tu_key ("revoked");
    msgpack_pack_array (&tu_pk, HR_REVOKE_BATCH + 1);
    for (int i = 0; i < HR_REVOKE_BATCH + 1; i++)
        s_entry ("jti", "j", 10);
    s_expect_body (HR_E_BAD_FIELD);

    tu_map (1);
    tu_key ("revoked");
    msgpack_pack_array (&tu_pk, 1);
    msgpack_pack_array (&tu_pk, 2);
    hr_pack_cstr (&tu_pk, "sub");
    hr_pack_cstr (&tu_pk, "u1");
    s_expect_body (HR_E_BAD_TYPE);

    tu_map (1);
    tu_key ("revoked");
    msgpack_pack_array (&tu_pk, 1);
    s_entry ("role", "u1", 10);
    s_expect_body (HR_E_BAD_FIELD);

    tu_map (2);
    tu_key ("revoked");
    msgpack_pack_array (&tu_pk, 1);
    s_entry ("sub", "u1", 10);
    tu_kstr ("more", "x");
    s_expect_body (HR_E_BAD_FIELD);

    tu_map (0);
    s_expect_body (HR_E_MISSING_FIELD);

    //  A channel envelope is not a revocation
    tu_map (2);
    tu_kstr ("ch", "orders");
    tu_kuint ("seq", 1);
    s_expect_body (HR_E_BAD_FIELD);

    tu_map (1);
    tu_key ("revoked");
    msgpack_pack_array (&tu_pk, 1);
    s_entry ("sub", "u1", 10);
    tu_raw ("\xc0", 1);
    s_expect_body (HR_E_TRAILING_BYTES);
}

static void
test_topic_is_never_a_channel_topic (void **state)
{
    //  No channel name can make a topic that starts with it, or that it starts
    assert_int_equal (HR_REVOKE_TOPIC [0], '|');
    assert_false (hr_channel_valid (HR_REVOKE_TOPIC, 1));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_revoke_request_round_trips, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown (test_revoke_request_refuses_what_is_not_a_revocation,
                                         tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown (test_other_ops_refuse_revoke_fields, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown (test_revoke_reply_round_trips, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown (test_revocations_round_trip, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown (test_revocations_refuse_bad_bodies, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown (test_topic_is_never_a_channel_topic, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
