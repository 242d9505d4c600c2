/*  hrg_fetch: shared history pages for catch-up, and the worker's
    catch-up memory cap with its FIFO of waiters.  */
#include "hrg_fetch.h"
#include "hrg_links.h"
#include "hr_epoch.h"
#include "hr_mpack.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Without a size estimate, a first page asks for this many events.
#define S_FIRST_PAGE 16

//  Someone holding the page; fn is the callback still owed (NULL once
//  called, or when the page was ready when they asked); arg NULL: a holder
//  that released while callbacks were being called (removed after).
typedef struct {
    hrg_page_fn *fn;
    void *arg;
} s_holder_t;

struct _hrg_page_t {
    hrg_worker_t *worker;
    char key [HR_CHANNEL_MAX + HR_EPOCH_MAX + 32];     //  "since|epoch|ch"
    uint64_t rid;               //  in flight: the broker request
    bool ready;
    uint64_t since, budget;
    hr_reset_t reset;
    char epoch [HR_EPOCH_MAX + 1];
    char asked [HR_EPOCH_MAX + 1];      //  the epoch asked for ("" for any)
    bool stale;                 //  answered from an older epoch than asked
    bool listed;                //  in worker->pages, to be shared
    uint64_t first, head;
    hrg_event_t **events;
    size_t count;
    uint64_t bytes;             //  counted in the worker's catchup_bytes
    s_holder_t *holders;
    size_t holder_count, holder_cap;
    size_t live;                //  holders that have not released
    bool dispatching;           //  calling the holders' callbacks
};

//  A probe (limit 0: does the position exist?) is never shared with a
//  fetch of events, which would get no events from it.
static void
s_key (char *key, size_t size, const char *ch, const char *epoch, uint64_t since,
       bool probe)
{
    snprintf (key, size, "%llu%s|%s|%s", (unsigned long long) since, probe? "?": "",
              epoch? epoch: "", ch);
}

//  What an event kept in a page costs.
static uint64_t
s_event_bytes (const hrg_event_t *ev)
{
    return sizeof *ev + ev->json_len + 1 + sizeof ev;
}

void
hrg_fetch_hold (hrg_worker_t *worker, int64_t delta)
{
    //  A release below zero is a broken invariant, not input
    assert (delta >= 0 || worker->catchup_bytes >= (uint64_t) -delta);
    worker->catchup_bytes += (uint64_t) delta;
    hr_metrics_add_to (worker->shard, worker->m->catchup_bytes, delta);
}

uint64_t
hrg_fetch_budget (hrg_worker_t *worker)
{
    return (uint64_t) worker->config->slow_consumer_bytes / 2;
}

bool
hrg_fetch_over_cap (hrg_worker_t *worker)
{
    return worker->catchup_bytes >= (uint64_t) worker->config->catchup_memory;
}

uint64_t
hrg_fetch_limit (uint64_t budget, uint64_t avg, uint64_t remaining)
{
    uint64_t limit = avg? budget / avg: S_FIRST_PAGE;
    if (limit > remaining)
        limit = remaining;
    if (limit > HR_HISTORY_LIMIT_MAX)
        limit = HR_HISTORY_LIMIT_MAX;
    return limit? limit: 1;
}

static void
s_add_holder (hrg_page_t *self, hrg_page_fn *fn, void *arg)
{
    if (self->holder_count == self->holder_cap) {
        self->holder_cap = self->holder_cap? self->holder_cap * 2: 2;
        s_holder_t *holders = realloc (self->holders, self->holder_cap * sizeof *holders);
        if (!holders)
            abort ();
        self->holders = holders;
    }
    self->holders [self->holder_count++] = (s_holder_t) { fn, arg };
    self->live++;
}

static void
s_free (hrg_page_t *self)
{
    hrg_worker_t *worker = self->worker;
    if (self->rid)
        hrg_links_cancel (worker, self->rid);
    if (self->listed)
        zhashx_delete (worker->pages, self->key);
    if (worker->pages && zhashx_size (worker->pages) == 0)
        zhashx_destroy (&worker->pages);        //  most workers fetch rarely
    for (size_t i = 0; i < self->count; i++)
        hrg_event_release (self->events [i]);
    hrg_fetch_hold (worker, -(int64_t) self->bytes);
    free (self->events);
    free (self->holders);
    free (self);
}

//  Keeps the reply's events of its epoch, in order, up to about the budget.
static void
s_keep_events (hrg_page_t *self, zmq_msg_t *frames, size_t count)
{
    self->events = hr_calloc (count? count: 1, sizeof *self->events);
    uint64_t bytes = 0;
    for (size_t i = 0; i < count && (bytes < self->budget || self->count == 0); i++) {
        hr_error_t error;
        hrg_event_t *ev = hrg_event_decode (zmq_msg_data (&frames [i]),
                                            zmq_msg_size (&frames [i]), &error);
        if (!ev || ev->head || strcmp (ev->epoch, self->epoch) != 0) {
            hrg_event_release (ev);
            continue;
        }
        bytes += s_event_bytes (ev);
        self->events [self->count++] = ev;
    }
    //  The reservation made at the request becomes what is really held
    hrg_fetch_hold (self->worker, (int64_t) bytes - (int64_t) self->bytes);
    self->bytes = bytes;
}

static void
s_on_reply (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames,
            size_t count)
{
    hrg_page_t *self = arg;
    self->rid = 0;
    self->ready = true;
    if (!reply || reply->error)
        self->reset = HR_RESET_UNAVAILABLE;
    else {
        self->reset = reply->reset;
        self->first = reply->first;
        self->head = reply->head;
        if (reply->epoch)
            snprintf (self->epoch, sizeof self->epoch, "%.*s", (int) reply->epoch_len,
                      reply->epoch);
        //  A broker that lags answers from an older epoch (with a reset):
        //  nothing of it is kept or shared; whoever holds it asks again
        self->stale = hr_epoch_older (self->epoch, strlen (self->epoch),
                                      self->asked, strlen (self->asked));
        if (self->stale) {
            hr_metrics_inc (self->worker->shard, self->worker->m->stale_epochs);
            self->reset = HR_RESET_UNAVAILABLE;
            zhashx_delete (self->worker->pages, self->key);
            self->listed = false;
        }
        if (!self->reset)
            s_keep_events (self, frames, count);
    }
    if (self->reset) {
        hrg_fetch_hold (self->worker, -(int64_t) self->bytes);
        self->bytes = 0;
    }
    //  A callback may release its holder (left in place until the end, so
    //  indexes stay valid) or add holders (appended, owed nothing).
    self->dispatching = true;
    for (size_t i = 0; i < self->holder_count; i++)
        if (self->holders [i].fn && self->holders [i].arg) {
            hrg_page_fn *fn = self->holders [i].fn;
            self->holders [i].fn = NULL;
            fn (self->holders [i].arg, self);
        }
    self->dispatching = false;
    size_t kept = 0;
    for (size_t i = 0; i < self->holder_count; i++)
        if (self->holders [i].arg)
            self->holders [kept++] = self->holders [i];
    self->holder_count = kept;
    if (self->live == 0)
        s_free (self);
}

bool
hrg_page_exists (hrg_worker_t *worker, const char *ch, const char *epoch, uint64_t since,
                 uint64_t limit)
{
    char key [HR_CHANNEL_MAX + HR_EPOCH_MAX + 32];
    s_key (key, sizeof key, ch, epoch, since, limit == 0);
    return worker->pages && zhashx_lookup (worker->pages, key);
}

hrg_page_t *
hrg_page_get (hrg_worker_t *worker, const char *ch, const char *epoch, uint64_t since,
              uint64_t limit, uint64_t budget, hrg_page_fn *fn, void *arg)
{
    char key [HR_CHANNEL_MAX + HR_EPOCH_MAX + 32];
    s_key (key, sizeof key, ch, epoch, since, limit == 0);
    hrg_page_t *self = worker->pages? zhashx_lookup (worker->pages, key): NULL;
    if (self) {
        hr_metrics_inc (worker->shard, worker->m->catchup_shared);
        s_add_holder (self, self->ready? NULL: fn, arg);
        return self;
    }
    self = hr_calloc (1, sizeof *self);
    self->worker = worker;
    memcpy (self->key, key, sizeof self->key);
    self->since = since;
    self->budget = budget;
    snprintf (self->asked, sizeof self->asked, "%s", epoch? epoch: "");
    self->rid = hrg_link_history (hrg_links_pick (worker, ch, strlen (ch)), ch, epoch, since,
                                  limit, s_on_reply, self);
    if (!self->rid) {
        free (self);
        return NULL;
    }
    if (!worker->pages)
        worker->pages = zhashx_new ();
    zhashx_insert (worker->pages, self->key, self);
    self->listed = true;
    hr_metrics_inc (worker->shard, worker->m->catchup_fetches);
    self->bytes = budget;                       //  reserved until the reply
    hrg_fetch_hold (worker, (int64_t) budget);
    s_add_holder (self, fn, arg);
    return self;
}

void
hrg_page_release (hrg_page_t **page_p, void *arg)
{
    hrg_page_t *self = *page_p;
    if (!self)
        return;
    *page_p = NULL;
    size_t i = 0;
    while (i < self->holder_count && self->holders [i].arg != arg)
        i++;
    assert (i < self->holder_count);            //  released more than taken
    self->live--;
    if (self->dispatching)
        self->holders [i] = (s_holder_t) { NULL, NULL };
    else {
        self->holders [i] = self->holders [--self->holder_count];
        if (self->live == 0)
            s_free (self);
    }
}

bool
hrg_page_ready (const hrg_page_t *self)
{
    return self->ready;
}

bool
hrg_page_stale (const hrg_page_t *self)
{
    return self->stale;
}

hr_reset_t
hrg_page_reset (const hrg_page_t *self)
{
    return self->reset;
}

const char *
hrg_page_epoch (const hrg_page_t *self)
{
    return self->epoch;
}

uint64_t
hrg_page_since (const hrg_page_t *self)
{
    return self->since;
}

uint64_t
hrg_page_first (const hrg_page_t *self)
{
    return self->first;
}

uint64_t
hrg_page_head (const hrg_page_t *self)
{
    return self->head;
}

size_t
hrg_page_count (const hrg_page_t *self)
{
    return self->count;
}

hrg_event_t *
hrg_page_event (const hrg_page_t *self, size_t index)
{
    assert (index < self->count);
    return self->events [index];
}

uint64_t
hrg_page_bytes (const hrg_page_t *self)
{
    return self->bytes;
}

void
hrg_fetch_wait (hrg_worker_t *worker, hrg_waiter_t *self)
{
    if (self->queued)
        return;
    self->queued = true;
    hr_list_push_back (&worker->waiting, &self->node);
    hr_metrics_add_to (worker->shard, worker->m->catchup_waiting, 1);
}

void
hrg_fetch_unwait (hrg_worker_t *worker, hrg_waiter_t *self)
{
    if (!self->queued)
        return;
    hr_list_remove (&self->node);
    self->queued = false;
    hr_metrics_add_to (worker->shard, worker->m->catchup_waiting, -1);
}

bool
hrg_fetch_admittable (hrg_worker_t *worker)
{
    return !hr_list_empty (&worker->waiting) && !hrg_fetch_over_cap (worker);
}

void
hrg_fetch_admit (hrg_worker_t *worker)
{
    hr_list_t *node = hr_list_first (&worker->waiting);
    if (node && !hrg_fetch_over_cap (worker)) {
        hrg_waiter_t *first = hr_list_entry (node, hrg_waiter_t, node);
        hrg_fetch_unwait (worker, first);
        first->admitted = true;
        first->fn (first->arg);
    }
}

void
hrg_fetch_admit_all (hrg_worker_t *worker)
{
    for (hr_list_t *node; (node = hr_list_first (&worker->waiting)); ) {
        hrg_waiter_t *first = hr_list_entry (node, hrg_waiter_t, node);
        hrg_fetch_unwait (worker, first);
        first->admitted = true;
        first->fn (first->arg);
    }
}
