/*  hrg_sse: SSE connections: open, catch up (resume), go live, free.
    Writing to the socket is hrg_sse_io.c. The resume algorithm of DESIGN.md §5: the channel is subscribed
    (live) first; the missed range comes from the channel's recent events
    or the broker's history, merged by seq; the connection joins its group
    when it is level with the live position.  */
#include "hrg_sse.h"
#include "hrg_channel.h"
#include "hrg_group.h"
#include "hrg_http.h"
#include "hrg_link.h"
#include "hr_json.h"
#include "hr_log.h"
#include "hr_mpack.h"
#include "hr_time.h"

#include <fcntl.h>
#include <string.h>

static void s_go_live (hrg_conn_t *self);

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
        self->dirty_next = self->worker->dirty_conns;
        self->worker->dirty_conns = self;
    }
    self->last_frame_ms = hr_mono_ms ();
}

static void
s_own_append (hrg_conn_t *self, const hr_buf_t *frame)
{
    hrg_chain_append_copy (&self->own, frame->data, frame->size);
    hrg_sse_mark_dirty (self);
}

//  Renders this connection's own cursor into the worker's cursor buffer.
static hr_buf_t *
s_own_cursor (hrg_conn_t *self)
{
    hr_buf_t *cursor = &self->worker->cursor;
    hr_buf_reset (cursor);
    hr_cursor_encode (cursor, self->set, self->positions);
    return cursor;
}

static void
s_set_position (hr_position_t *pos, const char *epoch, uint64_t seq)
{
    pos->epoch_len = strlen (epoch);
    memcpy (pos->epoch, epoch, pos->epoch_len + 1);
    pos->seq = seq;
}

//  Moves channel i of the connection to the channel's live position, with
//  a reset event saying why.
static void
s_own_reset (hrg_conn_t *self, size_t i, hr_reset_t reason)
{
    hrg_worker_t *worker = self->worker;
    hrg_channel_t *channel = self->channels [i];
    s_set_position (&self->positions [i], channel->epoch, channel->last);
    hr_buf_t *cursor = s_own_cursor (self);
    hr_buf_reset (&worker->scratch);
    hrg_sse_format_reset (&worker->scratch, cursor->data, cursor->size, channel->name,
                          reason, channel->epoch [0]? channel->epoch: NULL, channel->last);
    s_own_append (self, &worker->scratch);
    hr_metrics_inc (worker->shard, worker->m->resets + (int) reason - 1);
}

//  Sends one missed event of channel i to this connection alone.
static void
s_own_event (hrg_conn_t *self, size_t i, const hrg_event_t *ev)
{
    hrg_worker_t *worker = self->worker;
    self->positions [i].seq = ev->seq;
    hr_buf_t *cursor = s_own_cursor (self);
    hr_buf_reset (&worker->scratch);
    hrg_sse_format_event (&worker->scratch, cursor->data, cursor->size, ev);
    s_own_append (self, &worker->scratch);
    hr_metrics_inc (worker->shard, worker->m->replayed);
    hr_metrics_inc (worker->shard, worker->m->events_delivered);
}

typedef struct {
    hrg_conn_t *conn;
    size_t index;
} s_replay_t;

static void
s_replay_visit (void *arg, hrg_event_t *ev)
{
    s_replay_t *replay = arg;
    s_own_event (replay->conn, replay->index, ev);
}

static void
s_on_fetch (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames,
            size_t count)
{
    hrg_conn_t *self = arg;
    size_t i = 0;
    while (i < self->set->count && self->fetches [i] != rid)
        i++;
    if (i == self->set->count)
        return;
    self->fetches [i] = 0;
    hr_position_t *pos = &self->positions [i];
    if (!reply || reply->error)
        s_own_reset (self, i, HR_RESET_UNAVAILABLE);
    else
    if (reply->reset)
        s_own_reset (self, i, reply->reset);
    else {
        uint64_t before = pos->seq;
        for (size_t f = 0; f < count; f++) {
            hr_error_t error;
            hrg_event_t *ev = hrg_event_decode (zmq_msg_data (&frames [f]),
                                                zmq_msg_size (&frames [f]), &error);
            if (ev && !ev->head && ev->seq == pos->seq + 1
            &&  strcmp (ev->epoch, pos->epoch) == 0)
                s_own_event (self, i, ev);
            hrg_event_release (ev);
        }
        if (pos->seq > before || count == 0)
            self->checked [i] = 1;      //  the broker vouched for the position
        else
            s_own_reset (self, i, HR_RESET_EXPIRED);
    }
    hrg_sse_catch_up (self);
}

//  Brings channel i of a catching-up connection level with the channel.
//  Returns true when level; false while waiting for the broker or for live
//  events to reach a position the client is already at.
static bool
s_align (hrg_conn_t *self, size_t i)
{
    hrg_channel_t *channel = self->channels [i];
    hr_position_t *pos = &self->positions [i];
    if (self->fetches [i])
        return false;
    if (pos->epoch_len == 0) {
        //  The client saw no such channel: it continues from its start
        if (!channel->epoch [0])
            return true;
        s_set_position (pos, channel->epoch, 0);
    }
    else
    if (!channel->epoch [0]) {
        s_own_reset (self, i, HR_RESET_UNKNOWN_CHANNEL);
        return true;
    }
    else
    if (strcmp (pos->epoch, channel->epoch) != 0) {
        s_own_reset (self, i, HR_RESET_EPOCH_CHANGED);
        return true;
    }
    if (pos->seq == channel->last)
        return true;
    if (pos->seq < channel->last) {
        s_replay_t replay = { self, i };
        if (hrg_channel_replay_recent (channel, pos->seq, s_replay_visit, &replay))
            return true;
    }
    else
    if (self->checked [i])
        return false;           //  ahead, but real: wait for live to catch up
    uint64_t missing = pos->seq < channel->last? channel->last - pos->seq: 0;
    self->fetches [i] = hrg_link_history (self->worker->link, channel->name, pos->epoch,
                                          pos->seq,
                                          missing < HR_HISTORY_LIMIT_MAX? missing: HR_HISTORY_LIMIT_MAX,
                                          s_on_fetch, self);
    if (!self->fetches [i]) {
        s_own_reset (self, i, HR_RESET_UNAVAILABLE);
        return true;
    }
    return false;
}

void
hrg_sse_catch_up (hrg_conn_t *self)
{
    if (self->group || self->closing)
        return;
    for (size_t i = 0; i < self->set->count; i++)
        if (self->channels [i]->state == HRG_CHANNEL_SYNCING)
            return;
    bool level = true;
    if (self->fresh) {
        //  All channels at once, so none moves while another syncs
        for (size_t i = 0; i < self->set->count; i++)
            s_set_position (&self->positions [i], self->channels [i]->epoch,
                            self->channels [i]->last);
        self->fresh = false;
    }
    else
        for (size_t i = 0; i < self->set->count; i++)
            level &= s_align (self, i);
    if (level)
        s_go_live (self);
}

//  Level with every channel: tell the client its position, join the group.
static void
s_go_live (hrg_conn_t *self)
{
    hrg_worker_t *worker = self->worker;
    hr_buf_t *cursor = s_own_cursor (self);
    hr_buf_reset (&worker->scratch);
    hr_buf_puts (&worker->scratch, "id: ");
    hr_buf_put (&worker->scratch, cursor->data, cursor->size);
    hr_buf_puts (&worker->scratch, "\n\n");
    s_own_append (self, &worker->scratch);
    for (size_t i = 0; i < self->set->count; i++)
        hr_vec_remove (&self->channels [i]->waiters, self);
    free (self->positions);
    free (self->fetches);
    free (self->checked);
    self->positions = NULL;
    self->fetches = NULL;
    self->checked = NULL;
    hrg_group_join (worker, self);
}

static void
s_unlink_dirty (hrg_conn_t *self)
{
    hrg_conn_t **link = &self->worker->dirty_conns;
    while (*link && *link != self)
        link = &(*link)->dirty_next;
    if (*link)
        *link = self->dirty_next;
    self->dirty = false;
}

void
hrg_sse_free (hrg_conn_t *self)
{
    hrg_worker_t *worker = self->worker;
    size_t count = self->set->count;
    if (self->group)
        hrg_group_leave (self);
    else {
        for (size_t i = 0; i < count; i++) {
            hr_vec_remove (&self->channels [i]->waiters, self);
            if (self->fetches [i])
                hrg_link_cancel (worker->link, self->fetches [i]);
        }
        hr_chanset_destroy (&self->set);
    }
    for (size_t i = 0; i < count; i++)
        hrg_channel_release (self->channels [i]);
    if (self->dirty)
        s_unlink_dirty (self);
    hrg_reader_detach (&self->own_reader);
    hrg_chain_fini (&self->own);
    if (self->prev)
        self->prev->next = self->next;
    else
        worker->conns = self->next;
    if (self->next)
        self->next->prev = self->prev;
    worker->conn_count--;
    hr_metrics_add_to (worker->shard, worker->m->connections, -1);
    hr_metrics_add_to (worker->shard, worker->m->subscriptions, -(int64_t) count);
    free (self->head);
    free (self->channels);
    free (self->positions);
    free (self->fetches);
    free (self->checked);
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
        hr_buf_printf (&head, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin);
    hr_buf_puts (&head, "\r\n");
    self->head_len = (uint32_t) head.size;
    self->head = hr_buf_detach (&head);
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
    hrg_conn_t *self = hr_calloc (1, sizeof *self);
    self->worker = worker;
    self->fd = fd;
    self->set = set;
    self->positions = positions;
    self->fresh = fresh;
    self->fetches = hr_calloc (set->count, sizeof *self->fetches);
    self->checked = hr_calloc (set->count, 1);
    self->channels = hr_calloc (set->count, sizeof *self->channels);
    for (size_t i = 0; i < set->count; i++) {
        self->channels [i] = hrg_channel_acquire (worker, set->names [i]);
        hr_vec_push (&self->channels [i]->waiters, self);
    }
    hrg_chain_init (&self->own);
    hrg_reader_attach (&self->own_reader, &self->own);
    self->next = worker->conns;
    if (worker->conns)
        worker->conns->prev = self;
    worker->conns = self;
    worker->conn_count++;
    hr_metrics_add_to (worker->shard, worker->m->connections, 1);
    hr_metrics_add_to (worker->shard, worker->m->subscriptions, (int64_t) set->count);
    if (!fresh)
        hr_metrics_inc (worker->shard, worker->m->resumes);
    s_build_head (self, mhd, version);
    hrg_sse_adopt (self);
    hr_buf_t *scratch = &worker->scratch;
    hr_buf_reset (scratch);
    hr_buf_printf (scratch, "retry: %lld\n\n", (long long) worker->config->sse_retry);
    s_own_append (self, scratch);
    hrg_sse_catch_up (self);
    return MHD_NO;              //  libmicrohttpd closes its side, and frees its memory
}

void
hrg_sse_close_all (hrg_worker_t *worker)
{
    for (hrg_conn_t *self = worker->conns; self; self = self->next)
        hrg_sse_close (self);
}
