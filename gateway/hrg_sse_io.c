/*  hrg_sse_io: the SSE response on the wire: the head, then the body as
    HTTP/1.1 chunks (one chunk per flush, gathered with writev straight
    from the shared frames), or raw for HTTP/1.0.  */
#include "hrg_sse.h"

#include <stdlib.h>

//  Writes what is left of the response head. True when all of it is out.
static bool
s_flush_head (hrg_sse_body_t *self, hrg_conn_t *conn)
{
    while (self->head_sent < self->head_len) {
        struct iovec iov = { self->head + self->head_sent, self->head_len - self->head_sent };
        size_t written = 0;
        bool done = hrg_conn_writev (conn, &iov, 1, &written);
        self->head_sent += (uint32_t) written;
        if (!done)
            return false;
    }
    free (self->head);
    self->head = NULL;
    return true;
}

//  The chunk's size line, "%x\r\n" of size, into line; returns its
//  length. By hand: snprintf was most of the user time of a write.
static uint8_t
s_size_line (char *line, uint32_t size)
{
    static const char digits [] = "0123456789abcdef";
    char hex [8];
    uint8_t n = 0;
    do {
        hex [n++] = digits [size & 0xf];
        size >>= 4;
    } while (size);
    for (uint8_t i = 0; i < n; i++)
        line [i] = hex [n - 1 - i];
    line [n] = '\r';
    line [n + 1] = '\n';
    return (uint8_t) (n + 2);
}

//  The chunked body: size line, data, CRLF, as far as the socket takes it.
static void
s_flush_chunked (hrg_sse_body_t *self, hrg_conn_t *conn)
{
    enum { S_IOV = 64, S_CHUNK_MAX = 256 * 1024 };
    static const char crlf [] = "\r\n";
    while (conn->fd >= 0) {
        if (!self->in_chunk) {
            uint64_t pending = hrg_conn_pending (conn);
            if (pending == 0)
                return;
            self->chunk_left = (uint32_t) (pending < S_CHUNK_MAX? pending: S_CHUNK_MAX);
            self->size_len = s_size_line (self->size_line, self->chunk_left);
            self->size_sent = self->tail_sent = 0;
            self->in_chunk = true;
        }
        struct iovec iov [S_IOV + 2];
        size_t count = 0, body = 0, written = 0;
        if (self->size_sent < self->size_len)
            iov [count++] = (struct iovec) { self->size_line + self->size_sent,
                                             (size_t) (self->size_len - self->size_sent) };
        count += hrg_queue_iov (&conn->queue, iov + count, S_IOV, self->chunk_left, &body);
        if (body == self->chunk_left)
            iov [count++] = (struct iovec) { (char *) crlf + self->tail_sent,
                                             (size_t) (2 - self->tail_sent) };
        bool more = hrg_conn_writev (conn, iov, count, &written);
        //  Account for the size line, body and tail bytes the kernel took
        size_t left = written;
        size_t line = (size_t) (self->size_len - self->size_sent);
        if (line > left)
            line = left;
        self->size_sent += (uint8_t) line;
        left -= line;
        size_t data = left < self->chunk_left? left: self->chunk_left;
        hrg_queue_advance (&conn->queue, data);
        self->chunk_left -= (uint32_t) data;
        self->tail_sent += (uint8_t) (left - data);
        if (self->tail_sent == 2)
            self->in_chunk = false;
        if (!more)
            return;                             //  the socket is full: wait for EPOLLOUT
    }
}

void
hrg_sse_body_flush (hrg_sse_body_t *self, hrg_conn_t *conn)
{
    if (conn->fd < 0 || (self->head && !s_flush_head (self, conn)))
        return;
    if (self->chunked)
        s_flush_chunked (self, conn);
    else
        hrg_conn_write_queue (conn);            //  HTTP/1.0: raw, ended by closing
}
