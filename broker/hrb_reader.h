/*  hrb_reader: history queries answered from a thread of their own, so
    that a storm of them (every client of a restarted gateway resuming at
    once) never holds up sequencing.

    The broker thread asks (hrb_reader_ask) with the query and who asked;
    the reader thread reads the streams and the store under the reader's
    lock, copying one reply's events out (hrb_history), and hands the reply
    back over inproc; the broker thread polls hrb_reader_socket and takes
    finished reads with hrb_reader_deliver, which calls back once per
    asker. Only the broker thread sends on ROUTER: ZeroMQ sockets are not
    thread-safe. Replies therefore leave in the order reads finish, not in
    the order requests came: a publish's ack may overtake a history reply
    asked before it (clients match replies by rid, docs/protocol.md §3).

    Coalescing: a query equal to one still waiting to be read (channel,
    epoch, since, limit) is not read again: its asker joins that read and
    gets the same reply. A query never joins a read already started, so
    every reply is read after its request came.

    The lock: the reader thread holds it while it reads; the broker thread
    must hold it (hrb_reader_lock) around every change to the streams or
    the store (appends, channels made or dropped, expiry), and needs it
    for nothing else: it is their only writer.

    Bounds: at most queue_max requests wait for their reply (asking past
    that fails: the caller answers overloaded); the reader runs at most a
    few finished reads ahead of the broker thread, each at most max_bytes
    of events.  */
#ifndef HRB_READER_H
#define HRB_READER_H

#include "hr_buf.h"
#include "hr_proto.h"
#include "hrb_history.h"
#include "hrb_store.h"
#include "hrb_stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_reader_t hrb_reader_t;

//  Who asked: the client's ROUTER routing id, whether it put an empty
//  delimiter first (a REQ client), and the request's rid if any.
typedef struct {
    const void *id;
    size_t id_len;              //  at most 255 (ZeroMQ's bound)
    bool delimiter;
    bool has_rid;
    uint64_t rid;
} hrb_asker_t;

//  Called by hrb_reader_deliver for each asker of a finished read, in the
//  order they asked. asker and reply are borrowed for the call; the reply
//  can be sent (hrb_history_send), not kept.
typedef void (hrb_reader_fn) (void *arg, const hrb_asker_t *asker, hrb_history_reply_t *reply);

//  Starts the reader thread over streams and store (not owned; they must
//  outlive the reader), talking over a pair of inproc sockets in zmq_ctx.
//  Replies hold at most max_bytes of events (--reply-memory); at most
//  queue_max requests wait. NULL with a reason in err when the thread or
//  the sockets cannot be made. Caller owns the reader.
hrb_reader_t *hrb_reader_new (void *zmq_ctx, hrb_streams_t *streams, hrb_store_t *store,
                              size_t max_bytes, size_t queue_max, hr_buf_t *err);

//  Stops the thread (a read in progress ends, reads not started are
//  dropped) and frees every read: requests still waiting are never
//  answered (the broker is stopping). Broker thread.
void hrb_reader_destroy (hrb_reader_t **self_p);

//  Asks for the reply to req (a decoded history request) for asker (copied).
//  Returns 0 when it will be delivered, 1 when it joined an identical read
//  (coalesced), -1 when queue_max requests already wait (nothing kept).
//  Broker thread.
int hrb_reader_ask (hrb_reader_t *self, const hr_request_t *req, const hrb_asker_t *asker);

//  The socket on which finished reads arrive, for the broker's zmq_poll.
void *hrb_reader_socket (hrb_reader_t *self);

//  Delivers finished reads, calling fn for each of their askers, until
//  none is left or about budget frames were delivered (each asker counts
//  1 + the reply's events: one read may be delivered over several calls).
//  Returns true when finished reads may be left. Broker thread.
bool hrb_reader_deliver (hrb_reader_t *self, size_t budget, hrb_reader_fn *fn, void *arg);

//  The lock over the streams and the store (see above). Broker thread.
void hrb_reader_lock (hrb_reader_t *self);
void hrb_reader_unlock (hrb_reader_t *self);

//  Requests waiting for their reply now; requests that joined a read
//  (coalesced) and reads done, since start.
size_t hrb_reader_waiting (const hrb_reader_t *self);
uint64_t hrb_reader_coalesced (const hrb_reader_t *self);
uint64_t hrb_reader_reads (const hrb_reader_t *self);

#endif
