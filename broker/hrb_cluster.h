/*  hrb_cluster: a broker's part in a cluster, over ZeroMQ (docs/cluster.md,
    "Running a cluster" and "Publishing in a cluster").

    Owns the cluster file, the view machine (hrb_view) and the peer
    sockets: a ROUTER bound on this broker's peer endpoint, on which
    everything from other brokers arrives (the first frame, the sender's
    routing id, is checked against the file and the message's "from"), and
    one DEALER per other broker, connected to its peer endpoint with this
    broker's id as routing id, on which everything to it goes. Feeds the
    machine with ticks and messages, saves its durable state
    (hrb_view_file) before sending what a step that changed it emits,
    and tells the server what to do with a publish: sequence it, forward
    it to the channel's owner, or answer `unavailable`.

    Runs in the broker thread (hrb_server polls the ROUTER and calls tick),
    except hrb_cluster_status and hrb_cluster_ready, which any thread may
    call (the ops HTTP thread): they read a snapshot kept under a mutex.  */
#ifndef HRB_CLUSTER_H
#define HRB_CLUSTER_H

#include "hrb_cluster_conf.h"
#include "hrb_config.h"
#include "hrb_handoff.h"
#include "hrb_peer_msg.h"
#include "hrb_stream.h"
#include "hrb_view.h"
#include "hr_cluster.h"
#include "hr_cluster_status.h"
#include "hr_buf.h"
#include "hr_metrics.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct _hrb_cluster_t hrb_cluster_t;

//  What the server does for the cluster (all called in the broker thread,
//  with the arg given to hrb_cluster_set_hooks; borrowed arguments are
//  valid for the call only).
typedef struct {
    //  Publish body on the XPUB under HR_VIEW_TOPIC.
    void (*view) (void *arg, const hr_buf_t *body);
    //  view was just installed; previous is the one installed before it
    //  here (number 0: none).
    void (*installed) (void *arg, const hrb_view_t *view, const hrb_view_t *previous);
    //  A "fwd" or "fwdack" (msg->kind) from broker index from.
    void (*forward) (void *arg, int from, const hrb_peer_msg_t *msg);
    //  A "repl", "rsnap" or "rack" (msg->kind) from broker index from
    //  (synchronous replication); while NULL they are refused, as handoff
    //  messages are without a handoff taker.
    void (*repl) (void *arg, int from, const hrb_peer_msg_t *msg);
} hrb_cluster_hooks_t;

//  Takes a "handoff", "handoff_end" or "handoff_ack" from broker index from
//  (hrb_handoff), in the broker thread.
typedef void (hrb_cluster_handoff_fn) (void *arg, int from, const hrb_peer_msg_t *msg);

//  What to do with a publish to a channel.
typedef enum {
    HRB_GATE_SEQUENCE,          //  this broker may sequence it now
    HRB_GATE_FORWARD,           //  its owner is another broker, alive: forward it
    HRB_GATE_UNAVAILABLE,       //  no broker may sequence it now
    HRB_GATE_HOLD               //  it comes here by handoff: hold it until it does
} hrb_gate_t;

//  Bytes of publishes held for channels awaited by handoff (past it they
//  are answered `unavailable`).
#define HRB_CLUSTER_HELD_MAX (32 << 20)


//  Loads the cluster of config (config->cluster set and checked), restores
//  the view state, binds the peer ROUTER and connects the DEALERs in
//  zmq_ctx (not owned). NULL with a reason in err. config must outlive
//  the cluster. Caller owns it.
hrb_cluster_t *hrb_cluster_new (void *zmq_ctx, const hrb_config_t *config,
                                hr_metrics_t *metrics, hr_buf_t *err);

void hrb_cluster_destroy (hrb_cluster_t **self_p);

//  Before the loop, after a restart: the broker kept its channels' state
//  (hrb_view_keep), so it comes back as the owner it was.
void hrb_cluster_keep (hrb_cluster_t *self);
//  True from hrb_cluster_keep until the next view is installed: the kept
//  channels are neither sequenced nor read (their tail may be stale).
bool hrb_cluster_kept (hrb_cluster_t *self);

//  Sets the server's hooks (hooks copied; arg borrowed). Before the loop.
void hrb_cluster_set_hooks (hrb_cluster_t *self, const hrb_cluster_hooks_t *hooks, void *arg);

//  Sets who takes handoff messages (arg borrowed); until then they are
//  refused (counted in herald_cluster_refused_total, logged).
void hrb_cluster_set_handoff (hrb_cluster_t *self, hrb_cluster_handoff_fn *fn, void *arg);

//  The cluster file and this broker's entry in it. Borrowed.
const hr_cluster_t *hrb_cluster_file (hrb_cluster_t *self);
const hr_cluster_node_t *hrb_cluster_self (hrb_cluster_t *self);

//  The endpoint this broker binds for its entry's publish, router, stream
//  or peer: the entry's own, or its port on --bind-host. Borrowed.
const char *hrb_cluster_bind (hrb_cluster_t *self, hr_cluster_kind_t kind);
int hrb_cluster_index (hrb_cluster_t *self);

//  The peer ROUTER, to poll for ZMQ_POLLIN. Borrowed.
void *hrb_cluster_socket (hrb_cluster_t *self);

//  Takes at most budget messages from the peer ROUTER; returns false when
//  none was waiting.
bool hrb_cluster_serve (hrb_cluster_t *self, size_t budget);

//  Runs the machine's timer when due and publishes the view every second.
//  Returns the monotonic ms at which it wants to be called next.
uint64_t hrb_cluster_tick (hrb_cluster_t *self);

//  What to do with a publish to ch (len bytes) now; *owner receives the
//  owner's index for HRB_GATE_FORWARD, the handoff's source for
//  HRB_GATE_HOLD (-1 otherwise).
hrb_gate_t hrb_cluster_gate (hrb_cluster_t *self, const char *ch, size_t len, int *owner);

//  True when this broker may sequence ch now (hrb_view_may_sequence, or
//  ch came here whole by handoff, or its source ended without it, and the
//  lease holds): also whether it may speak for ch on the stream (head
//  markers).
bool hrb_cluster_may_sequence (hrb_cluster_t *self, const char *ch, size_t len);

//  True while this broker holds its majority lease (hrb_view_lease).
bool hrb_cluster_lease (hrb_cluster_t *self);

//  The owner of ch in the installed view, or -1.
int hrb_cluster_owner (hrb_cluster_t *self, const char *ch, size_t len);

//  The installed view's number (0: none yet).
uint64_t hrb_cluster_view_number (hrb_cluster_t *self);

//  Drops the streams of channels this broker does not own without a break
//  into view (installed just now, after previous): it must own the channel
//  in view and in previous, and previous must be numbered one less;
//  otherwise another broker may have sequenced the channel in between, and
//  its next event here needs a new epoch (made in view, so newer than any
//  before). Streams also (arg) keeps stay too (NULL: none): those being
//  handed over. Returns how many were dropped.
size_t hrb_cluster_retain (hrb_cluster_t *self, hrb_streams_t *streams,
                           const hrb_view_t *view, const hrb_view_t *previous,
                           bool (*also) (void *arg, const hrb_stream_t *stream), void *arg);

//  Forwards a publish request (len bytes, as the client sent it) to broker
//  to; fid NULL for a PUSH publish. Counted in herald_broker_forwarded_total.
//  Returns -1 when it could not be queued (the broker is not connected).
int hrb_cluster_forward (hrb_cluster_t *self, int to, const uint64_t *fid,
                         const void *request, size_t len);

//  True while broker to is alive here (heard and hearing within the
//  failover timeout): a forward it did not take is then back-pressure,
//  not a broker gone.
bool hrb_cluster_connected (hrb_cluster_t *self, int to);

//  Answers forward fid of broker to with reply (len bytes).
void hrb_cluster_answer (hrb_cluster_t *self, int to, uint64_t fid,
                         const void *reply, size_t len);

//  Counts a publish answered (or dropped) `unavailable`.
void hrb_cluster_count_unavailable (hrb_cluster_t *self);

//  Sets herald_broker_owned_channels.
void hrb_cluster_set_owned (hrb_cluster_t *self, size_t channels);

//  The channels awaited here by handoff (hrb_handoff): the machine the
//  gate consults, fed by hrb_transfer. Borrowed.
hrb_handoff_t *hrb_cluster_handoff (hrb_cluster_t *self);

//  The installed view. Borrowed, valid until the next serve or tick.
const hrb_view_t *hrb_cluster_view (hrb_cluster_t *self);

//  The fingerprint of the cluster file, for peer messages.
uint32_t hrb_cluster_fingerprint (hrb_cluster_t *self);

//  Sends a peer frame to broker to, never blocking. Returns -1 when it
//  could not be queued (not connected, or its queue is full).
int hrb_cluster_send (hrb_cluster_t *self, int to, const hr_buf_t *frame);

//  True when a frame to broker to would be queued now (connected, its
//  queue not full): lets a caller skip encoding what would be refused.
bool hrb_cluster_writable (hrb_cluster_t *self, int to);

//  Graceful leave (SIGTERM): asks for a view without this broker
//  (hrb_view_leave); hrb_cluster_left is true once one is installed here.
void hrb_cluster_leave (hrb_cluster_t *self);
bool hrb_cluster_left (hrb_cluster_t *self);

//  True while a view change is under way here: this broker voted for a
//  view not installed yet, or a broker (this one too) is leaving, or it
//  installed a view less than a lease ago (it may still wait for its lease
//  in it, or for a fence).
bool hrb_cluster_changing (hrb_cluster_t *self);

//  True while a view without this broker can still be installed: a
//  majority of the file is alive here and not leaving (a view's members
//  are a majority of the file).
bool hrb_cluster_successors (hrb_cluster_t *self);

//  Any thread: a snapshot of the view, the brokers heard and the lease.
void hrb_cluster_status (hrb_cluster_t *self, hr_cluster_status_t *out);

//  Any thread: true once a view with this broker as a member is installed
//  and it holds the lease (/readyz).
bool hrb_cluster_ready (hrb_cluster_t *self);

#endif
