/*  hr_bench_pub.c - the event publisher of a run

    The timestamp goes into the payload right before the send call, so
    latency counts the server's and the network's time, not our queueing
    behind a slow schedule. HTTP requests are pipelined up to a window per
    connection: nginx answers pipelined requests in order, and a window of
    one makes the publisher closed-loop.
*/
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "hr_bench_http.h"
#include "hr_bench_payload.h"
#include "hr_bench_pub.h"
#include "hr_bench_zmq.h"

#define S_IN_SIZE 16384

typedef enum { R_HEAD, R_LENGTH, R_CHUNKED, R_UNTIL_CLOSE } s_read_state_t;

typedef struct {
    int fd;
    uint32_t outstanding;       //  requests sent, response not read yet
    bool closing;               //  server said Connection: close
    s_read_state_t state;
    int status;                 //  of the response being read
    uint64_t body_left;
    hr_bench_chunked_t chunk;
    size_t in_len;
    char in [S_IN_SIZE];
} s_http_conn_t;

struct hr_bench_pub_t {
    const hr_bench_opts_t *opts;
    hr_bench_pub_stats_t stats;
    void *ctx;                  //  ZeroMQ
    void *push;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    hr_bench_url_t url;         //  HTTP
    s_http_conn_t *conns;
    uint32_t conn_count;
    uint32_t window;
    uint32_t next_conn;
    char *request;
    size_t request_cap;
};

//  --------------------------------------------------------------------------
//  HTTP

static int
s_wait_fd (int fd, short events, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    return poll (&pfd, 1, timeout_ms) == 1 && (pfd.revents & events)? 0: -1;
}

static int
s_http_connect (hr_bench_pub_t *self, s_http_conn_t *conn)
{
    int fd = hr_bench_http_connect (&self->url, 0);
    if (fd < 0)
        return -1;
    int error = 0;
    socklen_t error_len = sizeof error;
    if (s_wait_fd (fd, POLLOUT, 2000) != 0
    ||  getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0 || error) {
        close (fd);
        return -1;
    }
    int on = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    memset (conn, 0, sizeof *conn - sizeof conn->in);
    conn->fd = fd;
    return 0;
}

static void
s_http_close (hr_bench_pub_t *self, s_http_conn_t *conn)
{
    if (conn->fd >= 0)
        close (conn->fd);
    conn->fd = -1;
    self->stats.errors += conn->outstanding;    //  requests whose fate we will never know
    conn->outstanding = 0;
    conn->in_len = 0;
}

static void
s_http_response_done (hr_bench_pub_t *self, s_http_conn_t *conn)
{
    if (conn->status >= 200 && conn->status < 300)
        self->stats.accepted++;
    else {
        self->stats.rejected++;
        self->stats.last_status = conn->status;
    }
    if (conn->outstanding > 0)
        conn->outstanding--;
    conn->state = R_HEAD;
}

//  Parses what is buffered; returns -1 when the connection must close.
static int
s_http_parse (hr_bench_pub_t *self, s_http_conn_t *conn)
{
    size_t at = 0;
    while (at < conn->in_len) {
        if (conn->state == R_HEAD) {
            hr_bench_http_head_t head;
            ssize_t used = hr_bench_http_head_parse (conn->in + at, conn->in_len - at, &head);
            if (used < 0)
                return -1;
            if (used == 0)
                break;
            at += (size_t) used;
            conn->status = head.status;
            if (head.close)
                conn->closing = true;
            if (head.chunked) {
                memset (&conn->chunk, 0, sizeof conn->chunk);
                conn->state = R_CHUNKED;
            }
            else
            if (head.has_length) {
                conn->body_left = head.content_length;
                conn->state = R_LENGTH;
            }
            else
            if (head.status == 204 || head.status == 304 || head.status < 200)
                s_http_response_done (self, conn);
            else {
                conn->state = R_UNTIL_CLOSE;
                conn->closing = true;
            }
        }
        if (conn->state == R_LENGTH) {
            size_t part = conn->in_len - at < conn->body_left? conn->in_len - at: conn->body_left;
            at += part;
            conn->body_left -= part;
            if (conn->body_left == 0)
                s_http_response_done (self, conn);
        }
        else
        if (conn->state == R_CHUNKED) {
            size_t used = 0;
            int rc = hr_bench_chunked_feed (&conn->chunk, conn->in + at, conn->in_len - at,
                                            NULL, NULL, &used);
            at += used;
            if (rc < 0)
                return -1;
            if (rc == 1)
                s_http_response_done (self, conn);
        }
        else
        if (conn->state == R_UNTIL_CLOSE)
            at = conn->in_len;
    }
    memmove (conn->in, conn->in + at, conn->in_len - at);
    conn->in_len -= at;
    if (conn->in_len == S_IN_SIZE)
        return -1;              //  a head larger than our buffer
    return 0;
}

static void
s_http_read (hr_bench_pub_t *self, s_http_conn_t *conn)
{
    ssize_t got = read (conn->fd, conn->in + conn->in_len, S_IN_SIZE - conn->in_len);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (got <= 0) {
        if (conn->state == R_UNTIL_CLOSE)
            s_http_response_done (self, conn);
        s_http_close (self, conn);
        return;
    }
    conn->in_len += (size_t) got;
    if (s_http_parse (self, conn) != 0)
        s_http_close (self, conn);
    else
    if (conn->closing && conn->outstanding == 0)
        s_http_close (self, conn);
}

static int
s_http_send (hr_bench_pub_t *self, uint64_t seq, const char *channel)
{
    //  Pick the next connection with room in its window; reopen closed ones.
    s_http_conn_t *conn = NULL;
    for (uint32_t tried = 0; tried < self->conn_count && !conn; tried++) {
        s_http_conn_t *candidate = &self->conns [self->next_conn];
        self->next_conn = (self->next_conn + 1) % self->conn_count;
        if (candidate->fd < 0 && s_http_connect (self, candidate) != 0)
            continue;
        if (!candidate->closing && candidate->outstanding < self->window)
            conn = candidate;
    }
    if (!conn)
        return HR_BENCH_PUB_BUSY;

    char path [1200];
    if (hr_bench_url_path (&self->url, channel, path, sizeof path) == 0)
        return -1;
    char payload [self->opts->size + 128];
    size_t payload_len = hr_bench_payload_json (payload, sizeof payload, seq,
                                                hr_bench_now (), self->opts->size);
    char body [sizeof payload + 200];
    int body_len = self->opts->body == HR_BENCH_BODY_HERALD
        ? snprintf (body, sizeof body, "{\"channel\":\"%s\",\"data\":%s}", channel, payload)
        : snprintf (body, sizeof body, "%s", payload);
    if (payload_len == 0 || body_len < 0 || (size_t) body_len >= sizeof body)
        return -1;
    int head_len = snprintf (self->request, self->request_cap,
        "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\n\r\n", path, self->url.host, body_len);
    if (head_len < 0 || (size_t) head_len + (size_t) body_len > self->request_cap)
        return -1;
    memcpy (self->request + head_len, body, (size_t) body_len);
    size_t len = (size_t) head_len + (size_t) body_len;

    //  Requests are small: waiting for room in the socket buffer is rare
    //  and bounded.
    for (size_t done = 0; done < len; ) {
        ssize_t sent = send (conn->fd, self->request + done, len - done, MSG_NOSIGNAL);
        if (sent > 0)
            done += (size_t) sent;
        else
        if (sent < 0 && errno == EAGAIN && s_wait_fd (conn->fd, POLLOUT, 2000) == 0)
            continue;
        else {
            self->stats.errors++;
            s_http_close (self, conn);
            return -1;
        }
    }
    conn->outstanding++;
    self->stats.sent++;
    return 0;
}

//  --------------------------------------------------------------------------
//  ZeroMQ

static int
s_zmq_send (hr_bench_pub_t *self, uint64_t seq, const char *channel)
{
    msgpack_sbuffer_clear (&self->sbuf);
    msgpack_pack_map (&self->pk, 2);
    msgpack_pack_str_with_body (&self->pk, "ch", 2);
    msgpack_pack_str_with_body (&self->pk, channel, strlen (channel));
    msgpack_pack_str_with_body (&self->pk, "data", 4);
    hr_bench_payload_pack (&self->pk, seq, hr_bench_now (), self->opts->size);
    if (zmq_send (self->push, self->sbuf.data, self->sbuf.size, 0) < 0) {
        self->stats.errors++;   //  the send timeout passed: the broker is not reading
        return -1;
    }
    self->stats.sent++;
    return 0;
}

//  --------------------------------------------------------------------------

hr_bench_pub_t *
hr_bench_pub_new (const hr_bench_opts_t *opts)
{
    hr_bench_pub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->opts = opts;
    msgpack_sbuffer_init (&self->sbuf);
    msgpack_packer_init (&self->pk, &self->sbuf, msgpack_sbuffer_write);
    if (opts->pub == HR_BENCH_PUB_ZMQ) {
        //  ZMQ_IMMEDIATE: with no broker, sends time out and count as
        //  errors instead of queueing silently.
        self->ctx = zmq_ctx_new ();
        self->push = self->ctx? hr_bench_zmq_push (self->ctx, opts->zmq_endpoint, opts, 2000)
                              : NULL;
        if (!self->push)
            hr_bench_pub_destroy (&self);
        return self;
    }
    self->window = opts->rate > 0? opts->pub_window: 1;
    self->conn_count = opts->pub_conns;
    self->conns = calloc (self->conn_count, sizeof (s_http_conn_t));
    self->request_cap = opts->size + 2048 + sizeof self->url.path;
    self->request = malloc (self->request_cap);
    if (!self->conns || !self->request || hr_bench_url_parse (&self->url, opts->pub_url) != 0) {
        hr_bench_pub_destroy (&self);
        return NULL;
    }
    for (uint32_t at = 0; at < self->conn_count; at++)
        self->conns [at].fd = -1;
    for (uint32_t at = 0; at < self->conn_count; at++)
        if (s_http_connect (self, &self->conns [at]) != 0) {
            fprintf (stderr, "hr-bench: cannot connect to publisher %s\n", opts->pub_url);
            hr_bench_pub_destroy (&self);
            return NULL;
        }
    return self;
}

int
hr_bench_pub_send (hr_bench_pub_t *self, uint64_t seq, const char *channel)
{
    return self->push? s_zmq_send (self, seq, channel): s_http_send (self, seq, channel);
}

void
hr_bench_pub_wait (hr_bench_pub_t *self, uint64_t until_ns)
{
    if (self->push) {
        struct timespec until = { (time_t) (until_ns / 1000000000), (long) (until_ns % 1000000000) };
        while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
            ;
        return;
    }
    struct pollfd fds [self->conn_count];
    for (uint64_t now = hr_bench_now (); now < until_ns; now = hr_bench_now ()) {
        uint32_t count = 0;
        for (uint32_t at = 0; at < self->conn_count; at++) {
            fds [at].fd = self->conns [at].fd;      //  negative fds are skipped
            fds [at].events = POLLIN;
            fds [at].revents = 0;
            count += self->conns [at].fd >= 0;
        }
        uint64_t left = until_ns - now;
        struct timespec timeout = { (time_t) (left / 1000000000), (long) (left % 1000000000) };
        if (ppoll (fds, self->conn_count, &timeout, NULL) <= 0 || count == 0)
            continue;
        for (uint32_t at = 0; at < self->conn_count; at++)
            if (fds [at].revents && self->conns [at].fd >= 0)
                s_http_read (self, &self->conns [at]);
    }
}

void
hr_bench_pub_flush (hr_bench_pub_t *self, uint64_t deadline_ns)
{
    if (self->push)
        return;
    while (hr_bench_now () < deadline_ns) {
        uint32_t outstanding = 0;
        for (uint32_t at = 0; at < self->conn_count; at++)
            outstanding += self->conns [at].outstanding;
        if (outstanding == 0)
            return;
        hr_bench_pub_wait (self, hr_bench_now () + 10000000);
    }
}

const hr_bench_pub_stats_t *
hr_bench_pub_stats (hr_bench_pub_t *self)
{
    return &self->stats;
}

void
hr_bench_pub_destroy (hr_bench_pub_t **self_p)
{
    hr_bench_pub_t *self = *self_p;
    if (!self)
        return;
    if (self->push)
        zmq_close (self->push);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    for (uint32_t at = 0; self->conns && at < self->conn_count; at++)
        if (self->conns [at].fd >= 0)
            close (self->conns [at].fd);
    free (self->conns);
    free (self->request);
    msgpack_sbuffer_destroy (&self->sbuf);
    free (self);
    *self_p = NULL;
}
