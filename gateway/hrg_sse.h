/*  hrg_sse: the Server-Sent Events transport (GET /v1/sse).

    One stream per connection: the channel set of the request, resumed
    from its cursor (Last-Event-ID). libmicrohttpd parses and validates the
    request; then the worker takes the socket over (libmicrohttpd lets go
    of it and frees its per-request memory) and writes the response head
    and the body as HTTP/1.1 chunks itself, one writev per connection per
    write round, straight from the shared frames (docs/architecture.md §6.3). An idle
    stream costs its small structs and the kernel's socket, nothing more.

    What this transport adds to the fan-out core (hrg_conn, hrg_stream):
    its rendering (an event is "id: CURSOR\ndata: JSON\n\n", the cursor
    holding every channel's position), the `retry:` field, heartbeats as
    comment lines, and the chunked framing (hrg_sse_io.c).  */
#ifndef HRG_SSE_H
#define HRG_SSE_H

#include "hrg_stream.h"

#include <microhttpd.h>

//  Handles GET /v1/sse: validates channels and cursor; on success takes the
//  socket from libmicrohttpd (returning MHD_NO so it lets go of it).
enum MHD_Result hrg_sse_handle (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                const char *version);

//  A new connection on fd (taken over, like set and positions: one per
//  channel of set, as the cursor gave them) with no response head and a
//  raw (unchunked) body, not yet started: the seam unit tests open
//  connections through, on a socketpair. Owned by the worker: freed once
//  closed, at the end of the loop's turn (hrg_conn_reap).
hrg_conn_t *hrg_sse_open (hrg_worker_t *worker, int fd, hr_chanset_t *set,
                          hr_position_t *positions, bool fresh);

//  Before hrg_sse_start: events with a type get an `event: TYPE` line
//  (typed=1), except types starting with `herald-`.
void hrg_sse_typed (hrg_conn_t *conn);

//  Watches the socket, queues the retry: field and starts catching up.
void hrg_sse_start (hrg_conn_t *conn);

//  "id: CURSOR\ndata: JSON\n\n" into out, after "event: TYPE\n" when typed
//  and the event has a type not starting with "herald-".
void hrg_sse_format_event (hr_buf_t *out, const char *cursor, size_t cursor_len,
                           const hrg_event_t *ev, bool typed);

//  A reset's JSON, {"channel":C,"reason":R,"epoch":E|null,"seq":N}, into out
//  (the data of herald-reset, and an entry of a history poll's resets).
void hrg_sse_reset_data (hr_buf_t *out, const char *channel, hr_reset_t reason,
                         const char *epoch, uint64_t seq);

//  "event: herald-reset\nid: CURSOR\ndata: {...}\n\n" into out.
void hrg_sse_format_reset (hr_buf_t *out, const char *cursor, size_t cursor_len,
                           const char *channel, hr_reset_t reason,
                           const char *epoch, uint64_t seq);

//  The chunked body writer (hrg_sse_io.c): head, then chunks.
typedef struct {
    bool chunked;               //  HTTP/1.1: chunked body; 1.0: raw until close
    char *head;                 //  the response head, until written
    uint32_t head_len, head_sent;
    uint32_t chunk_left;        //  body bytes of the current chunk still to write
    uint8_t size_len, size_sent;//  the chunk's "size\r\n" line
    uint8_t tail_sent;          //  bytes of its closing "\r\n" written
    bool in_chunk;
    char size_line [12];
} hrg_sse_body_t;

//  Writes what is left of the head, then the queue as the body.
void hrg_sse_body_flush (hrg_sse_body_t *self, hrg_conn_t *conn);

#endif
