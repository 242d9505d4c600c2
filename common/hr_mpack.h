/*  hr_mpack: a strict, bounded, zero-allocation MessagePack reader.

    Herald decodes network frames with this reader instead of msgpack-c's
    unpacker, which allocates for a declared element count before reading
    the elements (docs/architecture.md §10). Every length and count is checked against
    the bytes left before anything is trusted; nothing is copied: strings and
    nested values are returned as spans into the frame. Encoding uses
    msgpack-c's packer (see hr_event, hr_proto).  */
#ifndef HR_MPACK_H
#define HR_MPACK_H

#include "hr_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_MPACK_MAX_DEPTH 32

typedef enum {
    HR_MP_NIL, HR_MP_BOOL, HR_MP_UINT, HR_MP_INT, HR_MP_FLOAT,
    HR_MP_STR, HR_MP_BIN, HR_MP_ARRAY, HR_MP_MAP, HR_MP_EXT
} hr_mp_kind_t;

//  One item: a scalar, a string/binary/ext span, or a container's header.
typedef struct {
    hr_mp_kind_t kind;
    union {
        bool boolean;
        uint64_t u;             //  HR_MP_UINT (every non-negative integer)
        int64_t i;              //  HR_MP_INT (negative integers only)
        double f;               //  HR_MP_FLOAT (float 32 widened)
        uint32_t count;         //  HR_MP_ARRAY elements, HR_MP_MAP pairs
        struct {
            const char *ptr;    //  into the frame; not NUL-terminated
            uint32_t len;
            int8_t ext_type;    //  HR_MP_EXT only
        } str;                  //  HR_MP_STR, HR_MP_BIN, HR_MP_EXT
    };
} hr_mp_item_t;

typedef struct _hr_mp_reader_t {
    const uint8_t *pos;
    const uint8_t *end;
} hr_mp_reader_t;

static inline void
hr_mp_reader_init (hr_mp_reader_t *self, const void *data, size_t size)
{
    self->pos = data;
    self->end = self->pos + size;
}

static inline size_t
hr_mp_left (const hr_mp_reader_t *self)
{
    return (size_t) (self->end - self->pos);
}

//  Reads one item. For arrays and maps only the header is consumed; the
//  declared count is already checked against the bytes left (each element
//  needs at least one byte). Errors: HR_E_TRUNCATED, HR_E_BAD_LENGTH,
//  HR_E_BAD_MSGPACK.
hr_error_t hr_mp_read (hr_mp_reader_t *self, hr_mp_item_t *item);

//  Reads and validates one complete value (recursing into containers up to
//  depth levels), returning its encoded span. Adds HR_E_TOO_DEEP.
hr_error_t hr_mp_skip (hr_mp_reader_t *self, int depth,
                       const uint8_t **start, size_t *size);

//  Reads a string item into a span; HR_E_BAD_TYPE when not a string.
hr_error_t hr_mp_read_str (hr_mp_reader_t *self, const char **ptr, size_t *len);

//  Reads an unsigned integer; HR_E_BAD_TYPE for any other kind.
hr_error_t hr_mp_read_uint (hr_mp_reader_t *self, uint64_t *value);

//  Reads a boolean; HR_E_BAD_TYPE for any other kind.
hr_error_t hr_mp_read_bool (hr_mp_reader_t *self, bool *value);

//  Called for each key of a map read by hr_mp_read_map; reads (or skips)
//  exactly the key's value.
typedef hr_error_t (hr_mp_field_fn) (hr_mp_reader_t *reader, const char *key,
                                     size_t key_len, void *arg);

//  Reads a frame that must be exactly one map with string keys, calling
//  field for each key. Errors: those of the reader and of field, plus
//  HR_E_BAD_TYPE (not a map, a key not a string) and HR_E_TRAILING_BYTES.
hr_error_t hr_mp_read_map (const void *frame, size_t size, hr_mp_field_fn *field,
                           void *arg);

//  True when the span equals the NUL-terminated literal.
static inline bool
hr_mp_str_eq (const char *ptr, size_t len, const char *literal)
{
    size_t i = 0;
    for (; i < len; i++)
        if (literal [i] != ptr [i] || literal [i] == 0)
            return false;
    return literal [i] == 0;
}

#endif
