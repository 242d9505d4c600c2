/*  hrb_handoff: a new owner's side of a graceful handoff, as a pure state
    machine (docs/cluster.md, "Failover, handoff and rejoin").

    When a view moves channels from brokers that hand them over (the view's
    handoff set, or an owner still a member that lost channels to a
    promoted broker), the new owner expects from each such source a
    "handoff" chunk stream per channel (parts 0, 1, ... with the same epoch
    and head seq, the last marked) and a "handoff_end". Until a channel
    arrives whole, or its source's end, or --handoff-timeout passes, the
    channel is awaited: publishes to it are held here, in arrival order,
    within a byte bound (past it the caller answers `unavailable`), and
    released when the channel is installed (same epoch, seq + 1: no reset)
    or the wait ends without it (a new epoch: a takeover, counted by the
    caller).

    Pure: no I/O, no clock (now comes in, monotonic ms), no sockets; the
    caller (the broker thread) installs streams and sequences what is
    released. Ownership: the caller owns the machine; held bytes are
    copied in and lent to the release callback for the call.  */
#ifndef HRB_HANDOFF_H
#define HRB_HANDOFF_H

#include "hr_cluster.h"
#include "hrb_peer_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_handoff_t hrb_handoff_t;

//  Memory counted per held publish besides its bytes.
#define HRB_HANDOFF_HELD_OVERHEAD 64

//  What a channel waits for.
typedef enum {
    HRB_HANDOFF_NONE,           //  nothing: sequence as usual
    HRB_HANDOFF_AWAIT,          //  its handoff: hold publishes
    HRB_HANDOFF_TIMED_OUT       //  its source went silent: take it over (new epoch)
} hrb_handoff_state_t;

//  What a chunk did.
typedef enum {
    HRB_CHUNK_REFUSED,          //  not expected: unknown source or view, out of order,
                                //  another epoch or head, a channel already whole
    HRB_CHUNK_MORE,             //  accepted; more parts follow
    HRB_CHUNK_WHOLE             //  accepted, the channel's last part: install it
} hrb_chunk_t;

//  A machine holding at most held_max bytes of publishes, waiting timeout
//  ms for a source's handoff. Caller owns it.
hrb_handoff_t *hrb_handoff_new (size_t held_max, uint64_t timeout);
void hrb_handoff_destroy (hrb_handoff_t **self_p);

//  The view numbered view was installed at now: channels of the brokers in
//  sources (indices of the cluster file) come here by handoff. Forgets
//  every earlier expectation (a newer view supersedes them; what was held
//  stays held until released).
void hrb_handoff_expect (hrb_handoff_t *self, uint64_t view, hr_members_t sources,
                         uint64_t now);

//  What channel ch (len bytes), whose owner in the view before was broker
//  from, waits for at now.
hrb_handoff_state_t hrb_handoff_state (hrb_handoff_t *self, int from, const char *ch,
                                       size_t len, uint64_t now);

//  A chunk (msg->kind HRB_PEER_HANDOFF) from broker from. A part 0 of a
//  channel not yet whole starts it again (the sender resends a channel
//  whose acknowledgement it did not get).
hrb_chunk_t hrb_handoff_chunk (hrb_handoff_t *self, int from, const hrb_peer_msg_t *msg);

//  True when channel ch (len bytes), whose owner in the view before was
//  broker from, need not wait any more in the expected view: it came
//  whole, or its source ended without it (that source had no state for
//  it, and sequences nothing any more): this broker may sequence it now.
bool hrb_handoff_settled (hrb_handoff_t *self, int from, const char *ch, size_t len);

//  True when ch's first chunk came in the expected view but not its last:
//  its stream here is partial, and must not be sequenced into (the gate
//  holds it past the timeout until the caller forgets it).
bool hrb_handoff_begun (hrb_handoff_t *self, const char *ch, size_t len);

//  Forgets what came of ch (its partial stream was dropped): it is no
//  longer begun, and waits for nothing more of it than any channel.
void hrb_handoff_forget (hrb_handoff_t *self, const char *ch, size_t len);

//  True when ch came whole in the expected view (a chunk sent again is
//  acknowledged again).
bool hrb_handoff_whole (hrb_handoff_t *self, const char *ch, size_t len);

//  The expected view, and the sources past their deadline at now without
//  their end: their channels not come are taken over with new epochs.
uint64_t hrb_handoff_view (const hrb_handoff_t *self);
hr_members_t hrb_handoff_overdue (const hrb_handoff_t *self, uint64_t now);

//  A "handoff_end" of view from broker from: its channels not sent are not
//  awaited any more. Returns false when not expected (ignored).
bool hrb_handoff_end (hrb_handoff_t *self, int from, uint64_t view);

//  Holds a publish to ch awaited from broker from: tag and size bytes of
//  data (the caller's encoding of what to do with it); what was held for
//  ch in an earlier view, nothing of ch come yet, waits for from too.
//  Returns -1 when it would take the held bytes over held_max (nothing
//  held).
int hrb_handoff_hold (hrb_handoff_t *self, int from, const char *ch, size_t len, int tag,
                      const void *data, size_t size);

//  Takes back what is held for ch when called, in arrival order (data lent
//  for the call; what fn holds again stays held). Returns how many.
typedef void (hrb_handoff_release_fn) (void *arg, int tag, const void *data, size_t size);
size_t hrb_handoff_release (hrb_handoff_t *self, const char *ch, size_t len,
                            hrb_handoff_release_fn *fn, void *arg);

//  Visits, at most budget, channels with publishes held that wait for
//  nothing any more at now (their source ended without them, or timed
//  out); visit gets the name and whether it timed out, and should release
//  them. Returns how many it visited.
size_t hrb_handoff_due (hrb_handoff_t *self, uint64_t now, size_t budget,
                        void (*visit) (void *arg, const char *ch, bool timed_out), void *arg);

//  The sender's side: cuts one channel's handoff (its history envelopes,
//  oldest first, then its idempotency keys) into chunks whose events and
//  keys take at most max bytes encoded (HRB_HANDOFF_CHUNK_MAX on the wire;
//  an item alone over max goes alone), and calls emit for each, parts 0, 1,
//  ..., the last marked (a channel with nothing to carry is one empty
//  chunk). Spans are lent to emit for the call. Returns the chunks.
typedef void (hrb_handoff_emit_fn) (void *arg, uint64_t part, bool last,
                                    const hrb_peer_span_t *events, size_t event_count,
                                    const hrb_peer_span_t *keys, size_t key_count);
size_t hrb_handoff_cut (const hrb_peer_span_t *events, size_t event_count,
                        const hrb_peer_span_t *keys, size_t key_count, size_t max,
                        hrb_handoff_emit_fn *emit, void *arg);

//  Held publishes and their bytes (with HRB_HANDOFF_HELD_OVERHEAD each).
size_t hrb_handoff_held (hrb_handoff_t *self);
size_t hrb_handoff_held_bytes (hrb_handoff_t *self);

#endif
