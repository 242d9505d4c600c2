/*  test_event: the event envelope codec (common/hr_event).

    Round trips through hr_event_encode, frames written by msgpack-c the way
    other publishers would, and one crafted frame per decode error.  */
#include "hr_event.h"
#include "hr_mpack.h"
#include "hr_pack.h"

#include "support.h"










static hr_error_t
s_decode (hr_event_t *ev)
{
    return hr_event_decode (tu_frame.data, tu_frame.size, ev);
}

static hr_error_t
s_decode_rc (void)
{
    hr_event_t ev;
    return s_decode (&ev);
}

//  {"a": [1, "b"], "n": -5}
static const uint8_t s_data [] = { 0x82, 0xa1, 'a', 0x92, 0x01, 0xa1, 'b',
                                   0xa1, 'n', 0xfb };

//  Packs a complete valid event with the five required fields.
static void
s_valid_event (void)
{
    tu_map (5);
    tu_kstr ("ch", "orders");
    tu_kuint ("seq", 42);
    tu_kstr ("epoch", "9f1c2ab03e4d5f60");
    tu_kuint ("ts", 1763900000000ull);
    tu_key ("data");
    tu_raw (s_data, sizeof s_data);
}


//  --------------------------------------------------------------------
//  Round trips

static void
test_round_trip_with_type_and_id (void **state)
{
    hr_event_t ev = {
        .ch = "orders", .ch_len = 6, .type = "created", .type_len = 7,
        .id = "order-7", .id_len = 7, .epoch = "9f1c2ab03e4d5f60", .epoch_len = 16,
        .data = s_data, .data_len = sizeof s_data, .seq = 42, .ts = 1763900000000ull,
    };
    hr_buf_t buf = HR_BUF_INIT;
    hr_event_encode (&ev, &buf);
    hr_event_t out;
    assert_int_equal (hr_event_decode (buf.data, buf.size, &out), HR_OK);
    tu_assert_span (out.ch, out.ch_len, "orders");
    tu_assert_span (out.type, out.type_len, "created");
    tu_assert_span (out.id, out.id_len, "order-7");
    tu_assert_span (out.epoch, out.epoch_len, "9f1c2ab03e4d5f60");
    assert_int_equal (out.seq, 42);
    assert_true (out.ts == 1763900000000ull);
    assert_int_equal (out.data_len, sizeof s_data);
    assert_memory_equal (out.data, s_data, sizeof s_data);
    assert_false (out.head);
    //  a view: every span points into the frame
    assert_true ((const char *) out.ch >= buf.data && out.ch < buf.data + buf.size);
    assert_true ((const char *) out.data >= buf.data
                 && (const char *) out.data + out.data_len <= buf.data + buf.size);
    hr_buf_free (&buf);
}

static void
test_round_trip_without_type_and_id (void **state)
{
    hr_event_t ev = {
        .ch = "a", .ch_len = 1, .epoch = "e1", .epoch_len = 2,
        .data = (const uint8_t *) "\xc0", .data_len = 1, .seq = 1, .ts = 0,
    };
    hr_buf_t buf = HR_BUF_INIT;
    hr_event_encode (&ev, &buf);
    hr_event_t out;
    assert_int_equal (hr_event_decode (buf.data, buf.size, &out), HR_OK);
    assert_null (out.type);
    assert_int_equal (out.type_len, 0);
    assert_null (out.id);
    assert_int_equal (out.id_len, 0);
    tu_assert_span (out.ch, out.ch_len, "a");
    assert_int_equal (out.data_len, 1);
    assert_int_equal (out.data [0], 0xc0);
    hr_buf_free (&buf);
}

static void
test_round_trip_extreme_seq_and_ts (void **state)
{
    hr_event_t ev = {
        .ch = "c", .ch_len = 1, .epoch = "e", .epoch_len = 1,
        .data = (const uint8_t *) "\x00", .data_len = 1, .seq = UINT64_MAX, .ts = UINT64_MAX - 1,
    };
    hr_buf_t buf = HR_BUF_INIT;
    hr_event_encode (&ev, &buf);
    hr_event_t out;
    assert_int_equal (hr_event_decode (buf.data, buf.size, &out), HR_OK);
    assert_true (out.seq == UINT64_MAX);
    assert_true (out.ts == UINT64_MAX - 1);
    hr_buf_free (&buf);
}

static void
test_round_trip_head_marker_with_nil_epoch (void **state)
{
    hr_event_t ev = { .ch = "seller:1", .ch_len = 8, .seq = 0, .head = true };
    hr_buf_t buf = HR_BUF_INIT;
    hr_event_encode (&ev, &buf);
    hr_event_t out;
    assert_int_equal (hr_event_decode (buf.data, buf.size, &out), HR_OK);
    assert_true (out.head);
    assert_null (out.epoch);
    assert_null (out.data);
    assert_int_equal (out.seq, 0);
    tu_assert_span (out.ch, out.ch_len, "seller:1");
    hr_buf_free (&buf);
}

static void
test_round_trip_head_marker_with_epoch (void **state)
{
    hr_event_t ev = { .ch = "x", .ch_len = 1, .epoch = "abc", .epoch_len = 3,
                      .seq = 57, .head = true };
    hr_buf_t buf = HR_BUF_INIT;
    hr_event_encode (&ev, &buf);
    hr_event_t out;
    assert_int_equal (hr_event_decode (buf.data, buf.size, &out), HR_OK);
    assert_true (out.head);
    tu_assert_span (out.epoch, out.epoch_len, "abc");
    assert_int_equal (out.seq, 57);
    hr_buf_free (&buf);
}

static void
test_encode_appends_to_buffer (void **state)
{
    hr_event_t ev = { .ch = "x", .ch_len = 1, .epoch = "e", .epoch_len = 1,
                      .data = (const uint8_t *) "\x01", .data_len = 1, .seq = 1 };
    hr_buf_t buf = HR_BUF_INIT;
    hr_buf_puts (&buf, "ZZ");
    hr_event_encode (&ev, &buf);
    assert_memory_equal (buf.data, "ZZ", 2);
    hr_event_t out;
    assert_int_equal (hr_event_decode (buf.data + 2, buf.size - 2, &out), HR_OK);
    hr_buf_free (&buf);
}

static void
test_decodes_msgpack_c_frame_in_any_key_order (void **state)
{
    //  another publisher's key order, with type and id, data a nested value
    tu_map (7);
    tu_kstr ("id", "k-1");
    tu_key ("data");
    tu_raw (s_data, sizeof s_data);
    tu_kstr ("type", "reservation-created");
    tu_kuint ("ts", 5);
    tu_kstr ("epoch", "EPOCH_1");
    tu_kuint ("seq", 300);
    tu_kstr ("ch", "a_b.c:d@e/f-g");
    hr_event_t ev;
    assert_int_equal (s_decode (&ev), HR_OK);
    tu_assert_span (ev.ch, ev.ch_len, "a_b.c:d@e/f-g");
    tu_assert_span (ev.type, ev.type_len, "reservation-created");
    tu_assert_span (ev.id, ev.id_len, "k-1");
    tu_assert_span (ev.epoch, ev.epoch_len, "EPOCH_1");
    assert_int_equal (ev.seq, 300);
    assert_int_equal (ev.ts, 5);
    assert_int_equal (ev.data_len, sizeof s_data);
    assert_memory_equal (ev.data, s_data, sizeof s_data);
}

static void
test_decodes_every_data_kind (void **state)
{
    //  data packed by msgpack-c as each kind in turn
    for (int kind = 0; kind < 9; kind++) {
        tu_map (5);
        tu_kstr ("ch", "c");
        tu_kuint ("seq", 1);
        tu_kstr ("epoch", "e");
        tu_kuint ("ts", 1);
        tu_key ("data");
        size_t mark = tu_frame.size;
        switch (kind) {
            case 0: msgpack_pack_nil (&tu_pk); break;
            case 1: msgpack_pack_true (&tu_pk); break;
            case 2: msgpack_pack_int64 (&tu_pk, INT64_MIN); break;
            case 3: msgpack_pack_double (&tu_pk, 2.5); break;
            case 4: msgpack_pack_float (&tu_pk, 2.5f); break;
            case 5: hr_pack_cstr (&tu_pk, "text"); break;
            case 6: msgpack_pack_bin (&tu_pk, 3); msgpack_pack_bin_body (&tu_pk, "\0\1\2", 3); break;
            case 7: msgpack_pack_ext (&tu_pk, 2, 7); msgpack_pack_ext_body (&tu_pk, "ab", 2); break;
            default: msgpack_pack_array (&tu_pk, 2); msgpack_pack_map (&tu_pk, 0);
                     msgpack_pack_array (&tu_pk, 0); break;
        }
        size_t data_len = tu_frame.size - mark;
        hr_event_t ev;
        assert_int_equal (s_decode (&ev), HR_OK);
        assert_int_equal (ev.data_len, data_len);
        assert_memory_equal (ev.data, tu_frame.data + mark, data_len);
    }
}

static void
test_unknown_keys_are_skipped (void **state)
{
    tu_map (8);
    tu_key ("future");
    msgpack_pack_map (&tu_pk, 1);
    tu_kuint ("deep", 1);
    tu_kstr ("ch", "orders");
    tu_key ("z");
    msgpack_pack_array (&tu_pk, 2);
    msgpack_pack_nil (&tu_pk);
    msgpack_pack_double (&tu_pk, 1.0);
    tu_kuint ("seq", 9);
    tu_kstr ("epoch", "e");
    tu_kuint ("ts", 10);
    tu_key ("data");
    msgpack_pack_int (&tu_pk, 3);
    tu_key ("");
    msgpack_pack_bin (&tu_pk, 0);
    hr_event_t ev;
    assert_int_equal (s_decode (&ev), HR_OK);
    tu_assert_span (ev.ch, ev.ch_len, "orders");
    assert_int_equal (ev.seq, 9);
    assert_int_equal (ev.ts, 10);
    assert_int_equal (ev.data_len, 1);
    assert_int_equal (ev.data [0], 3);
}

static void
test_unknown_key_value_is_still_validated (void **state)
{
    //  a skipped value must still be well formed: 0xc1 inside it fails
    s_valid_event ();
    tu_frame.data [0] = (char) 0x86;
    tu_key ("x");
    tu_raw ("\x91\xc1", 2);
    assert_int_equal (s_decode_rc (), HR_E_BAD_MSGPACK);
}

static void
test_topic_is_channel_and_bar_replacing_buffer (void **state)
{
    hr_buf_t topic = HR_BUF_INIT;
    hr_buf_puts (&topic, "old contents");
    hr_event_topic ("seller:1", 8, &topic);
    assert_int_equal (topic.size, 9);
    assert_string_equal (topic.data, "seller:1|");
    hr_event_topic ("seller:12xyz", 9, &topic);
    assert_string_equal (topic.data, "seller:12|");
    hr_buf_free (&topic);
}

//  --------------------------------------------------------------------
//  Decode errors, one crafted frame each

static void
test_not_a_map_is_bad_type (void **state)
{
    hr_event_t ev;
    assert_int_equal (hr_event_decode ("\x90", 1, &ev), HR_E_BAD_TYPE);
    assert_int_equal (hr_event_decode ("\xa2hi", 3, &ev), HR_E_BAD_TYPE);
    assert_int_equal (hr_event_decode ("\xc0", 1, &ev), HR_E_BAD_TYPE);
    assert_int_equal (hr_event_decode ("\x07", 1, &ev), HR_E_BAD_TYPE);
}

static void
test_valid_event_fixture_decodes (void **state)
{
    //  the control for the one-field-missing tests below
    s_valid_event ();
    assert_int_equal (s_decode_rc (), HR_OK);
}

//  Packs the valid event without field `skip` (0 ch, 1 seq, 2 epoch, 3 ts, 4 data).
static void
s_event_without (int skip)
{
    tu_map (4);
    if (skip != 0) tu_kstr ("ch", "orders");
    if (skip != 1) tu_kuint ("seq", 42);
    if (skip != 2) tu_kstr ("epoch", "e");
    if (skip != 3) tu_kuint ("ts", 1);
    if (skip != 4) { tu_key ("data"); msgpack_pack_nil (&tu_pk); }
}

static void
test_missing_ch_is_missing_field (void **state)
{
    s_event_without (0);
    assert_int_equal (s_decode_rc (), HR_E_MISSING_FIELD);
}

static void
test_missing_seq_is_missing_field (void **state)
{
    s_event_without (1);
    assert_int_equal (s_decode_rc (), HR_E_MISSING_FIELD);
}

static void
test_missing_epoch_is_missing_field (void **state)
{
    s_event_without (2);
    assert_int_equal (s_decode_rc (), HR_E_MISSING_FIELD);
}

static void
test_missing_ts_is_missing_field (void **state)
{
    s_event_without (3);
    assert_int_equal (s_decode_rc (), HR_E_MISSING_FIELD);
}

static void
test_missing_data_is_missing_field (void **state)
{
    s_event_without (4);
    assert_int_equal (s_decode_rc (), HR_E_MISSING_FIELD);
}

static void
test_head_false_still_requires_ts_and_data (void **state)
{
    tu_map (4);
    tu_kstr ("ch", "c");
    tu_kuint ("seq", 1);
    tu_kstr ("epoch", "e");
    tu_key ("head");
    msgpack_pack_false (&tu_pk);
    assert_int_equal (s_decode_rc (), HR_E_MISSING_FIELD);
}

static void
test_head_marker_requires_ch_seq_epoch (void **state)
{
    for (int skip = 0; skip < 3; skip++) {
        tu_map (3);
        if (skip != 0) tu_kstr ("ch", "c");
        if (skip != 1) tu_kuint ("seq", 1);
        if (skip != 2) { tu_key ("epoch"); msgpack_pack_nil (&tu_pk); }
        tu_key ("head");
        msgpack_pack_true (&tu_pk);
        assert_int_equal (s_decode_rc (), HR_E_MISSING_FIELD);
    }
}

static void
test_event_with_nil_epoch_is_bad_field (void **state)
{
    tu_map (5);
    tu_kstr ("ch", "c");
    tu_kuint ("seq", 1);
    tu_key ("epoch");
    msgpack_pack_nil (&tu_pk);
    tu_kuint ("ts", 1);
    tu_key ("data");
    msgpack_pack_nil (&tu_pk);
    assert_int_equal (s_decode_rc (), HR_E_BAD_FIELD);
}

static void
test_duplicate_key_is_duplicate_field (void **state)
{
    static const char *const keys [] = { "ch", "seq", "epoch", "ts", "data", "type", "id", "head" };
    for (size_t k = 0; k < sizeof keys / sizeof keys [0]; k++) {
        s_valid_event ();
        tu_frame.data [0] = (char) 0x87;        //  fixmap of 7
        for (int twice = 0; twice < 2; twice++) {
            tu_key (keys [k]);
            if (!strcmp (keys [k], "seq") || !strcmp (keys [k], "ts"))
                msgpack_pack_uint64 (&tu_pk, 1);
            else if (!strcmp (keys [k], "data"))
                msgpack_pack_nil (&tu_pk);
            else if (!strcmp (keys [k], "head"))
                msgpack_pack_false (&tu_pk);
            else
                hr_pack_cstr (&tu_pk, "x");
        }
        //  the first extra key of ch..data already repeats the fixture's
        hr_error_t rc = s_decode_rc ();
        if (rc != HR_E_DUPLICATE_FIELD)
            fail_msg ("key %s twice: got %d", keys [k], rc);
    }
}

static void
test_non_string_key_is_bad_type (void **state)
{
    s_valid_event ();
    tu_frame.data [0] = (char) 0x86;
    msgpack_pack_int (&tu_pk, 1);
    msgpack_pack_int (&tu_pk, 2);
    assert_int_equal (s_decode_rc (), HR_E_BAD_TYPE);
}

//  The valid event plus one more key with a raw value.
static hr_error_t
s_with_extra (const char *key, const void *value, size_t size)
{
    s_valid_event ();
    tu_frame.data [0] = (char) 0x86;
    tu_key (key);
    tu_raw (value, size);
    return s_decode_rc ();
}

//  The valid event with one of its fields replaced by a raw value.
static hr_error_t
s_with_field (const char *key, const void *value, size_t size)
{
    tu_map (5);
    static const char *const keys [] = { "ch", "seq", "epoch", "ts", "data" };
    for (int k = 0; k < 5; k++) {
        tu_key (keys [k]);
        if (!strcmp (keys [k], key))
            tu_raw (value, size);
        else if (k == 0)
            hr_pack_cstr (&tu_pk, "orders");
        else if (k == 2)
            hr_pack_cstr (&tu_pk, "e");
        else if (k == 4)
            msgpack_pack_nil (&tu_pk);
        else
            msgpack_pack_uint64 (&tu_pk, 1);
    }
    return s_decode_rc ();
}

static void
test_wrong_field_types_are_bad_type (void **state)
{
    assert_int_equal (s_with_field ("ch", "\x01", 1), HR_E_BAD_TYPE);
    assert_int_equal (s_with_field ("ch", "\xc4\x01" "a", 3), HR_E_BAD_TYPE);
    assert_int_equal (s_with_field ("seq", "\xa1" "1", 2), HR_E_BAD_TYPE);
    assert_int_equal (s_with_field ("seq", "\xff", 1), HR_E_BAD_TYPE);
    assert_int_equal (s_with_field ("seq", "\xcb\x3f\xf0\0\0\0\0\0\0", 9), HR_E_BAD_TYPE);
    assert_int_equal (s_with_field ("ts", "\xc3", 1), HR_E_BAD_TYPE);
    assert_int_equal (s_with_field ("ts", "\xd0\x80", 2), HR_E_BAD_TYPE);
    assert_int_equal (s_with_field ("epoch", "\x05", 1), HR_E_BAD_TYPE);
    assert_int_equal (s_with_extra ("type", "\x05", 1), HR_E_BAD_TYPE);
    assert_int_equal (s_with_extra ("id", "\xc0", 1), HR_E_BAD_TYPE);
    assert_int_equal (s_with_extra ("head", "\x01", 1), HR_E_BAD_TYPE);
    assert_int_equal (s_with_extra ("head", "\xc0", 1), HR_E_BAD_TYPE);
}

static void
test_bad_channel_is_bad_channel (void **state)
{
    assert_int_equal (s_with_field ("ch", "\xa0", 1), HR_E_BAD_CHANNEL);
    assert_int_equal (s_with_field ("ch", "\xa3" "a b", 4), HR_E_BAD_CHANNEL);
    assert_int_equal (s_with_field ("ch", "\xa2" "a|", 3), HR_E_BAD_CHANNEL);
    assert_int_equal (s_with_field ("ch", "\xa3" "a\0b", 4), HR_E_BAD_CHANNEL);
    assert_int_equal (s_with_field ("ch", "\xa2\xc3\xa9", 3), HR_E_BAD_CHANNEL);
    uint8_t long_name [2 + 129] = { 0xd9, 129 };
    memset (long_name + 2, 'a', 129);
    assert_int_equal (s_with_field ("ch", long_name, sizeof long_name), HR_E_BAD_CHANNEL);
    long_name [1] = 128;
    assert_int_equal (s_with_field ("ch", long_name, sizeof long_name - 1), HR_OK);
}

static void
test_out_of_format_epoch_type_id_are_bad_field (void **state)
{
    assert_int_equal (s_with_field ("epoch", "\xa0", 1), HR_E_BAD_FIELD);
    assert_int_equal (s_with_field ("epoch", "\xa3" "a b", 4), HR_E_BAD_FIELD);
    uint8_t epoch [1 + 33] = { 0xa0 | 31 };
    memset (epoch + 1, 'e', 33);
    assert_int_equal (s_with_field ("epoch", epoch, 32), HR_OK);          //  31 bytes
    uint8_t epoch33 [2 + 33] = { 0xd9, 33 };
    memset (epoch33 + 2, 'e', 33);
    assert_int_equal (s_with_field ("epoch", epoch33, 35), HR_E_BAD_FIELD);
    epoch33 [1] = 32;
    assert_int_equal (s_with_field ("epoch", epoch33, 34), HR_OK);
    assert_int_equal (s_with_extra ("type", "\xa0", 1), HR_E_BAD_FIELD);
    assert_int_equal (s_with_extra ("type", "\xa2" "a!", 3), HR_E_BAD_FIELD);
    uint8_t type [2 + 65] = { 0xd9, 65 };
    memset (type + 2, 't', 65);
    assert_int_equal (s_with_extra ("type", type, sizeof type), HR_E_BAD_FIELD);
    type [1] = 64;
    assert_int_equal (s_with_extra ("type", type, sizeof type - 1), HR_OK);
    assert_int_equal (s_with_extra ("id", "\xa0", 1), HR_E_BAD_FIELD);
    assert_int_equal (s_with_extra ("id", "\xa3" "a b", 4), HR_E_BAD_FIELD);
    assert_int_equal (s_with_extra ("id", "\xa2" "a\x7f", 3), HR_E_BAD_FIELD);
    assert_int_equal (s_with_extra ("id", "\xa3" "!~|", 4), HR_OK);
}

static void
test_trailing_bytes_are_trailing_bytes (void **state)
{
    s_valid_event ();
    tu_raw ("\xc0", 1);
    assert_int_equal (s_decode_rc (), HR_E_TRAILING_BYTES);
}

static void
test_truncated_frame_never_decodes (void **state)
{
    s_valid_event ();
    hr_buf_t full = HR_BUF_INIT;
    hr_buf_put (&full, tu_frame.data, tu_frame.size);
    for (size_t cut = 0; cut < full.size; cut++) {
        hr_event_t ev;
        hr_error_t rc = hr_event_decode (full.data, cut, &ev);
        if (rc != HR_E_TRUNCATED && rc != HR_E_BAD_LENGTH)
            fail_msg ("frame cut to %zu of %zu bytes: got %d", cut, full.size, rc);
    }
    hr_buf_free (&full);
}

static void
test_truncated_inside_seq_is_truncated (void **state)
{
    //  {"ch": "c", "seq": uint64 with 3 of 8 bytes}
    static const uint8_t frame [] = { 0x85, 0xa2, 'c', 'h', 0xa1, 'c', 0xa3, 's', 'e', 'q',
                                      0xcf, 0x00, 0x00, 0x00 };
    hr_event_t ev;
    assert_int_equal (hr_event_decode (frame, sizeof frame, &ev), HR_E_TRUNCATED);
}

static void
test_huge_declared_map_count_is_bad_length (void **state)
{
    static const uint8_t frame [] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa2, 'c', 'h', 0xa1, 'c' };
    hr_event_t ev;
    assert_int_equal (hr_event_decode (frame, sizeof frame, &ev), HR_E_BAD_LENGTH);
}

static void
test_huge_declared_data_count_is_bad_length (void **state)
{
    assert_int_equal (s_with_field ("data", "\xdd\xff\xff\xff\xff", 5), HR_E_BAD_LENGTH);
    assert_int_equal (s_with_field ("data", "\xdb\xff\xff\xff\xff", 5), HR_E_BAD_LENGTH);
}

#ifdef TU_HAVE_ASAN
static volatile int s_mallocs, s_counting;
static void s_on_malloc (const volatile void *p, size_t n) { if (s_counting) s_mallocs++; }
static void s_on_free (const volatile void *p) { }
#endif

static void
test_decode_allocates_nothing (void **state)
{
#ifdef TU_HAVE_ASAN
    __sanitizer_install_malloc_and_free_hooks (s_on_malloc, s_on_free);
    static const uint8_t huge [] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa2, 'c', 'h', 0xa1, 'c' };
    s_valid_event ();
    hr_event_t ev;
    s_mallocs = 0;
    s_counting = 1;
    hr_error_t bad = hr_event_decode (huge, sizeof huge, &ev);
    hr_error_t good = hr_event_decode (tu_frame.data, tu_frame.size, &ev);
    s_counting = 0;
    assert_int_equal (bad, HR_E_BAD_LENGTH);
    assert_int_equal (good, HR_OK);
    assert_int_equal (s_mallocs, 0);
#else
    skip ();
#endif
}

static void
test_data_nesting_32_ok_33_too_deep (void **state)
{
    uint8_t nested [40];
    for (int depth = 32; depth <= 33; depth++) {
        memset (nested, 0x91, sizeof nested);
        nested [depth - 1] = 0x90;
        assert_int_equal (s_with_field ("data", nested, (size_t) depth),
                          depth == 32? HR_OK: HR_E_TOO_DEEP);
    }
}

static void
test_unknown_key_nesting_33_is_too_deep (void **state)
{
    uint8_t nested [33];
    memset (nested, 0x91, sizeof nested);
    nested [32] = 0x90;
    assert_int_equal (s_with_extra ("later", nested, sizeof nested), HR_E_TOO_DEEP);
}

static void
test_0xc1_in_data_is_bad_msgpack (void **state)
{
    assert_int_equal (s_with_field ("data", "\xc1", 1), HR_E_BAD_MSGPACK);
}

static void
test_decode_resets_event_before_filling (void **state)
{
    hr_event_t ev;
    memset (&ev, 0x5a, sizeof ev);
    s_valid_event ();
    assert_int_equal (s_decode (&ev), HR_OK);
    assert_null (ev.type);
    assert_null (ev.id);
    assert_false (ev.head);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip_with_type_and_id),
        cmocka_unit_test (test_round_trip_without_type_and_id),
        cmocka_unit_test (test_round_trip_extreme_seq_and_ts),
        cmocka_unit_test (test_round_trip_head_marker_with_nil_epoch),
        cmocka_unit_test (test_round_trip_head_marker_with_epoch),
        cmocka_unit_test (test_encode_appends_to_buffer),
        cmocka_unit_test (test_decodes_msgpack_c_frame_in_any_key_order),
        cmocka_unit_test (test_decodes_every_data_kind),
        cmocka_unit_test (test_unknown_keys_are_skipped),
        cmocka_unit_test (test_unknown_key_value_is_still_validated),
        cmocka_unit_test (test_topic_is_channel_and_bar_replacing_buffer),
        cmocka_unit_test (test_not_a_map_is_bad_type),
        cmocka_unit_test (test_valid_event_fixture_decodes),
        cmocka_unit_test (test_missing_ch_is_missing_field),
        cmocka_unit_test (test_missing_seq_is_missing_field),
        cmocka_unit_test (test_missing_epoch_is_missing_field),
        cmocka_unit_test (test_missing_ts_is_missing_field),
        cmocka_unit_test (test_missing_data_is_missing_field),
        cmocka_unit_test (test_head_false_still_requires_ts_and_data),
        cmocka_unit_test (test_head_marker_requires_ch_seq_epoch),
        cmocka_unit_test (test_event_with_nil_epoch_is_bad_field),
        cmocka_unit_test (test_duplicate_key_is_duplicate_field),
        cmocka_unit_test (test_non_string_key_is_bad_type),
        cmocka_unit_test (test_wrong_field_types_are_bad_type),
        cmocka_unit_test (test_bad_channel_is_bad_channel),
        cmocka_unit_test (test_out_of_format_epoch_type_id_are_bad_field),
        cmocka_unit_test (test_trailing_bytes_are_trailing_bytes),
        cmocka_unit_test (test_truncated_frame_never_decodes),
        cmocka_unit_test (test_truncated_inside_seq_is_truncated),
        cmocka_unit_test (test_huge_declared_map_count_is_bad_length),
        cmocka_unit_test (test_huge_declared_data_count_is_bad_length),
        cmocka_unit_test (test_decode_allocates_nothing),
        cmocka_unit_test (test_data_nesting_32_ok_33_too_deep),
        cmocka_unit_test (test_unknown_key_nesting_33_is_too_deep),
        cmocka_unit_test (test_0xc1_in_data_is_bad_msgpack),
        cmocka_unit_test (test_decode_resets_event_before_filling),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
