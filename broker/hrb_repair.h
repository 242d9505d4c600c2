/*  hrb_repair: a replica's gap repairs between brokers (docs/cluster.md,
    "Replicas"), as a gateway repairs its gaps from a broker.

    When a replica (hrb_replica) sees a channel's seq jump, or a head
    marker ahead of its head, it wants the missing events: this class asks
    the channel's owner for them with a history request (op history, the
    replica's epoch, since = its head) on one ROUTER connected to every
    other broker's `router` endpoint (each connection named by the broker's
    id, so a request goes to the broker chosen), and hands each answer to
    the replica, which appends what follows its head. A channel's repair
    goes on, one request at a time, until the replica's head reaches what
    it wanted (the highest seq or head it heard, or the owner's head).

    Bounded: one request in flight per channel, at most S_INFLIGHT in all;
    the others wait in arrival order; at most max_records channels wait or
    are in flight (past it a want is dropped: the channel's next event or
    marker asks again). A request unanswered within S_TIMEOUT_MS, or
    answered with an error, is asked again after S_RETRY_MS. A late answer
    is ignored.

    Runs in the broker thread. Ownership: the caller owns the result; the
    cluster file must outlive it.  */
#ifndef HRB_REPAIR_H
#define HRB_REPAIR_H

#include "hr_cluster.h"
#include "hr_epoch.h"
#include "hr_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct _hrb_repairs_t hrb_repairs_t;

//  Where channel ch (len bytes) stands in the replica, asked before each
//  request: its epoch and head, and the broker to ask (an index of the
//  file). False when it is not to be repaired (no longer kept, or owned by
//  this broker): the want is forgotten.
typedef bool (hrb_repairs_where_fn) (void *arg, const char *ch, size_t len,
                                     char epoch [HR_EPOCH_LEN + 1], uint64_t *head,
                                     int *owner);

//  An owner's answer for ch: header (a history reply, not an error) and
//  its count event frames (borrowed for the call). Applies what follows
//  the replica's head, may raise *want (to the owner's head), and returns
//  the replica's head afterwards.
typedef uint64_t (hrb_repairs_apply_fn) (void *arg, const char *ch, size_t len,
                                         const hr_reply_t *header, zmq_msg_t *events,
                                         size_t count, uint64_t *want);

//  A ROUTER in zmq_ctx connected to the router endpoint of every broker of
//  file but self. At most max_records channels wait. NULL with a reason in
//  err.
hrb_repairs_t *hrb_repairs_new (void *zmq_ctx, const hr_cluster_t *file, int self,
                                size_t max_records, int64_t max_frame,
                                hrb_repairs_where_fn *where, hrb_repairs_apply_fn *apply,
                                void *arg, hr_buf_t *err);

void hrb_repairs_destroy (hrb_repairs_t **self_p);

//  Channel ch needs the events up to seq (raises what it wants; a new
//  channel waits last). seq 0: a probe, asked once even when the replica
//  seems at its head (after a silence, the owner may be ahead).
void hrb_repairs_want (hrb_repairs_t *self, const char *ch, size_t len, uint64_t seq,
                       uint64_t now);

//  The replica replaced ch's stream (a newer epoch): what was wanted of the
//  old one is forgotten (an answer in flight is then applied to nothing).
void hrb_repairs_reset (hrb_repairs_t *self, const char *ch, size_t len);

//  The ROUTER, to poll for ZMQ_POLLIN. Borrowed.
void *hrb_repairs_socket (hrb_repairs_t *self);

//  Takes at most budget answers, asks again what timed out, and sends
//  waiting requests while fewer than S_INFLIGHT are in flight.
void hrb_repairs_serve (hrb_repairs_t *self, uint64_t now, size_t budget);

//  Requests sent since start; channels waiting or in flight now.
uint64_t hrb_repairs_sent (const hrb_repairs_t *self);
size_t hrb_repairs_pending (const hrb_repairs_t *self);

#endif
