/*  hrb_forward: publishes forwarded between brokers (docs/cluster.md,
    "Publishing in a cluster"): the acknowledged ones this broker forwarded
    to their channel's owner, waiting for its answer, and the owner's side.

    A ROUTER publish to a channel another broker owns goes to that broker
    as a "fwd" with a forward id; the client is remembered here (routing
    id, REQ delimiter, rid). The owner's "fwdack" carries the reply frame
    the client gets, sent on this broker's ROUTER as if this broker had
    answered. A client whose forward has no answer within
    HRB_FORWARD_TIMEOUT_MS is answered `unavailable` (the publish may
    still have been sequenced: the client retries with its id). Pending
    forwards are bounded (HRB_FORWARD_MAX): past it a publish is answered
    `overloaded` at once. Runs in the broker thread.  */
#ifndef HRB_FORWARD_H
#define HRB_FORWARD_H

#include "hrb_cluster.h"
#include "hrb_peers.h"
#include "hr_epoch.h"
#include "hr_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HRB_FORWARD_TIMEOUT_MS 1000
#define HRB_FORWARD_MAX 100000

typedef struct _hrb_forwards_t hrb_forwards_t;

//  Forwards over cluster, answering clients on router through peers (none
//  owned). Caller owns the result.
hrb_forwards_t *hrb_forwards_new (hrb_cluster_t *cluster, void *router, hrb_peers_t *peers);

void hrb_forwards_destroy (hrb_forwards_t **self_p);

//  Forwards a ROUTER publish (request: len bytes as received) to broker
//  to, for the client of routing id identity (id_len bytes), with an empty
//  delimiter first when req_socket, and rid (NULL: none) for errors.
//  Answers the client at once (unavailable, overloaded) when the forward
//  cannot be sent or remembered. now: monotonic ms.
void hrb_forwards_router (hrb_forwards_t *self, int to, const void *identity, size_t id_len,
                          bool req_socket, const uint64_t *rid, const void *request,
                          size_t len, uint64_t now);

//  An "fwdack" from broker from: sends its reply to the waiting client.
//  An unknown fid (answered late, or not ours) is dropped.
void hrb_forwards_answer (hrb_forwards_t *self, int from, const hrb_peer_msg_t *msg);

//  Sequences a publish (the server's, with arg) forwarded by broker from
//  in msg: fills seq, epoch, dup as an acknowledgement needs them, or
//  returns the error; or sets *later when the publisher answers it itself
//  later (synchronous replication: once the channel's backup holds it).
typedef hr_error_t (hrb_forwards_publish_fn) (void *arg, const hr_request_t *req, int from,
                                              const hrb_peer_msg_t *msg, uint64_t *seq,
                                              char epoch [HR_EPOCH_LEN + 1], bool *dup,
                                              bool *later);

//  What became of a "fwd".
typedef enum {
    HRB_FWD_SERVED,             //  sequenced or refused, and answered
    HRB_FWD_HOLD,               //  its channel comes here by handoff: hold it
    HRB_FWD_DEFER               //  no decision in this view: serve it again in the next
} hrb_fwd_t;

//  A "fwd" from broker from: decodes the request (at most max_event bytes
//  of event) and asks the gate. This broker may sequence it: sequenced
//  through publish. Its channel is awaited here by handoff: HOLD (*source
//  is the handoff's source). Brokers install a view a few milliseconds
//  apart: when the forwarder's view is newer than this broker's, or a
//  view change is under way here (hrb_cluster_changing) and nobody may
//  sequence the channel now, DEFER; when this broker's view is newer and
//  names another owner, the forward goes on to it, and its answer back to
//  the first forwarder. Anything else is answered `unavailable`. An
//  acknowledged publish is answered to the forwarding broker with the
//  reply its client gets; HOLD and DEFER answer nothing (the caller serves
//  msg again later).
hrb_fwd_t hrb_forwards_serve (hrb_forwards_t *self, int from, const hrb_peer_msg_t *msg,
                              size_t max_event, hrb_forwards_publish_fn *publish, void *arg,
                              int *source);

//  Answers `unavailable` to every client waiting past the timeout.
void hrb_forwards_expire (hrb_forwards_t *self, uint64_t now);

//  Forwards waiting for an answer.
size_t hrb_forwards_pending (hrb_forwards_t *self);

//  PUSH publishes forwarded to their owner. When the owner's queue is full
//  (it is up but behind), the publish is held, one at a time, and the
//  broker stops reading PULL until it goes out: back-pressure, as PULL's
//  own hwm gives a single broker. A publish held HRB_FORWARD_TIMEOUT_MS
//  (the owner is gone) is dropped as unavailable.
typedef enum { HRB_PUSH_SENT, HRB_PUSH_HELD, HRB_PUSH_UNAVAILABLE } hrb_push_t;

//  Forwards a PUSH publish (request: len bytes as received) to broker to.
//  HELD: the request was copied and waits (hrb_forwards_retry); call only
//  while not hrb_forwards_blocked. now: monotonic ms.
hrb_push_t hrb_forwards_push (hrb_forwards_t *self, int to, const void *request,
                              size_t len, uint64_t now);

//  True while a PUSH publish is held: the caller must not read PULL.
bool hrb_forwards_blocked (hrb_forwards_t *self);

//  Sends the held publish if the owner takes it now, or drops it past its
//  timeout (counted and logged as unavailable). Returns true while one is
//  still held.
bool hrb_forwards_retry (hrb_forwards_t *self, uint64_t now);

#endif
