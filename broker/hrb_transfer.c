/*  hrb_transfer: departures (streams kept until their new owner confirms
    them) in a table and a send order, ends per receiving broker, and the
    receiving side over the cluster's handoff machine.  */
#include "hrb_transfer.h"
#include "hrb_defer.h"
#include "hrb_handoff.h"
#include "hr_buf.h"
#include "hr_channel.h"
#include "hr_event.h"
#include "hr_list.h"
#include "hr_log.h"
#include "hr_time.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

//  Channels sent and not yet confirmed at once: enough to keep the link
//  busy, few enough that a broker far behind is not buried.
#define S_WINDOW 64
//  A channel or end unconfirmed this long is sent again (the receiver may
//  not have installed the view yet, or the frame was lost).
#define S_RESEND_MS 500
//  Held publishes served per tick once their wait is over.
#define S_DUE_BUDGET 1000

//  A stream handed over: kept until its new owner confirms it.
typedef struct {
    hr_list_t order;                //  in the transfer's order or sent list
    char name [HR_CHANNEL_MAX + 1];
    int to;
    uint64_t sent_at;               //  monotonic ms; 0: not sent yet
    hr_buf_t keys;                  //  packed: u8 id length, id, u64 seq
    size_t key_count;
} s_departure_t;

typedef struct {
    bool expected;                  //  gets an end from here in this view
    bool confirmed;                 //  it confirmed the end
    uint64_t sent_at;               //  the end, monotonic ms; 0: not yet
    size_t channels;                //  confirmed channels sent it
    size_t pending;                 //  departures to it not confirmed
} s_receiver_t;

struct _hrb_transfer_t {
    hrb_cluster_t *cluster;
    hrb_handoff_t *awaited;
    hrb_streams_t *streams;
    hrb_store_t *store;
    hrb_dedupe_t *dedupe;
    hrb_transfer_ops_t ops;
    void *arg;
    hrb_defer_t *defer;             //  publishes waiting for the next view
    uint64_t view;                  //  the view departures belong to
    uint64_t started;               //  monotonic ms the view was installed
    zhashx_t *departures;           //  name -> s_departure_t (owned)
    hr_list_t order;                //  departures not sent yet, oldest first
    hr_list_t sent;                 //  sent, not confirmed, least recently sent first
    size_t in_flight;               //  departures in sent
    s_receiver_t receivers [HR_CLUSTER_MAX];
    bool leaving;
    uint64_t leave_at;
    hr_members_t overdue;           //  sources counted as timed out in this view
    zhashx_t *partial;              //  channel -> s_partial_t: first chunk in, not the last
    hr_buf_t frame, events;         //  scratch
    hr_metrics_shard_t *shard;
    int m_sent, m_received, m_takeovers, m_held, m_held_bytes, m_held_refused, m_deferred,
        m_deferred_bytes;
};

//  A channel installed from its first chunk, not yet whole: its stream is
//  dropped if the rest never comes (its source timed out, or a view that
//  moved channels voided the handoff), or its history would have a hole.
typedef struct {
    int from;
    uint64_t view;                  //  the handoff's view
    uint64_t last;                  //  the last event's seq restored so far
} s_partial_t;

static void s_receive (void *arg, int from, const hrb_peer_msg_t *msg);
static void s_drop_partials (hrb_transfer_t *self, uint64_t now, bool locked);

static void
s_partial_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void
s_departure_free (void **item_p)
{
    s_departure_t *departure = *item_p;
    hr_list_remove (&departure->order);
    hr_buf_free (&departure->keys);
    free (departure);
    *item_p = NULL;
}

static void
s_register_metrics (hrb_transfer_t *self, hr_metrics_t *metrics)
{
    self->shard = hr_metrics_shard (metrics);
    self->m_sent = hr_metrics_add (metrics, "herald_cluster_handoff_sent_total",
        HR_METRIC_COUNTER, "Channels this broker handed over, confirmed by their new owner.");
    self->m_received = hr_metrics_add (metrics, "herald_cluster_handoff_received_total",
        HR_METRIC_COUNTER, "Channels installed here from a handoff, with their epoch.");
    self->m_takeovers = hr_metrics_add (metrics, "herald_cluster_takeovers_total",
        HR_METRIC_COUNTER, "Handoffs that did not end within --handoff-timeout: their "
        "channels not come were taken over with new epochs.");
    self->m_held = hr_metrics_add (metrics, "herald_cluster_held", HR_METRIC_GAUGE,
        "Publishes held until their channel's handoff comes.");
    self->m_held_bytes = hr_metrics_add (metrics, "herald_cluster_held_bytes",
        HR_METRIC_GAUGE, "Bytes of the publishes held (at most 32 MiB).");
    self->m_held_refused = hr_metrics_add (metrics, "herald_cluster_held_refused_total",
        HR_METRIC_COUNTER, "Publishes answered unavailable: the held memory was full.");
    self->m_deferred = hr_metrics_add (metrics, "herald_cluster_deferred", HR_METRIC_GAUGE,
        "Publishes waiting for the next view during a view change.");
    self->m_deferred_bytes = hr_metrics_add (metrics, "herald_cluster_deferred_bytes",
        HR_METRIC_GAUGE, "Bytes of the publishes waiting for the next view (at most 8 MiB).");
}

hrb_transfer_t *
hrb_transfer_new (hrb_cluster_t *cluster, hrb_streams_t *streams, hrb_store_t *store,
                  hrb_dedupe_t *dedupe, hr_metrics_t *metrics, const hrb_transfer_ops_t *ops,
                  void *arg)
{
    hrb_transfer_t *self = hr_calloc (1, sizeof *self);
    self->cluster = cluster;
    self->awaited = hrb_cluster_handoff (cluster);
    self->streams = streams;
    self->store = store;
    self->dedupe = dedupe;
    self->ops = *ops;
    self->arg = arg;
    self->defer = hrb_defer_new (HRB_TRANSFER_DEFER_MAX, HRB_TRANSFER_DEFER_MS);
    self->partial = zhashx_new ();
    zhashx_set_destructor (self->partial, s_partial_free);
    self->departures = zhashx_new ();
    zhashx_set_destructor (self->departures, s_departure_free);
    zhashx_set_key_duplicator (self->departures, NULL);
    zhashx_set_key_destructor (self->departures, NULL);
    hr_list_init (&self->order);
    hr_list_init (&self->sent);
    s_register_metrics (self, metrics);
    hrb_cluster_set_handoff (cluster, s_receive, self);
    return self;
}

void
hrb_transfer_destroy (hrb_transfer_t **self_p)
{
    hrb_transfer_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->departures);
    zhashx_destroy (&self->partial);
    hrb_defer_destroy (&self->defer);
    hr_buf_free (&self->frame);
    hr_buf_free (&self->events);
    free (self);
    *self_p = NULL;
}

static s_departure_t *
s_find (hrb_transfer_t *self, const char *ch, size_t len)
{
    char key [HR_CHANNEL_MAX + 1];
    if (len > HR_CHANNEL_MAX)
        return NULL;
    memcpy (key, ch, len);
    key [len] = 0;
    return zhashx_lookup (self->departures, key);
}

//  Keeps a key of a departing channel of its epoch (hrb_dedupe_visit_fn).
static void
s_collect_key (void *arg, const char *ch, size_t ch_len, const char *id, size_t id_len,
               uint64_t seq, const char *epoch)
{
    hrb_transfer_t *self = arg;
    s_departure_t *departure = s_find (self, ch, ch_len);
    hrb_stream_t *stream = departure? hrb_streams_find (self->streams, ch, ch_len): NULL;
    if (!stream || memcmp (stream->epoch, epoch, HR_EPOCH_LEN) || id_len > UINT8_MAX)
        return;
    uint8_t len = (uint8_t) id_len;
    hr_buf_put (&departure->keys, &len, 1);
    hr_buf_put (&departure->keys, id, id_len);
    hr_buf_put (&departure->keys, &seq, sizeof seq);
    departure->key_count++;
}

typedef struct {
    hrb_transfer_t *self;
    const hrb_view_t *view, *previous;
    int me;
} s_scan_t;

//  Records a stream whose owner in the new view is another broker. Only a
//  channel this broker owned in the view before: a stream still kept from
//  an older handoff (unconfirmed when this view came) is stale, its
//  channel may have been sequenced elsewhere since.
static bool
s_scan (void *arg, hrb_stream_t *stream)
{
    s_scan_t *scan = arg;
    const hr_cluster_t *file = hrb_cluster_file (scan->self->cluster);
    size_t len = strlen (stream->name);
    int to = hr_cluster_owner (file, stream->name, len, scan->view->owners);
    if (to < 0 || to == scan->me
    ||  hr_cluster_owner (file, stream->name, len, scan->previous->owners) != scan->me)
        return true;
    s_departure_t *departure = hr_calloc (1, sizeof *departure);
    strcpy (departure->name, stream->name);
    departure->to = to;
    zhashx_insert (scan->self->departures, departure->name, departure);
    hr_list_push_back (&scan->self->order, &departure->order);
    scan->self->receivers [to].pending++;
    return true;
}

void
hrb_transfer_installed (hrb_transfer_t *self, const hrb_view_t *view,
                        const hrb_view_t *previous)
{
    //  A view that moves no channel, right after the one that did (two
    //  campaigns for one change), lets the handoffs go on in that one's name
    if (hrb_view_follows (previous, view) && view->owners == previous->owners)
        return;
    s_drop_partials (self, hr_mono_ms (), true);     //  the caller holds the lock
    //  A newer view supersedes a handoff still going: its streams are
    //  dropped with the others not owned (their new owners take them over)
    zhashx_purge (self->departures);
    self->in_flight = 0;
    memset (self->receivers, 0, sizeof self->receivers);
    self->view = view->number;
    self->started = hr_mono_ms ();
    self->overdue = 0;
    int me = hrb_cluster_index (self->cluster);
    hr_members_t bit = (hr_members_t) 1 << me;
    //  Only an owner of the view before that is still a member, or that
    //  left gracefully, hands over: a broker dropped from the view was
    //  fenced, and its channels are taken over
    if (!previous->number || !(previous->owners & bit)
    ||  !((view->members | view->handoff) & bit))
        return;
    s_scan_t scan = { self, view, previous, me };
    hrb_streams_recent (self->streams, 0, s_scan, &scan);
    if (zhashx_size (self->departures))
        hrb_dedupe_visit (self->dedupe, hr_wall_ms (), s_collect_key, self);
    for (int i = 0; i < (int) hr_cluster_size (hrb_cluster_file (self->cluster)); i++)
        if (i != me && (view->owners >> i & 1))
            self->receivers [i].expected = true;
    if (zhashx_size (self->departures)) {
        char count [24];
        snprintf (count, sizeof count, "%zu", zhashx_size (self->departures));
        hr_log_info ("handing over channels", "channels", count);
    }
}

bool
hrb_transfer_departing (void *arg, const hrb_stream_t *stream)
{
    hrb_transfer_t *self = arg;
    return zhashx_lookup (self->departures, stream->name) != NULL;
}

//  Copies a stored event into the scratch (hrb_store_visit_fn): sizes
//  and offsets go first in their own buffer.
typedef struct {
    hr_buf_t *bytes;
    hr_buf_t spans;                 //  hrb_peer_span_t, data as an offset
} s_copy_t;

static void
s_copy_event (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    s_copy_t *copy = arg;
    hrb_peer_span_t span = { (const void *) (uintptr_t) copy->bytes->size, size, seq };
    hr_buf_put (copy->bytes, bytes, size);
    hr_buf_put (&copy->spans, &span, sizeof span);
}

typedef struct {
    hrb_transfer_t *self;
    const hrb_stream_t *stream;
    int to;
    bool failed;
} s_emit_t;

static void
s_emit (void *arg, uint64_t part, bool last, const hrb_peer_span_t *events,
        size_t event_count, const hrb_peer_span_t *keys, size_t key_count)
{
    s_emit_t *emit = arg;
    hrb_transfer_t *self = emit->self;
    const hrb_stream_t *stream = emit->stream;
    hr_buf_reset (&self->frame);
    hrb_peer_msg_encode_handoff (&self->frame, hrb_cluster_self (self->cluster)->id,
                                 hrb_cluster_fingerprint (self->cluster), self->view,
                                 stream->name, strlen (stream->name), stream->epoch,
                                 stream->seq, part, last, events, event_count, keys,
                                 key_count);
    if (!emit->failed && hrb_cluster_send (self->cluster, emit->to, &self->frame) != 0)
        emit->failed = true;        //  sent again from part 0 later
}

//  Sends one departing channel whole: its history, then its keys.
static void
s_send_channel (hrb_transfer_t *self, s_departure_t *departure, const hrb_stream_t *stream)
{
    s_copy_t copy = { &self->events, HR_BUF_INIT };
    hr_buf_reset (&self->events);
    self->store->ops->read (self->store, stream->history, 0, SIZE_MAX, s_copy_event, &copy);
    hrb_peer_span_t *events = (hrb_peer_span_t *) copy.spans.data;
    size_t event_count = copy.spans.size / sizeof (hrb_peer_span_t);
    for (size_t i = 0; i < event_count; i++)
        events [i].data = self->events.data + (uintptr_t) events [i].data;
    hrb_peer_span_t *keys = hr_calloc (departure->key_count + 1, sizeof *keys);
    const uint8_t *pos = (const uint8_t *) departure->keys.data;
    for (size_t i = 0; i < departure->key_count; i++) {
        keys [i].len = *pos++;
        keys [i].data = pos;
        pos += keys [i].len;
        memcpy (&keys [i].seq, pos, sizeof keys [i].seq);
        pos += sizeof keys [i].seq;
    }
    s_emit_t emit = { self, stream, departure->to, false };
    hrb_handoff_cut (events, event_count, keys, departure->key_count,
                     HRB_HANDOFF_CHUNK_MAX, s_emit, &emit);
    free (keys);
    hr_buf_free (&copy.spans);
}

//  Sends one departure (again) and puts it at the back of the sent list.
//  Returns false when its stream is gone (the cap took it): then it is
//  forgotten, and its new owner starts the channel anew.
static bool
s_send_one (hrb_transfer_t *self, s_departure_t *departure, uint64_t now)
{
    hrb_stream_t *stream = hrb_streams_find (self->streams, departure->name,
                                             strlen (departure->name));
    if (!stream) {
        self->receivers [departure->to].pending--;
        if (departure->sent_at)
            self->in_flight--;
        zhashx_delete (self->departures, departure->name);
        return false;
    }
    s_send_channel (self, departure, stream);
    if (!departure->sent_at)
        self->in_flight++;
    departure->sent_at = now;
    hr_list_remove (&departure->order);
    hr_list_push_back (&self->sent, &departure->order);
    return true;
}

//  Sends again what is unconfirmed too long (oldest first), then what was
//  not sent yet, within the window.
static void
s_send_due (hrb_transfer_t *self, uint64_t now)
{
    hr_list_t *node;
    while ((node = hr_list_first (&self->sent))) {
        s_departure_t *departure = hr_list_entry (node, s_departure_t, order);
        if (now < departure->sent_at + S_RESEND_MS)
            break;
        s_send_one (self, departure, now);
    }
    while (self->in_flight < S_WINDOW && (node = hr_list_first (&self->order)))
        s_send_one (self, hr_list_entry (node, s_departure_t, order), now);
}

//  Ends to brokers whose channels are all confirmed.
static void
s_send_ends (hrb_transfer_t *self, uint64_t now)
{
    for (int to = 0; to < (int) HR_CLUSTER_MAX; to++) {
        s_receiver_t *receiver = &self->receivers [to];
        if (!receiver->expected || receiver->confirmed || receiver->pending
        ||  (receiver->sent_at && now < receiver->sent_at + S_RESEND_MS))
            continue;
        hr_buf_reset (&self->frame);
        hrb_peer_msg_encode_handoff_end (&self->frame, hrb_cluster_self (self->cluster)->id,
                                         hrb_cluster_fingerprint (self->cluster), self->view,
                                         receiver->channels);
        if (hrb_cluster_send (self->cluster, to, &self->frame) == 0)
            receiver->sent_at = now;
    }
}

static void
s_ack (hrb_transfer_t *self, int to, uint64_t view, const char *ch, size_t len)
{
    hr_buf_reset (&self->frame);
    hrb_peer_msg_encode_handoff_ack (&self->frame, hrb_cluster_self (self->cluster)->id,
                                     hrb_cluster_fingerprint (self->cluster), view, ch, len);
    hrb_cluster_send (self->cluster, to, &self->frame);
}

//  A confirmation from broker from.
static void
s_confirmed (hrb_transfer_t *self, int from, const hrb_peer_msg_t *msg)
{
    if (msg->number != self->view || from < 0 || from >= (int) HR_CLUSTER_MAX)
        return;
    s_receiver_t *receiver = &self->receivers [from];
    if (msg->end) {
        if (receiver->expected && !receiver->confirmed && receiver->sent_at) {
            receiver->confirmed = true;
            char channels [24], ms [24];
            snprintf (channels, sizeof channels, "%zu", receiver->channels);
            snprintf (ms, sizeof ms, "%llu",
                      (unsigned long long) (hr_mono_ms () - self->started));
            hr_log_info ("handed over", "to", hr_cluster_node (
                             hrb_cluster_file (self->cluster), (size_t) from)->id,
                         "channels", channels, "ms", ms);
        }
        return;
    }
    s_departure_t *departure = s_find (self, msg->ch, msg->ch_len);
    if (!departure || departure->to != from)
        return;
    if (departure->sent_at)
        self->in_flight--;
    receiver->pending--;
    receiver->channels++;
    hr_metrics_inc (self->shard, self->m_sent);
    //  Its new owner has it: drop it here
    self->ops.lock (self->arg, true);
    hrb_stream_t *stream = hrb_streams_find (self->streams, msg->ch, msg->ch_len);
    if (stream)
        hrb_streams_remove (self->streams, stream);
    self->ops.lock (self->arg, false);
    zhashx_delete (self->departures, departure->name);
}

static void
s_release_one (void *arg, int tag, const void *data, size_t size)
{
    hrb_transfer_t *self = arg;
    self->ops.replay (self->arg, tag, data, size);
}

//  Installs one chunk's part of a channel: the stream on part 0, then its
//  events and keys.
static uint64_t
s_install (hrb_transfer_t *self, const hrb_peer_msg_t *msg, uint64_t last)
{
    uint64_t now = hr_wall_ms ();
    self->ops.lock (self->arg, true);
    hrb_stream_t *stream = msg->part == 0
        ? hrb_streams_install (self->streams, msg->ch, msg->ch_len, msg->epoch, msg->seq, now)
        : hrb_streams_find (self->streams, msg->ch, msg->ch_len);
    if (!stream) {
        self->ops.lock (self->arg, false);
        hr_log_limited_warn ("handoff: no room for a channel (--max-channels)");
        return last;
    }
    hrb_peer_iter_t iter;
    const uint8_t *data;
    size_t len;
    hrb_peer_msg_events (msg, &iter);
    size_t refused = 0;
    while (hrb_peer_iter_event (&iter, &data, &len)) {
        //  Only this channel's events of this epoch, in seq order, up to
        //  the head: a peer's bad chunk must not make history lie
        hr_event_t ev;
        if (hr_event_decode (data, len, &ev) == HR_OK && ev.seq <= stream->seq
        &&  (last? ev.seq == last + 1: ev.seq > 0)
        &&  ev.ch_len == msg->ch_len && memcmp (ev.ch, msg->ch, msg->ch_len) == 0
        &&  ev.epoch && ev.epoch_len == HR_EPOCH_LEN
        &&  memcmp (ev.epoch, msg->epoch, HR_EPOCH_LEN) == 0) {
            hrb_streams_restore (self->streams, stream, ev.seq, now, data, len);
            last = ev.seq;
        }
        else
            refused++;
    }
    //  Its keys, in the broker's table and (a durable store) on disk
    const char *id;
    uint64_t seq;
    hrb_peer_msg_keys (msg, &iter);
    while (hrb_peer_iter_key (&iter, &id, &len, &seq)) {
        hrb_dedupe_insert (self->dedupe, msg->ch, msg->ch_len, id, len, now, seq, msg->epoch);
        hrb_streams_key (self->streams, stream, id, len, seq);
    }
    self->ops.lock (self->arg, false);
    if (refused)
        hr_log_limited_warn ("handoff: events out of order, of another channel or epoch, "
                             "or past the head: not restored");
    return last;
}

//  A chunk from broker from.
static void
s_chunk (hrb_transfer_t *self, int from, const hrb_peer_msg_t *msg)
{
    //  Only a channel this broker owns and awaits from that very broker
    //  (its owner in the view before) is installed: a chunk past the
    //  takeover (--handoff-timeout), or of a broker that had no say over
    //  the channel any more, would rewind a stream sequenced here since
    int source = -1;
    bool current = msg->number == hrb_handoff_view (self->awaited);
    bool awaited = current
        && hrb_cluster_gate (self->cluster, msg->ch, msg->ch_len, &source) == HRB_GATE_HOLD
        && source == from;
    hrb_chunk_t chunk = awaited? hrb_handoff_chunk (self->awaited, from, msg): HRB_CHUNK_REFUSED;
    if (chunk == HRB_CHUNK_REFUSED) {
        //  Sent again after its confirmation was lost, or not awaited here
        //  in this view: confirm, so that the sender drops its copy
        if (current && (!awaited || hrb_handoff_whole (self->awaited, msg->ch, msg->ch_len)))
            s_ack (self, from, msg->number, msg->ch, msg->ch_len);
        if (current && !awaited)
            hr_log_limited_warn ("handoff: a channel not awaited from its sender (taken over, "
                                 "or not its owner in the view before): refused", "from",
                                 hr_cluster_node (hrb_cluster_file (self->cluster),
                                                  (size_t) from)->id);
        return;
    }
    char name [HR_CHANNEL_MAX + 1];
    memcpy (name, msg->ch, msg->ch_len);
    name [msg->ch_len] = 0;
    s_partial_t *partial = msg->part? zhashx_lookup (self->partial, name): NULL;
    uint64_t last = s_install (self, msg, partial? partial->last: 0);
    if (chunk != HRB_CHUNK_WHOLE) {
        if (!partial) {
            partial = hr_malloc (sizeof *partial);
            *partial = (s_partial_t) { from, msg->number, 0 };
            zhashx_update (self->partial, name, partial);
        }
        partial->last = last;
        return;
    }
    zhashx_delete (self->partial, name);
    //  Stored (with a durable store) before the sender drops its copy
    if (self->ops.whole)
        self->ops.whole (self->arg, msg->ch, msg->ch_len);
    s_ack (self, from, msg->number, msg->ch, msg->ch_len);
    hr_metrics_inc (self->shard, self->m_received);
    hrb_handoff_release (self->awaited, msg->ch, msg->ch_len, s_release_one, self);
}

//  Every handoff message (hrb_cluster_handoff_fn).
static void
s_receive (void *arg, int from, const hrb_peer_msg_t *msg)
{
    hrb_transfer_t *self = arg;
    if (msg->kind == HRB_PEER_HANDOFF)
        s_chunk (self, from, msg);
    else
    if (msg->kind == HRB_PEER_HANDOFF_END) {
        //  Confirmed even when not expected, so that the sender stops
        hrb_handoff_end (self->awaited, from, msg->number);
        if (msg->number == hrb_handoff_view (self->awaited))
            s_ack (self, from, msg->number, NULL, 0);
    }
    else
        s_confirmed (self, from, msg);
}

//  Drops the streams of channels whose handoff began but will not end: its
//  source timed out, or a newer handoff view voided it. Their next event
//  starts a new epoch (one reset), never a silent hole in their history.
static void
s_drop_partials (hrb_transfer_t *self, uint64_t now, bool locked)
{
    if (!zhashx_size (self->partial))
        return;
    hr_members_t overdue = hrb_handoff_overdue (self->awaited, now);
    uint64_t view = hrb_handoff_view (self->awaited);
    s_partial_t *partial = zhashx_first (self->partial);
    while (partial) {
        const char *name = zhashx_cursor (self->partial);
        if (partial->view != view || (overdue >> partial->from & 1)) {
            size_t len = strlen (name);
            if (!locked)
                self->ops.lock (self->arg, true);
            hrb_stream_t *stream = hrb_streams_find (self->streams, name, len);
            if (stream)
                hrb_streams_remove (self->streams, stream);
            if (!locked)
                self->ops.lock (self->arg, false);
            hrb_handoff_forget (self->awaited, name, len);
            hr_log_limited_warn ("handoff: a channel came in part only; dropped, its next "
                                 "event starts a new epoch", "channel", name);
            zhashx_delete (self->partial, name);
            partial = zhashx_first (self->partial);     //  the cursor is gone
            continue;
        }
        partial = zhashx_next (self->partial);
    }
}

int
hrb_transfer_hold (hrb_transfer_t *self, int from, const char *ch, size_t len, int tag,
                   const void *data, size_t size)
{
    if (hrb_handoff_hold (self->awaited, from, ch, len, tag, data, size) == 0)
        return 0;
    hr_metrics_inc (self->shard, self->m_held_refused);
    hr_log_limited_warn ("handoff: held publishes over their memory; answered unavailable");
    return -1;
}

//  Serves the publishes of a channel no longer awaited (the gate decides).
static void
s_due (void *arg, const char *ch, bool timed_out)
{
    hrb_transfer_t *self = arg;
    hrb_handoff_release (self->awaited, ch, strlen (ch), s_release_one, self);
}

uint64_t
hrb_transfer_tick (hrb_transfer_t *self, uint64_t now)
{
    s_drop_partials (self, now, false);
    s_send_due (self, now);
    s_send_ends (self, now);
    hrb_handoff_due (self->awaited, now, S_DUE_BUDGET, s_due, self);
    hr_members_t overdue = hrb_handoff_overdue (self->awaited, now);
    if (hrb_handoff_view (self->awaited) != self->view)
        overdue = 0;                //  the machine expects a view we have not seen
    for (int i = 0; i < (int) HR_CLUSTER_MAX; i++)
        if ((overdue & ~self->overdue) >> i & 1) {
            hr_metrics_inc (self->shard, self->m_takeovers);
            hr_log_warn ("handoff timed out: its channels not come start new epochs",
                         "from", hr_cluster_node (hrb_cluster_file (self->cluster),
                                                  (size_t) i)->id);
        }
    self->overdue |= overdue;
    hr_metrics_set (self->shard, self->m_held, (int64_t) hrb_handoff_held (self->awaited));
    hr_metrics_set (self->shard, self->m_held_bytes,
                    (int64_t) hrb_handoff_held_bytes (self->awaited));
    hr_metrics_set (self->shard, self->m_deferred, (int64_t) hrb_defer_count (self->defer));
    hr_metrics_set (self->shard, self->m_deferred_bytes,
                    (int64_t) hrb_defer_bytes (self->defer));
    bool busy = zhashx_size (self->departures) || hrb_handoff_held (self->awaited);
    for (int i = 0; i < (int) HR_CLUSTER_MAX && !busy; i++)
        busy = self->receivers [i].expected && !self->receivers [i].confirmed;
    return busy? now + 10: now + 1000;
}

hrb_defer_t *
hrb_transfer_defer (hrb_transfer_t *self)
{
    return self->defer;
}

void
hrb_transfer_leave (hrb_transfer_t *self, uint64_t now)
{
    if (self->leaving)
        return;
    self->leaving = true;
    self->leave_at = now;
    hrb_cluster_leave (self->cluster);
}

bool
hrb_transfer_done (hrb_transfer_t *self, uint64_t now, bool busy)
{
    if (!self->leaving)
        return false;
    size_t unconfirmed = zhashx_size (self->departures);
    bool ends = true;
    for (int i = 0; i < (int) HR_CLUSTER_MAX; i++)
        ends &= !self->receivers [i].expected || self->receivers [i].confirmed;
    bool over = now >= self->leave_at + HRB_TRANSFER_LEAVE_MAX_MS;
    bool left = hrb_cluster_left (self->cluster);
    //  No one to hand over to (the last broker, or all leaving at once):
    //  waiting would change nothing
    bool alone = !left && !hrb_cluster_successors (self->cluster);
    //  Publishes held here (promoted just before the leave) are released
    //  by --handoff-timeout at the latest, then forwarded: wait for them
    busy |= hrb_handoff_held (self->awaited) > 0;
    if (!over && !alone && !(left && !unconfirmed && ends && !busy))
        return false;
    char ms [24], count [24];
    snprintf (ms, sizeof ms, "%llu", (unsigned long long) (now - self->leave_at));
    snprintf (count, sizeof count, "%zu", unconfirmed);
    if (alone)
        hr_log_warn ("left the cluster with no broker to hand over to", "ms", ms);
    else
    if (over)
        hr_log_warn ("left the cluster before every handoff was confirmed: their channels "
                     "start new epochs", "ms", ms, "unconfirmed", count);
    else
        hr_log_info ("left the cluster", "ms", ms);
    return true;
}
