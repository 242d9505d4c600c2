/*  hr_proto: request and reply codec for the broker's ROUTER socket.  */
#include "hr_proto.h"
#include "hr_channel.h"
#include "hr_mpack.h"
#include "hr_pack.h"

#include <assert.h>
#include <string.h>

static const char *s_reset_names [HR_RESET_COUNT] = {
    "none", "epoch-changed", "unknown-channel", "expired", "cursor-ahead", "unavailable",
    "cursor-mismatch"
};

const char *
hr_reset_name (hr_reset_t reason)
{
    return reason < HR_RESET_COUNT? s_reset_names [reason]: "none";
}

hr_reset_t
hr_reset_parse (const char *name, size_t len)
{
    for (int i = 1; i < HR_RESET_COUNT; i++)
        if (hr_mp_str_eq (name, len, s_reset_names [i]))
            return (hr_reset_t) i;
    return HR_RESET_NONE;
}

enum { S_OP = 1, S_RID = 2, S_CH = 4, S_TYPE = 8, S_DATA = 16, S_ID = 32,
       S_EPOCH = 64, S_SINCE = 128, S_LIMIT = 256, S_KIND = 512, S_VALUE = 1024,
       S_UNTIL = 2048 };
#define S_REVOKE_KEYS (S_KIND | S_VALUE | S_UNTIL)

static const struct { const char *name; unsigned bit; } s_request_keys [] = {
    { "op", S_OP }, { "rid", S_RID }, { "ch", S_CH }, { "type", S_TYPE },
    { "data", S_DATA }, { "id", S_ID }, { "epoch", S_EPOCH },
    { "since", S_SINCE }, { "limit", S_LIMIT }, { "kind", S_KIND },
    { "value", S_VALUE }, { "until", S_UNTIL },
};

const char *
hr_revoke_kind_name (hr_revoke_kind_t kind)
{
    return kind == HR_REVOKE_JTI? "jti": "sub";
}

//  Reads "sub" or "jti".
static hr_error_t
s_read_kind (hr_mp_reader_t *reader, hr_revoke_kind_t *kind)
{
    const char *text;
    size_t len;
    hr_error_t rc = hr_mp_read_str (reader, &text, &len);
    if (rc)
        return rc;
    if (hr_mp_str_eq (text, len, "sub"))
        *kind = HR_REVOKE_SUB;
    else
    if (hr_mp_str_eq (text, len, "jti"))
        *kind = HR_REVOKE_JTI;
    else
        return HR_E_BAD_FIELD;
    return HR_OK;
}

//  Reads a revoked value: 1 to HR_REVOKE_VALUE_MAX bytes.
static hr_error_t
s_read_value (hr_mp_reader_t *reader, const char **value, size_t *len)
{
    hr_error_t rc = hr_mp_read_str (reader, value, len);
    if (rc)
        return rc;
    return *len == 0 || *len > HR_REVOKE_VALUE_MAX? HR_E_BAD_FIELD: HR_OK;
}

//  Reads an until: Unix seconds, as a signed 64-bit number can hold.
static hr_error_t
s_read_until (hr_mp_reader_t *reader, int64_t *until)
{
    uint64_t value;
    hr_error_t rc = hr_mp_read_uint (reader, &value);
    if (rc)
        return rc;
    if (value > INT64_MAX)
        return HR_E_BAD_FIELD;
    *until = (int64_t) value;
    return HR_OK;
}

typedef struct {
    hr_request_t *req;
    unsigned seen;
} s_request_decode_t;

static hr_error_t
s_request_field (hr_mp_reader_t *reader, const char *key, size_t key_len, void *arg)
{
    s_request_decode_t *decode = arg;
    hr_request_t *req = decode->req;
    hr_event_t *ev = &req->event;
    unsigned bit = 0;
    for (size_t k = 0; k < sizeof s_request_keys / sizeof s_request_keys [0]; k++)
        if (hr_mp_str_eq (key, key_len, s_request_keys [k].name))
            bit = s_request_keys [k].bit;
    if (!bit)
        return HR_E_BAD_FIELD;
    if (decode->seen & bit)
        return HR_E_DUPLICATE_FIELD;
    decode->seen |= bit;
    const char *text;
    size_t len;
    hr_error_t rc;
    switch (bit) {
        case S_OP:
            if ((rc = hr_mp_read_str (reader, &text, &len)))
                return rc;
            if (hr_mp_str_eq (text, len, "publish"))
                req->op = HR_OP_PUBLISH;
            else
            if (hr_mp_str_eq (text, len, "history"))
                req->op = HR_OP_HISTORY;
            else
            if (hr_mp_str_eq (text, len, "revoke"))
                req->op = HR_OP_REVOKE;
            else
                return HR_E_BAD_REQUEST;
            return HR_OK;
        case S_RID:
            if ((rc = hr_mp_read_uint (reader, &req->rid)))
                return rc;
            req->has_rid = true;
            return HR_OK;
        case S_CH: return hr_event_read_ch (reader, &ev->ch, &ev->ch_len);
        case S_TYPE: return hr_event_read_type (reader, &ev->type, &ev->type_len);
        case S_ID: return hr_event_read_id (reader, &ev->id, &ev->id_len);
        case S_EPOCH: return hr_event_read_epoch (reader, false, &ev->epoch, &ev->epoch_len);
        case S_DATA: return hr_mp_skip (reader, HR_MPACK_MAX_DEPTH, &ev->data, &ev->data_len);
        case S_SINCE: return hr_mp_read_uint (reader, &req->since);
        case S_KIND: return s_read_kind (reader, &req->kind);
        case S_VALUE: return s_read_value (reader, &req->value, &req->value_len);
        case S_UNTIL: return s_read_until (reader, &req->until);
        default: return hr_mp_read_uint (reader, &req->limit);
    }
}

//  Stops the scan of hr_request_find_rid once rid is read.
#define S_FOUND HR_E_COUNT

static hr_error_t
s_rid_field (hr_mp_reader_t *reader, const char *key, size_t key_len, void *arg)
{
    if (!hr_mp_str_eq (key, key_len, "rid"))
        return hr_mp_skip (reader, HR_MPACK_MAX_DEPTH, NULL, NULL);
    hr_error_t rc = hr_mp_read_uint (reader, arg);
    return rc? rc: S_FOUND;
}

bool
hr_request_find_rid (const void *frame, size_t size, uint64_t *rid)
{
    uint64_t value = 0;
    if (hr_mp_read_map (frame, size, s_rid_field, &value) != S_FOUND)
        return false;
    *rid = value;
    return true;
}

static hr_error_t
s_request_decode (const void *frame, size_t size, size_t max, hr_request_t *req)
{
    if (size > max)
        return HR_E_FRAME_TOO_LARGE;
    s_request_decode_t decode = { req, 0 };
    hr_error_t rc = hr_mp_read_map (frame, size, s_request_field, &decode);
    if (rc)
        return rc;
    unsigned seen = decode.seen;
    if (req->op == HR_OP_REVOKE) {
        if (seen & ~(S_OP | S_RID | S_REVOKE_KEYS))
            return HR_E_BAD_FIELD;
        return (seen & S_REVOKE_KEYS) == S_REVOKE_KEYS? HR_OK: HR_E_MISSING_FIELD;
    }
    if (!(seen & S_CH))
        return HR_E_MISSING_FIELD;
    if (seen & S_REVOKE_KEYS)
        return HR_E_BAD_FIELD;
    if (req->op == HR_OP_PUBLISH) {
        if (!(seen & S_DATA))
            return HR_E_MISSING_FIELD;
        if (seen & (S_EPOCH | S_SINCE | S_LIMIT))
            return HR_E_BAD_FIELD;
    }
    else {
        if (seen & (S_DATA | S_TYPE | S_ID))
            return HR_E_BAD_FIELD;
        if (req->limit > HR_HISTORY_LIMIT_MAX)
            req->limit = HR_HISTORY_LIMIT_MAX;
    }
    return HR_OK;
}

hr_error_t
hr_request_decode (const void *frame, size_t size, size_t max, hr_request_t *req)
{
    *req = (hr_request_t) { .op = HR_OP_PUBLISH, .limit = HR_HISTORY_LIMIT_DEFAULT };
    hr_error_t rc = s_request_decode (frame, size, max, req);
    //  The error reply must reach its caller: look for rid past the fault
    //  (an oversized frame is not decoded at all, a bad field may precede it)
    if (rc && !req->has_rid)
        req->has_rid = hr_request_find_rid (frame, size, &req->rid);
    return rc;
}

static void
s_pack_rid (msgpack_packer *pk, const uint64_t *rid)
{
    if (rid) {
        hr_pack_cstr (pk, "rid");
        msgpack_pack_uint64 (pk, *rid);
    }
}

void
hr_request_encode_publish (hr_buf_t *out, const uint64_t *rid, const hr_event_t *ev)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 2 + (rid != NULL) + (ev->type != NULL) + (ev->id != NULL));
    s_pack_rid (&pk, rid);
    hr_pack_cstr (&pk, "ch");
    hr_pack_str (&pk, ev->ch, ev->ch_len);
    if (ev->type) {
        hr_pack_cstr (&pk, "type");
        hr_pack_str (&pk, ev->type, ev->type_len);
    }
    if (ev->id) {
        hr_pack_cstr (&pk, "id");
        hr_pack_str (&pk, ev->id, ev->id_len);
    }
    hr_pack_cstr (&pk, "data");
    hr_buf_put (out, ev->data, ev->data_len);
}

void
hr_request_encode_history (hr_buf_t *out, const uint64_t *rid, const char *ch,
                           const char *epoch, uint64_t since, uint64_t limit)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 4 + (rid != NULL) + (epoch != NULL));
    hr_pack_cstr (&pk, "op");
    hr_pack_cstr (&pk, "history");
    s_pack_rid (&pk, rid);
    hr_pack_cstr (&pk, "ch");
    hr_pack_cstr (&pk, ch);
    if (epoch) {
        hr_pack_cstr (&pk, "epoch");
        hr_pack_cstr (&pk, epoch);
    }
    hr_pack_cstr (&pk, "since");
    msgpack_pack_uint64 (&pk, since);
    hr_pack_cstr (&pk, "limit");
    msgpack_pack_uint64 (&pk, limit);
}

void
hr_request_encode_revoke (hr_buf_t *out, const uint64_t *rid, hr_revoke_kind_t kind,
                          const char *value, size_t len, int64_t until_s)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 4 + (rid != NULL));
    hr_pack_cstr (&pk, "op");
    hr_pack_cstr (&pk, "revoke");
    s_pack_rid (&pk, rid);
    hr_pack_cstr (&pk, "kind");
    hr_pack_cstr (&pk, hr_revoke_kind_name (kind));
    hr_pack_cstr (&pk, "value");
    hr_pack_str (&pk, value, len);
    hr_pack_cstr (&pk, "until");
    msgpack_pack_uint64 (&pk, (uint64_t) until_s);
}

static void
s_pack_epoch (msgpack_packer *pk, const char *epoch)
{
    hr_pack_cstr (pk, "epoch");
    if (epoch)
        hr_pack_cstr (pk, epoch);
    else
        msgpack_pack_nil (pk);
}

void
hr_reply_encode_ack (hr_buf_t *out, const uint64_t *rid, uint64_t seq,
                     const char *epoch, bool dup)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 3 + (rid != NULL));
    s_pack_rid (&pk, rid);
    hr_pack_cstr (&pk, "seq");
    msgpack_pack_uint64 (&pk, seq);
    s_pack_epoch (&pk, epoch);
    hr_pack_cstr (&pk, "dup");
    if (dup)
        msgpack_pack_true (&pk);
    else
        msgpack_pack_false (&pk);
}

void
hr_reply_encode_error (hr_buf_t *out, const uint64_t *rid, hr_error_t error)
{
    hr_reply_encode_error_message (out, rid, error, hr_error_message (error));
}

void
hr_reply_encode_error_message (hr_buf_t *out, const uint64_t *rid, hr_error_t error,
                               const char *message)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 2 + (rid != NULL));
    s_pack_rid (&pk, rid);
    hr_pack_cstr (&pk, "error");
    hr_pack_cstr (&pk, hr_error_code (error));
    hr_pack_cstr (&pk, "message");
    hr_pack_cstr (&pk, message);
}

void
hr_reply_encode_history (hr_buf_t *out, const uint64_t *rid, const char *ch,
                         const char *epoch, uint64_t first, uint64_t head,
                         uint64_t count, hr_reset_t reset)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 5 + (rid != NULL) + (reset != HR_RESET_NONE));
    s_pack_rid (&pk, rid);
    hr_pack_cstr (&pk, "ch");
    hr_pack_cstr (&pk, ch);
    s_pack_epoch (&pk, epoch);
    hr_pack_cstr (&pk, "first");
    msgpack_pack_uint64 (&pk, first);
    hr_pack_cstr (&pk, "head");
    msgpack_pack_uint64 (&pk, head);
    hr_pack_cstr (&pk, "count");
    msgpack_pack_uint64 (&pk, count);
    if (reset != HR_RESET_NONE) {
        hr_pack_cstr (&pk, "reset");
        hr_pack_cstr (&pk, hr_reset_name (reset));
    }
}

void
hr_reply_encode_revoked (hr_buf_t *out, const uint64_t *rid, hr_revoke_kind_t kind,
                         int64_t until_s)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 2 + (rid != NULL));
    s_pack_rid (&pk, rid);
    hr_pack_cstr (&pk, "revoked");
    hr_pack_cstr (&pk, hr_revoke_kind_name (kind));
    hr_pack_cstr (&pk, "until");
    msgpack_pack_uint64 (&pk, (uint64_t) until_s);
}

static hr_error_t
s_error_parse (const char *code, size_t len)
{
    for (int i = 1; i < HR_E_COUNT; i++)
        if (hr_mp_str_eq (code, len, hr_error_code ((hr_error_t) i)))
            return (hr_error_t) i;
    return HR_E_INTERNAL;
}

static hr_error_t
s_reply_field (hr_mp_reader_t *reader, const char *key, size_t len, void *arg)
{
    hr_reply_t *reply = arg;
    const char *text;
    size_t text_len;
    hr_error_t rc;
    if (hr_mp_str_eq (key, len, "rid")) {
        reply->has_rid = true;
        return hr_mp_read_uint (reader, &reply->rid);
    }
    if (hr_mp_str_eq (key, len, "seq"))
        return hr_mp_read_uint (reader, &reply->seq);
    if (hr_mp_str_eq (key, len, "first"))
        return hr_mp_read_uint (reader, &reply->first);
    if (hr_mp_str_eq (key, len, "head"))
        return hr_mp_read_uint (reader, &reply->head);
    if (hr_mp_str_eq (key, len, "count"))
        return hr_mp_read_uint (reader, &reply->count);
    if (hr_mp_str_eq (key, len, "ch"))
        return hr_mp_read_str (reader, &reply->ch, &reply->ch_len);
    if (hr_mp_str_eq (key, len, "message"))
        return hr_mp_read_str (reader, &reply->message, &reply->message_len);
    if (hr_mp_str_eq (key, len, "error")) {
        if ((rc = hr_mp_read_str (reader, &text, &text_len)))
            return rc;
        reply->error = s_error_parse (text, text_len);
        return HR_OK;
    }
    if (hr_mp_str_eq (key, len, "reset")) {
        if ((rc = hr_mp_read_str (reader, &text, &text_len)))
            return rc;
        reply->reset = hr_reset_parse (text, text_len);
        return reply->reset == HR_RESET_NONE? HR_E_BAD_FIELD: HR_OK;
    }
    hr_mp_item_t item;
    if (hr_mp_str_eq (key, len, "dup")) {
        if ((rc = hr_mp_read (reader, &item)))
            return rc;
        if (item.kind != HR_MP_BOOL)
            return HR_E_BAD_TYPE;
        reply->dup = item.boolean;
        return HR_OK;
    }
    if (hr_mp_str_eq (key, len, "epoch"))
        return hr_event_read_epoch (reader, true, &reply->epoch, &reply->epoch_len);
    if (hr_mp_str_eq (key, len, "revoked"))
        return s_read_kind (reader, &reply->revoked);
    if (hr_mp_str_eq (key, len, "until"))
        return s_read_until (reader, &reply->until);
    return hr_mp_skip (reader, HR_MPACK_MAX_DEPTH, NULL, NULL);
}

hr_error_t
hr_reply_decode (const void *frame, size_t size, hr_reply_t *reply)
{
    *reply = (hr_reply_t) { 0 };
    return hr_mp_read_map (frame, size, s_reply_field, reply);
}

void
hr_revocations_encode (hr_buf_t *out, const hr_revocation_t *entries, size_t count)
{
    assert (count > 0 && count <= HR_REVOKE_BATCH);
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 1);
    hr_pack_cstr (&pk, "revoked");
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_array (&pk, 3);
        hr_pack_cstr (&pk, hr_revoke_kind_name (entries [i].kind));
        hr_pack_str (&pk, entries [i].value, entries [i].len);
        msgpack_pack_uint64 (&pk, (uint64_t) entries [i].until);
    }
}

typedef struct {
    hr_revocation_t *entries;
    size_t count;
    bool seen;
} s_revocations_t;

//  The one key, "revoked": an array of 1 to HR_REVOKE_BATCH entries, each
//  [kind, value, until].
static hr_error_t
s_revocations_field (hr_mp_reader_t *reader, const char *key, size_t key_len, void *arg)
{
    s_revocations_t *decode = arg;
    if (!hr_mp_str_eq (key, key_len, "revoked"))
        return HR_E_BAD_FIELD;
    if (decode->seen)
        return HR_E_DUPLICATE_FIELD;
    decode->seen = true;
    hr_mp_item_t list;
    hr_error_t rc = hr_mp_read (reader, &list);
    if (rc)
        return rc;
    if (list.kind != HR_MP_ARRAY)
        return HR_E_BAD_TYPE;
    if (list.count == 0 || list.count > HR_REVOKE_BATCH)
        return HR_E_BAD_FIELD;
    for (uint32_t i = 0; i < list.count; i++) {
        hr_revocation_t *entry = &decode->entries [i];
        hr_mp_item_t triple;
        if ((rc = hr_mp_read (reader, &triple)))
            return rc;
        if (triple.kind != HR_MP_ARRAY || triple.count != 3)
            return HR_E_BAD_TYPE;
        if ((rc = s_read_kind (reader, &entry->kind))
        ||  (rc = s_read_value (reader, &entry->value, &entry->len))
        ||  (rc = s_read_until (reader, &entry->until)))
            return rc;
    }
    decode->count = list.count;
    return HR_OK;
}

hr_error_t
hr_revocations_decode (const void *frame, size_t size, hr_revocation_t *entries,
                       size_t *count)
{
    s_revocations_t decode = { entries, 0, false };
    *count = 0;
    hr_error_t rc = hr_mp_read_map (frame, size, s_revocations_field, &decode);
    if (rc == HR_OK && !decode.seen)
        rc = HR_E_MISSING_FIELD;
    if (rc == HR_OK)
        *count = decode.count;
    return rc;
}
