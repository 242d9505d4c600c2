/*  rawwriter.c - the least a server can do: a reference for `make bench`

    One thread, one epoll loop. Subscribers GET any path (the query's
    channel= names their channel, "bench" without one) and get an SSE stream
    the way Herald sends it: chunked, "retry:", an "id:" line at once (the
    generator's --ready id), then each event as id: + data: with a JSON
    envelope like Herald's around the payload. Events come as Herald's
    MessagePack publish frames ({"ch","data"}) on a ZeroMQ PULL, so
    `herald bench --target herald` drives it exactly as it drives Herald.

    Each event is rendered ONCE, and written to each connection of its
    channel with one write(): what is left is the kernel's cost per
    delivery. With --batch N the events of a channel are written N at a
    time (or once the oldest unwritten waited 50 ms), so it can be run at
    the batching Herald measured. A socket that is full keeps the rest in
    its own buffer until EPOLLOUT; beyond 1 MiB the connection is closed.

    It is a benchmark reference, not a server: no history, no auth, no
    heartbeats. Usage:
        herald-rawwriter [--http 127.0.0.1:0] [--pull tcp://127.0.0.1:*] [--batch N]
    prints "http HOST:PORT" and "pull ENDPOINT" on stdout once bound; on
    SIGTERM/SIGINT prints its counters on stderr and exits 0.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             //  accept4, memmem (CMake defines it for the project)
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_BACKLOG   (1u << 20)      //  unwritten bytes per connection before we close it
#define S_MAX_WAIT_NS   50000000ull     //  no event waits longer than this for its batch
#define S_HEAD_MAX      4096            //  request head bytes we read
#define S_CHANNEL_MAX   128
#define S_EPOCH         "0000000e1808d65d55a5eb9607a249e7"     //  shape of Herald's epoch

typedef struct s_conn_t s_conn_t;
typedef struct s_channel_t s_channel_t;

struct s_conn_t {
    int fd;
    bool streaming;             //  head answered: events go to it
    s_channel_t *channel;
    s_conn_t *prev, *next;      //  in its channel's list
    char *out;                  //  backlog the socket did not take
    size_t out_len, out_cap;
    size_t head_len;
    char head [S_HEAD_MAX];
};

struct s_channel_t {
    char name [S_CHANNEL_MAX];
    uint64_t seq;               //  per channel, as Herald numbers them
    s_conn_t *conns;
    char *batch;                //  rendered frames not written yet
    size_t batch_len, batch_cap;
    uint32_t batch_events;
    uint64_t oldest_ns;         //  when the first of them came
    s_channel_t *next;
};

static struct {
    int epoll_fd, listen_fd, zmq_fd;
    void *zmq_ctx, *pull;
    uint32_t batch;
    s_channel_t *channels;
    uint64_t events, deliveries, writes, overflow_closes;
} s_self;

static volatile sig_atomic_t s_stop;

static uint64_t
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (uint64_t) now.tv_sec * 1000000000ull + (uint64_t) now.tv_nsec;
}

static void
s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

//  Appends to a growable buffer; exits on out of memory (a reference tool).
static void
s_append (char **buf, size_t *len, size_t *cap, const void *data, size_t size)
{
    if (*len + size > *cap) {
        size_t want = *cap? *cap: 4096;
        while (want < *len + size)
            want *= 2;
        *buf = realloc (*buf, want);
        if (!*buf) {
            fprintf (stderr, "rawwriter: out of memory\n");
            exit (1);
        }
        *cap = want;
    }
    memcpy (*buf + *len, data, size);
    *len += size;
}

//  --------------------------------------------------------------------------
//  Channels

static s_channel_t *
s_channel (const char *name, size_t len)
{
    if (len >= S_CHANNEL_MAX)
        len = S_CHANNEL_MAX - 1;
    for (s_channel_t *ch = s_self.channels; ch; ch = ch->next)
        if (strlen (ch->name) == len && memcmp (ch->name, name, len) == 0)
            return ch;
    s_channel_t *ch = calloc (1, sizeof *ch);
    if (!ch)
        exit (1);
    memcpy (ch->name, name, len);
    ch->next = s_self.channels;
    s_self.channels = ch;
    return ch;
}

//  --------------------------------------------------------------------------
//  Connections

static void
s_conn_close (s_conn_t *conn)
{
    if (conn->channel) {
        if (conn->prev)
            conn->prev->next = conn->next;
        else
            conn->channel->conns = conn->next;
        if (conn->next)
            conn->next->prev = conn->prev;
    }
    close (conn->fd);           //  also takes it out of epoll
    free (conn->out);
    free (conn);
}

//  Writes data to the connection: at once with one write() when nothing is
//  waiting, else behind what is. Returns -1 when the connection was closed.
static int
s_conn_send (s_conn_t *conn, const char *data, size_t len)
{
    size_t done = 0;
    if (conn->out_len == 0) {
        ssize_t rc = write (conn->fd, data, len);
        s_self.writes++;
        if (rc < 0 && errno != EAGAIN && errno != EINTR) {
            s_conn_close (conn);
            return -1;
        }
        done = rc > 0? (size_t) rc: 0;
        if (done == len)
            return 0;
        //  The socket is full: the rest waits for EPOLLOUT.
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = conn };
        epoll_ctl (s_self.epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev);
    }
    if (conn->out_len + (len - done) > S_MAX_BACKLOG) {
        s_self.overflow_closes++;
        s_conn_close (conn);
        return -1;
    }
    s_append (&conn->out, &conn->out_len, &conn->out_cap, data + done, len - done);
    return 0;
}

//  EPOLLOUT: writes the backlog; back to EPOLLIN only once it is empty.
static void
s_conn_flush (s_conn_t *conn)
{
    ssize_t rc = write (conn->fd, conn->out, conn->out_len);
    s_self.writes++;
    if (rc < 0) {
        if (errno != EAGAIN && errno != EINTR)
            s_conn_close (conn);
        return;
    }
    memmove (conn->out, conn->out + rc, conn->out_len - (size_t) rc);
    conn->out_len -= (size_t) rc;
    if (conn->out_len == 0) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
        epoll_ctl (s_self.epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev);
    }
}

//  The request head is complete: subscribe and answer like Herald (chunked
//  SSE, a retry: and an id: line in the first chunk).
static void
s_conn_answer (s_conn_t *conn)
{
    const char *name = "bench";
    size_t name_len = 5;
    char *eol = memchr (conn->head, '\n', conn->head_len);
    char *query = memmem (conn->head, (size_t) (eol - conn->head), "channel=", 8);
    if (query) {
        name = query + 8;
        name_len = strcspn (name, "& \r\n");
    }
    if (strncmp (conn->head, "GET ", 4) != 0) {
        const char *bad = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n";
        if (write (conn->fd, bad, strlen (bad)) < 0) {
            //  closing anyway
        }
        s_conn_close (conn);
        return;
    }
    conn->channel = s_channel (name, name_len);
    conn->next = conn->channel->conns;
    if (conn->next)
        conn->next->prev = conn;
    conn->channel->conns = conn;
    conn->streaming = true;

    static const char body [] = "retry: 2000\n\nid: AckzVqcBAAA2Ryne\n\n";
    char answer [512];
    int len = snprintf (answer, sizeof answer,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                        "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n",
                        sizeof body - 1, body);
    s_conn_send (conn, answer, (size_t) len);
}

//  EPOLLIN: the request head, then anything else is read and dropped.
static void
s_conn_read (s_conn_t *conn)
{
    char sink [4096];
    char *buf = conn->streaming? sink: conn->head + conn->head_len;
    size_t room = conn->streaming? sizeof sink: sizeof conn->head - 1 - conn->head_len;
    ssize_t rc = read (conn->fd, buf, room);
    if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EINTR)) {
        s_conn_close (conn);
        return;
    }
    if (rc < 0 || conn->streaming)
        return;
    conn->head_len += (size_t) rc;
    conn->head [conn->head_len] = 0;
    if (strstr (conn->head, "\r\n\r\n") || strstr (conn->head, "\n\n"))
        s_conn_answer (conn);
    else
    if (conn->head_len == sizeof conn->head - 1)
        s_conn_close (conn);    //  a head this long is not a subscriber
}

static void
s_accept (void)
{
    while (true) {
        int fd = accept4 (s_self.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;             //  EAGAIN, or out of files: the rest wait
        int on = 1;
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        s_conn_t *conn = calloc (1, sizeof *conn);
        if (!conn)
            exit (1);
        conn->fd = fd;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
        epoll_ctl (s_self.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    }
}

//  --------------------------------------------------------------------------
//  Events

//  MessagePack to JSON, as Herald renders a payload (strings escaped,
//  map keys as strings). Depth is bounded by msgpack's own unpacker.
static void
s_json (char **buf, size_t *len, size_t *cap, const msgpack_object *o)
{
    char num [64];
    int n;
    switch (o->type) {
        case MSGPACK_OBJECT_NIL:
            s_append (buf, len, cap, "null", 4);
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            s_append (buf, len, cap, o->via.boolean? "true": "false", o->via.boolean? 4: 5);
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            n = snprintf (num, sizeof num, "%" PRIu64, o->via.u64);
            s_append (buf, len, cap, num, (size_t) n);
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            n = snprintf (num, sizeof num, "%" PRId64, o->via.i64);
            s_append (buf, len, cap, num, (size_t) n);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            n = snprintf (num, sizeof num, "%.17g", o->via.f64);
            s_append (buf, len, cap, num, (size_t) n);
            break;
        case MSGPACK_OBJECT_STR: {
            s_append (buf, len, cap, "\"", 1);
            const char *s = o->via.str.ptr;
            for (uint32_t i = 0; i < o->via.str.size; i++) {
                unsigned char c = (unsigned char) s [i];
                if (c == '"' || c == '\\') {
                    char esc [2] = { '\\', (char) c };
                    s_append (buf, len, cap, esc, 2);
                }
                else
                if (c < 0x20) {
                    n = snprintf (num, sizeof num, "\\u%04x", c);
                    s_append (buf, len, cap, num, (size_t) n);
                }
                else
                    s_append (buf, len, cap, s + i, 1);
            }
            s_append (buf, len, cap, "\"", 1);
            break;
        }
        case MSGPACK_OBJECT_ARRAY:
            s_append (buf, len, cap, "[", 1);
            for (uint32_t i = 0; i < o->via.array.size; i++) {
                if (i)
                    s_append (buf, len, cap, ",", 1);
                s_json (buf, len, cap, &o->via.array.ptr [i]);
            }
            s_append (buf, len, cap, "]", 1);
            break;
        case MSGPACK_OBJECT_MAP:
            s_append (buf, len, cap, "{", 1);
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                if (i)
                    s_append (buf, len, cap, ",", 1);
                s_json (buf, len, cap, &o->via.map.ptr [i].key);
                s_append (buf, len, cap, ":", 1);
                s_json (buf, len, cap, &o->via.map.ptr [i].val);
            }
            s_append (buf, len, cap, "}", 1);
            break;
        default:
            s_append (buf, len, cap, "null", 4);    //  bin, ext: not in bench payloads
    }
}

//  Writes a channel's waiting frames as one chunk, one write() per connection.
static void
s_channel_flush (s_channel_t *ch)
{
    if (ch->batch_events == 0)
        return;
    static char *chunk;
    static size_t chunk_cap;
    size_t chunk_len = 0;
    char head [24];
    int head_len = snprintf (head, sizeof head, "%zx\r\n", ch->batch_len);
    s_append (&chunk, &chunk_len, &chunk_cap, head, (size_t) head_len);
    s_append (&chunk, &chunk_len, &chunk_cap, ch->batch, ch->batch_len);
    s_append (&chunk, &chunk_len, &chunk_cap, "\r\n", 2);
    for (s_conn_t *conn = ch->conns, *next; conn; conn = next) {
        next = conn->next;      //  s_conn_send may free conn
        if (s_conn_send (conn, chunk, chunk_len) == 0)
            s_self.deliveries += ch->batch_events;
    }
    ch->batch_len = 0;
    ch->batch_events = 0;
}

//  One publish frame: render its SSE frame once into its channel's batch.
static void
s_event (const char *frame, size_t size)
{
    msgpack_unpacked msg;
    msgpack_unpacked_init (&msg);
    if (msgpack_unpack_next (&msg, frame, size, NULL) != MSGPACK_UNPACK_SUCCESS
    ||  msg.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy (&msg);
        return;
    }
    const msgpack_object *name = NULL, *data = NULL;
    for (uint32_t i = 0; i < msg.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &msg.data.via.map.ptr [i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue;
        if (kv->key.via.str.size == 2 && memcmp (kv->key.via.str.ptr, "ch", 2) == 0
        &&  kv->val.type == MSGPACK_OBJECT_STR)
            name = &kv->val;
        if (kv->key.via.str.size == 4 && memcmp (kv->key.via.str.ptr, "data", 4) == 0)
            data = &kv->val;
    }
    if (name && data) {
        s_channel_t *ch = s_channel (name->via.str.ptr, name->via.str.size);
        ch->seq++;
        struct timespec wall;
        clock_gettime (CLOCK_REALTIME, &wall);
        uint64_t ms = (uint64_t) wall.tv_sec * 1000 + (uint64_t) wall.tv_nsec / 1000000;
        //  id: and envelope of Herald's length and shape
        char head [512];
        int len = snprintf (head, sizeof head,
                            "id: AckzVqcBIDAw" S_EPOCH "%016" PRIx64 "\n"
                            "data: {\"channel\":\"%s\",\"seq\":%" PRIu64 ",\"epoch\":\"" S_EPOCH
                            "\",\"ts\":%" PRIu64 ",\"data\":", ch->seq, ch->name, ch->seq, ms);
        if (ch->batch_events == 0)
            ch->oldest_ns = s_now ();
        s_append (&ch->batch, &ch->batch_len, &ch->batch_cap, head, (size_t) len);
        s_json (&ch->batch, &ch->batch_len, &ch->batch_cap, data);
        s_append (&ch->batch, &ch->batch_len, &ch->batch_cap, "}\n\n", 3);
        ch->batch_events++;
        s_self.events++;
        if (ch->batch_events >= s_self.batch)
            s_channel_flush (ch);
    }
    msgpack_unpacked_destroy (&msg);
}

//  Takes what the PULL holds, at most a bound per turn so sockets get
//  their EPOLLOUT too. Returns true when it is empty (ZMQ_FD is edge-like:
//  it signals again only after we have seen EAGAIN).
static bool
s_pull_drain (void)
{
    for (int taken = 0; taken < 1024; taken++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, s_self.pull, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            return true;
        }
        s_event (zmq_msg_data (&msg), zmq_msg_size (&msg));
        zmq_msg_close (&msg);
    }
    return false;
}

//  Flushes the batches whose oldest event waited long enough; returns the
//  ms until the next one is due (-1: none waiting).
static int
s_flush_due (void)
{
    uint64_t now = s_now (), next = UINT64_MAX;
    for (s_channel_t *ch = s_self.channels; ch; ch = ch->next) {
        if (ch->batch_events == 0)
            continue;
        if (now - ch->oldest_ns >= S_MAX_WAIT_NS)
            s_channel_flush (ch);
        else
        if (ch->oldest_ns + S_MAX_WAIT_NS < next)
            next = ch->oldest_ns + S_MAX_WAIT_NS;
    }
    return next == UINT64_MAX? -1: (int) ((next - now) / 1000000) + 1;
}

//  --------------------------------------------------------------------------
//  Setup

static int
s_listen (const char *spec)
{
    char host [64] = "127.0.0.1";
    const char *colon = strrchr (spec, ':');
    int port = atoi (colon? colon + 1: spec);
    if (colon && (size_t) (colon - spec) < sizeof host) {
        memcpy (host, spec, (size_t) (colon - spec));
        host [colon - spec] = 0;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    socklen_t addr_len = sizeof addr;
    if (fd < 0 || inet_pton (AF_INET, host, &addr.sin_addr) != 1
    ||  bind (fd, (struct sockaddr *) &addr, sizeof addr) != 0 || listen (fd, 4096) != 0
    ||  getsockname (fd, (struct sockaddr *) &addr, &addr_len) != 0) {
        fprintf (stderr, "rawwriter: cannot listen on %s: %s\n", spec, strerror (errno));
        return -1;
    }
    printf ("http %s:%u\n", host, ntohs (addr.sin_port));
    return fd;
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: herald-rawwriter [--http HOST:PORT] [--pull ENDPOINT] [--batch N]\n"
                     "  --http   subscribers' address (default 127.0.0.1:0, printed)\n"
                     "  --pull   ZeroMQ PULL for publish frames (default tcp://127.0.0.1:*)\n"
                     "  --batch  events of a channel per write, or 50 ms (default 1)\n");
}

int
main (int argc, char **argv)
{
    const char *http = "127.0.0.1:0", *pull = "tcp://127.0.0.1:*";
    s_self.batch = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--http") == 0 && i + 1 < argc)
            http = argv [++i];
        else
        if (strcmp (argv [i], "--pull") == 0 && i + 1 < argc)
            pull = argv [++i];
        else
        if (strcmp (argv [i], "--batch") == 0 && i + 1 < argc && atoi (argv [i + 1]) >= 1)
            s_self.batch = (uint32_t) atoi (argv [++i]);
        else {
            s_usage ();
            return 2;
        }
    }
    //  Thousands of subscribers: as many files as we are allowed.
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0) {
        files.rlim_cur = files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
    }
    signal (SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);

    s_self.listen_fd = s_listen (http);
    s_self.zmq_ctx = zmq_ctx_new ();
    s_self.pull = zmq_socket (s_self.zmq_ctx, ZMQ_PULL);
    int hwm = 0;                //  like a broker: queue rather than push back
    zmq_setsockopt (s_self.pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    char endpoint [256];
    size_t endpoint_len = sizeof endpoint;
    if (s_self.listen_fd < 0 || zmq_bind (s_self.pull, pull) != 0
    ||  zmq_getsockopt (s_self.pull, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_len) != 0) {
        fprintf (stderr, "rawwriter: cannot bind %s: %s\n", pull, zmq_strerror (errno));
        return 1;
    }
    printf ("pull %s\n", endpoint);
    fflush (stdout);
    size_t fd_len = sizeof s_self.zmq_fd;
    zmq_getsockopt (s_self.pull, ZMQ_FD, &s_self.zmq_fd, &fd_len);

    s_self.epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl (s_self.epoll_fd, EPOLL_CTL_ADD, s_self.zmq_fd, &ev);
    ev.data.ptr = &s_self.listen_fd;
    epoll_ctl (s_self.epoll_fd, EPOLL_CTL_ADD, s_self.listen_fd, &ev);

    bool pull_empty = false;
    while (!s_stop) {
        int due = s_flush_due ();
        int timeout = !pull_empty? 0: due;
        struct epoll_event events [256];
        int ready = epoll_wait (s_self.epoll_fd, events, 256, timeout);
        for (int i = 0; i < ready; i++) {
            void *ptr = events [i].data.ptr;
            if (ptr == NULL)
                continue;       //  the PULL: drained below in any case
            if (ptr == &s_self.listen_fd)
                s_accept ();
            else
            if (events [i].events & EPOLLOUT)
                s_conn_flush (ptr);
            else
            if (events [i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                s_conn_read (ptr);
        }
        pull_empty = s_pull_drain ();
    }
    fprintf (stderr, "rawwriter: %" PRIu64 " events, %" PRIu64 " deliveries, %" PRIu64
             " writes, %" PRIu64 " closed for a full buffer\n", s_self.events,
             s_self.deliveries, s_self.writes, s_self.overflow_closes);
    zmq_close (s_self.pull);
    zmq_ctx_term (s_self.zmq_ctx);
    return 0;
}
