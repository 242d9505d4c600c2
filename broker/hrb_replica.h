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

#endif
