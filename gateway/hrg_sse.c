/*  hrg_sse: SSE connections: open, catch up (resume), go live, stream,
    close. The resume algorithm of DESIGN.md §5: the channel is subscribed
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

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

//  libmicrohttpd allocates this per response; our reader writes into the
//  connection's own buffer, so the response needs next to nothing.
#define S_RESPONSE_BLOCK 64

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

static void
s_mark_dirty (hrg_conn_t *self)
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
    s_mark_dirty (self);
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

//  libmicrohttpd's content reader. Its first call means the headers are on
//  the wire: the worker adopts the socket and libmicrohttpd keeps the
//  connection suspended until hrg_sse_close resumes it to end it.
static ssize_t
s_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    hrg_conn_t *self = cls;
    if (self->closing || self->fd >= 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (self->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct epoll_event event = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = self };
    if (!info || epoll_ctl (self->worker->epoll_fd, EPOLL_CTL_ADD, info->connect_fd, &event))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    self->fd = info->connect_fd;
    //  libmicrohttpd may leave the socket corked after the headers
    int on = 1, off = 0;
    setsockopt (self->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    setsockopt (self->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    MHD_suspend_connection (self->mhd);
    self->suspended = true;
    s_mark_dirty (self);
    return 0;
}

//  Stops watching the socket; libmicrohttpd will close it.
static void
s_release_socket (hrg_conn_t *self)
{
    if (self->fd >= 0) {
        epoll_ctl (self->worker->epoll_fd, EPOLL_CTL_DEL, self->fd, NULL);
        self->fd = -1;
    }
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

//  The response is freed: the connection is gone.
static void
s_free (void *cls)
{
    hrg_conn_t *self = cls;
    hrg_worker_t *worker = self->worker;
    size_t count = self->set? self->set->count: 0;
    if (self->group) {
        count = self->set->count;
        hrg_group_leave (self);
    }
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
    s_release_socket (self);
    hrg_reader_detach (&self->own_reader);
    hrg_chain_fini (&self->own);
    if (self->prev)
        self->prev->next = self->next;
    else
        worker->conns = self->next;
    if (self->next)
        self->next->prev = self->prev;
    hr_metrics_add_to (worker->shard, worker->m->connections, -1);
    hr_metrics_add_to (worker->shard, worker->m->subscriptions, -(int64_t) count);
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

//  Builds the connection from the request, or fails with an error code.
static hrg_conn_t *
s_conn_new (hrg_worker_t *worker, struct MHD_Connection *mhd, hr_error_t *error)
{
    s_channel_args_t args = { .count = 0 };
    MHD_get_connection_values (mhd, MHD_GET_ARGUMENT_KIND, s_collect_channel, &args);
    if (!args.error && args.count == 0)
        args.error = HR_E_BAD_CHANNEL;
    *error = args.error;
    if (*error)
        return NULL;
    hr_chanset_t *set = hr_chanset_new (args.names, args.count);
    if (set->count > HR_CHANSET_MAX) {
        *error = HR_E_TOO_MANY_CHANNELS;
        hr_chanset_destroy (&set);
        return NULL;
    }
    hr_position_t *positions = hr_calloc (set->count, sizeof *positions);
    const char *cursor = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND, "Last-Event-ID");
    if (!cursor || !*cursor)
        cursor = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "lastEventId");
    bool fresh = !cursor || !*cursor;
    if (!fresh && hr_cursor_decode (cursor, strlen (cursor), set, positions) != HR_OK) {
        *error = HR_E_BAD_CURSOR;
        free (positions);
        hr_chanset_destroy (&set);
        return NULL;
    }
    hrg_conn_t *self = hr_calloc (1, sizeof *self);
    self->worker = worker;
    self->mhd = mhd;
    self->fd = -1;
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
    hr_metrics_add_to (worker->shard, worker->m->connections, 1);
    hr_metrics_add_to (worker->shard, worker->m->subscriptions, (int64_t) set->count);
    if (!fresh)
        hr_metrics_inc (worker->shard, worker->m->resumes);
    return self;
}

enum MHD_Result
hrg_sse_handle (hrg_worker_t *worker, struct MHD_Connection *mhd)
{
    hr_error_t error;
    hrg_conn_t *self = s_conn_new (worker, mhd, &error);
    if (!self)
        return hrg_http_error (worker, mhd, error, NULL);
    struct MHD_Response *response = MHD_create_response_from_callback (
        MHD_SIZE_UNKNOWN, S_RESPONSE_BLOCK, s_read, self, s_free);
    if (!response) {
        s_free (self);
        return hrg_http_error (worker, mhd, HR_E_INTERNAL, "cannot create response");
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header (response, "X-Accel-Buffering", "no");
    hrg_http_cors (worker, mhd, response);
    hr_buf_t *scratch = &worker->scratch;
    hr_buf_reset (scratch);
    hr_buf_printf (scratch, "retry: %lld\n\n", (long long) worker->config->sse_retry);
    s_own_append (self, scratch);
    hrg_sse_catch_up (self);
    //  If queueing fails, destroying the response frees the connection
    enum MHD_Result ret = MHD_queue_response (mhd, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return ret;
}

void
hrg_sse_close (hrg_conn_t *self)
{
    if (self->closing)
        return;
    self->closing = true;
    if (self->fd < 0) {
        //  Headers still being sent: make libmicrohttpd notice at once
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (self->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info)
            shutdown (info->connect_fd, SHUT_RDWR);
    }
    s_release_socket (self);
    if (self->suspended) {
        self->suspended = false;
        MHD_resume_connection (self->mhd);      //  its reader now ends it
    }
}

//  Describes the next want bytes of the body: own frames first, then the
//  group's once every own byte is included. Returns iovecs used.
static size_t
s_gather (hrg_conn_t *self, struct iovec *iov, size_t max_iov, size_t want, size_t *bytes)
{
    size_t used = hrg_reader_iov (&self->own_reader, iov, max_iov, want, bytes);
    uint64_t own = hrg_chain_end (&self->own) - hrg_reader_position (&self->own_reader);
    if (self->group && *bytes == own && *bytes < want && used < max_iov)
        used += hrg_reader_iov (&self->live_reader, iov + used, max_iov - used,
                                want - *bytes, bytes);
    return used;
}

static void
s_consume (hrg_conn_t *self, size_t size)
{
    size_t own = hrg_chain_end (&self->own) - hrg_reader_position (&self->own_reader);
    size_t from_own = size < own? size: own;
    hrg_reader_advance (&self->own_reader, from_own);
    if (size > from_own)
        hrg_reader_advance (&self->live_reader, size - from_own);
}

//  Bytes queued but not yet written, own and group frames.
static uint64_t
s_pending (hrg_conn_t *self)
{
    uint64_t pending = hrg_chain_end (&self->own) - hrg_reader_position (&self->own_reader);
    if (self->group)
        pending += hrg_chain_end (&self->group->chain)
                 - hrg_reader_position (&self->live_reader);
    return pending;
}

void
hrg_sse_flush (hrg_conn_t *self)
{
    enum { S_IOV = 64, S_CHUNK_MAX = 256 * 1024 };
    static const char crlf [] = "\r\n";
    while (self->fd >= 0 && !self->closing) {
        if (!self->in_chunk) {
            uint64_t pending = s_pending (self);
            if (pending == 0)
                return;
            self->chunk_left = (uint32_t) (pending < S_CHUNK_MAX? pending: S_CHUNK_MAX);
            self->head_len = (uint8_t) snprintf (self->head, sizeof self->head, "%x\r\n",
                                                 (unsigned) self->chunk_left);
            self->head_sent = self->tail_sent = 0;
            self->in_chunk = true;
        }
        struct iovec iov [S_IOV + 2];
        size_t count = 0, body = 0, total = 0;
        if (self->head_sent < self->head_len)
            iov [count++] = (struct iovec) { self->head + self->head_sent,
                                             (size_t) (self->head_len - self->head_sent) };
        count += s_gather (self, iov + count, S_IOV, self->chunk_left, &body);
        if (body == self->chunk_left)
            iov [count++] = (struct iovec) { (char *) crlf + self->tail_sent,
                                             (size_t) (2 - self->tail_sent) };
        for (size_t i = 0; i < count; i++)
            total += iov [i].iov_len;
        ssize_t written = writev (self->fd, iov, (int) count);
        if (written < 0) {
            if (errno != EAGAIN && errno != EINTR)
                hrg_sse_close (self);           //  the peer is gone
            return;                             //  EPOLLOUT calls again
        }
        //  Account for the head, body and tail bytes the kernel took
        size_t left = (size_t) written;
        size_t head = (size_t) (self->head_len - self->head_sent);
        if (head > left)
            head = left;
        self->head_sent += (uint8_t) head;
        left -= head;
        size_t data = left < self->chunk_left? left: self->chunk_left;
        s_consume (self, data);
        self->chunk_left -= (uint32_t) data;
        self->tail_sent += (uint8_t) (left - data);
        if (self->tail_sent == 2)
            self->in_chunk = false;
        if ((size_t) written < total)
            return;                             //  the socket is full: wait for EPOLLOUT
    }
}

void
hrg_sse_on_socket (hrg_conn_t *self, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        hrg_sse_close (self);   //  an SSE client sends nothing after its request
    else
    if (events & EPOLLOUT)
        hrg_sse_flush (self);
}

void
hrg_sse_flush_dirty (hrg_worker_t *worker)
{
    while (worker->dirty_conns) {
        hrg_conn_t *self = worker->dirty_conns;
        worker->dirty_conns = self->dirty_next;
        self->dirty = false;
        hrg_sse_flush (self);
    }
}

void
hrg_sse_sweep (hrg_worker_t *worker, uint64_t now_ms)
{
    static const hr_buf_t heartbeat = { ":\n\n", 3, 4 };
    uint64_t limit = (uint64_t) worker->config->slow_consumer_bytes;
    for (hrg_conn_t *self = worker->conns; self; self = self->next) {
        if (self->closing)
            continue;
        if (s_pending (self) > limit) {
            hr_metrics_inc (worker->shard, worker->m->slow_consumers);
            hr_log_info ("slow consumer disconnected", "channels",
                         self->set->count? self->set->names [0]: "");
            hrg_sse_close (self);
        }
        else
        if (!self->group
        &&  self->last_frame_ms + (uint64_t) worker->config->heartbeat <= now_ms)
            s_own_append (self, &heartbeat);
    }
}

void
hrg_sse_close_all (hrg_worker_t *worker)
{
    for (hrg_conn_t *self = worker->conns; self; self = self->next)
        hrg_sse_close (self);
}
