/*  test_json: MessagePack -> JSON rendering and JSON -> MessagePack
    packing (common/hr_json, docs/protocol.md §5).

    Every rendered text is also parsed back with jansson, so "valid JSON"
    is checked, not assumed.  */
#include "hr_json.h"
#include "hr_mpack.h"
#include "hr_pack.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define B(...) (const uint8_t []) { __VA_ARGS__ }, sizeof ((const uint8_t []) { __VA_ARGS__ })

//  Renders one MessagePack value; the caller frees the text.
static char *
s_render (const uint8_t *data, size_t size)
{
    hr_buf_t out = HR_BUF_INIT;
    hr_json_from_mpack (&out, data, size);
    return hr_buf_detach (&out);
}

//  Fails unless text is one valid JSON value (any type).
static json_t *
s_parse (const char *text)
{
    json_error_t error;
    json_t *value = json_loads (text, JSON_DECODE_ANY | JSON_ALLOW_NUL
                                | JSON_DECODE_INT_AS_REAL, &error);
    if (!value)
        fail_msg ("not valid JSON: %s (%s)", text, error.text);
    return value;
}

//  Renders, checks against want and checks that it parses.
static void
s_expect (const uint8_t *data, size_t size, const char *want)
{
    char *text = s_render (data, size);
    if (strcmp (text, want))
        fail_msg ("rendered %s, want %s", text, want);
    json_decref (s_parse (text));
    free (text);
}

static void
s_expect_str (const char *bytes, size_t size, const char *want)
{
    hr_buf_t out = HR_BUF_INIT;
    hr_json_string (&out, bytes, size);
    if (strcmp (out.data, want))
        fail_msg ("string rendered %s, want %s", out.data, want);
    json_decref (s_parse (out.data));
    hr_buf_free (&out);
}

//  --------------------------------------------------------------------
//  Scalars

static void
test_nil_and_booleans (void **state)
{
    s_expect (B (0xc0), "null");
    s_expect (B (0xc3), "true");
    s_expect (B (0xc2), "false");
}

static void
test_integers_including_extremes (void **state)
{
    s_expect (B (0x00), "0");
    s_expect (B (0x7f), "127");
    s_expect (B (0xff), "-1");
    s_expect (B (0xcd, 0x01, 0x00), "256");
    s_expect (B (0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "18446744073709551615");
    s_expect (B (0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), "-9223372036854775808");
    s_expect (B (0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "9223372036854775807");
    s_expect (B (0xd0, 0x80), "-128");
}

static void
test_floats_render_as_numbers (void **state)
{
    s_expect (B (0xca, 0x3f, 0xc0, 0x00, 0x00), "1.5");
    s_expect (B (0xcb, 0xc0, 0x04, 0, 0, 0, 0, 0, 0), "-2.5");
    //  0.1 renders with enough digits to read back the same double
    char *text = s_render (B (0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a));
    assert_true (strtod (text, NULL) == 0.1);
    json_decref (s_parse (text));
    free (text);
}

static void
test_nan_and_infinities_render_null (void **state)
{
    s_expect (B (0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), "null");
    s_expect (B (0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0), "null");
    s_expect (B (0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0), "null");
    s_expect (B (0xca, 0x7f, 0xc0, 0x00, 0x00), "null");
    s_expect (B (0xca, 0xff, 0x80, 0x00, 0x00), "null");
    s_expect (B (0x93, 0xca, 0x7f, 0x80, 0x00, 0x00, 0x01, 0xc0), "[null,1,null]");
}

static void
test_extreme_finite_floats_are_valid_json (void **state)
{
    //  DBL_MAX, the smallest denormal, negative zero
    static const uint8_t values [][9] = {
        { 0xcb, 0x7f, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
        { 0xcb, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01 },
        { 0xcb, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 },
    };
    for (int i = 0; i < 3; i++) {
        char *text = s_render (values [i], 9);
        json_decref (s_parse (text));
        free (text);
    }
}

//  --------------------------------------------------------------------
//  Strings

static void
test_plain_and_utf8_strings_pass_through (void **state)
{
    s_expect (B (0xa3, 'a', 'b', 'c'), "\"abc\"");
    s_expect (B (0xa0), "\"\"");
    s_expect_str ("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
    s_expect_str ("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");
    s_expect_str ("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
    s_expect_str ("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");   //  U+10FFFF
}

static void
test_quote_backslash_and_whitespace_are_escaped (void **state)
{
    s_expect_str ("a\"b", 3, "\"a\\\"b\"");
    s_expect_str ("a\\b", 3, "\"a\\\\b\"");
    s_expect_str ("\n\r\t", 3, "\"\\n\\r\\t\"");
    s_expect_str ("/", 1, "\"/\"");
}

static void
test_control_chars_are_u_escaped (void **state)
{
    s_expect_str ("\x01", 1, "\"\\u0001\"");
    s_expect_str ("\x1f", 1, "\"\\u001f\"");
    s_expect_str ("\x08\x0c", 2, "\"\\u0008\\u000c\"");
    s_expect_str ("a\0b", 3, "\"a\\u0000b\"");
    for (int c = 0; c < 0x20; c++) {
        char in [1] = { (char) c };
        hr_buf_t out = HR_BUF_INIT;
        hr_json_string (&out, in, 1);
        for (size_t i = 0; i < out.size; i++)
            assert_true ((unsigned char) out.data [i] >= 0x20);
        json_decref (s_parse (out.data));
        hr_buf_free (&out);
    }
}

static void
test_invalid_utf8_becomes_replacement_char (void **state)
{
    #define FFFD "\xef\xbf\xbd"
    s_expect_str ("\x80", 1, "\"" FFFD "\"");                   //  lone continuation
    s_expect_str ("a\xff" "b", 3, "\"a" FFFD "b\"");            //  never valid
    s_expect_str ("\xc0\xaf", 2, "\"" FFFD FFFD "\"");          //  overlong '/'
    s_expect_str ("\xe0\x80\xaf", 3, "\"" FFFD FFFD FFFD "\""); //  overlong, 3 bytes
    s_expect_str ("\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\""); //  surrogate U+D800
    s_expect_str ("\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"");    //  > U+10FFFF
    s_expect_str ("\xe2\x82", 2, "\"" FFFD FFFD "\"");          //  cut short at the end
    s_expect_str ("\xe2\x82" "x", 3, "\"" FFFD FFFD "x\"");     //  cut short by ASCII
    s_expect_str ("\xc3", 1, "\"" FFFD "\"");
    #undef FFFD
}

static void
test_every_two_byte_string_renders_valid_json (void **state)
{
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b += 3) {
            char in [2] = { (char) a, (char) b };
            hr_buf_t out = HR_BUF_INIT;
            hr_json_string (&out, in, 2);
            json_error_t error;
            json_t *value = json_loads (out.data, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
            if (!json_is_string (value))
                fail_msg ("bytes %02x %02x rendered %s: %s", a, b, out.data, error.text);
            json_decref (value);
            hr_buf_free (&out);
        }
}

static void
test_bin_and_ext_render_as_standard_base64 (void **state)
{
    s_expect (B (0xc4, 0x03, 0x00, 0xff, 0xfe), "\"AP/+\"");
    s_expect (B (0xc4, 0x00), "\"\"");
    s_expect (B (0xc4, 0x01, 'a'), "\"YQ==\"");
    s_expect (B (0xc4, 0x02, 'a', 'b'), "\"YWI=\"");
    s_expect (B (0xd5, 0x07, 'h', 'i'), "\"aGk=\"");            //  fixext 2: payload only
    s_expect (B (0xc7, 0x03, 0xff, 0xfb, 0xef, 0xbe), "\"++++\"");
}

//  --------------------------------------------------------------------
//  Containers

static void
test_arrays_and_maps (void **state)
{
    s_expect (B (0x90), "[]");
    s_expect (B (0x80), "{}");
    s_expect (B (0x93, 0x01, 0xa1, 'x', 0xc0), "[1,\"x\",null]");
    s_expect (B (0x82, 0xa1, 'a', 0x91, 0x80, 0xa1, 'b', 0xc2), "{\"a\":[{}],\"b\":false}");
    s_expect (B (0xdc, 0x00, 0x02, 0x01, 0x02), "[1,2]");
    s_expect (B (0xdf, 0x00, 0x00, 0x00, 0x01, 0xa1, 'k', 0xa1, 'v'), "{\"k\":\"v\"}");
}

static void
test_non_string_map_keys_render_as_their_json_text (void **state)
{
    s_expect (B (0x81, 0x01, 0xa1, 'a'), "{\"1\":\"a\"}");
    s_expect (B (0x81, 0xff, 0x00), "{\"-1\":0}");
    s_expect (B (0x81, 0xc0, 0x01), "{\"null\":1}");
    s_expect (B (0x81, 0xc3, 0x01), "{\"true\":1}");
    s_expect (B (0x81, 0x92, 0x01, 0x02, 0x03), "{\"[1,2]\":3}");
    s_expect (B (0x81, 0x81, 0xa1, 'k', 0x01, 0x02), "{\"{\\\"k\\\":1}\":2}");
    s_expect (B (0x81, 0xc4, 0x01, 'a', 0x01), "{\"\\\"YQ==\\\"\":1}");
}

//  Keys inside keys are escaped once per level: the bound on a key's text
//  keeps 30 levels from growing the output to gigabytes (a fuzzer timeout)
static void
test_non_string_key_text_is_bounded (void **state)
{
    //  {"[1,...,1,10]":0} with a 256-byte key text renders; 257 bytes do not
    uint8_t packed [140] = { 0x81, 0xdc, 0, 127 };
    size_t size = 4;
    for (int i = 0; i < 126; i++)
        packed [size++] = 0x01;
    packed [size++] = 10;
    packed [size++] = 0x00;
    char *text = s_render (packed, size);
    assert_int_equal (strlen (text), 256 + 6);
    free (text);
    packed [size - 2] = 100;
    text = s_render (packed, size);
    assert_string_equal (text, "null");
    free (text);
    //  30 maps nested as keys: {{{...{"k":1}...}:1}:1}
    uint8_t nested [200];
    size = 0;
    for (int i = 0; i < 30; i++)
        nested [size++] = 0x81;
    nested [size++] = 0xa1;
    nested [size++] = 'k';
    for (int i = 0; i < 31; i++)
        nested [size++] = 0x01;
    text = s_render (nested, size);
    assert_string_equal (text, "null");
    free (text);
}

static void
test_string_keys_are_escaped (void **state)
{
    s_expect (B (0x81, 0xa3, 'a', '"', 'b', 0x01), "{\"a\\\"b\":1}");
    s_expect (B (0x81, 0xa1, 0x0a, 0x01), "{\"\\n\":1}");
}

static void
test_unreadable_value_renders_null_in_place (void **state)
{
    hr_buf_t out = HR_BUF_INIT;
    hr_buf_puts (&out, "x=");
    hr_json_from_mpack (&out, B (0x92, 0x01, 0xc1));
    assert_string_equal (out.data, "x=null");
    assert_int_equal (out.size, 6);
    hr_buf_reset (&out);
    hr_json_from_mpack (&out, B (0x93, 0x01));
    assert_string_equal (out.data, "null");
    hr_buf_reset (&out);
    hr_json_from_mpack (&out, B (0x82, 0xa1, 'a', 0x01, 0xa1, 'b'));
    assert_string_equal (out.data, "null");
    hr_buf_free (&out);
}

static void
test_nesting_32_renders_fully (void **state)
{
    uint8_t frame [32];
    memset (frame, 0x91, sizeof frame);
    frame [31] = 0x90;
    char *text = s_render (frame, sizeof frame);
    assert_int_equal (strlen (text), 64);
    assert_int_equal (strspn (text, "["), 32);
    json_decref (s_parse (text));
    free (text);
}

static void
test_pathological_nesting_renders_null_without_recursing_deep (void **state)
{
    static uint8_t frame [100000];
    memset (frame, 0x91, sizeof frame);
    frame [sizeof frame - 1] = 0x90;
    char *text = s_render (frame, sizeof frame);
    assert_string_equal (text, "null");
    free (text);
}

//  --------------------------------------------------------------------
//  Envelope

static void
test_envelope_with_every_field (void **state)
{
    hr_event_t ev = {
        .ch = "orders", .ch_len = 6, .seq = 42, .epoch = "9f1c2ab03e4d5f60", .epoch_len = 16,
        .ts = 1763900000000ull, .type = "created", .type_len = 7,
        .data = (const uint8_t *) "\x81\xa2id\x07", .data_len = 5, .id = "order-7-created",
        .id_len = 15,
    };
    hr_buf_t out = HR_BUF_INIT;
    hr_json_envelope (&out, &ev);
    assert_string_equal (out.data,
        "{\"channel\":\"orders\",\"seq\":42,\"epoch\":\"9f1c2ab03e4d5f60\","
        "\"ts\":1763900000000,\"type\":\"created\",\"data\":{\"id\":7},"
        "\"id\":\"order-7-created\"}");
    json_decref (s_parse (out.data));
    hr_buf_free (&out);
}

static void
test_envelope_without_type_and_id (void **state)
{
    hr_event_t ev = { .ch = "a", .ch_len = 1, .seq = 1, .epoch = "e", .epoch_len = 1,
                      .ts = 0, .data = (const uint8_t *) "\xc0", .data_len = 1 };
    hr_buf_t out = HR_BUF_INIT;
    hr_json_envelope (&out, &ev);
    assert_string_equal (out.data,
        "{\"channel\":\"a\",\"seq\":1,\"epoch\":\"e\",\"ts\":0,\"data\":null}");
    hr_buf_free (&out);
}

static void
test_envelope_escapes_id (void **state)
{
    hr_event_t ev = { .ch = "a", .ch_len = 1, .seq = UINT64_MAX, .epoch = "e", .epoch_len = 1,
                      .data = (const uint8_t *) "\x01", .data_len = 1, .id = "\"\\", .id_len = 2 };
    hr_buf_t out = HR_BUF_INIT;
    hr_json_envelope (&out, &ev);
    assert_string_equal (out.data,
        "{\"channel\":\"a\",\"seq\":18446744073709551615,\"epoch\":\"e\",\"ts\":0,"
        "\"data\":1,\"id\":\"\\\"\\\\\"}");
    json_decref (s_parse (out.data));
    hr_buf_free (&out);
}

//  --------------------------------------------------------------------
//  JSON -> MessagePack

//  Parses json, packs it, renders it back and compares with jansson.
static void
s_round_trip (const char *text)
{
    json_error_t error;
    json_t *in = json_loads (text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    assert_non_null (in);
    hr_buf_t packed = HR_BUF_INIT;
    assert_int_equal (hr_json_to_mpack (&packed, in), HR_OK);
    //  the packed bytes are one valid value for the strict reader
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, packed.data, packed.size);
    assert_int_equal (hr_mp_skip (&reader, HR_MPACK_MAX_DEPTH, NULL, NULL), HR_OK);
    assert_int_equal (hr_mp_left (&reader), 0);
    hr_buf_t rendered = HR_BUF_INIT;
    hr_json_from_mpack (&rendered, (const uint8_t *) packed.data, packed.size);
    json_t *out = json_loads (rendered.data, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    if (!out || !json_equal (in, out))
        fail_msg ("%s came back as %s", text, rendered.data);
    json_decref (in);
    json_decref (out);
    hr_buf_free (&packed);
    hr_buf_free (&rendered);
}

static void
test_json_round_trips_through_msgpack (void **state)
{
    s_round_trip ("null");
    s_round_trip ("true");
    s_round_trip ("false");
    s_round_trip ("0");
    s_round_trip ("-1");
    s_round_trip ("9223372036854775807");
    s_round_trip ("-9223372036854775808");
    s_round_trip ("1.5");
    s_round_trip ("-0.001");
    s_round_trip ("1e300");
    s_round_trip ("\"\"");
    s_round_trip ("\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\n\"");
    s_round_trip ("\"a\\u0000b\"");
    s_round_trip ("[]");
    s_round_trip ("{}");
    s_round_trip ("{\"id\":7,\"total\":12.5,\"items\":[{\"sku\":\"x\",\"n\":2}],\"gift\":null}");
    s_round_trip ("[[[[1]]],{\"a\":{\"b\":{\"c\":[true,false]}}}]");
}

static void
test_json_to_msgpack_bytes (void **state)
{
    json_t *value = json_pack ("[i,f,s,n,b]", -2, 1.5, "hi", 1);
    hr_buf_t packed = HR_BUF_INIT;
    assert_int_equal (hr_json_to_mpack (&packed, value), HR_OK);
    //  [-2, float64 1.5, "hi", nil, true]
    static const uint8_t want [] = { 0x95, 0xfe, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
                                     0xa2, 'h', 'i', 0xc0, 0xc3 };
    assert_int_equal (packed.size, sizeof want);
    assert_memory_equal (packed.data, want, sizeof want);
    json_decref (value);
    hr_buf_free (&packed);
}

static json_t *
s_nested_json (int depth)
{
    json_t *value = json_array ();
    for (int i = 1; i < depth; i++) {
        json_t *outer = json_array ();
        json_array_append_new (outer, value);
        value = outer;
    }
    return value;
}

static void
test_json_nesting_32_packs (void **state)
{
    json_t *value = s_nested_json (32);
    hr_buf_t packed = HR_BUF_INIT;
    assert_int_equal (hr_json_to_mpack (&packed, value), HR_OK);
    assert_int_equal (packed.size, 32);
    json_decref (value);
    hr_buf_free (&packed);
}

static void
test_json_nesting_33_is_too_deep (void **state)
{
    json_t *value = s_nested_json (33);
    hr_buf_t packed = HR_BUF_INIT;
    assert_int_equal (hr_json_to_mpack (&packed, value), HR_E_TOO_DEEP);
    json_decref (value);
    hr_buf_free (&packed);
    //  objects count the same way
    json_t *obj = json_object ();
    for (int i = 1; i < 33; i++) {
        json_t *outer = json_object ();
        json_object_set_new (outer, "k", obj);
        obj = outer;
    }
    assert_int_equal (hr_json_to_mpack (&packed, obj), HR_E_TOO_DEEP);
    json_decref (obj);
    hr_buf_free (&packed);
}

//  The error body every HTTP server of Herald answers (gateway, broker --http)
static void
test_error_body_has_code_and_message (void **state)
{
    hr_buf_t out = HR_BUF_INIT;
    hr_json_error (&out, HR_E_NOT_FOUND, NULL);
    hr_buf_putc (&out, 0);
    assert_string_equal (out.data, "{\"error\":\"not_found\",\"message\":\"no such route\"}");
    hr_buf_reset (&out);
    hr_json_error (&out, HR_E_BAD_CHANNEL, "say \"why\"");
    hr_buf_putc (&out, 0);
    assert_string_equal (out.data, "{\"error\":\"bad_channel\",\"message\":\"say \\\"why\\\"\"}");
    hr_buf_free (&out);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_nil_and_booleans),
        cmocka_unit_test (test_integers_including_extremes),
        cmocka_unit_test (test_floats_render_as_numbers),
        cmocka_unit_test (test_nan_and_infinities_render_null),
        cmocka_unit_test (test_extreme_finite_floats_are_valid_json),
        cmocka_unit_test (test_plain_and_utf8_strings_pass_through),
        cmocka_unit_test (test_quote_backslash_and_whitespace_are_escaped),
        cmocka_unit_test (test_control_chars_are_u_escaped),
        cmocka_unit_test (test_invalid_utf8_becomes_replacement_char),
        cmocka_unit_test (test_every_two_byte_string_renders_valid_json),
        cmocka_unit_test (test_bin_and_ext_render_as_standard_base64),
        cmocka_unit_test (test_arrays_and_maps),
        cmocka_unit_test (test_non_string_map_keys_render_as_their_json_text),
        cmocka_unit_test (test_non_string_key_text_is_bounded),
        cmocka_unit_test (test_string_keys_are_escaped),
        cmocka_unit_test (test_unreadable_value_renders_null_in_place),
        cmocka_unit_test (test_nesting_32_renders_fully),
        cmocka_unit_test (test_pathological_nesting_renders_null_without_recursing_deep),
        cmocka_unit_test (test_envelope_with_every_field),
        cmocka_unit_test (test_envelope_without_type_and_id),
        cmocka_unit_test (test_envelope_escapes_id),
        cmocka_unit_test (test_json_round_trips_through_msgpack),
        cmocka_unit_test (test_json_to_msgpack_bytes),
        cmocka_unit_test (test_json_nesting_32_packs),
        cmocka_unit_test (test_json_nesting_33_is_too_deep),
        cmocka_unit_test (test_error_body_has_code_and_message),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
