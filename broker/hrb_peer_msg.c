/*  hrb_peer_msg: encoding with msgpack-c's packer, decoding with hr_mpack
    (strict, bounded, no allocation).  */
#include "hrb_peer_msg.h"
#include "hr_channel.h"
#include "hr_epoch.h"
#include "hr_event.h"
#include "hr_mpack.h"
#include "hr_pack.h"

#include <assert.h>
#include <string.h>

//  Fields, as bits: which a frame had, which its type needs.
enum {
    F_T = 1 << 0, F_FROM = 1 << 1, F_CF = 1 << 2, F_TERM = 1 << 3, F_VIEW = 1 << 4,
    F_STAMP = 1 << 5, F_LEAVING = 1 << 6, F_GRANTED = 1 << 7, F_N = 1 << 8,
    F_FID = 1 << 9, F_REQ = 1 << 10, F_REP = 1 << 11, F_CH = 1 << 12, F_EPOCH = 1 << 13,
    F_SEQ = 1 << 14, F_PART = 1 << 15, F_LAST = 1 << 16, F_EV = 1 << 17, F_KEYS = 1 << 18,
    F_COUNT = 1 << 19, F_END = 1 << 20, F_BASE = 1 << 21, F_R = 1 << 22, F_FIRST = 1 << 23,
    F_E = 1 << 24, F_S = 1 << 25, F_GAP = 1 << 26, F_FENCE = 1 << 27, F_INST = 1 << 28,
    F_MISS = 1 << 29
};

#define S_COMMON (F_T | F_FROM | F_CF)
//  A channel's chunk (handoff, rsnap), and a replication frame's header
#define S_CHUNK (F_N | F_CH | F_EPOCH | F_SEQ | F_PART | F_LAST | F_EV | F_KEYS)
#define S_FRAME (F_N | F_R | F_FIRST | F_E)

//  One row per type: wire name, kind, view type, fields it must carry and
//  fields it may carry.
typedef struct {
    const char *name;
    hrb_peer_kind_t kind;
    hrb_view_msg_type_t type;
    unsigned need, may;
} s_type_t;

static const s_type_t s_types [] = {
    { "hb", HRB_PEER_VIEW, HRB_VIEW_HEARTBEAT,
      S_COMMON | F_TERM | F_VIEW | F_STAMP | F_LEAVING, 0 },
    { "hback", HRB_PEER_VIEW, HRB_VIEW_HEARTBEAT_ACK, S_COMMON | F_TERM | F_VIEW | F_STAMP, 0 },
    { "vreq", HRB_PEER_VIEW, HRB_VIEW_VOTE_REQUEST, S_COMMON | F_TERM | F_VIEW, 0 },
    { "vote", HRB_PEER_VIEW, HRB_VIEW_VOTE, S_COMMON | F_TERM | F_GRANTED | F_BASE, 0 },
    { "fwd", HRB_PEER_FWD, 0, S_COMMON | F_N | F_REQ, F_FID },
    { "fwdack", HRB_PEER_FWDACK, 0, S_COMMON | F_N | F_FID | F_REP, 0 },
    { "handoff", HRB_PEER_HANDOFF, 0, S_COMMON | S_CHUNK, 0 },
    { "handoff_end", HRB_PEER_HANDOFF_END, 0, S_COMMON | F_N | F_COUNT, 0 },
    { "handoff_ack", HRB_PEER_HANDOFF_ACK, 0, S_COMMON | F_N, F_CH | F_END },
    { "repl", HRB_PEER_REPL, 0, S_COMMON | S_FRAME | F_EV, 0 },
    { "rsnap", HRB_PEER_RSNAP, 0, S_COMMON | S_FRAME | S_CHUNK, 0 },
    { "rack", HRB_PEER_RACK, 0, S_COMMON | F_N | F_R | F_GAP | F_S | F_FENCE | F_INST | F_MISS,
      0 },
};
#define S_TYPES (sizeof s_types / sizeof s_types [0])

const char *
hrb_peer_msg_type_name (hrb_view_msg_type_t type)
{
    for (size_t i = 0; i < S_TYPES; i++)
        if (s_types [i].kind == HRB_PEER_VIEW && s_types [i].type == type)
            return s_types [i].name;
    return "?";
}

static const s_type_t *
s_type_of_view (hrb_view_msg_type_t type)
{
    for (size_t i = 0; i < S_TYPES; i++)
        if (s_types [i].kind == HRB_PEER_VIEW && s_types [i].type == type)
            return &s_types [i];
    return NULL;
}

static void
s_kuint (msgpack_packer *pk, const char *key, uint64_t value)
{
    hr_pack_cstr (pk, key);
    msgpack_pack_uint64 (pk, value);
}

static void
s_kbool (msgpack_packer *pk, const char *key, bool value)
{
    hr_pack_cstr (pk, key);
    if (value)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

static void
s_kbin (msgpack_packer *pk, const char *key, const void *data, size_t len)
{
    hr_pack_cstr (pk, key);
    msgpack_pack_bin (pk, len);
    msgpack_pack_bin_body (pk, data, len);
}

//  The map header and the fields every message has.
static void
s_head (msgpack_packer *pk, size_t pairs, const char *type, const char *from, uint32_t cf)
{
    msgpack_pack_map (pk, pairs);
    hr_pack_cstr (pk, "t");
    hr_pack_cstr (pk, type);
    hr_pack_cstr (pk, "from");
    hr_pack_cstr (pk, from);
    s_kuint (pk, "cf", cf);
}

static size_t
s_popcount (unsigned bits)
{
    return (size_t) __builtin_popcount (bits);
}

void
hrb_peer_msg_encode_view (hr_buf_t *out, const char *from, uint32_t cf,
                          const hrb_view_msg_t *msg)
{
    const s_type_t *type = s_type_of_view (msg->type);
    assert (type);
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    s_head (&pk, s_popcount (type->need), type->name, from, cf);
    if (type->need & F_TERM)
        s_kuint (&pk, "term", msg->term);
    if (type->need & F_VIEW) {
        hr_pack_cstr (&pk, "view");
        msgpack_pack_map (&pk, 5);
        s_kuint (&pk, "n", msg->view.number);
        s_kuint (&pk, "m", msg->view.members);
        s_kuint (&pk, "o", msg->view.owners);
        s_kuint (&pk, "h", msg->view.handoff);
        s_kuint (&pk, "f", msg->view.follows);
    }
    if (type->need & F_STAMP)
        s_kuint (&pk, "stamp", msg->stamp);
    if (type->need & F_LEAVING)
        s_kbool (&pk, "leaving", msg->leaving);
    if (type->need & F_GRANTED)
        s_kbool (&pk, "granted", msg->granted);
    if (type->need & F_BASE)
        s_kuint (&pk, "base", msg->base);
}

void
hrb_peer_msg_encode_fwd (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                         const uint64_t *fid, const void *request, size_t len)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    s_head (&pk, fid? 6: 5, "fwd", from, cf);
    s_kuint (&pk, "n", number);
    if (fid)
        s_kuint (&pk, "fid", *fid);
    s_kbin (&pk, "req", request, len);
}

void
hrb_peer_msg_encode_fwdack (hr_buf_t *out, const char *from, uint32_t cf,
                            uint64_t number, uint64_t fid, const void *reply, size_t len)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    s_head (&pk, 6, "fwdack", from, cf);
    s_kuint (&pk, "n", number);
    s_kuint (&pk, "fid", fid);
    s_kbin (&pk, "rep", reply, len);
}

//  "ev": the envelopes as an array of bin.
static void
s_kevents (msgpack_packer *pk, const hrb_peer_span_t *events, size_t count)
{
    hr_pack_cstr (pk, "ev");
    msgpack_pack_array (pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_bin (pk, events [i].len);
        msgpack_pack_bin_body (pk, events [i].data, events [i].len);
    }
}

//  A replication frame's header after the common fields: r, first, e.
typedef struct {
    uint64_t r;
    bool first;
    uint64_t echo;
} s_frame_t;

//  A channel's chunk: a "handoff" (frame NULL) or an "rsnap" (frame r).
static void
s_encode_chunk (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                const s_frame_t *frame, const char *ch, size_t len, const char *epoch,
                uint64_t seq, uint64_t part, bool last, const hrb_peer_span_t *events,
                size_t event_count, const hrb_peer_span_t *keys, size_t key_count)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    s_head (&pk, frame? 14: 11, frame? "rsnap": "handoff", from, cf);
    s_kuint (&pk, "n", number);
    if (frame) {
        s_kuint (&pk, "r", frame->r);
        s_kbool (&pk, "first", frame->first);
        s_kuint (&pk, "e", frame->echo);
    }
    hr_pack_cstr (&pk, "ch");
    hr_pack_str (&pk, ch, len);
    hr_pack_cstr (&pk, "epoch");
    hr_pack_str (&pk, epoch, HR_EPOCH_LEN);
    s_kuint (&pk, "seq", seq);
    s_kuint (&pk, "part", part);
    s_kbool (&pk, "last", last);
    s_kevents (&pk, events, event_count);
    hr_pack_cstr (&pk, "keys");
    msgpack_pack_map (&pk, key_count);
    for (size_t i = 0; i < key_count; i++) {
        hr_pack_str (&pk, keys [i].data, keys [i].len);
        msgpack_pack_uint64 (&pk, keys [i].seq);
    }
}

void
hrb_peer_msg_encode_handoff (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                             const char *ch, size_t len, const char *epoch, uint64_t seq,
                             uint64_t part, bool last, const hrb_peer_span_t *events,
                             size_t event_count, const hrb_peer_span_t *keys, size_t key_count)
{
    s_encode_chunk (out, from, cf, number, NULL, ch, len, epoch, seq, part, last,
                    events, event_count, keys, key_count);
}

void
hrb_peer_msg_encode_rsnap (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                           uint64_t r, bool first, uint64_t echo, const char *ch, size_t len,
                           const char *epoch, uint64_t seq, uint64_t part, bool last,
                           const hrb_peer_span_t *events, size_t event_count,
                           const hrb_peer_span_t *keys, size_t key_count)
{
    s_frame_t frame = { r, first, echo };
    s_encode_chunk (out, from, cf, number, &frame, ch, len, epoch, seq, part, last,
                    events, event_count, keys, key_count);
}

void
hrb_peer_msg_encode_repl (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                          uint64_t r, bool first, uint64_t echo,
                          const hrb_peer_span_t *events, size_t count)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    s_head (&pk, 8, "repl", from, cf);
    s_kuint (&pk, "n", number);
    s_kuint (&pk, "r", r);
    s_kbool (&pk, "first", first);
    s_kuint (&pk, "e", echo);
    s_kevents (&pk, events, count);
}

void
hrb_peer_msg_encode_rack (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                          uint64_t r, bool gap, uint64_t stamp, bool fence, uint64_t installed,
                          const char *const *miss_ch, const uint64_t *miss_r, size_t misses)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    s_head (&pk, 10, "rack", from, cf);
    s_kuint (&pk, "n", number);
    s_kuint (&pk, "r", r);
    s_kbool (&pk, "gap", gap);
    s_kuint (&pk, "s", stamp);
    s_kbool (&pk, "fence", fence);
    s_kuint (&pk, "inst", installed);
    hr_pack_cstr (&pk, "miss");
    msgpack_pack_array (&pk, misses);
    for (size_t i = 0; i < misses; i++) {
        msgpack_pack_array (&pk, 2);
        hr_pack_cstr (&pk, miss_ch [i]);
        msgpack_pack_uint64 (&pk, miss_r [i]);
    }
}

void
hrb_peer_msg_encode_handoff_end (hr_buf_t *out, const char *from, uint32_t cf,
                                 uint64_t number, uint64_t count)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    s_head (&pk, 5, "handoff_end", from, cf);
    s_kuint (&pk, "n", number);
    s_kuint (&pk, "count", count);
}

void
hrb_peer_msg_encode_handoff_ack (hr_buf_t *out, const char *from, uint32_t cf,
                                 uint64_t number, const char *ch, size_t len)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    s_head (&pk, 5, "handoff_ack", from, cf);
    s_kuint (&pk, "n", number);
    if (ch) {
        hr_pack_cstr (&pk, "ch");
        hr_pack_str (&pk, ch, len);
    }
    else
        s_kbool (&pk, "end", true);
}

//  Decoding state: what was seen, and the fields before the type is known.
typedef struct {
    hrb_peer_msg_t *msg;
    hr_members_t all;
    size_t max_body;
    unsigned seen;
    const char *type;
    size_t type_len;
} s_decoder_t;

static hr_error_t
s_read_members (hr_mp_reader_t *reader, hr_members_t all, hr_members_t *value)
{
    uint64_t bits;
    hr_error_t rc = hr_mp_read_uint (reader, &bits);
    if (rc)
        return rc;
    if (bits & ~(uint64_t) all)
        return HR_E_BAD_FIELD;
    *value = (hr_members_t) bits;
    return HR_OK;
}

//  The "view" map: exactly n, m, o, h; owners among members, and no
//  broker both a member and handed off.
static hr_error_t
s_read_view (hr_mp_reader_t *reader, hr_members_t all, hrb_view_t *view)
{
    hr_mp_item_t map;
    hr_error_t rc = hr_mp_read (reader, &map);
    if (rc)
        return rc;
    if (map.kind != HR_MP_MAP)
        return HR_E_BAD_TYPE;
    unsigned seen = 0;
    for (uint32_t i = 0; i < map.count; i++) {
        const char *key;
        size_t len;
        if ((rc = hr_mp_read_str (reader, &key, &len)))
            return rc;
        unsigned bit = len != 1? 0: key [0] == 'n'? 1: key [0] == 'm'? 2
                     : key [0] == 'o'? 4: key [0] == 'h'? 8: key [0] == 'f'? 16: 0;
        if (!bit)
            return HR_E_BAD_FIELD;
        if (seen & bit)
            return HR_E_DUPLICATE_FIELD;
        seen |= bit;
        rc = bit == 1? hr_mp_read_uint (reader, &view->number)
           : bit == 16? hr_mp_read_uint (reader, &view->follows)
           : s_read_members (reader, all, bit == 2? &view->members
                                          : bit == 4? &view->owners: &view->handoff);
        if (rc)
            return rc;
    }
    if (seen != 31)
        return HR_E_MISSING_FIELD;
    if ((view->owners & ~view->members) || (view->handoff & view->members)
    ||  (view->number && view->follows >= view->number))
        return HR_E_BAD_FIELD;
    return HR_OK;
}

static hr_error_t
s_read_body (hr_mp_reader_t *reader, size_t max, const uint8_t **body, size_t *len)
{
    hr_mp_item_t item;
    hr_error_t rc = hr_mp_read (reader, &item);
    if (rc)
        return rc;
    if (item.kind != HR_MP_BIN)
        return HR_E_BAD_TYPE;
    if (item.str.len > max)
        return HR_E_FRAME_TOO_LARGE;
    *body = (const uint8_t *) item.str.ptr;
    *len = item.str.len;
    return HR_OK;
}

//  "ev": an array of envelopes, each at most max bytes.
static hr_error_t
s_read_events (hr_mp_reader_t *reader, size_t max, hrb_peer_msg_t *msg)
{
    hr_mp_item_t array;
    hr_error_t rc = hr_mp_read (reader, &array);
    if (rc)
        return rc;
    if (array.kind != HR_MP_ARRAY)
        return HR_E_BAD_TYPE;
    msg->ev = reader->pos;
    msg->ev_count = array.count;
    for (uint32_t i = 0; i < array.count; i++) {
        const uint8_t *body;
        size_t len;
        if ((rc = s_read_body (reader, max, &body, &len)))
            return rc;
    }
    msg->ev_size = (size_t) (reader->pos - msg->ev);
    return HR_OK;
}

//  "keys": a map of idempotency id -> seq (checked against "seq" at the end).
static hr_error_t
s_read_keys (hr_mp_reader_t *reader, hrb_peer_msg_t *msg)
{
    hr_mp_item_t map;
    hr_error_t rc = hr_mp_read (reader, &map);
    if (rc)
        return rc;
    if (map.kind != HR_MP_MAP)
        return HR_E_BAD_TYPE;
    msg->keys = reader->pos;
    msg->keys_count = map.count;
    for (uint32_t i = 0; i < map.count; i++) {
        const char *id;
        size_t len;
        uint64_t seq;
        if ((rc = hr_event_read_id (reader, &id, &len)) || (rc = hr_mp_read_uint (reader, &seq)))
            return rc;
    }
    msg->keys_size = (size_t) (reader->pos - msg->keys);
    return HR_OK;
}

//  One miss: [channel, r]. Checked by the decoder, read again by the iterator.
static hr_error_t
s_read_miss (hr_mp_reader_t *reader, const char **ch, size_t *len, uint64_t *r)
{
    hr_mp_item_t pair;
    hr_error_t rc = hr_mp_read (reader, &pair);
    if (rc)
        return rc;
    if (pair.kind != HR_MP_ARRAY || pair.count != 2)
        return HR_E_BAD_TYPE;
    if ((rc = hr_mp_read_str (reader, ch, len)) || (rc = hr_mp_read_uint (reader, r)))
        return rc;
    return hr_channel_valid (*ch, *len)? HR_OK: HR_E_BAD_FIELD;
}

//  "miss": an array of at most HRB_PEER_MISSES_MAX misses (counted before
//  any is read: a huge count costs nothing).
static hr_error_t
s_read_misses (hr_mp_reader_t *reader, hrb_peer_msg_t *msg)
{
    hr_mp_item_t array;
    hr_error_t rc = hr_mp_read (reader, &array);
    if (rc)
        return rc;
    if (array.kind != HR_MP_ARRAY)
        return HR_E_BAD_TYPE;
    if (array.count > HRB_PEER_MISSES_MAX)
        return HR_E_BAD_FIELD;
    msg->miss = reader->pos;
    msg->miss_count = array.count;
    for (uint32_t i = 0; i < array.count; i++) {
        const char *ch;
        size_t len;
        uint64_t r;
        if ((rc = s_read_miss (reader, &ch, &len, &r)))
            return rc;
    }
    msg->miss_size = (size_t) (reader->pos - msg->miss);
    return HR_OK;
}

static bool
s_epoch_ok (const char *epoch, size_t len)
{
    if (len != HR_EPOCH_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((epoch [i] >= '0' && epoch [i] <= '9') || (epoch [i] >= 'a' && epoch [i] <= 'f')))
            return false;
    return true;
}

void
hrb_peer_msg_events (const hrb_peer_msg_t *msg, hrb_peer_iter_t *iter)
{
    //  Not a handoff: no span, nothing to walk
    *iter = (hrb_peer_iter_t) { msg->ev, msg->ev? msg->ev + msg->ev_size: NULL, msg->ev_count };
}

void
hrb_peer_msg_keys (const hrb_peer_msg_t *msg, hrb_peer_iter_t *iter)
{
    *iter = (hrb_peer_iter_t) { msg->keys, msg->keys? msg->keys + msg->keys_size: NULL,
                                msg->keys_count };
}

//  The spans were checked by the decoder: reading them again cannot fail.
bool
hrb_peer_iter_event (hrb_peer_iter_t *iter, const uint8_t **data, size_t *len)
{
    if (!iter->left)
        return false;
    hr_mp_reader_t reader = { iter->pos, iter->end };
    hr_mp_item_t item;
    hr_error_t rc = hr_mp_read (&reader, &item);
    assert (rc == HR_OK && item.kind == HR_MP_BIN);
    (void) rc;
    *data = (const uint8_t *) item.str.ptr;
    *len = item.str.len;
    iter->pos = reader.pos;
    iter->left--;
    return true;
}

void
hrb_peer_msg_misses (const hrb_peer_msg_t *msg, hrb_peer_iter_t *iter)
{
    *iter = (hrb_peer_iter_t) { msg->miss, msg->miss? msg->miss + msg->miss_size: NULL,
                                msg->miss_count };
}

bool
hrb_peer_iter_miss (hrb_peer_iter_t *iter, const char **ch, size_t *len, uint64_t *r)
{
    if (!iter->left)
        return false;
    hr_mp_reader_t reader = { iter->pos, iter->end };
    hr_error_t rc = s_read_miss (&reader, ch, len, r);
    assert (rc == HR_OK);
    (void) rc;
    iter->pos = reader.pos;
    iter->left--;
    return true;
}

bool
hrb_peer_iter_key (hrb_peer_iter_t *iter, const char **id, size_t *len, uint64_t *seq)
{
    if (!iter->left)
        return false;
    hr_mp_reader_t reader = { iter->pos, iter->end };
    hr_error_t rc = hr_mp_read_str (&reader, id, len);
    rc = rc? rc: hr_mp_read_uint (&reader, seq);
    assert (rc == HR_OK);
    (void) rc;
    iter->pos = reader.pos;
    iter->left--;
    return true;
}

static const char *s_keys [] = {
    "t", "from", "cf", "term", "view", "stamp", "leaving", "granted", "n", "fid", "req", "rep",
    "ch", "epoch", "seq", "part", "last", "ev", "keys", "count", "end", "base", "r", "first",
    "e", "s", "gap", "fence", "inst", "miss"
};

static hr_error_t
s_field (hr_mp_reader_t *reader, const char *key, size_t key_len, void *arg)
{
    s_decoder_t *dec = arg;
    hrb_peer_msg_t *msg = dec->msg;
    size_t index = 0;
    while (index < sizeof s_keys / sizeof s_keys [0]
       && !hr_mp_str_eq (key, key_len, s_keys [index]))
        index++;
    if (index == sizeof s_keys / sizeof s_keys [0])
        return HR_E_BAD_FIELD;
    unsigned bit = 1u << index;
    if (dec->seen & bit)
        return HR_E_DUPLICATE_FIELD;
    dec->seen |= bit;
    uint64_t cf;
    size_t epoch_len;
    hr_error_t rc;
    switch (bit) {
        case F_T:
            return hr_mp_read_str (reader, &dec->type, &dec->type_len);
        case F_FROM:
            if ((rc = hr_mp_read_str (reader, &msg->from, &msg->from_len)))
                return rc;
            return msg->from_len < 1 || msg->from_len > HR_CLUSTER_ID_MAX? HR_E_BAD_FIELD: HR_OK;
        case F_CF:
            if ((rc = hr_mp_read_uint (reader, &cf)))
                return rc;
            msg->cf = (uint32_t) cf;
            return cf > UINT32_MAX? HR_E_BAD_FIELD: HR_OK;
        case F_TERM:
            return hr_mp_read_uint (reader, &msg->view.term);
        case F_VIEW:
            return s_read_view (reader, dec->all, &msg->view.view);
        case F_STAMP:
            return hr_mp_read_uint (reader, &msg->view.stamp);
        case F_LEAVING:
            return hr_mp_read_bool (reader, &msg->view.leaving);
        case F_GRANTED:
            return hr_mp_read_bool (reader, &msg->view.granted);
        case F_N:
            return hr_mp_read_uint (reader, &msg->number);
        case F_FID:
            msg->has_fid = true;
            return hr_mp_read_uint (reader, &msg->fid);
        case F_REQ:
        case F_REP:
            return s_read_body (reader, dec->max_body, &msg->body, &msg->body_len);
        case F_CH:
            if ((rc = hr_mp_read_str (reader, &msg->ch, &msg->ch_len)))
                return rc;
            return hr_channel_valid (msg->ch, msg->ch_len)? HR_OK: HR_E_BAD_FIELD;
        case F_EPOCH:
            if ((rc = hr_mp_read_str (reader, &msg->epoch, &epoch_len)))
                return rc;
            return s_epoch_ok (msg->epoch, epoch_len)? HR_OK: HR_E_BAD_FIELD;
        case F_SEQ:
            return hr_mp_read_uint (reader, &msg->seq);
        case F_PART:
            return hr_mp_read_uint (reader, &msg->part);
        case F_LAST:
            return hr_mp_read_bool (reader, &msg->last);
        case F_EV:
            return s_read_events (reader, dec->max_body, msg);
        case F_KEYS:
            return s_read_keys (reader, msg);
        case F_COUNT:
            return hr_mp_read_uint (reader, &msg->count);
        case F_BASE:
            return hr_mp_read_uint (reader, &msg->view.base);
        case F_END:
            if ((rc = hr_mp_read_bool (reader, &msg->end)))
                return rc;
            return msg->end? HR_OK: HR_E_BAD_FIELD;
        case F_R:
            return hr_mp_read_uint (reader, &msg->r);
        case F_FIRST:
            return hr_mp_read_bool (reader, &msg->first);
        case F_E:
            return hr_mp_read_uint (reader, &msg->echo);
        case F_S:
            return hr_mp_read_uint (reader, &msg->stamp);
        case F_GAP:
            return hr_mp_read_bool (reader, &msg->gap);
        case F_FENCE:
            return hr_mp_read_bool (reader, &msg->fence);
        case F_INST:
            return hr_mp_read_uint (reader, &msg->installed);
        case F_MISS:
            return s_read_misses (reader, msg);
    }
    return HR_E_BAD_FIELD;      //  not reached: every key has a case
}

hr_error_t
hrb_peer_msg_decode (const void *frame, size_t size, hr_members_t all, size_t max_body,
                     hrb_peer_msg_t *msg)
{
    memset (msg, 0, sizeof *msg);
    msg->view.from = msg->view.to = -1;
    s_decoder_t dec = { .msg = msg, .all = all, .max_body = max_body };
    hr_error_t rc = hr_mp_read_map (frame, size, s_field, &dec);
    if (rc)
        return rc;
    if (!(dec.seen & F_T))
        return HR_E_MISSING_FIELD;
    const s_type_t *type = NULL;
    for (size_t i = 0; i < S_TYPES && !type; i++)
        if (hr_mp_str_eq (dec.type, dec.type_len, s_types [i].name))
            type = &s_types [i];
    if (!type)
        return HR_E_BAD_FIELD;
    if (dec.seen & ~(type->need | type->may))
        return HR_E_BAD_FIELD;
    if ((dec.seen & type->need) != type->need)
        return HR_E_MISSING_FIELD;
    msg->kind = type->kind;
    msg->view.type = type->type;
    //  Every frame of events (handoff, repl, rsnap) is bounded
    if ((type->need & F_EV) && size > HRB_HANDOFF_FRAME_MAX)
        return HR_E_FRAME_TOO_LARGE;
    //  An ack names a channel or the end, never both
    if (type->kind == HRB_PEER_HANDOFF_ACK && !(dec.seen & F_CH) == !(dec.seen & F_END))
        return HR_E_BAD_FIELD;
    //  Replication frames count from 1 in a session; a fence names a newer view
    if ((type->need & F_FIRST) && msg->r == 0)
        return HR_E_BAD_FIELD;
    if (type->kind == HRB_PEER_RACK && msg->fence && msg->installed <= msg->number)
        return HR_E_BAD_FIELD;
    if (type->need & F_KEYS) {
        hrb_peer_iter_t iter;
        hrb_peer_msg_keys (msg, &iter);
        const char *id;
        size_t len;
        uint64_t seq;
        while (hrb_peer_iter_key (&iter, &id, &len, &seq))
            if (seq > msg->seq || seq == 0)
                return HR_E_BAD_FIELD;
    }
    //  A vote request proposes the view of its own term (hrb_view.h)
    if (type->type == HRB_VIEW_VOTE_REQUEST && type->kind == HRB_PEER_VIEW
    &&  msg->view.view.number != msg->view.term)
        return HR_E_BAD_FIELD;
    return HR_OK;
}
