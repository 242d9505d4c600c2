/*  hr_bench_fleet.h - the subscriber processes, seen from the parent

    The parent forks --procs subscriber processes so that more connections
    than one process's open-file limit can be held. Each child talks to the
    parent over two pipes: commands down, progress and results up. All
    messages are fixed-size structs under PIPE_BUF, so writes are atomic.
*/
#ifndef HR_BENCH_FLEET_H_INCLUDED
#define HR_BENCH_FLEET_H_INCLUDED

#include <stdint.h>

#include "hr_bench_http.h"
#include "hr_bench_opts.h"
#include "hr_bench_stats.h"

//  Child to parent: a progress report (every 250 ms), or the result header,
//  followed on the pipe by the result's histogram, channel_subs[K],
//  ev_count[M] and ev_max_ns[M] as raw arrays.
enum { HR_BENCH_MSG_PROGRESS = 1, HR_BENCH_MSG_RESULT = 2 };

typedef struct {
    uint32_t type;
    uint32_t proc;
    hr_bench_counts_t counts;
} hr_bench_msg_t;

//  Parent to child commands.
enum {
    HR_BENCH_CMD_PUBLISH = 'P',     //  publishing starts: ready connections are measured
    HR_BENCH_CMD_STOP = 'S',        //  arg events were published: drain and report
    HR_BENCH_CMD_QUIT = 'Q'         //  close everything and exit
};

typedef struct {
    uint32_t cmd;
    uint32_t reserved;
    uint64_t arg;
} hr_bench_ctl_t;

typedef struct hr_bench_fleet_t hr_bench_fleet_t;

//  Forks opts->procs subscriber processes, which start connecting at once.
//  Returns NULL if a pipe or fork failed. The caller owns the fleet.
hr_bench_fleet_t *
    hr_bench_fleet_new (const hr_bench_opts_t *opts, const hr_bench_url_t *url);

//  Reads the children's progress for up to timeout_ms.
void
    hr_bench_fleet_poll (hr_bench_fleet_t *self, int timeout_ms);

//  Sums the latest progress of every child into sum; returns how many
//  children are still running.
int
    hr_bench_fleet_progress (hr_bench_fleet_t *self, hr_bench_counts_t *sum);

//  Sends a command to every child.
void
    hr_bench_fleet_command (hr_bench_fleet_t *self, uint32_t cmd, uint64_t arg);

//  Reads every child's result into result (initialised by the caller with
//  hr_bench_result_init for K channels and M events), waiting at most until
//  deadline_ns (CLOCK_MONOTONIC). Returns how many children reported.
int
    hr_bench_fleet_collect (hr_bench_fleet_t *self, hr_bench_result_t *result,
                            uint64_t deadline_ns);

//  Tells the children to quit, waits up to 3 s, kills those still running
//  (by their pid), and frees the fleet.
void
    hr_bench_fleet_destroy (hr_bench_fleet_t **self_p);

#endif
