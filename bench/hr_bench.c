/*  hr_bench.c - Herald's load generator: modes and the run's phases

    A fanout run goes: fork the subscriber processes -> they ramp their
    connections -> wait until every attempt ended (or a bound) -> settle ->
    tell them publishing starts -> publish M events at the rate -> tell
    them how many were published -> they drain and report -> merge, print.
    Every wait has a deadline, and the whole run is bounded by --timeout.
    A connect run is the ramp alone: connections close once ready, and the
    server is sampled when every attempt has ended.
*/
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hr_bench.h"
#include "hr_bench_ws.h"
#include "hr_bench_fleet.h"
#include "hr_bench_http.h"
#include "hr_bench_payload.h"
#include "hr_bench_proc.h"
#include "hr_bench_pub.h"
#include "hr_bench_report.h"
#include "hr_bench_sse.h"
#include "hr_bench_stats.h"
#include "hr_bench_zmq.h"

#define S_SEC 1000000000ull

static uint64_t
s_after (double seconds)
{
    return hr_bench_now () + (uint64_t) (seconds * 1e9);
}

static uint64_t
s_min (uint64_t a, uint64_t b)
{
    return a < b? a: b;
}

static hr_bench_proc_sample_t
s_sample (const hr_bench_opts_t *opts)
{
    return hr_bench_proc_sample (opts->server_pids, opts->server_pid_count);
}

//  Waits until every connection attempt has ended one way or the other.
//  Returns false when every subscriber process died.
static bool
s_wait_ramp (const hr_bench_opts_t *opts, hr_bench_fleet_t *fleet, uint64_t deadline)
{
    hr_bench_counts_t sum;
    uint64_t next_print = hr_bench_now () + S_SEC;
    for (;;) {
        hr_bench_fleet_poll (fleet, 100);
        int running = hr_bench_fleet_progress (fleet, &sum);
        uint64_t now = hr_bench_now ();
        if (running == 0)
            return false;
        //  Connect mode may stop early, at --duration.
        if ((sum.ramp_done && (sum.attempted == opts->subscribers
                               || opts->mode == HR_BENCH_MODE_CONNECT))
        ||  now >= deadline)
            return true;
        if (!opts->quiet && now >= next_print) {
            fprintf (stderr, "hr-bench: connecting: %" PRIu64 " ready, %" PRIu64 " failed,"
                     " %" PRIu64 " in flight of %u\n", sum.ready, sum.failed, sum.pending,
                     opts->subscribers);
            next_print = now + S_SEC;
        }
    }
}

//  Idle mode: after the settle time, waits until no subscriber has read a
//  byte for a second (at most 10 s), so the server is at rest when sampled.
static void
s_wait_quiet (const hr_bench_opts_t *opts, hr_bench_fleet_t *fleet)
{
    uint64_t settle_end = s_after (opts->settle);
    uint64_t deadline = s_after (opts->settle + 10);
    hr_bench_counts_t sum;
    uint64_t bytes = UINT64_MAX, quiet_since = hr_bench_now ();
    while (hr_bench_now () < deadline) {
        hr_bench_fleet_poll (fleet, 100);
        hr_bench_fleet_progress (fleet, &sum);
        uint64_t now = hr_bench_now ();
        if (sum.bytes != bytes) {
            bytes = sum.bytes;
            quiet_since = now;
        }
        if (now >= settle_end && now - quiet_since >= S_SEC)
            return;
    }
}

//  Publishes events 1..M at the rate (or closed loop) until M or
//  --duration. Returns how many were attempted.
static uint64_t
s_publish (const hr_bench_opts_t *opts, hr_bench_pub_t *pub, hr_bench_fleet_t *fleet,
           uint64_t hard_deadline, hr_bench_run_t *run)
{
    uint64_t start = hr_bench_now ();
    uint64_t end = s_min (start + (uint64_t) (opts->duration * 1e9), hard_deadline);
    uint64_t next_print = start + S_SEC, last_send = start, seq = 0;
    char channel [160];
    while (seq < opts->events) {
        uint64_t now = hr_bench_now ();
        if (opts->rate > 0) {
            uint64_t due = start + (uint64_t) ((double) seq * 1e9 / opts->rate);
            if (due >= end)
                break;
            if (due > now)
                hr_bench_pub_wait (pub, due);
        }
        else
        if (now >= end)
            break;
        hr_bench_opts_channel (opts, (uint32_t) (seq % opts->channels), channel, sizeof channel);
        int rc;
        while ((rc = hr_bench_pub_send (pub, seq + 1, channel)) == HR_BENCH_PUB_BUSY
               && hr_bench_now () < end)
            hr_bench_pub_wait (pub, hr_bench_now () + 1000000);
        if (rc == HR_BENCH_PUB_BUSY)
            break;              //  the window never opened before the end
        seq++;
        last_send = hr_bench_now ();
        if (last_send >= next_print) {
            hr_bench_counts_t sum;
            hr_bench_fleet_poll (fleet, 0);
            hr_bench_fleet_progress (fleet, &sum);
            if (!opts->quiet)
                fprintf (stderr, "hr-bench: published %" PRIu64 " of %" PRIu64 ", %" PRIu64
                         " deliveries so far\n", seq, opts->events, sum.unique);
            next_print = last_send + S_SEC;
        }
    }
    hr_bench_pub_flush (pub, s_min (s_after (5), hard_deadline));
    run->publish_s = (double) (last_send - start) / 1e9;
    run->pub = *hr_bench_pub_stats (pub);
    return seq;
}

//  fanout, idle and connect modes.
static int
s_run_subscribers (hr_bench_opts_t *opts)
{
    hr_bench_url_t url;
    if (hr_bench_url_parse (&url, opts->url) != 0)
        return 1;
    if (opts->src_addrs > 1 && !hr_bench_url_is_loopback (&url)) {
        fprintf (stderr, "hr-bench: %s is not on 127.0.0.0/8: using one source address\n",
                 url.host);
        opts->src_addrs = 1;
    }
    bool fanout = opts->mode == HR_BENCH_MODE_FANOUT;
    if (!fanout)
        opts->events = 0;
    hr_bench_run_t run = { .opts = opts };
    hr_bench_result_t result;
    if (hr_bench_result_init (&result, opts->channels, opts->events) != 0) {
        fprintf (stderr, "hr-bench: out of memory for %" PRIu64 " events\n", opts->events);
        return 1;
    }
    run.result = &result;
    uint64_t hard_deadline = s_after (opts->timeout);
    run.before = s_sample (opts);

    uint64_t ramp_start = hr_bench_now ();
    hr_bench_fleet_t *fleet = hr_bench_fleet_new (opts, &url);
    if (!fleet) {
        hr_bench_result_free (&result);
        return 1;
    }
    //  After the fork: ZeroMQ contexts must not cross it.
    hr_bench_pub_t *pub = fanout? hr_bench_pub_new (opts): NULL;
    if (fanout && !pub) {
        hr_bench_fleet_destroy (&fleet);
        hr_bench_result_free (&result);
        return 1;
    }
    double ramp_bound = opts->subscribers / opts->conn_rate;
    if (opts->mode == HR_BENCH_MODE_CONNECT && ramp_bound > opts->duration)
        ramp_bound = opts->duration;
    ramp_bound += opts->connect_timeout + 5;
    bool alive = s_wait_ramp (opts, fleet, s_min (s_after (ramp_bound), hard_deadline));
    hr_bench_counts_t sum;
    hr_bench_fleet_progress (fleet, &sum);
    uint64_t ramp_end = sum.ramp_done? sum.ramp_end_ns: hr_bench_now ();
    run.ramp_s = (double) (ramp_end - ramp_start) / 1e9;
    if (!alive || (opts->subscribers > 0 && sum.ready == 0)) {
        fprintf (stderr, "hr-bench: no subscriber connection got ready (%" PRIu64 " failed:"
                 " connect %" PRIu64 ", status %" PRIu64 ", closed %" PRIu64 ", timeout %" PRIu64
                 "); is the server at %s?\n", sum.failed, sum.fail_connect, sum.fail_status,
                 sum.fail_closed, sum.fail_timeout, opts->url);
        hr_bench_pub_destroy (&pub);
        hr_bench_fleet_destroy (&fleet);
        hr_bench_result_free (&result);
        return 1;
    }
    if (!opts->quiet)
        fprintf (stderr, "hr-bench: %" PRIu64 " of %u connections ready (%" PRIu64 " failed)"
                 " in %.2f s\n", sum.ready, opts->subscribers, sum.failed, run.ramp_s);
    if (fanout) {
        //  Settle: let the server finish whatever subscribing set off.
        for (uint64_t settle_end = s_after (opts->settle); hr_bench_now () < settle_end; )
            hr_bench_fleet_poll (fleet, (int) ((settle_end - hr_bench_now ()) / 1000000) + 1);
        run.connected = s_sample (opts);
        hr_bench_fleet_command (fleet, HR_BENCH_CMD_PUBLISH, 0);
        uint64_t publish_start = hr_bench_now ();
        run.published = s_publish (opts, pub, fleet, hard_deadline, &run);
        hr_bench_fleet_command (fleet, HR_BENCH_CMD_STOP, run.published);
        run.procs_reported = (uint32_t) hr_bench_fleet_collect (
            fleet, &result, s_min (s_after (opts->drain + 10), hard_deadline + 10 * S_SEC));
        if (result.counts.last_ns > publish_start)
            run.delivery_s = (double) (result.counts.last_ns - publish_start) / 1e9;
        hr_bench_result_fanout (&result, run.published, &run.fanout);
    }
    else {
        if (opts->mode == HR_BENCH_MODE_IDLE)
            s_wait_quiet (opts, fleet);
        run.connected = s_sample (opts);
        hr_bench_fleet_command (fleet, HR_BENCH_CMD_STOP, 0);
        run.procs_reported = (uint32_t) hr_bench_fleet_collect (
            fleet, &result, s_min (s_after (10), hard_deadline + 10 * S_SEC));
    }
    run.after = s_sample (opts);
    hr_bench_pub_destroy (&pub);
    hr_bench_fleet_destroy (&fleet);
    hr_bench_report_print (&run, stdout);
    hr_bench_result_free (&result);
    return 0;
}

static int
s_run_zmq (const hr_bench_opts_t *opts)
{
    hr_bench_run_t run = { .opts = opts };
    run.before = s_sample (opts);
    int rc = opts->mode == HR_BENCH_MODE_INGEST
           ? hr_bench_zmq_ingest (opts, &run.zmq)
           : hr_bench_zmq_ceiling (opts, &run.zmq);
    run.after = s_sample (opts);
    if (rc != 0)
        return 1;
    hr_bench_report_print (&run, stdout);
    return 0;
}

static int
s_run (hr_bench_opts_t *opts)
{
    if (opts->selftest) {
        int failures = hr_bench_sse_test (!opts->quiet) + hr_bench_stats_test (!opts->quiet)
                     + hr_bench_ws_test (!opts->quiet);
        printf ("hr-bench selftest: %s (%d failed checks)\n", failures? "FAILED": "ok", failures);
        return failures? 1: 0;
    }
    //  A peer closing mid-write must be an error code, not a signal.
    signal (SIGPIPE, SIG_IGN);
    if (opts->server_pid_count > 0 && !hr_bench_proc_sample (opts->server_pids,
                                                             opts->server_pid_count).ok) {
        fprintf (stderr, "hr-bench: cannot read /proc for every --server-pid\n");
        return 1;
    }
    switch (opts->mode) {
        case HR_BENCH_MODE_FANOUT:
        case HR_BENCH_MODE_IDLE:
        case HR_BENCH_MODE_CONNECT:
            return s_run_subscribers (opts);
        default:
            return s_run_zmq (opts);
    }
}

int
hr_bench_main (int argc, char **argv)
{
    hr_bench_opts_t opts;
    int rc = hr_bench_opts_parse (&opts, argc, argv);
    rc = rc == 0? s_run (&opts): rc > 0? 0: 2;
    hr_bench_opts_free (&opts);
    return rc;
}
