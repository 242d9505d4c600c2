/*  hrb_replica: a broker's replica of the channels other brokers own
    (docs/cluster.md, "Replicas").

    In a cluster every broker keeps, asynchronously, the history and head
    of every channel another broker owns: a SUB connected to every other
    broker's `stream` endpoint takes their envelopes and head markers (the
    "channel|" topics; "|view" only tells when a broker was heard last,
    other "|" topics are ignored) into streams and a memory store of its
    own (the broker's --history-* bounds, --max-channels streams), read by
    a history reader thread of its own (hrb_reader), so that any broker
    answers history for any channel, off the broker thread.

    Per channel (hrb_replica_decide): an envelope of a newer epoch replaces
    the replica's stream (its history restarts); an older epoch is ignored;
    in the same epoch the next seq is appended, a seq already held is
    ignored, and a seq beyond the next (or a head marker beyond the head)
    is a gap: hrb_repair asks the channel's owner for the missing events,
    and live events past the gap are dropped meanwhile (the repair fetches
    them again). A broker heard again after a silence (its "|view" comes
    every second) gets its channels probed, so a replica catches up after
    a reconnect even on channels that went quiet meanwhile. Channels this
    broker owns in the installed view are not replicated (their stream is
    the broker's own); a view change drops their replicas.

    Runs in the broker thread, the only writer of the replica's streams
    and store: it holds the replica reader's lock around every change.
    Ownership: the caller owns the replica; config and cluster must
    outlive it.  */
#ifndef HRB_REPLICA_H
#define HRB_REPLICA_H

#include "hrb_cluster.h"
#include "hrb_config.h"
#include "hrb_dedupe.h"
#include "hrb_peer_msg.h"
#include "hrb_reader.h"
#include "hr_buf.h"
#include "hr_event.h"
#include "hr_metrics.h"

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct _hrb_replica_t hrb_replica_t;

//  What a replica does with an envelope or head marker of a channel.
typedef enum {
    HRB_REPLICA_IGNORE,         //  older epoch, a seq already held, a marker at or behind
    HRB_REPLICA_APPEND,         //  the next seq of the epoch held
    HRB_REPLICA_GAP,            //  beyond the next seq (or head): repair from the owner
    HRB_REPLICA_REPLACE         //  no stream yet, or a newer epoch: start over (head 0),
                                //  then decide again
} hrb_replica_action_t;

//  The rule (pure): ev (decoded, of the channel) against the replica's
//  epoch (NUL-terminated; NULL: the replica has no such stream) and head.
hrb_replica_action_t hrb_replica_decide (const char *epoch, uint64_t head, const hr_event_t *ev);

//  Makes the replica of a broker in cluster (not owned): its sockets in
//  zmq_ctx, streams, store and reader thread; metrics registered in
//  metrics. NULL with a reason in err. Caller owns it.
hrb_replica_t *hrb_replica_new (void *zmq_ctx, const hrb_config_t *config,
                                hrb_cluster_t *cluster, hr_metrics_t *metrics, hr_buf_t *err);

//  Stops the reader thread first, then frees everything.
void hrb_replica_destroy (hrb_replica_t **self_p);

//  Writes the replica's poll items (ZMQ_POLLIN: the SUB, the repairs'
//  ROUTER, the reader's socket) into items; returns how many
//  (HRB_REPLICA_POLL_ITEMS).
#define HRB_REPLICA_POLL_ITEMS 3
size_t hrb_replica_poll_items (hrb_replica_t *self, zmq_pollitem_t *items);

//  Takes at most budget stream messages and repair answers, sends repairs
//  due, and every 250 ms expires history and sets the gauges.
void hrb_replica_serve (hrb_replica_t *self, size_t budget);

//  The reader to ask for channel ch's history: the replica's when another
//  broker owns ch in the installed view and the replica holds it; NULL
//  otherwise (the broker's own answers). Borrowed.
hrb_reader_t *hrb_replica_reader_for (hrb_replica_t *self, const char *ch, size_t len);

//  The replica's reader, to deliver its finished reads. Borrowed.
hrb_reader_t *hrb_replica_reader (hrb_replica_t *self);

//  Synchronous replication (hrb_repl, docs/cluster.md "Zero-reset
//  failover"): the replica is also where this broker, as a channel's
//  backup, keeps what the channel's owner sent it before publishing.

//  What became of an event its owner sent (hrb_replica_sync_event).
typedef enum {
    HRB_REPLICA_HELD = 1,       //  appended as the next seq, or held already in its epoch
    HRB_REPLICA_STARTED,        //  seq 1 of a newer epoch (or of a channel not held):
                                //  the stream started over with it
    HRB_REPLICA_MISSED          //  anything else (a gap is repaired as from the stream)
} hrb_replica_sync_t;

//  An event envelope (size bytes, as its owner will publish it) sent by
//  its owner; *ch and *len receive its channel (a span into frame; NULL
//  when the frame is malformed).
hrb_replica_sync_t hrb_replica_sync_event (hrb_replica_t *self, const void *frame, size_t size,
                                           const char **ch, size_t *len);

//  A snapshot part ("rsnap" msg, decoded) from owner from: first (part 0)
//  replaces the channel's stream with the owner's epoch and head; every
//  part restores its events and their keys. -1 (the stream dropped: the
//  channel is not in sync) when the stream cannot be made (--max-channels),
//  the part does not continue the snapshot part 0 began, its events are
//  not consecutive seqs, or the last part's history stops short of the
//  head.
int hrb_replica_sync_part (hrb_replica_t *self, int from, const hrb_peer_msg_t *msg,
                           bool first);

//  Takeover: copies ch's replica (epoch, head, history) into streams (the
//  broker's own; its stream made or replaced, hrb_streams_install). NULL
//  when the replica lacks ch or streams is full. The caller holds the
//  broker's reader lock; the replica's stream is dropped at its next tick.
hrb_stream_t *hrb_replica_take (hrb_replica_t *self, const char *ch, size_t len,
                                hrb_streams_t *streams);

//  Visits the replica's streams (most recent first) until visit returns
//  false; visit must not add or drop any.
void hrb_replica_visit (hrb_replica_t *self, bool (*visit) (void *arg, hrb_stream_t *stream),
                        void *arg);

//  Copies into dedupe, and into the store of streams (whose stream of the
//  channel was made by hrb_replica_take), the keys of every channel taken
//  returns true for (one pass over the replica's keys, for all channels
//  taken at once).
void hrb_replica_take_keys (hrb_replica_t *self, hrb_dedupe_t *dedupe, hrb_streams_t *streams,
                            bool (*taken) (void *arg, const char *ch, size_t len), void *arg);

#endif
