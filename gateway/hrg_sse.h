/*  hrg_sse: Server-Sent Events connections (GET /v1/sse).

    A connection starts CATCHING_UP: it waits for its channels to sync,
    replays what its cursor missed (from a channel's recent events or the
    broker's history, a page at a time as its socket drains: hrg_catchup.c),
    and then joins its subscription group. Its private frames (retry,
    replays, resets, the first id) come before the group's. libmicrohttpd
    parses and validates the request; then the worker takes the socket over
    (libmicrohttpd lets go of it and frees its per-request memory), writes
    the response head and the chunked body itself, one writev per
    connection per write round (see hrg_group's write interval), straight
    from the shared frames (DESIGN.md §7). An idle stream costs its small
    struct and the kernel's socket, nothing more.  */
#ifndef HRG_SSE_H
#define HRG_SSE_H

#include "hrg_event.h"
#include "hrg_fetch.h"
#include "hrg_frame.h"
#include "hrg_worker.h"
#include "hr_cursor.h"

//  Per channel of a catching-up connection (hrg_catchup.c).
typedef struct {
    hrg_page_t *page;           //  the history page being replayed, or NULL
    size_t next;                //  the page's next event to look at
    bool checked;               //  the broker vouched for the position
    uint64_t avg;               //  bytes per event seen, to size pages (0: unknown)
} hrg_catchup_t;

struct _hrg_conn_t {
    hrg_worker_t *worker;
    hr_chanset_t *set;          //  owned until joining; then the group's
    hrg_channel_t **channels;   //  owned array, a reference on each channel
    //  Catching up only (NULL once live):
    hr_position_t *positions;   //  where the client is, per channel
    hrg_catchup_t *catchup;     //  per channel: the replay in progress
    bool fresh;                 //  no cursor: start at the live position
    hrg_waiter_t waiter;        //  waiting for the worker's --catchup-memory
    uint64_t held;              //  own bytes counted in the worker's catch-up bytes
    hrg_chain_t own;            //  private frames
    hrg_reader_t own_reader;
    hrg_group_t *group;         //  NULL while catching up
    hrg_reader_t live_reader;
    hr_list_t group_node;       //  in its group's members, once live
    hr_list_t node;             //  in the worker's conns; once closing, its reaped
    hr_list_t dirty_node;       //  in the worker's dirty_conns, while dirty
    bool dirty;
    bool closing;
    uint64_t last_frame_ms;     //  monotonic, for heartbeats while catching up
    //  The socket, owned by the worker (hrg_sse_io.c):
    int fd;
    bool chunked;               //  HTTP/1.1: chunked body; 1.0: raw until close
    char *head;                 //  the response head, until written
    uint32_t head_len, head_sent;
    uint32_t chunk_left;        //  body bytes of the current chunk still to write
    uint8_t size_len, size_sent;//  the chunk's "size\r\n" line
    uint8_t tail_sent;          //  bytes of its closing "\r\n" written
    bool in_chunk;
    bool blocked;               //  the socket refused bytes: waiting for EPOLLOUT
    uint64_t blocked_ms;        //  monotonic: when it started refusing, or last took bytes since
    char size_line [12];
};

//  Handles GET /v1/sse: validates channels and cursor; on success takes the
//  socket from libmicrohttpd (returning MHD_NO so it lets go of it).
enum MHD_Result hrg_sse_handle (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                const char *version);

//  A new connection on fd (taken over, like set and positions: one per
//  channel of set, as the cursor gave them), catching up, with a reference
//  on each of its channels. The caller sets the head (NULL: none) and
//  chunked, then calls hrg_sse_start. The seam unit tests open
//  connections through, on a socketpair.
hrg_conn_t *hrg_sse_open (hrg_worker_t *worker, int fd, hr_chanset_t *set,
                          hr_position_t *positions, bool fresh);

//  Watches the socket, queues the retry: field and starts catching up.
void hrg_sse_start (hrg_conn_t *self);

//  Re-examines a catching-up connection after one of its channels synced
//  or advanced, or its socket drained; replays what it missed a page at a
//  time, queuing at most hrg_fetch_budget bytes (more only for a
//  single larger event); joins its group once it is level (hrg_catchup.c).
void hrg_sse_catch_up (hrg_conn_t *self);

//  Counts the connection's queued own bytes in the worker's catch-up bytes
//  while it catches up (none once live or closing). Internal to hrg_sse*.c.
void hrg_sse_catchup_account (hrg_conn_t *self);

//  Releases what catching up holds (pages, its place in the wait queue,
//  counted bytes). Internal to hrg_sse*.c.
void hrg_sse_catchup_free (hrg_conn_t *self);

//  Queues a private frame (copied) and checks the slow-consumer rule.
//  Internal to hrg_sse*.c.
void hrg_sse_own_append (hrg_conn_t *self, const void *data, size_t size);

//  Private bytes queued but not yet written. Internal to hrg_sse*.c.
uint64_t hrg_sse_own_pending (const hrg_conn_t *self);

//  Applies the slow-consumer rule now: closes the connection (and counts
//  it) when its socket refused bytes and more than --slow-consumer-bytes
//  are queued. Returns true when it closed it. Internal to hrg_sse*.c.
bool hrg_sse_check_slow (hrg_conn_t *self);

//  Writes what is queued for the connection, as far as the socket takes it.
void hrg_sse_flush (hrg_conn_t *self);

//  Handles readiness of an adopted socket: writable, or the peer went away.
void hrg_sse_on_socket (hrg_conn_t *self, uint32_t events);

//  Closes the socket now and moves the connection from the worker's conns
//  to its reaped; it is freed by hrg_sse_reap, so it is safe to call while
//  lists of connections are being walked (a walk of conns takes the next
//  one first).
void hrg_sse_close (hrg_conn_t *self);

//  Frees the connections closed during this turn of the loop.
void hrg_sse_reap (hrg_worker_t *worker);

//  Registers the connection's socket with the worker's epoll set and tunes
//  it for small writes (internal to hrg_sse*.c).
void hrg_sse_adopt (hrg_conn_t *self);

//  Queues the connection for the next flush (internal to hrg_sse*.c).
void hrg_sse_mark_dirty (hrg_conn_t *self);

//  Detaches and frees a closed connection (internal to hrg_sse*.c).
void hrg_sse_free (hrg_conn_t *self);

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
