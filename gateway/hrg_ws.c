/*  hrg_ws: WebSocket connections: the upgrade, the socket, heartbeats,
    closing with `bye`, and the two transports' ops. The messages of a
    session are hrg_ws_session.c.  */
#include "hrg_ws.h"
#include "hrg_ws_conn.h"
#include "hrg_ws_handshake.h"
#include "hrg_auth.h"
#include "hrg_respond.h"
#include "hr_log.h"
#include "hr_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

//  Inbound silence tolerated beyond the heartbeat before closing (4002).
#define S_SILENCE_GRACE_MS 10000
//  Bytes read from a socket per read call, and per turn of the loop (the
//  rest waits for the next turn: one client cannot starve the others).
#define S_READ_CHUNK 16384
#define S_READ_TURN (4 * S_READ_CHUNK)

const char *const hrg_ws_close_labels [HRG_WS_CLOSE_LABELS] = {
    "1001", "1002", "1003", "1007", "1009", "1011", "4001", "4002", "4003", "4004", "4005",
    "4501", "4503" };
const char *const hrg_ws_error_labels [HRG_WS_ERROR_LABELS] = {
    "bad_request", "limit", "too_big", "rate_limited", "unavailable", "internal",
    "unauthorized", "forbidden", "token_expired", "storage_full" };

static void
s_count_label (hrg_worker_t *worker, int base, const char *const *labels, int count,
               const char *label)
{
    for (int i = 0; i < count; i++)
        if (strcmp (labels [i], label) == 0) {
            hr_metrics_inc (worker->shard, base + i);
            return;
        }
}

void
hrg_ws_conn_count_error (hrg_ws_conn_t *self, const char *code)
{
    hrg_worker_t *worker = self->conn.worker;
    s_count_label (worker, worker->m->ws_errors, hrg_ws_error_labels, HRG_WS_ERROR_LABELS,
                   code);
}

//  Brings herald_ws_inbound_bytes up to date with what the framing holds.
static void
s_count_inbound (hrg_ws_conn_t *self)
{
    hrg_worker_t *worker = self->conn.worker;
    size_t now = self->sock? hrg_ws_sock_memory (self->sock): 0;
    hr_metrics_add_to (worker->shard, worker->m->ws_inbound_bytes,
                       (int64_t) now - (int64_t) self->inbound_counted);
    self->inbound_counted = now;
}

static void
s_count_close (hrg_worker_t *worker, int code)
{
    char label [8];
    snprintf (label, sizeof label, "%d", code);
    s_count_label (worker, worker->m->ws_closes, hrg_ws_close_labels, HRG_WS_CLOSE_LABELS,
                   label);
}

void
hrg_ws_conn_send (hrg_ws_conn_t *self, hr_buf_t *frame)
{
    hrg_conn_send (&self->conn, frame->data, frame->size);
}

//  Queues bye{code, why, retry_after?} and the close frame at the head of
//  the line (only a partly written frame stays before them), and writes
//  what the socket takes now. Once only.
static void
s_say_bye (hrg_ws_conn_t *self, int code, const char *why, int64_t retry_after_ms)
{
    hrg_conn_t *conn = &self->conn;
    if (self->said_bye || conn->fd < 0)
        return;
    self->said_bye = true;
    s_count_close (conn->worker, code);
    char code_text [8];
    snprintf (code_text, sizeof code_text, "%d", code);
    hr_log_limited_info ("WebSocket closed", "code", code_text, "why", why);
    hr_buf_t *scratch = &conn->worker->scratch;
    hr_buf_reset (scratch);
    hrg_ws_render_bye (scratch, self->format, code, why, retry_after_ms);
    hrg_ws_render_close (scratch, (uint16_t) code, why);
    hrg_queue_truncate (&conn->queue);
    hrg_frame_t *frame = hrg_frame_copy (scratch->data, scratch->size);
    hrg_queue_push (&conn->queue, frame);
    hrg_frame_release (frame);
    hrg_conn_write_queue (conn);
}

void
hrg_ws_conn_end (hrg_ws_conn_t *self, int code, const char *why)
{
    hrg_conn_t *conn = &self->conn;
    if (conn->closing)
        return;
    hrg_ws_sock_stop (self->sock, code);
    s_count_inbound (self);
    s_say_bye (self, code, why, -1);
    hrg_conn_linger (conn);
}

//  What the close codes wslay sends mean, for the bye before them.
static const char *
s_why (int code)
{
    switch (code) {
        case 1002: return "protocol error";
        case 1003: return "binary frame on herald.v1.json";
        case 1007: return "invalid UTF-8 or not one JSON (or MessagePack) value";
        case 1009: return "message over --ws-max-message";
        case 1011: return "internal error";
        default:   return NULL;
    }
}

//  wslay's output: pongs, and a close frame. A close of ours (the peer's
//  close is only echoed) gets its bye first.
static void
s_sock_send (void *arg, const uint8_t *data, size_t size)
{
    hrg_ws_conn_t *self = arg;
    if (size >= 4 && data [0] == 0x88) {
        int code = data [2] << 8 | data [3];
        const char *why = s_why (code);
        if (why) {
            s_say_bye (self, code, why, -1);
            return;                     //  s_say_bye sent a close frame of its own
        }
    }
    hrg_conn_send (&self->conn, data, size);
}

static void
s_sock_message (void *arg, int opcode, const uint8_t *data, size_t size)
{
    hrg_ws_conn_t *self = arg;
    bool binary = opcode == 2;
    if (binary != (self->format == HRG_WS_MSGPACK)) {
        hrg_ws_conn_end (self, 1003, binary? "binary frame on herald.v1.json"
                                           : "text frame on herald.v1.msgpack");
        return;
    }
    hrg_ws_session_message (self, data, size);
}

static const hrg_ws_sock_ops_t s_sock_ops = { s_sock_message, s_sock_send };

//  Reads what the socket holds and feeds it to the framing, until it would
//  block (the socket is edge-triggered) or the connection ends.
static void
s_read (hrg_ws_conn_t *self)
{
    hrg_conn_t *conn = &self->conn;
    uint8_t buffer [S_READ_CHUNK];
    for (size_t taken = 0; conn->fd >= 0 && !conn->closing; ) {
        if (taken >= S_READ_TURN) {
            hrg_conn_read_later (conn);
            break;
        }
        ssize_t size = read (conn->fd, buffer, sizeof buffer);
        if (size == 0 || (size < 0 && errno != EAGAIN && errno != EINTR)) {
            hrg_conn_close (conn, HRG_CLOSE_PEER);
            return;
        }
        if (size < 0) {
            if (errno == EAGAIN)
                break;
            continue;
        }
        taken += (size_t) size;
        self->last_in_ms = hr_mono_ms ();
        int code = hrg_ws_sock_feed (self->sock, buffer, (size_t) size);
        s_count_inbound (self);
        //  Control frames count against --ws-max-rate too: a ping flood
        //  costs a pong each
        uint64_t controls = hrg_ws_sock_controls (self->sock);
        bool within = hrg_ws_session_within_rate (
            self, (size_t) (controls - self->controls_counted));
        self->controls_counted = controls;
        if (!code && !conn->closing && !within)
            hrg_ws_conn_end (self, 4004, "over --ws-max-rate messages per second");
        if (code && !conn->closing) {
            //  The close frame (and our bye) is queued: write it, then close
            hrg_conn_linger (conn);
            return;
        }
    }
    hrg_conn_mark_dirty (conn);         //  replies go out this turn
}

static void
s_on_socket (hrg_conn_t *conn, uint32_t events)
{
    hrg_ws_conn_t *self = (hrg_ws_conn_t *) conn;
    if (events & EPOLLOUT)
        hrg_conn_flush (conn);
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s_read (self);
}

static void
s_flush (hrg_conn_t *conn)
{
    hrg_conn_write_queue (conn);
}

//  The core closes it (slow consumer, stalled resume, shutdown): last words.
static bool
s_closing (hrg_conn_t *conn, hrg_close_t reason)
{
    hrg_ws_conn_t *self = (hrg_ws_conn_t *) conn;
    hrg_ws_sock_stop (self->sock, 1001);
    s_count_inbound (self);
    if (reason == HRG_CLOSE_SHUTDOWN)
        //  Spread over 1-5 s, so that thousands do not come back at once
        s_say_bye (self, 1001, "shutting down",
                   1000 + (int64_t) (hrg_worker_random (conn->worker) % 4001));
    else
    if (reason == HRG_CLOSE_EXPIRED)
        s_say_bye (self, 4003, "token expired; fetch a new one and reconnect", -1);
    else
    if (reason == HRG_CLOSE_REVOKED)
        s_say_bye (self, 4503, "token revoked", -1);
    else
        s_say_bye (self, 4001, reason == HRG_CLOSE_SLOW? "slow consumer": "stalled resume", -1);
    return true;
}

static void
s_sweep (hrg_conn_t *conn, uint64_t now_ms)
{
    hrg_ws_conn_t *self = (hrg_ws_conn_t *) conn;
    hrg_worker_t *worker = conn->worker;
    uint64_t heartbeat = (uint64_t) worker->config->ws_heartbeat;
    if (self->last_in_ms + heartbeat + S_SILENCE_GRACE_MS <= now_ms) {
        hrg_ws_conn_end (self, 4002, "no pong");
        return;
    }
    if (hrg_ws_auth_overdue (self, now_ms)) {
        hrg_ws_conn_end (self, 4005, "no auth within --ws-auth-timeout");
        return;
    }
    //  A resume whose client takes nothing for --conn-timeout would keep
    //  its catch-up memory (and make others wait) for ever
    if (conn->catching && conn->blocked
    &&  conn->blocked_ms + (uint64_t) worker->config->conn_timeout <= now_ms) {
        hr_metrics_inc (worker->shard, worker->m->slow_consumers);
        hrg_conn_close (conn, HRG_CLOSE_STALLED);
        return;
    }
    //  A ping when nothing went out for a heartbeat (the client knows the
    //  link is alive), or nothing came in (a client that only receives
    //  must be asked for the pong whose absence closes it), once a beat
    bool quiet_out = conn->last_frame_ms + heartbeat <= now_ms;
    bool quiet_in = self->last_in_ms + heartbeat <= now_ms
                 && self->last_ping_ms + heartbeat <= now_ms;
    if (quiet_out || quiet_in) {
        hr_buf_t *scratch = &worker->scratch;
        hr_buf_reset (scratch);
        hrg_ws_render_ping (scratch, self->format);
        hrg_ws_conn_send (self, scratch);
        self->last_ping_ms = now_ms;
    }
}

static void
s_token_expiring (hrg_conn_t *conn, int64_t left_s)
{
    hrg_ws_conn_t *self = (hrg_ws_conn_t *) conn;
    hr_buf_t *scratch = &conn->worker->scratch;
    hr_buf_reset (scratch);
    hrg_ws_render_refresh (scratch, self->format, left_s < 0? 0: left_s);
    hrg_ws_conn_send (self, scratch);
}

static void
s_drained (hrg_conn_t *conn)
{
    hrg_ws_conn_t *self = (hrg_ws_conn_t *) conn;
    if (conn->catching)
        hrg_ws_session_drained (self);
}

static void
s_destroy (hrg_conn_t *conn)
{
    hrg_ws_conn_t *self = (hrg_ws_conn_t *) conn;
    hrg_worker_t *worker = conn->worker;
    hrg_ws_session_fini (self);
    hrg_ws_sock_destroy (&self->sock);
    s_count_inbound (self);
    hr_metrics_add_to (worker->shard, worker->m->ws_connections, -1);
    hrg_conn_fini (conn);
    hrg_conn_free_memory (worker, self, sizeof *self);
}

//  The event as the encoding renders it: the MessagePack transport sends
//  the publisher's bytes from the broker's envelope, never re-encoded.
static void
s_render_event (hrg_worker_t *worker, hr_buf_t *out, hrg_ws_format_t format,
                const hrg_event_t *ev)
{
    hr_event_t view;
    hrg_event_view (ev, &view);
    hrg_ws_render_ev (out, format, &view);
}

static void
s_render_json (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
               const hrg_event_t *ev)
{
    s_render_event (worker, out, HRG_WS_JSON, ev);
}

static void
s_render_msgpack (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                  const hrg_event_t *ev)
{
    s_render_event (worker, out, HRG_WS_MSGPACK, ev);
}

static void
s_render_reset (hr_buf_t *out, hrg_ws_format_t format, const hrg_view_t *view,
                hr_reset_t reason)
{
    hrg_ws_render_reset (out, format, view->set->names [view->index],
                         view->epochs [view->index], view->seqs [view->index],
                         hr_reset_name (reason));
}

static void
s_reset_json (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view, hr_reset_t reason)
{
    s_render_reset (out, HRG_WS_JSON, view, reason);
}

static void
s_reset_msgpack (hrg_worker_t *worker, hr_buf_t *out, const hrg_view_t *view,
                 hr_reset_t reason)
{
    s_render_reset (out, HRG_WS_MSGPACK, view, reason);
}

//  Two transports, one per encoding: their groups (and so their renderings)
//  are separate; everything else is shared.
static const hrg_transport_t s_transports [2] = {
    [HRG_WS_JSON] = {
        .name = "ws-json", .render_event = s_render_json, .render_reset = s_reset_json,
        .stream_ready = hrg_ws_session_ready, .flush = s_flush, .on_socket = s_on_socket,
        .closing = s_closing, .sweep = s_sweep, .token_expiring = s_token_expiring, .token_grace = true,
        .drained = s_drained, .destroy = s_destroy },
    [HRG_WS_MSGPACK] = {
        .name = "ws-msgpack", .render_event = s_render_msgpack,
        .render_reset = s_reset_msgpack, .stream_ready = hrg_ws_session_ready,
        .flush = s_flush, .on_socket = s_on_socket, .closing = s_closing, .sweep = s_sweep,
        .token_expiring = s_token_expiring, .token_grace = true, .drained = s_drained, .destroy = s_destroy },
};

//  Answers a refused upgrade: 426 carries the version the server speaks.
static enum MHD_Result
s_refuse (hrg_worker_t *worker, struct MHD_Connection *mhd, hrg_ws_hs_result_t result,
          const char *why)
{
    if (result == HRG_WS_HS_ORIGIN)
        return hrg_respond_error (worker, mhd, HR_E_FORBIDDEN, why);
    if (result != HRG_WS_HS_VERSION)
        return hrg_respond_error (worker, mhd, HR_E_BAD_REQUEST, why);
    hr_error_t error = HR_E_UPGRADE_REQUIRED;
    hrg_worker_count_error (worker, error, why);
    hr_buf_t body = HR_BUF_INIT;
    hr_buf_printf (&body, "{\"error\":\"%s\",\"message\":\"%s\"}", hr_error_code (error), why);
    struct MHD_Response *response = MHD_create_response_from_buffer (
        body.size, body.data, MHD_RESPMEM_MUST_COPY);
    hr_buf_free (&body);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header (response, "Sec-WebSocket-Version", "13");
    enum MHD_Result ret = MHD_queue_response (mhd, (unsigned) hr_error_http_status (error),
                                              response);
    MHD_destroy_response (response);
    return ret;
}

static const char *
s_header (struct MHD_Connection *mhd, const char *name)
{
    return MHD_lookup_connection_value (mhd, MHD_HEADER_KIND, name);
}

hrg_conn_t *
hrg_ws_open (hrg_worker_t *worker, int fd, hrg_ws_format_t format, const char *key,
             bool protocol_offered, hr_claims_t *claims)
{
    _Static_assert (sizeof (hrg_ws_conn_t) <= HRG_CONN_SLOT, "a WebSocket fits a slot");
    hrg_ws_conn_t *self = hrg_conn_alloc_memory (worker, sizeof *self);
    self->format = format;
    hrg_conn_init (&self->conn, worker, &s_transports [format], fd);
    hr_metrics_add_to (worker->shard, worker->m->ws_connections, 1);
    self->sock = hrg_ws_sock_new ((size_t) worker->config->ws_max_message, &s_sock_ops, self);
    s_count_inbound (self);
    self->last_in_ms = self->opened_ms = hr_mono_ms ();
    if (claims)
        hrg_conn_set_claims (&self->conn, claims);
    hr_buf_t *scratch = &worker->scratch;
    hr_buf_reset (scratch);
    hrg_ws_handshake_response (scratch, key, format, protocol_offered);
    char sid [48];
    snprintf (sid, sizeof sid, "%d-%llx-%016llx", worker->index,
              (unsigned long long) ++worker->ws_sessions,
              (unsigned long long) hrg_worker_random (worker));
    hrg_ws_render_welcome (scratch, format, sid,
                           ((uint64_t) worker->config->ws_heartbeat + 999) / 1000,
                           (uint64_t) worker->config->ws_max_message,
                           hrg_ws_auth_state (self));
    hrg_ws_conn_send (self, scratch);
    hrg_conn_adopt (&self->conn);
    return &self->conn;
}

enum MHD_Result
hrg_ws_handle (hrg_worker_t *worker, struct MHD_Connection *mhd)
{
    if (worker->conn_count >= worker->config->max_connections)
        return hrg_respond_error (worker, mhd, HR_E_OVERLOADED, NULL);
    hrg_ws_request_t request = {
        .method = MHD_HTTP_METHOD_GET,
        .upgrade = s_header (mhd, MHD_HTTP_HEADER_UPGRADE),
        .connection = s_header (mhd, MHD_HTTP_HEADER_CONNECTION),
        .version = s_header (mhd, "Sec-WebSocket-Version"),
        .key = s_header (mhd, "Sec-WebSocket-Key"),
        .protocol = s_header (mhd, "Sec-WebSocket-Protocol"),
        .origin = s_header (mhd, MHD_HTTP_HEADER_ORIGIN),
        .host = s_header (mhd, MHD_HTTP_HEADER_HOST),
    };
    hrg_ws_format_t format;
    bool offered;
    const char *why = NULL;
    hrg_ws_hs_result_t result = hrg_ws_handshake_check (&request, worker->ws_origins,
                                                        &format, &offered, &why);
    if (result != HRG_WS_HS_OK)
        return s_refuse (worker, mhd, result, why);
    //  A token in the upgrade request authenticates it now; without one,
    //  the auth message may (welcome says "required")
    hr_claims_t *claims = NULL;
    if (hrg_auth_enabled (worker->auth)) {
        hr_error_t error = hrg_auth_request (worker->auth, mhd, &claims, &why);
        if (error != HR_OK && error != HR_E_TOKEN_MISSING)
            return hrg_respond_error (worker, mhd, error, why);
    }
    //  Take the socket, as SSE does (hrg_sse_handle)
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = info? fcntl (info->connect_fd, F_DUPFD_CLOEXEC, 0): -1;
    if (fd < 0) {
        hr_claims_destroy (&claims);
        return hrg_respond_error (worker, mhd, HR_E_OVERLOADED, "out of file descriptors");
    }
    hrg_conn_t *conn = hrg_ws_open (worker, fd, format, request.key, offered, claims);
    conn->address = hrg_limit_mhd_hold (worker->limit, mhd);
    return MHD_NO;              //  libmicrohttpd closes its side, and frees its memory
}
