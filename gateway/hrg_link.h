/*  hrg_link: a worker's request/reply channel to the broker (DEALER).

    Publishes and history queries are sent with a request id (rid); the
    broker answers in order, echoing it. Each request has a callback, called
    exactly once: with the reply, or with NULL when the broker did not
    answer within the timeout or the worker is stopping. A cancelled
    request's callback is never called.  */
#ifndef HRG_LINK_H
#define HRG_LINK_H

#include "hrg_worker.h"

#include <zmq.h>

//  rid is the request's id; reply is NULL on timeout or shutdown.
//  frames[0..count) are the envelope frames after the header (history
//  replies); valid only during the call.
typedef void (hrg_link_fn) (void *arg, uint64_t rid, const hr_reply_t *reply,
                            zmq_msg_t *frames, size_t count);

//  Connects a DEALER to endpoint in zmq_ctx, watching its connection state
//  through a socket monitor on inproc://herald-link-<id>; with CURVE when
//  curve_server_key is not "" (hr_curve_client: the broker's public
//  certificate and this gateway's secret one). NULL with a reason in err
//  when it cannot connect or a certificate cannot be read. Caller owns it.
hrg_link_t *hrg_link_new (void *zmq_ctx, const char *endpoint, const char *curve_server_key,
                          const char *curve_secret, uint64_t timeout_ms, int id,
                          hr_buf_t *err);

//  Numbers this link's requests first, first + step, first + 2 step...
//  (from 1, step 1 by default): the links of one worker to several
//  brokers (hrg_links) number theirs apart, so a rid names its link.
//  Call before any request.
void hrg_link_number_rids (hrg_link_t *self, uint64_t first, uint64_t step);

//  Calls every pending callback with NULL, then destroys the link.
void hrg_link_destroy (hrg_link_t **self_p);

//  The DEALER's ZMQ_FD, for the worker's epoll set.
int hrg_link_fd (hrg_link_t *self);

//  The monitor's ZMQ_FD, for the worker's epoll set.
int hrg_link_monitor_fd (hrg_link_t *self);

//  Reads connection events; returns true when the link is connected to its
//  broker (a publish would not fail with broker_unavailable at once). An
//  inproc:// link is always connected: libzmq reports no events for it, and
//  its broker is in the same process (bound before the link connects).
bool hrg_link_update (hrg_link_t *self);

//  The send and cancel calls accept a NULL link (a stopping worker's) and
//  then do nothing; sends return 0.

//  Sends a publish of ev. Returns the rid, or 0 when no broker is connected
//  (the callback is then not called).
uint64_t hrg_link_publish (hrg_link_t *self, const hr_event_t *ev,
                           hrg_link_fn *fn, void *arg);

//  Sends a history query (epoch may be NULL). Returns the rid or 0.
uint64_t hrg_link_history (hrg_link_t *self, const char *ch, const char *epoch,
                           uint64_t since, uint64_t limit, hrg_link_fn *fn, void *arg);

//  Sends a revoke request (docs/protocol.md §3.3). Returns the rid, or 0
//  when no broker is connected (the callback is then not called).
uint64_t hrg_link_revoke (hrg_link_t *self, hr_revoke_kind_t kind, const char *value,
                          size_t len, int64_t until_s, hrg_link_fn *fn, void *arg);

//  Forgets a pending request; its callback will not be called.
void hrg_link_cancel (hrg_link_t *self, uint64_t rid);

//  Reads every reply available and calls their callbacks.
void hrg_link_process (hrg_link_t *self);

//  Fails requests whose deadline has passed (callback with NULL).
void hrg_link_expire (hrg_link_t *self, uint64_t now_ms);

//  Monotonic ms of the earliest deadline, or UINT64_MAX.
uint64_t hrg_link_next_deadline (hrg_link_t *self);

//  History requests asked again because the broker answered `overloaded`
//  (its replies to this worker were over --reply-memory), since start.
uint64_t hrg_link_retries (hrg_link_t *self);

//  True when the DEALER has input waiting (ZMQ_FD is edge-triggered).
bool hrg_link_readable (hrg_link_t *self);

#endif
