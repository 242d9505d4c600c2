/*  hr_pack: msgpack-c's packer writing into an hr_buf_t.

    The encoders of hr_event and hr_proto build frames with msgpack-c's
    msgpack_pack_* functions; this binds a packer to a growable buffer and
    adds the two helpers they all need. Header-only.  */
#ifndef HR_PACK_H
#define HR_PACK_H

#include "hr_buf.h"

#include <msgpack.h>
#include <string.h>

static inline int
hr_pack_write (void *data, const char *bytes, size_t size)
{
    hr_buf_put ((hr_buf_t *) data, bytes, size);
    return 0;
}

//  Binds pk to out; bytes packed are appended to out.
static inline void
hr_pack_init (msgpack_packer *pk, hr_buf_t *out)
{
    msgpack_packer_init (pk, out, hr_pack_write);
}

static inline void
hr_pack_str (msgpack_packer *pk, const char *text, size_t size)
{
    msgpack_pack_str (pk, size);
    msgpack_pack_str_body (pk, text, size);
}

//  Packs a NUL-terminated string (keys, codes, names).
static inline void
hr_pack_cstr (msgpack_packer *pk, const char *key)
{
    hr_pack_str (pk, key, strlen (key));
}

#endif
