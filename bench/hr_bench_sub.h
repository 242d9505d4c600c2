/*  hr_bench_sub.h - one subscriber process

    Runs in a forked child: opens its share of the connections (global
    index i with i % procs == proc), reads their event streams in one epoll
    loop, and reports to the parent through the fleet's pipes.
*/
#ifndef HR_BENCH_SUB_H_INCLUDED
#define HR_BENCH_SUB_H_INCLUDED

#include <stdint.h>

#include "hr_bench_http.h"
#include "hr_bench_opts.h"

//  Runs until the parent says quit, the parent goes away, or --timeout.
//  Returns the process exit code.
int
    hr_bench_sub_run (const hr_bench_opts_t *opts, const hr_bench_url_t *url,
                      uint32_t proc, int ctl_fd, int out_fd);

#endif
