/*  hrb_forward: pending forwards in a table by fid and a list in fid
    order, which is also deadline order (one timeout for all).  */
#include "hrb_forward.h"
#include "hr_list.h"
#include "hr_log.h"
#include "hr_proto.h"
#include "hr_time.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define S_UNANSWERED "the channel's owner did not answer the forwarded publish within 1 s; " \
                     "it may still be published: retry with the same id"
#define S_TOO_MANY "this broker has too many forwarded publishes waiting; retry"

typedef struct {
    uint64_t fid;
    char key [17];              //  fid as hex: the table's key
    uint64_t deadline;
    int to;                     //  the owner it went to
    bool req_socket;
    bool has_rid;
    uint64_t rid;
    size_t id_len;
    uint8_t identity [256];     //  ZeroMQ routing ids are at most 255 bytes
    bool relay;                 //  a forward passed on: answer relay_to's relay_fid
    int relay_to;
    uint64_t relay_fid;
    hr_list_t order;
} s_pending_t;

struct _hrb_forwards_t {
    hrb_cluster_t *cluster;
    void *router;
    hrb_peers_t *peers;
    uint64_t next_fid;
    zhashx_t *by_fid;           //  key -> pending (owns them)
    hr_list_t order;            //  oldest first
    hr_buf_t reply;
    hr_buf_t held;              //  a PUSH publish waiting for room (hrb_forwards_push)
    int held_to;                //  its owner; -1 when none is held
    uint64_t held_deadline;
};

static void
s_pending_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

hrb_forwards_t *
hrb_forwards_new (hrb_cluster_t *cluster, void *router, hrb_peers_t *peers)
{
    hrb_forwards_t *self = hr_calloc (1, sizeof *self);
    self->cluster = cluster;
    self->router = router;
    self->peers = peers;
    self->next_fid = 1;
    self->held_to = -1;
    self->by_fid = zhashx_new ();
    zhashx_set_destructor (self->by_fid, s_pending_free);
    zhashx_set_key_duplicator (self->by_fid, NULL);     //  keys live in the entries
    zhashx_set_key_destructor (self->by_fid, NULL);
    hr_list_init (&self->order);
    return self;
}

void
hrb_forwards_destroy (hrb_forwards_t **self_p)
{
    hrb_forwards_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->by_fid);
    hr_buf_free (&self->reply);
    hr_buf_free (&self->held);
    free (self);
    *self_p = NULL;
}

//  Sends frame to the client of a pending forward (or of these fields).
static void
s_reply (hrb_forwards_t *self, const void *identity, size_t id_len, bool req_socket,
         const void *frame, size_t size)
{
    hrb_peer_t *peer = hrb_peers_get (self->peers, identity, id_len);
    hrb_peer_send (peer, self->router, identity, id_len, ZMQ_SNDMORE);
    if (req_socket)
        hrb_peer_send (peer, self->router, "", 0, ZMQ_SNDMORE);
    hrb_peer_send (peer, self->router, frame, size, 0);
}

static void
s_error (hrb_forwards_t *self, const void *identity, size_t id_len, bool req_socket,
         const uint64_t *rid, hr_error_t error, const char *message)
{
    hr_buf_reset (&self->reply);
    hr_reply_encode_error_message (&self->reply, rid, error, message);
    s_reply (self, identity, id_len, req_socket, self->reply.data, self->reply.size);
}

void
hrb_forwards_router (hrb_forwards_t *self, int to, const void *identity, size_t id_len,
                     bool req_socket, const uint64_t *rid, const void *request,
                     size_t len, uint64_t now)
{
    if (zhashx_size (self->by_fid) >= HRB_FORWARD_MAX || id_len > 255) {
        s_error (self, identity, id_len, req_socket, rid, HR_E_OVERLOADED, S_TOO_MANY);
        return;
    }
    uint64_t fid = self->next_fid++;
    if (hrb_cluster_forward (self->cluster, to, &fid, request, len) != 0) {
        hrb_cluster_count_unavailable (self->cluster);
        s_error (self, identity, id_len, req_socket, rid, HR_E_UNAVAILABLE,
                 hr_error_message (HR_E_UNAVAILABLE));
        return;
    }
    s_pending_t *pending = hr_calloc (1, sizeof *pending);
    pending->fid = fid;
    snprintf (pending->key, sizeof pending->key, "%016llx", (unsigned long long) fid);
    pending->deadline = now + HRB_FORWARD_TIMEOUT_MS;
    pending->to = to;
    pending->req_socket = req_socket;
    pending->has_rid = rid != NULL;
    pending->rid = rid? *rid: 0;
    pending->id_len = id_len;
    memcpy (pending->identity, identity, id_len);
    zhashx_insert (self->by_fid, pending->key, pending);
    hr_list_push_back (&self->order, &pending->order);
}

void
hrb_forwards_answer (hrb_forwards_t *self, int from, const hrb_peer_msg_t *msg)
{
    char key [17];
    snprintf (key, sizeof key, "%016llx", (unsigned long long) msg->fid);
    s_pending_t *pending = zhashx_lookup (self->by_fid, key);
    if (!pending || pending->to != from) {
        hr_log_limited_info ("cluster: a forward answered late or not ours, dropped");
        return;
    }
    if (pending->relay)
        hrb_cluster_answer (self->cluster, pending->relay_to, pending->relay_fid, msg->body,
                            msg->body_len);
    else
        s_reply (self, pending->identity, pending->id_len, pending->req_socket,
                 msg->body, msg->body_len);
    hr_list_remove (&pending->order);
    zhashx_delete (self->by_fid, key);
}

//  Passes a forward on to the owner in this broker's newer view; its
//  answer goes back to the first forwarder as the answer to its fid.
static bool
s_relay (hrb_forwards_t *self, int to, int from, const hrb_peer_msg_t *msg)
{
    if (!msg->has_fid)
        return hrb_cluster_forward (self->cluster, to, NULL, msg->body, msg->body_len) == 0;
    if (zhashx_size (self->by_fid) >= HRB_FORWARD_MAX)
        return false;
    uint64_t fid = self->next_fid++;
    if (hrb_cluster_forward (self->cluster, to, &fid, msg->body, msg->body_len) != 0)
        return false;
    s_pending_t *pending = hr_calloc (1, sizeof *pending);
    pending->fid = fid;
    snprintf (pending->key, sizeof pending->key, "%016llx", (unsigned long long) fid);
    pending->deadline = hr_mono_ms () + HRB_FORWARD_TIMEOUT_MS;
    pending->to = to;
    pending->relay = true;
    pending->relay_to = from;
    pending->relay_fid = msg->fid;
    zhashx_insert (self->by_fid, pending->key, pending);
    hr_list_push_back (&self->order, &pending->order);
    return true;
}

hrb_fwd_t
hrb_forwards_serve (hrb_forwards_t *self, int from, const hrb_peer_msg_t *msg,
                    size_t max_event, hrb_forwards_publish_fn *publish, void *arg, int *source)
{
    hr_request_t req = { 0 };
    hr_error_t rc = hr_request_decode (msg->body, msg->body_len, max_event, &req);
    if (rc == HR_OK && req.op != HR_OP_PUBLISH)
        rc = HR_E_BAD_REQUEST;
    *source = -1;
    if (rc == HR_OK) {
        int where;
        hrb_gate_t gate = hrb_cluster_gate (self->cluster, req.event.ch, req.event.ch_len,
                                            &where);
        if (gate == HRB_GATE_HOLD) {
            *source = where;
            return HRB_FWD_HOLD;    //  the caller holds it until its channel comes
        }
        //  Brokers install a view a few ms apart: one behind (or between a
        //  vote and its install) waits for the next view; one ahead passes
        //  it on to the owner in its own
        uint64_t mine = hrb_cluster_view_number (self->cluster);
        if (gate != HRB_GATE_SEQUENCE
        &&  (mine < msg->number
             || (gate == HRB_GATE_UNAVAILABLE && hrb_cluster_changing (self->cluster))))
            return HRB_FWD_DEFER;
        if (gate == HRB_GATE_FORWARD && mine > msg->number && s_relay (self, where, from, msg))
            return HRB_FWD_SERVED;
        if (gate != HRB_GATE_SEQUENCE) {
            hrb_cluster_count_unavailable (self->cluster);
            rc = HR_E_UNAVAILABLE;
        }
    }
    uint64_t seq = 0;
    char epoch [HR_EPOCH_LEN + 1];
    bool dup = false, later = false;
    if (rc == HR_OK)
        rc = publish (arg, &req, from, msg, &seq, epoch, &dup, &later);
    if (!msg->has_fid || later)
        return HRB_FWD_SERVED;
    const uint64_t *rid = req.has_rid? &req.rid: NULL;
    hr_buf_reset (&self->reply);
    if (rc != HR_OK)
        hr_reply_encode_error (&self->reply, rid, rc);
    else
        hr_reply_encode_ack (&self->reply, rid, seq, epoch, dup);
    hrb_cluster_answer (self->cluster, from, msg->fid, self->reply.data, self->reply.size);
    return HRB_FWD_SERVED;
}

void
hrb_forwards_expire (hrb_forwards_t *self, uint64_t now)
{
    hr_list_t *node;
    while ((node = hr_list_first (&self->order))) {
        s_pending_t *pending = hr_list_entry (node, s_pending_t, order);
        if (pending->deadline > now)
            break;
        //  A relayed forward's first broker times its client out itself
        if (!pending->relay) {
            hrb_cluster_count_unavailable (self->cluster);
            s_error (self, pending->identity, pending->id_len, pending->req_socket,
                     pending->has_rid? &pending->rid: NULL, HR_E_UNAVAILABLE, S_UNANSWERED);
        }
        hr_list_remove (&pending->order);
        zhashx_delete (self->by_fid, pending->key);
    }
}

size_t
hrb_forwards_pending (hrb_forwards_t *self)
{
    return zhashx_size (self->by_fid);
}

hrb_push_t
hrb_forwards_push (hrb_forwards_t *self, int to, const void *request, size_t len,
                   uint64_t now)
{
    assert (self->held_to < 0);
    if (hrb_cluster_forward (self->cluster, to, NULL, request, len) == 0)
        return HRB_PUSH_SENT;
    if (!hrb_cluster_connected (self->cluster, to))
        return HRB_PUSH_UNAVAILABLE;
    hr_buf_reset (&self->held);
    hr_buf_put (&self->held, request, len);
    self->held_to = to;
    self->held_deadline = now + HRB_FORWARD_TIMEOUT_MS;
    return HRB_PUSH_HELD;
}

bool
hrb_forwards_blocked (hrb_forwards_t *self)
{
    return self->held_to >= 0;
}

bool
hrb_forwards_retry (hrb_forwards_t *self, uint64_t now)
{
    if (self->held_to < 0)
        return false;
    if (hrb_cluster_forward (self->cluster, self->held_to, NULL, self->held.data,
                             self->held.size) == 0)
        self->held_to = -1;
    else
    if (now >= self->held_deadline || !hrb_cluster_connected (self->cluster, self->held_to)) {
        hrb_cluster_count_unavailable (self->cluster);
        hr_log_limited_warn ("a PUSH publish dropped: its channel's owner took nothing "
                             "for 1 s", "owner", hr_cluster_node (hrb_cluster_file (self->cluster),
                                                               (size_t) self->held_to)->id);
        self->held_to = -1;
    }
    return self->held_to >= 0;
}
