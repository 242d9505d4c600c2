/*  hrb_replica: a broker's replica of other brokers' channels (see the
    header).  */
#include "hrb_replica.h"
#include "hrb_dedupe.h"
#include "hrb_repair.h"
#include "hrb_store.h"
#include "hrb_stream.h"
#include "hr_channel.h"
#include "hr_log.h"
#include "hr_proto.h"
#include "hr_time.h"
#include "hr_view_msg.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

//  Expiry and gauges period.
#define S_TICK_MS 250
//  Items the store and the streams may expire in one tick.
#define S_EXPIRE_BUDGET 4096
//  History queries waiting for the replica's reader at most (as the
//  broker's own reader).
#define S_HISTORY_QUEUE 10000
//  A broker not heard (its "|view" comes every second) for this long, then
//  heard again, may have sent what was lost: its channels are probed.
#define S_SILENCE_MS 2500

struct _hrb_replica_t {
    const hrb_config_t *config;
    hrb_cluster_t *cluster;
    const hr_cluster_t *file;
    int self;                   //  this broker's index in the file
    void *sub;
    hrb_store_t *store;
    hrb_streams_t *streams;
    hrb_reader_t *reader;
    hrb_repairs_t *repairs;
    hrb_dedupe_t *keys;         //  idempotency keys of the events replicated
    uint64_t snap_next [HR_CLUSTER_MAX];    //  per owner: the seq its snapshot gives next,
    char snap_ch [HR_CLUSTER_MAX][HR_CHANNEL_MAX + 1];  //  of this channel ("": none)
    uint64_t heard [HR_CLUSTER_MAX];    //  mono ms each broker's "|view" came last
    uint64_t view;              //  the view whose owners the streams match
    uint64_t next_tick;
    uint64_t events;            //  appended, live or repaired
    uint64_t refused;           //  messages refused, new channels at the cap
    hr_metrics_shard_t *shard;
    int m_channels, m_events, m_repairs, m_history_events, m_history_bytes, m_refused,
        m_keys, m_key_bytes;
};

hrb_replica_action_t
hrb_replica_decide (const char *epoch, uint64_t head, const hr_event_t *ev)
{
    if (!ev->epoch || ev->epoch_len == 0)
        return HRB_REPLICA_IGNORE;      //  a marker of a channel its owner lacks
    if (!epoch)
        return HRB_REPLICA_REPLACE;
    size_t len = strlen (epoch);
    if (len != ev->epoch_len || memcmp (epoch, ev->epoch, len) != 0)
        return hr_epoch_older (ev->epoch, ev->epoch_len, epoch, len)
             ? HRB_REPLICA_IGNORE: HRB_REPLICA_REPLACE;
    if (ev->head)
        return ev->seq > head? HRB_REPLICA_GAP: HRB_REPLICA_IGNORE;
    if (ev->seq <= head)
        return HRB_REPLICA_IGNORE;
    return ev->seq == head + 1? HRB_REPLICA_APPEND: HRB_REPLICA_GAP;
}

//  Counts and logs (rate-limited) a message the replica cannot take.
static void
s_refuse (hrb_replica_t *self, const char *what, const char *ch, size_t len)
{
    char name [HR_CHANNEL_MAX + 1] = "";
    if (len <= HR_CHANNEL_MAX) {
        memcpy (name, ch, len);
        name [len] = 0;
    }
    self->refused++;
    hr_log_limited_warn ("replica refused", "reason", what, "channel", name);
}

//  The owner of ch in the installed view, when it is another broker; -1
//  otherwise (no view, or this broker).
static int
s_other_owner (hrb_replica_t *self, const char *ch, size_t len)
{
    int owner = hrb_cluster_owner (self->cluster, ch, len);
    return owner == self->self? -1: owner;
}

//  A stream made or replaced with epoch and head, under the reader's lock;
//  NULL at --max-channels (counted).
static hrb_stream_t *
s_install (hrb_replica_t *self, const char *ch, size_t len, const char *epoch, uint64_t head)
{
    hrb_reader_lock (self->reader);
    hrb_stream_t *stream = hrb_streams_install (self->streams, ch, len, epoch, head,
                                                hr_wall_ms ());
    hrb_reader_unlock (self->reader);
    if (!stream)
        s_refuse (self, "--max-channels channels with history", ch, len);
    return stream;
}

//  Appends the next event of a stream, ev decoded from frame (the caller
//  holds the lock); its key is kept for a takeover (hrb_replica_take_keys).
static void
s_append (hrb_replica_t *self, hrb_stream_t *stream, const hr_event_t *ev, const void *frame,
          size_t size)
{
    uint64_t now = hr_wall_ms ();
    stream->seq = stream->sequenced = ev->seq;
    hrb_streams_append (self->streams, stream, stream->seq, now, frame, size);
    if (ev->id)
        hrb_dedupe_insert (self->keys, ev->ch, ev->ch_len, ev->id, ev->id_len, now, ev->seq,
                           stream->epoch);
    self->events++;
}

//  An envelope or head marker of channel ch (its topic) from the stream.
static void
s_envelope (hrb_replica_t *self, const char *ch, size_t len, const void *frame, size_t size)
{
    hr_event_t ev;
    if (hr_event_decode (frame, size, &ev) != HR_OK || ev.ch_len != len
    ||  memcmp (ev.ch, ch, len) != 0 || (ev.epoch && ev.epoch_len != HR_EPOCH_LEN)) {
        s_refuse (self, "a malformed envelope", ch, len);
        return;
    }
    if (hrb_cluster_owner (self->cluster, ch, len) == self->self)
        return;                         //  owned here: the broker's own stream
    hrb_stream_t *stream = hrb_streams_find (self->streams, ch, len);
    hrb_replica_action_t action = hrb_replica_decide (stream? stream->epoch: NULL,
                                                      stream? stream->seq: 0, &ev);
    if (action == HRB_REPLICA_REPLACE) {
        if (!(stream = s_install (self, ch, len, ev.epoch, 0)))
            return;
        hrb_repairs_reset (self->repairs, ch, len);
        action = hrb_replica_decide (stream->epoch, 0, &ev);
    }
    if (action == HRB_REPLICA_APPEND) {
        hrb_reader_lock (self->reader);
        s_append (self, stream, &ev, frame, size);
        hrb_reader_unlock (self->reader);
    }
    else
    if (action == HRB_REPLICA_GAP)
        hrb_repairs_want (self->repairs, ch, len, ev.seq, hr_mono_ms ());
}

typedef struct {
    hrb_replica_t *replica;
    int owner;
} s_sweep_t;

static bool
s_sweep_visit (void *arg, hrb_stream_t *stream)
{
    s_sweep_t *sweep = arg;
    size_t len = strlen (stream->name);
    if (hrb_cluster_owner (sweep->replica->cluster, stream->name, len) == sweep->owner)
        hrb_repairs_want (sweep->replica->repairs, stream->name, len, 0, hr_mono_ms ());
    return true;
}

//  A "|view" from a broker: heard again after a silence, its channels are
//  probed (what it sent meanwhile may be lost, quiet channels included).
static void
s_view (hrb_replica_t *self, const void *frame, size_t size)
{
    hr_view_msg_t msg;
    if (hr_view_msg_decode (self->file, frame, size, &msg) != HR_OK) {
        s_refuse (self, "a malformed view", "", 0);
        return;
    }
    uint64_t now = hr_mono_ms ();
    if (msg.from != self->self && self->heard [msg.from]
    &&  now - self->heard [msg.from] > S_SILENCE_MS) {
        s_sweep_t sweep = { self, msg.from };
        hrb_streams_recent (self->streams, 0, s_sweep_visit, &sweep);
    }
    self->heard [msg.from] = now;
}

//  Takes one stream message; false when none.
static bool
s_take (hrb_replica_t *self)
{
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    if (zmq_msg_recv (&topic, self->sub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&topic);
        return false;
    }
    zmq_msg_init (&body);
    bool two = false;                   //  a topic and a body, as every broker sends
    if (zmq_msg_more (&topic)) {
        zmq_msg_recv (&body, self->sub, 0);
        two = !zmq_msg_more (&body);
        for (bool more = !two; more; ) {
            zmq_msg_t extra;
            zmq_msg_init (&extra);
            zmq_msg_recv (&extra, self->sub, 0);
            more = zmq_msg_more (&extra);
            zmq_msg_close (&extra);
        }
    }
    const char *t = zmq_msg_data (&topic);
    size_t len = zmq_msg_size (&topic);
    if (two && len == strlen (HR_VIEW_TOPIC) && memcmp (t, HR_VIEW_TOPIC, len) == 0)
        s_view (self, zmq_msg_data (&body), zmq_msg_size (&body));
    else
    if (two && len >= 2 && t [len - 1] == '|' && hr_channel_valid (t, len - 1))
        s_envelope (self, t, len - 1, zmq_msg_data (&body), zmq_msg_size (&body));
    else
    if (!two || len == 0 || t [0] != '|')
        s_refuse (self, "a malformed stream message", "", 0);
    zmq_msg_close (&topic);
    zmq_msg_close (&body);
    return true;
}

//  hrb_repairs_where_fn.
static bool
s_where (void *arg, const char *ch, size_t len, char epoch [HR_EPOCH_LEN + 1],
         uint64_t *head, int *owner)
{
    hrb_replica_t *self = arg;
    hrb_stream_t *stream = hrb_streams_find (self->streams, ch, len);
    *owner = s_other_owner (self, ch, len);
    if (!stream || *owner < 0)
        return false;
    memcpy (epoch, stream->epoch, HR_EPOCH_LEN + 1);
    *head = stream->seq;
    return true;
}

//  hrb_repairs_apply_fn: the owner's answer to a repair.
static uint64_t
s_apply (void *arg, const char *ch, size_t len, const hr_reply_t *header, zmq_msg_t *events,
         size_t count, uint64_t *want)
{
    hrb_replica_t *self = arg;
    hrb_stream_t *stream = hrb_streams_find (self->streams, ch, len);
    uint64_t head = stream? stream->seq: 0;
    if (s_other_owner (self, ch, len) < 0 || !header->epoch
    ||  header->epoch_len != HR_EPOCH_LEN) {
        *want = 0;                      //  owned here now, or the owner has no such channel
        return head;
    }
    bool same = stream && memcmp (stream->epoch, header->epoch, HR_EPOCH_LEN) == 0;
    if (stream && !same
    &&  hr_epoch_older (header->epoch, HR_EPOCH_LEN, stream->epoch, HR_EPOCH_LEN))
        return head;                    //  an answer about an epoch since replaced
    if (!same || header->reset == HR_RESET_EXPIRED) {
        //  Start where the owner's history starts: its events are fetched next
        char epoch [HR_EPOCH_LEN + 1];
        memcpy (epoch, header->epoch, HR_EPOCH_LEN);
        epoch [HR_EPOCH_LEN] = 0;
        uint64_t base = header->first? header->first - 1: 0;
        if (!s_install (self, ch, len, epoch, base)) {
            *want = 0;
            return 0;
        }
        *want = !same || header->head > *want? header->head: *want;
        return base;
    }
    if (header->reset != HR_RESET_NONE) {
        *want = head;                   //  nothing the owner can give
        return head;
    }
    if (header->head > *want)
        *want = header->head;
    hrb_reader_lock (self->reader);
    for (size_t i = 0; i < count; i++) {
        const void *frame = zmq_msg_data (&events [i]);
        size_t size = zmq_msg_size (&events [i]);
        hr_event_t ev;
        if (hr_event_decode (frame, size, &ev) != HR_OK || ev.head
        ||  ev.ch_len != len || memcmp (ev.ch, ch, len) != 0)
            break;
        hrb_replica_action_t action = hrb_replica_decide (stream->epoch, stream->seq, &ev);
        if (action == HRB_REPLICA_APPEND)
            s_append (self, stream, &ev, frame, size);
        else
        if (action != HRB_REPLICA_IGNORE)
            break;                      //  not what was asked: asked again
    }
    hrb_reader_unlock (self->reader);
    return stream->seq;
}

hrb_replica_t *
hrb_replica_new (void *zmq_ctx, const hrb_config_t *config, hrb_cluster_t *cluster,
                 hr_metrics_t *metrics, hr_buf_t *err)
{
    hrb_replica_t *self = hr_calloc (1, sizeof *self);
    self->config = config;
    self->cluster = cluster;
    self->file = hrb_cluster_file (cluster);
    self->self = hrb_cluster_index (cluster);
    self->store = hrb_store_mem_new ((size_t) config->history_size,
                                     (uint64_t) config->history_age,
                                     (uint64_t) config->history_memory);
    self->streams = hrb_streams_new (self->store, (size_t) config->max_channels);
    self->keys = hrb_dedupe_new ((uint64_t) config->dedupe_window, (size_t) config->dedupe_max,
                                 (size_t) config->dedupe_memory);
    int64_t max_frame = config->max_event * 4 + 1024;
    self->sub = zmq_socket (zmq_ctx, ZMQ_SUB);
    int hwm = (int) config->xpub_hwm, linger = 0;
    zmq_setsockopt (self->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->sub, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame);
    zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, "", 0);
    for (size_t i = 0; i < hr_cluster_size (self->file); i++) {
        const hr_cluster_node_t *node = hr_cluster_node (self->file, i);
        if ((int) i != self->self && zmq_connect (self->sub, node->stream) != 0) {
            hr_buf_printf (err, "replica: cannot connect to %s's stream %s: %s", node->id,
                           node->stream, zmq_strerror (errno));
            hrb_replica_destroy (&self);
            return NULL;
        }
    }
    if (!(self->repairs = hrb_repairs_new (zmq_ctx, self->file, self->self,
                                           (size_t) config->max_channels, max_frame,
                                           s_where, s_apply, self, err))
    ||  !(self->reader = hrb_reader_new (zmq_ctx, self->streams, self->store,
                                         (size_t) config->reply_memory, S_HISTORY_QUEUE,
                                         err))) {
        hrb_replica_destroy (&self);
        return NULL;
    }
    self->shard = hr_metrics_shard (metrics);
    self->m_channels = hr_metrics_add (metrics, "herald_broker_replicated_channels",
        HR_METRIC_GAUGE, "Channels other brokers own that this broker keeps a replica of.");
    self->m_events = hr_metrics_add (metrics, "herald_replica_events_total",
        HR_METRIC_COUNTER, "Events added to replicas, live or by a gap repair.");
    self->m_repairs = hr_metrics_add (metrics, "herald_replica_repairs_total",
        HR_METRIC_COUNTER, "Gap repairs asked of channels' owners (history requests).");
    self->m_history_events = hr_metrics_add (metrics, "herald_replica_history_events",
        HR_METRIC_GAUGE, "Events kept in replicas, all channels.");
    self->m_history_bytes = hr_metrics_add (metrics, "herald_replica_history_bytes",
        HR_METRIC_GAUGE, "Bytes of replicas' history, as herald_history_bytes counts them.");
    self->m_refused = hr_metrics_add (metrics, "herald_replica_refused_total",
        HR_METRIC_COUNTER, "Stream messages a replica could not take (malformed, or a new "
        "channel at --max-channels).");
    self->m_keys = hr_metrics_add (metrics, "herald_replica_keys", HR_METRIC_GAUGE,
        "Idempotency keys of replicated events, kept for a takeover (bounded as the "
        "broker's own: --dedupe-max, --dedupe-memory).");
    self->m_key_bytes = hr_metrics_add (metrics, "herald_replica_key_bytes", HR_METRIC_GAUGE,
        "Bytes those keys take.");
    return self;
}

void
hrb_replica_destroy (hrb_replica_t **self_p)
{
    hrb_replica_t *self = *self_p;
    if (!self)
        return;
    hrb_reader_destroy (&self->reader);     //  first: its thread reads the streams
    hrb_repairs_destroy (&self->repairs);
    zmq_close (self->sub);
    hrb_streams_destroy (&self->streams);
    self->store->ops->destroy (&self->store);
    hrb_dedupe_destroy (&self->keys);
    free (self);
    *self_p = NULL;
}

size_t
hrb_replica_poll_items (hrb_replica_t *self, zmq_pollitem_t *items)
{
    items [0] = (zmq_pollitem_t) { self->sub, 0, ZMQ_POLLIN, 0 };
    items [1] = (zmq_pollitem_t) { hrb_repairs_socket (self->repairs), 0, ZMQ_POLLIN, 0 };
    items [2] = (zmq_pollitem_t) { hrb_reader_socket (self->reader), 0, ZMQ_POLLIN, 0 };
    return HRB_REPLICA_POLL_ITEMS;
}

//  hrb_streams_retain's keep: not owned here.
static bool
s_keep (void *arg, const hrb_stream_t *stream)
{
    hrb_replica_t *self = arg;
    return hrb_cluster_owner (self->cluster, stream->name, strlen (stream->name)) != self->self;
}

//  A new view: replicas of channels now owned here are dropped. Expiry,
//  gauges.
static void
s_tick (hrb_replica_t *self)
{
    uint64_t now = hr_wall_ms ();
    uint64_t view = hrb_cluster_view_number (self->cluster);
    hrb_reader_lock (self->reader);
    if (view != self->view)
        hrb_streams_retain (self->streams, s_keep, self);
    self->view = view;
    self->store->ops->expire (self->store, S_EXPIRE_BUDGET);
    hrb_dedupe_expire (self->keys, now, S_EXPIRE_BUDGET);
    hrb_streams_expire (self->streams, now, (uint64_t) self->config->history_age,
                        S_EXPIRE_BUDGET);
    hrb_reader_unlock (self->reader);
    hrb_store_stats_t stats;
    self->store->ops->stats (self->store, &stats);
    hr_metrics_set (self->shard, self->m_channels, (int64_t) hrb_streams_count (self->streams));
    hr_metrics_set (self->shard, self->m_events, (int64_t) self->events);
    hr_metrics_set (self->shard, self->m_repairs, (int64_t) hrb_repairs_sent (self->repairs));
    hr_metrics_set (self->shard, self->m_history_events, (int64_t) stats.events);
    hr_metrics_set (self->shard, self->m_history_bytes, (int64_t) stats.bytes);
    hr_metrics_set (self->shard, self->m_refused, (int64_t) self->refused);
    hr_metrics_set (self->shard, self->m_keys, (int64_t) hrb_dedupe_keys (self->keys));
    hr_metrics_set (self->shard, self->m_key_bytes, (int64_t) hrb_dedupe_bytes (self->keys));
}

void
hrb_replica_serve (hrb_replica_t *self, size_t budget)
{
    for (size_t i = 0; i < budget && s_take (self); i++)
        ;
    uint64_t now = hr_mono_ms ();
    hrb_repairs_serve (self->repairs, now, budget);
    if (now >= self->next_tick) {
        s_tick (self);
        self->next_tick = now + S_TICK_MS;
    }
}

hrb_reader_t *
hrb_replica_reader_for (hrb_replica_t *self, const char *ch, size_t len)
{
    return s_other_owner (self, ch, len) >= 0 && hrb_streams_find (self->streams, ch, len)
         ? self->reader: NULL;
}

hrb_reader_t *
hrb_replica_reader (hrb_replica_t *self)
{
    return self->reader;
}

hrb_replica_sync_t
hrb_replica_sync_event (hrb_replica_t *self, const void *frame, size_t size,
                        const char **ch, size_t *len)
{
    hr_event_t ev;
    *ch = NULL;
    *len = 0;
    if (hr_event_decode (frame, size, &ev) != HR_OK || ev.head || !ev.epoch
    ||  ev.epoch_len != HR_EPOCH_LEN) {
        s_refuse (self, "a malformed replicated event", "", 0);
        return HRB_REPLICA_MISSED;
    }
    *ch = ev.ch;
    *len = ev.ch_len;
    hrb_stream_t *stream = hrb_streams_find (self->streams, ev.ch, ev.ch_len);
    hrb_replica_action_t action = hrb_replica_decide (stream? stream->epoch: NULL,
                                                      stream? stream->seq: 0, &ev);
    if (action == HRB_REPLICA_IGNORE)   //  held already, or of an older epoch
        return stream && memcmp (stream->epoch, ev.epoch, HR_EPOCH_LEN) == 0
             ? HRB_REPLICA_HELD: HRB_REPLICA_MISSED;
    bool started = false;
    if (action == HRB_REPLICA_REPLACE) {
        if (ev.seq != 1)                //  a newer epoch from its middle: not all of it
            return HRB_REPLICA_MISSED;
        char epoch [HR_EPOCH_LEN + 1];
        memcpy (epoch, ev.epoch, HR_EPOCH_LEN);
        epoch [HR_EPOCH_LEN] = 0;
        if (!(stream = s_install (self, ev.ch, ev.ch_len, epoch, 0)))
            return HRB_REPLICA_MISSED;
        hrb_repairs_reset (self->repairs, ev.ch, ev.ch_len);
        action = HRB_REPLICA_APPEND;
        started = true;
    }
    if (action == HRB_REPLICA_GAP) {
        hrb_repairs_want (self->repairs, ev.ch, ev.ch_len, ev.seq, hr_mono_ms ());
        return HRB_REPLICA_MISSED;
    }
    hrb_reader_lock (self->reader);
    s_append (self, stream, &ev, frame, size);
    hrb_reader_unlock (self->reader);
    return started? HRB_REPLICA_STARTED: HRB_REPLICA_HELD;
}

int
hrb_replica_sync_part (hrb_replica_t *self, int from, const hrb_peer_msg_t *msg, bool first)
{
    assert (from >= 0 && from < HR_CLUSTER_MAX);
    hrb_stream_t *stream;
    if (first) {
        char epoch [HR_EPOCH_LEN + 1];
        memcpy (epoch, msg->epoch, HR_EPOCH_LEN);
        epoch [HR_EPOCH_LEN] = 0;
        if (!(stream = s_install (self, msg->ch, msg->ch_len, epoch, msg->seq)))
            return -1;
        hrb_repairs_reset (self->repairs, msg->ch, msg->ch_len);
        self->snap_next [from] = 0;
        memcpy (self->snap_ch [from], msg->ch, msg->ch_len);
        self->snap_ch [from][msg->ch_len] = 0;
    }
    else
    if (strlen (self->snap_ch [from]) != msg->ch_len
    ||  memcmp (self->snap_ch [from], msg->ch, msg->ch_len) != 0
    ||  !(stream = hrb_streams_find (self->streams, msg->ch, msg->ch_len))
    ||  memcmp (stream->epoch, msg->epoch, HR_EPOCH_LEN) != 0 || stream->seq != msg->seq)
        return -1;                      //  not the snapshot its part 0 began
    hrb_peer_iter_t iter;
    hrb_peer_msg_events (msg, &iter);
    const uint8_t *data;
    size_t size;
    bool ok = true;
    uint64_t now = hr_wall_ms ();
    hrb_reader_lock (self->reader);
    while (ok && hrb_peer_iter_event (&iter, &data, &size)) {
        //  The store keeps a run of consecutive seqs ending at the head
        hr_event_t ev;
        uint64_t next = self->snap_next [from];
        ok = hr_event_decode (data, size, &ev) == HR_OK && !ev.head && ev.seq >= 1
          && ev.seq <= stream->seq && (next == 0 || ev.seq == next)
          && ev.ch_len == msg->ch_len && memcmp (ev.ch, msg->ch, ev.ch_len) == 0;
        if (!ok)
            break;
        hrb_streams_restore (self->streams, stream, ev.seq, ev.ts, data, size);
        if (ev.id)
            hrb_dedupe_insert (self->keys, ev.ch, ev.ch_len, ev.id, ev.id_len, now, ev.seq,
                               stream->epoch);
        self->snap_next [from] = ev.seq + 1;
    }
    if (ok && msg->last && self->snap_next [from] && self->snap_next [from] != stream->seq + 1)
        ok = false;                     //  history that stops short of the head
    if (!ok)
        hrb_streams_remove (self->streams, stream);
    hrb_reader_unlock (self->reader);
    if (!ok || msg->last)
        self->snap_ch [from][0] = 0;    //  the snapshot is over
    if (!ok)
        s_refuse (self, "a snapshot out of order", msg->ch, msg->ch_len);
    return ok? 0: -1;
}

//  Copies a stored event into the taken stream (hrb_store_visit_fn).
typedef struct {
    hrb_streams_t *streams;
    hrb_stream_t *stream;
} s_copy_t;

static void
s_copy (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    s_copy_t *copy = arg;
    hr_event_t ev;
    uint64_t ts = hr_event_decode (bytes, size, &ev) == HR_OK? ev.ts: hr_wall_ms ();
    hrb_streams_restore (copy->streams, copy->stream, seq, ts, bytes, size);
}

hrb_stream_t *
hrb_replica_take (hrb_replica_t *self, const char *ch, size_t len, hrb_streams_t *streams)
{
    hrb_stream_t *from = hrb_streams_find (self->streams, ch, len);
    if (!from)
        return NULL;
    hrb_stream_t *to = hrb_streams_install (streams, ch, len, from->epoch, from->seq,
                                            hr_wall_ms ());
    if (!to)
        return NULL;
    s_copy_t copy = { streams, to };
    self->store->ops->read (self->store, from->history, 0, SIZE_MAX, s_copy, &copy);
    return to;
}

typedef struct {
    hrb_dedupe_t *dedupe;
    hrb_streams_t *streams;
    bool (*taken) (void *arg, const char *ch, size_t len);
    void *arg;
    uint64_t now;
} s_keys_t;

static void
s_key (void *arg, const char *ch, size_t ch_len, const char *id, size_t id_len, uint64_t seq,
       const char *epoch)
{
    s_keys_t *keys = arg;
    if (!keys->taken (keys->arg, ch, ch_len))
        return;
    hrb_dedupe_insert (keys->dedupe, ch, ch_len, id, id_len, keys->now, seq, epoch);
    hrb_stream_t *stream = keys->streams? hrb_streams_find (keys->streams, ch, ch_len): NULL;
    if (stream && memcmp (stream->epoch, epoch, HR_EPOCH_LEN) == 0)
        hrb_streams_key (keys->streams, stream, id, id_len, seq);
}

void
hrb_replica_take_keys (hrb_replica_t *self, hrb_dedupe_t *dedupe, hrb_streams_t *streams,
                       bool (*taken) (void *arg, const char *ch, size_t len), void *arg)
{
    s_keys_t keys = { dedupe, streams, taken, arg, hr_wall_ms () };
    hrb_dedupe_visit (self->keys, keys.now, s_key, &keys);
}

void
hrb_replica_visit (hrb_replica_t *self, bool (*visit) (void *arg, hrb_stream_t *stream),
                   void *arg)
{
    hrb_streams_recent (self->streams, 0, visit, arg);
}
