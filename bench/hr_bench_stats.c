/*  hr_bench_stats.c - counters, latency histogram and per-event fan-out

    The histogram is HdrHistogram's idea at its smallest: a bucket index
    from the top 7 bits of the value, so percentiles stay within 1.6 %
    whatever the range, in a fixed array that merges by addition.
*/
#include <stdlib.h>
#include <string.h>

#include "hr_bench_stats.h"

static uint32_t
s_bucket (uint64_t ns)
{
    uint64_t us = ns / 1000;
    if (us < 128)
        return (uint32_t) us;
    uint32_t msb = 63 - (uint32_t) __builtin_clzll (us);
    uint32_t shift = msb - 6;                       //  keep 7 significant bits
    uint64_t index = 128 + (uint64_t) (shift - 1) * 64 + ((us >> shift) - 64);
    return index < HR_BENCH_HIST_SIZE? (uint32_t) index: HR_BENCH_HIST_SIZE - 1;
}

//  Middle of bucket index, in ns.
static uint64_t
s_bucket_value (uint32_t index)
{
    if (index < 128)
        return (uint64_t) index * 1000 + 500;
    uint32_t shift = (index - 128) / 64 + 1;
    uint64_t low = (uint64_t) (64 + (index - 128) % 64) << shift;
    return (low * 1000) + ((1000ull << shift) / 2);
}

void
hr_bench_hist_add (hr_bench_hist_t *self, uint64_t ns)
{
    self->counts [s_bucket (ns)]++;
    if (self->total == 0 || ns < self->min_ns)
        self->min_ns = ns;
    if (ns > self->max_ns)
        self->max_ns = ns;
    self->total++;
    self->sum_ns += ns;
}

void
hr_bench_hist_merge (hr_bench_hist_t *self, const hr_bench_hist_t *other)
{
    if (other->total == 0)
        return;
    for (uint32_t index = 0; index < HR_BENCH_HIST_SIZE; index++)
        self->counts [index] += other->counts [index];
    if (self->total == 0 || other->min_ns < self->min_ns)
        self->min_ns = other->min_ns;
    if (other->max_ns > self->max_ns)
        self->max_ns = other->max_ns;
    self->total += other->total;
    self->sum_ns += other->sum_ns;
}

uint64_t
hr_bench_hist_percentile (const hr_bench_hist_t *self, double p)
{
    if (self->total == 0)
        return 0;
    uint64_t rank = (uint64_t) (p * (double) self->total + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t index = 0; index < HR_BENCH_HIST_SIZE; index++) {
        seen += self->counts [index];
        if (seen >= rank) {
            //  The bucket middle may lie outside what was seen; clamp.
            uint64_t value = s_bucket_value (index);
            return value < self->min_ns? self->min_ns:
                   value > self->max_ns? self->max_ns: value;
        }
    }
    return self->max_ns;
}

_Static_assert (sizeof (hr_bench_counts_t) % sizeof (uint64_t) == 0,
                "hr_bench_counts_t must hold only uint64_t fields");

void
hr_bench_counts_merge (hr_bench_counts_t *self, const hr_bench_counts_t *other)
{
    //  Every field is a uint64_t; add them all, then fix the few that are
    //  not sums.
    hr_bench_counts_t before = *self;
    uint64_t *dest = (uint64_t *) self;
    const uint64_t *src = (const uint64_t *) other;
    for (size_t index = 0; index < sizeof *self / sizeof (uint64_t); index++)
        dest [index] += src [index];
    self->ramp_done = before.ramp_done && other->ramp_done;
    self->exact_dups = before.exact_dups && other->exact_dups;
    self->first_ns = before.first_ns == 0? other->first_ns:
                     other->first_ns == 0? before.first_ns:
                     before.first_ns < other->first_ns? before.first_ns: other->first_ns;
    self->last_ns = before.last_ns > other->last_ns? before.last_ns: other->last_ns;
    self->ramp_end_ns = before.ramp_end_ns > other->ramp_end_ns? before.ramp_end_ns: other->ramp_end_ns;
}

int
hr_bench_result_init (hr_bench_result_t *self, uint32_t channels, uint64_t events)
{
    memset (self, 0, sizeof *self);
    self->counts.ramp_done = 1;
    self->counts.exact_dups = 1;
    self->channels = channels;
    self->events = events;
    self->channel_subs = calloc (channels, sizeof (uint32_t));
    self->ev_count = calloc (events? events: 1, sizeof (uint32_t));
    self->ev_max_ns = calloc (events? events: 1, sizeof (uint64_t));
    if (!self->channel_subs || !self->ev_count || !self->ev_max_ns) {
        hr_bench_result_free (self);
        return -1;
    }
    return 0;
}

void
hr_bench_result_merge (hr_bench_result_t *self, const hr_bench_result_t *other)
{
    hr_bench_counts_merge (&self->counts, &other->counts);
    hr_bench_hist_merge (&self->hist, &other->hist);
    for (uint32_t ch = 0; ch < self->channels && ch < other->channels; ch++)
        self->channel_subs [ch] += other->channel_subs [ch];
    for (uint64_t ev = 0; ev < self->events && ev < other->events; ev++) {
        self->ev_count [ev] += other->ev_count [ev];
        if (other->ev_max_ns [ev] > self->ev_max_ns [ev])
            self->ev_max_ns [ev] = other->ev_max_ns [ev];
    }
}

void
hr_bench_result_free (hr_bench_result_t *self)
{
    free (self->channel_subs);
    free (self->ev_count);
    free (self->ev_max_ns);
    self->channel_subs = NULL;
    self->ev_count = NULL;
    self->ev_max_ns = NULL;
}

static int
s_compare_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

void
hr_bench_result_fanout (const hr_bench_result_t *self, uint64_t published,
                        hr_bench_fanout_t *fanout)
{
    memset (fanout, 0, sizeof *fanout);
    if (published > self->events)
        published = self->events;
    uint64_t *done = malloc ((published? published: 1) * sizeof (uint64_t));
    if (!done)
        return;
    for (uint64_t ev = 0; ev < published; ev++) {
        uint32_t subs = self->channel_subs [ev % self->channels];
        if (subs == 0)
            continue;           //  nobody measured was listening
        if (self->ev_count [ev] >= subs)
            done [fanout->complete++] = self->ev_max_ns [ev];
        else
            fanout->incomplete++;
    }
    if (fanout->complete > 0) {
        qsort (done, fanout->complete, sizeof (uint64_t), s_compare_u64);
        uint64_t n = fanout->complete;
        fanout->p50_ns = done [(n - 1) * 50 / 100];
        fanout->p99_ns = done [(n - 1) * 99 / 100];
        fanout->max_ns = done [n - 1];
    }
    free (done);
}

uint64_t
hr_bench_expected (uint64_t published, uint32_t channels, uint32_t ch)
{
    return published / channels + (ch < published % channels? 1: 0);
}

//  --------------------------------------------------------------------------
//  Self-test

#include <stdio.h>

int
hr_bench_stats_test (bool verbose)
{
    int failures = 0;
    //  1..10000 us in two halves merged: percentiles within the 1.6 %
    //  bucket resolution (plus half a bucket for the midpoint).
    static hr_bench_hist_t odd, even;
    memset (&odd, 0, sizeof odd);
    memset (&even, 0, sizeof even);
    for (uint64_t us = 1; us <= 10000; us++)
        hr_bench_hist_add (us % 2? &odd: &even, us * 1000);
    hr_bench_hist_merge (&odd, &even);
    struct { double p; double want_us; } checks [] = {
        { 0.50, 5000 }, { 0.99, 9900 }, { 0.999, 9990 }, { 1.0, 10000 }
    };
    for (size_t at = 0; at < sizeof checks / sizeof checks [0]; at++) {
        double got = (double) hr_bench_hist_percentile (&odd, checks [at].p) / 1000;
        bool ok = got > checks [at].want_us * 0.98 && got < checks [at].want_us * 1.02;
        failures += !ok;
        if (!ok || verbose)
            fprintf (stderr, "%s: histogram p%g = %.0f us (want %.0f)\n", ok? "ok  ": "FAIL",
                     checks [at].p * 100, got, checks [at].want_us);
    }
    bool ok = odd.total == 10000 && odd.min_ns == 1000 && odd.max_ns == 10000000
           && hr_bench_hist_percentile (&odd, 0.0001) < 2000;
    failures += !ok;
    if (!ok || verbose)
        fprintf (stderr, "%s: histogram merge keeps count, min and max\n", ok? "ok  ": "FAIL");
    ok = hr_bench_expected (10, 3, 0) == 4 && hr_bench_expected (10, 3, 2) == 3
      && hr_bench_expected (0, 3, 0) == 0;
    failures += !ok;
    if (!ok || verbose)
        fprintf (stderr, "%s: expected events per channel\n", ok? "ok  ": "FAIL");
    return failures;
}
