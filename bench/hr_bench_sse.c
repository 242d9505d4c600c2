/*  hr_bench_sse.c - streaming text/event-stream parser

    Follows the WHATWG event-stream rules the generator depends on: lines
    end in CRLF, LF or CR; a blank line dispatches; ":" starts a comment;
    "field: value" drops one leading space. retry: and unknown fields are
    ignored, as EventSource does with what it does not need.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hr_bench_http.h"
#include "hr_bench_payload.h"
#include "hr_bench_sse.h"

#define S_MAX_LINE (1u << 20)

static void
s_line (hr_bench_sse_t *self, const char *line, size_t len,
        const hr_bench_sse_sink_t *sink, void *arg)
{
    if (len == 0) {
        if (self->have_data && sink->on_event) {
            hr_bench_sse_event_t event = {
                .have_marker = self->have_marker, .named = self->named,
                .seq = self->seq, .ts = self->ts
            };
            sink->on_event (arg, &event);
        }
        self->have_data = self->have_marker = self->named = false;
        return;
    }
    if (line [0] == ':') {
        if (sink->on_comment)
            sink->on_comment (arg);
        return;
    }
    const char *colon = memchr (line, ':', len);
    size_t name_len = colon? (size_t) (colon - line): len;
    const char *value = colon? colon + 1: line + len;
    if (value < line + len && *value == ' ')
        value++;
    size_t value_len = (size_t) (line + len - value);

    if (name_len == 4 && memcmp (line, "data", 4) == 0) {
        self->have_data = true;
        if (!self->have_marker
        &&  hr_bench_payload_scan (value, value_len, &self->seq, &self->ts) == 0)
            self->have_marker = true;
    }
    else
    if (name_len == 2 && memcmp (line, "id", 2) == 0) {
        if (sink->on_id)
            sink->on_id (arg);
    }
    else
    if (name_len == 5 && memcmp (line, "event", 5) == 0)
        self->named = !(value_len == 0 || (value_len == 7 && memcmp (value, "message", 7) == 0));
}

//  Keeps the start of a line until its end arrives.
static int
s_carry (hr_bench_sse_t *self, const char *data, size_t len)
{
    if ((size_t) self->line_len + len > S_MAX_LINE)
        return -1;
    if (self->line_len + len > self->line_cap) {
        uint32_t cap = self->line_cap? self->line_cap: 256;
        while (cap < self->line_len + len)
            cap *= 2;
        char *line = realloc (self->line, cap);
        if (!line)
            return -1;
        self->line = line;
        self->line_cap = cap;
    }
    memcpy (self->line + self->line_len, data, len);
    self->line_len += (uint32_t) len;
    return 0;
}

int
hr_bench_sse_feed (hr_bench_sse_t *self, const char *data, size_t len,
                   const hr_bench_sse_sink_t *sink, void *arg)
{
    size_t at = 0;
    if (self->skip_lf && len > 0) {
        if (data [0] == '\n')
            at = 1;
        self->skip_lf = false;
    }
    while (at < len) {
        const char *start = data + at;
        size_t left = len - at;
        size_t eol = 0;
        while (eol < left && start [eol] != '\n' && start [eol] != '\r')
            eol++;
        if (eol == left)
            return s_carry (self, start, left);

        if (self->line_len > 0) {
            if (s_carry (self, start, eol) != 0)
                return -1;
            size_t line_len = self->line_len;
            self->line_len = 0;
            s_line (self, self->line, line_len, sink, arg);
        }
        else
            s_line (self, start, eol, sink, arg);
        at += eol + 1;
        if (start [eol] == '\r') {
            if (at < len) {
                if (data [at] == '\n')
                    at++;
            }
            else
                self->skip_lf = true;
        }
    }
    return 0;
}

void
hr_bench_sse_reset (hr_bench_sse_t *self)
{
    free (self->line);
    memset (self, 0, sizeof *self);
}

//  --------------------------------------------------------------------------
//  Self-test

typedef struct {
    int events, marked, named, ids, comments;
    uint64_t seq_sum;
} s_tally_t;

static void s_on_event (void *arg, const hr_bench_sse_event_t *event)
{
    s_tally_t *tally = arg;
    tally->events++;
    tally->marked += event->have_marker;
    tally->named += event->named;
    if (event->have_marker)
        tally->seq_sum += event->seq;
}
static void s_on_id (void *arg)      { ((s_tally_t *) arg)->ids++; }
static void s_on_comment (void *arg) { ((s_tally_t *) arg)->comments++; }

static const hr_bench_sse_sink_t s_test_sink = { s_on_event, s_on_id, s_on_comment };

typedef struct {
    hr_bench_sse_t sse;
    s_tally_t tally;
} s_test_stream_t;

static int
s_test_dechunked (void *arg, const char *data, size_t len)
{
    s_test_stream_t *stream = arg;
    return hr_bench_sse_feed (&stream->sse, data, len, &s_test_sink, &stream->tally);
}

static int s_failures;

static void
s_check (bool ok, const char *what, bool verbose)
{
    if (!ok)
        s_failures++;
    if (!ok || verbose)
        fprintf (stderr, "%s: %s\n", ok? "ok  ": "FAIL", what);
}

int
hr_bench_sse_test (bool verbose)
{
    s_failures = 0;
    //  One stream with every line ending, a comment, an id, a retry, a named
    //  event without marker, a multi-line data and Herald's envelope.
    const char *body =
        ": hi\n\n"
        "retry: 2000\r\n"
        "id: AQkZ\r\n\r\n"
        "id: 1:0\ndata: {\"hb_seq\":1,\"hb_ts\":1000,\"pad\":\"xx\"}\n\n"
        "data: {\"channel\":\"c\",\"seq\":9,\"epoch\":\"e\",\"ts\":5,"
              "\"data\":{\"hb_seq\":2,\"hb_ts\":2000,\"pad\":\"\"}}\r\r"
        "event: herald-reset\ndata: {\"channel\":\"c\",\"reason\":\"expired\"}\n\n"
        "event: message\ndata:line one\ndata: \"{\\\"hb_seq\\\":3,\\\"hb_ts\\\":7}\"\r\n\r\n"
        "data: unterminated";
    size_t body_len = strlen (body);

    //  Chunk it in pieces of 7 bytes, with an extension on one chunk.
    char chunked [4096];
    size_t out = 0;
    for (size_t at = 0; at < body_len; at += 7) {
        size_t part = body_len - at < 7? body_len - at: 7;
        out += (size_t) sprintf (chunked + out, at == 14? "%zx;ext=1\r\n": "%zx\r\n", part);
        memcpy (chunked + out, body + at, part);
        out += part;
        memcpy (chunked + out, "\r\n", 2);
        out += 2;
    }
    out += (size_t) sprintf (chunked + out, "0\r\nX-Trailer: 1\r\n\r\n");

    //  Piece sizes 1..8, then x3, then the whole stream at once.
    for (size_t piece = 1; piece <= out; piece = piece == out? out + 1:
                                                 piece < 8? piece + 1:
                                                 piece * 3 < out? piece * 3: out) {
        s_test_stream_t stream;
        memset (&stream, 0, sizeof stream);
        hr_bench_chunked_t chunk = { 0 };
        int rc = 0;
        size_t used = 0, total = 0;
        for (size_t at = 0; at < out && rc == 0; at += piece) {
            size_t part = out - at < piece? out - at: piece;
            rc = hr_bench_chunked_feed (&chunk, chunked + at, part,
                                        s_test_dechunked, &stream, &used);
            total += used;
        }
        char what [128];
        snprintf (what, sizeof what, "chunked stream fed %zu bytes at a time", piece);
        s_check (rc == 1 && total == out
              && stream.tally.events == 4 && stream.tally.marked == 3
              && stream.tally.named == 1 && stream.tally.ids == 2
              && stream.tally.comments == 1 && stream.tally.seq_sum == 6
              && stream.sse.line_len == strlen ("data: unterminated"), what, verbose);
        hr_bench_sse_reset (&stream.sse);
    }

    //  A CR at the end of one piece and its LF at the start of the next
    //  make one line end, not two.
    s_test_stream_t stream;
    memset (&stream, 0, sizeof stream);
    hr_bench_sse_feed (&stream.sse, "data: {\"hb_seq\":5,\"hb_ts\":1}\r", 30, &s_test_sink, &stream.tally);
    hr_bench_sse_feed (&stream.sse, "\n", 1, &s_test_sink, &stream.tally);
    s_check (stream.tally.events == 0, "CR | LF is one line end", verbose);
    hr_bench_sse_feed (&stream.sse, "\r\n", 2, &s_test_sink, &stream.tally);
    s_check (stream.tally.events == 1 && stream.tally.seq_sum == 5, "then CRLF dispatches", verbose);
    hr_bench_sse_reset (&stream.sse);

    //  Broken framing is an error, not a hang.
    hr_bench_chunked_t chunk = { 0 };
    s_check (hr_bench_chunked_feed (&chunk, "zz\r\n", 4, NULL, NULL, NULL) == -1,
             "bad chunk size is rejected", verbose);
    hr_bench_chunked_t chunk2 = { 0 };
    s_check (hr_bench_chunked_feed (&chunk2, "3\r\nabcX", 7, NULL, NULL, NULL) == -1,
             "missing CRLF after chunk data is rejected", verbose);

    //  Response heads.
    hr_bench_http_head_t head;
    const char *response = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "transfer-encoding: chunked\r\n\r\n5\r\n";
    ssize_t head_len = hr_bench_http_head_parse (response, strlen (response), &head);
    s_check (head_len == (ssize_t) strlen (response) - 3 && head.status == 200 && head.chunked
          && !head.has_length, "response head with chunked body", verbose);
    s_check (hr_bench_http_head_parse (response, 20, &head) == 0, "partial head wants more", verbose);
    const char *bare = "HTTP/1.1 202 Accepted\r\n\r\n";
    s_check (hr_bench_http_head_parse (bare, strlen (bare), &head) == (ssize_t) strlen (bare)
          && head.status == 202, "head without headers", verbose);
    s_check (hr_bench_http_head_parse ("HTTQ/1.1 200 OK\r\n\r\n", 19, &head) == -1,
             "bad status line is rejected", verbose);

    //  Payload round trip and the size it is padded to.
    char payload [256];
    size_t len = hr_bench_payload_json (payload, sizeof payload, 42, 123456789, 100);
    uint64_t seq = 0, ts = 0;
    s_check (len == 100 && hr_bench_payload_scan (payload, len, &seq, &ts) == 0
          && seq == 42 && ts == 123456789, "payload is 100 bytes and scans back", verbose);
    s_check (hr_bench_payload_scan ("{\"seq\":1}", 9, &seq, &ts) == -1,
             "text without markers is not ours", verbose);

    return s_failures;
}
