/*  hr_metrics: a small metrics registry rendered in Prometheus text format.

    Series are registered once at start-up (a family may have one label
    with a fixed set of values, e.g. errors by code). Each thread that
    updates metrics owns a shard: updates are single-writer relaxed atomic
    stores, so the delivery path takes no lock and no locked instruction.
    Rendering sums every shard.  */
#ifndef HR_METRICS_H
#define HR_METRICS_H

#include "hr_buf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define HR_METRICS_MAX 256

typedef enum { HR_METRIC_COUNTER, HR_METRIC_GAUGE } hr_metric_type_t;

typedef struct _hr_metrics_t hr_metrics_t;

typedef struct {
    _Atomic uint64_t values [HR_METRICS_MAX];
} hr_metrics_shard_t;

//  Creates an empty registry. Caller owns it; destroy after all threads stop.
hr_metrics_t *hr_metrics_new (void);
void hr_metrics_destroy (hr_metrics_t **self_p);

//  Registers a series and returns its id (-1 if the registry is full).
//  Registering an existing name returns the existing id.
int hr_metrics_add (hr_metrics_t *self, const char *name, hr_metric_type_t type,
                    const char *help);

//  Registers a family with one label taking count fixed values; returns
//  the id of values[0] (value i is id + i), or -1 if full.
int hr_metrics_add_labeled (hr_metrics_t *self, const char *name,
                            hr_metric_type_t type, const char *help,
                            const char *label, const char *const *values, int count);

//  Returns a new zeroed shard for one thread; the registry owns it.
hr_metrics_shard_t *hr_metrics_shard (hr_metrics_t *self);

//  Adds delta (may be negative for gauges) to a series in the caller's shard.
//  Only the shard's owning thread may call this.
static inline void
hr_metrics_add_to (hr_metrics_shard_t *shard, int id, int64_t delta)
{
    if (shard && id >= 0) {
        uint64_t now = atomic_load_explicit (&shard->values [id], memory_order_relaxed);
        atomic_store_explicit (&shard->values [id], now + (uint64_t) delta,
                               memory_order_relaxed);
    }
}

static inline void
hr_metrics_inc (hr_metrics_shard_t *shard, int id)
{
    hr_metrics_add_to (shard, id, 1);
}

//  Sets a gauge in the caller's shard.
static inline void
hr_metrics_set (hr_metrics_shard_t *shard, int id, int64_t value)
{
    if (shard && id >= 0)
        atomic_store_explicit (&shard->values [id], (uint64_t) value, memory_order_relaxed);
}

//  Sum of a series over all shards.
int64_t hr_metrics_value (hr_metrics_t *self, int id);

//  Appends every series in Prometheus text format 0.0.4.
void hr_metrics_render (hr_metrics_t *self, hr_buf_t *out);

#endif
