/*  test_hrb_repl_msg: the frames of synchronous replication (broker/
    hrb_peer_msg: "repl", "rsnap", "rack").

    Each round trips with its events, keys and misses; the decoder refuses
    every field missing, any field repeated, any field of the wrong kind,
    any field the type does not carry, a frame numbered r 0, a fence that
    names no newer view, a bad or malformed miss, more than
    HRB_PEER_MISSES_MAX misses, an envelope over the body bound, a frame
    over HRB_HANDOFF_FRAME_MAX, and truncation at every byte.  */
#include "hrb_backup.h"
#include "hrb_peer_msg.h"

#include "hr_channel.h"
#include "hr_epoch.h"
#include "support.h"

#include <stdio.h>

#define S_ALL 0x7u
#define S_MAX 64
#define S_EPOCH "0000010000000001aaaaaaaaaaaaaaaa"

//  The backup lists as many misses as a rack may carry.
_Static_assert (HRB_PEER_MISSES_MAX == HRB_BACKUP_MISSES_MAX, "one bound for misses");

static hr_error_t
s_decode (const hr_buf_t *buf, hrb_peer_msg_t *msg)
{
    return hrb_peer_msg_decode (buf->data, buf->size, S_ALL, S_MAX, msg);
}

static hr_error_t
s_decode_frame (void)
{
    hrb_peer_msg_t msg;
    return s_decode (&tu_frame, &msg);
}

//  The fields of each type, in the order the encoder writes them.
static const char *s_repl [] = { "t", "from", "cf", "n", "r", "first", "e", "ev", NULL };
static const char *s_rsnap [] = { "t", "from", "cf", "n", "r", "first", "e", "ch", "epoch",
                                  "seq", "part", "last", "ev", "keys", NULL };
static const char *s_rack [] = { "t", "from", "cf", "n", "r", "gap", "s", "fence", "inst",
                                 "miss", NULL };
//  Fields of other types, none of which a replication frame carries
static const char *s_foreign [] = { "term", "view", "stamp", "leaving", "granted", "fid",
                                    "req", "rep", "count", "end", "base", NULL };

static size_t
s_count (const char **fields)
{
    size_t n = 0;
    while (fields [n])
        n++;
    return n;
}

static bool
s_has (const char **fields, const char *key)
{
    for (size_t i = 0; fields [i]; i++)
        if (strcmp (fields [i], key) == 0)
            return true;
    return false;
}

//  Packs key with a value valid for it (type names t's value).
static void
s_field (const char *key, const char *type)
{
    tu_key (key);
    if (strcmp (key, "t") == 0)
        hr_pack_cstr (&tu_pk, type);
    else if (strcmp (key, "from") == 0)
        hr_pack_cstr (&tu_pk, "b1");
    else if (strcmp (key, "ch") == 0)
        hr_pack_cstr (&tu_pk, "room");
    else if (strcmp (key, "epoch") == 0)
        hr_pack_cstr (&tu_pk, S_EPOCH);
    else if (strcmp (key, "first") == 0 || strcmp (key, "last") == 0
         ||  strcmp (key, "end") == 0 || strcmp (key, "leaving") == 0
         ||  strcmp (key, "granted") == 0)
        msgpack_pack_true (&tu_pk);
    else if (strcmp (key, "gap") == 0 || strcmp (key, "fence") == 0)
        msgpack_pack_false (&tu_pk);
    else if (strcmp (key, "ev") == 0) {
        msgpack_pack_array (&tu_pk, 1);
        msgpack_pack_bin (&tu_pk, 2);
        msgpack_pack_bin_body (&tu_pk, "e1", 2);
    }
    else if (strcmp (key, "keys") == 0) {
        msgpack_pack_map (&tu_pk, 1);
        hr_pack_cstr (&tu_pk, "k1");
        msgpack_pack_uint64 (&tu_pk, 6);
    }
    else if (strcmp (key, "miss") == 0) {
        msgpack_pack_array (&tu_pk, 1);
        msgpack_pack_array (&tu_pk, 2);
        hr_pack_cstr (&tu_pk, "room");
        msgpack_pack_uint64 (&tu_pk, 2);
    }
    else if (strcmp (key, "view") == 0) {
        msgpack_pack_map (&tu_pk, 5);
        tu_kuint ("n", 5);
        tu_kuint ("m", 7);
        tu_kuint ("o", 7);
        tu_kuint ("h", 0);
        tu_kuint ("f", 4);
    }
    else if (strcmp (key, "req") == 0 || strcmp (key, "rep") == 0) {
        msgpack_pack_bin (&tu_pk, 1);
        msgpack_pack_bin_body (&tu_pk, "x", 1);
    }
    else
        msgpack_pack_uint64 (&tu_pk, strcmp (key, "seq") == 0? 7: 5);
}

//  A frame of type with its fields but skip (NULL: all), declaring extra
//  more pairs that the caller appends.
static void
s_frame (const char *type, const char **fields, const char *skip, size_t extra)
{
    tu_map (s_count (fields) + extra - (skip? 1: 0));
    for (size_t i = 0; fields [i]; i++)
        if (!skip || strcmp (fields [i], skip))
            s_field (fields [i], type);
}

static struct {
    const char *name;
    const char **fields;
    hrb_peer_kind_t kind;
} s_types [] = {
    { "repl", s_repl, HRB_PEER_REPL },
    { "rsnap", s_rsnap, HRB_PEER_RSNAP },
    { "rack", s_rack, HRB_PEER_RACK },
};
#define S_TYPES (sizeof s_types / sizeof s_types [0])

static void
test_repl_round_trips (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_span_t events [] = { { "e1", 2, 0 }, { "e22", 3, 0 } };
    hrb_peer_msg_encode_repl (&buf, "b2", 9, 4, 17, true, UINT64_MAX, events, 2);
    hrb_peer_msg_t msg;
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.kind, HRB_PEER_REPL);
    tu_assert_span (msg.from, msg.from_len, "b2");
    assert_int_equal (msg.cf, 9);
    assert_int_equal (msg.number, 4);
    assert_int_equal (msg.r, 17);
    assert_true (msg.first);
    assert_true (msg.echo == UINT64_MAX);
    assert_null (msg.ch);
    hrb_peer_iter_t iter;
    const uint8_t *data;
    size_t len;
    hrb_peer_msg_events (&msg, &iter);
    assert_true (hrb_peer_iter_event (&iter, &data, &len));
    tu_assert_span ((const char *) data, len, "e1");
    assert_true (hrb_peer_iter_event (&iter, &data, &len));
    tu_assert_span ((const char *) data, len, "e22");
    assert_false (hrb_peer_iter_event (&iter, &data, &len));
    //  A keepalive: no events, not first, no stamp to echo yet
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_repl (&buf, "b2", 9, 4, 18, false, 0, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.kind, HRB_PEER_REPL);
    assert_int_equal (msg.r, 18);
    assert_false (msg.first);
    assert_int_equal (msg.echo, 0);
    assert_int_equal (msg.ev_count, 0);
    hrb_peer_msg_events (&msg, &iter);
    assert_false (hrb_peer_iter_event (&iter, &data, &len));
    hr_buf_free (&buf);
}

static void
test_rsnap_round_trips (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_span_t events [] = { { "e1", 2, 0 } };
    hrb_peer_span_t keys [] = { { "k1", 2, 6 }, { "k2", 2, 7 } };
    hrb_peer_msg_encode_rsnap (&buf, "b1", 9, 4, 3, false, 1234, "room", 4, S_EPOCH, 7, 1,
                               true, events, 1, keys, 2);
    hrb_peer_msg_t msg;
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.kind, HRB_PEER_RSNAP);
    assert_int_equal (msg.number, 4);
    assert_int_equal (msg.r, 3);
    assert_false (msg.first);
    assert_int_equal (msg.echo, 1234);
    tu_assert_span (msg.ch, msg.ch_len, "room");
    tu_assert_span (msg.epoch, HR_EPOCH_LEN, S_EPOCH);
    assert_int_equal (msg.seq, 7);
    assert_int_equal (msg.part, 1);
    assert_true (msg.last);
    hrb_peer_iter_t iter;
    const uint8_t *data;
    const char *id;
    size_t len;
    uint64_t seq;
    hrb_peer_msg_events (&msg, &iter);
    assert_true (hrb_peer_iter_event (&iter, &data, &len));
    tu_assert_span ((const char *) data, len, "e1");
    assert_false (hrb_peer_iter_event (&iter, &data, &len));
    hrb_peer_msg_keys (&msg, &iter);
    assert_true (hrb_peer_iter_key (&iter, &id, &len, &seq));
    tu_assert_span (id, len, "k1");
    assert_int_equal (seq, 6);
    assert_true (hrb_peer_iter_key (&iter, &id, &len, &seq));
    tu_assert_span (id, len, "k2");
    assert_int_equal (seq, 7);
    assert_false (hrb_peer_iter_key (&iter, &id, &len, &seq));
    //  The same chunk as a handoff: the same bytes after the frame's header
    hr_buf_t handoff = HR_BUF_INIT;
    hrb_peer_msg_encode_handoff (&handoff, "b1", 9, 4, "room", 4, S_EPOCH, 7, 1, true,
                                 events, 1, keys, 2);
    hrb_peer_msg_t chunk;
    assert_int_equal (s_decode (&handoff, &chunk), HR_OK);
    assert_int_equal (chunk.kind, HRB_PEER_HANDOFF);
    assert_int_equal (chunk.ev_size, msg.ev_size);
    assert_memory_equal (chunk.ev, msg.ev, msg.ev_size);
    assert_int_equal (chunk.keys_size, msg.keys_size);
    assert_memory_equal (chunk.keys, msg.keys, msg.keys_size);
    hr_buf_free (&handoff);
    hr_buf_free (&buf);
}

static void
test_rack_round_trips (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    const char *channels [] = { "room", "orders:7" };
    uint64_t rs [] = { 12, UINT64_MAX };
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 15, true, 888, false, 4, channels, rs, 2);
    hrb_peer_msg_t msg;
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.kind, HRB_PEER_RACK);
    tu_assert_span (msg.from, msg.from_len, "b3");
    assert_int_equal (msg.number, 4);
    assert_int_equal (msg.r, 15);
    assert_true (msg.gap);
    assert_int_equal (msg.stamp, 888);
    assert_false (msg.fence);
    assert_int_equal (msg.installed, 4);
    assert_int_equal (msg.miss_count, 2);
    hrb_peer_iter_t iter;
    const char *ch;
    size_t len;
    uint64_t r;
    hrb_peer_msg_misses (&msg, &iter);
    assert_true (hrb_peer_iter_miss (&iter, &ch, &len, &r));
    tu_assert_span (ch, len, "room");
    assert_int_equal (r, 12);
    assert_true (hrb_peer_iter_miss (&iter, &ch, &len, &r));
    tu_assert_span (ch, len, "orders:7");
    assert_true (r == UINT64_MAX);
    assert_false (hrb_peer_iter_miss (&iter, &ch, &len, &r));
    //  A fence: nothing acknowledged in this session (r 0), no miss
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 0, false, 889, true, 6, NULL, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.r, 0);
    assert_false (msg.gap);
    assert_true (msg.fence);
    assert_int_equal (msg.installed, 6);
    hrb_peer_msg_misses (&msg, &iter);
    assert_false (hrb_peer_iter_miss (&iter, &ch, &len, &r));
    //  Not a rack: no misses to walk
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_repl (&buf, "b2", 9, 4, 1, true, 0, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    hrb_peer_msg_misses (&msg, &iter);
    assert_false (hrb_peer_iter_miss (&iter, &ch, &len, &r));
    hr_buf_free (&buf);
}

static void
test_built_frames_are_accepted (void **state)
{
    //  The frames the refusals below start from
    for (size_t i = 0; i < S_TYPES; i++) {
        s_frame (s_types [i].name, s_types [i].fields, NULL, 0);
        hrb_peer_msg_t msg;
        assert_int_equal (s_decode (&tu_frame, &msg), HR_OK);
        assert_int_equal (msg.kind, s_types [i].kind);
    }
}

static void
test_every_missing_field_is_refused (void **state)
{
    for (size_t i = 0; i < S_TYPES; i++)
        for (const char **field = s_types [i].fields; *field; field++) {
            s_frame (s_types [i].name, s_types [i].fields, *field, 0);
            if (s_decode_frame () != HR_E_MISSING_FIELD)
                fail_msg ("%s without %s", s_types [i].name, *field);
        }
}

static void
test_every_repeated_field_is_refused (void **state)
{
    for (size_t i = 0; i < S_TYPES; i++)
        for (const char **field = s_types [i].fields; *field; field++) {
            s_frame (s_types [i].name, s_types [i].fields, NULL, 1);
            s_field (*field, s_types [i].name);
            if (s_decode_frame () != HR_E_DUPLICATE_FIELD)
                fail_msg ("%s with %s twice", s_types [i].name, *field);
        }
}

static void
test_every_wrong_kind_is_refused (void **state)
{
    //  A string where a number, bool, array or map goes; a number where a
    //  string goes
    for (size_t i = 0; i < S_TYPES; i++)
        for (const char **field = s_types [i].fields; *field; field++) {
            s_frame (s_types [i].name, s_types [i].fields, *field, 1);
            bool str = strcmp (*field, "t") == 0 || strcmp (*field, "from") == 0
                    || strcmp (*field, "ch") == 0 || strcmp (*field, "epoch") == 0;
            if (str)
                tu_kuint (*field, 1);
            else
                tu_kstr (*field, "1");
            if (s_decode_frame () != HR_E_BAD_TYPE)
                fail_msg ("%s with %s of the wrong kind", s_types [i].name, *field);
        }
    //  An event as a string
    s_frame ("repl", s_repl, "ev", 1);
    tu_key ("ev");
    msgpack_pack_array (&tu_pk, 1);
    hr_pack_cstr (&tu_pk, "e1");
    assert_int_equal (s_decode_frame (), HR_E_BAD_TYPE);
}

static void
test_every_foreign_field_is_refused (void **state)
{
    //  Each other replication type's fields, and every other type's
    const char **sets [] = { s_repl, s_rsnap, s_rack, s_foreign };
    for (size_t i = 0; i < S_TYPES; i++)
        for (size_t set = 0; set < 4; set++)
            for (const char **field = sets [set]; *field; field++) {
                if (s_has (s_types [i].fields, *field))
                    continue;
                s_frame (s_types [i].name, s_types [i].fields, NULL, 1);
                s_field (*field, s_types [i].name);
                if (s_decode_frame () != HR_E_BAD_FIELD)
                    fail_msg ("%s with %s", s_types [i].name, *field);
            }
    s_frame ("repl", s_repl, NULL, 1);
    tu_kuint ("later", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
}

static void
test_bad_misses_are_refused (void **state)
{
    //  The second of two misses, as raw MessagePack
    struct {
        const char *bytes;
        size_t size;
        hr_error_t want;
    } misses [] = {
        { "\x92\xa1" "a" "\x00", 4, HR_OK },
        { "\x92\xa3" "a b" "\x01", 6, HR_E_BAD_FIELD },     //  not a channel name
        { "\x92\xa0\x01", 3, HR_E_BAD_FIELD },              //  an empty one
        { "\x93\xa1" "a" "\x01\x01", 5, HR_E_BAD_TYPE },    //  not a pair
        { "\x91\xa1" "a", 3, HR_E_BAD_TYPE },
        { "\x81\xa1" "a" "\x01", 4, HR_E_BAD_TYPE },         //  a map
        { "\xa1" "a", 2, HR_E_BAD_TYPE },                     //  a bare channel
        { "\x92\xa1" "a" "\xa1" "1", 5, HR_E_BAD_TYPE },     //  r a string
        { "\x92\xa1" "a" "\xff", 4, HR_E_BAD_TYPE },         //  r negative
        { "\x92\x01\x01", 3, HR_E_BAD_TYPE },                //  the channel a number
    };
    for (size_t i = 0; i < sizeof misses / sizeof misses [0]; i++) {
        s_frame ("rack", s_rack, "miss", 1);
        tu_key ("miss");
        msgpack_pack_array (&tu_pk, 2);
        msgpack_pack_array (&tu_pk, 2);
        hr_pack_cstr (&tu_pk, "room");
        msgpack_pack_uint64 (&tu_pk, 1);
        tu_raw (misses [i].bytes, misses [i].size);
        if (s_decode_frame () != misses [i].want)
            fail_msg ("miss %zu: %s", i, hr_error_code (s_decode_frame ()));
    }
    //  A channel name over HR_CHANNEL_MAX
    char name [HR_CHANNEL_MAX + 2];
    memset (name, 'a', sizeof name - 1);
    name [sizeof name - 1] = 0;
    const char *channels [] = { name };
    uint64_t rs [] = { 1 };
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_msg_t msg;
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 1, false, 1, false, 4, channels, rs, 1);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    name [HR_CHANNEL_MAX] = 0;
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 1, false, 1, false, 4, channels, rs, 1);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    hr_buf_free (&buf);
}

static void
test_misses_are_bounded (void **state)
{
    size_t count = HRB_PEER_MISSES_MAX + 1;
    char (*names) [16] = hr_malloc (count * sizeof *names);
    const char **channels = hr_malloc (count * sizeof *channels);
    uint64_t *rs = hr_malloc (count * sizeof *rs);
    for (size_t i = 0; i < count; i++) {
        snprintf (names [i], sizeof names [i], "ch%zu", i);
        channels [i] = names [i];
        rs [i] = i + 1;
    }
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_msg_t msg;
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 300, false, 1, false, 4, channels, rs,
                              HRB_PEER_MISSES_MAX);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    hrb_peer_iter_t iter;
    const char *ch;
    size_t len, seen = 0;
    uint64_t r;
    hrb_peer_msg_misses (&msg, &iter);
    while (hrb_peer_iter_miss (&iter, &ch, &len, &r)) {
        tu_assert_span (ch, len, names [seen]);
        assert_int_equal (r, rs [seen]);
        seen++;
    }
    assert_int_equal (seen, HRB_PEER_MISSES_MAX);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 300, false, 1, false, 4, channels, rs, count);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    //  Too many is refused before any is read (garbage here)
    s_frame ("rack", s_rack, "miss", 1);
    tu_key ("miss");
    msgpack_pack_array (&tu_pk, count);
    for (size_t i = 0; i < count; i++)
        tu_raw ("\xc1", 1);
    assert_int_equal (s_decode_frame (), HR_E_BAD_FIELD);
    hr_buf_free (&buf);
    free (names);
    free (channels);
    free (rs);
}

static void
test_bad_values_are_refused (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_msg_t msg;
    //  Replication frames count from 1; a rack may say 0 (nothing yet)
    hrb_peer_msg_encode_repl (&buf, "b2", 9, 4, 0, true, 0, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rsnap (&buf, "b2", 9, 4, 0, true, 0, "room", 4, S_EPOCH, 7, 0, true,
                               NULL, 0, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    //  A fence names a view newer than the frames it refuses
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 0, false, 1, true, 4, NULL, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 0, false, 1, true, 3, NULL, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rack (&buf, "b3", 9, 4, 0, false, 1, true, 5, NULL, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    //  A snapshot chunk is checked as a handoff's: channel, epoch, keys
    hrb_peer_span_t key = { "k1", 2, 8 };
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rsnap (&buf, "b2", 9, 4, 1, true, 0, "a b", 3, S_EPOCH, 7, 0, true,
                               NULL, 0, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rsnap (&buf, "b2", 9, 4, 1, true, 0, "room", 4,
                               "0000010000000001AAAAAAAAAAAAAAAA", 7, 0, true, NULL, 0, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rsnap (&buf, "b2", 9, 4, 1, true, 0, "room", 4, S_EPOCH, 7, 0, true,
                               NULL, 0, &key, 1);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    key.seq = 0;
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rsnap (&buf, "b2", 9, 4, 1, true, 0, "room", 4, S_EPOCH, 7, 0, true,
                               NULL, 0, &key, 1);
    assert_int_equal (s_decode (&buf, &msg), HR_E_BAD_FIELD);
    hr_buf_free (&buf);
}

static void
test_frames_are_bounded (void **state)
{
    hr_buf_t buf = HR_BUF_INIT;
    hrb_peer_msg_t msg;
    char big [S_MAX + 1];
    memset (big, 'x', sizeof big);
    //  One envelope over the body bound, in either frame
    hrb_peer_span_t over = { big, S_MAX + 1, 0 };
    hrb_peer_msg_encode_repl (&buf, "b2", 9, 4, 1, true, 0, &over, 1);
    assert_int_equal (s_decode (&buf, &msg), HR_E_FRAME_TOO_LARGE);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rsnap (&buf, "b2", 9, 4, 1, true, 0, "room", 4, S_EPOCH, 7, 0, true,
                               &over, 1, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_FRAME_TOO_LARGE);
    //  Many envelopes each within the bound, the frame over it
    size_t count = HRB_HANDOFF_FRAME_MAX / S_MAX + 1;
    hrb_peer_span_t *events = hr_malloc (count * sizeof *events);
    for (size_t i = 0; i < count; i++)
        events [i] = (hrb_peer_span_t) { big, S_MAX, 0 };
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_repl (&buf, "b2", 9, 4, 1, true, 0, events, count);
    assert_true (buf.size > HRB_HANDOFF_FRAME_MAX);
    assert_int_equal (s_decode (&buf, &msg), HR_E_FRAME_TOO_LARGE);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rsnap (&buf, "b2", 9, 4, 1, true, 0, "room", 4, S_EPOCH, 7, 0, true,
                               events, count, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_E_FRAME_TOO_LARGE);
    //  Just within it: accepted
    size_t within = HRB_HANDOFF_CHUNK_MAX / (S_MAX + 2);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_repl (&buf, "b2", 9, 4, 1, true, 0, events, within);
    assert_true (buf.size <= HRB_HANDOFF_FRAME_MAX);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    assert_int_equal (msg.ev_count, within);
    hr_buf_reset (&buf);
    hrb_peer_msg_encode_rsnap (&buf, "b2", 9, 4, 1, true, 0, "room", 4, S_EPOCH, 7, 0, true,
                               events, within, NULL, 0);
    assert_int_equal (s_decode (&buf, &msg), HR_OK);
    free (events);
    hr_buf_free (&buf);
}

static void
test_truncated_and_trailing_bytes_are_refused (void **state)
{
    hr_buf_t bufs [3] = { HR_BUF_INIT, HR_BUF_INIT, HR_BUF_INIT };
    hrb_peer_span_t events [] = { { "e1", 2, 0 } };
    hrb_peer_span_t keys [] = { { "k1", 2, 6 } };
    const char *channels [] = { "room" };
    uint64_t rs [] = { 2 };
    hrb_peer_msg_encode_repl (&bufs [0], "b2", 9, 4, 300, true, 70000, events, 1);
    hrb_peer_msg_encode_rsnap (&bufs [1], "b2", 9, 4, 300, true, 70000, "room", 4, S_EPOCH,
                               7, 0, true, events, 1, keys, 1);
    hrb_peer_msg_encode_rack (&bufs [2], "b3", 9, 4, 300, false, 70000, false, 4,
                              channels, rs, 1);
    hrb_peer_msg_t msg;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (s_decode (&bufs [i], &msg), HR_OK);
        for (size_t len = 0; len < bufs [i].size; len++)
            assert_int_not_equal (hrb_peer_msg_decode (bufs [i].data, len, S_ALL, S_MAX, &msg),
                                  HR_OK);
        hr_buf_putc (&bufs [i], 0);
        assert_int_equal (s_decode (&bufs [i], &msg), HR_E_TRAILING_BYTES);
        hr_buf_free (&bufs [i]);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_repl_round_trips),
        cmocka_unit_test (test_rsnap_round_trips),
        cmocka_unit_test (test_rack_round_trips),
        cmocka_unit_test (test_built_frames_are_accepted),
        cmocka_unit_test (test_every_missing_field_is_refused),
        cmocka_unit_test (test_every_repeated_field_is_refused),
        cmocka_unit_test (test_every_wrong_kind_is_refused),
        cmocka_unit_test (test_every_foreign_field_is_refused),
        cmocka_unit_test (test_bad_misses_are_refused),
        cmocka_unit_test (test_misses_are_bounded),
        cmocka_unit_test (test_bad_values_are_refused),
        cmocka_unit_test (test_frames_are_bounded),
        cmocka_unit_test (test_truncated_and_trailing_bytes_are_refused),
    };
    return cmocka_run_group_tests (tests, tu_setup, tu_teardown);
}
