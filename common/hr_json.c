/*  hr_json: MessagePack -> JSON rendering and JSON -> MessagePack packing.  */
#include "hr_json.h"
#include "hr_mpack.h"
#include "hr_pack.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Length of the valid UTF-8 sequence at p (at most left bytes), or 0.
static size_t
s_utf8_len (const unsigned char *p, size_t left)
{
    unsigned char c = p [0];
    size_t len;
    uint32_t min, cp;
    if (c < 0x80)
        return 1;
    else if ((c & 0xe0) == 0xc0) { len = 2; min = 0x80; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; min = 0x800; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; min = 0x10000; cp = c & 0x07; }
    else return 0;
    if (len > left)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p [i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p [i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void
hr_json_string (hr_buf_t *out, const char *text, size_t size)
{
    static const char hex [] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) text;
    hr_buf_reserve (out, size + 2);
    hr_buf_putc (out, '"');
    size_t run = 0;             //  start of the pending run of plain bytes
    size_t i = 0;
    while (i < size) {
        unsigned char c = p [i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t len = c >= 0x80? s_utf8_len (p + i, size - i): 0;
        if (len) {
            i += len;
            continue;
        }
        hr_buf_put (out, text + run, i - run);
        if (c == '"' || c == '\\') {
            char esc [2] = { '\\', (char) c };
            hr_buf_put (out, esc, 2);
        }
        else if (c == '\n') hr_buf_put (out, "\\n", 2);
        else if (c == '\r') hr_buf_put (out, "\\r", 2);
        else if (c == '\t') hr_buf_put (out, "\\t", 2);
        else if (c < 0x20) {
            char esc [6] = { '\\', 'u', '0', '0', hex [c >> 4], hex [c & 15] };
            hr_buf_put (out, esc, 6);
        }
        else
            hr_buf_put (out, "\xef\xbf\xbd", 3);      //  U+FFFD
        i++;
        run = i;
    }
    hr_buf_put (out, text + run, size - run);
    hr_buf_putc (out, '"');
}

static void
s_base64 (hr_buf_t *out, const char *data, size_t size)
{
    size_t len = sodium_base64_ENCODED_LEN (size, sodium_base64_VARIANT_ORIGINAL);
    hr_buf_reserve (out, len + 2);
    hr_buf_putc (out, '"');
    sodium_bin2base64 (out->data + out->size, len, (const unsigned char *) data,
                       size, sodium_base64_VARIANT_ORIGINAL);
    out->size += len - 1;       //  without sodium's NUL
    hr_buf_putc (out, '"');
}

static void
s_number (hr_buf_t *out, double value)
{
    if (!isfinite (value)) {
        hr_buf_puts (out, "null");
        return;
    }
    //  The shortest form that reads back as the same double
    char text [32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf (text, sizeof text, "%.*g", digits, value);
        if (strtod (text, NULL) == value)
            break;
    }
    hr_buf_puts (out, text);
}

static bool s_value (hr_buf_t *out, hr_mp_reader_t *reader, int depth);

//  Renders a map key: strings as is, anything else as its JSON text quoted.
//  That text is bounded: each level of keys inside keys escapes the level
//  below again, so unbounded nesting would grow the output exponentially.
static bool
s_key (hr_buf_t *out, hr_mp_reader_t *reader, int depth)
{
    hr_mp_reader_t peek = *reader;
    hr_mp_item_t item;
    if (hr_mp_read (&peek, &item) == HR_OK && item.kind == HR_MP_STR) {
        *reader = peek;
        hr_json_string (out, item.str.ptr, item.str.len);
        return true;
    }
    hr_buf_t text = HR_BUF_INIT;
    bool ok = s_value (&text, reader, depth) && text.size <= HR_JSON_MAX_KEY_TEXT;
    if (ok)
        hr_json_string (out, text.data? text.data: "", text.size);
    hr_buf_free (&text);
    return ok;
}

static bool
s_value (hr_buf_t *out, hr_mp_reader_t *reader, int depth)
{
    hr_mp_item_t item;
    if (depth < 0 || hr_mp_read (reader, &item) != HR_OK)
        return false;
    switch (item.kind) {
        case HR_MP_NIL: hr_buf_puts (out, "null"); return true;
        case HR_MP_BOOL: hr_buf_puts (out, item.boolean? "true": "false"); return true;
        case HR_MP_UINT: hr_buf_put_u64 (out, item.u); return true;
        case HR_MP_INT:
            hr_buf_putc (out, '-');
            hr_buf_put_u64 (out, (uint64_t) 0 - (uint64_t) item.i);
            return true;
        case HR_MP_FLOAT: s_number (out, item.f); return true;
        case HR_MP_STR: hr_json_string (out, item.str.ptr, item.str.len); return true;
        case HR_MP_BIN:
        case HR_MP_EXT: s_base64 (out, item.str.ptr, item.str.len); return true;
        case HR_MP_ARRAY:
            if (depth <= 0)
                return false;           //  the bound hr_mp_skip applies
            hr_buf_putc (out, '[');
            for (uint32_t i = 0; i < item.count; i++) {
                if (i)
                    hr_buf_putc (out, ',');
                if (!s_value (out, reader, depth - 1))
                    return false;
            }
            hr_buf_putc (out, ']');
            return true;
        case HR_MP_MAP:
            if (depth <= 0)
                return false;
            hr_buf_putc (out, '{');
            for (uint32_t i = 0; i < item.count; i++) {
                if (i)
                    hr_buf_putc (out, ',');
                if (!s_key (out, reader, depth - 1))
                    return false;
                hr_buf_putc (out, ':');
                if (!s_value (out, reader, depth - 1))
                    return false;
            }
            hr_buf_putc (out, '}');
            return true;
    }
    return false;
}

void
hr_json_from_mpack (hr_buf_t *out, const uint8_t *data, size_t size)
{
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, data, size);
    size_t mark = out->size;
    if (!s_value (out, &reader, HR_MPACK_MAX_DEPTH)) {
        out->size = mark;
        hr_buf_puts (out, "null");
    }
}

void
hr_json_envelope (hr_buf_t *out, const hr_event_t *ev)
{
    hr_buf_puts (out, "{\"channel\":");
    hr_json_string (out, ev->ch, ev->ch_len);
    hr_buf_puts (out, ",\"seq\":");
    hr_buf_put_u64 (out, ev->seq);
    hr_buf_puts (out, ",\"epoch\":");
    if (ev->epoch)
        hr_json_string (out, ev->epoch, ev->epoch_len);
    else
        hr_buf_puts (out, "null");
    hr_buf_puts (out, ",\"ts\":");
    hr_buf_put_u64 (out, ev->ts);
    if (ev->type) {
        hr_buf_puts (out, ",\"type\":");
        hr_json_string (out, ev->type, ev->type_len);
    }
    hr_buf_puts (out, ",\"data\":");
    if (ev->data)
        hr_json_from_mpack (out, ev->data, ev->data_len);
    else
        hr_buf_puts (out, "null");      //  a head marker has none
    if (ev->id) {
        hr_buf_puts (out, ",\"id\":");
        hr_json_string (out, ev->id, ev->id_len);
    }
    hr_buf_putc (out, '}');
}

static hr_error_t
s_pack (msgpack_packer *pk, const json_t *value, int depth)
{
    if ((json_is_array (value) || json_is_object (value)) && depth <= 0)
        return HR_E_TOO_DEEP;       //  the same bound hr_mp_skip applies
    switch (json_typeof (value)) {
        case JSON_NULL: msgpack_pack_nil (pk); return HR_OK;
        case JSON_TRUE: msgpack_pack_true (pk); return HR_OK;
        case JSON_FALSE: msgpack_pack_false (pk); return HR_OK;
        case JSON_INTEGER: msgpack_pack_int64 (pk, json_integer_value (value)); return HR_OK;
        case JSON_REAL: msgpack_pack_double (pk, json_real_value (value)); return HR_OK;
        case JSON_STRING:
            hr_pack_str (pk, json_string_value (value), json_string_length (value));
            return HR_OK;
        case JSON_ARRAY: {
            size_t count = json_array_size (value);
            msgpack_pack_array (pk, count);
            for (size_t i = 0; i < count; i++) {
                hr_error_t rc = s_pack (pk, json_array_get (value, i), depth - 1);
                if (rc)
                    return rc;
            }
            return HR_OK;
        }
        case JSON_OBJECT: {
            msgpack_pack_map (pk, json_object_size (value));
            const char *key;
            json_t *member;
            json_object_foreach ((json_t *) value, key, member) {
                hr_pack_cstr (pk, key);
                hr_error_t rc = s_pack (pk, member, depth - 1);
                if (rc)
                    return rc;
            }
            return HR_OK;
        }
    }
    return HR_E_BAD_JSON;
}

void
hr_json_error (hr_buf_t *out, hr_error_t error, const char *detail)
{
    const char *message = detail? detail: hr_error_message (error);
    hr_buf_puts (out, "{\"error\":\"");
    hr_buf_puts (out, hr_error_code (error));
    hr_buf_puts (out, "\",\"message\":");
    hr_json_string (out, message, strlen (message));
    hr_buf_puts (out, "}");
}

hr_error_t
hr_json_to_mpack (hr_buf_t *out, const json_t *value)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    return s_pack (&pk, value, HR_MPACK_MAX_DEPTH);
}
