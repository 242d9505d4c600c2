/*  hr_bench_sse.h - streaming text/event-stream parser

    Takes the de-chunked body of an SSE response in pieces of any size and
    reports dispatched events, id: lines and comments. It does not keep an
    event's data: each data: line is searched for the generator's markers
    as it completes, so a connection costs a few dozen bytes plus the part
    of a line that has not arrived yet.
*/
#ifndef HR_BENCH_SSE_H_INCLUDED
#define HR_BENCH_SSE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *line;                 //  start of a line whose end has not arrived
    uint32_t line_len;
    uint32_t line_cap;
    bool skip_lf;               //  last piece ended in CR: drop a leading LF
    bool have_data;             //  the event being built has a data: line
    bool have_marker;           //  ... carrying our seq and ts
    bool named;                 //  ... and an event: line other than "message"
    uint64_t seq;
    uint64_t ts;
} hr_bench_sse_t;

//  What the parser found in one dispatched event (a blank line after at
//  least one data: line).
typedef struct {
    bool have_marker;
    bool named;
    uint64_t seq;
    uint64_t ts;
} hr_bench_sse_event_t;

typedef struct {
    void (*on_event) (void *arg, const hr_bench_sse_event_t *event);
    void (*on_id) (void *arg);
    void (*on_comment) (void *arg);
} hr_bench_sse_sink_t;

//  Feeds body bytes; calls the sink's functions as lines complete.
//  Returns 0, or -1 when a line grows past 1 MiB (a broken stream).
int
    hr_bench_sse_feed (hr_bench_sse_t *self, const char *data, size_t len,
                       const hr_bench_sse_sink_t *sink, void *arg);

//  Frees the partial-line buffer; self may be fed again afterwards.
void
    hr_bench_sse_reset (hr_bench_sse_t *self);

//  Self-test of this parser, the chunked decoder and the payload scanner.
//  Returns the number of failed checks.
int
    hr_bench_sse_test (bool verbose);

#endif
