/*  hrg_conn: a client connection whose socket the worker owns, whatever
    its transport (SSE, WebSocket).

    The fan-out core only queues frames on a connection and asks it to
    flush; everything that depends on the wire (rendering events and
    resets, framing the bytes, reading the socket, last words before a
    close) is the transport's, through its ops table (hrg_transport_t),
    the way nchan's subscribers are. A transport embeds hrg_conn_t as the
    first member of its own connection struct.

    The core's rules live here: frames go out in the order queued, whole;
    a connection whose socket refuses bytes while more than
    --slow-consumer-bytes are queued is closed (it resumes on reconnect);
    a closed connection is freed at the end of the loop's turn, so closing
    is safe while lists of connections are being walked.  */
#ifndef HRG_CONN_H
#define HRG_CONN_H

#include "hrg_event.h"
#include "hrg_frame.h"
#include "hrg_worker.h"
#include "hr_cursor.h"
#include "hr_token.h"
#include "hrg_limit.h"

typedef struct _hrg_stream_t hrg_stream_t;

//  Why the core closes a connection (the transport may say so on the wire).
typedef enum {
    HRG_CLOSE_PEER,             //  the peer went away or the socket failed
    HRG_CLOSE_SLOW,             //  slow consumer
    HRG_CLOSE_STALLED,          //  a resume whose client took nothing for --conn-timeout
    HRG_CLOSE_SHUTDOWN,         //  the gateway is stopping
    HRG_CLOSE_EXPIRED,          //  its token expired (and, WebSocket, was not refreshed)
    HRG_CLOSE_REVOKED,          //  its token was revoked
    HRG_CLOSE_TRANSPORT         //  the transport's own reason (already said)
} hrg_close_t;

//  What a channel looks like to a renderer: every channel of the stream's
//  set with its position after the event or reset being rendered (an SSE
//  cursor depends on all of them; a WebSocket frame on one).
typedef struct {
    const hr_chanset_t *set;
    const char *const *epochs;  //  per set index; NULL: no such channel yet
    const uint64_t *seqs;
    size_t index;               //  the channel the event or reset is about
    //  The set's cursor at these positions when the caller keeps one
    //  encoded (a group, for a transport with keeps_cursor); NULL: the
    //  renderer encodes it if it needs it
    const char *cursor;
    size_t cursor_len;
} hrg_view_t;

typedef struct {
    const char *name;           //  for logs and group keys
    //  Render into out (appending only: a group's out is a frame being
    //  built, hrg_frame_pool_begin) the bytes of one frame; the worker's
    //  cursor buffer is free to use.
    void (*render_event) (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                          const hrg_event_t *ev);
    void (*render_reset) (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                          hr_reset_t reason);
    //  A stream's channels are synced: before any replay or reset. False
    //  when the transport is not ready for it yet: the stream waits, and
    //  the transport calls hrg_stream_catch_up when it is. May be NULL.
    bool (*stream_ready) (hrg_stream_t *stream);
    //  A stream caught up and joins its group. May be NULL.
    void (*stream_live) (hrg_stream_t *stream);
    //  Writes what is queued, as far as the socket takes it.
    void (*flush) (hrg_conn_t *conn);
    //  Epoll readiness of the socket.
    void (*on_socket) (hrg_conn_t *conn, uint32_t events);
    //  The core is about to close it for reason: last words, queued. True
    //  to keep the socket until they are written (hrg_conn_linger). May be NULL.
    bool (*closing) (hrg_conn_t *conn, hrg_close_t reason);
    //  Periodic (every sweep): heartbeats, timeouts.
    void (*sweep) (hrg_conn_t *conn, uint64_t now_ms);
    //  Its token expires in left_s seconds (once, 30 s before exp): tell
    //  the client. May be NULL.
    void (*token_expiring) (hrg_conn_t *conn, int64_t left_s);
    //  The client can refresh its token: it is closed --token-grace after exp.
    bool token_grace;
    //  Its renderings carry the set's cursor: a group keeps it encoded
    //  (hr_cursor_live) and hands it over in the view.
    bool keeps_cursor;
    //  After a flush of a connection still open: catch-ups may go on.
    void (*drained) (hrg_conn_t *conn);
    //  Frees the connection (closed; its socket is gone).
    void (*destroy) (hrg_conn_t *conn);
} hrg_transport_t;

struct _hrg_conn_t {
    const hrg_transport_t *transport;
    hrg_worker_t *worker;
    int fd;                     //  -1 once closed
    uint32_t catching;          //  streams catching up (hrg_stream)
    hrg_queue_t queue;          //  frames to write, in order
    hr_list_t node;             //  in the worker's conns; once closing, its reaped
    hr_list_t dirty_node;       //  in the worker's dirty_conns, while dirty
    hr_list_t again_node;       //  in the worker's again_conns, while again
    bool dirty;
    bool again;                 //  input left unread: read again next turn
    bool closing;
    bool blocked;               //  the socket refused bytes: waiting for EPOLLOUT
    bool shut;                  //  lingering, last words out: our side shut down
    bool token_warned;          //  token_expiring was called for its claims
    hrg_limit_hold_t address;   //  its hold on its client address (hrg_limit), or 0
    uint64_t blocked_ms;        //  monotonic: when it started refusing, or last took bytes since
    uint64_t last_frame_ms;     //  monotonic: the last frame queued (heartbeats)
    uint64_t linger_until;      //  lingering: monotonic ms to give up on the peer
    uint64_t written;           //  bytes the socket took, since it opened
    uint64_t held;              //  queued bytes counted in the worker's catch-up bytes
    hr_claims_t *claims;        //  its token's, owned; NULL without one
};

//  Seconds before exp a client is told its token expires.
#define HRG_TOKEN_WARNING_S 30

//  Gives the connection claims (taken over; the previous ones are freed).
//  It is closed as expired at exp, or exp + --token-grace when its
//  transport waits for a refresh (token_grace in its ops).
void hrg_conn_set_claims (hrg_conn_t *self, hr_claims_t *claims);

//  A transport's connection struct fits in this, to come from the worker's
//  slab (hrg_slab: idle connections cost their structs and nothing more).
#define HRG_CONN_SLOT 384

//  Memory for a transport's connection struct of size bytes (at most
//  HRG_CONN_SLOT), zeroed: from the worker's slab for that size, or the
//  heap when the worker has none (a unit test's). Given back, with the
//  same size, by hrg_conn_free_memory. hrg_conn_free_slabs frees the slabs.
void *hrg_conn_alloc_memory (hrg_worker_t *worker, size_t size);
void hrg_conn_free_memory (hrg_worker_t *worker, void *memory, size_t size);
void hrg_conn_free_slabs (hrg_worker_t *worker);

//  Sets up conn (allocated by the transport) on fd, taken over, and adds
//  it to the worker's connections.
void hrg_conn_init (hrg_conn_t *self, hrg_worker_t *worker,
                    const hrg_transport_t *transport, int fd);

//  Registers the socket with the worker's epoll set (edge-triggered, in
//  and out) and tunes it for small writes. Closes the connection on failure.
void hrg_conn_adopt (hrg_conn_t *self);

//  Queues frame (a new reference; the caller keeps its own) at now_ms
//  (monotonic: one clock read per broadcast, not per member) and checks
//  the slow-consumer rule. Does not flush: the caller marks it dirty, or a
//  group flush writes it.
void hrg_conn_queue (hrg_conn_t *self, hrg_frame_t *frame, uint64_t now_ms);

//  Queues a copy of data as one frame and marks the connection dirty.
void hrg_conn_send (hrg_conn_t *self, const void *data, size_t size);

//  Queues the connection for the next hrg_conn_flush_dirty.
void hrg_conn_mark_dirty (hrg_conn_t *self);

//  The transport stopped reading before the socket was empty (a bound per
//  turn, so one client cannot starve the others): the loop hands it
//  EPOLLIN again next turn (the socket is edge-triggered: no new edge
//  comes for input already there).
void hrg_conn_read_later (hrg_conn_t *self);

//  Worker-wide: hands EPOLLIN to the connections read later last turn.
//  hrg_conn_readable_later: whether any is waiting (the loop must not sleep).
void hrg_conn_read_again (hrg_worker_t *worker);
bool hrg_conn_readable_later (hrg_worker_t *worker);

//  Bytes queued but not yet written.
static inline uint64_t
hrg_conn_pending (const hrg_conn_t *self)
{
    return hrg_queue_bytes (&self->queue);
}

//  One writev of iov; adds what the kernel took to *written. False when
//  the socket is full (blocked: EPOLLOUT will flush again) or gone (the
//  connection is closed).
bool hrg_conn_writev (hrg_conn_t *self, struct iovec *iov, size_t count, size_t *written);

//  Writes queued frames as they are (no framing of its own), as far as the
//  socket takes them: the flush of transports whose frames are wire-ready.
void hrg_conn_write_queue (hrg_conn_t *self);

//  Flushes through the transport, applies the slow-consumer rule, and
//  tells the transport it drained.
void hrg_conn_flush (hrg_conn_t *self);

//  Applies the slow-consumer rule now: closes the connection (and counts
//  it) when its socket refused bytes and more than --slow-consumer-bytes
//  are queued. Returns true when it closed it.
bool hrg_conn_check_slow (hrg_conn_t *self);

//  Closes the connection: the transport's last words (for a reason other
//  than PEER or TRANSPORT) are queued, and the socket lingers until they
//  are written (hrg_conn_linger) if the transport asks; else it is closed
//  at once and the connection moves to the worker's reaped.
void hrg_conn_close (hrg_conn_t *self, hrg_close_t reason);

//  Closes the connection gracefully: what is queued is written, then our
//  side is shut down and what the peer still sends is read and dropped
//  until it closes too (closing a socket with unread input would reset
//  it, and the peer would lose our last words); each phase bounded in
//  time. While the worker stops: what the socket takes now. Nothing more
//  is queued meanwhile.
void hrg_conn_linger (hrg_conn_t *self);

//  Undoes hrg_conn_init: releases queued frames, leaves the worker's lists
//  (for the transport's destroy).
void hrg_conn_fini (hrg_conn_t *self);

//  Worker-wide: flushes dirty connections; sweeps every connection (slow
//  consumers, then the transport's sweep); frees those closed this turn;
//  closes all (shutdown); dispatches epoll readiness to the transport.
void hrg_conn_flush_dirty (hrg_worker_t *worker);
void hrg_conn_sweep (hrg_worker_t *worker, uint64_t now_ms);
void hrg_conn_reap (hrg_worker_t *worker);
void hrg_conn_close_all (hrg_worker_t *worker, hrg_close_t reason);
void hrg_conn_on_socket (hrg_conn_t *self, uint32_t events);

#endif
