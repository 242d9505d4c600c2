/*  hr_bench_zmq.c - the two ZeroMQ-only modes

    A PUSH send returns once libzmq has queued the message, so the sender's
    rate overstates the receiver's by up to one high-water mark of queued
    messages. Both modes therefore also time the close: ingest until the
    queue is flushed (linger), the ceiling at the sink itself.
*/
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "hr_bench_payload.h"
#include "hr_bench_zmq.h"
#include "hr_curve.h"

//  The sink's report to the parent.
typedef struct {
    uint64_t received;
    uint64_t first_ns;
    uint64_t last_ns;
} s_sink_report_t;

void *
hr_bench_zmq_push (void *ctx, const char *endpoint, const hr_bench_opts_t *opts,
                   int linger_ms)
{
    int timeout = 2000, immediate = 1;
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    if (!push)
        return NULL;
    //  Queue only on a completed connection: without it, PUSH accepts a
    //  high-water mark of messages with nobody listening.
    zmq_setsockopt (push, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt (push, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (push, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    hr_buf_t err = HR_BUF_INIT;
    if (opts && hr_curve_client (push, opts->curve_server_key, opts->curve_secret, &err) != 0)
        fprintf (stderr, "hr-bench: %s\n", err.data);
    else
    if (zmq_connect (push, endpoint) != 0)
        fprintf (stderr, "hr-bench: cannot connect PUSH to %s: %s\n", endpoint,
                 zmq_strerror (zmq_errno ()));
    else {
        hr_buf_free (&err);
        return push;
    }
    hr_buf_free (&err);
    zmq_close (push);
    return NULL;
}

int
hr_bench_zmq_ingest (const hr_bench_opts_t *opts, hr_bench_zmq_result_t *result)
{
    memset (result, 0, sizeof *result);
    void *ctx = zmq_ctx_new ();
    void *push = ctx? hr_bench_zmq_push (ctx, opts->zmq_endpoint, opts, 5000): NULL;
    if (!push) {
        if (ctx)
            zmq_ctx_term (ctx);
        return -1;
    }
    //  Event S goes to channel (S - 1) % K, as in fan-out.
    char channel [160];
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);

    //  The first send waits for the connection (ZMQ_IMMEDIATE); untimed.
    int rc = 0;
    uint64_t seq = 0, start = 0, deadline = 0, consecutive_timeouts = 0;
    for (;;) {
        hr_bench_opts_channel (opts, (uint32_t) (seq % opts->channels), channel,
                               sizeof channel);
        msgpack_sbuffer_clear (&sbuf);
        msgpack_pack_map (&pk, 2);
        msgpack_pack_str_with_body (&pk, "ch", 2);
        msgpack_pack_str_with_body (&pk, channel, strlen (channel));
        msgpack_pack_str_with_body (&pk, "data", 4);
        hr_bench_payload_pack (&pk, ++seq, hr_bench_now (), opts->size);
        if (zmq_send (push, sbuf.data, sbuf.size, 0) < 0) {
            result->send_timeouts++;
            if (seq == 1 || ++consecutive_timeouts == 3) {
                if (seq == 1) {
                    fprintf (stderr, "hr-bench: %s takes no messages (is the broker "
                             "running? with CURVE: are the keys right?)\n",
                             opts->zmq_endpoint);
                    rc = -1;
                }
                break;
            }
            continue;
        }
        consecutive_timeouts = 0;
        if (seq == 1) {
            start = hr_bench_now ();
            deadline = start + (uint64_t) (opts->duration * 1e9);
            result->frame_bytes = sbuf.size;
            continue;
        }
        result->sent++;
        if ((seq & 255) == 0 && hr_bench_now () >= deadline)
            break;
    }
    uint64_t sent_at = hr_bench_now ();
    zmq_close (push);
    zmq_ctx_term (ctx);         //  returns when the queue is flushed, or after linger
    uint64_t flushed_at = hr_bench_now ();
    msgpack_sbuffer_destroy (&sbuf);
    if (start) {
        result->send_s = (double) (sent_at - start) / 1e9;
        result->flush_s = (double) (flushed_at - start) / 1e9;
    }
    return rc;
}

//  The PULL side, in its own process: binds an ephemeral port, tells the
//  parent which, counts messages until an empty one or 3 s of silence.
static int
s_sink_run (int report_fd)
{
    void *ctx = zmq_ctx_new ();
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    int timeout = 3000;
    zmq_setsockopt (pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    char endpoint [256] = "";
    size_t endpoint_len = sizeof endpoint;
    if (zmq_bind (pull, "tcp://127.0.0.1:*") != 0
    ||  zmq_getsockopt (pull, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_len) != 0)
        endpoint [0] = '\0';
    if (write (report_fd, endpoint, sizeof endpoint) != sizeof endpoint || !endpoint [0])
        return 1;
    s_sink_report_t report = { 0 };
    char buf [1 << 16];
    for (int waited = 0; ; ) {
        int size = zmq_recv (pull, buf, sizeof buf, 0);
        if (size < 0) {
            //  Before the first message the sender may still be connecting.
            if (report.received > 0 || ++waited >= 4)
                break;
            continue;
        }
        if (size == 0)
            break;
        uint64_t now = hr_bench_now ();
        if (report.received++ == 0)
            report.first_ns = now;
        report.last_ns = now;
    }
    zmq_close (pull);
    zmq_ctx_term (ctx);
    return write (report_fd, &report, sizeof report) == sizeof report? 0: 1;
}

static int
s_read_timed (int fd, void *data, size_t len, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    size_t done = 0;
    while (done < len) {
        if (poll (&pfd, 1, timeout_ms) != 1)
            return -1;
        ssize_t got = read (fd, (char *) data + done, len - done);
        if (got <= 0)
            return -1;
        done += (size_t) got;
    }
    return 0;
}

int
hr_bench_zmq_ceiling (const hr_bench_opts_t *opts, hr_bench_zmq_result_t *result)
{
    memset (result, 0, sizeof *result);
    int pipe_fds [2];
    if (pipe (pipe_fds) != 0)
        return -1;
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close (pipe_fds [0]);
        _exit (s_sink_run (pipe_fds [1]));
    }
    close (pipe_fds [1]);
    int rc = -1;
    char endpoint [256];
    void *ctx = NULL, *push = NULL;
    if (s_read_timed (pipe_fds [0], endpoint, sizeof endpoint, 5000) != 0 || !endpoint [0])
        fprintf (stderr, "hr-bench: the PULL sink did not start\n");
    else
    if (!(ctx = zmq_ctx_new ()) || !(push = hr_bench_zmq_push (ctx, endpoint, NULL, 5000)))
        fprintf (stderr, "hr-bench: no PUSH to the sink at %s\n", endpoint);
    else {
        //  One message, sent again and again: this measures libzmq, not us.
        char message [opts->size + 128];
        size_t len = hr_bench_payload_json (message, sizeof message, 1, hr_bench_now (), opts->size);
        result->frame_bytes = len;
        uint64_t start = hr_bench_now ();
        uint64_t deadline = start + (uint64_t) (opts->duration * 1e9);
        for (uint64_t count = 1; ; count++) {
            if (zmq_send (push, message, len, 0) < 0) {
                if (++result->send_timeouts == 3)
                    break;
                continue;
            }
            result->sent++;
            if ((count & 1023) == 0 && hr_bench_now () >= deadline)
                break;
        }
        result->send_s = (double) (hr_bench_now () - start) / 1e9;
        zmq_send (push, "", 0, 0);              //  tells the sink we are done
        s_sink_report_t report;
        if (s_read_timed (pipe_fds [0], &report, sizeof report, 15000) == 0) {
            result->received = report.received;
            result->recv_s = (double) (report.last_ns - report.first_ns) / 1e9;
            rc = 0;
        }
        else
            fprintf (stderr, "hr-bench: the PULL sink did not report\n");
        result->flush_s = (double) (hr_bench_now () - start) / 1e9;
    }
    if (push)
        zmq_close (push);
    if (ctx)
        zmq_ctx_term (ctx);
    close (pipe_fds [0]);
    //  The sink exits after reporting; if it hangs, it is ours to kill.
    for (int tries = 0; waitpid (pid, NULL, WNOHANG) == 0; tries++) {
        if (tries == 300) {
            kill (pid, SIGKILL);
            waitpid (pid, NULL, 0);
            break;
        }
        usleep (10000);
    }
    return rc;
}
