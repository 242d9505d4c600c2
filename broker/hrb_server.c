/*  hrb_server: the broker loop and its sockets. Sequences publishes, keeps
    history, publishes envelopes on XPUB; history answers (hrb_history) and
    head markers (hrb_marker) live apart.  */
#include "hrb_server.h"
#include "hrb_bind.h"
#include "hrb_cluster.h"
#include "hrb_dedupe.h"
#include "hrb_forward.h"
#include "hrb_history.h"
#include "hrb_marker.h"
#include "hrb_metrics.h"
#include "hrb_peers.h"
#include "hrb_reader.h"
#include "hrb_replica.h"
#include "hrb_revoke.h"
#include "hrb_store.h"
#include "hrb_stream.h"
#include "hrb_zap.h"
#include "hr_curve.h"
#include "hr_log.h"
#include "hr_mpack.h"
#include "hr_proto.h"
#include "hr_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

//  Messages taken from one socket before looking at the others again: no
//  socket, XPUB's subscriptions included, can hold up the others' replies.
#define S_BATCH 512
//  Maintenance (expiry, gauges) period.
#define S_TICK_MS 250
//  Items (events, streams, keys, peers) each structure may expire in one
//  tick; when one has more, the next tick comes at the next loop turn.
#define S_EXPIRE_BUDGET 4096
//  ROUTER messages (replies) queued per client; docs/protocol.md §3.2.
#define S_ROUTER_SNDHWM 1000
//  The message of the broker's own overloaded error for publishes.
#define S_CHANNELS_FULL "the broker keeps --max-channels channels, all with history"
//  History requests waiting for the reader thread (hrb_reader), all
//  clients; past it a request is answered overloaded at once.
#define S_HISTORY_QUEUE 10000
#define S_HISTORY_QUEUE_FULL "the broker has 10,000 history queries waiting; retry shortly"
//  Frames of finished history replies sent per loop turn at most (about a
//  millisecond of the broker thread's time): a reply read once for a
//  thousand clients is sent over many turns, with publishes taken in
//  between.
#define S_DELIVER_FRAMES 2048

struct _hrb_server_t {
    const hrb_config_t *config;
    void *pull, *router, *xpub;
    int stop_fd;
    char *pull_endpoints, *router_endpoints, *xpub_endpoints;
    hrb_store_t *store;
    hrb_streams_t *streams;
    hrb_dedupe_t *dedupe;
    hrb_peers_t *peers;         //  bytes queued per ROUTER client
    hrb_revokes_t *revokes;     //  revoked subjects and token ids (--revoke-max)
    hrb_zap_t *zap;             //  with CURVE: the allow-list's ZAP handler
    hr_buf_t frame;             //  reusable encode buffers
    hr_buf_t topic;
    hr_buf_t reply;
    hrb_markers_t *markers;     //  head markers on XPUB
    hrb_cluster_t *cluster;     //  in a cluster: views, peers, the publish gate
    hrb_forwards_t *forwards;   //  in a cluster: ROUTER publishes forwarded
    hrb_reader_t *reader;       //  the history reader thread
    hrb_replica_t *replica;     //  in a cluster: other brokers' channels
    uint64_t next_tick;
    hrb_metrics_t *metrics;
};

//  What needs no file: CURVE options together, and no plain broker
//  reachable from other machines (docs/security.md); in a cluster, the
//  cluster's checks.
int
hrb_server_check (const hrb_config_t *config, hr_buf_t *err)
{
    if (*config->cluster)               //  the file gives the endpoints
        return hrb_cluster_check (config, err);
    bool curve = *config->curve_secret != 0;
    if (curve != (*config->curve_clients != 0)) {
        hr_buf_printf (err, "--curve-secret and --curve-clients go together: the broker's "
                       "certificate and the public certificates of the clients it allows");
        return -1;
    }
    if (hr_curve_check_exposure ("--pull", config->pull, curve, config->insecure, err)
    ||  hr_curve_check_exposure ("--router", config->router, curve, config->insecure, err)
    ||  hr_curve_check_exposure ("--xpub", config->xpub, curve, config->insecure, err))
        return -1;
    return 0;
}

//  CURVE on the three sockets before they bind (hrb_bind_secure).
static int
s_secure (hrb_server_t *self, void *zmq_ctx, hr_buf_t *err)
{
    if (hrb_server_check (self->config, err) != 0)
        return -1;
    void *socks [3] = { self->pull, self->router, self->xpub };
    return hrb_bind_secure (self->config, zmq_ctx, socks, &self->zap, err);
}

//  Sends one message on XPUB: topic frame, then the envelope
//  (hrb_markers_send_fn).
static void
s_stream_send (void *arg, const char *ch, size_t ch_len, const hr_buf_t *body)
{
    hrb_server_t *self = arg;
    hr_event_topic (ch, ch_len, &self->topic);
    zmq_send (self->xpub, self->topic.data, self->topic.size, ZMQ_SNDMORE);
    zmq_send (self->xpub, body->data, body->size, 0);
}

//  Sends a head marker (hrb_markers_send_fn). In a cluster only the broker
//  that may sequence a channel speaks for it: a marker from any other (a
//  nil epoch from a non-owner, an old one from a deposed owner) would tell
//  gateways a head that is not the channel's.
static void
s_marker_send (void *arg, const char *ch, size_t ch_len, const hr_buf_t *body)
{
    hrb_server_t *self = arg;
    if (!self->cluster || hrb_cluster_may_sequence (self->cluster, ch, ch_len))
        s_stream_send (self, ch, ch_len, body);
}

//  The endpoints to bind: in a cluster, this broker's entry of the file.
static const char *
s_endpoints (hrb_server_t *self, hr_cluster_kind_t kind)
{
    const hr_cluster_node_t *node = self->cluster? hrb_cluster_self (self->cluster): NULL;
    return kind == HR_CLUSTER_PUBLISH? (node? node->publish: self->config->pull)
         : kind == HR_CLUSTER_ROUTER? (node? node->router: self->config->router)
         : (node? node->stream: self->config->xpub);
}

static void s_cluster_hooks (hrb_server_t *self);

hrb_server_t *
hrb_server_new (void *zmq_ctx, const hrb_config_t *config, hr_metrics_t *metrics,
                hr_buf_t *err)
{
    hrb_server_t *self = hr_calloc (1, sizeof *self);
    self->config = config;
    self->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->pull = zmq_socket (zmq_ctx, ZMQ_PULL);
    self->router = zmq_socket (zmq_ctx, ZMQ_ROUTER);
    self->xpub = zmq_socket (zmq_ctx, ZMQ_XPUB);
    //  Frames far over the limit disconnect their sender before being read;
    //  those just over it are read and answered with frame_too_large.
    int64_t hard_max = config->max_event * 4 + 1024;
    int verbose = 1, hwm = (int) config->xpub_hwm, linger = 0;
    zmq_setsockopt (self->pull, ZMQ_MAXMSGSIZE, &hard_max, sizeof hard_max);
    zmq_setsockopt (self->router, ZMQ_MAXMSGSIZE, &hard_max, sizeof hard_max);
    zmq_setsockopt (self->xpub, ZMQ_XPUB_VERBOSE, &verbose, sizeof verbose);
    zmq_setsockopt (self->xpub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    //  Replies unread per ROUTER client, in messages: past it ZeroMQ drops
    //  them. Bytes are bounded by --reply-memory (hrb_peers).
    int router_hwm = S_ROUTER_SNDHWM;
    zmq_setsockopt (self->router, ZMQ_SNDHWM, &router_hwm, sizeof router_hwm);
    zmq_setsockopt (self->pull, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->xpub, ZMQ_LINGER, &linger, sizeof linger);
    if (self->stop_fd < 0
    ||  s_secure (self, zmq_ctx, err) != 0
    ||  (*config->cluster && !(self->cluster = hrb_cluster_new (zmq_ctx, config, metrics, err)))
    || !(self->pull_endpoints = hrb_bind (self->pull, "PULL",
                                        s_endpoints (self, HR_CLUSTER_PUBLISH), err))
    || !(self->router_endpoints = hrb_bind (self->router, "ROUTER",
                                          s_endpoints (self, HR_CLUSTER_ROUTER), err))
    || !(self->xpub_endpoints = hrb_bind (self->xpub, "XPUB",
                                        s_endpoints (self, HR_CLUSTER_STREAM), err))) {
        hrb_server_destroy (&self);
        return NULL;
    }
    self->store = hrb_store_mem_new ((size_t) config->history_size,
                                     (uint64_t) config->history_age,
                                     (uint64_t) config->history_memory);
    self->streams = hrb_streams_new (self->store, (size_t) config->max_channels);
    self->dedupe = hrb_dedupe_new ((uint64_t) config->dedupe_window,
                                   (size_t) config->dedupe_max,
                                   (size_t) config->dedupe_memory);
    self->peers = hrb_peers_new ();
    self->revokes = hrb_revokes_new ((size_t) config->revoke_max);
    self->markers = hrb_markers_new (self->streams, s_marker_send, self);
    if (!(self->reader = hrb_reader_new (zmq_ctx, self->streams, self->store,
                                         (size_t) config->reply_memory, S_HISTORY_QUEUE,
                                         err))) {
        hrb_server_destroy (&self);
        return NULL;
    }
    self->metrics = hrb_metrics_new (metrics);
    if (self->cluster)
        s_cluster_hooks (self);
    if (self->cluster
    &&  !(self->replica = hrb_replica_new (zmq_ctx, config, self->cluster, metrics, err))) {
        hrb_server_destroy (&self);
        return NULL;
    }
    return self;
}

void
hrb_server_destroy (hrb_server_t **self_p)
{
    hrb_server_t *self = *self_p;
    if (!self)
        return;
    hrb_reader_destroy (&self->reader);     //  first: its thread reads the streams
    hrb_replica_destroy (&self->replica);
    hrb_forwards_destroy (&self->forwards);
    hrb_cluster_destroy (&self->cluster);     //  before the context ends
    hrb_markers_destroy (&self->markers);
    hrb_metrics_destroy (&self->metrics);
    hrb_streams_destroy (&self->streams);
    if (self->store)
        self->store->ops->destroy (&self->store);
    hrb_dedupe_destroy (&self->dedupe);
    hrb_peers_destroy (&self->peers);
    hrb_revokes_destroy (&self->revokes);
    zmq_close (self->pull);
    zmq_close (self->router);
    zmq_close (self->xpub);
    hrb_zap_destroy (&self->zap);       //  after the sockets it guards
    if (self->stop_fd >= 0)
        close (self->stop_fd);
    free (self->pull_endpoints);
    free (self->router_endpoints);
    free (self->xpub_endpoints);
    hr_buf_free (&self->frame);
    hr_buf_free (&self->topic);
    hr_buf_free (&self->reply);
    free (self);
    *self_p = NULL;
}

int
hrb_server_reload (hrb_server_t *self, hr_buf_t *err)
{
    return self->zap? hrb_zap_reload (self->zap, self->config->curve_clients, err): 0;
}

void
hrb_server_stop (hrb_server_t *self)
{
    uint64_t one = 1;
    ssize_t rc = write (self->stop_fd, &one, sizeof one);
    (void) rc;
}

const char *hrb_server_pull_endpoints (hrb_server_t *self) { return self->pull_endpoints; }
const char *hrb_server_router_endpoints (hrb_server_t *self) { return self->router_endpoints; }
const char *hrb_server_xpub_endpoints (hrb_server_t *self) { return self->xpub_endpoints; }
hrb_cluster_t *hrb_server_cluster (hrb_server_t *self) { return self->cluster; }

//  The message of a rejected frame's error (the broker's only overloaded
//  rejection is the channel cap).
static const char *
s_message (hr_error_t error)
{
    return error == HR_E_OVERLOADED? S_CHANNELS_FULL: hr_error_message (error);
}

//  Counts a rejected frame and logs it (rate-limited); message NULL: the
//  error's (s_message).
static void
s_reject (hrb_server_t *self, const char *socket, hr_error_t error, const char *message)
{
    hrb_metrics_inc_at (self->metrics, HRB_M_INGEST_ERRORS, (int) error - 1);
    hr_log_limited_info ("rejected frame", "socket", socket, "error", hr_error_code (error),
                         "reason", message? message: s_message (error));
}

//  Sequences, stores and publishes a decoded publish request. On success
//  fills seq and epoch (pointing into the stream or dedupe copy) and dup.
//  Fails with HR_E_OVERLOADED for a new channel at --max-channels.
static hr_error_t
s_publish (hrb_server_t *self, const hr_request_t *req, uint64_t *seq,
           char epoch [HR_EPOCH_LEN + 1], bool *dup)
{
    const hr_event_t *in = &req->event;
    uint64_t now = hr_wall_ms ();
    *dup = in->id && hrb_dedupe_find (self->dedupe, in->ch, in->ch_len, in->id,
                                      in->id_len, now, seq, epoch);
    if (*dup) {
        hrb_metrics_inc (self->metrics, HRB_M_DUPLICATES);
        return HR_OK;
    }
    //  The history reader reads streams and store: hold its lock while
    //  they change (the stream made, its seq and history advanced)
    hrb_reader_lock (self->reader);
    hrb_stream_t *stream = hrb_streams_ensure (self->streams, in->ch, in->ch_len, now);
    if (!stream) {
        hrb_reader_unlock (self->reader);
        return HR_E_OVERLOADED;
    }
    hr_event_t ev = *in;
    ev.seq = ++stream->seq;
    ev.ts = now;
    ev.epoch = stream->epoch;
    ev.epoch_len = HR_EPOCH_LEN;
    ev.head = false;
    hr_buf_reset (&self->frame);
    hr_event_encode (&ev, &self->frame);
    hrb_streams_append (self->streams, stream, now, self->frame.data, self->frame.size);
    hrb_reader_unlock (self->reader);
    s_stream_send (self, in->ch, in->ch_len, &self->frame);
    if (in->id)
        hrb_dedupe_insert (self->dedupe, in->ch, in->ch_len, in->id, in->id_len,
                           now, ev.seq, stream->epoch);
    hrb_metrics_inc (self->metrics, HRB_M_PUBLISHED);
    *seq = ev.seq;
    memcpy (epoch, stream->epoch, HR_EPOCH_LEN + 1);
    return HR_OK;
}

//  Sends a revocation stream message (hrb_revokes_send_fn).
static void
s_revoke_send (void *arg, const hr_buf_t *body)
{
    hrb_server_t *self = arg;
    zmq_send (self->xpub, HR_REVOKE_TOPIC, strlen (HR_REVOKE_TOPIC), ZMQ_SNDMORE);
    zmq_send (self->xpub, body->data, body->size, 0);
}

//  Drains the rest of a multi-frame message.
static void
s_drain (void *sock)
{
    int more = 1;
    size_t size = sizeof more;
    while (zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &size) == 0 && more) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        zmq_msg_recv (&msg, sock, 0);
        zmq_msg_close (&msg);
    }
}

static bool
s_has_more (void *sock)
{
    int more = 0;
    size_t size = sizeof more;
    zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &size);
    return more != 0;
}

//  s_publish as hrb_forwards_publish_fn.
static hr_error_t
s_publish_fn (void *arg, const hr_request_t *req, uint64_t *seq,
              char epoch [HR_EPOCH_LEN + 1], bool *dup)
{
    return s_publish (arg, req, seq, epoch, dup);
}

//  In a cluster, who sequences a publish (docs/cluster.md, "Publishing in a
//  cluster"): HR_OK with *owner -1 to sequence it here, HR_OK with the
//  owner's index to forward it, or HR_E_UNAVAILABLE (counted).
static hr_error_t
s_gate (hrb_server_t *self, const hr_request_t *req, int *owner)
{
    *owner = -1;
    if (!self->cluster)
        return HR_OK;
    hrb_gate_t gate = hrb_cluster_gate (self->cluster, req->event.ch, req->event.ch_len, owner);
    if (gate != HRB_GATE_UNAVAILABLE)
        return HR_OK;
    hrb_cluster_count_unavailable (self->cluster);
    return HR_E_UNAVAILABLE;
}

//  A forwarded publish from broker from (its owner is this broker), or the
//  owner's answer to one of ours (hrb_cluster_hooks_t.forward). A
//  forwarded publish is sequenced here or refused, never forwarded again.
static void
s_forwarded (void *arg, int from, const hrb_peer_msg_t *msg)
{
    hrb_server_t *self = arg;
    if (msg->kind == HRB_PEER_FWDACK)
        hrb_forwards_answer (self->forwards, from, msg);
    else
        hrb_forwards_serve (self->forwards, from, msg, (size_t) self->config->max_event,
                            s_publish_fn, self);
}

//  The view on the stream (hrb_cluster_hooks_t.view).
static void
s_view_send (void *arg, const hr_buf_t *body)
{
    hrb_server_t *self = arg;
    zmq_send (self->xpub, HR_VIEW_TOPIC, strlen (HR_VIEW_TOPIC), ZMQ_SNDMORE);
    zmq_send (self->xpub, body->data, body->size, 0);
}

//  A view was installed (hrb_cluster_hooks_t.installed): new epochs are
//  made in it, and channels not owned without a break are forgotten
//  (hrb_cluster_retain).
static void
s_installed (void *arg, const hrb_view_t *view, const hrb_view_t *previous)
{
    hrb_server_t *self = arg;
    hrb_reader_lock (self->reader);         //  the reader thread reads streams
    hrb_streams_set_view (self->streams, view->number);
    hrb_cluster_retain (self->cluster, self->streams, view, previous);
    hrb_reader_unlock (self->reader);
}

static void
s_cluster_hooks (hrb_server_t *self)
{
    hrb_cluster_hooks_t hooks = { s_view_send, s_installed, s_forwarded };
    hrb_cluster_set_hooks (self->cluster, &hooks, self);
    hrb_streams_set_view (self->streams, hrb_cluster_view_number (self->cluster));
    self->forwards = hrb_forwards_new (self->cluster, self->router, self->peers);
}

//  Takes one fire-and-forget publish from PULL. Returns false when none.
//  PULL accepts op and rid as ROUTER does (docs/protocol.md §2.1); rid is
//  ignored and any op but publish is refused.
static bool
s_handle_pull (hrb_server_t *self)
{
    if (self->forwards && hrb_forwards_blocked (self->forwards))
        return false;                   //  back-pressure: an owner is behind
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, self->pull, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return false;
    }
    hr_request_t req;
    hr_error_t rc;
    if (s_has_more (self->pull)) {
        s_drain (self->pull);
        rc = HR_E_BAD_TYPE;
    }
    else
        rc = hr_request_decode (zmq_msg_data (&msg), zmq_msg_size (&msg),
                                (size_t) self->config->max_event, &req);
    if (rc == HR_OK && req.op != HR_OP_PUBLISH)
        rc = HR_E_BAD_REQUEST;
    int owner = -1;
    if (rc == HR_OK)
        rc = s_gate (self, &req, &owner);
    if (rc == HR_OK && owner >= 0) {
        //  Not even queued (the owner's connection is down): as unavailable
        if (hrb_forwards_push (self->forwards, owner, zmq_msg_data (&msg),
                               zmq_msg_size (&msg), hr_mono_ms ()) == HRB_PUSH_UNAVAILABLE) {
            hrb_cluster_count_unavailable (self->cluster);
            rc = HR_E_UNAVAILABLE;
        }
    }
    else
    if (rc == HR_OK) {
        uint64_t seq;
        char epoch [HR_EPOCH_LEN + 1];
        bool dup;
        rc = s_publish (self, &req, &seq, epoch, &dup);
    }
    if (rc != HR_OK)
        s_reject (self, "pull", rc, NULL);
    zmq_msg_close (&msg);
    return true;
}

//  Sends a reply's routing envelope: the client's routing id, and the
//  empty delimiter a REQ client expects. Returns the client's record.
static hrb_peer_t *
s_envelope (hrb_server_t *self, const void *id, size_t id_len, bool delimiter)
{
    hrb_peer_t *peer = hrb_peers_get (self->peers, id, id_len);
    hrb_peer_send (peer, self->router, id, id_len, ZMQ_SNDMORE);
    if (delimiter)
        hrb_peer_send (peer, self->router, "", 0, ZMQ_SNDMORE);
    return peer;
}

//  Answers one asker of a finished history read (hrb_reader_fn) and counts
//  it.
static void
s_deliver (void *arg, const hrb_asker_t *asker, hrb_history_reply_t *reply)
{
    hrb_server_t *self = arg;
    hrb_peer_t *peer = s_envelope (self, asker->id, asker->id_len, asker->delimiter);
    hrb_history_result_t result = hrb_history_send (
        reply, self->router, peer, (size_t) self->config->reply_memory,
        asker->has_rid? &asker->rid: NULL, &self->reply);
    if (result != HRB_HISTORY_WHOLE)
        hrb_metrics_inc (self->metrics, HRB_M_REPLIES_CUT);
    if (result != HRB_HISTORY_REFUSED)
        hrb_metrics_inc (self->metrics, HRB_M_HISTORY_REQUESTS);
}

//  Takes one request from ROUTER and replies. Returns false when none.
static bool
s_handle_router (hrb_server_t *self)
{
    zmq_msg_t identity, delimiter, body;
    zmq_msg_init (&identity);
    if (zmq_msg_recv (&identity, self->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&identity);
        return false;
    }
    zmq_msg_init (&delimiter);
    zmq_msg_init (&body);
    bool req_socket = false;        //  REQ clients put an empty frame first
    hr_error_t rc = HR_OK;
    if (!s_has_more (self->router))
        rc = HR_E_BAD_REQUEST;
    else {
        zmq_msg_recv (&body, self->router, 0);
        if (zmq_msg_size (&body) == 0 && s_has_more (self->router)) {
            req_socket = true;
            zmq_msg_move (&delimiter, &body);
            zmq_msg_recv (&body, self->router, 0);
        }
        if (s_has_more (self->router)) {
            s_drain (self->router);
            rc = HR_E_BAD_TYPE;
        }
    }
    hr_request_t req = { 0 };
    if (rc == HR_OK)
        rc = hr_request_decode (zmq_msg_data (&body), zmq_msg_size (&body),
                                (size_t) self->config->max_event, &req);
    else
        req.has_rid = hr_request_find_rid (zmq_msg_data (&body), zmq_msg_size (&body),
                                           &req.rid);
    const uint64_t *rid = req.has_rid? &req.rid: NULL;
    uint64_t seq = 0;
    char epoch [HR_EPOCH_LEN + 1];
    bool dup = false;
    const char *message = NULL;         //  the error's, when not s_message's
    int owner = -1;
    if (rc == HR_OK && req.op == HR_OP_PUBLISH)
        rc = s_gate (self, &req, &owner);
    if (rc == HR_OK && owner >= 0) {
        //  The owner's answer is relayed when it comes (hrb_forward)
        hrb_forwards_router (self->forwards, owner, zmq_msg_data (&identity),
                             zmq_msg_size (&identity), req_socket, rid,
                             zmq_msg_data (&body), zmq_msg_size (&body), hr_mono_ms ());
        zmq_msg_close (&identity);
        zmq_msg_close (&delimiter);
        zmq_msg_close (&body);
        return true;
    }
    if (rc == HR_OK && req.op == HR_OP_PUBLISH)
        rc = s_publish (self, &req, &seq, epoch, &dup);
    else
    if (rc == HR_OK && req.op == HR_OP_REVOKE)
        rc = hrb_revokes_add (self->revokes, &req, (int64_t) (hr_wall_ms () / 1000),
                              s_revoke_send, self, &message);
    else
    if (rc == HR_OK && req.op == HR_OP_HISTORY) {
        //  Answered when the reader has read it (s_deliver)
        hrb_asker_t asker = { zmq_msg_data (&identity), zmq_msg_size (&identity), req_socket,
                              req.has_rid, req.rid };
        //  A channel another broker owns: from its replica here, if any
        hrb_reader_t *replica = self->replica? hrb_replica_reader_for (
            self->replica, req.event.ch, req.event.ch_len): NULL;
        if (hrb_reader_ask (replica? replica: self->reader, &req, &asker) >= 0)
            goto done;
        hrb_metrics_inc (self->metrics, HRB_M_HISTORY_QUEUE_FULL);
        rc = HR_E_OVERLOADED;
        message = S_HISTORY_QUEUE_FULL;
    }
    hrb_peer_t *peer = s_envelope (self, zmq_msg_data (&identity), zmq_msg_size (&identity),
                                   req_socket);
    hr_buf_reset (&self->reply);
    if (rc != HR_OK) {
        s_reject (self, "router", rc, message);
        hr_reply_encode_error_message (&self->reply, rid, rc, message? message: s_message (rc));
        hrb_peer_send (peer, self->router, self->reply.data, self->reply.size, 0);
    }
    else
    if (req.op == HR_OP_REVOKE) {
        hr_reply_encode_revoked (&self->reply, rid, req.kind, req.until);
        hrb_peer_send (peer, self->router, self->reply.data, self->reply.size, 0);
    }
    else {
        hr_reply_encode_ack (&self->reply, rid, seq, epoch, dup);
        hrb_peer_send (peer, self->router, self->reply.data, self->reply.size, 0);
    }
done:
    zmq_msg_close (&identity);
    zmq_msg_close (&delimiter);
    zmq_msg_close (&body);
    return true;
}

//  Takes one subscription message from XPUB; answers "channel|"
//  subscriptions with a head marker. Returns false when none.
static bool
s_handle_xpub (hrb_server_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, self->xpub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return false;
    }
    const char *data = zmq_msg_data (&msg);
    size_t size = zmq_msg_size (&msg);
    if (size >= 3 && data [0] == 1 && data [size - 1] == '|'
    &&  hr_channel_valid (data + 1, size - 2)) {
        hrb_metrics_inc (self->metrics, HRB_M_SUBSCRIPTIONS);
        hrb_markers_send (self->markers, data + 1, size - 2,
                          hrb_streams_find (self->streams, data + 1, size - 2));
    }
    else
    if (size == 1 + strlen (HR_REVOKE_TOPIC) && data [0] == 1
    &&  memcmp (data + 1, HR_REVOKE_TOPIC, size - 1) == 0) {
        hrb_revokes_subscribed (self->revokes);
        self->next_tick = 0;            //  replay at this turn's tick
    }
    zmq_msg_close (&msg);
    return true;
}

//  Expiry and gauges. Returns true when some expiry is left for the next
//  tick (a budget ran out).
static bool
s_tick (hrb_server_t *self)
{
    uint64_t now = hr_wall_ms ();
    hrb_reader_lock (self->reader);
    bool more = self->store->ops->expire (self->store, now, S_EXPIRE_BUDGET) == S_EXPIRE_BUDGET;
    more |= hrb_streams_expire (self->streams, now, (uint64_t) self->config->history_age,
                                S_EXPIRE_BUDGET) == S_EXPIRE_BUDGET;
    hrb_reader_unlock (self->reader);
    more |= hrb_dedupe_expire (self->dedupe, now, S_EXPIRE_BUDGET) == S_EXPIRE_BUDGET;
    more |= hrb_peers_sweep (self->peers, S_EXPIRE_BUDGET) == S_EXPIRE_BUDGET;
    hrb_store_stats_t stats;
    self->store->ops->stats (self->store, &stats);
    hrb_metrics_set (self->metrics, HRB_M_CHANNELS, (int64_t) hrb_streams_count (self->streams));
    hrb_metrics_set (self->metrics, HRB_M_CHANNEL_BYTES,
                     (int64_t) hrb_streams_bytes (self->streams));
    hrb_metrics_set (self->metrics, HRB_M_CHANNELS_REFUSED,
                     (int64_t) hrb_streams_refused (self->streams));
    hrb_metrics_set (self->metrics, HRB_M_CHANNELS_REPLACED,
                     (int64_t) hrb_streams_replaced (self->streams));
    hrb_metrics_set (self->metrics, HRB_M_HISTORY_EVENTS, (int64_t) stats.events);
    hrb_metrics_set (self->metrics, HRB_M_HISTORY_BYTES, (int64_t) stats.bytes);
    hrb_metrics_set_at (self->metrics, HRB_M_EVICTED, 0, (int64_t) stats.evicted_count);
    hrb_metrics_set_at (self->metrics, HRB_M_EVICTED, 1, (int64_t) stats.evicted_age);
    hrb_metrics_set_at (self->metrics, HRB_M_EVICTED, 2, (int64_t) stats.evicted_memory);
    hrb_metrics_set (self->metrics, HRB_M_DEDUPE_KEYS, (int64_t) hrb_dedupe_keys (self->dedupe));
    hrb_metrics_set (self->metrics, HRB_M_DEDUPE_BYTES, (int64_t) hrb_dedupe_bytes (self->dedupe));
    hrb_metrics_set (self->metrics, HRB_M_DEDUPE_DROPPED,
                     (int64_t) hrb_dedupe_dropped (self->dedupe));
    hrb_metrics_set (self->metrics, HRB_M_REPLY_BYTES, (int64_t) hrb_peers_queued (self->peers));
    more |= hrb_markers_round (self->markers, now, S_EXPIRE_BUDGET);
    //  In a cluster every stream is of an owned channel (s_keep, s_gate)
    if (self->cluster)
        hrb_cluster_set_owned (self->cluster, hrb_streams_count (self->streams));
    hr_revoke_t *revoked = hrb_revokes_list (self->revokes);
    more |= hrb_revokes_replay (self->revokes, (int64_t) (now / 1000), now, S_EXPIRE_BUDGET,
                                s_revoke_send, self);
    hrb_metrics_set (self->metrics, HRB_M_REVOCATIONS,
                     (int64_t) hr_revoke_count (revoked, (int64_t) (now / 1000)));
    hrb_metrics_set (self->metrics, HRB_M_REVOCATION_BYTES, (int64_t) hr_revoke_bytes (revoked));
    return more;
}

int
hrb_server_run (hrb_server_t *self)
{
    zmq_pollitem_t items [7 + HRB_REPLICA_POLL_ITEMS] = {
        { self->pull, 0, ZMQ_POLLIN, 0 },
        { self->router, 0, ZMQ_POLLIN, 0 },
        { self->xpub, 0, ZMQ_POLLIN, 0 },
        { NULL, self->stop_fd, ZMQ_POLLIN, 0 },
        { hrb_reader_socket (self->reader), 0, ZMQ_POLLIN, 0 },
        { self->zap? hrb_zap_socket (self->zap): NULL, 0, ZMQ_POLLIN, 0 },
        { NULL, -1, 0, 0 },             //  room for the cluster's peer ROUTER
    };                                  //  and the replica's sockets
    int polled = self->zap? 6: 5;
    if (self->cluster)                  //  the first slot not polled
        items [polled++] = (zmq_pollitem_t) { hrb_cluster_socket (self->cluster), 0,
                                              ZMQ_POLLIN, 0 };
    if (self->replica)
        polled += (int) hrb_replica_poll_items (self->replica, items + polled);
    self->next_tick = hr_mono_ms () + S_TICK_MS;
    bool replies_left = false;          //  finished history reads not all sent
    while (true) {
        uint64_t now = hr_mono_ms ();
        long timeout = self->next_tick > now && !replies_left
                     ? (long) (self->next_tick - now): 0;
        if (self->cluster) {
            //  Views and peers first: a publish read in this turn meets the
            //  view of now; forwards past their second are answered
            hrb_cluster_serve (self->cluster, S_BATCH);
            uint64_t wake = hrb_cluster_tick (self->cluster);
            hrb_forwards_expire (self->forwards, now);
            long until = wake > now? (long) (wake - now): 0;
            timeout = until < timeout? until: timeout;
            //  While a PUSH publish waits for its owner's queue, PULL is not
            //  read (nor polled, or the loop would spin): retry every ms
            bool blocked = hrb_forwards_retry (self->forwards, now);
            items [0].events = blocked? 0: ZMQ_POLLIN;
            if (blocked && timeout > 1)
                timeout = 1;
        }
        if (zmq_poll (items, polled, timeout) < 0 && errno != EINTR) {
            hr_log_error ("broker loop failed", "call", "zmq_poll",
                          "reason", zmq_strerror (errno));
            return -1;
        }
        if (items [3].revents & ZMQ_POLLIN)
            return 0;
        if (self->zap && hrb_zap_serve (self->zap, S_BATCH))
            hrb_metrics_set (self->metrics, HRB_M_CURVE_REFUSED,
                             (int64_t) hrb_zap_refused (self->zap));
        //  Subscriptions first, so that a head marker precedes the events
        //  published after it in this turn. (ZeroMQ matches a subscription
        //  as soon as it reads it, before the broker does: a subscriber may
        //  still get an event before its marker; the marker's head covers
        //  it, docs/protocol.md §4.)
        for (int i = 0; i < S_BATCH && s_handle_xpub (self); i++)
            ;
        for (int i = 0; i < S_BATCH && s_handle_router (self); i++)
            ;
        for (int i = 0; i < S_BATCH && s_handle_pull (self); i++)
            ;
        if (self->replica)
            hrb_replica_serve (self->replica, S_BATCH);
        replies_left = hrb_reader_deliver (self->reader, S_DELIVER_FRAMES, s_deliver, self);
        if (self->replica)
            replies_left |= hrb_reader_deliver (hrb_replica_reader (self->replica),
                                                S_DELIVER_FRAMES, s_deliver, self);
        hrb_metrics_set (self->metrics, HRB_M_HISTORY_QUEUE,
                         (int64_t) hrb_reader_waiting (self->reader));
        hrb_metrics_set (self->metrics, HRB_M_HISTORY_COALESCED,
                         (int64_t) hrb_reader_coalesced (self->reader));
        if (hr_mono_ms () >= self->next_tick)
            self->next_tick = s_tick (self)? hr_mono_ms (): hr_mono_ms () + S_TICK_MS;
    }
}
