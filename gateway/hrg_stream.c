/*  hrg_stream: a subscription's life: open, render view, free. Catching
    up (resume) is hrg_catchup.c.  */
#include "hrg_stream.h"

#include <string.h>

static void
s_on_change (hrg_listener_t *listener)
{
    hrg_stream_catch_up (hr_list_entry (listener, hrg_stream_t, listener));
}

static const hrg_listener_ops_t s_listener_ops = { .on_change = s_on_change };

void
hrg_stream_init (hrg_stream_t *self, hrg_conn_t *conn, hr_chanset_t *set,
                 hr_position_t *positions, bool fresh)
{
    hrg_worker_t *worker = conn->worker;
    memset (self, 0, sizeof *self);
    self->conn = conn;
    self->set = set;
    self->positions = positions;
    self->fresh = fresh;
    self->listener.ops = &s_listener_ops;
    self->catchup = hr_calloc (set->count, sizeof *self->catchup);
    self->channels = hr_calloc (set->count, sizeof *self->channels);
    for (size_t i = 0; i < set->count; i++) {
        self->channels [i] = hrg_channel_acquire (worker, set->names [i]);
        hr_vec_push (&self->channels [i]->waiters, &self->listener);
    }
    conn->catching++;
    hr_metrics_add_to (worker->shard, worker->m->subscriptions, (int64_t) set->count);
    if (!fresh)
        hr_metrics_inc (worker->shard, worker->m->resumes);
}

hrg_stream_t *
hrg_stream_new (hrg_conn_t *conn, hr_chanset_t *set, hr_position_t *positions, bool fresh)
{
    hrg_stream_t *self = hr_malloc (sizeof *self);
    hrg_stream_init (self, conn, set, positions, fresh);
    return self;
}

void
hrg_stream_fini (hrg_stream_t *self)
{
    hrg_worker_t *worker = self->conn->worker;
    size_t count = self->set->count;
    if (self->member.group) {
        hrg_group_leave (&self->member);
        self->set = NULL;           //  it was the group's
    }
    else {
        for (size_t i = 0; i < count; i++)
            hr_vec_remove (&self->channels [i]->waiters, &self->listener);
        hrg_stream_catchup_free (self);
        hr_chanset_destroy (&self->set);
    }
    for (size_t i = 0; i < count; i++)
        hrg_channel_release (self->channels [i]);
    hr_metrics_add_to (worker->shard, worker->m->subscriptions, -(int64_t) count);
    free (self->channels);
    self->channels = NULL;
    free (self->positions);
    self->positions = NULL;
}

void
hrg_stream_destroy (hrg_stream_t **self_p)
{
    hrg_stream_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    hrg_stream_fini (self);
    free (self);
}

void
hrg_stream_view (const hrg_stream_t *self, hrg_view_t *view, const char **epochs,
                 uint64_t *seqs, size_t index)
{
    for (size_t i = 0; i < self->set->count; i++) {
        const hr_position_t *pos = &self->positions [i];
        epochs [i] = pos->epoch_len? pos->epoch: NULL;
        seqs [i] = pos->seq;
    }
    *view = (hrg_view_t) { .set = self->set, .epochs = epochs, .seqs = seqs, .index = index };
}
