/*  hr_bench_proc.h - CPU time and memory of the server under test

    Reads /proc/PID/stat (utime + stime) and /proc/PID/status (VmRSS) for
    each --server-pid and sums them, so nginx's master and worker, or
    Herald's broker and gateway, count as one server.
*/
#ifndef HR_BENCH_PROC_H_INCLUDED
#define HR_BENCH_PROC_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool ok;                    //  every pid could be read
    double cpu_s;               //  user + system CPU seconds so far
    uint64_t rss_kb;            //  resident set size
} hr_bench_proc_sample_t;

//  Samples and sums the processes. A sample of zero pids is ok and zero.
hr_bench_proc_sample_t
    hr_bench_proc_sample (const int *pids, int count);

#endif
