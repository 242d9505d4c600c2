/*  hrb_store_mem: the in-memory history store.

    Each event is one allocation holding its envelope bytes. A channel's
    events sit in a ring of pointers (O(1) lookup by seq, since seqs are
    contiguous); all events also sit on one global list in arrival order,
    which is both age order and the memory cap's eviction order. Evicting
    the global oldest event always removes the oldest of its channel.
    Rings double as they fill and halve when a quarter full, and count
    against the memory cap, so a channel that once held many events does
    not keep its large ring.

    Nothing outlives the process: open always finds an empty channel,
    commit has nothing to make durable and never fails, keys are left to
    hrb_dedupe, and release frees like drop.  */
#include "hrb_store.h"
#include "hr_buf.h"
#include "hr_time.h"

#include <stdlib.h>
#include <string.h>

//  Per-event bookkeeping counted against the memory cap.
#define S_OVERHEAD 64

typedef struct _s_node_t s_node_t;
struct _s_node_t {
    s_node_t *prev, *next;      //  global arrival order
    hrb_history_t *owner;
    uint64_t seq;
    uint64_t stamp;             //  store->clock at the append: the age bound's
    size_t size;
    uint8_t bytes [];
};

struct _hrb_history_t {
    s_node_t **ring;            //  capacity is a power of two
    size_t capacity;
    size_t start;               //  ring index of the oldest event
    size_t count;
};

typedef struct {
    hrb_store_t base;
    size_t max_count;
    uint64_t max_age_ms;
    uint64_t max_bytes;
    s_node_t *oldest, *newest;
    hrb_store_stats_t stats;
    uint64_t view, batch_view;  //  the view mark: committed, and in the batch
} s_store_t;

static hrb_history_t *
s_open (hrb_store_t *base, const char *name, size_t len, hrb_store_state_t *state)
{
    memset (state, 0, sizeof *state);
    return hr_calloc (1, sizeof (hrb_history_t));
}

static void
s_unlink (s_store_t *self, s_node_t *node)
{
    if (node->prev)
        node->prev->next = node->next;
    else
        self->oldest = node->next;
    if (node->next)
        node->next->prev = node->prev;
    else
        self->newest = node->prev;
    self->stats.events--;
    self->stats.bytes -= node->size + S_OVERHEAD;
}

//  Smallest ring: a channel with events holds at least this many slots.
#define S_RING_MIN 8

//  Moves a history's events to a ring of capacity slots (0: none).
static void
s_resize (s_store_t *self, hrb_history_t *history, size_t capacity)
{
    s_node_t **ring = capacity? hr_calloc (capacity, sizeof *ring): NULL;
    for (size_t i = 0; i < history->count; i++)
        ring [i] = history->ring [(history->start + i) & (history->capacity - 1)];
    free (history->ring);
    self->stats.bytes -= history->capacity * sizeof *ring;
    self->stats.bytes += capacity * sizeof *ring;
    history->ring = ring;
    history->capacity = capacity;
    history->start = 0;
}

//  Removes and frees the oldest event of a history.
static void
s_pop (s_store_t *self, hrb_history_t *history)
{
    s_node_t *node = history->ring [history->start];
    history->ring [history->start] = NULL;
    history->start = (history->start + 1) & (history->capacity - 1);
    history->count--;
    s_unlink (self, node);
    free (node);
    if (history->count == 0)
        s_resize (self, history, 0);
    else
    if (history->capacity > S_RING_MIN && history->count <= history->capacity / 4)
        s_resize (self, history, history->capacity / 2);
}

//  Drops every event of a history.
static void
s_clear (s_store_t *self, hrb_history_t *history)
{
    while (history->count)
        s_pop (self, history);
}

static void
s_drop (hrb_store_t *base, hrb_history_t *history)
{
    s_clear ((s_store_t *) base, history);
    free (history);
}

static hrb_store_rc_t
s_set_epoch (hrb_store_t *base, hrb_history_t *history, const char *epoch, uint64_t head,
             uint64_t now_ms)
{
    s_clear ((s_store_t *) base, history);
    return HRB_STORE_OK;
}

static hrb_store_rc_t
s_append (hrb_store_t *base, hrb_history_t *history, uint64_t seq, uint64_t ts,
          const void *bytes, size_t size)
{
    s_store_t *self = (s_store_t *) base;
    if (self->max_count == 0)
        return HRB_STORE_OK;
    //  One unbroken run of seqs, so that a read can index the ring by seq
    if (history->count
    &&  history->ring [(history->start + history->count - 1) & (history->capacity - 1)]->seq + 1
        != seq)
        s_clear (self, history);
    if (history->count >= self->max_count) {
        s_pop (self, history);
        self->stats.evicted_count++;
    }
    if (history->count == history->capacity)
        s_resize (self, history, history->capacity? history->capacity * 2: S_RING_MIN);
    s_node_t *node = hr_malloc (sizeof *node + size);
    node->owner = history;
    node->seq = seq;
    node->stamp = base->clock ();
    node->size = size;
    memcpy (node->bytes, bytes, size);
    history->ring [(history->start + history->count) & (history->capacity - 1)] = node;
    history->count++;
    node->next = NULL;
    node->prev = self->newest;
    if (self->newest)
        self->newest->next = node;
    else
        self->oldest = node;
    self->newest = node;
    self->stats.events++;
    self->stats.bytes += size + S_OVERHEAD;
    while (self->stats.bytes > self->max_bytes && self->oldest) {
        s_pop (self, self->oldest->owner);
        self->stats.evicted_memory++;
    }
    return HRB_STORE_OK;
}

static hrb_store_rc_t
s_key (hrb_store_t *base, hrb_history_t *history, const char *id, size_t id_len, uint64_t seq)
{
    return HRB_STORE_OK;
}

static hrb_store_rc_t
s_commit (hrb_store_t *base)
{
    s_store_t *self = (s_store_t *) base;
    self->view = self->batch_view;
    return HRB_STORE_OK;
}

static void
s_rollback (hrb_store_t *base)
{
    s_store_t *self = (s_store_t *) base;
    self->batch_view = self->view;
}

static uint64_t
s_view (hrb_store_t *base)
{
    return ((s_store_t *) base)->view;
}

static void
s_set_view (hrb_store_t *base, uint64_t view)
{
    ((s_store_t *) base)->batch_view = view;
}

static uint64_t
s_first (hrb_store_t *base, hrb_history_t *history)
{
    return history->count? history->ring [history->start]->seq: 0;
}

static size_t
s_read (hrb_store_t *base, hrb_history_t *history, uint64_t since, size_t limit,
        hrb_store_visit_fn *visit, void *arg)
{
    if (history->count == 0)
        return 0;
    uint64_t first = history->ring [history->start]->seq;
    uint64_t skip = since >= first? since - first + 1: 0;
    size_t visited = 0;
    for (uint64_t i = skip; i < history->count && visited < limit; i++, visited++) {
        s_node_t *node = history->ring [(history->start + i) & (history->capacity - 1)];
        visit (arg, node->seq, node->bytes, node->size);
    }
    return visited;
}

static size_t
s_expire (hrb_store_t *base, size_t budget)
{
    s_store_t *self = (s_store_t *) base;
    uint64_t now = base->clock ();
    size_t evicted = 0;
    while (evicted < budget && self->oldest
    &&     self->oldest->stamp + self->max_age_ms < now) {
        s_pop (self, self->oldest->owner);
        self->stats.evicted_age++;
        evicted++;
    }
    return evicted;
}

static hrb_store_rc_t
s_scan (hrb_store_t *base, hrb_store_channel_fn *channel, hrb_store_key_fn *key, void *arg,
        hr_buf_t *err)
{
    return HRB_STORE_OK;
}

static void
s_stats (hrb_store_t *base, hrb_store_stats_t *stats)
{
    *stats = ((s_store_t *) base)->stats;
}

static void
s_destroy (hrb_store_t **base_p)
{
    s_store_t *self = (s_store_t *) *base_p;
    if (!self)
        return;
    //  Histories must be released by their owners first; free any stragglers.
    while (self->oldest) {
        s_node_t *node = self->oldest;
        self->oldest = node->next;
        free (node);
    }
    free (self);
    *base_p = NULL;
}

static const hrb_store_ops_t s_ops = {
    .open = s_open, .set_epoch = s_set_epoch, .append = s_append, .key = s_key,
    .commit = s_commit, .rollback = s_rollback, .release = s_drop, .drop = s_drop,
    .first = s_first, .read = s_read, .expire = s_expire, .scan = s_scan, .stats = s_stats,
    .view = s_view, .set_view = s_set_view, .destroy = s_destroy
};

hrb_store_t *
hrb_store_mem_new (size_t max_count, uint64_t max_age_ms, uint64_t max_bytes)
{
    s_store_t *self = hr_calloc (1, sizeof *self);
    self->base.ops = &s_ops;
    self->base.clock = hr_mono_ms;
    self->max_count = max_count;
    self->max_age_ms = max_age_ms;
    self->max_bytes = max_bytes;
    return &self->base;
}
