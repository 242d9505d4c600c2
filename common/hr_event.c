/*  hr_event: envelope encoding (msgpack-c) and strict decoding (hr_mpack).  */
#include "hr_event.h"
#include "hr_channel.h"
#include "hr_mpack.h"
#include "hr_pack.h"

void
hr_event_encode (const hr_event_t *ev, hr_buf_t *out)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    size_t fields = ev->head? 4: 5 + (ev->type != NULL) + (ev->id != NULL);
    msgpack_pack_map (&pk, fields);
    hr_pack_cstr (&pk, "ch");
    hr_pack_str (&pk, ev->ch, ev->ch_len);
    hr_pack_cstr (&pk, "seq");
    msgpack_pack_uint64 (&pk, ev->seq);
    hr_pack_cstr (&pk, "epoch");
    if (ev->epoch)
        hr_pack_str (&pk, ev->epoch, ev->epoch_len);
    else
        msgpack_pack_nil (&pk);
    if (ev->head) {
        hr_pack_cstr (&pk, "head");
        msgpack_pack_true (&pk);
        return;
    }
    hr_pack_cstr (&pk, "ts");
    msgpack_pack_uint64 (&pk, ev->ts);
    if (ev->type) {
        hr_pack_cstr (&pk, "type");
        hr_pack_str (&pk, ev->type, ev->type_len);
    }
    hr_pack_cstr (&pk, "data");
    hr_buf_put (out, ev->data, ev->data_len);
    if (ev->id) {
        hr_pack_cstr (&pk, "id");
        hr_pack_str (&pk, ev->id, ev->id_len);
    }
}

void
hr_event_topic (const char *ch, size_t ch_len, hr_buf_t *out)
{
    hr_buf_reset (out);
    hr_buf_put (out, ch, ch_len);
    hr_buf_putc (out, '|');
}

static hr_error_t
s_read_checked (hr_mp_reader_t *reader, const char **ptr, size_t *len,
                bool valid (const char *, size_t), hr_error_t invalid)
{
    hr_error_t rc = hr_mp_read_str (reader, ptr, len);
    if (rc)
        return rc;
    return valid (*ptr, *len)? HR_OK: invalid;
}

static bool s_type_valid (const char *text, size_t len) { return hr_token_valid (text, len, HR_TYPE_MAX); }
static bool s_epoch_valid (const char *text, size_t len) { return hr_token_valid (text, len, HR_EPOCH_MAX); }

hr_error_t
hr_event_read_ch (hr_mp_reader_t *reader, const char **ptr, size_t *len)
{
    return s_read_checked (reader, ptr, len, hr_channel_valid, HR_E_BAD_CHANNEL);
}

hr_error_t
hr_event_read_type (hr_mp_reader_t *reader, const char **ptr, size_t *len)
{
    return s_read_checked (reader, ptr, len, s_type_valid, HR_E_BAD_FIELD);
}

hr_error_t
hr_event_read_id (hr_mp_reader_t *reader, const char **ptr, size_t *len)
{
    return s_read_checked (reader, ptr, len, hr_id_valid, HR_E_BAD_FIELD);
}

hr_error_t
hr_event_read_epoch (hr_mp_reader_t *reader, bool nil_ok, const char **ptr, size_t *len)
{
    if (nil_ok && hr_mp_left (reader) && *reader->pos == 0xc0) {
        reader->pos++;
        *ptr = NULL;
        *len = 0;
        return HR_OK;
    }
    return s_read_checked (reader, ptr, len, s_epoch_valid, HR_E_BAD_FIELD);
}

//  Bits for "seen" so a duplicate key is an error.
enum { S_CH = 1, S_SEQ = 2, S_EPOCH = 4, S_TS = 8, S_TYPE = 16, S_DATA = 32,
       S_ID = 64, S_HEAD = 128 };

typedef struct {
    hr_event_t *ev;
    unsigned seen;
} s_decode_t;

static hr_error_t
s_field (hr_mp_reader_t *reader, const char *key, size_t key_len, void *arg)
{
    s_decode_t *decode = arg;
    hr_event_t *ev = decode->ev;
    unsigned bit;
    if (hr_mp_str_eq (key, key_len, "ch")) bit = S_CH;
    else if (hr_mp_str_eq (key, key_len, "seq")) bit = S_SEQ;
    else if (hr_mp_str_eq (key, key_len, "epoch")) bit = S_EPOCH;
    else if (hr_mp_str_eq (key, key_len, "ts")) bit = S_TS;
    else if (hr_mp_str_eq (key, key_len, "type")) bit = S_TYPE;
    else if (hr_mp_str_eq (key, key_len, "data")) bit = S_DATA;
    else if (hr_mp_str_eq (key, key_len, "id")) bit = S_ID;
    else if (hr_mp_str_eq (key, key_len, "head")) bit = S_HEAD;
    else
        return hr_mp_skip (reader, HR_MPACK_MAX_DEPTH, NULL, NULL);
    if (decode->seen & bit)
        return HR_E_DUPLICATE_FIELD;
    decode->seen |= bit;
    hr_mp_item_t item;
    hr_error_t rc;
    switch (bit) {
        case S_CH: return hr_event_read_ch (reader, &ev->ch, &ev->ch_len);
        case S_SEQ: return hr_mp_read_uint (reader, &ev->seq);
        case S_TS: return hr_mp_read_uint (reader, &ev->ts);
        case S_EPOCH: return hr_event_read_epoch (reader, true, &ev->epoch, &ev->epoch_len);
        case S_TYPE: return hr_event_read_type (reader, &ev->type, &ev->type_len);
        case S_ID: return hr_event_read_id (reader, &ev->id, &ev->id_len);
        case S_DATA: return hr_mp_skip (reader, HR_MPACK_MAX_DEPTH, &ev->data, &ev->data_len);
        default:
            if ((rc = hr_mp_read (reader, &item)))
                return rc;
            if (item.kind != HR_MP_BOOL)
                return HR_E_BAD_TYPE;
            ev->head = item.boolean;
            return HR_OK;
    }
}

hr_error_t
hr_event_decode (const void *frame, size_t size, hr_event_t *ev)
{
    *ev = (hr_event_t) { 0 };
    s_decode_t decode = { ev, 0 };
    hr_error_t rc = hr_mp_read_map (frame, size, s_field, &decode);
    if (rc)
        return rc;
    unsigned required = ev->head? S_CH | S_SEQ | S_EPOCH
                                : S_CH | S_SEQ | S_EPOCH | S_TS | S_DATA;
    if ((decode.seen & required) != required)
        return HR_E_MISSING_FIELD;
    if (!ev->head && !ev->epoch)
        return HR_E_BAD_FIELD;          //  a real event always has an epoch
    return HR_OK;
}
