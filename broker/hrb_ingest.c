/*  hrb_ingest: the broker's requests (docs/protocol.md §2, §3): publishes
    from PULL, ROUTER and other brokers, sequenced here, forwarded to their
    owner, held for a handoff or kept for the next view (docs/cluster.md);
    revocations; history asks handed to the reader. Shares the server's
    state (hrb_server_impl.h).  */
#include "hrb_server_impl.h"
#include "hr_log.h"
#include "hr_mpack.h"
#include "hr_time.h"
#include "hr_zmq.h"

#include <assert.h>
#include <string.h>
#include <zmq.h>

//  The message of the broker's own overloaded error for publishes.
#define S_CHANNELS_FULL "the broker keeps --max-channels channels, all with history"
#define S_HISTORY_QUEUE_FULL "the broker has 10,000 history queries waiting; retry shortly"

//  Sends one message on XPUB: topic frame, then the envelope
//  (hrb_markers_send_fn).
void
hrb_ingest_stream_send (void *arg, const char *ch, size_t ch_len, const hr_buf_t *body)
{
    hrb_server_t *self = arg;
    hr_event_topic (ch, ch_len, &self->topic);
    zmq_send (self->xpub, self->topic.data, self->topic.size, ZMQ_SNDMORE);
    zmq_send (self->xpub, body->data, body->size, 0);
}

//  The message of a rejected frame's error (the broker's only overloaded
//  rejection is the channel cap).
static const char *
s_message (hr_error_t error)
{
    return error == HR_E_OVERLOADED? S_CHANNELS_FULL: hr_error_message (error);
}

//  Counts a rejected frame and logs it (rate-limited); message NULL: the
//  error's (s_message).
void
hrb_ingest_reject (hrb_server_t *self, const char *socket, hr_error_t error,
                   const char *message)
{
    hrb_metrics_inc_at (self->metrics, HRB_M_INGEST_ERRORS, (int) error - 1);
    hr_log_limited_info ("rejected frame", "socket", socket, "error", hr_error_code (error),
                         "reason", message? message: s_message (error));
}

//  Who an acknowledgement goes to, kept with an event that waits for its
//  backup (hrb_sync): [kind] then, for ROUTER, [REQ delimiter, has rid,
//  rid, id length, id]; for a forward, [from, fid, has rid, rid].
enum { S_TO_NOBODY, S_TO_ROUTER, S_TO_FORWARDER };
#define S_TO_MAX (1 + 1 + 1 + 8 + 1 + 255)

//  Where the request being served came from (its acknowledgement's
//  address when it is sent later): set by the caller of s_publish.
typedef struct {
    uint8_t bytes [S_TO_MAX];
    size_t size;
} s_to_t;

static void
s_to_router (s_to_t *to, const void *identity, size_t id_len, bool req_socket,
             const hr_request_t *req)
{
    to->bytes [0] = S_TO_ROUTER;
    to->bytes [1] = req_socket;
    to->bytes [2] = req->has_rid;
    memcpy (to->bytes + 3, &req->rid, 8);
    to->bytes [11] = (uint8_t) id_len;
    memcpy (to->bytes + 12, identity, id_len);
    to->size = 12 + id_len;
}

static void
s_to_forwarder (s_to_t *to, int from, const hrb_peer_msg_t *msg, const hr_request_t *req)
{
    to->bytes [0] = msg->has_fid? S_TO_FORWARDER: S_TO_NOBODY;
    to->bytes [1] = (uint8_t) from;
    memcpy (to->bytes + 2, &msg->fid, 8);
    to->bytes [10] = req->has_rid;
    memcpy (to->bytes + 11, &req->rid, 8);
    to->size = 19;
}

//  Sequences a decoded publish request, stores and publishes it; with
//  --replication sync in a cluster, hands it to hrb_sync instead (*later:
//  stored, published and acknowledged when its backup holds it,
//  hrb_ingest_release; to is where the acknowledgement goes). Otherwise
//  fills seq and epoch (pointing into the stream or dedupe copy) and dup.
//  Fails with HR_E_OVERLOADED for a new channel at --max-channels (or
//  --sync-memory full), HR_E_UNAVAILABLE while this broker is fenced or,
//  with --min-replicas 2, the channel has no backup in sync.
//  Bytes the batch's publishes will take in hrb_sync at its commit (with a
//  durable store they join it then): room for them is kept.
static size_t
s_sync_pending (hrb_server_t *self)
{
    return self->outbox? hrb_outbox_bytes (self->outbox)
                         + hrb_outbox_count (self->outbox) * HRB_SYNC_ITEM_OVERHEAD
                       : 0;
}

static hr_error_t
s_publish (hrb_server_t *self, const hr_request_t *req, const s_to_t *to, uint64_t *seq,
           char epoch [HR_EPOCH_LEN + 1], bool *dup, bool *later)
{
    const hr_event_t *in = &req->event;
    uint64_t now = hr_wall_ms ();
    hrb_sync_t *sync = self->repl? hrb_repl_sync (self->repl): NULL;
    *later = false;
    *dup = in->id && hrb_dedupe_find (self->dedupe, in->ch, in->ch_len, in->id,
                                      in->id_len, now, seq, epoch);
    if (*dup) {
        hrb_metrics_inc (self->metrics, HRB_M_DUPLICATES);
        //  A repeat of an event still waiting for its backup waits with it,
        //  unless no backup may take it soon (--min-replicas 2, none in sync)
        uint64_t waiting;
        if (sync && hrb_sync_find_key (sync, in->ch, in->ch_len, in->id, in->id_len, &waiting)) {
            if (!hrb_sync_may_publish (sync, in->ch, in->ch_len))
                return HR_E_UNAVAILABLE;
            if (!hrb_sync_room (sync, in->ch_len + to->size + s_sync_pending (self))
            ||  hrb_sync_wait (sync, in->ch, in->ch_len, waiting, to->bytes, to->size) != 0)
                return HR_E_OVERLOADED;
            *later = true;
        }
        //  A repeat of an event of the batch is answered with it: after its
        //  commit, or with its error (its channel may even be gone already)
        if (self->outbox && hrb_outbox_holds_key (self->outbox, in->ch, in->ch_len, in->id,
                                                  in->id_len)) {
            hrb_outbox_item_t item = { in->ch, in->ch_len, *seq, NULL, 0, to->bytes, to->size,
                                       NULL, 0 };
            hrb_outbox_add (self->outbox, &item);
            *later = true;
        }
        return HR_OK;
    }
    if (sync && (hrb_sync_fenced (sync) || !hrb_sync_may_publish (sync, in->ch, in->ch_len)))
        return HR_E_UNAVAILABLE;
    //  The history reader reads streams and store: hold its lock while
    //  they change (the stream made, its seq and history advanced)
    hrb_reader_lock (self->reader);
    hrb_stream_t *stream = hrb_streams_ensure (self->streams, in->ch, in->ch_len, now);
    if (!stream) {
        hrb_reader_unlock (self->reader);
        return HR_E_OVERLOADED;
    }
    hr_event_t ev = *in;
    ev.seq = stream->sequenced + 1;
    ev.ts = now;
    ev.epoch = stream->epoch;
    ev.epoch_len = HR_EPOCH_LEN;
    ev.head = false;
    hr_buf_reset (&self->frame);
    hr_event_encode (&ev, &self->frame);
    if (sync && !hrb_sync_room (sync, self->frame.size + in->ch_len + to->size
                                      + s_sync_pending (self))) {
        hrb_reader_unlock (self->reader);
        return HR_E_OVERLOADED;
    }
    stream->sequenced = ev.seq;
    if (!sync || self->outbox) {
        hrb_store_rc_t stored = hrb_streams_append (self->streams, stream, ev.seq, now,
                                                    self->frame.data, self->frame.size);
        if (stored == HRB_STORE_OK && in->id)
            stored = hrb_streams_key (self->streams, stream, in->id, in->id_len, ev.seq);
        if (stored != HRB_STORE_OK) {
            if (stored == HRB_STORE_TOO_BIG)
                stream->sequenced = ev.seq - 1;     //  refused alone: the batch goes on
            else
                hrb_ingest_unsequence (self, stream, ev.seq);   //  the batch is lost: the
                                                        //  commit answers what it held
            hrb_reader_unlock (self->reader);
            return hrb_ingest_store_error (stored);
        }
        if (!self->outbox)
            stream->seq = ev.seq;       //  in memory: published now
    }
    hrb_reader_unlock (self->reader);
    if (in->id)
        hrb_dedupe_insert (self->dedupe, in->ch, in->ch_len, in->id, in->id_len,
                           now, ev.seq, stream->epoch);
    if (sync && !self->outbox) {
        int rc = hrb_sync_add (sync, in->ch, in->ch_len,
                               hrb_repl_backup_of (self->repl, in->ch, in->ch_len), ev.seq,
                               ev.seq == 1, self->frame.data, self->frame.size, in->id,
                               in->id_len, to->bytes, to->size);
        assert (rc == 0);               //  room was checked, the backup is the view's
        (void) rc;
        *later = true;
        return HR_OK;
    }
    if (self->outbox) {
        //  Sent and acknowledged (or to its backup) once its batch is
        //  stored (hrb_ingest_commit)
        hrb_outbox_item_t item = { in->ch, in->ch_len, ev.seq, self->frame.data,
                                   self->frame.size, to->bytes, to->size, in->id, in->id_len };
        hrb_outbox_add (self->outbox, &item);
        *later = true;
        return HR_OK;
    }
    hrb_ingest_stream_send (self, in->ch, in->ch_len, &self->frame);
    hrb_metrics_inc (self->metrics, HRB_M_PUBLISHED);
    *seq = ev.seq;
    memcpy (epoch, stream->epoch, HR_EPOCH_LEN + 1);
    return HR_OK;
}

static hrb_peer_t *s_envelope (hrb_server_t *self, const void *id, size_t id_len,
                               bool delimiter);

void
hrb_ingest_answer (hrb_server_t *self, const uint8_t *to, size_t size, hr_error_t rc,
                   uint64_t seq, const char *epoch, bool dup)
{
    if (size == 0 || to [0] == S_TO_NOBODY)
        return;
    uint64_t rid;
    bool has_rid = to [0] == S_TO_ROUTER? to [2]: to [10];
    memcpy (&rid, to [0] == S_TO_ROUTER? to + 3: to + 11, 8);
    hr_buf_reset (&self->reply);
    if (rc != HR_OK)
        hr_reply_encode_error (&self->reply, has_rid? &rid: NULL, rc);
    else
        hr_reply_encode_ack (&self->reply, has_rid? &rid: NULL, seq, epoch, dup);
    if (to [0] == S_TO_ROUTER) {
        hrb_peer_t *peer = s_envelope (self, to + 12, to [11], to [1]);
        hrb_peer_send (peer, self->router, self->reply.data, self->reply.size, 0);
    }
    else {
        uint64_t fid;
        memcpy (&fid, to + 2, 8);
        hrb_cluster_answer (self->cluster, to [1], fid, self->reply.data, self->reply.size);
    }
}

void
hrb_ingest_release (void *arg, const hrb_sync_item_t *item, hrb_sync_outcome_t outcome)
{
    hrb_server_t *self = arg;
    hrb_stream_t *stream = hrb_streams_find (self->streams, item->ch, item->ch_len);
    hr_error_t rc = HR_OK;
    if (outcome == HRB_SYNC_DROPPED || !stream)
        rc = HR_E_UNAVAILABLE;          //  never published: its publisher retries
    else
    if (item->envelope) {
        //  Released in order per channel: the next seq to publish
        if (item->seq != stream->seq + 1) {
            hr_log_limited_warn ("replicated event out of order", "channel", stream->name);
            rc = HR_E_UNAVAILABLE;
        }
        else {
            if (!self->installing)
                hrb_reader_lock (self->reader);
            stream->seq = item->seq;
            if (!self->outbox)          //  a durable store has it already
                hrb_streams_append (self->streams, stream, item->seq, hr_wall_ms (),
                                    item->envelope, item->size);
            if (!self->installing)
                hrb_reader_unlock (self->reader);
            hr_buf_t body = { (char *) item->envelope, item->size, item->size };
            hrb_ingest_stream_send (self, item->ch, item->ch_len, &body);
            hrb_metrics_inc (self->metrics, HRB_M_PUBLISHED);
        }
    }
    if (rc != HR_OK)
        hrb_cluster_count_unavailable (self->cluster);
    hrb_ingest_answer (self, item->reply, item->reply_len, rc, item->seq,
                    stream? stream->epoch: NULL, item->envelope == NULL);
}

//  Sends a revocation stream message (hrb_revokes_send_fn).
void
hrb_ingest_revoke_send (void *arg, const hr_buf_t *body)
{
    hrb_server_t *self = arg;
    zmq_send (self->xpub, HR_REVOKE_TOPIC, strlen (HR_REVOKE_TOPIC), ZMQ_SNDMORE);
    zmq_send (self->xpub, body->data, body->size, 0);
}

//  s_publish as hrb_forwards_publish_fn.
static hr_error_t
s_publish_fn (void *arg, const hr_request_t *req, int from, const hrb_peer_msg_t *msg,
              uint64_t *seq, char epoch [HR_EPOCH_LEN + 1], bool *dup, bool *later)
{
    s_to_t to;
    s_to_forwarder (&to, from, msg, req);
    return s_publish (arg, req, &to, seq, epoch, dup, later);
}

//  Tags of held publishes (hrb_transfer_hold): what their bytes are.
enum { S_HELD_PULL = 1, S_HELD_ROUTER, S_HELD_FWD };

//  In a cluster, who sequences a publish (docs/cluster.md, "Publishing in a
//  cluster"): SEQUENCE here; FORWARD to *owner; HOLD: kept until its
//  handoff comes, or until the next view while a view change is under way
//  (what the caller got, header then body, lent for the call, is copied);
//  UNAVAILABLE (counted), also when keeping it fails.
static hrb_gate_t
s_gate (hrb_server_t *self, const hr_request_t *req, int *owner, int tag,
        const void *header, size_t header_len, const void *body, size_t body_len)
{
    *owner = -1;
    if (!self->cluster)
        return HRB_GATE_SEQUENCE;
    hrb_gate_t gate = hrb_cluster_gate (self->cluster, req->event.ch, req->event.ch_len, owner);
    //  A view change under way: wait for the next view rather than refuse
    if (gate == HRB_GATE_UNAVAILABLE && !self->no_defer && hrb_cluster_changing (self->cluster)
    &&  (self->retrying
         || hrb_defer_add (self->defer, hrb_cluster_view_number (self->cluster), hr_mono_ms (),
                           tag, header, header_len, body, body_len) == 0)) {
        self->deferred = true;
        return HRB_GATE_HOLD;
    }
    if (gate == HRB_GATE_HOLD) {
        hr_buf_reset (&self->held);
        hr_buf_put (&self->held, header, header_len);
        hr_buf_put (&self->held, body, body_len);
        if (hrb_transfer_hold (self->transfer, *owner, req->event.ch, req->event.ch_len,
                               tag, self->held.data, self->held.size) == 0)
            return HRB_GATE_HOLD;
        gate = HRB_GATE_UNAVAILABLE;
    }
    if (gate == HRB_GATE_UNAVAILABLE)
        hrb_cluster_count_unavailable (self->cluster);
    return gate;
}

//  A forwarded publish from broker from (its owner is this broker), or the
//  owner's answer to one of ours (hrb_cluster_hooks_t.forward). A
//  forwarded publish is sequenced here or refused, never forwarded again.
void
hrb_ingest_forwarded (void *arg, int from, const hrb_peer_msg_t *msg)
{
    hrb_server_t *self = arg;
    if (msg->kind == HRB_PEER_FWDACK) {
        hrb_forwards_answer (self->forwards, from, msg);
        return;
    }
    int source;
    hrb_fwd_t fwd = hrb_forwards_serve (self->forwards, from, msg,
                                        (size_t) self->config->max_event, s_publish_fn, self,
                                        &source);
    if (fwd == HRB_FWD_SERVED)
        return;
    //  Kept for its channel's handoff or for the next view, as
    //  [from, has fid, fid, view] body
    uint8_t header [18] = { (uint8_t) from, msg->has_fid };
    memcpy (header + 2, &msg->fid, sizeof msg->fid);
    memcpy (header + 10, &msg->number, sizeof msg->number);
    hr_request_t req;
    hr_request_decode (msg->body, msg->body_len, (size_t) self->config->max_event, &req);
    int kept = -1;
    if (fwd == HRB_FWD_HOLD) {
        hr_buf_reset (&self->held);
        hr_buf_put (&self->held, header, sizeof header);
        hr_buf_put (&self->held, msg->body, msg->body_len);
        kept = hrb_transfer_hold (self->transfer, source, req.event.ch, req.event.ch_len,
                                  S_HELD_FWD, self->held.data, self->held.size);
    }
    else
    if (!self->no_defer) {
        self->deferred = true;
        kept = self->retrying? 0
             : hrb_defer_add (self->defer, hrb_cluster_view_number (self->cluster),
                              hr_mono_ms (), S_HELD_FWD, header, sizeof header, msg->body,
                              msg->body_len);
    }
    if (kept != 0 && msg->has_fid) {
        hrb_cluster_count_unavailable (self->cluster);
        hr_buf_reset (&self->reply);
        hr_reply_encode_error (&self->reply, req.has_rid? &req.rid: NULL, HR_E_UNAVAILABLE);
        hrb_cluster_answer (self->cluster, from, msg->fid, self->reply.data, self->reply.size);
    }
}

//  A fire-and-forget publish (size bytes, as the client sent it): sequenced
//  here, forwarded to its owner, held for its handoff, or refused.
static void
s_pull_request (hrb_server_t *self, const void *data, size_t size)
{
    hr_request_t req;
    hr_error_t rc = hr_request_decode (data, size, (size_t) self->config->max_event, &req);
    if (rc == HR_OK && req.op != HR_OP_PUBLISH)
        rc = HR_E_BAD_REQUEST;
    int owner = -1;
    hrb_gate_t gate = rc == HR_OK? s_gate (self, &req, &owner, S_HELD_PULL, NULL, 0, data, size)
                                 : HRB_GATE_UNAVAILABLE;
    if (rc == HR_OK && gate == HRB_GATE_UNAVAILABLE)
        rc = HR_E_UNAVAILABLE;
    if (rc == HR_OK && gate == HRB_GATE_FORWARD) {
        //  Not even queued (the owner's connection is down), or one held
        //  already (a publish served again, not read from PULL, which is
        //  not read meanwhile): as unavailable
        if (hrb_forwards_blocked (self->forwards)
        ||  hrb_forwards_push (self->forwards, owner, data, size, hr_mono_ms ())
            == HRB_PUSH_UNAVAILABLE) {
            hrb_cluster_count_unavailable (self->cluster);
            rc = HR_E_UNAVAILABLE;
        }
    }
    else
    if (rc == HR_OK && gate == HRB_GATE_SEQUENCE) {
        uint64_t seq;
        char epoch [HR_EPOCH_LEN + 1];
        bool dup, later;
        s_to_t nobody = { { S_TO_NOBODY }, 1 };
        rc = s_publish (self, &req, &nobody, &seq, epoch, &dup, &later);
    }
    if (rc != HR_OK)
        hrb_ingest_reject (self, "pull", rc, NULL);
}

//  Takes one fire-and-forget publish from PULL. Returns false when none.
//  PULL accepts op and rid as ROUTER does (docs/protocol.md §2.1); rid is
//  ignored and any op but publish is refused.
bool
hrb_ingest_pull (hrb_server_t *self)
{
    if (self->forwards && hrb_forwards_blocked (self->forwards))
        return false;                   //  back-pressure: an owner is behind
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, self->pull, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return false;
    }
    if (hr_zmq_more (self->pull)) {
        hr_zmq_drain (self->pull);
        hrb_ingest_reject (self, "pull", HR_E_BAD_TYPE, NULL);
    }
    else
        s_pull_request (self, zmq_msg_data (&msg), zmq_msg_size (&msg));
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
void
hrb_ingest_deliver (void *arg, const hrb_asker_t *asker, hrb_history_reply_t *reply)
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

//  One ROUTER request (body: len bytes) of the client with routing id
//  identity (id_len bytes; an empty delimiter first when req_socket);
//  framed: HR_OK, or the framing error to answer. Replies, or leaves the
//  reply to the owner (forwarded), the reader (history) or the handoff
//  (held).
static void
s_router_request (hrb_server_t *self, const void *identity, size_t id_len, bool req_socket,
                  hr_error_t framed, const void *body, size_t len)
{
    hr_request_t req = { 0 };
    hr_error_t rc = framed;
    if (rc == HR_OK)
        rc = hr_request_decode (body, len, (size_t) self->config->max_event, &req);
    else
        req.has_rid = hr_request_find_rid (body, len, &req.rid);
    const uint64_t *rid = req.has_rid? &req.rid: NULL;
    uint64_t seq = 0;
    char epoch [HR_EPOCH_LEN + 1];
    bool dup = false;
    const char *message = NULL;         //  the error's, when not s_message's
    if (rc == HR_OK && req.op == HR_OP_PUBLISH) {
        //  Held as [id length, id, REQ delimiter] body
        uint8_t header [1 + 256 + 1] = { (uint8_t) id_len };
        memcpy (header + 1, identity, id_len);
        header [1 + id_len] = req_socket;
        int owner;
        hrb_gate_t gate = s_gate (self, &req, &owner, S_HELD_ROUTER, header, id_len + 2,
                                  body, len);
        if (gate == HRB_GATE_HOLD)
            return;
        if (gate == HRB_GATE_FORWARD) {
            //  The owner's answer is relayed when it comes (hrb_forward)
            hrb_forwards_router (self->forwards, owner, identity, id_len, req_socket, rid,
                                 body, len, hr_mono_ms ());
            return;
        }
        bool later = false;
        s_to_t to;
        s_to_router (&to, identity, id_len, req_socket, &req);
        rc = gate == HRB_GATE_SEQUENCE? s_publish (self, &req, &to, &seq, epoch, &dup, &later)
                                      : HR_E_UNAVAILABLE;
        if (rc == HR_OK && later)
            return;                     //  acknowledged once its backup holds it
    }
    else
    if (rc == HR_OK && req.op == HR_OP_REVOKE)
        rc = hrb_revokes_add (self->revokes, &req, (int64_t) (hr_wall_ms () / 1000),
                              hrb_ingest_revoke_send, self, &message);
    else
    if (rc == HR_OK && req.op == HR_OP_HISTORY) {
        //  Answered when the reader has read it (hrb_ingest_deliver)
        hrb_asker_t asker = { identity, id_len, req_socket, req.has_rid, req.rid };
        //  A channel another broker owns: from its replica here, if any
        hrb_reader_t *replica = self->replica? hrb_replica_reader_for (
            self->replica, req.event.ch, req.event.ch_len): NULL;
        //  Restarted, its kept channels wait for the next view: another
        //  broker may have taken them over meanwhile (the asker tries again)
        if (!replica && self->cluster && hrb_cluster_kept (self->cluster))
            rc = HR_E_UNAVAILABLE;
        else
        if (hrb_reader_ask (replica? replica: self->reader, &req, &asker) >= 0)
            return;
        else {
            hrb_metrics_inc (self->metrics, HRB_M_HISTORY_QUEUE_FULL);
            rc = HR_E_OVERLOADED;
            message = S_HISTORY_QUEUE_FULL;
        }
    }
    hrb_peer_t *peer = s_envelope (self, identity, id_len, req_socket);
    hr_buf_reset (&self->reply);
    if (rc != HR_OK) {
        hrb_ingest_reject (self, "router", rc, message);
        hr_reply_encode_error_message (&self->reply, rid, rc, message? message: s_message (rc));
    }
    else
    if (req.op == HR_OP_REVOKE)
        hr_reply_encode_revoked (&self->reply, rid, req.kind, req.until);
    else
        hr_reply_encode_ack (&self->reply, rid, seq, epoch, dup);
    hrb_peer_send (peer, self->router, self->reply.data, self->reply.size, 0);
}

//  Takes one request from ROUTER and replies. Returns false when none.
bool
hrb_ingest_router (hrb_server_t *self)
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
    if (!hr_zmq_more (self->router))
        rc = HR_E_BAD_REQUEST;
    else {
        zmq_msg_recv (&body, self->router, 0);
        if (zmq_msg_size (&body) == 0 && hr_zmq_more (self->router)) {
            req_socket = true;
            zmq_msg_move (&delimiter, &body);
            zmq_msg_recv (&body, self->router, 0);
        }
        if (hr_zmq_more (self->router)) {
            hr_zmq_drain (self->router);
            rc = HR_E_BAD_TYPE;
        }
    }
    s_router_request (self, zmq_msg_data (&identity), zmq_msg_size (&identity), req_socket,
                      rc, zmq_msg_data (&body), zmq_msg_size (&body));
    zmq_msg_close (&identity);
    zmq_msg_close (&delimiter);
    zmq_msg_close (&body);
    return true;
}

//  Serves a publish held for its channel's handoff again, as it came
//  (hrb_transfer_ops_t.replay).
static void
s_replay (void *arg, int tag, const void *data, size_t size)
{
    hrb_server_t *self = arg;
    const uint8_t *bytes = data;
    if (tag == S_HELD_PULL)
        s_pull_request (self, data, size);
    else
    if (tag == S_HELD_ROUTER)
        s_router_request (self, bytes + 1, bytes [0], bytes [1 + bytes [0]] != 0, HR_OK,
                          bytes + bytes [0] + 2, size - bytes [0] - 2);
    else {
        hrb_peer_msg_t msg = { .kind = HRB_PEER_FWD, .has_fid = bytes [1] != 0,
                               .body = bytes + 18, .body_len = size - 18 };
        memcpy (&msg.fid, bytes + 2, sizeof msg.fid);
        memcpy (&msg.number, bytes + 10, sizeof msg.number);
        hrb_ingest_forwarded (self, bytes [0], &msg);
    }
}

//  Serves again a publish waiting for the next view (hrb_defer_fn); false
//  when it waits on. Past its wait, whatever the gate says is the answer.
bool
hrb_ingest_undefer (void *arg, int tag, const void *data, size_t size, bool expired)
{
    hrb_server_t *self = arg;
    //  A PUSH publish waits on while one is held for its owner's queue
    if (tag == S_HELD_PULL && !expired && hrb_forwards_blocked (self->forwards))
        return false;
    self->no_defer = expired;
    self->retrying = true;
    self->deferred = false;
    s_replay (self, tag, data, size);
    self->no_defer = self->retrying = false;
    return !self->deferred;
}

static void
s_lock (void *arg, bool take)
{
    hrb_server_t *self = arg;
    if (take)
        hrb_reader_lock (self->reader);
    else
        hrb_reader_unlock (self->reader);
}

//  A channel handed over here came whole (hrb_transfer_ops_t.whole): its
//  backup gets its state now, not at its first publish.
static void
s_whole (void *arg, const char *ch, size_t len)
{
    hrb_server_t *self = arg;
    //  Stored before its old owner is told to drop its copy; if it cannot
    //  be, the channel starts a new epoch here (one reset) rather than go
    //  on without the history it was given
    if (!hrb_ingest_commit (self)) {
        hrb_reader_lock (self->reader);
        hrb_stream_t *stream = hrb_streams_find (self->streams, ch, len);
        if (stream)
            hrb_streams_remove (self->streams, stream);
        hrb_reader_unlock (self->reader);
        return;
    }
    if (self->repl)
        hrb_sync_track (hrb_repl_sync (self->repl), ch, len,
                        hrb_repl_backup_of (self->repl, ch, len));
}

void
hrb_ingest_transfer_new (hrb_server_t *self, hr_metrics_t *metrics)
{
    hrb_transfer_ops_t ops = { s_lock, s_replay, s_whole };

    self->transfer = hrb_transfer_new (self->cluster, self->streams, self->store,
                                       self->dedupe, metrics, &ops, self);
    self->defer = hrb_transfer_defer (self->transfer);
}
