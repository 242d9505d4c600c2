/*  hrb_cluster: the view machine on ZeroMQ peer sockets, its state on disk,
    and the publish gate.  */
#include "hrb_cluster.h"
#include "hrb_cluster_conf.h"
#include "hrb_view_file.h"
#include "hr_hash.h"
#include "hr_log.h"
#include "hr_mpack.h"
#include "hr_proto.h"
#include "hr_time.h"
#include "hr_view_msg.h"
#include "hr_zmq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  Messages each DEALER queues for its broker (the decisions: 10,000).
#define S_PEER_SNDHWM 10000
//  The view goes out on the stream this often besides each install.
#define S_VIEW_EVERY_MS 1000

struct _hrb_cluster_t {
    const hrb_config_t *config;
    hr_cluster_t *file;
    uint32_t cf;                    //  FNV-1a of the file's bytes
    int self;
    hrb_view_config_t view_config;
    hrb_view_sm_t *sm;
    char *state_path;
    char *bind [HR_CLUSTER_HTTP];   //  what this broker binds, by kind (hrb_cluster_conf_bind)
    void *router;                   //  everything from other brokers
    void *dealers [HR_CLUSTER_MAX]; //  one to each other broker; NULL for self
    hrb_cluster_hooks_t hooks;
    void *hooks_arg;
    hrb_cluster_handoff_fn *handoff;
    void *handoff_arg;
    hrb_handoff_t *awaited;         //  channels coming here by handoff
    hr_members_t moved_from;        //  the owners the awaited channels moved from
    uint64_t next_tick;             //  monotonic ms
    uint64_t next_view;             //  monotonic ms of the next |view message
    size_t max_body;
    hr_buf_t frame;                 //  scratch
    pthread_mutex_t lock;           //  guards status
    hr_cluster_status_t status;
    hr_metrics_shard_t *shard;
    int m_view, m_up, m_down, m_lease, m_changes, m_elections, m_owned, m_forwarded,
        m_unavailable, m_refused;
};


static void
s_register_metrics (hrb_cluster_t *self, hr_metrics_t *metrics)
{
    self->shard = hr_metrics_shard (metrics);
    self->m_view = hr_metrics_add (metrics, "herald_cluster_view", HR_METRIC_GAUGE,
        "The installed view's number (0: none yet).");
    self->m_up = hr_metrics_add (metrics, "herald_cluster_members_up", HR_METRIC_GAUGE,
        "Brokers of the cluster file heard within --failover-timeout, this one included.");
    self->m_down = hr_metrics_add (metrics, "herald_cluster_members_down", HR_METRIC_GAUGE,
        "Brokers of the cluster file not heard within --failover-timeout.");
    self->m_lease = hr_metrics_add (metrics, "herald_cluster_lease", HR_METRIC_GAUGE,
        "1 while this broker holds its majority lease.");
    self->m_changes = hr_metrics_add (metrics, "herald_cluster_view_changes_total",
        HR_METRIC_COUNTER, "Views installed by this broker.");
    self->m_elections = hr_metrics_add (metrics, "herald_cluster_elections_total",
        HR_METRIC_COUNTER, "Elections this broker started (vote requests sent).");
    self->m_owned = hr_metrics_add (metrics, "herald_broker_owned_channels", HR_METRIC_GAUGE,
        "Channels with a stream here that this broker owns in the installed view.");
    self->m_forwarded = hr_metrics_add (metrics, "herald_broker_forwarded_total",
        HR_METRIC_COUNTER, "Publishes forwarded to the channel's owner.");
    self->m_unavailable = hr_metrics_add (metrics, "herald_broker_unavailable_total",
        HR_METRIC_COUNTER, "Publishes answered (ROUTER) or dropped (PUSH) unavailable: "
        "no broker could sequence the channel.");
    self->m_refused = hr_metrics_add (metrics, "herald_cluster_refused_total",
        HR_METRIC_COUNTER, "Peer messages refused: malformed, from an unknown broker, or "
        "of another cluster file.");
}

hrb_cluster_t *
hrb_cluster_new (void *zmq_ctx, const hrb_config_t *config, hr_metrics_t *metrics,
                 hr_buf_t *err)
{
    hrb_cluster_t *self = hr_calloc (1, sizeof *self);
    self->config = config;
    pthread_mutex_init (&self->lock, NULL);
    hrb_view_durable_t durable;
    bool found = false;
    if (!(self->file = hrb_cluster_conf_load (config, &self->self, &self->cf, &durable, &found, err))) {
        hrb_cluster_destroy (&self);
        return NULL;
    }
    hrb_cluster_conf_view (config, self->file, self->self, &self->view_config);
    self->state_path = hrb_view_file_path (config->state_dir, config->id);
    uint64_t now = hr_mono_ms ();
    self->sm = hrb_view_new (&self->view_config, found? &durable: NULL, now);
    self->max_body = (size_t) config->max_event * 4 + 1024;
    self->awaited = hrb_handoff_new (HRB_CLUSTER_HELD_MAX, (uint64_t) config->handoff_timeout);
    //  A handoff chunk is the largest peer frame
    int64_t max_msg = (int64_t) self->max_body + 1024;
    if (max_msg < HRB_HANDOFF_FRAME_MAX)
        max_msg = HRB_HANDOFF_FRAME_MAX;
    int linger = 0, one = 1, hwm = S_PEER_SNDHWM;
    self->router = zmq_socket (zmq_ctx, ZMQ_ROUTER);
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->router, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    //  A restarted broker reconnects with the same routing id before the old
    //  connection is noticed gone: the new one takes over.
    zmq_setsockopt (self->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    const hr_cluster_node_t *me = hr_cluster_node (self->file, (size_t) self->self);
    self->bind [HR_CLUSTER_PUBLISH] = hrb_cluster_conf_bind (config, me->publish);
    self->bind [HR_CLUSTER_ROUTER] = hrb_cluster_conf_bind (config, me->router);
    self->bind [HR_CLUSTER_STREAM] = hrb_cluster_conf_bind (config, me->stream);
    self->bind [HR_CLUSTER_PEER] = hrb_cluster_conf_bind (config, me->peer);
    if (zmq_bind (self->router, self->bind [HR_CLUSTER_PEER]) != 0) {
        hr_buf_printf (err, "cannot bind the peer ROUTER to %s: %s", self->bind [HR_CLUSTER_PEER],
                       zmq_strerror (errno));
        hrb_cluster_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < hr_cluster_size (self->file); i++) {
        if ((int) i == self->self)
            continue;
        void *dealer = zmq_socket (zmq_ctx, ZMQ_DEALER);
        zmq_setsockopt (dealer, ZMQ_ROUTING_ID, me->id, strlen (me->id));
        zmq_setsockopt (dealer, ZMQ_IMMEDIATE, &one, sizeof one);
        zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt (dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_connect (dealer, hr_cluster_node (self->file, i)->peer);
        self->dealers [i] = dealer;
    }
    s_register_metrics (self, metrics);
    self->status.self = self->self;
    self->status.number = hrb_view_installed (self->sm)->number;
    hr_log_info (found? "cluster: view state restored": "cluster: first start, no view state",
                 "id", me->id, "state", self->state_path);
    return self;
}

void
hrb_cluster_destroy (hrb_cluster_t **self_p)
{
    hrb_cluster_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < HR_CLUSTER_MAX; i++)
        if (self->dealers [i])
            zmq_close (self->dealers [i]);
    if (self->router)
        zmq_close (self->router);
    hrb_view_destroy (&self->sm);
    hrb_handoff_destroy (&self->awaited);
    hr_cluster_destroy (&self->file);
    free (self->state_path);
    for (size_t i = 0; i < HR_CLUSTER_HTTP; i++)
        free (self->bind [i]);
    hr_buf_free (&self->frame);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

void
hrb_cluster_set_hooks (hrb_cluster_t *self, const hrb_cluster_hooks_t *hooks, void *arg)
{
    self->hooks = *hooks;
    self->hooks_arg = arg;
}

void
hrb_cluster_set_handoff (hrb_cluster_t *self, hrb_cluster_handoff_fn *fn, void *arg)
{
    self->handoff = fn;
    self->handoff_arg = arg;
}

const hr_cluster_t *hrb_cluster_file (hrb_cluster_t *self) { return self->file; }
int hrb_cluster_index (hrb_cluster_t *self) { return self->self; }
void *hrb_cluster_socket (hrb_cluster_t *self) { return self->router; }

const hr_cluster_node_t *
hrb_cluster_self (hrb_cluster_t *self)
{
    return hr_cluster_node (self->file, (size_t) self->self);
}

const char *
hrb_cluster_bind (hrb_cluster_t *self, hr_cluster_kind_t kind)
{
    return kind < HR_CLUSTER_HTTP? self->bind [kind]: NULL;
}

//  Sends one frame to broker to, never blocking: a broker not connected
//  (ZMQ_IMMEDIATE) or too far behind loses it, as a lost packet.
static int
s_send (hrb_cluster_t *self, int to, const hr_buf_t *frame)
{
    if (to < 0 || to >= (int) HR_CLUSTER_MAX || !self->dealers [to])
        return -1;
    return zmq_send (self->dealers [to], frame->data, frame->size, ZMQ_DONTWAIT) < 0? -1: 0;
}

//  The view announced on the stream (hr_view_msg).
static void
s_publish_view (hrb_cluster_t *self, uint64_t now)
{
    const hrb_view_t *view = hrb_view_installed (self->sm);
    hr_view_msg_t msg = {
        .from = self->self, .number = view->number, .members = view->members,
        .owners = view->owners, .handoff = view->handoff,
        .lease = hrb_view_lease (self->sm, now),
    };
    hr_buf_reset (&self->frame);
    hr_view_msg_encode (&self->frame, self->file, &msg);
    if (self->hooks.view)
        self->hooks.view (self->hooks_arg, &self->frame);
    self->next_view = now + S_VIEW_EVERY_MS;
}

static void
s_ids_of (const hr_cluster_t *cluster, hr_members_t members, hr_buf_t *out)
{
    hr_buf_putc (out, '[');
    bool first = true;
    for (size_t i = 0; i < hr_cluster_size (cluster); i++)
        if (members & (1u << i)) {
            hr_buf_printf (out, "%s%s", first? "": ",", hr_cluster_node (cluster, i)->id);
            first = false;
        }
    hr_buf_putc (out, ']');
}

//  Snapshot for other threads, and the gauges.
static void
s_refresh (hrb_cluster_t *self, uint64_t now)
{
    const hrb_view_t *view = hrb_view_installed (self->sm);
    hr_members_t up = hrb_view_alive (self->sm, now) & hr_cluster_all (self->file);
    bool lease = hrb_view_lease (self->sm, now);
    pthread_mutex_lock (&self->lock);
    self->status.number = view->number;
    self->status.members = view->members;
    self->status.owners = view->owners;
    self->status.handoff = view->handoff;
    self->status.up = up;
    self->status.lease = lease;
    pthread_mutex_unlock (&self->lock);
    int ups = __builtin_popcount (up);
    hr_metrics_set (self->shard, self->m_view, (int64_t) view->number);
    hr_metrics_set (self->shard, self->m_up, ups);
    hr_metrics_set (self->shard, self->m_down, (int64_t) hr_cluster_size (self->file) - ups);
    hr_metrics_set (self->shard, self->m_lease, lease);
}

static void
s_log_installed (hrb_cluster_t *self, const hrb_view_t *view)
{
    hr_buf_t members = HR_BUF_INIT, owners = HR_BUF_INIT, handoff = HR_BUF_INIT;
    char number [24];
    snprintf (number, sizeof number, "%llu", (unsigned long long) view->number);
    s_ids_of (self->file, view->members, &members);
    s_ids_of (self->file, view->owners, &owners);
    s_ids_of (self->file, view->handoff, &handoff);
    hr_log_info ("view installed", "id", hrb_cluster_self (self)->id, "number", number,
                 "members", members.data, "owners", owners.data, "handoff", handoff.data);
    hr_buf_free (&members);
    hr_buf_free (&owners);
    hr_buf_free (&handoff);
}

//  Acts on what a step of the machine decided: save the durable state
//  first (a vote must be on disk before it is sent), then send, then tell
//  the server of a new view.
static void
s_apply (hrb_cluster_t *self, const hrb_view_out_t *out, uint64_t now)
{
    size_t count = out->count;
    if (out->persist) {
        hr_buf_t err = HR_BUF_INIT;
        if (hrb_view_file_save (self->state_path, self->file, hrb_view_durable (self->sm),
                                &err) != 0) {
            //  Sending now could break a promise not on disk: say nothing
            //  this step (the machine repeats itself on later ticks)
            hr_log_limited_warn ("cluster: cannot save the view state; not sending",
                                 "reason", err.data);
            count = 0;
        }
        hr_buf_free (&err);
    }
    const char *id = hrb_cluster_self (self)->id;
    for (size_t i = 0; i < count; i++) {
        const hrb_view_msg_t *msg = &out->msgs [i];
        hr_buf_reset (&self->frame);
        hrb_peer_msg_encode_view (&self->frame, id, self->cf, msg);
        if (msg->type == HRB_VIEW_VOTE_REQUEST)
            hr_metrics_inc (self->shard, self->m_elections);
        if (msg->to >= 0)
            s_send (self, msg->to, &self->frame);
        else
            for (int to = 0; to < (int) hr_cluster_size (self->file); to++)
                if (to != self->self)
                    s_send (self, to, &self->frame);
    }
    if (out->installed) {
        const hrb_view_t *view = hrb_view_installed (self->sm);
        const hrb_view_t *previous = hrb_view_previous (self->sm);
        hr_metrics_inc (self->shard, self->m_changes);
        s_log_installed (self, view);
        //  Channels moved here from a broker that left gracefully, or from
        //  an owner still a member (a broker promoted after its hold-down:
        //  only to it do channels move between live owners), come by handoff;
        //  to an owner only (a member waiting out its hold-down gets none)
        hr_members_t me = (hr_members_t) 1 << self->self;
        hr_members_t sources = (view->handoff | (previous->owners & view->members)) & ~me;
        //  A view that moves no channel (right after the one that did: two
        //  campaigns for the same change) keeps the handoffs going
        if (!(hrb_view_follows (previous, view) && view->owners == previous->owners)) {
            self->moved_from = previous->owners;
            hrb_handoff_expect (self->awaited, view->number,
                                previous->number && (view->owners & me)? sources: 0, now);
        }
        if (self->hooks.installed)
            self->hooks.installed (self->hooks_arg, view, previous);
        s_refresh (self, now);
        s_publish_view (self, now);
    }
}

uint64_t
hrb_cluster_tick (hrb_cluster_t *self)
{
    uint64_t now = hr_mono_ms ();
    if (now >= self->next_tick) {
        hrb_view_out_t out;
        hrb_view_tick (self->sm, now, &out);
        s_apply (self, &out, now);
        s_refresh (self, now);
        self->next_tick = now + self->view_config.heartbeat;
    }
    if (now >= self->next_view)
        s_publish_view (self, now);
    return self->next_tick < self->next_view? self->next_tick: self->next_view;
}

//  Counts and logs (rate-limited) a refused peer message.
static void
s_refuse (hrb_cluster_t *self, const char *why, const char *from)
{
    hr_metrics_inc (self->shard, self->m_refused);
    hr_log_limited_warn ("cluster: peer message refused", "reason", why, "from", from);
}

//  Who takes a peer message: the handoff taker, or the replication hook.
static bool
s_handoff_kind (hrb_peer_kind_t kind)
{
    return kind == HRB_PEER_HANDOFF || kind == HRB_PEER_HANDOFF_END
        || kind == HRB_PEER_HANDOFF_ACK;
}

static bool
s_repl_kind (hrb_peer_kind_t kind)
{
    return kind == HRB_PEER_REPL || kind == HRB_PEER_RSNAP || kind == HRB_PEER_RACK;
}

//  One message from the ROUTER: [routing id][frame].
static bool
s_serve_one (hrb_cluster_t *self)
{
    zmq_msg_t identity, body;
    zmq_msg_init (&identity);
    if (zmq_msg_recv (&identity, self->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&identity);
        return false;
    }
    zmq_msg_init (&body);
    bool two = hr_zmq_more (self->router) && zmq_msg_recv (&body, self->router, 0) >= 0
            && !hr_zmq_more (self->router);
    while (hr_zmq_more (self->router)) {
        zmq_msg_t rest;
        zmq_msg_init (&rest);
        zmq_msg_recv (&rest, self->router, 0);
        zmq_msg_close (&rest);
    }
    char from [HR_CLUSTER_ID_MAX + 1] = "";
    size_t id_len = zmq_msg_size (&identity);
    if (id_len <= HR_CLUSTER_ID_MAX) {
        memcpy (from, zmq_msg_data (&identity), id_len);
        from [id_len] = 0;
    }
    int index = id_len <= HR_CLUSTER_ID_MAX && memchr (from, 0, id_len) == NULL
              ? hr_cluster_find (self->file, from): -1;
    hrb_peer_msg_t msg;
    hr_error_t rc = HR_OK;
    if (index < 0 || index == self->self)
        s_refuse (self, "not a broker of the cluster file", from);
    else
    if (!two)
        s_refuse (self, "not one frame", from);
    else
    if ((rc = hrb_peer_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body),
                                   hr_cluster_all (self->file), self->max_body, &msg)))
        s_refuse (self, hr_error_code (rc), from);
    else
    if (!hr_mp_str_eq (msg.from, msg.from_len, from))
        s_refuse (self, "from is not the sender", from);
    else
    if (msg.cf != self->cf)
        s_refuse (self, "another cluster file (its bytes differ from ours)", from);
    else
    if (msg.kind == HRB_PEER_VIEW) {
        uint64_t now = hr_mono_ms ();
        msg.view.from = index;
        msg.view.to = self->self;
        hrb_view_out_t out;
        hrb_view_receive (self->sm, &msg.view, now, &out);
        s_apply (self, &out, now);
    }
    else
    if (s_handoff_kind (msg.kind) && !self->handoff)
        s_refuse (self, "a handoff message, and no handoff is served here", from);
    else
    if (s_handoff_kind (msg.kind))
        self->handoff (self->handoff_arg, index, &msg);
    else
    if (s_repl_kind (msg.kind) && !self->hooks.repl)
        s_refuse (self, "a replication message, and no replication is served here", from);
    else
    if (s_repl_kind (msg.kind))
        self->hooks.repl (self->hooks_arg, index, &msg);
    else
    if (self->hooks.forward)
        self->hooks.forward (self->hooks_arg, index, &msg);
    zmq_msg_close (&identity);
    zmq_msg_close (&body);
    return true;
}

bool
hrb_cluster_serve (hrb_cluster_t *self, size_t budget)
{
    size_t i = 0;
    while (i < budget && s_serve_one (self))
        i++;
    return i > 0;
}

//  The owner of ch before channels last moved (in the view installed
//  before the one that moved them), or -1.
static int
s_previous_owner (hrb_cluster_t *self, const char *ch, size_t len)
{
    return self->moved_from? hr_cluster_owner (self->file, ch, len, self->moved_from): -1;
}

//  What this broker may do with ch now, as its owner or not: SEQUENCE,
//  HOLD (its handoff is awaited: *from is its source), or anything else
//  (UNAVAILABLE: not here). A channel handed over whole, or whose source
//  ended without it, may be sequenced at once: the source stopped
//  sequencing it before it sent anything (it had installed this view).
static hrb_gate_t
s_may (hrb_cluster_t *self, const char *ch, size_t len, uint64_t now, int *from)
{
    *from = -1;
    if (hrb_cluster_owner (self, ch, len) != self->self)
        return HRB_GATE_UNAVAILABLE;
    int source = s_previous_owner (self, ch, len);
    hrb_handoff_state_t state = hrb_handoff_state (self->awaited, source, ch, len, now);
    //  Part of it came: held until its partial stream is dropped (hrb_transfer)
    if (state == HRB_HANDOFF_AWAIT
    ||  (state == HRB_HANDOFF_TIMED_OUT && hrb_handoff_begun (self->awaited, ch, len))) {
        *from = source;
        return HRB_GATE_HOLD;
    }
    //  The shortcut only after a view that follows the one before here (a
    //  view missed here may have left another owner's lease running)
    if (hrb_handoff_settled (self->awaited, source, ch, len)
    &&  hrb_view_follows (hrb_view_previous (self->sm), hrb_view_installed (self->sm))
        ? hrb_view_lease (self->sm, now)
        : hrb_view_may_sequence (self->sm, self->file, ch, len, now))
        return HRB_GATE_SEQUENCE;
    return HRB_GATE_UNAVAILABLE;
}

bool
hrb_cluster_may_sequence (hrb_cluster_t *self, const char *ch, size_t len)
{
    int from;
    return s_may (self, ch, len, hr_mono_ms (), &from) == HRB_GATE_SEQUENCE;
}

bool
hrb_cluster_lease (hrb_cluster_t *self)
{
    return hrb_view_lease (self->sm, hr_mono_ms ());
}

int
hrb_cluster_owner (hrb_cluster_t *self, const char *ch, size_t len)
{
    return hr_cluster_owner (self->file, ch, len, hrb_view_installed (self->sm)->owners);
}

hrb_gate_t
hrb_cluster_gate (hrb_cluster_t *self, const char *ch, size_t len, int *owner)
{
    uint64_t now = hr_mono_ms ();
    hrb_gate_t gate = s_may (self, ch, len, now, owner);
    if (gate != HRB_GATE_UNAVAILABLE)
        return gate;
    int to = hrb_cluster_owner (self, ch, len);
    if (to < 0 || to == self->self || !(hrb_view_alive (self->sm, now) & (1u << to)))
        return HRB_GATE_UNAVAILABLE;
    *owner = to;
    return HRB_GATE_FORWARD;
}

typedef struct {
    hrb_cluster_t *cluster;
    const hrb_view_t *view, *previous;
    bool (*also) (void *arg, const hrb_stream_t *stream);
    void *arg;
} s_retain_t;

static bool
s_keep (void *arg, const hrb_stream_t *stream)
{
    s_retain_t *retain = arg;
    if (retain->also && retain->also (retain->arg, stream))
        return true;
    const hr_cluster_t *file = retain->cluster->file;
    int self = retain->cluster->self;
    size_t len = strlen (stream->name);
    return hrb_view_follows (retain->previous, retain->view)
        && hr_cluster_owner (file, stream->name, len, retain->view->owners) == self
        && hr_cluster_owner (file, stream->name, len, retain->previous->owners) == self;
}

size_t
hrb_cluster_retain (hrb_cluster_t *self, hrb_streams_t *streams, const hrb_view_t *view,
                    const hrb_view_t *previous,
                    bool (*also) (void *arg, const hrb_stream_t *stream), void *arg)
{
    s_retain_t retain = { self, view, previous, also, arg };
    return hrb_streams_retain (streams, s_keep, &retain);
}

uint64_t
hrb_cluster_view_number (hrb_cluster_t *self)
{
    return hrb_view_installed (self->sm)->number;
}

int
hrb_cluster_forward (hrb_cluster_t *self, int to, const uint64_t *fid, const void *request,
                     size_t len)
{
    hr_buf_reset (&self->frame);
    hrb_peer_msg_encode_fwd (&self->frame, hrb_cluster_self (self)->id, self->cf,
                             hrb_cluster_view_number (self), fid, request, len);
    if (s_send (self, to, &self->frame) != 0)
        return -1;
    hr_metrics_inc (self->shard, self->m_forwarded);
    return 0;
}

bool
hrb_cluster_connected (hrb_cluster_t *self, int to)
{
    return to >= 0 && to < (int) HR_CLUSTER_MAX
        && (hrb_view_alive (self->sm, hr_mono_ms ()) >> to & 1) != 0;
}

void
hrb_cluster_answer (hrb_cluster_t *self, int to, uint64_t fid, const void *reply, size_t len)
{
    hr_buf_reset (&self->frame);
    hrb_peer_msg_encode_fwdack (&self->frame, hrb_cluster_self (self)->id, self->cf,
                                hrb_cluster_view_number (self), fid, reply, len);
    s_send (self, to, &self->frame);
}

void
hrb_cluster_count_unavailable (hrb_cluster_t *self)
{
    hr_metrics_inc (self->shard, self->m_unavailable);
}

void
hrb_cluster_set_owned (hrb_cluster_t *self, size_t channels)
{
    hr_metrics_set (self->shard, self->m_owned, (int64_t) channels);
}

void
hrb_cluster_status (hrb_cluster_t *self, hr_cluster_status_t *out)
{
    pthread_mutex_lock (&self->lock);
    *out = self->status;
    pthread_mutex_unlock (&self->lock);
}

bool
hrb_cluster_ready (hrb_cluster_t *self)
{
    pthread_mutex_lock (&self->lock);
    bool ready = self->status.number > 0 && (self->status.members & (1u << self->self))
              && self->status.lease;
    pthread_mutex_unlock (&self->lock);
    return ready;
}

hrb_handoff_t *hrb_cluster_handoff (hrb_cluster_t *self) { return self->awaited; }
uint32_t hrb_cluster_fingerprint (hrb_cluster_t *self) { return self->cf; }

int
hrb_cluster_send (hrb_cluster_t *self, int to, const hr_buf_t *frame)
{
    return s_send (self, to, frame);
}

bool
hrb_cluster_writable (hrb_cluster_t *self, int to)
{
    if (to < 0 || to >= (int) HR_CLUSTER_MAX || !self->dealers [to])
        return false;
    int events = 0;
    size_t size = sizeof events;
    return zmq_getsockopt (self->dealers [to], ZMQ_EVENTS, &events, &size) == 0
        && (events & ZMQ_POLLOUT);
}

void
hrb_cluster_keep (hrb_cluster_t *self)
{
    hrb_view_keep (self->sm);
}

bool
hrb_cluster_kept (hrb_cluster_t *self)
{
    return hrb_view_kept (self->sm);
}

const hrb_view_t *
hrb_cluster_view (hrb_cluster_t *self)
{
    return hrb_view_installed (self->sm);
}

void
hrb_cluster_leave (hrb_cluster_t *self)
{
    uint64_t now = hr_mono_ms ();
    hrb_view_out_t out;
    hrb_view_leave (self->sm, now, &out);
    s_apply (self, &out, now);
    hr_log_info ("leaving the cluster: asking for a view without this broker",
                 "id", hrb_cluster_self (self)->id);
}

bool
hrb_cluster_left (hrb_cluster_t *self)
{
    return hrb_view_left (self->sm);
}

bool
hrb_cluster_changing (hrb_cluster_t *self)
{
    uint64_t now = hr_mono_ms ();
    //  For a lease after an install a broker may wait for its heartbeats of
    //  the new view to be acknowledged (its lease), or for a fence to pass
    bool installing = hrb_view_installed (self->sm)->number
                   && now < hrb_view_installed_at (self->sm) + self->view_config.lease;
    //  A broker that left and is gone no longer counts
    hr_members_t leaving = hrb_view_leaving (self->sm) & hrb_view_alive (self->sm, now);
    return hrb_view_durable (self->sm)->term > hrb_view_installed (self->sm)->number
        || leaving || installing;
}

bool
hrb_cluster_successors (hrb_cluster_t *self)
{
    uint64_t now = hr_mono_ms ();
    hr_members_t alive = hrb_view_alive (self->sm, now) & hr_cluster_all (self->file);
    hr_members_t staying = alive & ~hrb_view_leaving (self->sm);
    //  A view's members are a majority of the file (hrb_view)
    int majority = (int) hr_cluster_size (self->file) / 2 + 1;
    return __builtin_popcount (staying) >= majority;
}
