/*  hrb_store: where a broker keeps each channel's recent events.

    An interface, so a durable store can replace the memory one without
    touching sequencing (docs/architecture.md §4). A store hands out one history
    handle per channel; events are appended in seq order and read back as
    encoded envelopes. Bounds (count, age, memory) are the store's business.

    Ownership: the store owns every history and every stored byte; visitors
    receive views valid only during the call.  */
#ifndef HRB_STORE_H
#define HRB_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct _hrb_history_t hrb_history_t;

//  Called by read for each event, oldest first.
typedef void (hrb_store_visit_fn) (void *arg, uint64_t seq, const void *bytes, size_t size);

typedef struct {
    uint64_t events;            //  events kept, all channels
    uint64_t bytes;             //  bytes kept, including per-event overhead and
                                //  each channel's index of its events
    uint64_t evicted_count;     //  evicted because a channel was over its count
    uint64_t evicted_age;       //  evicted because older than the age bound
    uint64_t evicted_memory;    //  evicted because the store was over its memory cap
} hrb_store_stats_t;

typedef struct _hrb_store_t hrb_store_t;

typedef struct {
    //  Creates an empty history for a channel; the store owns it.
    hrb_history_t *(*open) (hrb_store_t *self);
    //  Drops a history and all its events.
    void (*close) (hrb_store_t *self, hrb_history_t *history);
    //  Appends an event; seq must be one more than the last appended.
    void (*append) (hrb_store_t *self, hrb_history_t *history, uint64_t seq,
                    uint64_t ts, const void *bytes, size_t size);
    //  Oldest seq kept, or 0 when the history is empty.
    uint64_t (*first) (hrb_store_t *self, hrb_history_t *history);
    //  Visits up to limit events with seq > since; returns how many.
    size_t (*read) (hrb_store_t *self, hrb_history_t *history, uint64_t since,
                    size_t limit, hrb_store_visit_fn *visit, void *arg);
    //  Evicts events older than the age bound, given the wall clock in ms,
    //  at most budget of them (the rest wait for the next call). Returns
    //  how many were evicted.
    size_t (*expire) (hrb_store_t *self, uint64_t now_ms, size_t budget);
    void (*stats) (hrb_store_t *self, hrb_store_stats_t *stats);
    void (*destroy) (hrb_store_t **self_p);
} hrb_store_ops_t;

//  Every store starts with its ops, so callers dispatch through store->ops.
struct _hrb_store_t {
    const hrb_store_ops_t *ops;
};

//  The in-memory store: at most max_count events per channel, none older
//  than max_age_ms, at most max_bytes in all (oldest evicted first).
//  Caller owns the store; destroy with store->ops->destroy (&store).
hrb_store_t *hrb_store_mem_new (size_t max_count, uint64_t max_age_ms, uint64_t max_bytes);

#endif
