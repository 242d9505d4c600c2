/*  hr_bench_sub.c - one subscriber process

    A single-threaded epoll loop over thousands of non-blocking sockets.
    Connections are started at a bounded rate with a bounded number in
    flight, so the server's listen backlog never overflows and what we
    measure is the server, not SYN retries.

    The connection type is a small table of functions (s_proto_t): SSE and
    WebSocket, each writing its opening request and consuming the bytes
    after the response head.

    In connect mode each connection is closed as soon as it is ready and
    its setup time (start to ready) goes into the histogram; the process
    stops starting new ones after --duration.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hr_bench_fleet.h"
#include "hr_bench_payload.h"
#include "hr_bench_sse.h"
#include "hr_bench_stats.h"
#include "hr_bench_sub.h"
#include "hr_bench_ws.h"

#define S_CTL_KEY       UINT64_MAX      //  epoll key of the command pipe
#define S_BITMAP_BUDGET (256u << 20)    //  bytes for exact duplicate tracking
#define S_READ_SIZE     (256u << 10)
#define S_REQUEST_SIZE  (2048 + HR_BENCH_TOKEN_MAX)

typedef enum { C_IDLE, C_CONNECTING, C_HEAD, C_BODY, C_CLOSED } s_state_t;

typedef struct {
    int fd;
    uint8_t state;
    bool ready;                 //  subscribed (see --ready)
    bool measured;              //  was ready when publishing began
    bool chunked;               //  response body uses chunked encoding
    uint32_t index;             //  global connection number
    uint32_t channel;
    uint32_t sent;              //  request bytes written
    uint32_t head_len;
    char *head;                 //  response head bytes, until complete
    uint64_t started_ns;
    uint64_t last_seq;
    uint64_t unique;
    uint8_t *seen;              //  bitmap over (seq - 1) / K, or NULL
    hr_bench_chunked_t chunk;
    hr_bench_sse_t sse;
    hr_bench_ws_t *ws;          //  WebSocket connections only
} s_conn_t;

typedef struct s_sub_t s_sub_t;

typedef struct {
    const char *name;
    int status;                 //  response status that opens the stream
    size_t (*request) (s_sub_t *self, s_conn_t *conn, char *buf, size_t size);
    int (*feed) (s_sub_t *self, s_conn_t *conn, const char *data, size_t len);
} s_proto_t;

typedef enum { P_RAMP, P_MEASURE, P_DRAIN, P_REPORTED } s_phase_t;

struct s_sub_t {
    const hr_bench_opts_t *opts;
    const hr_bench_url_t *url;
    const s_proto_t *proto;
    uint32_t proc;
    int ctl_fd, out_fd, epoll_fd;
    s_conn_t *conns;
    uint32_t conn_count;
    uint32_t next;              //  next connection to start
    uint32_t stop_at;           //  connections to start: conn_count, less after --duration
    uint64_t pending;           //  started, neither ready nor failed
    uint8_t *bitmaps;
    size_t bitmap_bytes;        //  per connection
    s_phase_t phase;
    bool measuring;
    uint64_t published;         //  from the stop command
    uint64_t start_ns, ramp_start_ns, drain_deadline_ns, hard_deadline_ns;
    uint64_t ramp_end_ns;       //  when every attempt had ended; 0 before
    hr_bench_result_t result;
    char *read_buf;
};

//  --------------------------------------------------------------------------
//  Deliveries

static void
s_deliver (s_sub_t *self, s_conn_t *conn, uint64_t seq, uint64_t ts)
{
    hr_bench_counts_t *counts = &self->result.counts;
    uint64_t now = hr_bench_now ();
    uint32_t channels = self->opts->channels;
    if (seq == 0 || seq > self->result.events || (seq - 1) % channels != conn->channel
    ||  ts < self->start_ns) {
        counts->foreign++;      //  other channel, or left over from an earlier run
        return;
    }
    counts->deliveries++;
    if (conn->seen) {
        uint64_t bit = (seq - 1) / channels;
        if (conn->seen [bit / 8] & (1u << (bit % 8))) {
            counts->duplicates++;
            return;
        }
        conn->seen [bit / 8] |= (uint8_t) (1u << (bit % 8));
    }
    else
    if (seq == conn->last_seq) {
        counts->duplicates++;   //  without a bitmap only repeats of the last one show
        return;
    }
    if (seq < conn->last_seq)
        counts->out_of_order++;
    else
        conn->last_seq = seq;
    conn->unique++;
    counts->unique++;
    uint64_t latency = now > ts? now - ts: 0;
    hr_bench_hist_add (&self->result.hist, latency);
    if (conn->measured) {
        self->result.ev_count [seq - 1]++;
        if (latency > self->result.ev_max_ns [seq - 1])
            self->result.ev_max_ns [seq - 1] = latency;
    }
    if (counts->first_ns == 0)
        counts->first_ns = now;
    counts->last_ns = now;
}

//  --------------------------------------------------------------------------
//  Connection life cycle

static void
s_ready (s_sub_t *self, s_conn_t *conn)
{
    if (conn->ready)
        return;
    conn->ready = true;
    self->pending--;
    self->result.counts.ready++;
    if (self->measuring)
        self->result.counts.late++;
}

//  Closes the socket and frees what the connection held.
static void
s_release (s_conn_t *conn)
{
    if (conn->fd >= 0)
        close (conn->fd);       //  also removes it from the epoll set
    conn->fd = -1;
    conn->state = C_CLOSED;
    free (conn->head);
    conn->head = NULL;
    hr_bench_sse_reset (&conn->sse);
    if (conn->ws) {
        hr_bench_ws_reset (conn->ws);
        free (conn->ws);
        conn->ws = NULL;
    }
}

//  Closes a connection. Before it was ready that is a failure (reason is
//  the counter to bump); after, the server dropped it.
static void
s_close (s_sub_t *self, s_conn_t *conn, uint64_t *reason)
{
    if (conn->state == C_CLOSED)
        return;
    if (conn->ready)
        self->result.counts.dropped++;
    else {
        self->pending--;
        self->result.counts.failed++;
        (*reason)++;
    }
    s_release (conn);
}

//  Connect mode: a ready connection has done its job. Called once the
//  parsers are out of the connection's buffers.
static void
s_done (s_sub_t *self, s_conn_t *conn)
{
    hr_bench_hist_add (&self->result.hist, hr_bench_now () - conn->started_ns);
    s_release (conn);
}

static void
s_start (s_sub_t *self, s_conn_t *conn)
{
    hr_bench_counts_t *counts = &self->result.counts;
    uint32_t src = self->opts->src_addrs > 1? conn->index % self->opts->src_addrs + 1: 0;
    counts->attempted++;
    self->pending++;
    conn->started_ns = hr_bench_now ();
    conn->fd = hr_bench_http_connect (self->url, src);
    if (conn->fd < 0) {
        conn->state = C_CONNECTING;
        s_close (self, conn, conn->fd == -2? &counts->fail_bind: &counts->fail_connect);
        return;
    }
    struct epoll_event event = { .events = EPOLLOUT, .data.u64 = conn - self->conns };
    if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event) != 0) {
        conn->state = C_CONNECTING;
        s_close (self, conn, &counts->fail_connect);
        return;
    }
    conn->state = C_CONNECTING;
}

static void
s_on_writable (s_sub_t *self, s_conn_t *conn)
{
    hr_bench_counts_t *counts = &self->result.counts;
    int error = 0;
    socklen_t error_len = sizeof error;
    if (conn->sent == 0
    &&  (getsockopt (conn->fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0 || error)) {
        s_close (self, conn, &counts->fail_connect);
        return;
    }
    char request [S_REQUEST_SIZE];
    size_t len = self->proto->request (self, conn, request, sizeof request);
    if (len == 0) {
        s_close (self, conn, &counts->fail_connect);
        return;
    }
    ssize_t sent = send (conn->fd, request + conn->sent, len - conn->sent, MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno != EAGAIN)
            s_close (self, conn, &counts->fail_closed);
        return;
    }
    conn->sent += (uint32_t) sent;
    if (conn->sent == len) {
        conn->state = C_HEAD;
        struct epoll_event event = { .events = EPOLLIN, .data.u64 = conn - self->conns };
        epoll_ctl (self->epoll_fd, EPOLL_CTL_MOD, conn->fd, &event);
    }
}

//  Handles bytes of the response head; passes what follows it to the body.
static int
s_on_head (s_sub_t *self, s_conn_t *conn, const char *data, size_t len)
{
    hr_bench_counts_t *counts = &self->result.counts;
    //  Heads are small and come once: keep a copy until complete.
    char *grown = realloc (conn->head, conn->head_len + len);
    if (!grown)
        return -1;
    conn->head = grown;
    memcpy (conn->head + conn->head_len, data, len);
    conn->head_len += (uint32_t) len;
    size_t head_len = conn->head_len;
    hr_bench_http_head_t parsed;
    ssize_t used = hr_bench_http_head_parse (conn->head, head_len, &parsed);
    if (used == 0)
        return 0;
    if (used < 0 || parsed.status != self->proto->status) {
        s_close (self, conn, used < 0? &counts->fail_closed: &counts->fail_status);
        return -1;
    }
    counts->connected++;
    conn->chunked = parsed.chunked;
    conn->state = C_BODY;
    if (self->opts->ready == HR_BENCH_READY_HEADERS)
        s_ready (self, conn);
    //  The body's first bytes may have come with the head.
    char *rest = conn->head;
    size_t rest_len = head_len - (size_t) used;
    conn->head = NULL;
    conn->head_len = 0;
    int rc = rest_len? self->proto->feed (self, conn, rest + used, rest_len): 0;
    free (rest);
    return rc;
}

static void
s_on_readable (s_sub_t *self, s_conn_t *conn)
{
    hr_bench_counts_t *counts = &self->result.counts;
    //  One read per wake-up: level-triggered epoll comes back for the rest,
    //  and a busy connection cannot starve the others.
    ssize_t got = read (conn->fd, self->read_buf, S_READ_SIZE);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        s_close (self, conn, &counts->fail_closed);
        return;
    }
    if (got < 0)
        return;
    counts->bytes += (uint64_t) got;
    int rc = conn->state == C_HEAD
           ? s_on_head (self, conn, self->read_buf, (size_t) got)
           : self->proto->feed (self, conn, self->read_buf, (size_t) got);
    if (rc != 0)
        s_close (self, conn, &counts->fail_closed);   //  no-op if already closed
    else
    if (conn->ready && self->opts->mode == HR_BENCH_MODE_CONNECT)
        s_done (self, conn);
}

//  --------------------------------------------------------------------------
//  SSE, the first connection type

typedef struct {
    s_sub_t *self;
    s_conn_t *conn;
} s_sse_ctx_t;

static void
s_sse_on_event (void *arg, const hr_bench_sse_event_t *event)
{
    s_sse_ctx_t *ctx = arg;
    hr_bench_counts_t *counts = &ctx->self->result.counts;
    if (event->named)
        counts->named++;
    if (event->have_marker)
        s_deliver (ctx->self, ctx->conn, event->seq, event->ts);
    else
        counts->no_marker++;
}

static void
s_sse_on_id (void *arg)
{
    s_sse_ctx_t *ctx = arg;
    ctx->self->result.counts.ids++;
    if (ctx->self->opts->ready == HR_BENCH_READY_ID)
        s_ready (ctx->self, ctx->conn);
}

static void
s_sse_on_comment (void *arg)
{
    ((s_sse_ctx_t *) arg)->self->result.counts.comments++;
}

static const hr_bench_sse_sink_t s_sse_sink = { s_sse_on_event, s_sse_on_id, s_sse_on_comment };

static int
s_sse_dechunked (void *arg, const char *data, size_t len)
{
    s_sse_ctx_t *ctx = arg;
    return hr_bench_sse_feed (&ctx->conn->sse, data, len, &s_sse_sink, ctx);
}

static int
s_sse_feed (s_sub_t *self, s_conn_t *conn, const char *data, size_t len)
{
    s_sse_ctx_t ctx = { self, conn };
    if (!conn->chunked)
        return hr_bench_sse_feed (&conn->sse, data, len, &s_sse_sink, &ctx);
    //  The last chunk means the server ended the stream: treat as a close.
    int rc = hr_bench_chunked_feed (&conn->chunk, data, len, s_sse_dechunked, &ctx, NULL);
    return rc == 0? 0: -1;
}

//  Writes "GET path HTTP/1.1" for the connection's channel, then extra
//  header lines and the connection's token (--token-in: query or header);
//  returns the length, or 0 when it does not fit.
static size_t
s_request (s_sub_t *self, s_conn_t *conn, const char *extra, char *buf, size_t size)
{
    const hr_bench_opts_t *opts = self->opts;
    char channel [160], path [1200], query [HR_BENCH_TOKEN_MAX + 8] = "",
         header [HR_BENCH_TOKEN_MAX + 32] = "";
    hr_bench_opts_channel (opts, conn->channel, channel, sizeof channel);
    if (hr_bench_url_path (self->url, channel, path, sizeof path) == 0)
        return 0;
    const char *token = opts->token_count? opts->tokens [conn->index % opts->token_count]: NULL;
    if (token && opts->token_in == HR_BENCH_TOKEN_QUERY)
        snprintf (query, sizeof query, "%ctoken=%s", strchr (path, '?')? '&': '?', token);
    else
    if (token)
        snprintf (header, sizeof header, "Authorization: Bearer %s\r\n", token);
    int len = snprintf (buf, size, "GET %s%s HTTP/1.1\r\nHost: %s\r\n%s%s"
                        "User-Agent: hr-bench\r\n\r\n", path, query, self->url->host,
                        extra, header);
    return len > 0 && (size_t) len < size? (size_t) len: 0;
}

static size_t
s_sse_request (s_sub_t *self, s_conn_t *conn, char *buf, size_t size)
{
    return s_request (self, conn, "Accept: text/event-stream\r\nCache-Control: no-cache\r\n",
                      buf, size);
}

static const s_proto_t s_proto_sse = { "sse", 200, s_sse_request, s_sse_feed };

//  --------------------------------------------------------------------------
//  WebSocket: nchan sends each payload as a message; Herald (herald.v1.json)
//  greets, is sent a `sub`, confirms it with `ok`, then sends `ev` messages

typedef struct {
    s_sub_t *self;
    s_conn_t *conn;
    bool failed;                //  the connection must close
} s_ws_ctx_t;

//  Delivers every payload marker in a message (Herald may batch events).
static void
s_ws_deliver_all (s_ws_ctx_t *ctx, const char *data, size_t len)
{
    bool any = false;
    const char *at;
    while (len && (at = memmem (data, len, "hb_seq", 6))) {
        len -= (size_t) (at - data);
        data = at;
        uint64_t seq, ts;
        if (hr_bench_payload_scan (data, len, &seq, &ts) == 0) {
            s_deliver (ctx->self, ctx->conn, seq, ts);
            any = true;
        }
        data += 6;
        len -= 6;
    }
    if (!any)
        ctx->self->result.counts.no_marker++;
}

static void
s_ws_on_message (void *arg, const char *data, size_t len)
{
    s_ws_deliver_all (arg, data, len);
}

//  Sends a small masked frame whole, or marks the connection failed: a
//  frame cut short would corrupt the stream.
static void
s_ws_send (s_ws_ctx_t *ctx, int opcode, const char *payload, size_t len)
{
    char frame [400];
    size_t size = hr_bench_ws_frame (frame, sizeof frame, opcode, payload, len);
    if (size == 0
    ||  send (ctx->conn->fd, frame, size, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) size)
        ctx->failed = true;
}

static void
s_ws_on_ping (void *arg, const char *data, size_t len)
{
    s_ws_send (arg, HR_BENCH_WS_OP_PONG, data, len);
}

static void
s_herald_ws_on_message (void *arg, const char *data, size_t len)
{
    s_ws_ctx_t *ctx = arg;
    s_sub_t *self = ctx->self;
    unsigned types = hr_bench_ws_herald_types (data, len);
    if (types & HR_BENCH_WS_WELCOME) {
        //  Channel names are the generator's own (--channel, "-N"), JSON-safe.
        char channel [160], sub [300];
        hr_bench_opts_channel (self->opts, ctx->conn->channel, channel, sizeof channel);
        int sub_len = snprintf (sub, sizeof sub, "{\"t\":\"sub\",\"id\":1,\"ch\":\"%s\"}",
                                channel);
        s_ws_send (ctx, HR_BENCH_WS_OP_TEXT, sub, (size_t) sub_len);
    }
    if ((types & HR_BENCH_WS_OK) && self->opts->ready == HR_BENCH_READY_ID) {
        self->result.counts.ids++;
        s_ready (self, ctx->conn);
    }
    if (types & HR_BENCH_WS_PING)
        s_ws_send (ctx, HR_BENCH_WS_OP_TEXT, "{\"t\":\"pong\"}", 12);
    if (types & (HR_BENCH_WS_EV | HR_BENCH_WS_RESET))
        s_ws_deliver_all (ctx, data, len);
    //  A refused sub, or the server saying goodbye, before we were ready.
    if ((types & (HR_BENCH_WS_ERR | HR_BENCH_WS_BYE)) && !ctx->conn->ready)
        ctx->failed = true;
}

static int
s_ws_feed_with (s_sub_t *self, s_conn_t *conn, const char *data, size_t len,
                const hr_bench_ws_sink_t *sink)
{
    if (!conn->ws && !(conn->ws = calloc (1, sizeof *conn->ws)))
        return -1;
    s_ws_ctx_t ctx = { self, conn, false };
    int rc = hr_bench_ws_feed (conn->ws, data, len, sink, &ctx);
    return rc == 0 && !ctx.failed? 0: -1;
}

static int
s_ws_feed (s_sub_t *self, s_conn_t *conn, const char *data, size_t len)
{
    static const hr_bench_ws_sink_t sink = { s_ws_on_message, s_ws_on_ping };
    return s_ws_feed_with (self, conn, data, len, &sink);
}

static int
s_herald_ws_feed (s_sub_t *self, s_conn_t *conn, const char *data, size_t len)
{
    static const hr_bench_ws_sink_t sink = { s_herald_ws_on_message, s_ws_on_ping };
    return s_ws_feed_with (self, conn, data, len, &sink);
}

//  The key is the RFC 6455 example: the generator does not check the
//  server's accept value, only its 101.
#define S_WS_HEADERS "Upgrade: websocket\r\nConnection: Upgrade\r\n" \
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
                     "Sec-WebSocket-Version: 13\r\n"

static size_t
s_ws_request (s_sub_t *self, s_conn_t *conn, char *buf, size_t size)
{
    return s_request (self, conn, S_WS_HEADERS, buf, size);
}

static size_t
s_herald_ws_request (s_sub_t *self, s_conn_t *conn, char *buf, size_t size)
{
    return s_request (self, conn, S_WS_HEADERS "Sec-WebSocket-Protocol: herald.v1.json\r\n",
                      buf, size);
}

static const s_proto_t s_proto_ws = { "ws", 101, s_ws_request, s_ws_feed };
static const s_proto_t s_proto_herald_ws = { "herald-ws", 101, s_herald_ws_request,
                                             s_herald_ws_feed };

//  --------------------------------------------------------------------------
//  Talking to the parent

static void
s_send_progress (s_sub_t *self)
{
    hr_bench_msg_t msg = { .type = HR_BENCH_MSG_PROGRESS, .proc = self->proc };
    msg.counts = self->result.counts;
    msg.counts.pending = self->pending;
    msg.counts.ramp_done = self->ramp_end_ns > 0;
    msg.counts.ramp_end_ns = self->ramp_end_ns;
    //  Non-blocking: a parent busy publishing may not read; skip a report
    //  rather than stall the subscribers.
    if (write (self->out_fd, &msg, sizeof msg) < 0) { /* dropped */ }
}

static int
s_write_all (int fd, const void *data, size_t len)
{
    const char *cursor = data;
    while (len > 0) {
        ssize_t done = write (fd, cursor, len);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        cursor += done;
        len -= (size_t) done;
    }
    return 0;
}

static void
s_send_result (s_sub_t *self)
{
    hr_bench_result_t *result = &self->result;
    hr_bench_counts_t *counts = &result->counts;
    counts->expected = counts->lost = 0;
    for (uint32_t at = 0; at < self->conn_count; at++) {
        s_conn_t *conn = &self->conns [at];
        if (!conn->measured)
            continue;
        uint64_t expected = hr_bench_expected (self->published, self->opts->channels, conn->channel);
        counts->expected += expected;
        counts->lost += conn->unique < expected? expected - conn->unique: 0;
        result->channel_subs [conn->channel]++;
    }
    counts->exact_dups = self->bitmaps != NULL || self->conn_count == 0;
    hr_bench_msg_t msg = { .type = HR_BENCH_MSG_RESULT, .proc = self->proc };
    msg.counts = *counts;
    msg.counts.pending = self->pending;
    msg.counts.ramp_done = self->ramp_end_ns > 0;
    msg.counts.ramp_end_ns = self->ramp_end_ns;

    int flags = fcntl (self->out_fd, F_GETFL);
    fcntl (self->out_fd, F_SETFL, flags & ~O_NONBLOCK);
    if (s_write_all (self->out_fd, &msg, sizeof msg) != 0
    ||  s_write_all (self->out_fd, &result->hist, sizeof result->hist) != 0
    ||  s_write_all (self->out_fd, result->channel_subs, result->channels * sizeof (uint32_t)) != 0
    ||  s_write_all (self->out_fd, result->ev_count, result->events * sizeof (uint32_t)) != 0
    ||  s_write_all (self->out_fd, result->ev_max_ns, result->events * sizeof (uint64_t)) != 0)
        fprintf (stderr, "hr-bench: subscriber %u: cannot send result\n", self->proc);
    fcntl (self->out_fd, F_SETFL, flags);
}

//  Returns false when the parent is gone or said quit.
static bool
s_on_command (s_sub_t *self)
{
    hr_bench_ctl_t ctl;
    ssize_t got = read (self->ctl_fd, &ctl, sizeof ctl);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (got != (ssize_t) sizeof ctl || ctl.cmd == HR_BENCH_CMD_QUIT)
        return false;
    if (ctl.cmd == HR_BENCH_CMD_PUBLISH && !self->measuring) {
        self->measuring = true;
        for (uint32_t at = 0; at < self->conn_count; at++)
            if (self->conns [at].ready && self->conns [at].state != C_CLOSED)
                self->conns [at].measured = true;
        if (self->phase == P_RAMP)
            self->phase = P_MEASURE;
    }
    else
    if (ctl.cmd == HR_BENCH_CMD_STOP && self->phase < P_DRAIN) {
        self->published = ctl.arg < self->result.events? ctl.arg: self->result.events;
        self->phase = P_DRAIN;
        self->drain_deadline_ns = hr_bench_now () + (uint64_t) (self->opts->drain * 1e9);
    }
    return true;
}

//  True when every measured, still open connection has all its events.
static bool
s_drained (s_sub_t *self)
{
    for (uint32_t at = 0; at < self->conn_count; at++) {
        s_conn_t *conn = &self->conns [at];
        if (conn->measured && conn->state != C_CLOSED
        &&  conn->unique < hr_bench_expected (self->published, self->opts->channels, conn->channel))
            return false;
    }
    return true;
}

static void
s_sweep_timeouts (s_sub_t *self, uint64_t now)
{
    uint64_t limit = (uint64_t) (self->opts->connect_timeout * 1e9);
    for (uint32_t at = 0; at < self->next; at++) {
        s_conn_t *conn = &self->conns [at];
        //  started_ns may be later than now: connections started this turn.
        if (conn->state != C_CLOSED && !conn->ready
        &&  now > conn->started_ns && now - conn->started_ns > limit)
            s_close (self, conn, &self->result.counts.fail_timeout);
    }
}

//  --------------------------------------------------------------------------

static int
s_setup (s_sub_t *self)
{
    const hr_bench_opts_t *opts = self->opts;
    //  Raise the soft open-file limit to the hard one; the parent checked
    //  that our share of connections fits.
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    uint32_t procs = opts->procs;
    self->conn_count = opts->subscribers / procs + (self->proc < opts->subscribers % procs? 1: 0);
    self->stop_at = self->conn_count;
    self->conns = calloc (self->conn_count? self->conn_count: 1, sizeof (s_conn_t));
    self->read_buf = malloc (S_READ_SIZE);
    if (!self->conns || !self->read_buf
    ||  hr_bench_result_init (&self->result, opts->channels, opts->events) != 0)
        return -1;
    //  A bitmap per connection over its channel's events catches every
    //  duplicate; past the budget, only repeats of the last seq are caught.
    uint64_t per_conn = ((opts->events + opts->channels - 1) / opts->channels + 7) / 8;
    if (per_conn * self->conn_count <= S_BITMAP_BUDGET && self->conn_count > 0) {
        self->bitmaps = calloc (self->conn_count, per_conn);
        self->bitmap_bytes = per_conn;
    }
    for (uint32_t at = 0; at < self->conn_count; at++) {
        s_conn_t *conn = &self->conns [at];
        conn->fd = -1;
        conn->index = self->proc + at * procs;
        conn->channel = conn->index % opts->channels;
        conn->seen = self->bitmaps? self->bitmaps + at * per_conn: NULL;
    }
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epoll_fd < 0)
        return -1;
    fcntl (self->ctl_fd, F_SETFL, fcntl (self->ctl_fd, F_GETFL) | O_NONBLOCK);
    fcntl (self->out_fd, F_SETFL, fcntl (self->out_fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = S_CTL_KEY };
    return epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, self->ctl_fd, &event);
}

//  Starts as many connections as the rate and the in-flight bound allow.
static void
s_ramp (s_sub_t *self, uint64_t now)
{
    double rate = self->opts->conn_rate / self->opts->procs;
    uint64_t max_pending = self->opts->max_pending / self->opts->procs;
    if (max_pending == 0)
        max_pending = 1;
    double elapsed = (double) (now - self->ramp_start_ns) / 1e9;
    if (self->opts->mode == HR_BENCH_MODE_CONNECT && elapsed >= self->opts->duration)
        self->stop_at = self->next;
    uint64_t allowed = (uint64_t) (elapsed * rate) + 1;
    for (int burst = 0; burst < 1024 && self->next < self->stop_at
         && self->next < allowed && self->pending < max_pending; burst++)
        s_start (self, &self->conns [self->next++]);
}

static const s_proto_t *
s_proto_for (const hr_bench_opts_t *opts)
{
    if (opts->proto == HR_BENCH_PROTO_SSE)
        return &s_proto_sse;
    return opts->target == HR_BENCH_TARGET_HERALD? &s_proto_herald_ws: &s_proto_ws;
}

int
hr_bench_sub_run (const hr_bench_opts_t *opts, const hr_bench_url_t *url,
                  uint32_t proc, int ctl_fd, int out_fd)
{
    s_sub_t self = {
        .opts = opts, .url = url, .proto = s_proto_for (opts), .proc = proc,
        .ctl_fd = ctl_fd, .out_fd = out_fd, .epoll_fd = -1
    };
    if (s_setup (&self) != 0) {
        fprintf (stderr, "hr-bench: subscriber %u: setup failed: %s\n", proc, strerror (errno));
        return 1;
    }
    self.start_ns = self.ramp_start_ns = hr_bench_now ();
    self.hard_deadline_ns = self.start_ns + (uint64_t) ((opts->timeout + 10) * 1e9);
    uint64_t next_progress = 0, next_sweep = 0, next_drain_check = 0;
    struct epoll_event events [256];
    bool running = true;

    while (running) {
        uint64_t now = hr_bench_now ();
        if (now > self.hard_deadline_ns)
            break;
        s_ramp (&self, now);
        if (now >= next_sweep) {
            s_sweep_timeouts (&self, now);
            next_sweep = now + 100000000;
        }
        //  s_drained walks every connection: at most every 20 ms.
        if (self.phase == P_DRAIN && now >= next_drain_check) {
            if (now >= self.drain_deadline_ns || s_drained (&self)) {
                s_send_result (&self);
                self.phase = P_REPORTED;
            }
            next_drain_check = now + 20000000;
        }
        if (!self.ramp_end_ns && self.next == self.stop_at && self.pending == 0) {
            self.ramp_end_ns = now;
            next_progress = now;        //  the parent is waiting for this
        }
        if (now >= next_progress && self.phase != P_REPORTED) {
            s_send_progress (&self);
            next_progress = now + 250000000;
        }
        int wait_ms = self.next < self.stop_at? 2: self.phase == P_DRAIN? 10: 50;
        int ready = epoll_wait (self.epoll_fd, events, 256, wait_ms);
        for (int at = 0; at < ready && running; at++) {
            if (events [at].data.u64 == S_CTL_KEY) {
                running = s_on_command (&self);
                continue;
            }
            s_conn_t *conn = &self.conns [events [at].data.u64];
            if (conn->state == C_CLOSED)
                continue;
            if (conn->state == C_CONNECTING)
                s_on_writable (&self, conn);
            else
                s_on_readable (&self, conn);
        }
    }
    //  Sockets close with the process; nothing else holds resources.
    return 0;
}
