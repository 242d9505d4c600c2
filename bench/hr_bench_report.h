/*  hr_bench_report.h - what a run measured, as text or one JSON object
*/
#ifndef HR_BENCH_REPORT_H_INCLUDED
#define HR_BENCH_REPORT_H_INCLUDED

#include <stdio.h>

#include "hr_bench_opts.h"
#include "hr_bench_proc.h"
#include "hr_bench_pub.h"
#include "hr_bench_stats.h"
#include "hr_bench_zmq.h"

typedef struct {
    const hr_bench_opts_t *opts;
    //  Subscribers (fanout, idle)
    const hr_bench_result_t *result;
    uint32_t procs_reported;
    double ramp_s;              //  first connection attempt until all ended
    //  Publisher (fanout)
    uint64_t published;         //  events attempted (seq 1 .. published)
    hr_bench_pub_stats_t pub;
    double publish_s;           //  first to last send
    double delivery_s;          //  first send to the last delivery
    hr_bench_fanout_t fanout;
    //  Server: at start, once connected (publishing starts), at the end
    hr_bench_proc_sample_t before, connected, after;
    //  ingest, zmq-ceiling
    hr_bench_zmq_result_t zmq;
} hr_bench_run_t;

//  Prints the run in the form opts->json asks for.
void
    hr_bench_report_print (const hr_bench_run_t *run, FILE *out);

#endif
