/*  test_hrg_ws_render: herald.v1 server messages rendered as WebSocket
    frames (gateway/hrg_ws_msg; its decoding: test_hrg_ws_msg).

    Every frame is read back by the test's own unframer (FIN, no mask, the
    shortest length form) and its payload parsed: JSON with jansson;
    MessagePack checked whole by hr_mpack, then compared through its JSON
    rendering, so both encodings are held to the same expected value.  */
#include "hrg_ws_msg.h"
#include "hr_json.h"
#include "hr_mpack.h"

#include "support.h"

#include <stdlib.h>

static const hrg_ws_format_t s_formats [] = { HRG_WS_JSON, HRG_WS_MSGPACK };

//  Reads the frame at *pos: FIN set, no mask, the shortest length form.
//  Returns its payload; *pos moves past it.
static const char *
s_unframe (const hr_buf_t *buf, size_t *pos, int *opcode, size_t *len, size_t *head_len)
{
    const uint8_t *p = (const uint8_t *) buf->data + *pos;
    size_t left = buf->size - *pos;
    assert_true (left >= 2);
    assert_int_equal (p [0] & 0xf0, 0x80);       //  FIN, no reserved bits
    *opcode = p [0] & 0x0f;
    assert_int_equal (p [1] & 0x80, 0);          //  servers never mask
    size_t n = p [1] & 0x7f, head = 2;
    if (n == 126) {
        n = (size_t) p [2] << 8 | p [3];
        head = 4;
        assert_true (n > 125);
    }
    else
    if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | p [2 + i];
        head = 10;
        assert_true (n > 0xffff);
    }
    assert_true (head + n <= left);
    *len = n;
    *head_len = head;
    *pos += head + n;
    return (const char *) p + head;
}

//  The payload as a JSON value: JSON parsed by jansson; MessagePack checked
//  to be exactly one value, then through its JSON rendering
static json_t *
s_payload (hrg_ws_format_t format, const char *payload, size_t len)
{
    json_error_t jerr;
    if (format == HRG_WS_JSON) {
        json_t *value = json_loadb (payload, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!value)
            fail_msg ("rendered JSON does not parse: %.*s (%s)", (int) len, payload, jerr.text);
        return value;
    }
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, payload, len);
    assert_int_equal (hr_mp_skip (&reader, HR_MPACK_MAX_DEPTH, NULL, NULL), HR_OK);
    assert_int_equal (hr_mp_left (&reader), 0);
    hr_buf_t text = HR_BUF_INIT;
    hr_json_from_mpack (&text, (const uint8_t *) payload, len);
    json_t *value = json_loads (text.data, 0, &jerr);
    assert_non_null (value);
    hr_buf_free (&text);
    return value;
}

//  The next frame in buf holds exactly the JSON value want
static void
s_expect_frame (const hr_buf_t *buf, size_t *pos, hrg_ws_format_t format, const char *want)
{
    int opcode;
    size_t len, head;
    const char *payload = s_unframe (buf, pos, &opcode, &len, &head);
    assert_int_equal (opcode, format == HRG_WS_JSON? 0x1: 0x2);
    json_t *got = s_payload (format, payload, len);
    json_t *expected = json_loads (want, 0, NULL);
    assert_non_null (expected);
    if (!json_equal (got, expected)) {
        char *text = json_dumps (got, JSON_COMPACT);
        fail_msg ("rendered %s, want %s", text, want);
    }
    json_decref (got);
    json_decref (expected);
}

static void
test_render_every_server_message (void **state)
{
    static const uint8_t data [] = { 0x82, 0xa1, 'n', 0x01, 0xa1, 's', 0xa2, 'h', 'i' };
    hr_event_t ev = { .ch = "orders", .ch_len = 6, .epoch = "e1", .epoch_len = 2, .seq = 42,
                      .ts = 1763900000000ULL, .type = "created", .type_len = 7,
                      .data = data, .data_len = sizeof data };
    hr_event_t untyped = ev;
    untyped.type = NULL;
    for (int i = 0; i < 2; i++) {
        hrg_ws_format_t f = s_formats [i];
        hr_buf_t out = HR_BUF_INIT;
        hrg_ws_render_welcome (&out, f, "s-1", 25, 65536, "none");
        hrg_ws_render_ok (&out, f, 3);
        hrg_ws_render_ok_sub (&out, f, 4, "orders", "e1", 41);
        hrg_ws_render_ok_sub (&out, f, 5, "new", NULL, 0);
        hrg_ws_render_ok_pub (&out, f, 6, "e1xx", 2, 43, false);
        hrg_ws_render_ok_pub (&out, f, UINT32_MAX, "e1", 2, 43, true);
        hrg_ws_render_err (&out, f, true, 7, "bad_request", "ch must be \"x\"");
        hrg_ws_render_err (&out, f, false, 0, "rate_limited", "slow down");
        hrg_ws_render_err (&out, f, false, 0, "unavailable", "m");
        hrg_ws_render_err (&out, f, false, 0, "internal", "m");
        hrg_ws_render_err (&out, f, false, 0, "limit", "m");
        hrg_ws_render_ev (&out, f, &ev);
        hrg_ws_render_ev (&out, f, &untyped);
        hrg_ws_render_reset (&out, f, "orders", "e2", 7, "epoch-changed");
        hrg_ws_render_reset (&out, f, "gone", NULL, 0, "unknown-channel");
        hrg_ws_render_ping (&out, f);
        hrg_ws_render_pong (&out, f, true, 8);
        hrg_ws_render_pong (&out, f, false, 0);
        hrg_ws_render_bye (&out, f, 1001, "shutting down", 2500);
        hrg_ws_render_bye (&out, f, 4001, "slow consumer", -1);
        size_t pos = 0;
        s_expect_frame (&out, &pos, f, "{\"t\":\"welcome\",\"v\":1,\"sid\":\"s-1\",\"hb\":25,"
                                       "\"max\":65536,\"auth\":\"none\"}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"ok\",\"id\":3}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"ok\",\"id\":4,\"ch\":\"orders\",\"e\":\"e1\",\"s\":41}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"ok\",\"id\":5,\"ch\":\"new\",\"e\":null,\"s\":0}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"ok\",\"id\":6,\"e\":\"e1\",\"s\":43,\"dup\":false}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"ok\",\"id\":4294967295,\"e\":\"e1\",\"s\":43,\"dup\":true}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"err\",\"id\":7,\"code\":\"bad_request\","
                                       "\"msg\":\"ch must be \\\"x\\\"\",\"retry\":false}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"err\",\"code\":\"rate_limited\",\"msg\":\"slow down\",\"retry\":true}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"err\",\"code\":\"unavailable\",\"msg\":\"m\",\"retry\":true}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"err\",\"code\":\"internal\",\"msg\":\"m\",\"retry\":true}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"err\",\"code\":\"limit\",\"msg\":\"m\",\"retry\":false}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"ev\",\"ch\":\"orders\",\"e\":\"e1\",\"s\":42,"
                                       "\"ts\":1763900000000,\"type\":\"created\",\"data\":{\"n\":1,\"s\":\"hi\"}}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"ev\",\"ch\":\"orders\",\"e\":\"e1\",\"s\":42,"
                                       "\"ts\":1763900000000,\"data\":{\"n\":1,\"s\":\"hi\"}}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"reset\",\"ch\":\"orders\",\"e\":\"e2\",\"s\":7,\"why\":\"epoch-changed\"}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"reset\",\"ch\":\"gone\",\"e\":null,\"s\":0,\"why\":\"unknown-channel\"}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"ping\"}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"pong\",\"id\":8}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"pong\"}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"bye\",\"code\":1001,\"why\":\"shutting down\",\"retry_after\":2500}");
        s_expect_frame (&out, &pos, f, "{\"t\":\"bye\",\"code\":4001,\"why\":\"slow consumer\"}");
        assert_int_equal (pos, out.size);
        assert_int_equal (out.data [out.size], 0);
        hr_buf_free (&out);
    }
}

//  Finds the value of key in a rendered MessagePack map
typedef struct { const char *key; const uint8_t *span; size_t len; } s_find_t;

static hr_error_t
s_find_field (hr_mp_reader_t *reader, const char *key, size_t key_len, void *arg)
{
    s_find_t *find = arg;
    const uint8_t *span;
    size_t len;
    hr_error_t rc = hr_mp_skip (reader, HR_MPACK_MAX_DEPTH, &span, &len);
    if (rc == HR_OK && hr_mp_str_eq (key, key_len, find->key)) {
        find->span = span;
        find->len = len;
    }
    return rc;
}

static void
test_render_ev_msgpack_sends_the_publishers_bytes (void **state)
{
    //  float 32, bin 8 and fixext 1: re-encoding would change every one
    static const uint8_t data [] = { 0x93, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xc4, 0x02, 0x00, 0xff,
                                     0xd4, 0x05, 0x01 };
    hr_event_t ev = { .ch = "a", .ch_len = 1, .epoch = "e", .epoch_len = 1, .seq = 1,
                      .data = data, .data_len = sizeof data };
    hr_buf_t out = HR_BUF_INIT;
    hrg_ws_render_ev (&out, HRG_WS_MSGPACK, &ev);
    size_t pos = 0, len, head;
    int opcode;
    const char *payload = s_unframe (&out, &pos, &opcode, &len, &head);
    s_find_t find = { .key = "data" };
    assert_int_equal (hr_mp_read_map (payload, len, s_find_field, &find), HR_OK);
    assert_int_equal (find.len, sizeof data);
    assert_memory_equal (find.span, data, sizeof data);
    //  JSON shows the same value
    hr_buf_reset (&out);
    hrg_ws_render_ev (&out, HRG_WS_JSON, &ev);
    pos = 0;
    s_expect_frame (&out, &pos, HRG_WS_JSON, "{\"t\":\"ev\",\"ch\":\"a\",\"e\":\"e\",\"s\":1,\"ts\":0,"
                                             "\"data\":[1.5,\"AP8=\",\"AQ==\"]}");
    hr_buf_free (&out);
}

//  An err frame whose payload is exactly size bytes
static void
s_err_of_size (hr_buf_t *out, hrg_ws_format_t f, size_t size)
{
    char *msg = malloc (size + 1);
    for (size_t n = size > 64? size - 64: 0; n <= size; n++) {
        memset (msg, 'x', n);
        msg [n] = 0;
        hr_buf_reset (out);
        hrg_ws_render_err (out, f, false, 0, "internal", msg);
        size_t pos = 0, len, head;
        int opcode;
        s_unframe (out, &pos, &opcode, &len, &head);
        if (len == size) {
            free (msg);
            return;
        }
    }
    fail_msg ("no err of %zu bytes", size);
}

static void
test_render_frame_lengths_at_the_boundaries (void **state)
{
    static const struct { size_t size, head; uint8_t len7; } cases [] = {
        { 125, 2, 125 }, { 126, 4, 126 }, { 65535, 4, 126 }, { 65536, 10, 127 }, { 70000, 10, 127 }
    };
    for (int i = 0; i < 2; i++)
        for (size_t c = 0; c < sizeof cases / sizeof cases [0]; c++) {
            hr_buf_t out = HR_BUF_INIT;
            s_err_of_size (&out, s_formats [i], cases [c].size);
            assert_int_equal (out.size, cases [c].head + cases [c].size);
            assert_int_equal ((uint8_t) out.data [1], cases [c].len7);
            size_t pos = 0, len, head;
            int opcode;
            const char *payload = s_unframe (&out, &pos, &opcode, &len, &head);
            assert_int_equal (head, cases [c].head);
            json_decref (s_payload (s_formats [i], payload, len));
            hr_buf_free (&out);
        }
}

static void
test_render_close_cuts_reason_at_a_character (void **state)
{
    hr_buf_t out = HR_BUF_INIT;
    hrg_ws_render_close (&out, 1009, "message too big");
    assert_int_equal (out.size, 2 + 2 + 15);
    assert_memory_equal (out.data, "\x88\x11\x03\xf1message too big", out.size);
    //  122 ASCII bytes then "é" (2 bytes): the é would straddle byte 123
    char reason [200];
    memset (reason, 'a', 122);
    strcpy (reason + 122, "\xc3\xa9zzzzzzzzzz");
    hr_buf_reset (&out);
    hrg_ws_render_close (&out, 4001, reason);
    assert_int_equal ((uint8_t) out.data [0], 0x88);
    assert_int_equal ((uint8_t) out.data [1], 2 + 122);
    assert_memory_equal (out.data + 2, "\x0f\xa1", 2);
    memset (reason, 'b', 199);
    reason [199] = 0;
    hr_buf_reset (&out);
    hrg_ws_render_close (&out, 1000, reason);
    assert_int_equal ((uint8_t) out.data [1], 125);     //  a control frame's most
    assert_int_equal (out.size, 127);
    hr_buf_reset (&out);
    hrg_ws_render_close (&out, 1000, "");
    hrg_ws_render_close (&out, 1000, NULL);
    assert_int_equal (out.size, 8);
    assert_memory_equal (out.data, "\x88\x02\x03\xe8\x88\x02\x03\xe8", 8);
    hr_buf_free (&out);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_render_every_server_message),
        cmocka_unit_test (test_render_ev_msgpack_sends_the_publishers_bytes),
        cmocka_unit_test (test_render_frame_lengths_at_the_boundaries),
        cmocka_unit_test (test_render_close_cuts_reason_at_a_character),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
