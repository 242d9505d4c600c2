/*  hrb_metrics: the broker's metrics (see the header).  */
#include "hrb_metrics.h"
#include "hr_error.h"
#include "hr_buf.h"

#include <stdlib.h>

struct _hrb_metrics_t {
    hr_metrics_shard_t *shard;
    int ids [HRB_M_COUNT];      //  series ids; of value 0 for a labeled family
};

static const char *s_evict_reasons [] = { "count", "age", "memory" };
static const char *s_recovered [] = { "kept", "new" };

hrb_metrics_t *
hrb_metrics_new (hr_metrics_t *metrics)
{
    hrb_metrics_t *self = hr_calloc (1, sizeof *self);
    const char *codes [HR_E_COUNT];
    for (int i = 0; i < HR_E_COUNT; i++)
        codes [i] = hr_error_code ((hr_error_t) i);
    self->shard = hr_metrics_shard (metrics);
    self->ids [HRB_M_PUBLISHED] = hr_metrics_add (metrics, "herald_broker_events_total",
        HR_METRIC_COUNTER, "Events sequenced and published by the broker.");
    self->ids [HRB_M_DUPLICATES] = hr_metrics_add (metrics, "herald_broker_duplicates_total",
        HR_METRIC_COUNTER, "Publishes dropped as repeats of an id within the dedupe window.");
    self->ids [HRB_M_INGEST_ERRORS] = hr_metrics_add_labeled (metrics,
        "herald_ingest_errors_total",
        HR_METRIC_COUNTER, "Publish and request frames the broker rejected, by code.",
        "code", codes + 1, HR_E_COUNT - 1);
    self->ids [HRB_M_HISTORY_REQUESTS] = hr_metrics_add (metrics,
        "herald_broker_history_requests_total",
        HR_METRIC_COUNTER, "History queries answered.");
    self->ids [HRB_M_SUBSCRIPTIONS] = hr_metrics_add (metrics, "herald_broker_subscriptions_total",
        HR_METRIC_COUNTER, "Subscriptions received on XPUB (each answered with a head marker).");
    self->ids [HRB_M_CHANNELS] = hr_metrics_add (metrics, "herald_broker_channels",
        HR_METRIC_GAUGE, "Channels the broker sequences.");
    self->ids [HRB_M_HISTORY_EVENTS] = hr_metrics_add (metrics, "herald_history_events",
        HR_METRIC_GAUGE, "Events kept in history, all channels.");
    self->ids [HRB_M_HISTORY_BYTES] = hr_metrics_add (metrics, "herald_history_bytes",
        HR_METRIC_GAUGE, "Bytes of history kept, including per-event overhead and "
        "each channel's index.");
    self->ids [HRB_M_EVICTED] = hr_metrics_add_labeled (metrics, "herald_history_evicted_total",
        HR_METRIC_COUNTER, "Events evicted from history, by bound.", "reason",
        s_evict_reasons, 3);
    self->ids [HRB_M_DEDUPE_KEYS] = hr_metrics_add (metrics, "herald_dedupe_keys",
        HR_METRIC_GAUGE, "Idempotency keys remembered.");
    self->ids [HRB_M_DEDUPE_BYTES] = hr_metrics_add (metrics, "herald_dedupe_bytes",
        HR_METRIC_GAUGE, "Bytes the idempotency keys take (bounded by --dedupe-memory).");
    self->ids [HRB_M_DEDUPE_DROPPED] = hr_metrics_add (metrics, "herald_dedupe_dropped_total",
        HR_METRIC_COUNTER, "Idempotency keys forgotten before their window ended "
        "(over --dedupe-max or --dedupe-memory).");
    self->ids [HRB_M_CHANNEL_BYTES] = hr_metrics_add (metrics, "herald_broker_channel_bytes",
        HR_METRIC_GAUGE, "Bytes the broker's channel records take besides their history.");
    self->ids [HRB_M_CHANNELS_REFUSED] = hr_metrics_add (metrics,
        "herald_broker_channels_refused_total",
        HR_METRIC_COUNTER, "Publishes to a new channel refused at --max-channels.");
    self->ids [HRB_M_CHANNELS_REPLACED] = hr_metrics_add (metrics,
        "herald_broker_channels_replaced_total",
        HR_METRIC_COUNTER, "Channels without history dropped early to make room at --max-channels.");
    self->ids [HRB_M_REPLY_BYTES] = hr_metrics_add (metrics, "herald_broker_reply_bytes",
        HR_METRIC_GAUGE, "Bytes of ROUTER replies queued for clients, all clients.");
    self->ids [HRB_M_REPLIES_CUT] = hr_metrics_add (metrics, "herald_broker_replies_cut_total",
        HR_METRIC_COUNTER, "History replies shortened or refused because the client "
        "had --reply-memory queued.");
    self->ids [HRB_M_REVOCATIONS] = hr_metrics_add (metrics, "herald_revocations",
        HR_METRIC_GAUGE, "Live revocations the broker keeps and sends to gateways.");
    self->ids [HRB_M_REVOCATION_BYTES] = hr_metrics_add (metrics, "herald_revocation_bytes",
        HR_METRIC_GAUGE, "Bytes the revocation list takes (bounded by --revoke-max entries).");
    self->ids [HRB_M_CURVE_REFUSED] = hr_metrics_add (metrics, "herald_curve_refused_total",
        HR_METRIC_COUNTER, "ZeroMQ clients refused by CURVE: their key is not in --curve-clients.");
    self->ids [HRB_M_HISTORY_QUEUE] = hr_metrics_add (metrics, "herald_broker_history_queue",
        HR_METRIC_GAUGE, "History queries waiting for the reader thread or for their "
        "reply to be sent.");
    self->ids [HRB_M_HISTORY_COALESCED] = hr_metrics_add (metrics,
        "herald_broker_history_coalesced_total",
        HR_METRIC_COUNTER, "History queries answered from a read made for an identical "
        "query waiting at the same time.");
    self->ids [HRB_M_HISTORY_QUEUE_FULL] = hr_metrics_add (metrics,
        "herald_broker_history_queue_full_total",
        HR_METRIC_COUNTER, "History queries answered overloaded at once: 10,000 were "
        "already waiting.");
    self->ids [HRB_M_STORE_DISK_BYTES] = hr_metrics_add (metrics, "herald_store_disk_bytes",
        HR_METRIC_GAUGE, "Bytes the durable history's files take on disk (--data-dir).");
    self->ids [HRB_M_STORE_MAP_BYTES] = hr_metrics_add (metrics, "herald_store_map_bytes",
        HR_METRIC_GAUGE, "Size of the durable history's LMDB map (grown as needed).");
    self->ids [HRB_M_STORE_COMMITS] = hr_metrics_add (metrics, "herald_store_commits_total",
        HR_METRIC_COUNTER, "Batches of the durable history committed (one per busy loop turn).");
    self->ids [HRB_M_STORE_COMMIT_US] = hr_metrics_add (metrics,
        "herald_store_commit_microseconds_total",
        HR_METRIC_COUNTER, "Time the broker spent committing batches, in microseconds.");
    self->ids [HRB_M_STORE_COMMIT_MAX_US] = hr_metrics_add (metrics,
        "herald_store_commit_max_microseconds",
        HR_METRIC_GAUGE, "Longest commit since the last update (every 250 ms), in microseconds.");
    self->ids [HRB_M_STORE_FSYNCS] = hr_metrics_add (metrics, "herald_store_fsyncs_total",
        HR_METRIC_COUNTER, "fsyncs of the durable history (per commit with --fsync always, "
        "every --fsync-interval with batch).");
    self->ids [HRB_M_STORE_FAILURES] = hr_metrics_add (metrics, "herald_store_failures_total",
        HR_METRIC_COUNTER, "Batches the durable history could not store (full or I/O error), "
        "whose publishes were refused, and events refused alone (over --history-disk).");
    self->ids [HRB_M_STORE_RECOVERED] = hr_metrics_add_labeled (metrics,
        "herald_store_recovered_channels",
        HR_METRIC_GAUGE, "Channels found in the durable history at start: going on in their "
        "epoch, or in a new one (a crash may have lost events of theirs).", "epoch",
        s_recovered, 2);
    return self;
}

void
hrb_metrics_destroy (hrb_metrics_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

void
hrb_metrics_inc (hrb_metrics_t *self, hrb_metric_t which)
{
    hr_metrics_inc (self->shard, self->ids [which]);
}

void
hrb_metrics_inc_at (hrb_metrics_t *self, hrb_metric_t which, int label)
{
    hr_metrics_inc (self->shard, self->ids [which] + label);
}

void
hrb_metrics_set (hrb_metrics_t *self, hrb_metric_t which, int64_t value)
{
    hr_metrics_set (self->shard, self->ids [which], value);
}

void
hrb_metrics_set_at (hrb_metrics_t *self, hrb_metric_t which, int label, int64_t value)
{
    hr_metrics_set (self->shard, self->ids [which] + label, value);
}

void
hrb_metrics_store (hrb_metrics_t *self, const hrb_store_stats_t *stats)
{
    hrb_metrics_set (self, HRB_M_STORE_DISK_BYTES, (int64_t) stats->disk_bytes);
    hrb_metrics_set (self, HRB_M_STORE_MAP_BYTES, (int64_t) stats->map_bytes);
    hrb_metrics_set (self, HRB_M_STORE_COMMITS, (int64_t) stats->commits);
    hrb_metrics_set (self, HRB_M_STORE_COMMIT_US, (int64_t) stats->commit_us_sum);
    hrb_metrics_set (self, HRB_M_STORE_COMMIT_MAX_US, (int64_t) stats->commit_us_max);
    hrb_metrics_set (self, HRB_M_STORE_FSYNCS, (int64_t) stats->fsyncs);
    hrb_metrics_set (self, HRB_M_STORE_FAILURES, (int64_t) stats->failures);
}
