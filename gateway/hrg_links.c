/*  hrg_links: a worker's links to its brokers, and the choice of one per
    request (hrg_links.h).  */
#include "hrg_links.h"
#include "hr_log.h"

#include <stdio.h>
#include <stdlib.h>

//  Monitor endpoints of cluster links start here (inproc://herald-link-N):
//  clear of a single broker's links, which are numbered by worker.
#define S_CLUSTER_LINK_IDS 1000

struct _hrg_links_t {
    hrg_link_t *links [HR_CLUSTER_MAX];
    size_t count;
    hrg_follow_t *follow;           //  NULL: one broker, no cluster file
    hr_members_t connected;         //  as of the last hrg_links_update
    uint64_t generation;            //  of the view copied into owners
    hr_members_t owners;            //  the followed view's; every broker before one
};

hrg_links_t *
hrg_links_new (void *zmq_ctx, const hrg_config_t *config, hrg_follow_t *follow, int index,
               hr_buf_t *err)
{
    hrg_links_t *self = hr_calloc (1, sizeof *self);
    self->follow = follow;
    const hr_cluster_t *cluster = follow? hrg_follow_cluster (follow): NULL;
    size_t count = cluster? hr_cluster_size (cluster): 1;
    self->owners = cluster? hr_cluster_all (cluster): 1;
    for (size_t i = 0; i < count; i++) {
        const char *endpoint = cluster? hr_cluster_node (cluster, i)->router: config->broker_req;
        int id = cluster? S_CLUSTER_LINK_IDS + index * HR_CLUSTER_MAX + (int) i: index;
        self->links [i] = hrg_link_new (zmq_ctx, endpoint, config->curve_server_key,
                                        config->curve_secret, (uint64_t) config->broker_timeout,
                                        id, err);
        if (!self->links [i]) {
            hrg_links_destroy (&self);
            return NULL;
        }
        self->count++;
        hrg_link_number_rids (self->links [i], i + 1, count);
    }
    return self;
}

void
hrg_links_destroy (hrg_links_t **self_p)
{
    hrg_links_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        hrg_link_destroy (&self->links [i]);
    free (self);
    *self_p = NULL;
}

size_t
hrg_links_count (const hrg_links_t *self)
{
    return self->count;
}

hrg_link_t *
hrg_links_at (const hrg_links_t *self, size_t i)
{
    return i < self->count? self->links [i]: NULL;
}

static void
s_log_changes (const hr_cluster_t *cluster, hr_members_t before, hr_members_t after)
{
    for (size_t i = 0; i < hr_cluster_size (cluster); i++) {
        hr_members_t bit = (hr_members_t) 1 << i;
        if ((before ^ after) & bit)
            hr_log_info (after & bit? "connected to a broker": "lost a broker",
                         "broker", hr_cluster_node (cluster, i)->id,
                         "router", hr_cluster_node (cluster, i)->router);
    }
}

hr_members_t
hrg_links_update (hrg_worker_t *worker)
{
    hrg_links_t *self = worker->links;
    hr_members_t connected = 0;
    for (size_t i = 0; i < self->count; i++)
        if (hrg_link_update (self->links [i]))
            connected |= (hr_members_t) 1 << i;
    if (self->follow) {
        if (connected != self->connected) {
            s_log_changes (hrg_follow_cluster (self->follow), self->connected, connected);
            hrg_follow_set_connected (self->follow, worker->index, connected);
        }
        if (worker->index == 0) {       //  gateway-wide: one writer, else summed
            hr_view_msg_t view;
            hrg_follow_view (self->follow, &view);
            hr_metrics_set (worker->shard, worker->m->cluster_view, (int64_t) view.number);
            hr_metrics_set (worker->shard, worker->m->brokers_connected,
                            __builtin_popcount (hrg_follow_connected (self->follow)));
        }
    }
    self->connected = connected;
    return connected;
}

void
hrg_links_process (hrg_links_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        hrg_link_process (self->links [i]);
}

void
hrg_links_expire (hrg_links_t *self, uint64_t now_ms)
{
    for (size_t i = 0; i < self->count; i++)
        hrg_link_expire (self->links [i], now_ms);
}

uint64_t
hrg_links_next_deadline (hrg_links_t *self)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < self->count; i++) {
        uint64_t deadline = hrg_link_next_deadline (self->links [i]);
        if (deadline < next)
            next = deadline;
    }
    return next;
}

bool
hrg_links_readable (hrg_links_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (hrg_link_readable (self->links [i]))
            return true;
    return false;
}

uint64_t
hrg_links_retries (hrg_links_t *self)
{
    uint64_t retries = 0;
    for (size_t i = 0; i < self->count; i++)
        retries += hrg_link_retries (self->links [i]);
    return retries;
}

//  The first connected link, else link 0 (whose request then fails at
//  once, or waits for a connection if it may: a gateway just started).
static hrg_link_t *
s_any (hrg_links_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->connected & ((hr_members_t) 1 << i))
            return self->links [i];
    return self->links [0];
}

hrg_link_t *
hrg_links_pick (hrg_worker_t *worker, const char *ch, size_t len)
{
    hrg_links_t *self = worker->links;
    if (!self)
        return worker->link;
    if (!self->follow)
        return self->links [0];
    //  A relaxed read on every request; the view is copied when it moved
    uint64_t generation = hrg_follow_generation (self->follow);
    if (generation != self->generation) {
        hr_view_msg_t view;
        self->generation = hrg_follow_view (self->follow, &view);
        if (view.number > 0)
            self->owners = view.owners;
    }
    int order [HR_CLUSTER_MAX];
    size_t count = hr_cluster_order (hrg_follow_cluster (self->follow), ch, len,
                                     self->owners, order);
    //  The owner, else its successors: the backup is the likeliest next owner
    for (size_t i = 0; i < count; i++)
        if (self->connected & ((hr_members_t) 1 << order [i]))
            return self->links [order [i]];
    //  No owner reachable: a connected broker answers (forwards, or
    //  says `unavailable`); with none, the owner's link refuses at once
    if (self->connected || count == 0)
        return s_any (self);
    return self->links [order [0]];
}

hrg_link_t *
hrg_links_any (hrg_worker_t *worker)
{
    return worker->links? s_any (worker->links): worker->link;
}

void
hrg_links_cancel (hrg_worker_t *worker, uint64_t rid)
{
    hrg_links_t *self = worker->links;
    if (!self)
        hrg_link_cancel (worker->link, rid);
    else
    if (rid > 0)
        hrg_link_cancel (self->links [(rid - 1) % self->count], rid);
}

void
hrg_links_on_view (hrg_worker_t *worker, const void *body, size_t size)
{
    hrg_links_t *self = worker->links;
    if (!self || !self->follow)
        return;
    hr_view_msg_t view;
    const hr_cluster_t *cluster = hrg_follow_cluster (self->follow);
    hr_error_t rc = hr_view_msg_decode (cluster, body, size, &view);
    if (rc) {
        hr_metrics_inc (worker->shard, worker->m->view_bad);
        hr_log_limited_warn ("bad view announcement on a broker stream: ignored",
                             "error", hr_error_code (rc));
        return;
    }
    if (hrg_follow_offer (self->follow, &view)) {
        hr_metrics_inc (worker->shard, worker->m->view_changes);
        char number [24];
        snprintf (number, sizeof number, "%llu", (unsigned long long) view.number);
        hr_log_info ("following a new view", "view", number,
                     "from", hr_cluster_node (cluster, (size_t) view.from)->id);
    }
}
