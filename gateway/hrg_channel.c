/*  hrg_channel: sync from the head marker, in-order delivery, gap repair,
    resets, and the recent-events ring.  */
#include "hrg_channel.h"
#include "hrg_fetch.h"
#include "hrg_links.h"
#include "hr_epoch.h"
#include "hr_log.h"
#include "hr_mpack.h"
#include "hr_time.h"

#include <string.h>

//  Events held while a fill is in flight before the fill is abandoned
//  (besides --held-memory, which bounds their bytes).
#define S_HELD_MAX 100000
//  How long a new channel waits for its head marker before asking.
#define S_SYNC_TIMEOUT_MS 1000
//  How long a subscription waits for its confirmation before it is sent
//  again; doubles with each retry, up to 8 times this.
#define S_CONFIRM_RETRY_MS 1000
//  Unconfirmed this long after being sent: the clients get a reset.
#define S_CONFIRM_DEADLINE_MS 5000
//  Head queries and re-subscriptions one sweep (every 250 ms) may send,
//  per worker: 5,000 channels after a broker restart do not burst.
#define S_SWEEP_SENDS 500

static void s_accept (hrg_channel_t *self, hrg_event_t *ev);

//  (Un)subscribes the worker's SUB socket to "name|".
static void
s_subscription (hrg_channel_t *self, int option)
{
    char topic [HR_CHANNEL_MAX + 2];
    size_t len = (size_t) snprintf (topic, sizeof topic, "%s|", self->name);
    zmq_setsockopt (self->worker->sub, option, topic, len);
}

//  Starts waiting for the broker to confirm the subscription (just sent,
//  or re-sent by ZeroMQ on reconnect).
static void
s_unconfirm (hrg_channel_t *self, uint64_t now_ms)
{
    hrg_worker_t *worker = self->worker;
    if (self->confirmed)
        hr_metrics_add_to (worker->shard, worker->m->channels_unconfirmed, 1);
    self->confirmed = false;
    self->timed_out = false;
    self->retries = 0;
    self->confirm_due = now_ms + S_CONFIRM_RETRY_MS;
    self->confirm_deadline = now_ms + S_CONFIRM_DEADLINE_MS;
}

static void
s_confirm (hrg_channel_t *self)
{
    if (self->confirmed)
        return;
    self->confirmed = true;
    hr_metrics_add_to (self->worker->shard, self->worker->m->channels_unconfirmed, -1);
}

hrg_channel_t *
hrg_channel_acquire (hrg_worker_t *worker, const char *name)
{
    hrg_channel_t *self = zhashx_lookup (worker->channels, name);
    if (!self) {
        self = hr_calloc (1, sizeof *self);
        self->worker = worker;
        snprintf (self->name, sizeof self->name, "%s", name);
        self->state = HRG_CHANNEL_SYNCING;
        uint64_t now = hr_mono_ms ();
        self->sync_deadline = now + S_SYNC_TIMEOUT_MS;
        zhashx_insert (worker->channels, self->name, self);
        s_subscription (self, ZMQ_SUBSCRIBE);
        self->confirmed = true;         //  so that s_unconfirm counts it
        s_unconfirm (self, now);
        hr_metrics_add_to (worker->shard, worker->m->channels, 1);
    }
    self->refs++;
    return self;
}

//  What an event in a recent ring counts against --recent-memory.
static uint64_t
s_event_bytes (const hrg_event_t *ev)
{
    return hrg_event_bytes (ev) + sizeof ev;
}

static void
s_forget (hrg_channel_t *self, hrg_event_t *ev)
{
    self->worker->recent_bytes -= s_event_bytes (ev);
    hrg_event_release (ev);
}

//  Moves the held events out of the channel (and out of the worker's
//  count); the caller owns the vector and its references.
static hr_vec_t
s_take_held (hrg_channel_t *self)
{
    hrg_worker_t *worker = self->worker;
    hr_vec_t held = self->held;
    self->held = (hr_vec_t) { 0 };
    worker->held_bytes -= self->held_bytes;
    hr_metrics_add_to (worker->shard, worker->m->held_bytes, -(int64_t) self->held_bytes);
    self->held_bytes = 0;
    return held;
}

//  Holds ev (taking over the caller's reference) until the channel knows
//  its position. Returns false when the channel now holds more than its
//  bounds allow.
static bool
s_hold (hrg_channel_t *self, hrg_event_t *ev)
{
    hrg_worker_t *worker = self->worker;
    uint64_t bytes = s_event_bytes (ev);
    hr_vec_push (&self->held, ev);
    self->held_bytes += bytes;
    worker->held_bytes += bytes;
    hr_metrics_add_to (worker->shard, worker->m->held_bytes, (int64_t) bytes);
    return self->held.count <= S_HELD_MAX
        && self->held_bytes <= (uint64_t) worker->config->held_memory;
}

static void
s_clear_recent (hrg_channel_t *self)
{
    for (size_t i = 0; i < self->recent_count; i++)
        s_forget (self, self->recent [(self->recent_start + i) % self->recent_cap]);
    self->recent_start = self->recent_count = 0;
}

static void
s_clear_held (hrg_channel_t *self)
{
    hr_vec_t held = s_take_held (self);
    for (size_t i = 0; i < held.count; i++)
        hrg_event_release (held.items [i]);
    hr_vec_free (&held);
}

void
hrg_channel_release (hrg_channel_t *self)
{
    if (--self->refs)
        return;
    hrg_worker_t *worker = self->worker;
    s_subscription (self, ZMQ_UNSUBSCRIBE);
    s_confirm (self);                   //  no longer counted as unconfirmed
    if (self->fill_rid)
        hrg_links_cancel (worker, self->fill_rid);
    if (self->head_rid)
        hrg_links_cancel (worker, self->head_rid);
    if (self->probe_rid)
        hrg_links_cancel (worker, self->probe_rid);
    s_clear_recent (self);
    s_clear_held (self);
    hr_vec_free (&self->groups);
    hr_vec_free (&self->waiters);
    free (self->recent);
    zhashx_delete (worker->channels, self->name);
    hr_metrics_add_to (worker->shard, worker->m->channels, -1);
    free (self);
}

//  Lets every connection catching up on this channel look again. Backwards,
//  because a connection that becomes live removes itself from the list.
static void
s_notify_waiters (hrg_channel_t *self)
{
    for (size_t i = self->waiters.count; i > 0; i--)
        if (i <= self->waiters.count) {
            hrg_listener_t *listener = self->waiters.items [i - 1];
            listener->ops->on_change (listener);
        }
}

//  True when the worker's recent rings may take `bytes` more: held events
//  count against --recent-memory too (they are memory the rings cannot
//  have), but are bounded on their own (--held-memory).
static bool
s_recent_fits (hrg_worker_t *worker, uint64_t bytes)
{
    return worker->recent_bytes + worker->held_bytes + bytes
        <= (uint64_t) worker->config->recent_memory;
}

//  Keeps ev in the recent ring, which starts small (most channels are
//  quiet) and doubles up to --recent-events, then drops its oldest. Over
//  the worker's --recent-memory, the channel sheds its oldest instead of
//  growing (the broker's history remains the whole truth).
static void
s_remember (hrg_channel_t *self, hrg_event_t *ev)
{
    hrg_worker_t *worker = self->worker;
    size_t max = (size_t) worker->config->recent_events;
    if (max == 0)
        return;
    while (self->recent_count && !s_recent_fits (worker, s_event_bytes (ev))) {
        s_forget (self, self->recent [self->recent_start]);
        self->recent_start = (self->recent_start + 1) % self->recent_cap;
        self->recent_count--;
    }
    if (!s_recent_fits (worker, s_event_bytes (ev)))
        return;
    if (self->recent_count == self->recent_cap && self->recent_cap < max) {
        size_t cap = self->recent_cap? self->recent_cap * 2: 4;
        if (cap > max)
            cap = max;
        hrg_event_t **ring = hr_calloc (cap, sizeof *ring);
        for (size_t i = 0; i < self->recent_count; i++)
            ring [i] = self->recent [(self->recent_start + i) % self->recent_cap];
        free (self->recent);
        self->recent = ring;
        self->recent_cap = cap;
        self->recent_start = 0;
    }
    if (self->recent_count == self->recent_cap) {
        s_forget (self, self->recent [self->recent_start]);
        self->recent_start = (self->recent_start + 1) % self->recent_cap;
        self->recent_count--;
    }
    self->recent [(self->recent_start + self->recent_count++) % self->recent_cap] =
        hrg_event_ref (ev);
    worker->recent_bytes += s_event_bytes (ev);
}

//  Delivers the next event in order: groups, the recent ring, waiters.
static void
s_deliver (hrg_channel_t *self, hrg_event_t *ev)
{
    self->last = ev->seq;
    for (size_t i = 0; i < self->groups.count; i++) {
        hrg_listener_t *listener = self->groups.items [i];
        listener->ops->on_event (listener, self, ev);
    }
    s_remember (self, ev);
    s_notify_waiters (self);
}

//  Moves the channel to (epoch, last) discontinuously and tells everyone.
static void
s_reset (hrg_channel_t *self, hr_reset_t reason, const char *epoch, uint64_t last)
{
    hrg_worker_t *worker = self->worker;
    hr_log_limited_info ("channel reset", "channel", self->name,
                         "reason", hr_reset_name (reason));
    snprintf (self->epoch, sizeof self->epoch, "%s", epoch);
    self->last = last;
    s_clear_recent (self);
    hr_metrics_inc (worker->shard, worker->m->resets + (int) reason - 1);
    for (size_t i = 0; i < self->groups.count; i++) {
        hrg_listener_t *listener = self->groups.items [i];
        listener->ops->on_reset (listener, self, reason);
    }
    s_notify_waiters (self);
}

//  True (and counted) when epoch is older than the channel's: it comes
//  from a lagging broker or a deposed owner and is ignored, never a reset
//  (docs/protocol.md §1.1).
static bool
s_stale (hrg_channel_t *self, const char *epoch, size_t len)
{
    if (!hr_epoch_older (epoch, len, self->epoch, strlen (self->epoch)))
        return false;
    hr_metrics_inc (self->worker->shard, self->worker->m->stale_epochs);
    hr_log_limited_info ("older epoch ignored", "channel", self->name);
    return true;
}

static void s_on_fill (void *arg, uint64_t rid, const hr_reply_t *reply,
                       zmq_msg_t *frames, size_t count);
static void s_finish_fill (hrg_channel_t *self);

//  Gives up filling: clients jump to the target position with a reset.
static void
s_fill_failed (hrg_channel_t *self, hr_reset_t reason)
{
    char epoch [HR_EPOCH_MAX + 1];
    snprintf (epoch, sizeof epoch, "%s", self->epoch);
    s_reset (self, reason, epoch, self->target);
    s_finish_fill (self);
}

//  Asks the broker for the events after last, up to target.
static void
s_start_fill (hrg_channel_t *self)
{
    hrg_worker_t *worker = self->worker;
    self->state = HRG_CHANNEL_FILLING;
    uint64_t missing = self->target - self->last;
    hr_metrics_inc (worker->shard, worker->m->gap_fills);
    self->fill_rid = hrg_link_history (hrg_links_pick (worker, self->name,
                                                       strlen (self->name)), self->name,
                                       self->epoch [0]? self->epoch: NULL, self->last,
                                       missing < HR_HISTORY_LIMIT_MAX? missing: HR_HISTORY_LIMIT_MAX,
                                       s_on_fill, self);
    if (!self->fill_rid)
        s_fill_failed (self, HR_RESET_UNAVAILABLE);
}

//  Back to LIVE; the events held meanwhile go through the normal path
//  (and may open a new fill).
static void
s_finish_fill (hrg_channel_t *self)
{
    self->state = HRG_CHANNEL_LIVE;
    self->fill_rid = 0;
    self->stale_fills = 0;
    hr_vec_t held = s_take_held (self);
    for (size_t i = 0; i < held.count; i++)
        s_accept (self, held.items [i]);
    hr_vec_free (&held);
}

static void
s_on_fill (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames,
           size_t count)
{
    hrg_channel_t *self = arg;
    hrg_worker_t *worker = self->worker;
    self->fill_rid = 0;
    if (!reply || reply->error) {
        s_fill_failed (self, HR_RESET_UNAVAILABLE);
        return;
    }
    //  Before the reset: a broker that lags answers epoch-changed with its
    //  older epoch. Asked again; the position is not moved back for it.
    if (reply->epoch && s_stale (self, reply->epoch, reply->epoch_len)) {
        if (self->stale_fills++ < HRG_STALE_RETRIES)
            s_start_fill (self);
        else
            s_fill_failed (self, HR_RESET_UNAVAILABLE);
        return;
    }
    if (reply->reset) {
        s_fill_failed (self, reply->reset);
        return;
    }
    if (!reply->epoch || !hr_mp_str_eq (reply->epoch, reply->epoch_len, self->epoch)) {
        s_fill_failed (self, HR_RESET_EPOCH_CHANGED);
        return;
    }
    uint64_t before = self->last;
    for (size_t i = 0; i < count && self->last < self->target; i++) {
        hr_error_t error;
        hrg_event_t *ev = hrg_event_decode (zmq_msg_data (&frames [i]),
                                            zmq_msg_size (&frames [i]), &error);
        if (!ev)
            continue;
        hr_metrics_inc (worker->shard, worker->m->events_received);
        if (ev->seq == self->last + 1 && !ev->head)
            s_deliver (self, ev);
        hrg_event_release (ev);
    }
    if (self->last >= self->target)
        s_finish_fill (self);
    else
    if (self->last > before)
        s_start_fill (self);            //  more than one reply's worth
    else
        s_fill_failed (self, HR_RESET_EXPIRED);
}

//  First head (marker or head query): the channel's live position is known.
static void
s_sync (hrg_channel_t *self, const char *epoch, uint64_t head)
{
    if (self->head_rid) {
        hrg_links_cancel (self->worker, self->head_rid);
        self->head_rid = 0;
    }
    snprintf (self->epoch, sizeof self->epoch, "%s", epoch);
    self->last = head;
    self->state = HRG_CHANNEL_LIVE;
    hr_vec_t held = s_take_held (self);
    for (size_t i = 0; i < held.count; i++) {
        hrg_event_t *ev = held.items [i];
        if (strcmp (ev->epoch, self->epoch) == 0 && ev->seq <= self->last)
            hrg_event_release (ev);     //  already history for this worker
        else
            s_accept (self, ev);
    }
    hr_vec_free (&held);
    s_notify_waiters (self);
}

//  The position after an event or marker of a new epoch.
static uint64_t
s_position_of (const hrg_event_t *ev)
{
    return ev->head? ev->seq: ev->seq - 1;
}

static void
s_accept_live (hrg_channel_t *self, hrg_event_t *ev)
{
    if (!ev->epoch [0]) {
        //  The broker has no such channel (a restart lost it)
        if (self->epoch [0])
            s_reset (self, HR_RESET_EPOCH_CHANGED, "", 0);
        hrg_event_release (ev);
        return;
    }
    if (!self->epoch [0]) {
        //  Created since we synced: (none, 0) continues into (epoch, 0)
        snprintf (self->epoch, sizeof self->epoch, "%s", ev->epoch);
        self->last = 0;
    }
    else
    if (strcmp (ev->epoch, self->epoch) != 0) {
        s_reset (self, HR_RESET_EPOCH_CHANGED, ev->epoch, s_position_of (ev));
        if (!ev->head)
            s_deliver (self, ev);
        hrg_event_release (ev);
        return;
    }
    uint64_t known = ev->head? ev->seq: ev->seq - 1;
    if (!ev->head && ev->seq == self->last + 1)
        s_deliver (self, ev);
    if (known > self->last) {
        //  A gap: events up to `known` exist that this worker never saw
        self->target = known;
        if (!ev->head)
            (void) s_hold (self, hrg_event_ref (ev));   //  FILLING checks the bounds
        s_start_fill (self);
    }
    hrg_event_release (ev);
}

//  FILLING: the last seq the channel will have once the fill is done,
//  counting the held events (they follow the target without a gap).
static uint64_t
s_filled_end (const hrg_channel_t *self)
{
    uint64_t end = self->target;
    if (self->held.count) {
        const hrg_event_t *last = self->held.items [self->held.count - 1];
        if (last->seq > end)
            end = last->seq;
    }
    return end;
}

static void
s_accept (hrg_channel_t *self, hrg_event_t *ev)
{
    //  Live events, head markers, and events held while syncing or filling
    if (s_stale (self, ev->epoch, strlen (ev->epoch))) {
        hrg_event_release (ev);
        return;
    }
    switch (self->state) {
        case HRG_CHANNEL_SYNCING:
            if (ev->head) {
                s_sync (self, ev->epoch, ev->seq);
                hrg_event_release (ev);
            }
            else
            if (!s_hold (self, ev)) {
                //  No client has a position here yet, so nothing is
                //  skipped: after the sync, the next event or head marker
                //  shows the gap and it is filled from history.
                hr_log_limited_warn ("events held while syncing over the limit: dropped",
                                     "channel", self->name);
                s_clear_held (self);
            }
            return;
        case HRG_CHANNEL_FILLING:
            if (ev->epoch [0] && strcmp (ev->epoch, self->epoch) != 0) {
                //  A new history: what we were filling is gone
                hrg_links_cancel (self->worker, self->fill_rid);
                self->fill_rid = 0;
                s_clear_held (self);
                self->state = HRG_CHANNEL_LIVE;
                s_accept_live (self, ev);
                return;
            }
            if (!ev->head && ev->epoch [0]) {
                //  A new gap after the held events: fill it too
                if (ev->seq - 1 > s_filled_end (self))
                    self->target = ev->seq - 1;
                if (!s_hold (self, ev)) {
                    hr_log_limited_warn ("events held while filling over the limit: reset",
                                         "channel", self->name);
                    hrg_links_cancel (self->worker, self->fill_rid);
                    self->fill_rid = 0;
                    s_fill_failed (self, HR_RESET_UNAVAILABLE);
                }
                return;
            }
            if (ev->head && ev->seq > s_filled_end (self))
                self->target = ev->seq;
            hrg_event_release (ev);
            return;
        case HRG_CHANNEL_LIVE:
            s_accept_live (self, ev);
            return;
    }
}

void
hrg_channel_on_stream (hrg_worker_t *worker, hrg_event_t *ev)
{
    hrg_channel_t *self = zhashx_lookup (worker->channels, ev->channel);
    if (self) {
        s_confirm (self);               //  the broker has our subscription
        s_accept (self, ev);
    }
    else
        hrg_event_release (ev);
}

static void
s_on_head (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames,
           size_t count)
{
    hrg_channel_t *self = arg;
    self->head_rid = 0;
    if (self->state != HRG_CHANNEL_SYNCING)
        return;
    if (!reply || reply->error) {
        self->sync_deadline = hr_mono_ms () + S_SYNC_TIMEOUT_MS;
        return;                 //  ask again later
    }
    char epoch [HR_EPOCH_MAX + 1] = "";
    if (reply->epoch)
        snprintf (epoch, sizeof epoch, "%.*s", (int) reply->epoch_len, reply->epoch);
    s_sync (self, epoch, reply->head);
}

static uint64_t
s_send_probe (hrg_channel_t *self);

static void
s_on_probe (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames,
            size_t count)
{
    hrg_channel_t *self = arg;
    bool answered = reply && !reply->error;
    self->probe_rid = 0;
    self->probe_answers++;
    self->probe_failed = !answered;
    //  The next query goes out first: a waiter told below that asks again
    //  then waits for it, and there is never more than one in flight
    if (self->probe_again) {
        self->probe_again = false;
        if (!s_send_probe (self)) {
            self->probe_answers++;      //  that one failed at once
            self->probe_failed = true;
        }
    }
    //  No epoch is no news for a client that has one: the stream's own
    //  nil marker, not a head query, empties a channel
    if (answered && reply->epoch)
        s_accept (self, hrg_event_marker (self->name, reply->epoch, reply->epoch_len,
                                          reply->head));
    s_notify_waiters (self);
}

static uint64_t
s_send_probe (hrg_channel_t *self)
{
    self->probe_rid = hrg_link_history (hrg_links_pick (self->worker, self->name,
                                                        strlen (self->name)),
                                        self->name, NULL, 0, 0, s_on_probe, self);
    return self->probe_rid;
}

hrg_probe_t
hrg_channel_probe (hrg_channel_t *self, uint32_t *ticket)
{
    if (*ticket == 0) {
        //  A query already in flight may have left before the client's
        //  epoch existed: the answer that counts is the next one's
        if (self->probe_rid) {
            self->probe_again = true;
            *ticket = self->probe_answers + 2;
        }
        else
        if (s_send_probe (self))
            *ticket = self->probe_answers + 1;
        else
            return HRG_PROBE_FAILED;
    }
    if ((int32_t) (self->probe_answers - *ticket) < 0)
        return HRG_PROBE_WAITING;
    return self->probe_failed? HRG_PROBE_FAILED: HRG_PROBE_ANSWERED;
}

//  An unconfirmed subscription: past the deadline its clients learn that
//  events may be missing (once per episode); when due, it is sent again.
//  Returns the messages sent.
static int
s_check_confirmation (hrg_channel_t *self, uint64_t now_ms, int budget)
{
    hrg_worker_t *worker = self->worker;
    if (now_ms >= self->confirm_deadline && !self->timed_out) {
        self->timed_out = true;
        hr_metrics_inc (worker->shard, worker->m->subscription_timeouts);
        hr_log_limited_warn ("subscription not confirmed by the broker: reset",
                             "channel", self->name);
        //  A SYNCING channel has no client position to reset yet: its
        //  connections wait for the head query
        if (self->state != HRG_CHANNEL_SYNCING) {
            char epoch [HR_EPOCH_MAX + 1];
            snprintf (epoch, sizeof epoch, "%s", self->epoch);
            s_reset (self, HR_RESET_UNAVAILABLE, epoch, self->last);
        }
    }
    if (now_ms < self->confirm_due || budget <= 0)
        return 0;
    //  SUBSCRIBE on a topic ZeroMQ already has sends nothing: drop it first
    s_subscription (self, ZMQ_UNSUBSCRIBE);
    s_subscription (self, ZMQ_SUBSCRIBE);
    self->retries++;
    uint32_t shift = self->retries < 3? self->retries: 3;
    self->confirm_due = now_ms + ((uint64_t) S_CONFIRM_RETRY_MS << shift);
    hr_metrics_inc (worker->shard, worker->m->subscription_retries);
    return 2;
}

void
hrg_channel_sweep (hrg_worker_t *worker, uint64_t now_ms)
{
    int budget = S_SWEEP_SENDS;
    for (hrg_channel_t *self = zhashx_first (worker->channels); self;
         self = zhashx_next (worker->channels)) {
        if (self->state == HRG_CHANNEL_SYNCING && !self->head_rid
        &&  now_ms >= self->sync_deadline && budget > 0) {
            hr_log_debug ("head marker overdue: asking", "channel", self->name);
            self->sync_deadline = now_ms + S_SYNC_TIMEOUT_MS;
            self->head_rid = hrg_link_history (hrg_links_pick (worker, self->name,
                                                               strlen (self->name)),
                                               self->name, NULL, 0, 0, s_on_head, self);
            budget--;
        }
        //  While the broker is away nothing can confirm: the clocks wait
        if (!self->confirmed && !worker->linked) {
            self->confirm_due = now_ms + S_CONFIRM_RETRY_MS;
            self->confirm_deadline = now_ms + S_CONFIRM_DEADLINE_MS;
        }
        else
        if (!self->confirmed)
            budget -= s_check_confirmation (self, now_ms, budget);
    }
}

size_t
hrg_channel_reconfirm_all (hrg_worker_t *worker, uint64_t now_ms)
{
    size_t count = 0;
    for (hrg_channel_t *self = zhashx_first (worker->channels); self;
         self = zhashx_next (worker->channels), count++)
        s_unconfirm (self, now_ms);
    return count;
}

bool
hrg_channel_replay_recent (hrg_channel_t *self, uint64_t since,
                           void (*visit) (void *arg, hrg_event_t *ev), void *arg)
{
    if (since >= self->last)
        return true;
    if (self->recent_count == 0)
        return false;
    uint64_t first = self->recent [self->recent_start]->seq;
    if (since + 1 < first)
        return false;
    for (uint64_t i = since + 1 - first; i < self->recent_count; i++)
        visit (arg, self->recent [(self->recent_start + i) % self->recent_cap]);
    return true;
}
