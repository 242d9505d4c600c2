/*  cursor_fixture: crafting cursors byte by byte for test_cursor*.c:
    s_craft() takes the bytes before the checksum, appends the FNV-1a
    checksum and encodes base64url without padding, so each crafted cursor
    is wrong in exactly one way.  */
#ifndef CURSOR_FIXTURE_H
#define CURSOR_FIXTURE_H

#include "hr_cursor.h"
#include "hr_hash.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

static inline hr_chanset_t *
s_set1 (void)
{
    const char *names [] = { "orders" };
    return hr_chanset_new (names, 1);
}

static inline hr_chanset_t *
s_set3 (void)
{
    const char *names [] = { "stats", "orders", "seller:1" };
    return hr_chanset_new (names, 3);
}

static inline hr_position_t
s_pos (const char *epoch, uint64_t seq)
{
    hr_position_t pos = { .epoch_len = strlen (epoch), .seq = seq };
    memcpy (pos.epoch, epoch, pos.epoch_len + 1);
    return pos;
}

//  Appends the checksum to body and writes its base64url text into out.
static inline void
s_craft (hr_buf_t *out, const uint8_t *body, size_t size)
{
    uint8_t bin [4096];
    memcpy (bin, body, size);
    uint32_t sum = hr_fnv1a (HR_FNV1A_SEED, body, size);
    for (int i = 0; i < 4; i++)
        bin [size + (size_t) i] = (uint8_t) (sum >> (8 * i));
    size += 4;
    char text [8192];
    sodium_bin2base64 (text, sizeof text, bin, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hr_buf_reset (out);
    hr_buf_puts (out, text);
}

//  Writes the header bytes (version, set hash) into body; returns 5.
static inline size_t
s_header (uint8_t *body, uint8_t version, uint32_t hash)
{
    body [0] = version;
    for (int i = 0; i < 4; i++)
        body [1 + i] = (uint8_t) (hash >> (8 * i));
    return 5;
}

#endif
