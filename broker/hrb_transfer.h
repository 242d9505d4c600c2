/*  hrb_transfer: graceful handoff between brokers, on the wire
    (docs/cluster.md, "Graceful handoff and rejoin").

    Sending: when a view is installed in which channels this broker owned
    move to another live broker (this broker left it, or a broker was
    promoted after its hold-down), each of their streams stays here until
    its new owner confirms it: its epoch, head seq, history and
    idempotency keys go out as "handoff" chunks (hrb_handoff_cut), a
    bounded window of channels unconfirmed at once, each sent again when
    unconfirmed for a while. Once every channel for a broker is confirmed,
    a "handoff_end" tells it nothing more comes from here; every other
    owner of the view gets one, so that none waits for a channel this
    broker never had. A confirmed stream is dropped here.

    Receiving: chunks go through the cluster's handoff machine
    (hrb_cluster_handoff): part 0 installs the stream with the sender's
    epoch and head (hrb_streams_install), every part adds its events and
    keys, and the last part is confirmed; then the publishes held for the
    channel are served again, in arrival order, before anything newer, so
    the first continues the epoch at head + 1: no reset, no gap, no
    duplicate. A source past --handoff-timeout without its end: its
    channels not come are taken over with new epochs (counted), and a
    channel that came in part only is dropped first (a hole in its history
    would be a silent gap), as when a view that moves channels voids the
    handoff.

    Leaving (SIGTERM): hrb_transfer_leave asks for a view without this
    broker; hrb_transfer_done is true once every channel and end is
    confirmed, or HRB_TRANSFER_LEAVE_MAX_MS after the leave.

    Runs in the broker thread. Every change to the streams, the store or
    the dedupe window is made with ops.lock taken (the history reader's
    lock). Ownership: the caller owns the transfer; cluster, streams,
    store, dedupe and metrics are borrowed and must outlive it.  */
#ifndef HRB_TRANSFER_H
#define HRB_TRANSFER_H

#include "hrb_cluster.h"
#include "hrb_dedupe.h"
#include "hrb_defer.h"
#include "hrb_store.h"
#include "hrb_stream.h"
#include "hr_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A leaving broker exits this long after SIGTERM at the latest (the
//  issue's bound is 10 s).
#define HRB_TRANSFER_LEAVE_MAX_MS 9000
//  Publishes waiting for the next view during a view change (hrb_defer):
//  at most this many bytes, each at most this long.
#define HRB_TRANSFER_DEFER_MAX (8 << 20)
#define HRB_TRANSFER_DEFER_MS 1000

typedef struct _hrb_transfer_t hrb_transfer_t;

typedef struct {
    //  Takes (true) or lets go of (false) the lock over streams and store.
    void (*lock) (void *arg, bool take);
    //  Serves again a publish held by hrb_transfer_hold (tag and data as
    //  given, lent for the call): it goes through the gate again.
    void (*replay) (void *arg, int tag, const void *data, size_t size);
    //  Channel ch (len bytes) came whole: its stream is installed (before
    //  its sender is told so and its held publishes are served again: a
    //  durable store commits it here). NULL: nothing to do.
    void (*whole) (void *arg, const char *ch, size_t len);
} hrb_transfer_ops_t;

//  Takes the cluster's handoff messages (hrb_cluster_set_handoff) from now
//  on. ops copied, arg borrowed. Caller owns the result.
hrb_transfer_t *hrb_transfer_new (hrb_cluster_t *cluster, hrb_streams_t *streams,
                                  hrb_store_t *store, hrb_dedupe_t *dedupe,
                                  hr_metrics_t *metrics, const hrb_transfer_ops_t *ops,
                                  void *arg);

void hrb_transfer_destroy (hrb_transfer_t **self_p);

//  view was installed after previous: records the streams that move away
//  to a live broker, with their keys (call with the lock taken, before the
//  streams are retained). Handoffs of an older view are abandoned, except
//  when view follows previous (hrb_view_follows) with the same owners: it
//  moved nothing, and they go on.
void hrb_transfer_installed (hrb_transfer_t *self, const hrb_view_t *view,
                             const hrb_view_t *previous);

//  True while stream is being handed over (it must be kept). Takes void *
//  so that it serves as hrb_cluster_retain's also.
bool hrb_transfer_departing (void *self, const hrb_stream_t *stream);

//  Holds a publish to ch (len bytes) until its handoff from broker from
//  comes: tag and size bytes of data, the caller's encoding. Returns -1
//  when the held memory is full (counted; the caller answers
//  `unavailable`).
int hrb_transfer_hold (hrb_transfer_t *self, int from, const char *ch, size_t len, int tag,
                       const void *data, size_t size);

//  Sends what is due, serves held publishes no longer awaited, sets the
//  gauges. Call every loop turn; returns the monotonic ms by which it
//  wants to be called again.
uint64_t hrb_transfer_tick (hrb_transfer_t *self, uint64_t now);

//  The publishes waiting for the next view (counted in /metrics here).
//  Borrowed.
hrb_defer_t *hrb_transfer_defer (hrb_transfer_t *self);

//  Graceful leave: asks for a view without this broker.
void hrb_transfer_leave (hrb_transfer_t *self, uint64_t now);

//  True once a leave is over (logged): every channel and end confirmed
//  after a view without this broker was installed, no publish held here
//  for a handoff, and the caller not busy (publishes it passed on still
//  waiting for their answer); or no
//  broker is left to hand over to; or HRB_TRANSFER_LEAVE_MAX_MS passed.
bool hrb_transfer_done (hrb_transfer_t *self, uint64_t now, bool busy);

#endif
