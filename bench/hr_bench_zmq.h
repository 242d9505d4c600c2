/*  hr_bench_zmq.h - the two ZeroMQ-only modes

    ingest:       PUSH Herald publish frames as fast as the broker takes
                  them for --duration seconds; no subscribers.
    zmq-ceiling:  libzmq's own PUSH -> PULL rate over tcp loopback with
                  --size byte messages, sink in a forked process: the most
                  any broker built on libzmq could ingest on this machine.
*/
#ifndef HR_BENCH_ZMQ_H_INCLUDED
#define HR_BENCH_ZMQ_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "hr_bench_opts.h"

typedef struct {
    size_t frame_bytes;         //  bytes per message on the wire (ZeroMQ body)
    uint64_t sent;              //  messages libzmq accepted
    uint64_t send_timeouts;     //  sends that waited 2 s for queue room
    double send_s;              //  time spent sending them
    double flush_s;             //  send_s + time until the queue drained at close
    uint64_t received;          //  zmq-ceiling: messages the sink counted
    double recv_s;              //  zmq-ceiling: sink's first to last message
} hr_bench_zmq_result_t;

//  A PUSH to a broker's endpoint, connected: ZMQ_IMMEDIATE, 2 s send
//  timeout, linger_ms; a CURVE client when opts has --curve-server-key
//  (opts NULL: plain). NULL when it cannot be set up (message on stderr).
void *
    hr_bench_zmq_push (void *ctx, const char *endpoint, const hr_bench_opts_t *opts,
                       int linger_ms);

//  Returns 0, or -1 when the broker cannot be reached (message on stderr).
int
    hr_bench_zmq_ingest (const hr_bench_opts_t *opts, hr_bench_zmq_result_t *result);

//  Returns 0, or -1 when the sink could not be started.
int
    hr_bench_zmq_ceiling (const hr_bench_opts_t *opts, hr_bench_zmq_result_t *result);

#endif
