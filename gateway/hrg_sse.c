/*  hrg_sse: the SSE transport: the request, rendering, the ops table.
    Writing the body is hrg_sse_io.c.  */
#include "hrg_sse.h"
#include "hrg_auth.h"
#include "hrg_query.h"
#include "hrg_respond.h"
#include "hr_json.h"
#include "hr_log.h"

#include <assert.h>
#include <fcntl.h>
#include <string.h>

typedef struct {
    hrg_conn_t conn;            //  first: the core's part
    hrg_stream_t stream;        //  its one stream
    hrg_sse_body_t body;
} s_sse_t;

void
hrg_sse_format_event (hr_buf_t *out, const char *cursor, size_t cursor_len,
                      const hrg_event_t *ev, bool typed)
{
    size_t type_len;
    const char *type = typed? hrg_event_type (ev, &type_len): NULL;
    //  An event named herald-* would pass for the gateway's own (a reset):
    //  those stay on the default message stream
    if (type && type_len >= 7 && memcmp (type, "herald-", 7) == 0)
        type = NULL;
    hr_buf_reserve (out, cursor_len + ev->json_len + 16 + (type? type_len + 8: 0));
    if (type) {
        hr_buf_put (out, "event: ", 7);
        hr_buf_put (out, type, type_len);
        hr_buf_putc (out, '\n');
    }
    hr_buf_put (out, "id: ", 4);
    hr_buf_put (out, cursor, cursor_len);
    hr_buf_put (out, "\ndata: ", 7);
    hr_buf_put (out, ev->json, ev->json_len);
    hr_buf_put (out, "\n\n", 2);
}

void
hrg_sse_reset_data (hr_buf_t *out, const char *channel, hr_reset_t reason,
                    const char *epoch, uint64_t seq)
{
    hr_buf_puts (out, "{\"channel\":");
    hr_json_string (out, channel, strlen (channel));
    hr_buf_puts (out, ",\"reason\":\"");
    hr_buf_puts (out, hr_reset_name (reason));
    hr_buf_puts (out, "\",\"epoch\":");
    if (epoch)
        hr_json_string (out, epoch, strlen (epoch));
    else
        hr_buf_puts (out, "null");
    hr_buf_puts (out, ",\"seq\":");
    hr_buf_put_u64 (out, seq);
    hr_buf_putc (out, '}');
}

void
hrg_sse_format_reset (hr_buf_t *out, const char *cursor, size_t cursor_len,
                      const char *channel, hr_reset_t reason, const char *epoch,
                      uint64_t seq)
{
    hr_buf_puts (out, "event: herald-reset\nid: ");
    hr_buf_put (out, cursor, cursor_len);
    hr_buf_puts (out, "\ndata: ");
    hrg_sse_reset_data (out, channel, reason, epoch, seq);
    hr_buf_puts (out, "\n\n");
}

//  A well-formed cursor of another channel set (the page changed its
//  channels) is no error: the stream starts fresh with a cursor-mismatch
//  reset per channel (*mismatch), so EventSource does not give up.
static hr_chanset_t *
s_parse_request (struct MHD_Connection *mhd, hr_position_t **positions, bool *fresh,
                 bool *mismatch, hr_error_t *error)
{
    hr_chanset_t *set = hrg_query_channels (mhd, error);
    if (!set)
        return NULL;
    *positions = hr_calloc (set->count, sizeof **positions);
    const char *cursor = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND, "Last-Event-ID");
    if (!cursor || !*cursor)
        cursor = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "lastEventId");
    *fresh = !cursor || !*cursor;
    *mismatch = false;
    if (*fresh)
        return set;
    hr_cursor_status_t status = hr_cursor_parse (cursor, strlen (cursor), set, *positions);
    if (status == HR_CURSOR_OTHER_SET)
        *fresh = *mismatch = true;
    else
    if (status != HR_CURSOR_OK) {
        *error = HR_E_BAD_CURSOR;
        free (*positions);
        hr_chanset_destroy (&set);
    }
    return set;
}

//  The response head the worker writes itself (HTTP/1.0 gets no chunking).
static void
s_build_head (s_sse_t *self, struct MHD_Connection *mhd, const char *version)
{
    hr_buf_t head = HR_BUF_INIT;
    hrg_sse_body_t *body = &self->body;
    hrg_worker_t *worker = self->conn.worker;
    body->chunked = strcmp (version, MHD_HTTP_VERSION_1_0) != 0;
    hr_buf_puts (&head, body->chunked? "HTTP/1.1 200 OK\r\n": "HTTP/1.0 200 OK\r\n");
    hr_buf_puts (&head, "Content-Type: text/event-stream\r\n"
                        "Cache-Control: no-cache\r\n"
                        "X-Accel-Buffering: no\r\n");
    hr_buf_puts (&head, body->chunked? "Transfer-Encoding: chunked\r\n"
                                     : "Connection: close\r\n");
    hrg_respond_cors_head (worker, mhd, &head);
    hr_buf_puts (&head, "\r\n");
    body->head_len = (uint32_t) head.size;
    body->head = hr_buf_detach (&head);
}

//  The cursor of view's positions: the one the view carries (a group's,
//  kept encoded), else encoded in the worker's cursor buffer.
static const char *
s_cursor (hrg_worker_t *worker, const hrg_view_t *view, size_t *len)
{
    if (view->cursor) {
        *len = view->cursor_len;
        return view->cursor;
    }
    hr_buf_t *cursor = &worker->cursor;
    hr_buf_reset (cursor);
    hr_cursor_encode_parts (cursor, view->set, view->epochs, view->seqs);
    *len = cursor->size;
    return cursor->data;
}

static void
s_render_event (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                const hrg_event_t *ev)
{
    size_t len;
    const char *cursor = s_cursor (worker, view, &len);
    hrg_sse_format_event (out, cursor, len, ev, false);
}

static void
s_render_typed (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                const hrg_event_t *ev)
{
    size_t len;
    const char *cursor = s_cursor (worker, view, &len);
    hrg_sse_format_event (out, cursor, len, ev, true);
}

static void
s_render_reset (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                hr_reset_t reason)
{
    size_t len;
    const char *cursor = s_cursor (worker, view, &len);
    hrg_sse_format_reset (out, cursor, len, view->set->names [view->index],
                          reason, view->epochs [view->index], view->seqs [view->index]);
}

//  Caught up: the client learns its position before the live events.
static void
s_stream_live (hrg_stream_t *stream)
{
    hrg_conn_t *conn = stream->conn;
    hr_buf_t *scratch = &conn->worker->scratch;
    const char *epochs [HR_CHANSET_MAX];
    uint64_t seqs [HR_CHANSET_MAX];
    hrg_view_t view;
    hrg_stream_view (stream, &view, epochs, seqs, 0);
    size_t len;
    const char *cursor = s_cursor (conn->worker, &view, &len);
    hr_buf_reset (scratch);
    hr_buf_puts (scratch, "id: ");
    hr_buf_put (scratch, cursor, len);
    hr_buf_puts (scratch, "\n\n");
    hrg_conn_send (conn, scratch->data, scratch->size);
}

static void
s_flush (hrg_conn_t *conn)
{
    hrg_sse_body_flush (&((s_sse_t *) conn)->body, conn);
}

static void
s_on_socket (hrg_conn_t *conn, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        hrg_conn_close (conn, HRG_CLOSE_PEER);  //  an SSE client sends nothing after its request
    else
    if (events & EPOLLOUT)
        hrg_conn_flush (conn);
}

//  A token event ("herald-token-expiring" ...) with data {"exp": N[, "in": N]}.
static void
s_token_event (hr_buf_t *out, const char *name, const hr_claims_t *claims, int64_t left_s)
{
    hr_buf_printf (out, "event: %s\ndata: {", name);
    if (claims)
        hr_buf_printf (out, "\"exp\":%lld", (long long) claims->exp);
    if (left_s >= 0)
        hr_buf_printf (out, ",\"in\":%lld", (long long) left_s);
    hr_buf_puts (out, "}\n\n");
}

static void
s_token_expiring (hrg_conn_t *conn, int64_t left_s)
{
    hr_buf_t *scratch = &conn->worker->scratch;
    hr_buf_reset (scratch);
    s_token_event (scratch, "herald-token-expiring", conn->claims, left_s < 0? 0: left_s);
    hrg_conn_send (conn, scratch->data, scratch->size);
}

//  The token expired or was revoked: one last event, then the body's end.
//  A stream with bytes still waiting (or half a chunk out) cannot say it
//  cleanly and is closed at once; its client learns why on reconnecting.
static bool
s_closing (hrg_conn_t *conn, hrg_close_t reason)
{
    s_sse_t *self = (s_sse_t *) conn;
    hrg_sse_body_t *body = &self->body;
    if (reason != HRG_CLOSE_EXPIRED && reason != HRG_CLOSE_REVOKED)
        return false;
    if (self->stream.member.group)
        hrg_group_seal (self->stream.member.group);     //  what it rendered too
    hrg_sse_body_flush (body, conn);          //  what is queued goes first
    if (conn->fd < 0 || body->head || body->in_chunk || hrg_conn_pending (conn))
        return false;
    hr_buf_t text = HR_BUF_INIT;
    s_token_event (&text, reason == HRG_CLOSE_EXPIRED? "herald-token-expired"
                                                     : "herald-token-revoked",
                   reason == HRG_CLOSE_EXPIRED? conn->claims: NULL, -1);
    hr_buf_t *scratch = &conn->worker->scratch;
    hr_buf_reset (scratch);
    if (body->chunked) {
        //  The last chunk and the terminating one, framed here: from now on
        //  the queue is written as it is
        hr_buf_printf (scratch, "%zx\r\n", text.size);
        hr_buf_put (scratch, text.data, text.size);
        hr_buf_puts (scratch, "\r\n0\r\n\r\n");
        body->chunked = false;
    }
    else
        hr_buf_put (scratch, text.data, text.size);
    hr_buf_free (&text);
    hrg_conn_send (conn, scratch->data, scratch->size);
    return true;
}

static void
s_sweep (hrg_conn_t *conn, uint64_t now_ms)
{
    hrg_worker_t *worker = conn->worker;
    s_sse_t *self = (s_sse_t *) conn;
    //  A resume whose client takes nothing for --conn-timeout would keep
    //  its catch-up memory (and make others wait) for ever
    if (conn->catching && conn->blocked
    &&  conn->blocked_ms + (uint64_t) worker->config->conn_timeout <= now_ms) {
        hr_metrics_inc (worker->shard, worker->m->slow_consumers);
        hr_log_limited_info ("stalled resume disconnected",
                             "channel", self->stream.set->names [0]);
        hrg_conn_close (conn, HRG_CLOSE_STALLED);
        return;
    }
    if (conn->last_frame_ms + (uint64_t) worker->config->heartbeat <= now_ms)
        hrg_conn_send (conn, ":\n\n", 3);
}

//  Catching up: what drained makes room for the next part of the replay.
static void
s_drained (hrg_conn_t *conn)
{
    hrg_stream_drained (&((s_sse_t *) conn)->stream);
}

static void
s_destroy (hrg_conn_t *conn)
{
    s_sse_t *self = (s_sse_t *) conn;
    hrg_stream_fini (&self->stream);
    hrg_conn_fini (conn);
    free (self->body.head);
    hrg_conn_free_memory (conn->worker, self, sizeof *self);
}

_Static_assert (sizeof (s_sse_t) <= HRG_CONN_SLOT, "an SSE connection fits a slot");

#define S_SSE_OPS \
    .render_reset = s_render_reset, \
    .stream_live = s_stream_live, \
    .flush = s_flush, \
    .on_socket = s_on_socket, \
    .sweep = s_sweep, \
    .closing = s_closing, \
    .token_expiring = s_token_expiring, \
    .drained = s_drained, \
    .keeps_cursor = true, \
    .destroy = s_destroy

static const hrg_transport_t s_transport = {
    .name = "sse", .render_event = s_render_event, S_SSE_OPS
};

//  typed=1: the same, but an event with a type gets an `event:` line. A
//  transport of its own, so typed and untyped streams never share frames.
static const hrg_transport_t s_transport_typed = {
    .name = "sse-typed", .render_event = s_render_typed, S_SSE_OPS
};

hrg_conn_t *
hrg_sse_open (hrg_worker_t *worker, int fd, hr_chanset_t *set, hr_position_t *positions,
              bool fresh)
{
    s_sse_t *self = hrg_conn_alloc_memory (worker, sizeof *self);
    hrg_conn_init (&self->conn, worker, &s_transport, fd);
    hrg_stream_init (&self->stream, &self->conn, set, positions, fresh);
    return &self->conn;
}

void
hrg_sse_typed (hrg_conn_t *conn)
{
    assert (conn->transport == &s_transport);
    conn->transport = &s_transport_typed;
}

void
hrg_sse_start (hrg_conn_t *conn)
{
    s_sse_t *self = (s_sse_t *) conn;
    hrg_worker_t *worker = conn->worker;
    hrg_conn_adopt (conn);
    hr_buf_t *scratch = &worker->scratch;
    hr_buf_reset (scratch);
    hr_buf_printf (scratch, "retry: %lld\n\n", (long long) worker->config->sse_retry);
    hrg_conn_send (conn, scratch->data, scratch->size);
    hrg_stream_account (&self->stream);
    hrg_stream_catch_up (&self->stream);
}

enum MHD_Result
hrg_sse_handle (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version)
{
    if (worker->conn_count >= worker->config->max_connections)
        return hrg_respond_error (worker, mhd, HR_E_OVERLOADED, NULL);
    hr_error_t error;
    hr_position_t *positions = NULL;
    bool fresh, mismatch;
    hr_chanset_t *set = s_parse_request (mhd, &positions, &fresh, &mismatch, &error);
    if (error)
        return hrg_respond_error (worker, mhd, error, NULL);
    //  Every channel is checked before the stream starts
    hr_claims_t *claims = NULL;
    const char *why = NULL;
    error = hrg_auth_request_read (worker->auth, mhd, (const char *const *) set->names,
                                   set->count, &claims, &why);
    if (error) {
        free (positions);
        hr_chanset_destroy (&set);
        return hrg_respond_error (worker, mhd, error, why);
    }
    //  Take the socket: a duplicate stays ours when libmicrohttpd closes its
    //  descriptor (with MHD_USE_TURBO it does not shut the socket down).
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = info? fcntl (info->connect_fd, F_DUPFD_CLOEXEC, 0): -1;
    if (fd < 0) {
        free (positions);
        hr_chanset_destroy (&set);
        hr_claims_destroy (&claims);
        return hrg_respond_error (worker, mhd, HR_E_OVERLOADED, "out of file descriptors");
    }
    hrg_conn_t *conn = hrg_sse_open (worker, fd, set, positions, fresh);
    ((s_sse_t *) conn)->stream.mismatch = mismatch;
    if (hrg_query_flag (mhd, "typed"))
        hrg_sse_typed (conn);
    conn->address = hrg_limit_mhd_hold (worker->limit, mhd);
    if (claims)
        hrg_conn_set_claims (conn, claims);
    s_build_head ((s_sse_t *) conn, mhd, version);
    hrg_sse_start (conn);
    return MHD_NO;              //  libmicrohttpd closes its side, and frees its memory
}

