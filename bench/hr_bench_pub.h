/*  hr_bench_pub.h - the event publisher of a run

    Publishes the generator's payload either over ZeroMQ PUSH (one frame,
    a MessagePack map {"ch", "data"}, Herald's fire-and-forget publish) or
    over HTTP POST on keep-alive connections with a bounded number of
    pipelined requests (nchan's publisher location, or Herald's
    /v1/publish).
*/
#ifndef HR_BENCH_PUB_H_INCLUDED
#define HR_BENCH_PUB_H_INCLUDED

#include <stdint.h>

#include "hr_bench_opts.h"

typedef struct {
    uint64_t sent;              //  events handed to the socket
    uint64_t accepted;          //  HTTP 2xx responses
    uint64_t rejected;          //  other HTTP responses
    uint64_t errors;            //  send timeouts, broken connections, lost requests
    int last_status;            //  status of the last non-2xx response
} hr_bench_pub_stats_t;

typedef struct hr_bench_pub_t hr_bench_pub_t;

#define HR_BENCH_PUB_BUSY 1     //  every HTTP window is full: wait, then retry

//  Connects the publisher of opts->pub. Returns NULL (message on stderr)
//  when it cannot. The caller owns it. Create it after forking.
hr_bench_pub_t *
    hr_bench_pub_new (const hr_bench_opts_t *opts);

//  Publishes event seq on channel, stamped with the current time.
//  Returns 0, HR_BENCH_PUB_BUSY, or -1 on an error (counted in stats).
int
    hr_bench_pub_send (hr_bench_pub_t *self, uint64_t seq, const char *channel);

//  Reads HTTP responses until CLOCK_MONOTONIC until_ns (sleeps for ZeroMQ).
void
    hr_bench_pub_wait (hr_bench_pub_t *self, uint64_t until_ns);

//  Waits until every HTTP request has its response, or deadline_ns.
void
    hr_bench_pub_flush (hr_bench_pub_t *self, uint64_t deadline_ns);

const hr_bench_pub_stats_t *
    hr_bench_pub_stats (hr_bench_pub_t *self);

//  Closes the sockets (ZeroMQ lingers up to 2 s to deliver what is queued).
void
    hr_bench_pub_destroy (hr_bench_pub_t **self_p);

#endif
