/*  hrg_group: shared rendering for streams with the same channel set and
    transport.  */
#include "hrg_group.h"
#include "hr_time.h"

#include <string.h>

uint64_t
hrg_group_gap_ms (const hrg_group_t *self)
{
    int64_t interval = self->worker->config->write_interval;
    if (interval != HR_OPT_AUTO)
        return (uint64_t) interval;
    //  The gap counts from the start of the last write: writing this
    //  stream then takes at most 1 / factor of the worker, whatever its
    //  rate (a write costs about the same whatever it holds). Rounded to
    //  the nearest ms: small groups are written at once
    uint64_t gap = (self->write_us * HRG_GROUP_AUTO_FACTOR + 500) / 1000;
    return gap < HRG_GROUP_AUTO_CAP_MS? gap: HRG_GROUP_AUTO_CAP_MS;
}

//  Queues the group for writing: now if its last write is a gap ago, else
//  on the wheel slot of the moment it will be.
static void
s_mark_dirty (hrg_group_t *self, uint64_t now)
{
    hrg_worker_t *worker = self->worker;
    if (self->dirty)
        return;
    self->dirty = true;
    uint64_t due = self->last_write_ms + hrg_group_gap_ms (self);
    if (due <= now) {
        hr_list_push_back (&worker->dirty_groups, &self->dirty_node);
        return;
    }
    if (worker->wheel_count == 0)
        worker->wheel_ms = now;
    self->deferred = true;
    self->due_ms = due;
    hr_list_push_back (&worker->wheel [due % HRG_WHEEL_SLOTS], &self->dirty_node);
    worker->wheel_count++;
}

//  The pool's bytes, open batches included, in /metrics.
static void
s_count_pool (hrg_worker_t *worker)
{
    hr_metrics_set (worker->shard, worker->m->frame_pool_bytes,
                    (int64_t) hrg_frame_pool_bytes (worker->frames));
}

//  Queues the events rendered since the last seal, one frame, on every
//  member's connection. Before the members change (a member joining now
//  must not get them; one leaving had them queued before it left) and at
//  each write.
static void
s_seal (hrg_group_t *self, uint64_t now)
{
    if (!self->batch.data)
        return;
    self->batch_hint = hrg_frame_open_size (&self->batch);
    hrg_frame_t *frame = hrg_frame_pool_seal (self->worker->frames, &self->batch);
    s_count_pool (self->worker);
    //  A member closed meanwhile stays listed until the reap: its
    //  connection ignores the frame
    for (hr_list_t *node = hr_list_first (&self->members); node;
         node = hr_list_next (&self->members, node))
        hrg_conn_queue (hr_list_entry (node, hrg_member_t, node)->conn, frame, now);
    hrg_frame_release (frame);
}

void
hrg_group_seal (hrg_group_t *self)
{
    s_seal (self, hr_mono_ms ());
}

//  Renders through the transport at the channels' live position, straight
//  onto the group's batch: the members' connections queue the batch as
//  one frame when it is written (per write, not per event and member).
static void
s_broadcast (hrg_group_t *self, hrg_channel_t *channel, const hrg_event_t *ev,
             hr_reset_t reason)
{
    hrg_worker_t *worker = self->worker;
    const char *epochs [HR_CHANSET_MAX];
    uint64_t seqs [HR_CHANSET_MAX];
    size_t index = 0;
    if (self->transport->keeps_cursor && !self->cursor)
        self->cursor = hr_cursor_live_new (self->set);
    for (size_t i = 0; i < self->set->count; i++) {
        epochs [i] = self->channels [i]->epoch [0]? self->channels [i]->epoch: NULL;
        seqs [i] = self->channels [i]->last;
        if (self->channels [i] == channel)
            index = i;
        //  Every channel, not only this one: cheap when unchanged, and
        //  right whatever moved the others
        if (self->cursor)
            hr_cursor_live_set (self->cursor, i, epochs [i], seqs [i]);
    }
    hrg_view_t view = { self->set, epochs, seqs, index, NULL, 0 };
    if (self->cursor)
        view.cursor = hr_cursor_live_text (self->cursor, &view.cursor_len);
    if (!worker->frames)
        worker->frames = hrg_frame_pool_new (HRG_FRAME_POOL_BYTES);
    if (!self->batch.data)
        hrg_frame_pool_open (worker->frames, &self->batch, self->batch_hint);
    if (ev)
        self->transport->render_event (worker, &self->batch, &view, ev);
    else
        self->transport->render_reset (worker, &self->batch, &view, reason);
    hrg_frame_pool_account (worker->frames, &self->batch);
    uint64_t now = hr_mono_ms ();
    if (hrg_frame_open_size (&self->batch) >= HRG_GROUP_BATCH_BYTES)
        s_seal (self, now);             //  a batch is bounded; the write comes as due
    else
        s_count_pool (worker);
    s_mark_dirty (self, now);
}

static void
s_on_event (hrg_listener_t *listener, hrg_channel_t *channel, const hrg_event_t *ev)
{
    hrg_group_t *self = hr_list_entry (listener, hrg_group_t, listener);
    s_broadcast (self, channel, ev, HR_RESET_NONE);
    hr_metrics_add_to (self->worker->shard, self->worker->m->events_delivered,
                       (int64_t) self->member_count);
}

static void
s_on_reset (hrg_listener_t *listener, hrg_channel_t *channel, hr_reset_t reason)
{
    s_broadcast (hr_list_entry (listener, hrg_group_t, listener), channel, NULL, reason);
}

static const hrg_listener_ops_t s_listener_ops = { .on_event = s_on_event,
                                                   .on_reset = s_on_reset };

void
hrg_group_join (hrg_worker_t *worker, hrg_member_t *member, hrg_conn_t *conn,
                hr_chanset_t **set_p, hrg_channel_t **channels)
{
    const hrg_transport_t *transport = conn->transport;
    hr_buf_t *key = &worker->cursor;
    hr_buf_reset (key);
    hr_buf_printf (key, "%s %s", transport->name, (*set_p)->key);
    hrg_group_t *self = zhashx_lookup (worker->groups, key->data);
    if (!self) {
        self = hr_calloc (1, sizeof *self);
        self->worker = worker;
        self->transport = transport;
        self->key = hr_buf_detach (key);
        self->set = *set_p;
        self->channels = hr_calloc (self->set->count, sizeof (hrg_channel_t *));
        memcpy (self->channels, channels, self->set->count * sizeof (hrg_channel_t *));
        self->listener.ops = &s_listener_ops;
        hr_list_init (&self->members);
        zhashx_insert (worker->groups, self->key, self);
        for (size_t i = 0; i < self->set->count; i++)
            hr_vec_push (&self->channels [i]->groups, &self->listener);
        hr_metrics_add_to (worker->shard, worker->m->groups, 1);
    }
    else
        hr_chanset_destroy (set_p);
    *set_p = self->set;
    s_seal (self, hr_mono_ms ());
    member->conn = conn;
    member->group = self;
    hr_list_push_back (&self->members, &member->node);
    self->member_count++;
}

void
hrg_group_leave (hrg_member_t *member)
{
    hrg_group_t *self = member->group;
    s_seal (self, hr_mono_ms ());
    hr_list_remove (&member->node);
    member->group = NULL;
    if (--self->member_count)
        return;
    hrg_worker_t *worker = self->worker;
    for (size_t i = 0; i < self->set->count; i++)
        hr_vec_remove (&self->channels [i]->groups, &self->listener);
    if (self->dirty)            //  on the ready list, or on the wheel if deferred
        hr_list_remove (&self->dirty_node);
    if (self->deferred)
        worker->wheel_count--;
    zhashx_delete (worker->groups, self->key);
    hr_cursor_live_destroy (&self->cursor);
    hr_chanset_destroy (&self->set);
    free (self->channels);
    free (self->key);
    free (self);
    hr_metrics_add_to (worker->shard, worker->m->groups, -1);
    if (zhashx_size (worker->groups) == 0) {
        //  Frames still queued free themselves (a closing worker's last)
        hrg_frame_pool_destroy (&worker->frames);
        hr_metrics_set (worker->shard, worker->m->frame_pool_bytes, 0);
    }
}

//  Moves the groups whose time has come from the wheel to the ready list.
static void
s_advance (hrg_worker_t *worker, uint64_t now_ms)
{
    uint64_t steps = now_ms > worker->wheel_ms? now_ms - worker->wheel_ms: 0;
    if (steps > HRG_WHEEL_SLOTS)
        steps = HRG_WHEEL_SLOTS;
    for (uint64_t i = 1; i <= steps && worker->wheel_count; i++) {
        hr_list_t *slot = &worker->wheel [(worker->wheel_ms + i) % HRG_WHEEL_SLOTS];
        for (hr_list_t *node; (node = hr_list_first (slot)); ) {
            hr_list_move_back (&worker->dirty_groups, node);
            hr_list_entry (node, hrg_group_t, dirty_node)->deferred = false;
            worker->wheel_count--;
        }
    }
    worker->wheel_ms = now_ms;
}

void
hrg_group_flush_dirty (hrg_worker_t *worker, uint64_t now_ms)
{
    s_advance (worker, now_ms);
    //  Every due group's batch queued first: a connection in several (a
    //  WebSocket on several channels) gets them all in its first write.
    //  A member that fails is only closed (freed by the reap), so the
    //  groups and their members stay put meanwhile.
    for (hr_list_t *node = hr_list_first (&worker->dirty_groups); node;
         node = hr_list_next (&worker->dirty_groups, node))
        s_seal (hr_list_entry (node, hrg_group_t, dirty_node), now_ms);
    //  In the order the groups became due
    for (hr_list_t *node; (node = hr_list_first (&worker->dirty_groups)); ) {
        hr_list_remove (node);
        hrg_group_t *self = hr_list_entry (node, hrg_group_t, dirty_node);
        self->dirty = false;
        self->last_write_ms = now_ms;
        uint64_t started = hr_mono_us ();
        for (hr_list_t *member = hr_list_first (&self->members); member;
             member = hr_list_next (&self->members, member))
            hrg_conn_flush (hr_list_entry (member, hrg_member_t, node)->conn);
        self->write_us = hr_mono_us () - started;
    }
}

uint64_t
hrg_group_next_due (hrg_worker_t *worker)
{
    for (uint64_t ms = worker->wheel_ms + 1;
         worker->wheel_count && ms <= worker->wheel_ms + HRG_WHEEL_SLOTS; ms++)
        if (!hr_list_empty (&worker->wheel [ms % HRG_WHEEL_SLOTS]))
            return ms;
    return UINT64_MAX;
}
