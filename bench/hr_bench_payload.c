/*  hr_bench_payload.c - the generator's event payload

    Both processes of a run are on one machine, so the CLOCK_MONOTONIC time
    written by the publisher can be subtracted from the subscriber's own.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hr_bench_payload.h"

#define S_SEQ_KEY "hb_seq"
#define S_TS_KEY  "hb_ts"

uint64_t
hr_bench_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (uint64_t) now.tv_sec * 1000000000ull + (uint64_t) now.tv_nsec;
}

//  Bytes of padding that make the JSON text `size` long.
static size_t
s_pad (uint64_t seq, uint64_t ts, size_t size)
{
    char head [96];
    int len = snprintf (head, sizeof head,
                        "{\"" S_SEQ_KEY "\":%" PRIu64 ",\"" S_TS_KEY "\":%" PRIu64 ",\"pad\":\"\"}",
                        seq, ts);
    return size > (size_t) len? size - (size_t) len: 0;
}

size_t
hr_bench_payload_json (char *buf, size_t buf_size, uint64_t seq, uint64_t ts, size_t size)
{
    size_t pad = s_pad (seq, ts, size);
    int head = snprintf (buf, buf_size,
                         "{\"" S_SEQ_KEY "\":%" PRIu64 ",\"" S_TS_KEY "\":%" PRIu64 ",\"pad\":\"",
                         seq, ts);
    if (head < 0 || (size_t) head + pad + 3 > buf_size)
        return 0;
    memset (buf + head, 'x', pad);
    memcpy (buf + head + pad, "\"}", 3);
    return (size_t) head + pad + 2;
}

void
hr_bench_payload_pack (msgpack_packer *pk, uint64_t seq, uint64_t ts, size_t size)
{
    static const char padding [4096] = { [0 ... 4095] = 'x' };
    size_t pad = s_pad (seq, ts, size);
    msgpack_pack_map (pk, 3);
    msgpack_pack_str_with_body (pk, S_SEQ_KEY, strlen (S_SEQ_KEY));
    msgpack_pack_uint64 (pk, seq);
    msgpack_pack_str_with_body (pk, S_TS_KEY, strlen (S_TS_KEY));
    msgpack_pack_uint64 (pk, ts);
    msgpack_pack_str_with_body (pk, "pad", 3);
    msgpack_pack_str (pk, pad);
    for (size_t done = 0; done < pad; ) {
        size_t part = pad - done < sizeof padding? pad - done: sizeof padding;
        msgpack_pack_str_body (pk, padding, part);
        done += part;
    }
}

//  Finds key in text, skips what may stand between it and its number
//  (quote, backslash of an escaped quote, colon, space) and reads the digits.
static int
s_find_number (const char *text, size_t len, const char *key, uint64_t *value)
{
    size_t key_len = strlen (key);
    const char *end = text + len;
    const char *at = memmem (text, len, key, key_len);
    if (!at)
        return -1;
    const char *cursor = at + key_len;
    for (int skipped = 0; cursor < end && skipped < 6
         && (*cursor == '"' || *cursor == '\\' || *cursor == ':' || *cursor == ' ');
         skipped++)
        cursor++;
    if (cursor == end || *cursor < '0' || *cursor > '9')
        return -1;
    uint64_t number = 0;
    for (int digits = 0; cursor < end && *cursor >= '0' && *cursor <= '9'; cursor++) {
        if (++digits > 19)
            return -1;
        number = number * 10 + (uint64_t) (*cursor - '0');
    }
    *value = number;
    return 0;
}

int
hr_bench_payload_scan (const char *text, size_t len, uint64_t *seq, uint64_t *ts)
{
    if (s_find_number (text, len, S_SEQ_KEY, seq) != 0
    ||  s_find_number (text, len, S_TS_KEY, ts) != 0)
        return -1;
    return 0;
}
