/*  hrg_group: shared rendering for connections with the same channel set.  */
#include "hrg_group.h"
#include "hrg_channel.h"
#include "hrg_sse.h"
#include "hr_cursor.h"
#include "hr_time.h"

#include <string.h>

static const char s_heartbeat [] = ":\n\n";

//  The group's cursor: each channel's live position.
static void
s_cursor (hrg_group_t *self, hr_buf_t *out)
{
    const char *epochs [HR_CHANSET_MAX];
    uint64_t seqs [HR_CHANSET_MAX];
    for (size_t i = 0; i < self->set->count; i++) {
        epochs [i] = self->channels [i]->epoch [0]? self->channels [i]->epoch: NULL;
        seqs [i] = self->channels [i]->last;
    }
    hr_cursor_encode_parts (out, self->set, epochs, seqs);
}

//  Queues the group for writing: now if its last write is an interval ago,
//  else on the wheel slot of the moment it will be.
static void
s_mark_dirty (hrg_group_t *self)
{
    hrg_worker_t *worker = self->worker;
    uint64_t now = hr_mono_ms ();
    self->last_frame_ms = now;
    if (self->dirty)
        return;
    self->dirty = true;
    uint64_t due = self->last_write_ms + (uint64_t) worker->config->write_interval;
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

//  Appends the worker's scratch buffer as one frame.
static void
s_append_scratch (hrg_group_t *self)
{
    hr_buf_t *scratch = &self->worker->scratch;
    hrg_chain_append_copy (&self->chain, scratch->data, scratch->size);
    s_mark_dirty (self);
}

void
hrg_group_join (hrg_worker_t *worker, hrg_conn_t *conn)
{
    hrg_group_t *self = zhashx_lookup (worker->groups, conn->set->key);
    if (!self) {
        self = hr_calloc (1, sizeof *self);
        self->worker = worker;
        self->set = conn->set;
        self->channels = hr_calloc (conn->set->count, sizeof (hrg_channel_t *));
        memcpy (self->channels, conn->channels, conn->set->count * sizeof (hrg_channel_t *));
        hrg_chain_init (&self->chain);
        hr_list_init (&self->members);
        self->last_frame_ms = hr_mono_ms ();
        zhashx_insert (worker->groups, self->set->key, self);
        for (size_t i = 0; i < self->set->count; i++)
            hr_vec_push (&self->channels [i]->groups, self);
        hr_metrics_add_to (worker->shard, worker->m->groups, 1);
    }
    else
        hr_chanset_destroy (&conn->set);
    conn->set = self->set;
    conn->group = self;
    hr_list_push_back (&self->members, &conn->group_node);
    self->member_count++;
    hrg_reader_attach (&conn->live_reader, &self->chain);
}

void
hrg_group_leave (hrg_conn_t *conn)
{
    hrg_group_t *self = conn->group;
    hrg_reader_detach (&conn->live_reader);
    hr_list_remove (&conn->group_node);
    conn->group = NULL;
    conn->set = NULL;           //  it was the group's
    if (--self->member_count)
        return;
    hrg_worker_t *worker = self->worker;
    for (size_t i = 0; i < self->set->count; i++)
        hr_vec_remove (&self->channels [i]->groups, self);
    if (self->dirty)            //  on the ready list, or on the wheel if deferred
        hr_list_remove (&self->dirty_node);
    if (self->deferred)
        worker->wheel_count--;
    zhashx_delete (worker->groups, self->set->key);
    hrg_chain_fini (&self->chain);
    hr_chanset_destroy (&self->set);
    free (self->channels);
    free (self);
    hr_metrics_add_to (worker->shard, worker->m->groups, -1);
}

void
hrg_group_publish (hrg_group_t *self, const hrg_event_t *ev)
{
    hr_buf_t *scratch = &self->worker->scratch;
    hr_buf_t *cursor = &self->worker->cursor;
    hr_buf_reset (cursor);
    s_cursor (self, cursor);
    hr_buf_reset (scratch);
    hrg_sse_format_event (scratch, cursor->data, cursor->size, ev);
    s_append_scratch (self);
    hr_metrics_add_to (self->worker->shard, self->worker->m->events_delivered,
                       (int64_t) self->member_count);
}

void
hrg_group_reset (hrg_group_t *self, hrg_channel_t *channel, hr_reset_t reason)
{
    hr_buf_t *scratch = &self->worker->scratch;
    hr_buf_t *cursor = &self->worker->cursor;
    hr_buf_reset (cursor);
    s_cursor (self, cursor);
    hr_buf_reset (scratch);
    hrg_sse_format_reset (scratch, cursor->data, cursor->size, channel->name, reason,
                          channel->epoch [0]? channel->epoch: NULL, channel->last);
    s_append_scratch (self);
}

void
hrg_group_heartbeats (hrg_worker_t *worker, uint64_t now_ms)
{
    uint64_t interval = (uint64_t) worker->config->heartbeat;
    for (hrg_group_t *self = zhashx_first (worker->groups); self;
         self = zhashx_next (worker->groups))
        if (self->last_frame_ms + interval <= now_ms) {
            hrg_chain_append_copy (&self->chain, s_heartbeat, sizeof s_heartbeat - 1);
            s_mark_dirty (self);
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
    //  In the order the groups became due. A member that fails is only
    //  closed (freed by hrg_sse_reap), so the members stay put meanwhile.
    for (hr_list_t *node; (node = hr_list_first (&worker->dirty_groups)); ) {
        hr_list_remove (node);
        hrg_group_t *self = hr_list_entry (node, hrg_group_t, dirty_node);
        self->dirty = false;
        self->last_write_ms = now_ms;
        for (hr_list_t *member = hr_list_first (&self->members); member;
             member = hr_list_next (&self->members, member))
            hrg_sse_flush (hr_list_entry (member, hrg_conn_t, group_node));
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
