/*  hrg_conn: the transport-neutral connection: its queue, writing it,
    the slow-consumer rule, closing and reaping.  */
#include "hrg_conn.h"
#include "hrg_auth.h"
#include "hrg_slab.h"
#include "hr_log.h"
#include "hr_time.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

//  How long a closing connection may wait to write its last words.
#define S_LINGER_MS 2000

//  Bytes a lingering connection reads and drops per readiness.
#define S_LINGER_READ (256 * 1024)

static void s_finish (hrg_conn_t *self);
static void s_linger_step (hrg_conn_t *self);

//  The worker's slab for objects of size bytes, made on first use.
static hrg_slab_t *
s_slab (hrg_worker_t *worker, size_t size)
{
    size_t count = sizeof worker->conn_slabs / sizeof worker->conn_slabs [0];
    for (size_t i = 0; i < count; i++) {
        if (!worker->conn_slabs [i])
            worker->conn_slabs [i] = hrg_slab_new (size);
        if (hrg_slab_size (worker->conn_slabs [i]) == ((size + 15) & ~(size_t) 15))
            return worker->conn_slabs [i];
    }
    return NULL;                        //  more struct sizes than slabs: the heap
}

void *
hrg_conn_alloc_memory (hrg_worker_t *worker, size_t size)
{
    assert (size <= HRG_CONN_SLOT);
    hrg_slab_t *slab = worker->conn_slabs_on? s_slab (worker, size): NULL;
    return slab? hrg_slab_alloc (slab): hr_calloc (1, size);
}

void
hrg_conn_free_memory (hrg_worker_t *worker, void *memory, size_t size)
{
    hrg_slab_t *slab = worker->conn_slabs_on? s_slab (worker, size): NULL;
    if (slab)
        hrg_slab_free (slab, memory);
    else
        free (memory);
}

void
hrg_conn_free_slabs (hrg_worker_t *worker)
{
    size_t count = sizeof worker->conn_slabs / sizeof worker->conn_slabs [0];
    for (size_t i = 0; i < count; i++)
        hrg_slab_destroy (&worker->conn_slabs [i]);
}

void
hrg_conn_init (hrg_conn_t *self, hrg_worker_t *worker, const hrg_transport_t *transport,
               int fd)
{
    self->transport = transport;
    self->worker = worker;
    self->fd = fd;
    hrg_queue_init (&self->queue);
    self->last_frame_ms = hr_mono_ms ();
    hr_list_push_back (&worker->conns, &self->node);
    worker->conn_count++;
    hr_metrics_add_to (worker->shard, worker->m->connections, 1);
}

void
hrg_conn_set_claims (hrg_conn_t *self, hr_claims_t *claims)
{
    hr_claims_destroy (&self->claims);
    self->claims = claims;
    self->token_warned = false;
}

void
hrg_conn_adopt (hrg_conn_t *self)
{
    struct epoll_event event = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = self };
    if (epoll_ctl (self->worker->epoll_fd, EPOLL_CTL_ADD, self->fd, &event) != 0) {
        hr_log_limited_warn ("cannot watch a client socket", "error", strerror (errno));
        hrg_conn_close (self, HRG_CLOSE_PEER);
        return;
    }
    //  Events are small and must go out at once
    int on = 1, off = 0;
    setsockopt (self->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    setsockopt (self->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void
hrg_conn_read_later (hrg_conn_t *self)
{
    if (!self->again) {
        self->again = true;
        hr_list_push_back (&self->worker->again_conns, &self->again_node);
    }
}

void
hrg_conn_read_again (hrg_worker_t *worker)
{
    //  Those read later again during this walk wait for the next turn
    hr_list_t list;
    hr_list_init (&list);
    for (hr_list_t *node; (node = hr_list_first (&worker->again_conns)); )
        hr_list_move_back (&list, node);
    for (hr_list_t *node; (node = hr_list_first (&list)); ) {
        hr_list_remove (node);
        hrg_conn_t *self = hr_list_entry (node, hrg_conn_t, again_node);
        self->again = false;
        hrg_conn_on_socket (self, EPOLLIN);
    }
}

bool
hrg_conn_readable_later (hrg_worker_t *worker)
{
    return !hr_list_empty (&worker->again_conns);
}

void
hrg_conn_mark_dirty (hrg_conn_t *self)
{
    if (!self->dirty) {
        self->dirty = true;
        hr_list_push_back (&self->worker->dirty_conns, &self->dirty_node);
    }
}

void
hrg_conn_queue (hrg_conn_t *self, hrg_frame_t *frame, uint64_t now_ms)
{
    if (self->closing)
        return;
    hrg_queue_push (&self->queue, frame);
    self->last_frame_ms = now_ms;
    hrg_conn_check_slow (self);         //  at enqueue time, not only in the sweep
}

void
hrg_conn_send (hrg_conn_t *self, const void *data, size_t size)
{
    hrg_frame_t *frame = hrg_frame_copy (data, size);
    hrg_conn_queue (self, frame, hr_mono_ms ());
    hrg_frame_release (frame);
    hrg_conn_mark_dirty (self);
}

bool
hrg_conn_writev (hrg_conn_t *self, struct iovec *iov, size_t count, size_t *written)
{
    ssize_t rc = writev (self->fd, iov, (int) count);
    hr_metrics_inc (self->worker->shard, self->worker->m->writes);
    bool was_blocked = self->blocked;
    if (rc < 0) {
        self->blocked = true;
        if (errno != EAGAIN && errno != EINTR) {
            if (self->closing)
                s_finish (self);                        //  lingering: no one to tell
            else
                hrg_conn_close (self, HRG_CLOSE_PEER);  //  the peer is gone
        }
    }
    else {
        *written += (size_t) rc;
        self->written += (uint64_t) rc;
        size_t total = 0;
        for (size_t i = 0; i < count; i++)
            total += iov [i].iov_len;
        self->blocked = (size_t) rc < total;
    }
    //  A client that takes some bytes is slow, not stalled: its clock restarts
    if (self->blocked && (!was_blocked || rc > 0))
        self->blocked_ms = hr_mono_ms ();
    return rc >= 0 && !self->blocked;
}

void
hrg_conn_write_queue (hrg_conn_t *self)
{
    enum { S_IOV = 64, S_MAX = 256 * 1024 };
    while (self->fd >= 0 && hrg_conn_pending (self)) {
        struct iovec iov [S_IOV];
        size_t bytes = 0, written = 0;
        size_t count = hrg_queue_iov (&self->queue, iov, S_IOV, S_MAX, &bytes);
        bool more = hrg_conn_writev (self, iov, count, &written);
        hrg_queue_advance (&self->queue, written);
        if (!more)
            return;
    }
}

bool
hrg_conn_check_slow (hrg_conn_t *self)
{
    //  Only bytes the socket refused count: events held back by the write
    //  interval are not the consumer's fault
    hrg_worker_t *worker = self->worker;
    if (self->closing || !self->blocked
    ||  hrg_conn_pending (self) <= (uint64_t) worker->config->slow_consumer_bytes)
        return false;
    hr_metrics_inc (worker->shard, worker->m->slow_consumers);
    hr_log_limited_info ("slow consumer disconnected", "transport", self->transport->name);
    hrg_conn_close (self, HRG_CLOSE_SLOW);
    return true;
}

void
hrg_conn_flush (hrg_conn_t *self)
{
    if (self->fd < 0)
        return;
    self->transport->flush (self);
    if (self->closing) {
        s_linger_step (self);           //  lingering: its last words may be out
        return;
    }
    if (self->blocked && hrg_conn_check_slow (self))
        return;
    if (!self->closing && self->transport->drained)
        self->transport->drained (self);
}

//  The socket goes; the connection is freed at the end of the turn.
static void
s_finish (hrg_conn_t *self)
{
    self->closing = true;
    self->linger_until = 0;
    if (self->fd >= 0) {
        epoll_ctl (self->worker->epoll_fd, EPOLL_CTL_DEL, self->fd, NULL);
        close (self->fd);
        self->fd = -1;
    }
    hr_list_move_back (&self->worker->reaped, &self->node);
}

//  Lingering: once the last words are out, shut our side down and read
//  (and drop) what the peer sends until it closes.
static void
s_linger_step (hrg_conn_t *self)
{
    if (self->fd < 0 || hrg_conn_pending (self))
        return;
    if (!self->shut) {
        self->shut = true;
        shutdown (self->fd, SHUT_WR);
        self->linger_until = hr_mono_ms () + S_LINGER_MS;
    }
    char buffer [4096];
    for (size_t taken = 0; taken < S_LINGER_READ; ) {
        ssize_t size = read (self->fd, buffer, sizeof buffer);
        if (size > 0)
            taken += (size_t) size;
        else
        if (size < 0 && errno == EINTR)
            continue;
        else {
            if (size == 0 || errno != EAGAIN)
                s_finish (self);        //  the peer closed too (or is gone)
            return;
        }
    }
}

void
hrg_conn_linger (hrg_conn_t *self)
{
    if (self->closing)
        return;
    self->closing = true;
    hrg_conn_write_queue (self);
    if (self->fd < 0)
        return;                         //  the socket failed: finished
    if (self->worker->stopping)
        s_finish (self);
    else {
        self->linger_until = hr_mono_ms () + S_LINGER_MS;
        s_linger_step (self);
    }
}

void
hrg_conn_close (hrg_conn_t *self, hrg_close_t reason)
{
    if (self->closing)
        return;
    bool linger = false;
    if (reason != HRG_CLOSE_PEER && reason != HRG_CLOSE_TRANSPORT
    &&  self->transport->closing && self->fd >= 0)
        linger = self->transport->closing (self, reason);
    if (self->closing)
        return;                 //  its socket failed while it spoke
    if (linger)
        hrg_conn_linger (self);
    else
        s_finish (self);
}

void
hrg_conn_fini (hrg_conn_t *self)
{
    hrg_worker_t *worker = self->worker;
    if (self->dirty)
        hr_list_remove (&self->dirty_node);
    if (self->again)
        hr_list_remove (&self->again_node);
    hrg_queue_clear (&self->queue);
    hr_claims_destroy (&self->claims);
    hrg_limit_release (worker->limit, &self->address);
    hr_list_remove (&self->node);          //  from conns, or reaped once closed
    worker->conn_count--;
    hr_metrics_add_to (worker->shard, worker->m->connections, -1);
}

void
hrg_conn_flush_dirty (hrg_worker_t *worker)
{
    for (hr_list_t *node; (node = hr_list_first (&worker->dirty_conns)); ) {
        hr_list_remove (node);
        hrg_conn_t *self = hr_list_entry (node, hrg_conn_t, dirty_node);
        self->dirty = false;
        hrg_conn_flush (self);
    }
}

//  Its token: revoked (checked when the list changed), expiring, expired.
//  Returns false when it closed the connection.
static bool
s_sweep_token (hrg_conn_t *self, bool recheck, int64_t now_s)
{
    if (recheck && hrg_auth_revoked (self->worker->auth, self->claims)) {
        hrg_conn_close (self, HRG_CLOSE_REVOKED);
        return false;
    }
    if (!self->token_warned && now_s >= self->claims->exp - HRG_TOKEN_WARNING_S) {
        self->token_warned = true;
        if (self->transport->token_expiring)
            self->transport->token_expiring (self, self->claims->exp - now_s);
    }
    int64_t close_at = self->claims->exp;
    if (self->transport->token_grace)
        close_at += self->worker->config->token_grace / 1000;
    if (now_s >= close_at) {
        hrg_conn_close (self, HRG_CLOSE_EXPIRED);
        return false;
    }
    return true;
}

void
hrg_conn_sweep (hrg_worker_t *worker, uint64_t now_ms)
{
    //  A revocation arrived since the last sweep: look at every token
    hr_revoke_t *revoked = worker->auth? hrg_auth_revocations (worker->auth): NULL;
    uint64_t generation = revoked? hr_revoke_generation (revoked): 0;
    bool recheck = generation != worker->revoke_seen;
    worker->revoke_seen = generation;
    int64_t now_s = (int64_t) (hr_wall_ms () / 1000);
    //  The next one is taken first: closing moves a connection to reaped
    hr_list_t *next;
    for (hr_list_t *node = hr_list_first (&worker->conns); node; node = next) {
        next = hr_list_next (&worker->conns, node);
        hrg_conn_t *self = hr_list_entry (node, hrg_conn_t, node);
        if (self->closing) {
            if (self->linger_until <= now_ms)
                s_finish (self);        //  its last words did not go out in time
        }
        else
        if (!hrg_conn_check_slow (self)
        &&  (!self->claims || s_sweep_token (self, recheck, now_s)))
            self->transport->sweep (self, now_ms);
    }
}

void
hrg_conn_reap (hrg_worker_t *worker)
{
    //  In the order they were closed; each leaves the list as it is freed
    for (hr_list_t *node; (node = hr_list_first (&worker->reaped)); ) {
        hrg_conn_t *self = hr_list_entry (node, hrg_conn_t, node);
        self->transport->destroy (self);
    }
}

void
hrg_conn_close_all (hrg_worker_t *worker, hrg_close_t reason)
{
    //  Each one closed leaves conns for reaped; those lingering go now
    for (hr_list_t *node; (node = hr_list_first (&worker->conns)); ) {
        hrg_conn_t *self = hr_list_entry (node, hrg_conn_t, node);
        hrg_conn_close (self, reason);
        if (hr_list_first (&worker->conns) == node)
            s_finish (self);
    }
}

void
hrg_conn_on_socket (hrg_conn_t *self, uint32_t events)
{
    if (!self->closing)
        self->transport->on_socket (self, events);
    else
    if (self->fd >= 0) {
        //  Lingering: its last words out, then the peer's end
        if (events & (EPOLLHUP | EPOLLERR))
            s_finish (self);
        else {
            if (events & EPOLLOUT)
                hrg_conn_write_queue (self);
            s_linger_step (self);
        }
    }
}
