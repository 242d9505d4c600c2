/*  hrb_revoke: the broker's revocation list and how it reaches gateways
    (docs/protocol.md §3.3, §4.1).

    A revoke request adds an entry and broadcasts it at once on the stream
    under HR_REVOKE_TOPIC. A subscription to that topic (a gateway worker
    starting, or its SUB reconnecting: ZeroMQ sends its subscriptions
    again) asks for a replay of the whole live list, sent in batches,
    bounded per turn of the broker's loop; a replay also runs every
    HRB_REVOKE_REPLAY_MS, so an entry a gateway lost to a full queue comes
    again. Owned by the broker's thread: not thread-safe.  */
#ifndef HRB_REVOKE_H
#define HRB_REVOKE_H

#include "hr_buf.h"
#include "hr_proto.h"

#define HRB_REVOKE_REPLAY_MS (60 * 1000)

typedef struct _hrb_revokes_t hrb_revokes_t;

//  Sends one stream message body on HR_REVOKE_TOPIC.
typedef void (hrb_revokes_send_fn) (void *arg, const hr_buf_t *body);

//  An empty list of at most max entries (--revoke-max). Caller owns it.
hrb_revokes_t *hrb_revokes_new (size_t max);
void hrb_revokes_destroy (hrb_revokes_t **self_p);

//  Applies a decoded revoke request at now_s and sends the entry through
//  send (also when it was already held: a gateway that missed it gets it
//  again). Errors: HR_E_BAD_FIELD when until is not after now_s,
//  HR_E_OVERLOADED when the list is full of live entries; *message then
//  says which (static string).
hr_error_t hrb_revokes_add (hrb_revokes_t *self, const hr_request_t *req, int64_t now_s,
                            hrb_revokes_send_fn *send, void *arg, const char **message);

//  A subscription to HR_REVOKE_TOPIC arrived: replay the list (again once
//  a replay under way has ended, so the new subscriber sees all of it).
void hrb_revokes_subscribed (hrb_revokes_t *self);

//  Sends up to budget entries of a due replay. Returns true while a replay
//  has more to send (call again at the next turn).
bool hrb_revokes_replay (hrb_revokes_t *self, int64_t now_s, uint64_t now_ms, size_t budget,
                         hrb_revokes_send_fn *send, void *arg);

//  The list, for its gauges (hr_revoke_count, hr_revoke_bytes). Borrowed.
hr_revoke_t *hrb_revokes_list (hrb_revokes_t *self);

#endif
