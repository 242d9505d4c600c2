/*  hrg_sse: Server-Sent Events connections (GET /v1/sse).

    A connection starts CATCHING_UP: it waits for its channels to sync,
    replays what its cursor missed (from a channel's recent events or the
    broker's history), and then joins its subscription group. Its private
    frames (retry, replays, resets, the first id) come before the group's.
    libmicrohttpd parses the request and sends the response headers; then
    the worker adopts the socket (the connection stays suspended in
    libmicrohttpd until it closes) and writes the chunked body itself, one
    writev per connection per batch of events, straight from the shared
    frames (DESIGN.md §7).  */
#ifndef HRG_SSE_H
#define HRG_SSE_H

#include "hrg_event.h"
#include "hrg_frame.h"
#include "hrg_worker.h"
#include "hr_cursor.h"

struct _hrg_conn_t {
    hrg_worker_t *worker;
    struct MHD_Connection *mhd;
    hr_chanset_t *set;          //  owned until joining; then the group's
    hrg_channel_t **channels;   //  owned array, a reference on each channel
    //  Catching up only (NULL once live):
    hr_position_t *positions;   //  where the client is, per channel
    uint64_t *fetches;          //  history request in flight per channel, 0 if none
    uint8_t *checked;           //  per channel: broker confirmed the position exists
    bool fresh;                 //  no cursor: start at the live position
    hrg_chain_t own;            //  private frames
    hrg_reader_t own_reader;
    hrg_group_t *group;         //  NULL while catching up
    hrg_reader_t live_reader;
    hrg_conn_t *group_prev, *group_next;
    hrg_conn_t *prev, *next;    //  the worker's list of connections
    hrg_conn_t *dirty_next;
    bool dirty;
    bool suspended;             //  in libmicrohttpd (always, once adopted)
    bool closing;
    uint64_t last_frame_ms;     //  monotonic, for heartbeats while catching up
    //  Once libmicrohttpd has sent the headers, the worker writes the body
    //  itself, one chunked-encoding chunk per flush:
    int fd;                     //  -1 until adopted
    uint32_t chunk_left;        //  body bytes of the current chunk still to write
    uint8_t head_len, head_sent;//  the chunk's "size\r\n" line
    uint8_t tail_sent;          //  bytes of its closing "\r\n" written
    bool in_chunk;
    char head [12];
};

//  Handles GET /v1/sse: validates channels and cursor, queues the stream.
enum MHD_Result hrg_sse_handle (hrg_worker_t *worker, struct MHD_Connection *mhd);

//  Re-examines a catching-up connection after one of its channels synced
//  or advanced; joins its group once it is level.
void hrg_sse_catch_up (hrg_conn_t *self);

//  Writes what is queued for the connection, as far as the socket takes it.
void hrg_sse_flush (hrg_conn_t *self);

//  Handles readiness of an adopted socket: writable, or the peer went away.
void hrg_sse_on_socket (hrg_conn_t *self, uint32_t events);

//  Closes the connection at the next opportunity (slow consumer, shutdown).
void hrg_sse_close (hrg_conn_t *self);

//  Flushes connections with new private frames.
void hrg_sse_flush_dirty (hrg_worker_t *worker);

//  Closes slow consumers; sends heartbeats to connections still catching up.
void hrg_sse_sweep (hrg_worker_t *worker, uint64_t now_ms);

//  Closes every connection (worker shutdown).
void hrg_sse_close_all (hrg_worker_t *worker);

//  "id: CURSOR\ndata: JSON\n\n" into out.
void hrg_sse_format_event (hr_buf_t *out, const char *cursor, size_t cursor_len,
                           const hrg_event_t *ev);

//  "event: herald-reset\nid: CURSOR\ndata: {...}\n\n" into out.
void hrg_sse_format_reset (hr_buf_t *out, const char *cursor, size_t cursor_len,
                           const char *channel, hr_reset_t reason,
                           const char *epoch, uint64_t seq);

#endif
