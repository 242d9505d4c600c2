/*  hr_mpack: strict MessagePack reader. Format reference: the MessagePack
    specification (github.com/msgpack/msgpack/blob/master/spec.md).  */
#include "hr_mpack.h"

#include <string.h>

static inline uint64_t
s_be (const uint8_t *p, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = (value << 8) | p [i];
    return value;
}

//  Takes a bytes-wide big-endian length, then checks that many bytes remain.
static hr_error_t
s_span (hr_mp_reader_t *self, int bytes, hr_mp_item_t *item)
{
    if (hr_mp_left (self) < (size_t) bytes)
        return HR_E_TRUNCATED;
    uint64_t len = s_be (self->pos, bytes);
    self->pos += bytes;
    if (len > hr_mp_left (self))
        return HR_E_BAD_LENGTH;
    item->str.ptr = (const char *) self->pos;
    item->str.len = (uint32_t) len;
    self->pos += len;
    return HR_OK;
}

//  Ext: bytes-wide length (or fixed size when bytes is 0), then a type byte.
static hr_error_t
s_ext (hr_mp_reader_t *self, int bytes, uint32_t fixed, hr_mp_item_t *item)
{
    uint64_t len = fixed;
    if (hr_mp_left (self) < (size_t) bytes + 1)
        return HR_E_TRUNCATED;
    if (bytes) {
        len = s_be (self->pos, bytes);
        self->pos += bytes;
    }
    item->kind = HR_MP_EXT;
    item->str.ext_type = (int8_t) *self->pos++;
    if (len > hr_mp_left (self))
        return HR_E_BAD_LENGTH;
    item->str.ptr = (const char *) self->pos;
    item->str.len = (uint32_t) len;
    self->pos += len;
    return HR_OK;
}

//  Container header: count elements need at least count * per bytes.
static hr_error_t
s_container (hr_mp_reader_t *self, int bytes, uint64_t count, unsigned per,
             hr_mp_kind_t kind, hr_mp_item_t *item)
{
    if (bytes) {
        if (hr_mp_left (self) < (size_t) bytes)
            return HR_E_TRUNCATED;
        count = s_be (self->pos, bytes);
        self->pos += bytes;
    }
    if (count > hr_mp_left (self) / per)
        return HR_E_BAD_LENGTH;
    item->kind = kind;
    item->count = (uint32_t) count;
    return HR_OK;
}

static hr_error_t
s_fixed (hr_mp_reader_t *self, int bytes, uint64_t *value)
{
    if (hr_mp_left (self) < (size_t) bytes)
        return HR_E_TRUNCATED;
    *value = s_be (self->pos, bytes);
    self->pos += bytes;
    return HR_OK;
}

static hr_error_t
s_signed (hr_mp_reader_t *self, int bytes, hr_mp_item_t *item)
{
    uint64_t raw;
    hr_error_t rc = s_fixed (self, bytes, &raw);
    if (rc)
        return rc;
    int64_t value;
    switch (bytes) {
        case 1: value = (int8_t) raw; break;
        case 2: value = (int16_t) raw; break;
        case 4: value = (int32_t) raw; break;
        default: value = (int64_t) raw; break;
    }
    if (value >= 0) {
        item->kind = HR_MP_UINT;
        item->u = (uint64_t) value;
    }
    else {
        item->kind = HR_MP_INT;
        item->i = value;
    }
    return HR_OK;
}

hr_error_t
hr_mp_read (hr_mp_reader_t *self, hr_mp_item_t *item)
{
    if (self->pos >= self->end)
        return HR_E_TRUNCATED;
    uint8_t tag = *self->pos++;
    if (tag <= 0x7f) {
        item->kind = HR_MP_UINT;
        item->u = tag;
        return HR_OK;
    }
    if (tag >= 0xe0) {
        item->kind = HR_MP_INT;
        item->i = (int8_t) tag;
        return HR_OK;
    }
    if ((tag & 0xf0) == 0x80)
        return s_container (self, 0, tag & 0x0f, 2, HR_MP_MAP, item);
    if ((tag & 0xf0) == 0x90)
        return s_container (self, 0, tag & 0x0f, 1, HR_MP_ARRAY, item);
    if ((tag & 0xe0) == 0xa0) {
        uint32_t len = tag & 0x1f;
        if (len > hr_mp_left (self))
            return HR_E_BAD_LENGTH;
        item->kind = HR_MP_STR;
        item->str.ptr = (const char *) self->pos;
        item->str.len = len;
        self->pos += len;
        return HR_OK;
    }
    uint64_t raw;
    hr_error_t rc;
    switch (tag) {
        case 0xc0: item->kind = HR_MP_NIL; return HR_OK;
        case 0xc2: item->kind = HR_MP_BOOL; item->boolean = false; return HR_OK;
        case 0xc3: item->kind = HR_MP_BOOL; item->boolean = true; return HR_OK;
        case 0xc4: item->kind = HR_MP_BIN; return s_span (self, 1, item);
        case 0xc5: item->kind = HR_MP_BIN; return s_span (self, 2, item);
        case 0xc6: item->kind = HR_MP_BIN; return s_span (self, 4, item);
        case 0xc7: return s_ext (self, 1, 0, item);
        case 0xc8: return s_ext (self, 2, 0, item);
        case 0xc9: return s_ext (self, 4, 0, item);
        case 0xca: {
            if ((rc = s_fixed (self, 4, &raw)))
                return rc;
            uint32_t bits = (uint32_t) raw;
            float value;
            memcpy (&value, &bits, sizeof value);
            item->kind = HR_MP_FLOAT;
            item->f = value;
            return HR_OK;
        }
        case 0xcb: {
            if ((rc = s_fixed (self, 8, &raw)))
                return rc;
            memcpy (&item->f, &raw, sizeof item->f);
            item->kind = HR_MP_FLOAT;
            return HR_OK;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            item->kind = HR_MP_UINT;
            return s_fixed (self, 1 << (tag - 0xcc), &item->u);
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            return s_signed (self, 1 << (tag - 0xd0), item);
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            return s_ext (self, 0, 1u << (tag - 0xd4), item);
        case 0xd9: item->kind = HR_MP_STR; return s_span (self, 1, item);
        case 0xda: item->kind = HR_MP_STR; return s_span (self, 2, item);
        case 0xdb: item->kind = HR_MP_STR; return s_span (self, 4, item);
        case 0xdc: return s_container (self, 2, 0, 1, HR_MP_ARRAY, item);
        case 0xdd: return s_container (self, 4, 0, 1, HR_MP_ARRAY, item);
        case 0xde: return s_container (self, 2, 0, 2, HR_MP_MAP, item);
        case 0xdf: return s_container (self, 4, 0, 2, HR_MP_MAP, item);
        default: return HR_E_BAD_MSGPACK;      //  0xc1, never used
    }
}

static hr_error_t
s_skip (hr_mp_reader_t *self, int depth)
{
    hr_mp_item_t item;
    hr_error_t rc = hr_mp_read (self, &item);
    if (rc)
        return rc;
    if (item.kind != HR_MP_ARRAY && item.kind != HR_MP_MAP)
        return HR_OK;
    if (depth <= 0)
        return HR_E_TOO_DEEP;
    uint64_t values = item.kind == HR_MP_MAP? 2 * (uint64_t) item.count: item.count;
    for (uint64_t i = 0; i < values; i++)
        if ((rc = s_skip (self, depth - 1)))
            return rc;
    return HR_OK;
}

hr_error_t
hr_mp_skip (hr_mp_reader_t *self, int depth,
            const uint8_t **start, size_t *size)
{
    const uint8_t *from = self->pos;
    hr_error_t rc = s_skip (self, depth);
    if (rc)
        return rc;
    if (start)
        *start = from;
    if (size)
        *size = (size_t) (self->pos - from);
    return HR_OK;
}

hr_error_t
hr_mp_read_str (hr_mp_reader_t *self, const char **ptr, size_t *len)
{
    hr_mp_item_t item;
    hr_error_t rc = hr_mp_read (self, &item);
    if (rc)
        return rc;
    if (item.kind != HR_MP_STR)
        return HR_E_BAD_TYPE;
    *ptr = item.str.ptr;
    *len = item.str.len;
    return HR_OK;
}

hr_error_t
hr_mp_read_uint (hr_mp_reader_t *self, uint64_t *value)
{
    hr_mp_item_t item;
    hr_error_t rc = hr_mp_read (self, &item);
    if (rc)
        return rc;
    if (item.kind != HR_MP_UINT)
        return HR_E_BAD_TYPE;
    *value = item.u;
    return HR_OK;
}

hr_error_t
hr_mp_read_bool (hr_mp_reader_t *self, bool *value)
{
    hr_mp_item_t item;
    hr_error_t rc = hr_mp_read (self, &item);
    if (rc)
        return rc;
    if (item.kind != HR_MP_BOOL)
        return HR_E_BAD_TYPE;
    *value = item.boolean;
    return HR_OK;
}

hr_error_t
hr_mp_read_map (const void *frame, size_t size, hr_mp_field_fn *field, void *arg)
{
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, frame, size);
    hr_mp_item_t map;
    hr_error_t rc = hr_mp_read (&reader, &map);
    if (rc)
        return rc;
    if (map.kind != HR_MP_MAP)
        return HR_E_BAD_TYPE;
    for (uint32_t i = 0; i < map.count; i++) {
        const char *key;
        size_t key_len;
        if ((rc = hr_mp_read_str (&reader, &key, &key_len))
        ||  (rc = field (&reader, key, key_len, arg)))
            return rc;
    }
    return hr_mp_left (&reader)? HR_E_TRAILING_BYTES: HR_OK;
}
