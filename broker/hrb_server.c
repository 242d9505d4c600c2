/*  hrb_server: the broker loop. Sequences publishes, keeps history, answers
    history queries, publishes envelopes and head markers on XPUB.  */
#include "hrb_server.h"
#include "hrb_dedupe.h"
#include "hrb_store.h"
#include "hrb_stream.h"
#include "hr_log.h"
#include "hr_mpack.h"
#include "hr_proto.h"
#include "hr_time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

//  Messages taken from one socket before looking at the others again.
#define S_BATCH 512
//  Maintenance (expiry, gauges) period.
#define S_TICK_MS 250
//  A head marker for each channel that went quiet (no publish for a second
//  after publishing in the second before), so that a subscriber that lost
//  the last events of a channel (a ZeroMQ drop) learns of it even though no
//  later event will show the gap (the Clone pattern's heartbeat). Active
//  channels need none: their next event shows any gap.
#define S_MARKER_MS 1000

struct _hrb_server_t {
    const hrb_config_t *config;
    void *pull, *router, *xpub;
    int stop_fd;
    char *pull_endpoints, *router_endpoints, *xpub_endpoints;
    hrb_store_t *store;
    hrb_streams_t *streams;
    hrb_dedupe_t *dedupe;
    hr_buf_t frame;             //  reusable encode buffers
    hr_buf_t topic;
    hr_buf_t reply;
    uint64_t next_tick;
    uint64_t last_marker_ms;    //  wall clock of the last marker round
    hr_metrics_shard_t *shard;
    int m_published, m_duplicates, m_ingest_errors, m_history_requests,
        m_channels, m_history_events, m_history_bytes, m_evicted,
        m_dedupe_keys, m_subscriptions;
};

static const char *s_evict_reasons [] = { "count", "age", "memory" };

static void
s_register_metrics (hrb_server_t *self, hr_metrics_t *metrics)
{
    const char *codes [HR_E_COUNT];
    for (int i = 0; i < HR_E_COUNT; i++)
        codes [i] = hr_error_code ((hr_error_t) i);
    self->shard = hr_metrics_shard (metrics);
    self->m_published = hr_metrics_add (metrics, "herald_broker_events_total",
        HR_METRIC_COUNTER, "Events sequenced and published by the broker.");
    self->m_duplicates = hr_metrics_add (metrics, "herald_broker_duplicates_total",
        HR_METRIC_COUNTER, "Publishes dropped as repeats of an id within the dedupe window.");
    self->m_ingest_errors = hr_metrics_add_labeled (metrics, "herald_ingest_errors_total",
        HR_METRIC_COUNTER, "Publish and request frames the broker rejected, by code.",
        "code", codes + 1, HR_E_COUNT - 1);
    self->m_history_requests = hr_metrics_add (metrics, "herald_broker_history_requests_total",
        HR_METRIC_COUNTER, "History queries answered.");
    self->m_subscriptions = hr_metrics_add (metrics, "herald_broker_subscriptions_total",
        HR_METRIC_COUNTER, "Subscriptions received on XPUB (each answered with a head marker).");
    self->m_channels = hr_metrics_add (metrics, "herald_broker_channels",
        HR_METRIC_GAUGE, "Channels the broker sequences.");
    self->m_history_events = hr_metrics_add (metrics, "herald_history_events",
        HR_METRIC_GAUGE, "Events kept in history, all channels.");
    self->m_history_bytes = hr_metrics_add (metrics, "herald_history_bytes",
        HR_METRIC_GAUGE, "Bytes of history kept, including per-event overhead.");
    self->m_evicted = hr_metrics_add_labeled (metrics, "herald_history_evicted_total",
        HR_METRIC_COUNTER, "Events evicted from history, by bound.", "reason",
        s_evict_reasons, 3);
    self->m_dedupe_keys = hr_metrics_add (metrics, "herald_dedupe_keys",
        HR_METRIC_GAUGE, "Idempotency keys remembered.");
}

//  Binds sock to each comma-separated endpoint; returns the bound list.
static char *
s_bind (void *sock, const char *what, const char *endpoints, hr_buf_t *err)
{
    hr_buf_t bound = HR_BUF_INIT;
    char *list = hr_strdup (endpoints);
    char *save = NULL;
    for (char *ep = strtok_r (list, ",", &save); ep; ep = strtok_r (NULL, ",", &save)) {
        if (zmq_bind (sock, ep) != 0) {
            hr_buf_printf (err, "cannot bind %s to %s: %s", what, ep, zmq_strerror (errno));
            free (list);
            hr_buf_free (&bound);
            return NULL;
        }
        char last [256];
        size_t size = sizeof last;
        zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, last, &size);
        if (bound.size)
            hr_buf_putc (&bound, ',');
        hr_buf_puts (&bound, last);
    }
    free (list);
    return hr_buf_detach (&bound);
}

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
    zmq_setsockopt (self->pull, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->xpub, ZMQ_LINGER, &linger, sizeof linger);
    if (self->stop_fd < 0
    || !(self->pull_endpoints = s_bind (self->pull, "PULL", config->pull, err))
    || !(self->router_endpoints = s_bind (self->router, "ROUTER", config->router, err))
    || !(self->xpub_endpoints = s_bind (self->xpub, "XPUB", config->xpub, err))) {
        hrb_server_destroy (&self);
        return NULL;
    }
    self->store = hrb_store_mem_new ((size_t) config->history_size,
                                     (uint64_t) config->history_age,
                                     (uint64_t) config->history_memory);
    self->streams = hrb_streams_new (self->store);
    self->dedupe = hrb_dedupe_new ((uint64_t) config->dedupe_window,
                                   (size_t) config->dedupe_max);
    s_register_metrics (self, metrics);
    return self;
}

void
hrb_server_destroy (hrb_server_t **self_p)
{
    hrb_server_t *self = *self_p;
    if (!self)
        return;
    hrb_streams_destroy (&self->streams);
    if (self->store)
        self->store->ops->destroy (&self->store);
    hrb_dedupe_destroy (&self->dedupe);
    zmq_close (self->pull);
    zmq_close (self->router);
    zmq_close (self->xpub);
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

//  Counts a rejected frame and logs it (rate-limited).
static void
s_reject (hrb_server_t *self, const char *socket, hr_error_t error)
{
    hr_metrics_inc (self->shard, self->m_ingest_errors + (int) error - 1);
    hr_log_limited_info ("rejected frame", "socket", socket, "error", hr_error_code (error),
                         "reason", hr_error_message (error));
}

//  Sends one message on XPUB: topic frame, then the envelope.
static void
s_stream_send (hrb_server_t *self, const char *ch, size_t ch_len, const hr_buf_t *body)
{
    hr_event_topic (ch, ch_len, &self->topic);
    zmq_send (self->xpub, self->topic.data, self->topic.size, ZMQ_SNDMORE);
    zmq_send (self->xpub, body->data, body->size, 0);
}

//  Sequences, stores and publishes a decoded publish request. On success
//  fills seq and epoch (pointing into the stream or dedupe copy) and dup.
static void
s_publish (hrb_server_t *self, const hr_request_t *req, uint64_t *seq,
           char epoch [HR_EPOCH_LEN + 1], bool *dup)
{
    const hr_event_t *in = &req->event;
    uint64_t now = hr_wall_ms ();
    *dup = in->id && hrb_dedupe_find (self->dedupe, in->ch, in->ch_len, in->id,
                                      in->id_len, now, seq, epoch);
    if (*dup) {
        hr_metrics_inc (self->shard, self->m_duplicates);
        return;
    }
    hrb_stream_t *stream = hrb_streams_ensure (self->streams, in->ch, in->ch_len, now);
    hr_event_t ev = *in;
    ev.seq = ++stream->seq;
    ev.ts = now;
    ev.epoch = stream->epoch;
    ev.epoch_len = HR_EPOCH_LEN;
    ev.head = false;
    hr_buf_reset (&self->frame);
    hr_event_encode (&ev, &self->frame);
    hrb_streams_append (self->streams, stream, now, self->frame.data, self->frame.size);
    s_stream_send (self, in->ch, in->ch_len, &self->frame);
    if (in->id)
        hrb_dedupe_insert (self->dedupe, in->ch, in->ch_len, in->id, in->id_len,
                           now, ev.seq, stream->epoch);
    hr_metrics_inc (self->shard, self->m_published);
    *seq = ev.seq;
    memcpy (epoch, stream->epoch, HR_EPOCH_LEN + 1);
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

//  Takes one fire-and-forget publish from PULL. Returns false when none.
static bool
s_handle_pull (hrb_server_t *self)
{
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
    if (rc == HR_OK) {
        uint64_t seq;
        char epoch [HR_EPOCH_LEN + 1];
        bool dup;
        s_publish (self, &req, &seq, epoch, &dup);
    }
    else
        s_reject (self, "pull", rc);
    zmq_msg_close (&msg);
    return true;
}

typedef struct {
    void *router;
    uint64_t left;              //  frames still to send after this one
} s_history_sender_t;

static void
s_send_history_event (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    s_history_sender_t *sender = arg;
    sender->left--;
    zmq_send (sender->router, bytes, size, sender->left? ZMQ_SNDMORE: 0);
}

//  Answers a history query; the routing envelope is already sent.
static void
s_history (hrb_server_t *self, const hr_request_t *req, const uint64_t *rid)
{
    const hr_event_t *in = &req->event;
    char ch [HR_CHANNEL_MAX + 1];
    memcpy (ch, in->ch, in->ch_len);
    ch [in->ch_len] = 0;
    hrb_stream_t *stream = hrb_streams_find (self->streams, in->ch, in->ch_len);
    uint64_t head = stream? stream->seq: 0;
    uint64_t first = stream? hrb_streams_first (self->streams, stream): 1;
    hr_reset_t reset = HR_RESET_NONE;
    if (in->epoch && !stream)
        reset = HR_RESET_UNKNOWN_CHANNEL;
    else
    if (in->epoch && !hr_mp_str_eq (in->epoch, in->epoch_len, stream->epoch))
        reset = HR_RESET_EPOCH_CHANGED;
    else
    if (req->since > head)
        reset = HR_RESET_CURSOR_AHEAD;
    else
    if (req->since + 1 < first)
        reset = HR_RESET_EXPIRED;
    uint64_t count = 0;
    if (reset == HR_RESET_NONE && head > req->since) {
        count = head - req->since;
        if (count > req->limit)
            count = req->limit;
    }
    hr_buf_reset (&self->reply);
    hr_reply_encode_history (&self->reply, rid, ch, stream? stream->epoch: NULL,
                             first, head, count, reset);
    zmq_send (self->router, self->reply.data, self->reply.size, count? ZMQ_SNDMORE: 0);
    if (count) {
        s_history_sender_t sender = { self->router, count };
        self->store->ops->read (self->store, stream->history, req->since, count,
                                s_send_history_event, &sender);
    }
    hr_metrics_inc (self->shard, self->m_history_requests);
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
    const uint64_t *rid = req.has_rid? &req.rid: NULL;
    zmq_send (self->router, zmq_msg_data (&identity), zmq_msg_size (&identity), ZMQ_SNDMORE);
    if (req_socket)
        zmq_send (self->router, "", 0, ZMQ_SNDMORE);
    if (rc != HR_OK) {
        s_reject (self, "router", rc);
        hr_buf_reset (&self->reply);
        hr_reply_encode_error (&self->reply, rid, rc);
        zmq_send (self->router, self->reply.data, self->reply.size, 0);
    }
    else
    if (req.op == HR_OP_HISTORY)
        s_history (self, &req, rid);
    else {
        uint64_t seq;
        char epoch [HR_EPOCH_LEN + 1];
        bool dup;
        s_publish (self, &req, &seq, epoch, &dup);
        hr_buf_reset (&self->reply);
        hr_reply_encode_ack (&self->reply, rid, seq, epoch, dup);
        zmq_send (self->router, self->reply.data, self->reply.size, 0);
    }
    zmq_msg_close (&identity);
    zmq_msg_close (&delimiter);
    zmq_msg_close (&body);
    return true;
}

//  Sends a head marker for a channel (stream NULL: no such channel).
static void
s_send_marker (hrb_server_t *self, const char *ch, size_t ch_len, hrb_stream_t *stream)
{
    hr_event_t marker = {
        .ch = ch, .ch_len = ch_len, .head = true,
        .seq = stream? stream->seq: 0,
        .epoch = stream? stream->epoch: NULL,
        .epoch_len = stream? HR_EPOCH_LEN: 0,
    };
    hr_buf_reset (&self->frame);
    hr_event_encode (&marker, &self->frame);
    s_stream_send (self, ch, ch_len, &self->frame);
}

typedef struct {
    hrb_server_t *server;
    uint64_t quiet_since;       //  streams last published before this are quiet
} s_marker_round_t;

static void
s_marker_visit (void *arg, hrb_stream_t *stream)
{
    s_marker_round_t *round = arg;
    if (stream->last_ms <= round->quiet_since)
        s_send_marker (round->server, stream->name, strlen (stream->name), stream);
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
        hr_metrics_inc (self->shard, self->m_subscriptions);
        s_send_marker (self, data + 1, size - 2,
                       hrb_streams_find (self->streams, data + 1, size - 2));
    }
    zmq_msg_close (&msg);
    return true;
}

static void
s_tick (hrb_server_t *self)
{
    uint64_t now = hr_wall_ms ();
    self->store->ops->expire (self->store, now);
    hrb_streams_expire (self->streams, now, (uint64_t) self->config->history_age);
    size_t keys = hrb_dedupe_expire (self->dedupe, now);
    hrb_store_stats_t stats;
    self->store->ops->stats (self->store, &stats);
    hr_metrics_set (self->shard, self->m_channels, (int64_t) hrb_streams_count (self->streams));
    hr_metrics_set (self->shard, self->m_history_events, (int64_t) stats.events);
    hr_metrics_set (self->shard, self->m_history_bytes, (int64_t) stats.bytes);
    hr_metrics_set (self->shard, self->m_evicted + 0, (int64_t) stats.evicted_count);
    hr_metrics_set (self->shard, self->m_evicted + 1, (int64_t) stats.evicted_age);
    hr_metrics_set (self->shard, self->m_evicted + 2, (int64_t) stats.evicted_memory);
    hr_metrics_set (self->shard, self->m_dedupe_keys, (int64_t) keys);
    if (now >= self->last_marker_ms + S_MARKER_MS) {
        //  Published in the previous window, quiet since
        s_marker_round_t round = { self, now - S_MARKER_MS };
        if (self->last_marker_ms > S_MARKER_MS)
            hrb_streams_recent (self->streams, self->last_marker_ms - S_MARKER_MS,
                                s_marker_visit, &round);
        self->last_marker_ms = now;
    }
}

void
hrb_server_run (hrb_server_t *self)
{
    zmq_pollitem_t items [] = {
        { self->pull, 0, ZMQ_POLLIN, 0 },
        { self->router, 0, ZMQ_POLLIN, 0 },
        { self->xpub, 0, ZMQ_POLLIN, 0 },
        { NULL, self->stop_fd, ZMQ_POLLIN, 0 },
    };
    self->next_tick = hr_mono_ms () + S_TICK_MS;
    while (true) {
        uint64_t now = hr_mono_ms ();
        long timeout = self->next_tick > now? (long) (self->next_tick - now): 0;
        if (zmq_poll (items, 4, timeout) < 0 && errno != EINTR)
            break;
        if (items [3].revents & ZMQ_POLLIN)
            break;
        //  Subscriptions first: a head marker must precede newer events
        while (s_handle_xpub (self))
            ;
        for (int i = 0; i < S_BATCH && s_handle_router (self); i++)
            ;
        for (int i = 0; i < S_BATCH && s_handle_pull (self); i++)
            ;
        if (hr_mono_ms () >= self->next_tick) {
            s_tick (self);
            self->next_tick = hr_mono_ms () + S_TICK_MS;
        }
    }
}
