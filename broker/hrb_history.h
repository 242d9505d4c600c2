/*  hrb_history: history replies (docs/protocol.md §3.2): read once, sent to
    every client that asked the same.

    A reply is read from the streams and the store in two steps, so that a
    reader thread holds the lock over them briefly: hrb_history_read (lock
    held) resolves the query (reset, first, head) and copies at most one
    reply's events out; hrb_history_frames (no lock) makes them ZeroMQ
    frames. hrb_history_send (broker thread) then answers one client: it
    cuts the events to what the client may still have queued under
    --reply-memory (hrb_peers counts it), shares the frames with every other
    client answered from the same reply (zmq_msg_copy: no copy of the
    bytes) and charges the whole reply to the client on its last frame,
    which ZeroMQ lets go of after the others.  */
#ifndef HRB_HISTORY_H
#define HRB_HISTORY_H

#include "hr_buf.h"
#include "hr_channel.h"
#include "hr_proto.h"
#include "hrb_peers.h"
#include "hrb_store.h"
#include "hrb_stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A history query, copied out of its request frame.
typedef struct {
    char ch [HR_CHANNEL_MAX + 1];
    char epoch [HR_EPOCH_MAX + 1];
    bool has_epoch;
    uint64_t since;
    uint64_t limit;
} hrb_history_query_t;

//  Longest key hrb_history_query_key writes, its NUL included.
#define HRB_HISTORY_KEY_MAX (2 * 20 + 4 + 3 + HR_EPOCH_MAX + HR_CHANNEL_MAX + 1)

//  The query of a decoded history request.
void hrb_history_query (hrb_history_query_t *query, const hr_request_t *req);

//  Writes into key (HRB_HISTORY_KEY_MAX bytes) a string that two queries
//  share exactly when they ask for the same reply.
void hrb_history_query_key (const hrb_history_query_t *query, char *key);

typedef struct _hrb_history_reply_t hrb_history_reply_t;

typedef enum {
    HRB_HISTORY_WHOLE,          //  every event asked for (up to the head) was sent
    HRB_HISTORY_CUT,            //  fewer, to stay within the client's reply memory
    HRB_HISTORY_REFUSED         //  none fit: the client was answered overloaded
} hrb_history_result_t;

//  Reads the reply to query: its events taken while the bytes so far (as
//  hrb_peers counts them) are under max_bytes, so at least one when there
//  is one. The caller holds whatever keeps streams and store still (the
//  reader's lock) for the call. Caller owns the reply.
hrb_history_reply_t *hrb_history_read (hrb_streams_t *streams, hrb_store_t *store,
                                       const hrb_history_query_t *query, size_t max_bytes);

//  Makes the events read ZeroMQ frames; call once, after hrb_history_read,
//  before any hrb_history_send. Needs no lock.
void hrb_history_frames (hrb_history_reply_t *self);

//  Events in the reply (before any cut for a client), and the channel's
//  head when it was read (0: no such channel).
size_t hrb_history_count (const hrb_history_reply_t *self);
uint64_t hrb_history_head (const hrb_history_reply_t *self);

//  Answers a request (rid NULL when it had none) with the reply, to peer on
//  router, whose routing envelope the caller has already sent. Cuts the
//  events to the peer's room under reply_memory; a peer with no room gets
//  overloaded. buf is the caller's scratch buffer. The reply is not
//  consumed: it can be sent to the next client that asked the same.
hrb_history_result_t hrb_history_send (hrb_history_reply_t *self, void *router,
                                       hrb_peer_t *peer, size_t reply_memory,
                                       const uint64_t *rid, hr_buf_t *buf);

//  Closes the frames (ZeroMQ keeps those still queued) and frees the reply.
void hrb_history_reply_destroy (hrb_history_reply_t **self_p);

#endif
