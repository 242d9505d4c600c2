/*  hr_cursor: cursor encoding and strict parsing.  */
#include "hr_cursor.h"
#include "hr_hash.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_VERSION 0x01
#define S_BIN_MAX (1 + 4 + 1 + HR_CHANSET_MAX * (1 + HR_EPOCH_MAX + 10) + 4)

static size_t
s_put_varint (uint8_t *p, uint64_t value)
{
    size_t n = 0;
    while (value >= 0x80) {
        p [n++] = (uint8_t) (value | 0x80);
        value >>= 7;
    }
    p [n++] = (uint8_t) value;
    return n;
}

static void
s_put_u32 (uint8_t *p, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        p [i] = (uint8_t) (value >> (8 * i));
}

static uint32_t
s_get_u32 (const uint8_t *p)
{
    return (uint32_t) p [0] | (uint32_t) p [1] << 8 | (uint32_t) p [2] << 16
         | (uint32_t) p [3] << 24;
}

void
hr_cursor_encode_parts (hr_buf_t *out, const hr_chanset_t *set,
                        const char *const *epochs, const uint64_t *seqs)
{
    uint8_t bin [S_BIN_MAX];
    size_t n = 0;
    bin [n++] = S_VERSION;
    s_put_u32 (bin + n, set->hash);
    n += 4;
    n += s_put_varint (bin + n, set->count);
    for (size_t i = 0; i < set->count && i < HR_CHANSET_MAX; i++) {
        size_t len = epochs [i]? strlen (epochs [i]): 0;
        if (len > HR_EPOCH_MAX)
            len = HR_EPOCH_MAX;
        bin [n++] = (uint8_t) len;
        if (len)
            memcpy (bin + n, epochs [i], len);
        n += len;
        n += s_put_varint (bin + n, seqs [i]);
    }
    s_put_u32 (bin + n, hr_fnv1a (HR_FNV1A_SEED, bin, n));
    n += 4;
    size_t text_len = sodium_base64_ENCODED_LEN (n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hr_buf_reserve (out, text_len);
    sodium_bin2base64 (out->data + out->size, text_len, bin, n,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out->size += text_len - 1;
}

void
hr_cursor_encode (hr_buf_t *out, const hr_chanset_t *set, const hr_position_t *positions)
{
    const char *epochs [HR_CHANSET_MAX];
    uint64_t seqs [HR_CHANSET_MAX];
    for (size_t i = 0; i < set->count && i < HR_CHANSET_MAX; i++) {
        epochs [i] = positions [i].epoch_len? positions [i].epoch: NULL;
        seqs [i] = positions [i].seq;
    }
    hr_cursor_encode_parts (out, set, epochs, seqs);
}

struct _hr_cursor_live_t {
    size_t count;
    size_t dirty;               //  first channel moved since the text was made
                                //  (count: only the checksum); SIZE_MAX: none
    size_t text_len, text_max;
    bool made;                  //  the text exists (from its first byte)
    uint64_t *seqs;             //  count
    uint32_t *at;               //  count + 1: where each channel's bytes start, then the checksum
    uint32_t *hash_at;          //  count + 1: the FNV-1a state before each channel's
                                //  bytes, then before the checksum
    uint8_t *bin;
    char *text;
};

//  base64url without padding of n bytes into text (NUL-terminated), as
//  sodium_bin2base64 writes it; returns the length. By table: sodium's
//  constant-time encoder was most of a kept cursor's update, and a
//  cursor is no secret.
static size_t
s_base64url (char *text, const uint8_t *bin, size_t n)
{
    static const char digits [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t t = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t) bin [i] << 16 | (uint32_t) bin [i + 1] << 8 | bin [i + 2];
        text [t++] = digits [v >> 18];
        text [t++] = digits [(v >> 12) & 63];
        text [t++] = digits [(v >> 6) & 63];
        text [t++] = digits [v & 63];
    }
    if (n - i == 1) {
        text [t++] = digits [bin [i] >> 2];
        text [t++] = digits [(bin [i] & 3) << 4];
    }
    else
    if (n - i == 2) {
        uint32_t v = (uint32_t) bin [i] << 8 | bin [i + 1];
        text [t++] = digits [v >> 10];
        text [t++] = digits [(v >> 4) & 63];
        text [t++] = digits [(v & 15) << 2];
    }
    text [t] = 0;
    return t;
}

//  One channel's bytes: epoch length, epoch, seq (as hr_cursor_encode_parts).
static size_t
s_put_position (uint8_t *p, const char *epoch, size_t len, uint64_t seq)
{
    p [0] = (uint8_t) len;
    if (len)
        memcpy (p + 1, epoch, len);
    return 1 + len + s_put_varint (p + 1 + len, seq);
}

hr_cursor_live_t *
hr_cursor_live_new (const hr_chanset_t *set)
{
    size_t count = set->count < HR_CHANSET_MAX? set->count: HR_CHANSET_MAX;
    size_t bin_max = 1 + 4 + 10 + count * (1 + HR_EPOCH_MAX + 10) + 4;
    size_t text_max = sodium_base64_ENCODED_LEN (bin_max,
                                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hr_cursor_live_t *self = hr_calloc (1, sizeof *self);
    self->count = count;
    self->text_max = text_max;
    self->seqs = hr_calloc (count, sizeof *self->seqs);
    self->at = hr_calloc (count + 1, sizeof *self->at);
    self->hash_at = hr_calloc (count + 1, sizeof *self->hash_at);
    self->bin = hr_malloc (bin_max);
    self->text = hr_malloc (text_max);
    size_t n = 0;
    self->bin [n++] = S_VERSION;
    s_put_u32 (self->bin + n, set->hash);
    n += 4;
    n += s_put_varint (self->bin + n, set->count);
    for (size_t i = 0; i < count; i++) {
        self->at [i] = (uint32_t) n;
        n += s_put_position (self->bin + n, NULL, 0, 0);
    }
    self->at [count] = (uint32_t) n;
    self->hash_at [0] = hr_fnv1a (HR_FNV1A_SEED, self->bin, self->at [0]);
    self->dirty = 0;
    return self;
}

void
hr_cursor_live_destroy (hr_cursor_live_t **self_p)
{
    hr_cursor_live_t *self = *self_p;
    if (!self)
        return;
    free (self->seqs);
    free (self->at);
    free (self->hash_at);
    free (self->bin);
    free (self->text);
    free (self);
    *self_p = NULL;
}

void
hr_cursor_live_set (hr_cursor_live_t *self, size_t index, const char *epoch, uint64_t seq)
{
    if (index >= self->count)
        return;                         //  past HR_CHANSET_MAX: not encoded
    size_t len = epoch? strlen (epoch): 0;
    if (len > HR_EPOCH_MAX)
        len = HR_EPOCH_MAX;
    uint8_t *old = self->bin + self->at [index];
    if (self->seqs [index] == seq && old [0] == len
    &&  (len == 0 || memcmp (old + 1, epoch, len) == 0))
        return;
    uint8_t position [1 + HR_EPOCH_MAX + 10];
    size_t size = s_put_position (position, epoch, len, seq);
    size_t old_size = self->at [index + 1] - self->at [index];
    if (size != old_size) {
        //  The channels after it move (the checksum is written again anyway)
        uint8_t *after = self->bin + self->at [index + 1];
        memmove (old + size, after, self->at [self->count] - self->at [index + 1]);
        for (size_t j = index + 1; j <= self->count; j++)
            self->at [j] = (uint32_t) (self->at [j] + size - old_size);
    }
    memcpy (old, position, size);
    self->seqs [index] = seq;
    if (index < self->dirty)
        self->dirty = index;
}

const char *
hr_cursor_live_text (hr_cursor_live_t *self, size_t *len)
{
    if (self->dirty != SIZE_MAX) {
        //  The checksum from the state before the first moved channel
        uint32_t hash = self->hash_at [self->dirty];
        for (size_t j = self->dirty; j < self->count; j++) {
            self->hash_at [j] = hash;
            hash = hr_fnv1a (hash, self->bin + self->at [j], self->at [j + 1] - self->at [j]);
        }
        self->hash_at [self->count] = hash;
        size_t size = self->at [self->count] + 4;
        s_put_u32 (self->bin + size - 4, hash);
        //  The base64 from the 3-byte group that channel starts in: the
        //  groups before it encode the same bytes as before
        size_t from = self->made? self->at [self->dirty] / 3 * 3: 0;
        self->made = true;
        size_t text_from = from / 3 * 4;
        self->text_len = text_from + s_base64url (self->text + text_from, self->bin + from,
                                                  size - from);
        self->dirty = SIZE_MAX;
    }
    *len = self->text_len;
    return self->text;
}

//  Reads a minimal LEB128 varint of at most 10 bytes; -1 when malformed.
static int
s_get_varint (const uint8_t **p, const uint8_t *end, uint64_t *value)
{
    uint64_t result = 0;
    for (int i = 0; i < 10; i++) {
        if (*p >= end)
            return -1;
        uint8_t byte = *(*p)++;
        if (i == 9 && byte > 1)
            return -1;                  //  more than 64 bits
        result |= (uint64_t) (byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            if (byte == 0 && i > 0)
                return -1;              //  redundant trailing group
            *value = result;
            return 0;
        }
    }
    return -1;
}

hr_cursor_status_t
hr_cursor_parse (const char *text, size_t len, const hr_chanset_t *set,
                 hr_position_t *positions)
{
    if (len == 0 || len > HR_CURSOR_TEXT_MAX)
        return HR_CURSOR_BAD;
    //  libsodium 1.0.18 reads bytes over 0x7f as '_': check the alphabet first
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text [i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '-' || c == '_'))
            return HR_CURSOR_BAD;
    }
    uint8_t bin [S_BIN_MAX + 3];
    size_t size;
    const char *end_text;
    if (sodium_base642bin (bin, sizeof bin, text, len, NULL, &size, &end_text,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0
    ||  end_text != text + len)
        return HR_CURSOR_BAD;
    if (size < 1 + 4 + 1 + 4
    ||  s_get_u32 (bin + size - 4) != hr_fnv1a (HR_FNV1A_SEED, bin, size - 4))
        return HR_CURSOR_BAD;
    const uint8_t *p = bin, *end = bin + size - 4;
    if (*p++ != S_VERSION)
        return HR_CURSOR_BAD;
    uint32_t hash = s_get_u32 (p);
    p += 4;
    uint64_t count;
    if (s_get_varint (&p, end, &count) || count == 0 || count > HR_CHANSET_MAX)
        return HR_CURSOR_BAD;
    //  Parsed whole before the set is compared: only a well-formed cursor
    //  of another set is "other", anything else is garbage
    hr_position_t parsed [HR_CHANSET_MAX];
    for (size_t i = 0; i < count; i++) {
        if (p >= end)
            return HR_CURSOR_BAD;
        size_t epoch_len = *p++;
        if (epoch_len > HR_EPOCH_MAX || epoch_len > (size_t) (end - p))
            return HR_CURSOR_BAD;
        if (epoch_len && !hr_token_valid ((const char *) p, epoch_len, HR_EPOCH_MAX))
            return HR_CURSOR_BAD;
        memcpy (parsed [i].epoch, p, epoch_len);
        parsed [i].epoch [epoch_len] = 0;
        parsed [i].epoch_len = epoch_len;
        p += epoch_len;
        if (s_get_varint (&p, end, &parsed [i].seq))
            return HR_CURSOR_BAD;
        if (epoch_len == 0 && parsed [i].seq != 0)
            return HR_CURSOR_BAD;
    }
    if (p != end)
        return HR_CURSOR_BAD;
    if (hash != set->hash || count != set->count)
        return HR_CURSOR_OTHER_SET;
    memcpy (positions, parsed, count * sizeof *positions);
    return HR_CURSOR_OK;
}

hr_error_t
hr_cursor_decode (const char *text, size_t len, const hr_chanset_t *set,
                  hr_position_t *positions)
{
    return hr_cursor_parse (text, len, set, positions) == HR_CURSOR_OK? HR_OK
                                                                       : HR_E_BAD_CURSOR;
}
