/*  fuzz_event: libFuzzer target for the envelope decoder (common/hr_event).

    Every input goes through hr_event_decode. When it decodes, the event is
    encoded again and decoded again: the fields must come back equal. Real
    events are also rendered as JSON, as a gateway does for SSE, and the
    text must be valid JSON (RFC 8259) in valid UTF-8, checked by the small
    validator below (jansson cannot be the judge: it refuses "\u0000" in
    object keys, which is valid JSON).
  */
#include "hr_mpack.h"
#include "hr_channel.h"
#include "hr_event.h"
#include "hr_json.h"

#include "fuzz_support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



//  A strict JSON validator: returns the end of one value, or NULL.
static const char *s_json_value (const char *p, const char *end, int depth);

//  Length of the valid UTF-8 sequence at p (RFC 3629), or 0: the oracle's
//  own, independent of the renderer under test.
static size_t
s_utf8_len (const unsigned char *p, size_t left)
{
    if (p [0] < 0x80)
        return 1;
    size_t len = (p [0] & 0xe0) == 0xc0? 2: (p [0] & 0xf0) == 0xe0? 3:
                 (p [0] & 0xf8) == 0xf0? 4: 0;
    if (!len || len > left)
        return 0;
    uint32_t cp = p [0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p [i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p [i] & 0x3f);
    }
    static const uint32_t min [] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min [len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static const char *
s_json_ws (const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *
s_json_string (const char *p, const char *end)
{
    if (p >= end || *p++ != '"')
        return NULL;
    while (p < end) {
        unsigned char c = (unsigned char) *p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (++p >= end)
                return NULL;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (p + i >= end || !strchr ("0123456789abcdefABCDEF", p [i]) || !p [i])
                        return NULL;
                p += 5;
            }
            else if (*p && strchr ("\"\\/bfnrt", *p))
                p++;
            else
                return NULL;
            continue;
        }
        size_t len = s_utf8_len ((const unsigned char *) p, (size_t) (end - p));
        if (!len)
            return NULL;
        p += len;
    }
    return NULL;
}

static const char *
s_json_number (const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    if (p < end && *p == '.') {
        if (++p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *
s_json_value (const char *p, const char *end, int depth)
{
    p = s_json_ws (p, end);
    if (p >= end || depth > 200)
        return NULL;
    if (*p == '"')
        p = s_json_string (p, end);
    else if (*p == '{' || *p == '[') {
        char close = *p == '{'? '}': ']';
        int object = *p == '{';
        p = s_json_ws (p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (object) {
                p = s_json_string (s_json_ws (p, end), end);
                if (!p)
                    return NULL;
                p = s_json_ws (p, end);
                if (p >= end || *p++ != ':')
                    return NULL;
            }
            p = s_json_value (p, end, depth + 1);
            if (!p)
                return NULL;
            p = s_json_ws (p, end);
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            if (p < end && *p == close)
                return p + 1;
            return NULL;
        }
    }
    else if (end - p >= 4 && memcmp (p, "null", 4) == 0)
        p += 4;
    else if (end - p >= 4 && memcmp (p, "true", 4) == 0)
        p += 4;
    else if (end - p >= 5 && memcmp (p, "false", 5) == 0)
        p += 5;
    else
        p = s_json_number (p, end);
    return p;
}

static int
s_json_valid (const char *text, size_t size)
{
    const char *end = text + size;
    const char *p = s_json_value (text, end, 0);
    return p && s_json_ws (p, end) == end;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    hr_event_t ev;
    if (hr_event_decode (data, size, &ev) != HR_OK)
        return 0;
    hr_buf_t frame = HR_BUF_INIT;
    hr_event_encode (&ev, &frame);
    hr_event_t again;
    fz_check (hr_event_decode (frame.data, frame.size, &again) == HR_OK,
             "re-encoded event does not decode");
    fz_check (again.head == ev.head, "head differs");
    fz_check (fz_span_eq (again.ch, again.ch_len, ev.ch, ev.ch_len), "ch differs");
    fz_check (again.seq == ev.seq, "seq differs");
    fz_check (fz_span_eq (again.epoch, again.epoch_len, ev.epoch, ev.epoch_len), "epoch differs");
    if (!ev.head) {
        //  head markers carry only ch, seq, epoch; events keep everything
        fz_check (again.ts == ev.ts, "ts differs");
        fz_check (fz_span_eq (again.type, again.type_len, ev.type, ev.type_len), "type differs");
        fz_check (fz_span_eq (again.id, again.id_len, ev.id, ev.id_len), "id differs");
        fz_check (again.data_len == ev.data_len
                 && memcmp (again.data, ev.data, ev.data_len) == 0, "data differs");
        hr_buf_t json = HR_BUF_INIT;
        hr_json_envelope (&json, &ev);
        if (!s_json_valid (json.data, json.size))
            fprintf (stderr, "fuzz_event: invalid JSON: %s\n", json.data);
        fz_check (s_json_valid (json.data, json.size), "envelope JSON is not valid JSON");
        fz_check (json.data [0] == '{', "envelope JSON is not an object");
        hr_buf_free (&json);
    }
    hr_buf_free (&frame);
    return 0;
}
