/*  test_hrg_ws_msg: herald.v1 client messages decoded from JSON and
    MessagePack (gateway/hrg_ws_msg; its rendering: test_hrg_ws_render).

    Most cases are written once as JSON and run in both encodings: the
    MessagePack frame is the same value packed by hr_json_to_mpack, so a
    rule that holds in one encoding and not the other fails here.  */
#include "hrg_ws_msg.h"
#include "hr_json.h"
#include "hr_mpack.h"

#include "support.h"

#include <stdlib.h>

static const hrg_ws_format_t s_formats [] = { HRG_WS_JSON, HRG_WS_MSGPACK };

//  One decode: the batch and the frame its views may point into
typedef struct {
    hrg_ws_batch_t batch;
    hr_buf_t frame;
    int rc;
} s_case_t;

static s_case_t s_case;

static void
s_done (void)
{
    hrg_ws_batch_free (&s_case.batch);
    hr_buf_free (&s_case.frame);
}

//  Decodes bytes as they are, in format
static int
s_decode_raw (hrg_ws_format_t format, const void *bytes, size_t size)
{
    s_done ();
    hr_buf_put (&s_case.frame, bytes, size);
    s_case.rc = hrg_ws_batch_decode (&s_case.batch, format, s_case.frame.data, size);
    return s_case.rc;
}

//  Decodes the JSON text, or the same value packed as MessagePack
static int
s_decode (hrg_ws_format_t format, const char *json)
{
    if (format == HRG_WS_JSON)
        return s_decode_raw (format, json, strlen (json));
    json_error_t jerr;
    json_t *value = json_loads (json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!value)
        fail_msg ("test JSON does not parse: %s (%s)", json, jerr.text);
    hr_buf_t packed = HR_BUF_INIT;
    //  deeper than hr_json_to_mpack packs: the test's own packer
    assert_int_equal (hr_json_to_mpack (&packed, value), HR_OK);
    json_decref (value);
    int rc = s_decode_raw (format, packed.data, packed.size);
    hr_buf_free (&packed);
    return rc;
}

//  Decodes and expects rc 0 and exactly one message, returned
static const hrg_ws_msg_t *
s_one (hrg_ws_format_t format, const char *json)
{
    assert_int_equal (s_decode (format, json), 0);
    assert_int_equal (hrg_ws_batch_count (&s_case.batch), 1);
    return hrg_ws_batch_msg (&s_case.batch, 0);
}

//  Expects exactly one message refused with why containing want, in both encodings
static void
s_expect_error (const char *json, const char *want)
{
    for (int i = 0; i < 2; i++) {
        const hrg_ws_msg_t *msg = s_one (s_formats [i], json);
        if (!msg->error || !strstr (msg->error, want))
            fail_msg ("%s (%s): error %s, want %s", json, i? "msgpack": "json",
                      msg->error? msg->error: "none", want);
        assert_string_equal (msg->code, "bad_request");
    }
}

static void
s_expect_close (hrg_ws_format_t format, const char *json)
{
    if (s_decode (format, json) != 1007)
        fail_msg ("%s: rc %d, want 1007", json, s_case.rc);
    assert_int_equal (hrg_ws_batch_count (&s_case.batch), 0);
}

//  data as MessagePack equals the JSON value packed
static void
s_assert_data (const hrg_ws_msg_t *msg, const char *json)
{
    json_t *value = json_loads (json, JSON_DECODE_ANY, NULL);
    hr_buf_t want = HR_BUF_INIT;
    hr_json_to_mpack (&want, value);
    assert_non_null (msg->data);
    assert_int_equal (msg->data_len, want.size);
    assert_memory_equal (msg->data, want.data, want.size);
    hr_buf_free (&want);
    json_decref (value);
}

static bool
s_within_frame (const void *ptr)
{
    const char *p = ptr;
    return p >= s_case.frame.data && p < s_case.frame.data + s_case.frame.size;
}

//  --------------------------------------------------------------------
//  Every message type, both encodings

static void
test_sub_plain_and_resume (void **state)
{
    for (int i = 0; i < 2; i++) {
        const hrg_ws_msg_t *msg = s_one (s_formats [i], "{\"t\":\"sub\",\"id\":7,\"ch\":\"orders\"}");
        assert_null (msg->error);
        assert_int_equal (msg->type, HRG_WS_T_SUB);
        assert_true (msg->has_id);
        assert_int_equal (msg->id, 7);
        tu_assert_span (msg->ch, msg->ch_len, "orders");
        assert_false (msg->resume);

        msg = s_one (s_formats [i], "{\"t\":\"sub\",\"id\":4294967295,\"ch\":\"seller:1\","
                                    "\"e\":\"9f1c2ab0\",\"s\":9007199254740993}");
        assert_null (msg->error);
        assert_int_equal (msg->id, UINT32_MAX);
        assert_true (msg->resume);
        tu_assert_span (msg->e, msg->e_len, "9f1c2ab0");
        assert_true (msg->s == 9007199254740993ULL);

        //  e null: the client saw the channel with no history yet
        msg = s_one (s_formats [i], "{\"t\":\"sub\",\"id\":0,\"ch\":\"a\",\"e\":null,\"s\":0}");
        assert_null (msg->error);
        assert_true (msg->resume);
        assert_null (msg->e);
        assert_int_equal (msg->e_len, 0);
        assert_int_equal (msg->s, 0);
    }
    s_done ();
}

static void
test_unsub (void **state)
{
    for (int i = 0; i < 2; i++) {
        const hrg_ws_msg_t *msg = s_one (s_formats [i], "{\"id\":3,\"ch\":\"x.y\",\"t\":\"unsub\"}");
        assert_null (msg->error);
        assert_int_equal (msg->type, HRG_WS_T_UNSUB);
        assert_int_equal (msg->id, 3);
        tu_assert_span (msg->ch, msg->ch_len, "x.y");
    }
    s_done ();
}

static void
test_pub_with_type_key_and_data (void **state)
{
    for (int i = 0; i < 2; i++) {
        const hrg_ws_msg_t *msg = s_one (s_formats [i],
            "{\"t\":\"pub\",\"id\":9,\"ch\":\"orders\",\"type\":\"created\",\"key\":\"k-1\","
            "\"data\":{\"n\":1,\"l\":[true,null,\"caf\\u00e9\",-2,2.5]}}");
        assert_null (msg->error);
        assert_int_equal (msg->type, HRG_WS_T_PUB);
        tu_assert_span (msg->ch, msg->ch_len, "orders");
        tu_assert_span (msg->ptype, msg->ptype_len, "created");
        tu_assert_span (msg->key, msg->key_len, "k-1");
        s_assert_data (msg, "{\"n\":1,\"l\":[true,null,\"caf\\u00e9\",-2,2.5]}");
        //  MessagePack's data is a view of the frame; JSON's is packed apart
        assert_true (s_within_frame (msg->data) == (s_formats [i] == HRG_WS_MSGPACK));

        msg = s_one (s_formats [i], "{\"t\":\"pub\",\"id\":1,\"ch\":\"a\",\"data\":null}");
        assert_null (msg->error);
        assert_null (msg->ptype);
        assert_null (msg->key);
        s_assert_data (msg, "null");
    }
    s_done ();
}

static void
test_pub_msgpack_data_is_the_publishers_bytes (void **state)
{
    //  float 32, bin and ext have no JSON form: only a view keeps them
    static const uint8_t data [] = { 0x93, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xc4, 0x02, 0x00, 0xff,
                                     0xd4, 0x05, 0x01 };
    tu_setup (NULL);
    tu_map (4);
    tu_kstr ("t", "pub");
    tu_kuint ("id", 2);
    tu_kstr ("ch", "a");
    tu_kraw ("data", data, sizeof data);
    assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, tu_frame.data, tu_frame.size), 0);
    const hrg_ws_msg_t *msg = hrg_ws_batch_msg (&s_case.batch, 0);
    assert_null (msg->error);
    assert_int_equal (msg->data_len, sizeof data);
    assert_memory_equal (msg->data, data, sizeof data);
    assert_ptr_equal (msg->data, s_case.frame.data + s_case.frame.size - sizeof data);
    tu_teardown (NULL);
    s_done ();
}

static void
test_auth_refresh_ping_pong (void **state)
{
    for (int i = 0; i < 2; i++) {
        const hrg_ws_msg_t *msg = s_one (s_formats [i], "{\"t\":\"auth\",\"id\":1,\"token\":\"abc.def\"}");
        assert_null (msg->error);
        assert_int_equal (msg->type, HRG_WS_T_AUTH);
        tu_assert_span (msg->token, msg->token_len, "abc.def");
        msg = s_one (s_formats [i], "{\"t\":\"refresh\",\"id\":2,\"token\":\"\"}");
        assert_null (msg->error);
        assert_int_equal (msg->type, HRG_WS_T_REFRESH);
        assert_int_equal (msg->token_len, 0);
        msg = s_one (s_formats [i], "{\"t\":\"ping\"}");
        assert_null (msg->error);
        assert_int_equal (msg->type, HRG_WS_T_PING);
        assert_false (msg->has_id);
        msg = s_one (s_formats [i], "{\"t\":\"ping\",\"id\":5}");
        assert_true (msg->has_id);
        assert_int_equal (msg->id, 5);
        msg = s_one (s_formats [i], "{\"t\":\"pong\"}");
        assert_null (msg->error);
        assert_int_equal (msg->type, HRG_WS_T_PONG);
    }
    s_done ();
}

static void
test_unknown_and_unused_fields_are_ignored (void **state)
{
    for (int i = 0; i < 2; i++) {
        const hrg_ws_msg_t *msg = s_one (s_formats [i],
            "{\"t\":\"ping\",\"ch\":5,\"data\":[1],\"later\":{\"x\":[1,2]},\"token\":1}");
        assert_null (msg->error);
        assert_int_equal (msg->type, HRG_WS_T_PING);
    }
    //  MessagePack keys that are not strings are unknown fields too
    tu_setup (NULL);
    tu_map (3);
    tu_kstr ("t", "ping");
    tu_raw ((const uint8_t []) { 0x07, 0x01 }, 2);                  //  7: 1
    tu_raw ((const uint8_t []) { 0x91, 0xa1, 't', 0xa1, 'x' }, 5);  //  ["t"]: "x"
    assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, tu_frame.data, tu_frame.size), 0);
    assert_null (hrg_ws_batch_msg (&s_case.batch, 0)->error);
    tu_teardown (NULL);
    s_done ();
}

//  --------------------------------------------------------------------
//  Batches

static void
test_batch_keeps_order_and_judges_each_message (void **state)
{
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_decode (s_formats [i],
            "[{\"t\":\"sub\",\"id\":1,\"ch\":\"a\"},{\"t\":\"sub\",\"id\":2,\"ch\":\"a b\"},"
            "5,{\"t\":\"pub\",\"id\":3,\"ch\":\"b\",\"data\":[1]},{\"t\":\"pub\",\"id\":4,\"ch\":\"c\",\"data\":\"x\"}]"), 0);
        assert_int_equal (hrg_ws_batch_count (&s_case.batch), 5);
        const hrg_ws_msg_t *m [5];
        for (size_t j = 0; j < 5; j++)
            m [j] = hrg_ws_batch_msg (&s_case.batch, j);
        assert_null (hrg_ws_batch_msg (&s_case.batch, 5));
        assert_null (m [0]->error);
        assert_non_null (m [1]->error);
        assert_int_equal (m [1]->id, 2);         //  err echoes it
        assert_non_null (strstr (m [2]->error, "must be a"));
        assert_false (m [2]->has_id);
        assert_null (m [3]->error);
        assert_null (m [4]->error);
        tu_assert_span (m [3]->ch, m [3]->ch_len, "b");
        s_assert_data (m [3], "[1]");           //  two data in one buffer: both right
        s_assert_data (m [4], "\"x\"");
    }
    s_done ();
}

//  "[m,m,...]" with count pings
static char *
s_pings (size_t count)
{
    hr_buf_t text = HR_BUF_INIT;
    hr_buf_putc (&text, '[');
    for (size_t i = 0; i < count; i++)
        hr_buf_printf (&text, "%s{\"t\":\"ping\",\"id\":%zu}", i? ",": "", i);
    hr_buf_putc (&text, ']');
    return hr_buf_detach (&text);
}

static void
test_batch_bounds (void **state)
{
    char *max = s_pings (HRG_WS_BATCH_MAX), *over = s_pings (HRG_WS_BATCH_MAX + 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_decode (s_formats [i], max), 0);
        assert_int_equal (hrg_ws_batch_count (&s_case.batch), HRG_WS_BATCH_MAX);
        assert_int_equal (hrg_ws_batch_msg (&s_case.batch, 63)->id, 63);
        const hrg_ws_msg_t *msg = s_one (s_formats [i], over);
        assert_string_equal (msg->code, "limit");
        assert_string_equal (msg->error, "batch over 64 messages");
        assert_int_equal (msg->type, HRG_WS_T_UNKNOWN);
        assert_false (msg->has_id);
        msg = s_one (s_formats [i], "[]");
        assert_string_equal (msg->code, "bad_request");
        assert_non_null (msg->error);
    }
    free (max);
    free (over);
    s_done ();
}

//  --------------------------------------------------------------------
//  Malformed messages: err, connection kept

static void
test_t_missing_not_string_or_unknown (void **state)
{
    s_expect_error ("{\"id\":1,\"ch\":\"a\"}", "t is required");
    s_expect_error ("{\"t\":1}", "t is required");
    s_expect_error ("{\"t\":null}", "t is required");
    s_expect_error ("{}", "t is required");
    s_expect_error ("{\"t\":\"subscribe\",\"id\":4}", "unknown t");
    s_expect_error ("{\"t\":\"su\"}", "unknown t");
    s_expect_error ("{\"t\":\"sub\\u0000\",\"id\":1,\"ch\":\"a\"}", "unknown t");
    for (int i = 0; i < 2; i++) {
        const hrg_ws_msg_t *msg = s_one (s_formats [i], "{\"t\":\"ev\",\"id\":4}");
        assert_int_equal (msg->type, HRG_WS_T_UNKNOWN);
        assert_true (msg->has_id);              //  the err can name the request
        assert_int_equal (msg->id, 4);
    }
    s_done ();
}

static void
test_bad_or_missing_id (void **state)
{
    s_expect_error ("{\"t\":\"ping\",\"id\":\"1\"}", "id must be");
    s_expect_error ("{\"t\":\"ping\",\"id\":-1}", "id must be");
    s_expect_error ("{\"t\":\"ping\",\"id\":4294967296}", "id must be");
    s_expect_error ("{\"t\":\"ping\",\"id\":1.5}", "id must be");
    s_expect_error ("{\"t\":\"ping\",\"id\":null}", "id must be");
    s_expect_error ("{\"t\":\"sub\",\"ch\":\"a\"}", "id is required");
    s_expect_error ("{\"t\":\"unsub\",\"ch\":\"a\"}", "id is required");
    s_expect_error ("{\"t\":\"pub\",\"ch\":\"a\",\"data\":1}", "id is required");
    s_expect_error ("{\"t\":\"auth\",\"token\":\"x\"}", "id is required");
    s_expect_error ("{\"t\":\"refresh\",\"token\":\"x\"}", "id is required");
    const hrg_ws_msg_t *msg = s_one (HRG_WS_JSON, "{\"t\":\"sub\",\"id\":\"7\",\"ch\":\"a\"}");
    assert_false (msg->has_id);
    s_done ();
}

static void
test_bad_channel (void **state)
{
    char long_ch [300];
    snprintf (long_ch, sizeof long_ch, "{\"t\":\"sub\",\"id\":1,\"ch\":\"%0129d\"}", 0);
    s_expect_error (long_ch, "ch must be");
    snprintf (long_ch, sizeof long_ch, "{\"t\":\"sub\",\"id\":1,\"ch\":\"%0128d\"}", 0);
    assert_null (s_one (HRG_WS_JSON, long_ch)->error);
    assert_null (s_one (HRG_WS_MSGPACK, long_ch)->error);
    s_expect_error ("{\"t\":\"sub\",\"id\":1}", "ch must be");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"\"}", "ch must be");
    s_expect_error ("{\"t\":\"unsub\",\"id\":1,\"ch\":\"a b\"}", "ch must be");
    s_expect_error ("{\"t\":\"pub\",\"id\":1,\"ch\":[\"a\"],\"data\":1}", "ch must be");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"caf\\u00e9\"}", "ch must be");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\\u0000b\"}", "ch must be");
    s_done ();
}

static void
test_resume_needs_e_and_s (void **state)
{
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":\"x\"}", "e and s go together");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"s\":3}", "e and s go together");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":null}", "e and s go together");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":\"x\",\"s\":-1}", "s must be");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":\"x\",\"s\":null}", "s must be");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":\"x\",\"s\":\"3\"}", "s must be");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":5,\"s\":3}", "e must be");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":\"\",\"s\":3}", "e must be");
    s_expect_error ("{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":\"123456789012345678901234567890123\","
                    "\"s\":3}", "e must be");
    s_done ();
}

static void
test_pub_fields (void **state)
{
    s_expect_error ("{\"t\":\"pub\",\"id\":1,\"ch\":\"a\"}", "data is required");
    s_expect_error ("{\"t\":\"pub\",\"id\":1,\"ch\":\"a\",\"data\":1,\"type\":\"a b\"}", "type must be");
    s_expect_error ("{\"t\":\"pub\",\"id\":1,\"ch\":\"a\",\"data\":1,\"type\":null}", "type must be");
    s_expect_error ("{\"t\":\"pub\",\"id\":1,\"ch\":\"a\",\"data\":1,\"key\":\"\"}", "key must be");
    s_expect_error ("{\"t\":\"pub\",\"id\":1,\"ch\":\"a\",\"data\":1,\"key\":\"a b\"}", "key must be");
    s_expect_error ("{\"t\":\"pub\",\"id\":1,\"ch\":\"a\",\"data\":1,\"key\":7}", "key must be");
    s_expect_error ("{\"t\":\"auth\",\"id\":1}", "token is required");
    s_expect_error ("{\"t\":\"refresh\",\"id\":1,\"token\":5}", "token is required");
    s_done ();
}

//  {"t":"pub","id":1,"ch":"a","data":<levels nested arrays>}
static char *
s_pub_nested (int levels)
{
    hr_buf_t text = HR_BUF_INIT;
    hr_buf_puts (&text, "{\"t\":\"pub\",\"id\":1,\"ch\":\"a\",\"data\":");
    for (int i = 0; i < levels; i++)
        hr_buf_putc (&text, '[');
    for (int i = 0; i < levels; i++)
        hr_buf_putc (&text, ']');
    hr_buf_putc (&text, '}');
    return hr_buf_detach (&text);
}

//  The same pub in MessagePack, built by hand (hr_json_to_mpack would
//  refuse it: with the message map it is deeper than it packs)
static int
s_pub_nested_mpack (int levels)
{
    tu_setup (NULL);
    tu_map (4);
    tu_kstr ("t", "pub");
    tu_kuint ("id", 1);
    tu_kstr ("ch", "a");
    tu_key ("data");
    for (int i = 0; i < levels - 1; i++)
        tu_raw ((const uint8_t []) { 0x91 }, 1);
    tu_raw ((const uint8_t []) { 0x90 }, 1);
    int rc = s_decode_raw (HRG_WS_MSGPACK, tu_frame.data, tu_frame.size);
    tu_teardown (NULL);
    return rc;
}

static void
test_data_depth_is_bounded (void **state)
{
    char *ok = s_pub_nested (HR_MPACK_MAX_DEPTH), *deep = s_pub_nested (HR_MPACK_MAX_DEPTH + 1);
    assert_null (s_one (HRG_WS_JSON, ok)->error);
    assert_string_equal (s_one (HRG_WS_JSON, deep)->error, "data nests deeper than 32 levels");
    assert_int_equal (s_pub_nested_mpack (HR_MPACK_MAX_DEPTH), 0);
    assert_null (hrg_ws_batch_msg (&s_case.batch, 0)->error);
    assert_int_equal (s_pub_nested_mpack (HR_MPACK_MAX_DEPTH + 1), 0);
    assert_string_equal (hrg_ws_batch_msg (&s_case.batch, 0)->error,
                         "data nests deeper than 32 levels");
    free (ok);
    free (deep);
    s_done ();
}

static void
test_not_a_map (void **state)
{
    static const char *const values [] = { "5", "\"sub\"", "null", "[[{\"t\":\"ping\"}]]", "[1]" };
    for (size_t v = 0; v < sizeof values / sizeof values [0]; v++)
        s_expect_error (values [v], "must be a");
    s_done ();
}

//  --------------------------------------------------------------------
//  Frames that are not JSON or MessagePack: close 1007

static void
test_invalid_json_closes_1007 (void **state)
{
    s_expect_close (HRG_WS_JSON, "");
    s_expect_close (HRG_WS_JSON, "{\"t\":\"ping\"");
    s_expect_close (HRG_WS_JSON, "{\"t\":\"ping\"} {}");
    s_expect_close (HRG_WS_JSON, "{'t':'ping'}");
    s_expect_close (HRG_WS_JSON, "{\"t\":\"ping\",\"t\":\"pong\"}");                 //  duplicates
    s_expect_close (HRG_WS_JSON, "{\"t\":\"pub\",\"id\":1,\"ch\":\"a\",\"data\":{\"x\":1,\"x\":2}}");
    s_expect_close (HRG_WS_JSON, "[{\"t\":\"ping\"},{\"t\":\"ping\",\"id\":1,\"id\":1}]");
    s_expect_close (HRG_WS_JSON, "{\"t\":\"ping\",\"x\":\"\xff\"}");                 //  invalid UTF-8
    s_expect_close (HRG_WS_JSON, "{\"t\":\"ping\",\"x\":\"\xed\xa0\x80\"}");         //  a surrogate
    s_expect_close (HRG_WS_JSON, "{\"t\":\"ping\",\"x\":\"\xc0\xaf\"}");             //  overlong
    //  jansson cannot read integers over 2^63-1
    s_expect_close (HRG_WS_JSON, "{\"t\":\"sub\",\"id\":1,\"ch\":\"a\",\"e\":\"x\",\"s\":18446744073709551615}");
    s_done ();
}

//  value nested in levels arrays, then a ping in the innermost
static char *
s_nested_json (int levels)
{
    hr_buf_t text = HR_BUF_INIT;
    for (int i = 0; i < levels - 1; i++)
        hr_buf_putc (&text, '[');
    hr_buf_puts (&text, "{\"t\":\"ping\",\"x\":\"[[[[\\\"{{\"}");    //  brackets in strings do not count
    for (int i = 0; i < levels - 1; i++)
        hr_buf_putc (&text, ']');
    return hr_buf_detach (&text);
}

static void
test_frame_depth_is_bounded_in_both_encodings (void **state)
{
    char *ok = s_nested_json (HRG_WS_MAX_DEPTH), *deep = s_nested_json (HRG_WS_MAX_DEPTH + 1);
    assert_int_equal (s_decode (HRG_WS_JSON, ok), 0);
    s_expect_close (HRG_WS_JSON, deep);
    free (ok);
    free (deep);
    uint8_t frame [HRG_WS_MAX_DEPTH + 2];
    memset (frame, 0x91, sizeof frame);
    frame [HRG_WS_MAX_DEPTH - 1] = 0x80;             //  64 levels: read
    assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, frame, HRG_WS_MAX_DEPTH), 0);
    frame [HRG_WS_MAX_DEPTH - 1] = 0x91;
    frame [HRG_WS_MAX_DEPTH] = 0x80;                 //  65: refused
    assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, frame, HRG_WS_MAX_DEPTH + 1), 1007);
    s_done ();
}

static void
test_invalid_msgpack_closes_1007 (void **state)
{
    tu_setup (NULL);
    tu_map (2);
    tu_kstr ("t", "sub");
    tu_kstr ("ch", "orders");
    for (size_t cut = 0; cut < tu_frame.size; cut++)          //  every truncation
        assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, tu_frame.data, cut), 1007);
    tu_raw ((const uint8_t []) { 0xc0 }, 1);                   //  trailing bytes
    assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, tu_frame.data, tu_frame.size), 1007);
    tu_map (2);
    tu_kstr ("t", "ping");
    tu_kraw ("x", (const uint8_t []) { 0xc1 }, 1);             //  never used
    assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, tu_frame.data, tu_frame.size), 1007);
    tu_map (2);
    tu_kstr ("t", "ping");
    tu_kstr ("t", "pong");                                     //  a known field twice
    assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, tu_frame.data, tu_frame.size), 1007);
    tu_map (1);                                                //  declares 2^32-1 pairs
    hr_buf_reset (&tu_frame);
    tu_raw ((const uint8_t []) { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x80 }, 6);
    assert_int_equal (s_decode_raw (HRG_WS_MSGPACK, tu_frame.data, tu_frame.size), 1007);
    tu_teardown (NULL);
    s_done ();
}

static void
test_free_is_safe_after_any_result (void **state)
{
    hrg_ws_batch_t batch;
    assert_int_equal (hrg_ws_batch_decode (&batch, HRG_WS_JSON, "{", 1), 1007);
    hrg_ws_batch_free (&batch);
    hrg_ws_batch_free (&batch);
    assert_int_equal (hrg_ws_batch_decode (&batch, HRG_WS_JSON, "{\"t\":\"ping\"}", 12), 0);
    hrg_ws_batch_free (&batch);
    hrg_ws_batch_free (&batch);
    assert_int_equal (hrg_ws_batch_count (&batch), 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_sub_plain_and_resume),
        cmocka_unit_test (test_unsub),
        cmocka_unit_test (test_pub_with_type_key_and_data),
        cmocka_unit_test (test_pub_msgpack_data_is_the_publishers_bytes),
        cmocka_unit_test (test_auth_refresh_ping_pong),
        cmocka_unit_test (test_unknown_and_unused_fields_are_ignored),
        cmocka_unit_test (test_batch_keeps_order_and_judges_each_message),
        cmocka_unit_test (test_batch_bounds),
        cmocka_unit_test (test_t_missing_not_string_or_unknown),
        cmocka_unit_test (test_bad_or_missing_id),
        cmocka_unit_test (test_bad_channel),
        cmocka_unit_test (test_resume_needs_e_and_s),
        cmocka_unit_test (test_pub_fields),
        cmocka_unit_test (test_data_depth_is_bounded),
        cmocka_unit_test (test_not_a_map),
        cmocka_unit_test (test_invalid_json_closes_1007),
        cmocka_unit_test (test_frame_depth_is_bounded_in_both_encodings),
        cmocka_unit_test (test_invalid_msgpack_closes_1007),
        cmocka_unit_test (test_free_is_safe_after_any_result),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
