/*  hrb_server: the broker loop and its sockets, maintenance, and the
    cluster's hooks. Requests (publishes, revocations, history asks) are
    taken in hrb_ingest.c; history answers (hrb_history) and head markers
    (hrb_marker) live apart.  */
#include "hrb_server_impl.h"
#include "hrb_bind.h"
#include "hr_curve.h"
#include "hr_log.h"
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
//  History requests waiting for the reader thread (hrb_reader), all
//  clients; past it a request is answered overloaded at once.
#define S_HISTORY_QUEUE 10000
//  Frames of finished history replies sent per loop turn at most (about a
//  millisecond of the broker thread's time): a reply read once for a
//  thousand clients is sent over many turns, with publishes taken in
//  between.
#define S_DELIVER_FRAMES 2048
//  Bytes of publishes waiting for their batch to be stored (hrb_outbox):
//  past it a loop turn stops taking publishes and commits.
#define S_OUTBOX_MEMORY (8 << 20)
//  A batch goes on over several turns while requests keep coming (each
//  commit costs a page write per channel it touches, so bigger batches
//  cost less per event), until it holds this many publishes or is this old
//  (ms): the most a publish's acknowledgement waits for its batch.
#define S_BATCH_EVENTS 8192
#define S_BATCH_MS 10
//  ...and until this many ROUTER requests were read into it: their answers
//  go out together at its commit, and ROUTER drops what is over a client's
//  S_ROUTER_SNDHWM unread messages (a turn reads at most S_BATCH more)
#define S_BATCH_ROUTED 256

//  What needs no file: CURVE options together, and no plain broker
//  reachable from other machines (docs/security.md); in a cluster, the
//  cluster's checks.
int
hrb_server_check (const hrb_config_t *config, hr_buf_t *err)
{
    if (strcmp (config->replication, "sync") != 0 && strcmp (config->replication, "async") != 0) {
        hr_buf_printf (err, "--replication: sync or async, not \"%s\"", config->replication);
        return -1;
    }
    hrb_fsync_t fsync;
    if (hrb_fsync_parse (config->fsync, &fsync) != 0) {
        hr_buf_printf (err, "--fsync: always, batch or off, not \"%s\"", config->fsync);
        return -1;
    }
    if (*config->cluster)               //  the file gives the endpoints
        return hrb_cluster_check (config, err);
    if (*config->bind_host) {
        hr_buf_printf (err, "--bind-host needs --cluster: a single broker binds what "
                       "--pull, --router and --xpub name");
        return -1;
    }
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


//  Sends a head marker (hrb_markers_send_fn). In a cluster only the broker
//  that may sequence a channel speaks for it: a marker from any other (a
//  nil epoch from a non-owner, an old one from a deposed owner) would tell
//  gateways a head that is not the channel's.
static void
s_marker_send (void *arg, const char *ch, size_t ch_len, const hr_buf_t *body)
{
    hrb_server_t *self = arg;
    if (!self->cluster || hrb_cluster_may_sequence (self->cluster, ch, ch_len))
        hrb_ingest_stream_send (self, ch, ch_len, body);
}

//  The endpoints to bind: in a cluster, this broker's entry of the file
//  (on --bind-host when given).
static const char *
s_endpoints (hrb_server_t *self, hr_cluster_kind_t kind)
{
    if (self->cluster)
        return hrb_cluster_bind (self->cluster, kind);
    return kind == HR_CLUSTER_PUBLISH? self->config->pull
         : kind == HR_CLUSTER_ROUTER? self->config->router: self->config->xpub;
}

static void s_cluster_hooks (hrb_server_t *self);

//  A stored key back in the idempotency window (hrb_streams_key_fn).
static void
s_load_key (void *arg, const char *ch, size_t ch_len, const char *id, size_t id_len,
            uint64_t seq, const char *epoch, uint64_t age_ms)
{
    hrb_server_t *self = arg;
    if (!hrb_ingest_key_wanted (self, ch, ch_len))
        return;                         //  a channel not kept (hrb_ingest_keep_loaded)
    uint64_t now = hr_wall_ms ();
    hrb_dedupe_insert (self->dedupe, ch, ch_len, id, id_len, now > age_ms? now - age_ms: 0,
                       seq, epoch);
}

//  The history store and the streams: in memory, or with --data-dir the
//  LMDB store and every channel it holds.
static int
s_store (hrb_server_t *self, hr_buf_t *err)
{
    const hrb_config_t *config = self->config;
    if (!*config->data_dir)
        self->store = hrb_store_mem_new ((size_t) config->history_size,
                                         (uint64_t) config->history_age,
                                         (uint64_t) config->history_memory);
    else {
        hrb_store_lmdb_config_t lmdb = {
            config->data_dir, (size_t) config->history_size, (uint64_t) config->history_age,
            (uint64_t) config->history_disk, HRB_FSYNC_BATCH,
            (uint64_t) config->fsync_interval, (uint64_t) config->dedupe_window,
            (size_t) config->dedupe_max, NULL };
        hrb_fsync_parse (config->fsync, &lmdb.fsync);
        if (!(self->store = hrb_store_lmdb_new (&lmdb, err)))
            return -1;
        self->outbox = hrb_outbox_new (S_OUTBOX_MEMORY);
    }
    self->streams = hrb_streams_new (self->store, (size_t) config->max_channels);
    if (self->cluster) {
        //  Epochs renewed at load are made in the saved view; its channels
        //  are kept only if the store holds every change of that view
        const hrb_view_t *saved = hrb_cluster_view (self->cluster);
        hrb_streams_set_view (self->streams, saved->number);
        self->keep = self->store->durable && saved->number
                  && self->store->ops->view (self->store) == saved->number;
    }
    hrb_streams_loaded_t loaded;
    if (hrb_streams_load (self->streams, s_load_key, self, &loaded, err) != 0)
        return -1;
    self->loaded_kept = loaded.kept;
    self->loaded_renewed = loaded.renewed;
    if (self->cluster && hrb_ingest_keep_loaded (self, err) != 0)
        return -1;
    //  What is over the bounds now (a smaller --history-disk or -age than
    //  the store was written with) goes before the first publish, a
    //  committed step at a time
    while (self->store->ops->expire (self->store, S_EXPIRE_BUDGET) == S_EXPIRE_BUDGET)
        if (self->store->ops->commit (self->store) != HRB_STORE_OK) {
            hr_buf_printf (err, "cannot evict what is over the bounds from %s",
                           config->data_dir);
            return -1;
        }
    if (self->store->ops->commit (self->store) != HRB_STORE_OK) {
        hr_buf_printf (err, "cannot evict what is over the bounds from %s", config->data_dir);
        return -1;
    }
    if (!self->store->durable)
        hr_buf_printf (&self->history, "in memory (lost at exit; --data-dir keeps it)");
    else {
        hrb_store_stats_t stats;
        self->store->ops->stats (self->store, &stats);
        hr_buf_printf (&self->history, "%s: %zu channels (%zu in a new epoch after a crash), "
                       "%llu events, %.1f MB on disk, --fsync %s", config->data_dir,
                       self->loaded_kept + self->loaded_renewed, self->loaded_renewed,
                       (unsigned long long) stats.events, (double) stats.disk_bytes / 1e6,
                       config->fsync);
    }
    return 0;
}

static void s_lock (void *arg, bool take);
static void s_taken (void *arg, hrb_stream_t *stream);

hrb_server_t *
hrb_server_new (void *zmq_ctx, const hrb_config_t *config, hr_metrics_t *metrics,
                hr_buf_t *err)
{
    hrb_server_t *self = hr_calloc (1, sizeof *self);
    self->config = config;
    self->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->leave_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
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
    if (self->stop_fd < 0 || self->leave_fd < 0
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
    self->dedupe = hrb_dedupe_new ((uint64_t) config->dedupe_window,
                                   (size_t) config->dedupe_max,
                                   (size_t) config->dedupe_memory);
    if (s_store (self, err) != 0) {
        hrb_server_destroy (&self);
        return NULL;
    }
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
    hrb_metrics_set_at (self->metrics, HRB_M_STORE_RECOVERED, 0, (int64_t) self->loaded_kept);
    hrb_metrics_set_at (self->metrics, HRB_M_STORE_RECOVERED, 1,
                        (int64_t) self->loaded_renewed);
    if (self->cluster) {
        s_cluster_hooks (self);
        hrb_ingest_transfer_new (self, metrics);
    }
    if (self->cluster
    &&  !(self->replica = hrb_replica_new (zmq_ctx, config, self->cluster, metrics, err))) {
        hrb_server_destroy (&self);
        return NULL;
    }
    if (self->cluster && strcmp (config->replication, "sync") == 0) {
        hrb_repl_ops_t ops = { s_lock, hrb_ingest_release, s_taken };
        self->repl = hrb_repl_new (config, self->cluster, self->replica, self->streams,
                                   self->store, self->dedupe, metrics, &ops, self);
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
    hrb_repl_destroy (&self->repl);
    hrb_replica_destroy (&self->replica);
    hrb_forwards_destroy (&self->forwards);
    hrb_transfer_destroy (&self->transfer);
    hrb_cluster_destroy (&self->cluster);     //  before the context ends
    hrb_markers_destroy (&self->markers);
    hrb_metrics_destroy (&self->metrics);
    hrb_streams_destroy (&self->streams);
    if (self->store)
        self->store->ops->destroy (&self->store);
    hrb_outbox_destroy (&self->outbox);
    hrb_dedupe_destroy (&self->dedupe);
    hrb_peers_destroy (&self->peers);
    hrb_revokes_destroy (&self->revokes);
    zmq_close (self->pull);
    zmq_close (self->router);
    zmq_close (self->xpub);
    hrb_zap_destroy (&self->zap);       //  after the sockets it guards
    if (self->stop_fd >= 0)
        close (self->stop_fd);
    if (self->leave_fd >= 0)
        close (self->leave_fd);
    free (self->pull_endpoints);
    free (self->router_endpoints);
    free (self->xpub_endpoints);
    hr_buf_free (&self->frame);
    hr_buf_free (&self->topic);
    hr_buf_free (&self->reply);
    hr_buf_free (&self->held);
    hr_buf_free (&self->history);
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

void
hrb_server_leave (hrb_server_t *self)
{
    uint64_t one = 1;
    ssize_t rc = write (self->cluster? self->leave_fd: self->stop_fd, &one, sizeof one);
    (void) rc;
}

const char *hrb_server_pull_endpoints (hrb_server_t *self) { return self->pull_endpoints; }
const char *hrb_server_router_endpoints (hrb_server_t *self) { return self->router_endpoints; }
const char *hrb_server_xpub_endpoints (hrb_server_t *self) { return self->xpub_endpoints; }
hrb_cluster_t *hrb_server_cluster (hrb_server_t *self) { return self->cluster; }

const char *
hrb_server_history (hrb_server_t *self)
{
    return self->history.data;
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
    //  The batch was sequenced in the view before: stored and out first
    hrb_ingest_commit (self);
    hrb_reader_lock (self->reader);         //  the reader thread reads streams
    self->installing = true;
    hrb_streams_set_view (self->streams, view->number);
    //  Streams moving to a live broker stay until it confirms them
    hrb_transfer_installed (self->transfer, view, previous);
    if (self->repl)
        hrb_repl_installing (self->repl, view, previous, hrb_transfer_departing,
                             self->transfer);
    hrb_cluster_retain (self->cluster, self->streams, view, previous,
                        hrb_transfer_departing, self->transfer);
    //  Then the channels a dropped owner's in-sync backup keeps on
    if (self->repl)
        hrb_repl_installed (self->repl, view, previous);
    hrb_ingest_commit_view (self, view->number);
    self->installing = false;
    hrb_reader_unlock (self->reader);
}

//  A stream taken over with its epoch (hrb_repl_ops_t.taken): its head
//  on the stream, so that gateways fetch what its old owner never sent.
static void
s_taken (void *arg, hrb_stream_t *stream)
{
    hrb_server_t *self = arg;
    hrb_markers_send (self->markers, stream->name, strlen (stream->name), stream);
}

static void
s_lock (void *arg, bool take)
{
    hrb_server_t *self = arg;
    if (self->installing)
        return;                         //  held by the install already
    if (take)
        hrb_reader_lock (self->reader);
    else
        hrb_reader_unlock (self->reader);
}

//  A "repl", "rsnap" or "rack" (hrb_cluster_hooks_t.repl): refused (as a
//  message of a type this broker does not take) with --replication async.
static void
s_repl (void *arg, int from, const hrb_peer_msg_t *msg)
{
    hrb_server_t *self = arg;
    if (self->repl)
        hrb_repl_message (self->repl, from, msg);
}

static void
s_cluster_hooks (hrb_server_t *self)
{
    hrb_cluster_hooks_t hooks = { s_view_send, s_installed, hrb_ingest_forwarded, s_repl };
    hrb_cluster_set_hooks (self->cluster, &hooks, self);
    hrb_streams_set_view (self->streams, hrb_cluster_view_number (self->cluster));
    self->forwards = hrb_forwards_new (self->cluster, self->router, self->peers);
}


//  True when publishes wait for more bytes of their batch than a turn may
//  hold: the turn commits before it takes more.
static bool
s_outbox_full (hrb_server_t *self)
{
    return self->outbox && hrb_outbox_full (self->outbox);
}

//  Whether the batch is committed at the end of this turn: always, unless
//  requests are left to read (more) and the batch is small and young.
static bool
s_commit_due (hrb_server_t *self, bool more)
{
    return !self->outbox || !more || hrb_outbox_full (self->outbox)
        || hrb_outbox_count (self->outbox) >= S_BATCH_EVENTS
        || self->batch_routed >= S_BATCH_ROUTED
        || hr_mono_ms () - self->batch_ms >= S_BATCH_MS;
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

static bool
s_first_stream (void *arg, hrb_stream_t *stream)
{
    *(hrb_stream_t **) arg = stream;
    return false;
}

//  Expiry and gauges. Returns true when some expiry is left for the next
//  tick (a budget ran out).
static bool
s_tick (hrb_server_t *self)
{
    uint64_t now = hr_wall_ms ();
    hrb_reader_lock (self->reader);
    bool more = self->store->ops->expire (self->store, S_EXPIRE_BUDGET) == S_EXPIRE_BUDGET;
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
    if (self->store->durable)
        hrb_metrics_store (self->metrics, &stats);
    hrb_metrics_set (self->metrics, HRB_M_DEDUPE_KEYS, (int64_t) hrb_dedupe_keys (self->dedupe));
    hrb_metrics_set (self->metrics, HRB_M_DEDUPE_BYTES, (int64_t) hrb_dedupe_bytes (self->dedupe));
    hrb_metrics_set (self->metrics, HRB_M_DEDUPE_DROPPED,
                     (int64_t) hrb_dedupe_dropped (self->dedupe));
    hrb_metrics_set (self->metrics, HRB_M_REPLY_BYTES, (int64_t) hrb_peers_queued (self->peers));
    //  Kept channels: their heads out once this broker may speak for
    //  them (every channel waits for the same lease and fence)
    if (self->announce && !hrb_cluster_kept (self->cluster)) {
        hrb_stream_t *recent = NULL;
        hrb_streams_recent (self->streams, 0, s_first_stream, &recent);
        if (!recent || hrb_cluster_may_sequence (self->cluster, recent->name,
                                                 strlen (recent->name))) {
            hrb_markers_again (self->markers);
            self->announce = false;
        }
    }
    more |= hrb_markers_round (self->markers, now, S_EXPIRE_BUDGET);
    //  In a cluster every stream is of an owned channel (s_keep, s_gate)
    if (self->cluster)
        hrb_cluster_set_owned (self->cluster, hrb_streams_count (self->streams));
    hr_revoke_t *revoked = hrb_revokes_list (self->revokes);
    more |= hrb_revokes_replay (self->revokes, (int64_t) (now / 1000), now, S_EXPIRE_BUDGET,
                                hrb_ingest_revoke_send, self);
    hrb_metrics_set (self->metrics, HRB_M_REVOCATIONS,
                     (int64_t) hr_revoke_count (revoked, (int64_t) (now / 1000)));
    hrb_metrics_set (self->metrics, HRB_M_REVOCATION_BYTES, (int64_t) hr_revoke_bytes (revoked));
    return more;
}

int
hrb_server_run (hrb_server_t *self)
{
    zmq_pollitem_t items [8 + HRB_REPLICA_POLL_ITEMS] = {
        { self->pull, 0, ZMQ_POLLIN, 0 },
        { self->router, 0, ZMQ_POLLIN, 0 },
        { self->xpub, 0, ZMQ_POLLIN, 0 },
        { NULL, self->stop_fd, ZMQ_POLLIN, 0 },
        { hrb_reader_socket (self->reader), 0, ZMQ_POLLIN, 0 },
        { self->zap? hrb_zap_socket (self->zap): NULL, 0, ZMQ_POLLIN, 0 },
        { NULL, -1, 0, 0 },             //  room for the cluster's peer ROUTER
    };                                  //  and the replica's sockets
    int polled = self->zap? 6: 5;
    int leave = -1;                     //  the leave eventfd's slot
    if (self->cluster) {                //  the first slots not polled
        items [polled++] = (zmq_pollitem_t) { hrb_cluster_socket (self->cluster), 0,
                                              ZMQ_POLLIN, 0 };
        leave = polled;
        items [polled++] = (zmq_pollitem_t) { NULL, self->leave_fd, ZMQ_POLLIN, 0 };
    }
    if (self->replica)
        polled += (int) hrb_replica_poll_items (self->replica, items + polled);
    self->next_tick = hr_mono_ms () + S_TICK_MS;
    bool replies_left = false;          //  finished history reads not all sent
    while (true) {
        uint64_t now = hr_mono_ms ();
        //  No sleep while a batch waits for its commit
        long timeout = self->next_tick > now && !replies_left
                       && !(self->outbox && hrb_outbox_count (self->outbox))
                     ? (long) (self->next_tick - now): 0;
        if (self->cluster) {
            //  Views and peers first: a publish read in this turn meets the
            //  view of now; forwards past their second are answered
            hrb_cluster_serve (self->cluster, S_BATCH);
            //  Racks owed for frames just read, events their racks
            //  confirmed: out now, not after the poll
            if (self->repl)
                hrb_repl_step (self->repl);
            uint64_t wake = hrb_cluster_tick (self->cluster);
            hrb_forwards_expire (self->forwards, now);
            hrb_defer_due (self->defer, hrb_cluster_view_number (self->cluster), now,
                           hrb_ingest_undefer, self);
            uint64_t handoff = hrb_transfer_tick (self->transfer, now);
            wake = handoff < wake? handoff: wake;
            //  Left, channels handed over, and every publish passed on answered
            if (hrb_transfer_done (self->transfer, now, hrb_forwards_pending (self->forwards)
                                                        || hrb_defer_count (self->defer)))
                return 0;
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
        if (items [3].revents & ZMQ_POLLIN) {
            hrb_ingest_commit (self);       //  a batch left: stored and answered
            return 0;
        }
        uint64_t count;
        if (leave >= 0 && (items [leave].revents & ZMQ_POLLIN)
        &&  read (self->leave_fd, &count, sizeof count) == sizeof count)
            hrb_transfer_leave (self->transfer, hr_mono_ms ());
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
        if (self->outbox && hrb_outbox_count (self->outbox) == 0) {
            self->batch_ms = hr_mono_ms ();     //  a new batch starts
            self->batch_routed = 0;
        }
        int routed = 0, pulled = 0;
        while (routed < S_BATCH && !s_outbox_full (self) && hrb_ingest_router (self))
            routed++;
        while (pulled < S_BATCH && !s_outbox_full (self) && hrb_ingest_pull (self))
            pulled++;
        self->batch_routed += (size_t) routed;
        if (self->replica)
            hrb_replica_serve (self->replica, S_BATCH);
        //  Events of this turn to their backups, and those they confirmed out
        if (self->repl)
            hrb_repl_step (self->repl);
        //  The batch stored, then its events out (to their backups now)
        if (s_commit_due (self, routed == S_BATCH || pulled == S_BATCH)
        &&  hrb_ingest_commit (self) && self->repl && self->outbox)
            hrb_repl_step (self->repl);
        replies_left = hrb_reader_deliver (self->reader, S_DELIVER_FRAMES, hrb_ingest_deliver, self);
        if (self->replica)
            replies_left |= hrb_reader_deliver (hrb_replica_reader (self->replica),
                                                S_DELIVER_FRAMES, hrb_ingest_deliver, self);
        hrb_metrics_set (self->metrics, HRB_M_HISTORY_QUEUE,
                         (int64_t) hrb_reader_waiting (self->reader));
        hrb_metrics_set (self->metrics, HRB_M_HISTORY_COALESCED,
                         (int64_t) hrb_reader_coalesced (self->reader));
        if (hr_mono_ms () >= self->next_tick)
            self->next_tick = s_tick (self)? hr_mono_ms (): hr_mono_ms () + S_TICK_MS;
    }
}
