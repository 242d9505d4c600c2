/*  hr_bench_stats.h - counters, latency histogram and per-event fan-out

    Every subscriber process fills one hr_bench_result_t; the parent merges
    them. All parts merge by addition or maximum, so processes never need
    to share memory or exchange individual samples.
*/
#ifndef HR_BENCH_STATS_H_INCLUDED
#define HR_BENCH_STATS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Log-linear buckets over microseconds: exact below 128 us, then 64
//  buckets per power of two (1.6 % resolution) up to days.
#define HR_BENCH_HIST_SIZE 2560

typedef struct {
    uint64_t counts [HR_BENCH_HIST_SIZE];
    uint64_t total;
    uint64_t min_ns;
    uint64_t max_ns;
    uint64_t sum_ns;
} hr_bench_hist_t;

//  Counters of one subscriber process, or of all of them. Progress messages
//  carry the same struct while the run goes on.
typedef struct {
    uint64_t attempted;         //  connections started
    uint64_t connected;         //  got a 200 response head
    uint64_t ready;             //  counted as subscribed (see --ready)
    uint64_t failed;            //  never got ready
    uint64_t fail_bind;         //  ... bind() to the source address failed
    uint64_t fail_connect;      //  ... connect() failed (refused, no ports)
    uint64_t fail_status;       //  ... response status was not 200
    uint64_t fail_closed;       //  ... closed or broken before ready
    uint64_t fail_timeout;      //  ... not ready within --connect-timeout
    uint64_t late;              //  got ready after publishing began (not measured)
    uint64_t dropped;           //  closed by the server after being ready
    uint64_t pending;           //  attempts in flight (progress only)
    uint64_t ramp_done;         //  1 when every attempt has ended one way or another
    uint64_t deliveries;        //  events carrying our marker, duplicates included
    uint64_t unique;            //  first deliveries of (connection, seq)
    uint64_t duplicates;
    uint64_t out_of_order;      //  seq lower than one already received
    uint64_t foreign;           //  marker from another channel, range or run
    uint64_t no_marker;         //  events without our marker (e.g. resets)
    uint64_t named;             //  events with an event: line
    uint64_t ids;               //  id: lines
    uint64_t comments;          //  comment lines (heartbeats)
    uint64_t bytes;             //  bytes read from subscriber sockets
    uint64_t expected;          //  deliveries due to measured connections
    uint64_t lost;              //  expected deliveries that never came
    uint64_t exact_dups;        //  1 when duplicates were tracked by bitmap
    uint64_t first_ns;          //  CLOCK_MONOTONIC of the first delivery
    uint64_t last_ns;           //  ... and of the last one
    uint64_t ramp_end_ns;       //  CLOCK_MONOTONIC when the last attempt ended
} hr_bench_counts_t;

//  Everything one run measured on the subscriber side.
typedef struct {
    hr_bench_counts_t counts;
    hr_bench_hist_t hist;       //  publish-to-delivery latency
    uint32_t channels;          //  K
    uint32_t *channel_subs;     //  [K] measured connections per channel
    uint64_t events;            //  M
    uint32_t *ev_count;         //  [M] measured connections that got event seq-1
    uint64_t *ev_max_ns;        //  [M] latency of its last delivery
} hr_bench_result_t;

//  Adds one latency sample in nanoseconds.
void
    hr_bench_hist_add (hr_bench_hist_t *self, uint64_t ns);

void
    hr_bench_hist_merge (hr_bench_hist_t *self, const hr_bench_hist_t *other);

//  Returns the latency in ns below which fraction p (0..1) of the samples
//  lie, to the bucket's resolution; 0 when empty.
uint64_t
    hr_bench_hist_percentile (const hr_bench_hist_t *self, double p);

//  Adds other's counters to self (ramp_done and exact_dups: logical and,
//  first_ns: minimum, last_ns and ramp_end_ns: maximum).
void
    hr_bench_counts_merge (hr_bench_counts_t *self, const hr_bench_counts_t *other);

//  Allocates the arrays of a result for K channels and M events, zeroed.
//  Returns -1 when memory is short.
int
    hr_bench_result_init (hr_bench_result_t *self, uint32_t channels, uint64_t events);

void
    hr_bench_result_merge (hr_bench_result_t *self, const hr_bench_result_t *other);

void
    hr_bench_result_free (hr_bench_result_t *self);

//  Fan-out completion: for each of the first `published` events whose
//  channel had measured subscribers and which all of them received, the
//  latency of its last delivery. Fills p50/p99/max (ns) and the number of
//  complete and incomplete events.
typedef struct {
    uint64_t complete;
    uint64_t incomplete;
    uint64_t p50_ns, p99_ns, max_ns;
} hr_bench_fanout_t;

void
    hr_bench_result_fanout (const hr_bench_result_t *self, uint64_t published,
                            hr_bench_fanout_t *fanout);

//  Returns how many of the first `published` events go to channel ch when
//  event seq goes to channel (seq - 1) % channels.
uint64_t
    hr_bench_expected (uint64_t published, uint32_t channels, uint32_t ch);

//  Self-test of the histogram and the expected-count arithmetic. Returns
//  the number of failed checks.
int
    hr_bench_stats_test (bool verbose);

#endif
