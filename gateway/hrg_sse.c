/*  hrg_sse: SSE connections: open, go live, free. Catching up (resume) is
    hrg_catchup.c; writing to the socket is hrg_sse_io.c.  */
#include "hrg_sse.h"
#include "hrg_channel.h"
#include "hrg_group.h"
#include "hrg_http.h"
#include "hr_json.h"
#include "hr_log.h"
#include "hr_time.h"

#include <fcntl.h>
#include <string.h>

void
hrg_sse_format_event (hr_buf_t *out, const char *cursor, size_t cursor_len,
                      const hrg_event_t *ev)
{
    hr_buf_reserve (out, cursor_len + ev->json_len + 16);
    hr_buf_put (out, "id: ", 4);
    hr_buf_put (out, cursor, cursor_len);
    hr_buf_put (out, "\ndata: ", 7);
    hr_buf_put (out, ev->json, ev->json_len);
    hr_buf_put (out, "\n\n", 2);
}

void
hrg_sse_format_reset (hr_buf_t *out, const char *cursor, size_t cursor_len,
                      const char *channel, hr_reset_t reason, const char *epoch,
                      uint64_t seq)
{
    hr_buf_puts (out, "event: herald-reset\nid: ");
    hr_buf_put (out, cursor, cursor_len);
    hr_buf_puts (out, "\ndata: {\"channel\":");
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
    hr_buf_puts (out, "}\n\n");
}

void
hrg_sse_mark_dirty (hrg_conn_t *self)
{
    if (!self->dirty) {
        self->dirty = true;
        hr_list_push_back (&self->worker->dirty_conns, &self->dirty_node);
    }
    self->last_frame_ms = hr_mono_ms ();
}

void
hrg_sse_own_append (hrg_conn_t *self, const void *data, size_t size)
{
    hrg_chain_append_copy (&self->own, data, size);
    hrg_sse_mark_dirty (self);
    if (!self->group)
        hrg_sse_catchup_account (self);
    hrg_sse_check_slow (self);                  //  at enqueue time, not only in the sweep
}

void
hrg_sse_free (hrg_conn_t *self)
{
    hrg_worker_t *worker = self->worker;
    size_t count = self->set->count;
    if (self->group)
        hrg_group_leave (self);
    else {
        for (size_t i = 0; i < count; i++)
            hr_vec_remove (&self->channels [i]->waiters, self);
        hrg_sse_catchup_free (self);
        hr_chanset_destroy (&self->set);
    }
    for (size_t i = 0; i < count; i++)
        hrg_channel_release (self->channels [i]);
    if (self->dirty)
        hr_list_remove (&self->dirty_node);
    hrg_reader_detach (&self->own_reader);
    hrg_chain_fini (&self->own);
    hr_list_remove (&self->node);          //  from conns, or reaped once closed
    worker->conn_count--;
    hr_metrics_add_to (worker->shard, worker->m->connections, -1);
    hr_metrics_add_to (worker->shard, worker->m->subscriptions, -(int64_t) count);
    free (self->head);
    free (self->channels);
    free (self->positions);
    free (self);
}

typedef struct {
    const char *names [HR_CHANSET_MAX];
    size_t count;
    hr_error_t error;
} s_channel_args_t;

static enum MHD_Result
s_collect_channel (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    s_channel_args_t *args = cls;
    if (strcmp (key, "channel") != 0 || args->error)
        return MHD_YES;
    if (!value || !hr_channel_valid (value, strlen (value)))
        args->error = HR_E_BAD_CHANNEL;
    else
    if (args->count == HR_CHANSET_MAX)
        args->error = HR_E_TOO_MANY_CHANNELS;
    else
        args->names [args->count++] = value;
    return MHD_YES;
}

//  The channels and positions the request asks for, or an error code.
static hr_chanset_t *
s_parse_request (struct MHD_Connection *mhd, hr_position_t **positions, bool *fresh,
                 hr_error_t *error)
{
    s_channel_args_t args = { .count = 0 };
    MHD_get_connection_values (mhd, MHD_GET_ARGUMENT_KIND, s_collect_channel, &args);
    if (!args.error && args.count == 0)
        args.error = HR_E_BAD_CHANNEL;
    *error = args.error;
    if (*error)
        return NULL;
    hr_chanset_t *set = hr_chanset_new (args.names, args.count);
    *positions = hr_calloc (set->count, sizeof **positions);
    const char *cursor = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND, "Last-Event-ID");
    if (!cursor || !*cursor)
        cursor = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "lastEventId");
    *fresh = !cursor || !*cursor;
    if (!*fresh && hr_cursor_decode (cursor, strlen (cursor), set, *positions) != HR_OK) {
        *error = HR_E_BAD_CURSOR;
        free (*positions);
        hr_chanset_destroy (&set);
    }
    return set;
}

//  The response head the worker writes itself (HTTP/1.0 gets no chunking).
static void
s_build_head (hrg_conn_t *self, struct MHD_Connection *mhd, const char *version)
{
    hr_buf_t head = HR_BUF_INIT;
    self->chunked = strcmp (version, MHD_HTTP_VERSION_1_0) != 0;
    hr_buf_puts (&head, self->chunked? "HTTP/1.1 200 OK\r\n": "HTTP/1.0 200 OK\r\n");
    hr_buf_puts (&head, "Content-Type: text/event-stream\r\n"
                        "Cache-Control: no-cache\r\n"
                        "X-Accel-Buffering: no\r\n");
    hr_buf_puts (&head, self->chunked? "Transfer-Encoding: chunked\r\n"
                                     : "Connection: close\r\n");
    const char *origin = hrg_http_cors_origin (self->worker, mhd);
    if (origin)
        hr_buf_printf (&head, "Access-Control-Allow-Origin: %s\r\n", origin);
    if (self->worker->cors)
        hr_buf_puts (&head, "Vary: Origin\r\n");   //  allowed or not: see hrg_http_cors
    hr_buf_puts (&head, "\r\n");
    self->head_len = (uint32_t) head.size;
    self->head = hr_buf_detach (&head);
}

hrg_conn_t *
hrg_sse_open (hrg_worker_t *worker, int fd, hr_chanset_t *set, hr_position_t *positions,
              bool fresh)
{
    hrg_conn_t *self = hr_calloc (1, sizeof *self);
    self->worker = worker;
    self->fd = fd;
    self->set = set;
    self->positions = positions;
    self->fresh = fresh;
    self->catchup = hr_calloc (set->count, sizeof *self->catchup);
    self->channels = hr_calloc (set->count, sizeof *self->channels);
    for (size_t i = 0; i < set->count; i++) {
        self->channels [i] = hrg_channel_acquire (worker, set->names [i]);
        hr_vec_push (&self->channels [i]->waiters, self);
    }
    hrg_chain_init (&self->own);
    hrg_reader_attach (&self->own_reader, &self->own);
    hr_list_push_back (&worker->conns, &self->node);
    worker->conn_count++;
    hr_metrics_add_to (worker->shard, worker->m->connections, 1);
    hr_metrics_add_to (worker->shard, worker->m->subscriptions, (int64_t) set->count);
    if (!fresh)
        hr_metrics_inc (worker->shard, worker->m->resumes);
    return self;
}

void
hrg_sse_start (hrg_conn_t *self)
{
    hrg_worker_t *worker = self->worker;
    hrg_sse_adopt (self);
    hr_buf_t *scratch = &worker->scratch;
    hr_buf_reset (scratch);
    hr_buf_printf (scratch, "retry: %lld\n\n", (long long) worker->config->sse_retry);
    hrg_sse_own_append (self, scratch->data, scratch->size);
    hrg_sse_catch_up (self);
}

enum MHD_Result
hrg_sse_handle (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version)
{
    if (worker->conn_count >= worker->config->max_connections)
        return hrg_http_error (worker, mhd, HR_E_OVERLOADED, NULL);
    hr_error_t error;
    hr_position_t *positions = NULL;
    bool fresh;
    hr_chanset_t *set = s_parse_request (mhd, &positions, &fresh, &error);
    if (error)
        return hrg_http_error (worker, mhd, error, NULL);
    //  Take the socket: a duplicate stays ours when libmicrohttpd closes its
    //  descriptor (with MHD_USE_TURBO it does not shut the socket down).
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = info? fcntl (info->connect_fd, F_DUPFD_CLOEXEC, 0): -1;
    if (fd < 0) {
        free (positions);
        hr_chanset_destroy (&set);
        return hrg_http_error (worker, mhd, HR_E_OVERLOADED, "out of file descriptors");
    }
    hrg_conn_t *self = hrg_sse_open (worker, fd, set, positions, fresh);
    s_build_head (self, mhd, version);
    hrg_sse_start (self);
    return MHD_NO;              //  libmicrohttpd closes its side, and frees its memory
}

void
hrg_sse_close_all (hrg_worker_t *worker)
{
    //  Each one closed leaves conns for reaped
    for (hr_list_t *node; (node = hr_list_first (&worker->conns)); )
        hrg_sse_close (hr_list_entry (node, hrg_conn_t, node));
    //  History requests waiting for memory go ahead, to fail with the link
    hrg_fetch_admit_all (worker);
}
