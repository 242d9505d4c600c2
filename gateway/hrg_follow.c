/*  hrg_follow: the followed view behind a mutex, the workers' connected
    brokers in atomics (hrg_follow.h).  */
#include "hrg_follow.h"
#include "hr_buf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct _hrg_follow_t {
    hr_cluster_t *cluster;
    pthread_mutex_t lock;           //  guards view
    hr_view_msg_t view;             //  the highest view heard
    _Atomic uint64_t generation;    //  moves with view
    int workers;
    _Atomic hr_members_t *connected;    //  per worker
};

hrg_follow_t *
hrg_follow_new (hr_cluster_t **cluster_p, int workers)
{
    hrg_follow_t *self = hr_calloc (1, sizeof *self);
    self->cluster = *cluster_p;
    *cluster_p = NULL;
    pthread_mutex_init (&self->lock, NULL);
    self->view.from = -1;
    self->workers = workers;
    self->connected = hr_calloc ((size_t) workers, sizeof *self->connected);
    return self;
}

void
hrg_follow_destroy (hrg_follow_t **self_p)
{
    hrg_follow_t *self = *self_p;
    if (!self)
        return;
    hr_cluster_destroy (&self->cluster);
    pthread_mutex_destroy (&self->lock);
    free ((void *) self->connected);
    free (self);
    *self_p = NULL;
}

const hr_cluster_t *
hrg_follow_cluster (const hrg_follow_t *self)
{
    return self->cluster;
}

bool
hrg_follow_offer (hrg_follow_t *self, const hr_view_msg_t *view)
{
    //  Most announcements repeat the view followed: no lock for those
    hr_view_msg_t current;
    hrg_follow_view (self, &current);
    if (view->number <= current.number)
        return false;
    pthread_mutex_lock (&self->lock);
    //  Another worker may have offered a newer one meanwhile
    bool newer = view->number > self->view.number;
    if (newer) {
        self->view = *view;
        atomic_fetch_add_explicit (&self->generation, 1, memory_order_release);
    }
    pthread_mutex_unlock (&self->lock);
    return newer;
}

uint64_t
hrg_follow_generation (hrg_follow_t *self)
{
    return atomic_load_explicit (&self->generation, memory_order_acquire);
}

uint64_t
hrg_follow_view (hrg_follow_t *self, hr_view_msg_t *view)
{
    pthread_mutex_lock (&self->lock);
    *view = self->view;
    uint64_t generation = atomic_load_explicit (&self->generation, memory_order_relaxed);
    pthread_mutex_unlock (&self->lock);
    return generation;
}

void
hrg_follow_set_connected (hrg_follow_t *self, int worker, hr_members_t connected)
{
    atomic_store (&self->connected [worker], connected);
}

hr_members_t
hrg_follow_connected (hrg_follow_t *self)
{
    hr_members_t all = hr_cluster_all (self->cluster);
    for (int i = 0; i < self->workers; i++)
        all &= atomic_load (&self->connected [i]);
    return all;
}

static size_t
s_count (hr_members_t set)
{
    return (size_t) __builtin_popcount (set);
}

bool
hrg_follow_ready (hrg_follow_t *self, hr_buf_t *why)
{
    size_t majority = hr_cluster_majority (self->cluster);
    size_t least = hr_cluster_size (self->cluster);
    for (int i = 0; i < self->workers; i++) {
        size_t count = s_count (atomic_load (&self->connected [i]));
        if (count < least)
            least = count;
    }
    hr_view_msg_t view;
    hrg_follow_view (self, &view);
    bool ready = least >= majority && view.number > 0;
    if (!ready && why) {
        if (least < majority)
            hr_buf_printf (why, "connected to %zu of %zu brokers, a majority is %zu",
                           least, hr_cluster_size (self->cluster), majority);
        if (view.number == 0)
            hr_buf_printf (why, "%sno view heard from any broker yet",
                           least < majority? "; ": "");
    }
    return ready;
}

void
hrg_follow_status (hrg_follow_t *self, hr_cluster_status_t *status)
{
    hr_view_msg_t view;
    hrg_follow_view (self, &view);
    *status = (hr_cluster_status_t) {
        .number = view.number, .members = view.members, .owners = view.owners,
        .handoff = view.handoff, .up = hrg_follow_connected (self), .self = -1 };
}
