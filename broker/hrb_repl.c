/*  hrb_repl: synchronous replication on the wire (see the header).  */
#include "hrb_repl.h"
#include "hrb_handoff.h"
#include "hrb_peer_msg.h"
#include "hr_event.h"
#include "hr_log.h"
#include "hr_time.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  Gauges period.
#define S_TICK_MS 250
//  Channels the owner's machine may forget per tick (their streams gone).
#define S_SWEEP_BUDGET 1024

struct _hrb_repl_t {
    const hrb_config_t *config;
    hrb_cluster_t *cluster;
    const hr_cluster_t *file;
    int self;
    hrb_replica_t *replica;
    hrb_streams_t *streams;
    hrb_store_t *store;
    hrb_dedupe_t *dedupe;
    hrb_repl_ops_t ops;
    void *arg;
    hrb_sync_t *sync;
    hrb_backup_t *backup;
    hrb_view_t view, previous;  //  while installing
    zhashx_t *taken;            //  channels taken over at the last install
    hr_buf_t frame, events;     //  scratch: a frame, a snapshot's events
    uint64_t snapshot_head;     //  the last seq the snapshot being made carries
    hr_buf_t spans;             //  hrb_peer_span_t
    uint64_t kept, renewed;     //  takeovers keeping the epoch, starting a new one
    uint64_t next_tick;
    hr_metrics_shard_t *shard;
    int m_waiting, m_waiting_bytes, m_lag, m_channels, m_released, m_snapshots, m_sessions,
        m_fenced, m_backup_synced, m_refused, m_takeovers;
};

int
hrb_repl_backup_of (hrb_repl_t *self, const char *ch, size_t len)
{
    int order [HR_CLUSTER_MAX];
    size_t n = hr_cluster_order (self->file, ch, len, self->view.owners, order);
    return n >= 2? order [1]: -1;
}

//  The owner's and backup of ch in view (-1: none).
static void
s_order (hrb_repl_t *self, const hrb_view_t *view, const char *ch, size_t len, int *owner,
         int *backup)
{
    int order [HR_CLUSTER_MAX];
    size_t n = hr_cluster_order (self->file, ch, len, view->owners, order);
    *owner = n >= 1? order [0]: -1;
    *backup = n >= 2? order [1]: -1;
}

//  hrb_sync_ops_t.frame: a "repl" to broker to.
static int
s_frame (void *arg, int to, uint64_t number, uint64_t r, bool first, uint64_t echo,
         const hrb_sync_item_t *items, size_t count)
{
    hrb_repl_t *self = arg;
    if (!hrb_cluster_writable (self->cluster, to))
        return -1;                      //  refused anyway: spare the encoding
    hr_buf_reset (&self->spans);
    for (size_t i = 0; i < count; i++) {
        hrb_peer_span_t span = { items [i].envelope, items [i].size, items [i].seq };
        hr_buf_put (&self->spans, &span, sizeof span);
    }
    hr_buf_reset (&self->frame);
    hrb_peer_msg_encode_repl (&self->frame, hrb_cluster_self (self->cluster)->id,
                              hrb_cluster_fingerprint (self->cluster), number, r, first, echo,
                              (const hrb_peer_span_t *) self->spans.data, count);
    return hrb_cluster_send (self->cluster, to, &self->frame);
}

//  A snapshot's events: copies of the stored ones and of those waiting,
//  their data as offsets into self->events until the end.
static void
s_add_event (hrb_repl_t *self, uint64_t seq, const void *bytes, size_t size)
{
    hrb_peer_span_t span = { (const void *) (uintptr_t) self->events.size, size, seq };
    hr_buf_put (&self->events, bytes, size);
    hr_buf_put (&self->spans, &span, sizeof span);
}

//  A stored event up to the published head: with a durable store those
//  past it are stored already but still waiting (s_waiting adds them).
static void
s_stored (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    hrb_repl_t *self = arg;
    if (seq <= self->snapshot_head)
        s_add_event (self, seq, bytes, size);
}

static void
s_waiting (void *arg, const hrb_sync_item_t *item)
{
    hrb_repl_t *self = arg;
    s_add_event (self, item->seq, item->envelope, item->size);
    if (item->seq > self->snapshot_head)
        self->snapshot_head = item->seq;
}

typedef struct {
    hrb_repl_t *self;
    const hrb_stream_t *stream;
    int to;
    uint64_t number, r, echo;
    bool first, failed;
    size_t queued;              //  frames queued before one was refused
} s_emit_t;

static void
s_emit (void *arg, uint64_t part, bool last, const hrb_peer_span_t *events,
        size_t event_count, const hrb_peer_span_t *keys, size_t key_count)
{
    s_emit_t *emit = arg;
    hrb_repl_t *self = emit->self;
    if (emit->failed)
        return;
    hr_buf_reset (&self->frame);
    hrb_peer_msg_encode_rsnap (&self->frame, hrb_cluster_self (self->cluster)->id,
                               hrb_cluster_fingerprint (self->cluster), emit->number,
                               emit->r + part, emit->first && part == 0, emit->echo,
                               emit->stream->name, strlen (emit->stream->name),
                               emit->stream->epoch, self->snapshot_head, part, last,
                               events, event_count, keys, key_count);
    if (hrb_cluster_send (self->cluster, emit->to, &self->frame) != 0)
        emit->failed = true;
    else
        emit->queued++;
}

//  hrb_sync_ops_t.snapshot: ch's epoch, head (the last seq it carries:
//  with a durable store, events of the batch not yet committed come after
//  it as items), history and waiting events, cut into "rsnap" frames. Keys travel in
//  the events (each envelope carries its id). A channel whose stream is
//  gone has no state to give: its frame is a keepalive, and its next
//  event starts a new epoch at seq 1, which is state enough.
static size_t
s_snapshot (void *arg, int to, uint64_t number, uint64_t first_r, bool first, uint64_t echo,
            const char *ch, size_t len)
{
    hrb_repl_t *self = arg;
    if (!hrb_cluster_writable (self->cluster, to))
        return HRB_SYNC_REFUSED;        //  nothing queued: tried again
    hrb_stream_t *stream = hrb_streams_find (self->streams, ch, len);
    if (!stream)
        return s_frame (self, to, number, first_r, first, echo, NULL, 0) == 0? 1: 0;
    hr_buf_reset (&self->events);
    hr_buf_reset (&self->spans);
    self->ops.lock (self->arg, true);
    self->snapshot_head = stream->seq;
    self->store->ops->read (self->store, stream->history, 0, SIZE_MAX, s_stored, self);
    self->ops.lock (self->arg, false);
    hrb_sync_visit (self->sync, ch, len, s_waiting, self);
    hrb_peer_span_t *events = (hrb_peer_span_t *) self->spans.data;
    size_t count = self->spans.size / sizeof *events;
    for (size_t i = 0; i < count; i++)
        events [i].data = self->events.data + (uintptr_t) events [i].data;
    s_emit_t emit = { self, stream, to, number, first_r, echo, first, false, 0 };
    size_t parts = hrb_handoff_cut (count? events: NULL, count, NULL, 0, HRB_HANDOFF_CHUNK_MAX,
                                    s_emit, &emit);
    hr_buf_reset (&self->spans);
    return emit.failed? HRB_SYNC_REFUSED | emit.queued: parts;
}

static void
s_release (void *arg, const hrb_sync_item_t *item, hrb_sync_outcome_t outcome)
{
    hrb_repl_t *self = arg;
    self->ops.release (self->arg, item, outcome);
}

hrb_repl_t *
hrb_repl_new (const hrb_config_t *config, hrb_cluster_t *cluster, hrb_replica_t *replica,
              hrb_streams_t *streams, hrb_store_t *store, hrb_dedupe_t *dedupe,
              hr_metrics_t *metrics, const hrb_repl_ops_t *ops, void *arg)
{
    hrb_repl_t *self = hr_calloc (1, sizeof *self);
    self->config = config;
    self->cluster = cluster;
    self->file = hrb_cluster_file (cluster);
    self->self = hrb_cluster_index (cluster);
    self->replica = replica;
    self->streams = streams;
    self->store = store;
    self->dedupe = dedupe;
    self->ops = *ops;
    self->arg = arg;
    int brokers = (int) hr_cluster_size (self->file);
    //  A backup trusts its state this long after its stamp came back:
    //  past a failover (timeout, election) and the old owner's lease
    uint64_t validity = (uint64_t) (config->failover_timeout + config->lease + 2000);
    uint64_t heartbeat = (uint64_t) config->lease / 4 < 250? (uint64_t) config->lease / 4: 250;
    hrb_sync_ops_t sync_ops = { s_frame, s_snapshot, s_release };
    self->sync = hrb_sync_new (self->self, brokers, (int) config->min_replicas, validity,
                               heartbeat, (size_t) config->sync_memory, &sync_ops, self);
    self->backup = hrb_backup_new (self->self, brokers, validity, (size_t) config->max_channels);
    self->taken = zhashx_new ();
    self->shard = hr_metrics_shard (metrics);
    self->m_waiting = hr_metrics_add (metrics, "herald_sync_waiting_events", HR_METRIC_GAUGE,
        "Events sequenced here waiting for their channel's backup (--replication sync).");
    self->m_waiting_bytes = hr_metrics_add (metrics, "herald_sync_waiting_bytes",
        HR_METRIC_GAUGE, "Bytes of those events, bounded by --sync-memory.");
    self->m_lag = hr_metrics_add (metrics, "herald_sync_lag_ms", HR_METRIC_GAUGE,
        "Replication lag: age of the oldest event waiting for its backup, in ms.");
    static const char *const states [] = { "synced", "unsynced" };
    self->m_channels = hr_metrics_add_labeled (metrics, "herald_sync_channels", HR_METRIC_GAUGE,
        "Channels owned here by whether their backup holds them in sync.", "backup", states, 2);
    static const char *const outcomes [] = { "replicated", "alone", "dropped" };
    self->m_released = hr_metrics_add_labeled (metrics, "herald_sync_released_total",
        HR_METRIC_COUNTER, "Events done waiting: on the backup, published without one "
        "(--min-replicas 1), or dropped (the channel moved away).", "outcome", outcomes, 3);
    self->m_snapshots = hr_metrics_add (metrics, "herald_sync_snapshots_total",
        HR_METRIC_COUNTER, "Channel snapshots sent to backups (state transfers).");
    self->m_sessions = hr_metrics_add (metrics, "herald_sync_sessions_total",
        HR_METRIC_COUNTER, "Replication sessions started with backups.");
    self->m_fenced = hr_metrics_add (metrics, "herald_sync_fenced_total", HR_METRIC_COUNTER,
        "Fences received: a backup of a newer view refused this owner's frames.");
    self->m_backup_synced = hr_metrics_add (metrics, "herald_backup_channels_in_sync",
        HR_METRIC_GAUGE, "Channels other brokers own that this broker holds in sync as their "
        "backup.");
    static const char *const refusals [] = { "fenced", "gap", "ahead" };
    self->m_refused = hr_metrics_add_labeled (metrics, "herald_backup_refused_total",
        HR_METRIC_COUNTER, "Replication frames this backup did not apply.", "reason",
        refusals, 3);
    static const char *const epochs [] = { "kept", "new" };
    self->m_takeovers = hr_metrics_add_labeled (metrics, "herald_takeovers_total",
        HR_METRIC_COUNTER, "Channels taken over from a broker the view dropped, by whether "
        "they kept their epoch.", "epoch", epochs, 2);
    return self;
}

void
hrb_repl_destroy (hrb_repl_t **self_p)
{
    hrb_repl_t *self = *self_p;
    if (!self)
        return;
    hrb_sync_destroy (&self->sync);
    hrb_backup_destroy (&self->backup);
    zhashx_destroy (&self->taken);
    hr_buf_free (&self->frame);
    hr_buf_free (&self->events);
    hr_buf_free (&self->spans);
    free (self);
    *self_p = NULL;
}

hrb_sync_t *
hrb_repl_sync (hrb_repl_t *self)
{
    return self->sync;
}

//  Whether from owns ch and this broker is its backup in the installed view.
static bool
s_backing (hrb_repl_t *self, int from, const char *ch, size_t len)
{
    int owner, backup;
    s_order (self, hrb_cluster_view (self->cluster), ch, len, &owner, &backup);
    return owner == from && backup == self->self;
}

//  The events of an accepted "repl" frame, into the replica.
static void
s_events (hrb_repl_t *self, int from, const hrb_peer_msg_t *msg)
{
    hrb_peer_iter_t iter;
    hrb_peer_msg_events (msg, &iter);
    const uint8_t *data;
    size_t size;
    while (hrb_peer_iter_event (&iter, &data, &size)) {
        const char *ch;
        size_t len;
        hrb_replica_sync_t held = hrb_replica_sync_event (self->replica, data, size, &ch, &len);
        if (!ch)
            continue;                   //  malformed (counted by the replica)
        bool mine = s_backing (self, from, ch, len);
        if (mine && held == HRB_REPLICA_STARTED && hrb_backup_sync (self->backup, from, ch, len) == 0)
            continue;
        if (mine && held == HRB_REPLICA_HELD && hrb_backup_synced (self->backup, from, ch, len))
            continue;
        hrb_backup_miss (self->backup, from, ch, len, msg->r);
    }
}

//  A snapshot part of an accepted "rsnap" frame, into the replica.
static void
s_part (hrb_repl_t *self, int from, const hrb_peer_msg_t *msg)
{
    hrb_backup_part_t part = hrb_backup_part (self->backup, from, msg->ch, msg->ch_len,
                                              msg->part, msg->last, msg->r);
    if (part == HRB_BACKUP_PART_BAD || !s_backing (self, from, msg->ch, msg->ch_len)
    ||  hrb_replica_sync_part (self->replica, from, msg, part == HRB_BACKUP_PART_FIRST) != 0
    ||  (msg->last && hrb_backup_sync (self->backup, from, msg->ch, msg->ch_len) != 0))
        hrb_backup_miss (self->backup, from, msg->ch, msg->ch_len, msg->r);
}

void
hrb_repl_message (void *arg, int from, const hrb_peer_msg_t *msg)
{
    hrb_repl_t *self = arg;
    uint64_t now = hr_mono_ms ();
    if (msg->kind == HRB_PEER_RACK) {
        hrb_sync_miss_t misses [HRB_PEER_MISSES_MAX];
        size_t count = 0;
        hrb_peer_iter_t iter;
        hrb_peer_msg_misses (msg, &iter);
        while (count < HRB_PEER_MISSES_MAX
           &&  hrb_peer_iter_miss (&iter, &misses [count].ch, &misses [count].len,
                                   &misses [count].r))
            count++;
        hrb_sync_ack (self->sync, from, msg->number, msg->fence, msg->installed, msg->r,
                      msg->gap, msg->stamp, misses, count, now);
        return;
    }
    hrb_backup_verdict_t verdict = hrb_backup_frame (self->backup, from, msg->number, msg->r,
                                                     msg->first, msg->echo, now);
    if (verdict == HRB_BACKUP_FENCE || verdict == HRB_BACKUP_GAP || verdict == HRB_BACKUP_AHEAD)
        hr_metrics_inc (self->shard, self->m_refused + (verdict == HRB_BACKUP_FENCE? 0
                                                      : verdict == HRB_BACKUP_GAP? 1: 2));
    if (verdict != HRB_BACKUP_ACCEPT)
        return;
    if (msg->kind == HRB_PEER_REPL)
        s_events (self, from, msg);
    else
        s_part (self, from, msg);
}

//  hrb_sync_install's backup_of: the channel's backup in the view being
//  installed when this broker owns it on without a break, else -2.
static int
s_backup_on (void *arg, const char *ch, size_t len)
{
    hrb_repl_t *self = arg;
    int owner, backup, before, ignored;
    s_order (self, &self->view, ch, len, &owner, &backup);
    s_order (self, &self->previous, ch, len, &before, &ignored);
    bool on = owner == self->self && before == self->self
           && hrb_view_follows (&self->previous, &self->view);
    return on? backup: -2;
}

typedef struct {
    hrb_repl_t *self;
    bool (*departing) (void *arg, const hrb_stream_t *stream);
    void *arg;
} s_flush_t;

static bool
s_flush (void *arg, hrb_stream_t *stream)
{
    s_flush_t *flush = arg;
    if (stream->sequenced != stream->seq && flush->departing (flush->arg, stream))
        hrb_sync_flush (flush->self->sync, stream->name, strlen (stream->name));
    return true;
}

void
hrb_repl_installing (hrb_repl_t *self, const hrb_view_t *view, const hrb_view_t *previous,
                     bool (*departing) (void *arg, const hrb_stream_t *stream), void *darg)
{
    //  Handed over: its new owner continues after every seq assigned here,
    //  so what waits is published (the handoff carries it along)
    s_flush_t flush = { self, departing, darg };
    hrb_streams_recent (self->streams, 0, s_flush, &flush);
    self->view = *view;
    self->previous = *previous;
    hrb_sync_install (self->sync, view->number, s_backup_on, self);
}

typedef struct {
    hrb_repl_t *self;
    uint64_t now;
} s_take_t;

//  A replica stream: taken over with its epoch when the view dropped its
//  owner, this broker owns it now and was its in-sync backup.
static bool
s_take (void *arg, hrb_stream_t *stream)
{
    s_take_t *take = arg;
    hrb_repl_t *self = take->self;
    size_t len = strlen (stream->name);
    int owner, ignored, before, backup;
    s_order (self, &self->view, stream->name, len, &owner, &ignored);
    s_order (self, &self->previous, stream->name, len, &before, &backup);
    if (owner != self->self || before < 0 || before == self->self
    ||  (self->view.members >> before & 1))
        return true;                    //  not moved here, or by a handoff
    if (backup == self->self
    &&  hrb_backup_keeps (self->backup, before, stream->name, len, take->now,
                          (uint64_t) self->config->lease)) {
        zhashx_insert (self->taken, stream->name, (void *) 1);
        self->kept++;
        hr_metrics_inc (self->shard, self->m_takeovers);
    }
    else {
        self->renewed++;
        hr_metrics_inc (self->shard, self->m_takeovers + 1);
    }
    return true;
}

static bool
s_taken (void *arg, const char *ch, size_t len)
{
    hrb_repl_t *self = arg;
    char name [HR_CHANNEL_MAX + 1];
    if (len > HR_CHANNEL_MAX)
        return false;
    memcpy (name, ch, len);
    name [len] = 0;
    return zhashx_lookup (self->taken, name) != NULL;
}

static bool
s_track (void *arg, hrb_stream_t *stream)
{
    hrb_repl_t *self = arg;
    size_t len = strlen (stream->name);
    hrb_sync_track (self->sync, stream->name, len, hrb_repl_backup_of (self, stream->name, len));
    return true;
}

void
hrb_repl_installed (hrb_repl_t *self, const hrb_view_t *view, const hrb_view_t *previous)
{
    zhashx_purge (self->taken);
    if (previous->number && hrb_view_follows (previous, view)) {
        s_take_t take = { self, hr_mono_ms () };
        hrb_replica_visit (self->replica, s_take, &take);
        const char *name;
        size_t taken = 0;
        for (void *it = zhashx_first (self->taken); it; it = zhashx_next (self->taken)) {
            name = zhashx_cursor (self->taken);
            hrb_stream_t *stream = hrb_replica_take (self->replica, name, strlen (name),
                                                     self->streams);
            if (stream) {
                self->ops.taken (self->arg, stream);
                taken++;
            }
        }
        if (taken) {
            hrb_replica_take_keys (self->replica, self->dedupe, self->streams, s_taken, self);
            char count [24];
            snprintf (count, sizeof count, "%zu", taken);
            hr_log_info ("took over channels with their epochs", "channels", count);
        }
    }
    hrb_backup_install (self->backup, view->number);
    hrb_streams_recent (self->streams, 0, s_track, self);
}

//  Gauges, and channels whose streams are gone forgotten.
static bool
s_exists (void *arg, const char *ch, size_t len)
{
    hrb_repl_t *self = arg;
    return hrb_streams_find (self->streams, ch, len) != NULL;
}

static void
s_tick (hrb_repl_t *self)
{
    hrb_sync_sweep (self->sync, s_exists, self, S_SWEEP_BUDGET);
    hrb_sync_stats_t sync;
    hrb_sync_stats (self->sync, &sync);
    hr_metrics_set (self->shard, self->m_waiting, (int64_t) sync.items);
    hr_metrics_set (self->shard, self->m_waiting_bytes, (int64_t) sync.bytes);
    hr_metrics_set (self->shard, self->m_lag, (int64_t) sync.oldest_ms);
    hr_metrics_set (self->shard, self->m_channels, (int64_t) sync.synced);
    hr_metrics_set (self->shard, self->m_channels + 1, (int64_t) sync.unsynced);
    hr_metrics_set (self->shard, self->m_released, (int64_t) sync.replicated);
    hr_metrics_set (self->shard, self->m_released + 1, (int64_t) sync.alone);
    hr_metrics_set (self->shard, self->m_released + 2, (int64_t) sync.dropped);
    hr_metrics_set (self->shard, self->m_snapshots, (int64_t) sync.snapshots);
    hr_metrics_set (self->shard, self->m_sessions, (int64_t) sync.sessions);
    hr_metrics_set (self->shard, self->m_fenced, (int64_t) sync.fences);
    hrb_backup_stats_t backup;
    hrb_backup_stats (self->backup, &backup);
    hr_metrics_set (self->shard, self->m_backup_synced, (int64_t) backup.synced);
}

void
hrb_repl_step (hrb_repl_t *self)
{
    uint64_t now = hr_mono_ms ();
    for (int i = 0; i < (int) hr_cluster_size (self->file); i++) {
        hrb_backup_ack_t ack;
        if (i == self->self || !hrb_backup_ack (self->backup, i, now, &ack))
            continue;
        hr_buf_reset (&self->frame);
        hrb_peer_msg_encode_rack (&self->frame, hrb_cluster_self (self->cluster)->id,
                                  hrb_cluster_fingerprint (self->cluster), ack.number, ack.r,
                                  ack.gap, ack.stamp, ack.fence, ack.installed, ack.miss_ch,
                                  ack.miss_r, ack.misses);
        hrb_cluster_send (self->cluster, i, &self->frame);
    }
    hrb_sync_step (self->sync, now, hrb_cluster_lease (self->cluster));
    if (now >= self->next_tick) {
        s_tick (self);
        self->next_tick = now + S_TICK_MS;
    }
}
