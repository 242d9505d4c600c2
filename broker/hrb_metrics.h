/*  hrb_metrics: the broker's metrics (docs/operations.md), registered once
    and updated by the broker thread through its own shard.  */
#ifndef HRB_METRICS_H
#define HRB_METRICS_H

#include "hr_metrics.h"
#include "hrb_store.h"

#include <stdint.h>

//  HRB_M_INGEST_ERRORS is labeled by error code (label i = hr_error_t i + 1),
//  HRB_M_EVICTED by bound (0 count, 1 age, 2 memory or disk).
typedef enum {
    HRB_M_PUBLISHED,
    HRB_M_DUPLICATES,
    HRB_M_INGEST_ERRORS,
    HRB_M_HISTORY_REQUESTS,
    HRB_M_SUBSCRIPTIONS,
    HRB_M_CHANNELS,
    HRB_M_HISTORY_EVENTS,
    HRB_M_HISTORY_BYTES,
    HRB_M_EVICTED,
    HRB_M_DEDUPE_KEYS,
    HRB_M_DEDUPE_BYTES,
    HRB_M_DEDUPE_DROPPED,
    HRB_M_CHANNEL_BYTES,
    HRB_M_CHANNELS_REFUSED,
    HRB_M_CHANNELS_REPLACED,
    HRB_M_REPLY_BYTES,
    HRB_M_REPLIES_CUT,
    HRB_M_REVOCATIONS,
    HRB_M_REVOCATION_BYTES,
    HRB_M_CURVE_REFUSED,
    HRB_M_HISTORY_QUEUE,
    HRB_M_HISTORY_COALESCED,
    HRB_M_HISTORY_QUEUE_FULL,
    //  The durable store (--data-dir; 0 without), set by hrb_metrics_store
    HRB_M_STORE_DISK_BYTES,
    HRB_M_STORE_MAP_BYTES,
    HRB_M_STORE_COMMITS,
    HRB_M_STORE_COMMIT_US,
    HRB_M_STORE_COMMIT_MAX_US,
    HRB_M_STORE_FSYNCS,
    HRB_M_STORE_FAILURES,
    HRB_M_STORE_RECOVERED,      //  labeled by epoch (0 kept, 1 new)
    HRB_M_COUNT
} hrb_metric_t;

typedef struct _hrb_metrics_t hrb_metrics_t;

//  Registers the broker's series in metrics (not owned; it must outlive
//  the result) and takes a shard for the calling thread, the only one that
//  may update them. Caller owns the result.
hrb_metrics_t *hrb_metrics_new (hr_metrics_t *metrics);

void hrb_metrics_destroy (hrb_metrics_t **self_p);

//  Counts one more of a counter; _at: of a labeled family's label.
void hrb_metrics_inc (hrb_metrics_t *self, hrb_metric_t which);
void hrb_metrics_inc_at (hrb_metrics_t *self, hrb_metric_t which, int label);

//  Sets a gauge (or a counter kept elsewhere); _at: a labeled family's label.
void hrb_metrics_set (hrb_metrics_t *self, hrb_metric_t which, int64_t value);
void hrb_metrics_set_at (hrb_metrics_t *self, hrb_metric_t which, int label, int64_t value);

//  Sets the durable store's series from its stats.
void hrb_metrics_store (hrb_metrics_t *self, const hrb_store_stats_t *stats);

#endif
