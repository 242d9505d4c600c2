/*  hrb_peers: bytes the broker has handed to ZeroMQ for each ROUTER client
    and that ZeroMQ has not yet let go of.

    ZMQ_SNDHWM counts messages, and one history reply is one message of up
    to 1,001 frames of up to an event each: a client that asks and never
    reads could hold the hwm times that. So every frame sent on ROUTER goes
    through hrb_peer_send, which gives ZeroMQ a buffer whose free callback
    (called by ZeroMQ's I/O thread once the bytes are written to the
    kernel, or by the reading thread for inproc://, or when the message is
    dropped) takes its bytes off the peer's count. The broker loop reads the
    count to size replies (docs/protocol.md §3.2).

    Threads: every function here runs in the broker thread; only the free
    callback runs elsewhere, and it touches nothing but counters (atomics)
    and the records it holds a reference to.  */
#ifndef HRB_PEERS_H
#define HRB_PEERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_peers_t hrb_peers_t;
typedef struct _hrb_peer_t hrb_peer_t;

//  An empty set of peers. Caller owns it.
hrb_peers_t *hrb_peers_new (void);

//  Destroys the set. Records that ZeroMQ still holds frames of live on
//  until those frames are freed (at the latest by zmq_ctx_term).
void hrb_peers_destroy (hrb_peers_t **self_p);

//  The record of the peer with this ROUTER routing id, created if absent.
//  Borrowed: valid until the next hrb_peers_sweep.
hrb_peer_t *hrb_peers_get (hrb_peers_t *self, const void *id, size_t id_len);

//  Charged per frame on top of its bytes: ZeroMQ's message and content
//  records (and it makes every frame count, even an empty one).
#define HRB_PEER_FRAME_CHARGE 64

//  Bytes sent to the peer that ZeroMQ still holds (frame sizes plus
//  HRB_PEER_FRAME_CHARGE each).
size_t hrb_peer_queued (const hrb_peer_t *peer);

//  Sends one frame to sock (the ROUTER, its routing frame already sent, or
//  this is the routing frame) with flags as zmq_send, counted against the
//  peer until ZeroMQ frees it. Copies data. Returns zmq_msg_send's result.
int hrb_peer_send (hrb_peer_t *peer, void *sock, const void *data, size_t size, int flags);

//  The same, charging the peer charge bytes for this frame (at least its
//  size plus HRB_PEER_FRAME_CHARGE): the last frame of a message whose
//  other frames are shared with other peers carries their charge, as
//  ZeroMQ lets go of a message's frames in order.
int hrb_peer_send_charged (hrb_peer_t *peer, void *sock, const void *data, size_t size,
                           size_t charge, int flags);

//  Bytes ZeroMQ holds for all peers of the set.
size_t hrb_peers_queued (const hrb_peers_t *self);

//  Peers known (with or without bytes queued).
size_t hrb_peers_count (const hrb_peers_t *self);

//  Forgets up to budget peers that have nothing queued, oldest first, so
//  the set stays the size of the clients that have replies in flight.
//  Returns how many were forgotten.
size_t hrb_peers_sweep (hrb_peers_t *self, size_t budget);

#endif
