/*  hr_bench_ws.c - WebSocket frame decoding for subscribers (RFC 6455 §5.2)  */
#include "hr_bench_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MSG_MAX (16u << 20)

enum { S_CONT = 0, S_TEXT = 1, S_BINARY = 2, S_CLOSE = 8, S_PING = 9, S_PONG = 10 };

//  Bytes of header needed so far: 2, then the extended length (and a mask,
//  which a server must not send).
static size_t
s_head_size (const hr_bench_ws_t *self)
{
    if (self->head_len < 2)
        return 2;
    uint8_t len7 = self->head [1] & 0x7f;
    return 2 + (len7 == 126? 2: len7 == 127? 8: 0);
}

static int
s_start_payload (hr_bench_ws_t *self)
{
    if (self->head [1] & 0x80)
        return -1;                          //  masked: not from a server
    self->fin = (self->head [0] & 0x80) != 0;
    self->opcode = self->head [0] & 0x0f;
    uint8_t len7 = self->head [1] & 0x7f;
    uint64_t len = len7;
    if (len7 >= 126) {
        len = 0;
        for (size_t i = 2; i < s_head_size (self); i++)
            len = (len << 8) | self->head [i];
    }
    if (self->opcode >= 8 && (len > 125 || !self->fin))
        return -1;
    self->left = len;
    self->ctl_len = 0;
    self->in_payload = true;
    return 0;
}

static int
s_append (hr_bench_ws_t *self, const char *data, size_t len)
{
    if (self->opcode >= 8) {
        memcpy (self->ctl + self->ctl_len, data, len);
        self->ctl_len += (uint8_t) len;
        return 0;
    }
    if (self->msg_len + len > S_MSG_MAX)
        return -1;
    if (self->msg_len + len > self->msg_cap) {
        uint32_t cap = self->msg_cap? self->msg_cap: 256;
        while (cap < self->msg_len + len)
            cap *= 2;
        char *grown = realloc (self->msg, cap);
        if (!grown)
            return -1;
        self->msg = grown;
        self->msg_cap = cap;
    }
    memcpy (self->msg + self->msg_len, data, len);
    self->msg_len += (uint32_t) len;
    return 0;
}

//  The current frame is complete.
static int
s_end_frame (hr_bench_ws_t *self, const hr_bench_ws_sink_t *sink, void *arg)
{
    self->in_payload = false;
    self->head_len = 0;
    switch (self->opcode) {
        case S_CLOSE: return -1;
        case S_PING: sink->on_ping (arg, self->ctl, self->ctl_len); return 0;
        case S_PONG: return 0;
        case S_CONT: case S_TEXT: case S_BINARY:
            if (self->fin) {
                sink->on_message (arg, self->msg, self->msg_len);
                self->msg_len = 0;
            }
            return 0;
        default: return -1;
    }
}

int
hr_bench_ws_feed (hr_bench_ws_t *self, const char *data, size_t len,
                  const hr_bench_ws_sink_t *sink, void *arg)
{
    while (len) {
        if (!self->in_payload) {
            self->head [self->head_len++] = (uint8_t) *data++;
            len--;
            if (self->head_len < s_head_size (self))
                continue;
            if (s_start_payload (self) != 0)
                return -1;
            if (self->left == 0 && s_end_frame (self, sink, arg) != 0)
                return -1;
            continue;
        }
        size_t take = len < self->left? len: (size_t) self->left;
        if (s_append (self, data, take) != 0)
            return -1;
        data += take;
        len -= take;
        self->left -= take;
        if (self->left == 0 && s_end_frame (self, sink, arg) != 0)
            return -1;
    }
    return 0;
}

void
hr_bench_ws_reset (hr_bench_ws_t *self)
{
    free (self->msg);
    memset (self, 0, sizeof *self);
}

size_t
hr_bench_ws_frame (char *buf, size_t size, int opcode, const char *payload, size_t len)
{
    //  Any key will do: the server only has to see the mask bit and undo it.
    static const uint8_t key [4] = { 0x5a, 0x17, 0xc3, 0x81 };
    size_t head = len < 126? 6: 8;
    if (len > 0xffff || (opcode >= 8 && len > 125) || size < head + len)
        return 0;
    buf [0] = (char) (0x80 | opcode);
    if (len < 126)
        buf [1] = (char) (0x80 | len);
    else {
        buf [1] = (char) (0x80 | 126);
        buf [2] = (char) (len >> 8);
        buf [3] = (char) (len & 0xff);
    }
    memcpy (buf + head - 4, key, 4);
    for (size_t at = 0; at < len; at++)
        buf [head + at] = (char) (payload [at] ^ key [at % 4]);
    return head + len;
}

//  Herald's messages are JSON objects whose "t" names the type; a frame
//  may hold one or an array of them. The generator's payload never holds
//  a "t" key, so a search over the frame is enough: each "t", then spaces,
//  a colon, spaces and the quoted type.
unsigned
hr_bench_ws_herald_types (const char *msg, size_t len)
{
    static const struct { const char *name; unsigned type; } types [] = {
        { "welcome", HR_BENCH_WS_WELCOME }, { "ok", HR_BENCH_WS_OK }, { "ev", HR_BENCH_WS_EV },
        { "ping", HR_BENCH_WS_PING }, { "err", HR_BENCH_WS_ERR }, { "bye", HR_BENCH_WS_BYE },
        { "reset", HR_BENCH_WS_RESET }
    };
    unsigned seen = 0;
    const char *end = msg + len, *at;
    while (msg < end && (at = memmem (msg, (size_t) (end - msg), "\"t\"", 3))) {
        const char *cursor = at + 3;
        while (cursor < end && *cursor == ' ')
            cursor++;
        if (cursor < end && *cursor == ':')
            cursor++;
        while (cursor < end && *cursor == ' ')
            cursor++;
        if (cursor < end && *cursor == '"') {
            cursor++;
            for (size_t type = 0; type < sizeof types / sizeof types [0]; type++) {
                size_t name_len = strlen (types [type].name);
                if ((size_t) (end - cursor) > name_len && cursor [name_len] == '"'
                &&  memcmp (cursor, types [type].name, name_len) == 0)
                    seen |= types [type].type;
            }
        }
        msg = at + 3;
    }
    return seen;
}

//  --------------------------------------------------------------------------
//  Self-test

typedef struct {
    int messages, pings;
    char last [64];
} s_seen_t;

static void
s_on_message (void *arg, const char *data, size_t len)
{
    s_seen_t *seen = arg;
    seen->messages++;
    snprintf (seen->last, sizeof seen->last, "%.*s", (int) len, data);
}

static void
s_on_ping (void *arg, const char *data, size_t len)
{
    ((s_seen_t *) arg)->pings++;
}

static int
s_check (bool ok, const char *what, bool verbose)
{
    if (verbose || !ok)
        fprintf (stderr, "%s: %s\n", ok? "ok  ": "FAIL", what);
    return ok? 0: 1;
}

int
hr_bench_ws_test (bool verbose)
{
    static const hr_bench_ws_sink_t sink = { s_on_message, s_on_ping };
    //  "Hel" (text, not fin), ping "p", "lo" (continuation, fin), then a
    //  16-bit-length binary frame of 200 bytes
    char stream [300] = { 0x01, 3, 'H', 'e', 'l', (char) 0x89, 1, 'p',
                          (char) 0x80, 2, 'l', 'o', (char) 0x82, 126, 0, (char) 200 };
    memset (stream + 16, 'x', 200);
    size_t total = 216;
    int failed = 0;
    for (size_t piece = 1; piece <= total; piece++) {
        hr_bench_ws_t ws = { 0 };
        s_seen_t seen = { 0 };
        int rc = 0;
        for (size_t at = 0; at < total && rc == 0; at += piece)
            rc = hr_bench_ws_feed (&ws, stream + at, at + piece > total? total - at: piece,
                                   &sink, &seen);
        bool ok = rc == 0 && seen.messages == 2 && seen.pings == 1 && seen.last [0] == 'x';
        hr_bench_ws_reset (&ws);
        if (!ok)
            failed += s_check (false, "fragmented message, ping, 16-bit length", verbose);
    }
    failed += s_check (failed == 0, "frames split at every size", verbose);
    hr_bench_ws_t ws = { 0 };
    s_seen_t seen = { 0 };
    const char masked [] = { (char) 0x81, (char) 0x81, 0, 0, 0, 0, 'x' };
    failed += s_check (hr_bench_ws_feed (&ws, masked, sizeof masked, &sink, &seen) == -1,
                       "a masked server frame is an error", verbose);
    hr_bench_ws_reset (&ws);
    const char close_frame [] = { (char) 0x88, 0 };
    failed += s_check (hr_bench_ws_feed (&ws, close_frame, 2, &sink, &seen) == -1,
                       "a close frame ends the stream", verbose);
    hr_bench_ws_reset (&ws);
    char pong [16];
    failed += s_check (hr_bench_ws_frame (pong, sizeof pong, HR_BENCH_WS_OP_PONG, "p", 1) == 7
                       && (uint8_t) pong [0] == 0x8a && (uint8_t) pong [1] == 0x81
                       && (pong [6] ^ pong [2]) == 'p',
                       "pong is masked", verbose);
    //  A 200-byte text frame: 16-bit length, and the mask undoes to the text.
    char text [200], frame [256];
    memset (text, 'a', sizeof text);
    size_t frame_len = hr_bench_ws_frame (frame, sizeof frame, HR_BENCH_WS_OP_TEXT, text,
                                          sizeof text);
    bool unmasks = frame_len == 208 && (uint8_t) frame [0] == 0x81
                && (uint8_t) frame [1] == (0x80 | 126) && frame [2] == 0 && (uint8_t) frame [3] == 200;
    for (size_t at = 0; unmasks && at < sizeof text; at++)
        unmasks = (frame [8 + at] ^ frame [4 + at % 4]) == 'a';
    failed += s_check (unmasks, "text frame with a 16-bit length, masked", verbose);
    failed += s_check (hr_bench_ws_frame (frame, 100, HR_BENCH_WS_OP_TEXT, text, sizeof text) == 0
                       && hr_bench_ws_frame (frame, sizeof frame, 9, text, 126) == 0,
                       "frame refused when too long for buf or control", verbose);
    const char batch [] = "[{\"t\":\"ok\",\"id\":1,\"ch\":\"b\",\"e\":null,\"s\":0},"
                          "{\"ch\":\"b\",\"t\":\"ev\",\"data\":{\"hb_seq\":1}}]";
    const char *welcome = "{\"t\": \"welcome\", \"v\": 1, \"hb\": 25, \"sid\": \"t\"}";
    failed += s_check (hr_bench_ws_herald_types (batch, strlen (batch))
                       == (HR_BENCH_WS_OK | HR_BENCH_WS_EV)
                       && hr_bench_ws_herald_types (welcome, strlen (welcome))
                       == HR_BENCH_WS_WELCOME
                       && hr_bench_ws_herald_types ("{\"t\":\"evil\"}", 12) == 0
                       && hr_bench_ws_herald_types ("{\"t\":\"ev", 9) == 0,
                       "Herald message types, one or a batch, any key order", verbose);
    return failed;
}
