/*  hrb_marker: head markers on the event stream (docs/protocol.md §4).

    A head marker tells subscribers a channel's epoch and last seq without
    an event: one answers each subscription, and one goes out for each
    channel that went quiet (no publish for S_MARKER_MS after publishing in
    the period before), so that a subscriber that lost the last events of a
    channel (a ZeroMQ drop) learns of it even though no later event will
    show the gap (the Clone pattern's heartbeat). Active channels need none:
    their next event shows any gap. Runs in the broker thread.  */
#ifndef HRB_MARKER_H
#define HRB_MARKER_H

#include "hr_buf.h"
#include "hrb_stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_markers_t hrb_markers_t;

//  Sends one stream message: the channel's topic, then body (borrowed for
//  the call).
typedef void (hrb_markers_send_fn) (void *arg, const char *ch, size_t ch_len,
                                    const hr_buf_t *body);

//  Markers over streams (not owned), sent through send (with arg). Caller
//  owns the result.
hrb_markers_t *hrb_markers_new (hrb_streams_t *streams, hrb_markers_send_fn *send, void *arg);

void hrb_markers_destroy (hrb_markers_t **self_p);

//  Sends a head marker for a channel (stream NULL: no such channel, the
//  marker says seq 0 and no epoch). ch need not be NUL-terminated.
void hrb_markers_send (hrb_markers_t *self, const char *ch, size_t ch_len,
                       hrb_stream_t *stream);

//  Every stream gets a quiet-channel marker again, over the next rounds
//  (as budgets allow): a broker that kept its channels across a restart
//  tells the others' replicas, which learn a channel only from its events
//  and markers, of those that stay quiet.
void hrb_markers_again (hrb_markers_t *self);

//  Runs a round of quiet-channel markers when one is due at now (wall ms),
//  at most budget markers. Returns true while a round has left channels
//  for the next call, which should then come soon.
bool hrb_markers_round (hrb_markers_t *self, uint64_t now, size_t budget);

#endif
