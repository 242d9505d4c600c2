/*  test_view_msg: the view brokers announce on their streams
    (common/hr_view_msg): a round trip, and every refusal of the strict
    decoder.  */
#include "hr_view_msg.h"
#include "support.h"

#include <stdlib.h>

static const char s_file [] =
    "{\"brokers\": ["
    "{\"id\": \"b1\", \"publish\": \"tcp://127.0.0.1:7001\", \"router\": \"tcp://127.0.0.1:7002\","
    " \"stream\": \"tcp://127.0.0.1:7003\", \"peer\": \"tcp://127.0.0.1:7004\"},"
    "{\"id\": \"b2\", \"publish\": \"tcp://127.0.0.1:7011\", \"router\": \"tcp://127.0.0.1:7012\","
    " \"stream\": \"tcp://127.0.0.1:7013\", \"peer\": \"tcp://127.0.0.1:7014\"},"
    "{\"id\": \"b3\", \"publish\": \"tcp://127.0.0.1:7021\", \"router\": \"tcp://127.0.0.1:7022\","
    " \"stream\": \"tcp://127.0.0.1:7023\", \"peer\": \"tcp://127.0.0.1:7024\"}]}";

static hr_cluster_t *s_cluster;

static int
s_setup (void **state)
{
    hr_buf_t err = HR_BUF_INIT;
    s_cluster = hr_cluster_parse ("cluster.json", s_file, strlen (s_file), &err);
    assert_non_null (s_cluster);
    hr_buf_free (&err);
    return tu_setup (state);
}

static int
s_teardown (void **state)
{
    hr_cluster_destroy (&s_cluster);
    return tu_teardown (state);
}

static void
s_ids (const char *key, size_t count, const char *const *ids)
{
    tu_key (key);
    msgpack_pack_array (&tu_pk, count);
    for (size_t i = 0; i < count; i++)
        hr_pack_cstr (&tu_pk, ids [i]);
}

//  A valid frame of 7 keys, with the key named skip left out (and the map
//  declared one shorter), or with extra pairs appended by the caller.
static void
s_frame (const char *skip, size_t extra)
{
    static const char *const two [] = { "b1", "b2" };
    static const char *const one [] = { "b3" };
    tu_map (7 - (skip != NULL) + extra);
    if (!skip || strcmp (skip, "t"))
        tu_kstr ("t", "view");
    if (!skip || strcmp (skip, "from"))
        tu_kstr ("from", "b2");
    if (!skip || strcmp (skip, "n"))
        tu_kuint ("n", 9);
    if (!skip || strcmp (skip, "members"))
        s_ids ("members", 2, two);
    if (!skip || strcmp (skip, "owners"))
        s_ids ("owners", 1, two);
    if (!skip || strcmp (skip, "handoff"))
        s_ids ("handoff", 1, one);
    if (!skip || strcmp (skip, "lease")) {
        tu_key ("lease");
        msgpack_pack_true (&tu_pk);
    }
}

static hr_error_t
s_decode (hr_view_msg_t *msg)
{
    return hr_view_msg_decode (s_cluster, tu_frame.data, tu_frame.size, msg);
}

static void
test_round_trip (void **state)
{
    hr_view_msg_t msg = { .from = 2, .number = 41, .members = 7, .owners = 5, .handoff = 0,
                          .lease = true };
    hr_buf_t out = HR_BUF_INIT;
    hr_view_msg_encode (&out, s_cluster, &msg);
    hr_view_msg_t back;
    assert_int_equal (hr_view_msg_decode (s_cluster, out.data, out.size, &back), HR_OK);
    assert_int_equal (back.from, 2);
    assert_int_equal (back.number, 41);
    assert_int_equal (back.members, 7);
    assert_int_equal (back.owners, 5);
    assert_int_equal (back.handoff, 0);
    assert_true (back.lease);
    hr_buf_free (&out);
}

static void
test_decodes_ids_into_sets (void **state)
{
    s_frame (NULL, 0);
    hr_view_msg_t msg;
    assert_int_equal (s_decode (&msg), HR_OK);
    assert_int_equal (msg.from, 1);
    assert_int_equal (msg.number, 9);
    assert_int_equal (msg.members, 3);
    assert_int_equal (msg.owners, 1);
    assert_int_equal (msg.handoff, 4);
    assert_true (msg.lease);
}

static void
test_every_key_is_required (void **state)
{
    static const char *const keys [] = { "t", "from", "n", "members", "owners", "handoff",
                                         "lease" };
    for (size_t i = 0; i < sizeof keys / sizeof keys [0]; i++) {
        s_frame (keys [i], 0);
        hr_view_msg_t msg;
        assert_int_equal (s_decode (&msg), HR_E_MISSING_FIELD);
    }
}

static void
test_unknown_and_duplicate_keys_are_refused (void **state)
{
    hr_view_msg_t msg;
    s_frame (NULL, 1);
    tu_kuint ("term", 3);
    assert_int_equal (s_decode (&msg), HR_E_BAD_FIELD);
    s_frame (NULL, 1);
    tu_kuint ("n", 10);
    assert_int_equal (s_decode (&msg), HR_E_DUPLICATE_FIELD);
}

static void
test_bad_values_are_refused (void **state)
{
    hr_view_msg_t msg;
    //  Not a view
    s_frame ("t", 1);
    tu_kstr ("t", "hb");
    assert_int_equal (s_decode (&msg), HR_E_BAD_FIELD);
    //  A sender not in the file
    s_frame ("from", 1);
    tu_kstr ("from", "b9");
    assert_int_equal (s_decode (&msg), HR_E_BAD_FIELD);
    //  An id over the length bound
    s_frame ("from", 1);
    tu_kstr ("from", "b123456789012345678901234567890123");
    assert_int_equal (s_decode (&msg), HR_E_BAD_FIELD);
    //  A number of the wrong type
    s_frame ("n", 1);
    tu_kstr ("n", "9");
    assert_int_equal (s_decode (&msg), HR_E_BAD_TYPE);
    //  A member twice
    static const char *const twice [] = { "b1", "b1" };
    s_frame ("members", 1);
    s_ids ("members", 2, twice);
    assert_int_equal (s_decode (&msg), HR_E_BAD_FIELD);
    //  More ids than brokers
    static const char *const four [] = { "b1", "b2", "b3", "b1" };
    s_frame ("handoff", 1);
    s_ids ("handoff", 4, four);
    assert_int_equal (s_decode (&msg), HR_E_BAD_FIELD);
    //  An owner that is no member
    static const char *const outside [] = { "b3" };
    s_frame ("owners", 1);
    s_ids ("owners", 1, outside);
    assert_int_equal (s_decode (&msg), HR_E_BAD_FIELD);
    //  lease not a boolean
    s_frame ("lease", 1);
    tu_kuint ("lease", 1);
    assert_int_equal (s_decode (&msg), HR_E_BAD_TYPE);
    //  members not an array
    s_frame ("members", 1);
    tu_kstr ("members", "b1");
    assert_int_equal (s_decode (&msg), HR_E_BAD_TYPE);
}

static void
test_truncated_and_trailing_bytes_are_refused (void **state)
{
    s_frame (NULL, 0);
    hr_view_msg_t msg;
    for (size_t size = 0; size < tu_frame.size; size++)
        assert_int_not_equal (hr_view_msg_decode (s_cluster, tu_frame.data, size, &msg), HR_OK);
    tu_raw ("\xc0", 1);
    assert_int_equal (s_decode (&msg), HR_E_TRAILING_BYTES);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_decodes_ids_into_sets),
        cmocka_unit_test (test_every_key_is_required),
        cmocka_unit_test (test_unknown_and_duplicate_keys_are_refused),
        cmocka_unit_test (test_bad_values_are_refused),
        cmocka_unit_test (test_truncated_and_trailing_bytes_are_refused),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
