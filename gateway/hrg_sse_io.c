/*  hrg_sse_io: the SSE connection's socket, owned by the worker. Writes
    the response head, then the body as HTTP/1.1 chunks (one chunk per
    flush, gathered with writev straight from the shared frames), notices
    peers that went away, closes slow consumers, and frees closed
    connections at the end of the loop's turn.  */
#include "hrg_sse.h"
#include "hrg_group.h"
#include "hr_log.h"
#include "hr_time.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

void
hrg_sse_adopt (hrg_conn_t *self)
{
    struct epoll_event event = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = self };
    if (epoll_ctl (self->worker->epoll_fd, EPOLL_CTL_ADD, self->fd, &event) != 0) {
        hr_log_limited_warn ("cannot watch an SSE socket", "error", strerror (errno));
        hrg_sse_close (self);
        return;
    }
    //  Events are small and must go out at once
    int on = 1, off = 0;
    setsockopt (self->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    setsockopt (self->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void
hrg_sse_close (hrg_conn_t *self)
{
    if (self->closing)
        return;
    self->closing = true;
    hrg_fetch_unwait (self->worker, &self->waiter);
    if (self->fd >= 0) {
        epoll_ctl (self->worker->epoll_fd, EPOLL_CTL_DEL, self->fd, NULL);
        close (self->fd);
        self->fd = -1;
    }
    hr_list_move_back (&self->worker->reaped, &self->node);
}

void
hrg_sse_reap (hrg_worker_t *worker)
{
    //  In the order they were closed; each leaves the list as it is freed
    for (hr_list_t *node; (node = hr_list_first (&worker->reaped)); )
        hrg_sse_free (hr_list_entry (node, hrg_conn_t, node));
}

uint64_t
hrg_sse_own_pending (const hrg_conn_t *self)
{
    return hrg_chain_end (&self->own) - hrg_reader_position (&self->own_reader);
}

//  Bytes queued but not yet written, own and group frames.
static uint64_t
s_pending (hrg_conn_t *self)
{
    uint64_t pending = hrg_sse_own_pending (self);
    if (self->group)
        pending += hrg_chain_end (&self->group->chain)
                 - hrg_reader_position (&self->live_reader);
    return pending;
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

//  One writev; false when the socket is full or gone (stop flushing).
static bool
s_write (hrg_conn_t *self, struct iovec *iov, size_t count, size_t *written)
{
    ssize_t rc = writev (self->fd, iov, (int) count);
    bool was_blocked = self->blocked;
    if (rc < 0) {
        if (errno != EAGAIN && errno != EINTR)
            hrg_sse_close (self);               //  the peer is gone
        self->blocked = true;
    }
    else {
        *written = (size_t) rc;
        size_t total = 0;
        for (size_t i = 0; i < count; i++)
            total += iov [i].iov_len;
        self->blocked = *written < total;
    }
    //  A client that takes some bytes is slow, not stalled: its clock restarts
    if (self->blocked && (!was_blocked || rc > 0))
        self->blocked_ms = hr_mono_ms ();
    return rc >= 0;                             //  else EPOLLOUT calls again
}

//  Writes what is left of the response head. True when all of it is out.
static bool
s_flush_head (hrg_conn_t *self)
{
    while (self->head_sent < self->head_len) {
        struct iovec iov = { self->head + self->head_sent, self->head_len - self->head_sent };
        size_t written;
        if (!s_write (self, &iov, 1, &written))
            return false;
        self->head_sent += (uint32_t) written;
    }
    free (self->head);
    self->head = NULL;
    return true;
}

//  HTTP/1.0: the body is the raw stream, ended by closing.
static void
s_flush_raw (hrg_conn_t *self)
{
    enum { S_IOV = 64, S_MAX = 256 * 1024 };
    while (self->fd >= 0) {
        struct iovec iov [S_IOV];
        size_t body = 0, written;
        size_t count = s_gather (self, iov, S_IOV, S_MAX, &body);
        if (!count || !s_write (self, iov, count, &written))
            return;
        s_consume (self, written);
        if (written < body)
            return;
    }
}

//  The chunked body: size line, data, CRLF, as far as the socket takes it.
static void
s_flush_chunked (hrg_conn_t *self)
{
    enum { S_IOV = 64, S_CHUNK_MAX = 256 * 1024 };
    static const char crlf [] = "\r\n";
    while (self->fd >= 0) {
        if (!self->in_chunk) {
            uint64_t pending = s_pending (self);
            if (pending == 0)
                return;
            self->chunk_left = (uint32_t) (pending < S_CHUNK_MAX? pending: S_CHUNK_MAX);
            self->size_len = (uint8_t) snprintf (self->size_line, sizeof self->size_line,
                                                 "%x\r\n", (unsigned) self->chunk_left);
            self->size_sent = self->tail_sent = 0;
            self->in_chunk = true;
        }
        struct iovec iov [S_IOV + 2];
        size_t count = 0, body = 0, total = 0, written;
        if (self->size_sent < self->size_len)
            iov [count++] = (struct iovec) { self->size_line + self->size_sent,
                                             (size_t) (self->size_len - self->size_sent) };
        count += s_gather (self, iov + count, S_IOV, self->chunk_left, &body);
        if (body == self->chunk_left)
            iov [count++] = (struct iovec) { (char *) crlf + self->tail_sent,
                                             (size_t) (2 - self->tail_sent) };
        for (size_t i = 0; i < count; i++)
            total += iov [i].iov_len;
        if (!s_write (self, iov, count, &written))
            return;
        //  Account for the size line, body and tail bytes the kernel took
        size_t left = written;
        size_t line = (size_t) (self->size_len - self->size_sent);
        if (line > left)
            line = left;
        self->size_sent += (uint8_t) line;
        left -= line;
        size_t data = left < self->chunk_left? left: self->chunk_left;
        s_consume (self, data);
        self->chunk_left -= (uint32_t) data;
        self->tail_sent += (uint8_t) (left - data);
        if (self->tail_sent == 2)
            self->in_chunk = false;
        if (written < total)
            return;                             //  the socket is full: wait for EPOLLOUT
    }
}

void
hrg_sse_flush (hrg_conn_t *self)
{
    if (self->fd < 0 || (self->head && !s_flush_head (self)))
        return;
    if (self->chunked)
        s_flush_chunked (self);
    else
        s_flush_raw (self);
    if (self->blocked && hrg_sse_check_slow (self))
        return;
    if (!self->group && !self->closing) {
        //  Catching up: what drained makes room for the next part of the replay
        hrg_sse_catchup_account (self);
        if (hrg_sse_own_pending (self) < hrg_fetch_budget (self->worker))
            hrg_sse_catch_up (self);
    }
}

bool
hrg_sse_check_slow (hrg_conn_t *self)
{
    //  Only bytes the socket refused count: events held back by the write
    //  interval are not the consumer's fault
    hrg_worker_t *worker = self->worker;
    if (self->closing || !self->blocked
    ||  s_pending (self) <= (uint64_t) worker->config->slow_consumer_bytes)
        return false;
    hr_metrics_inc (worker->shard, worker->m->slow_consumers);
    hr_log_limited_info ("slow consumer disconnected", "channel", self->set->names [0]);
    hrg_sse_close (self);
    return true;
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
    for (hr_list_t *node; (node = hr_list_first (&worker->dirty_conns)); ) {
        hr_list_remove (node);
        hrg_conn_t *self = hr_list_entry (node, hrg_conn_t, dirty_node);
        self->dirty = false;
        hrg_sse_flush (self);
    }
    hrg_fetch_admit (worker);
}

void
hrg_sse_sweep (hrg_worker_t *worker, uint64_t now_ms)
{
    //  The next one is taken first: closing moves a connection to reaped
    hr_list_t *next;
    for (hr_list_t *node = hr_list_first (&worker->conns); node; node = next) {
        next = hr_list_next (&worker->conns, node);
        hrg_conn_t *self = hr_list_entry (node, hrg_conn_t, node);
        if (hrg_sse_check_slow (self))
            continue;
        //  A resume whose client takes nothing for --conn-timeout would keep
        //  its catch-up memory (and make others wait) for ever
        if (!self->group && self->blocked
        &&  self->blocked_ms + (uint64_t) worker->config->conn_timeout <= now_ms) {
            hr_metrics_inc (worker->shard, worker->m->slow_consumers);
            hr_log_limited_info ("stalled resume disconnected",
                                 "channel", self->set->names [0]);
            hrg_sse_close (self);
            continue;
        }
        if (!self->group
        &&  self->last_frame_ms + (uint64_t) worker->config->heartbeat <= now_ms)
            hrg_sse_own_append (self, ":\n\n", 3);
    }
}
