/*  hrg_loop: the per-core event loop. One epoll set holds the
    libmicrohttpd daemon's epoll fd, the SUB and DEALER sockets' ZMQ_FDs and
    a stop eventfd. Each turn drains the broker stream in a batch, wakes the
    connections that got frames, and runs libmicrohttpd once.  */
#include "hrg_loop.h"
#include "hrg_auth.h"
#include "hrg_channel.h"
#include "hrg_conn.h"
#include "hrg_fetch.h"
#include "hrg_group.h"
#include "hrg_http.h"
#include "hrg_links.h"
#include "hrg_revoke.h"
#include "hr_curve.h"
#include "hr_log.h"
#include "hr_time.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>
#include <zmq.h>

//  Broker stream messages handled per turn before serving HTTP again.
#define S_SUB_BATCH 4096
//  Slow-consumer and heartbeat checks.
#define S_SWEEP_MS 250
//  How long shutdown waits for connections to close.
#define S_SHUTDOWN_MS 2000
//  epoll events taken per turn of the loop.
#define S_MAX_EVENTS 256

//  Registers fd with tag as its epoll data; connections use their own
//  address, so the loop tells them apart from the worker's fds by tag.
static int
s_epoll_add (int epoll_fd, int fd, void *tag)
{
    struct epoll_event event = { .events = EPOLLIN, .data.ptr = tag };
    return epoll_ctl (epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

static int
s_zmq_fd (void *sock)
{
    int fd = -1;
    size_t size = sizeof fd;
    zmq_getsockopt (sock, ZMQ_FD, &fd, &size);
    return fd;
}

//  Connects sock to each comma-separated endpoint.
static int
s_connect (void *sock, const char *endpoints, hr_buf_t *err)
{
    char *list = hr_strdup (endpoints);
    char *save = NULL;
    int rc = 0;
    for (char *ep = strtok_r (list, ",", &save); ep && rc == 0; ep = strtok_r (NULL, ",", &save))
        if ((rc = zmq_connect (sock, ep)) != 0)
            hr_buf_printf (err, "cannot connect to broker %s: %s", ep, zmq_strerror (errno));
    free (list);
    return rc;
}

//  The SUB's endpoints: every broker's stream with a cluster file, else
//  --broker's. Caller frees.
static char *
s_stream_endpoints (hrg_worker_t *self)
{
    if (!self->follow)
        return hr_strdup (self->config->broker_sub);
    const hr_cluster_t *cluster = hrg_follow_cluster (self->follow);
    return hr_cluster_endpoints (cluster, HR_CLUSTER_STREAM, hr_cluster_all (cluster));
}

//  Adds every link's DEALER and monitor to the epoll set.
static int
s_epoll_add_links (hrg_worker_t *self)
{
    for (size_t i = 0; i < hrg_links_count (self->links); i++) {
        hrg_link_t *link = hrg_links_at (self->links, i);
        if (s_epoll_add (self->epoll_fd, hrg_link_fd (link), &self->link) != 0
        ||  s_epoll_add (self->epoll_fd, hrg_link_monitor_fd (link), &self->linked) != 0)
            return -1;
    }
    return 0;
}

hrg_worker_t *
hrg_loop_new (int index, void *zmq_ctx, const hrg_config_t *config,
                hr_metrics_t *metrics, const hrg_metric_ids_t *ids,
                const char *const *cors, hrg_follow_t *follow, int listen_fd, hr_buf_t *err)
{
    hrg_worker_t *self = hr_calloc (1, sizeof *self);
    hrg_worker_lists_init (self);
    self->index = index;
    //  Distinct in every process and worker (session ids)
    if (getrandom (&self->rng, sizeof self->rng, 0) != sizeof self->rng)
        self->rng = (uint64_t) hr_mono_us () ^ ((uint64_t) getpid () << 32) ^ (uint64_t) index;
    self->config = config;
    self->follow = follow;
    self->metrics = metrics;
    self->m = ids;
    self->cors = cors;
    self->shard = hr_metrics_shard (metrics);
    self->listen_fd = listen_fd;
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    self->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->channels = zhashx_new ();
    self->groups = zhashx_new ();
    self->conn_slabs_on = true;
    self->sub = zmq_socket (zmq_ctx, ZMQ_SUB);
    int hwm = (int) config->sub_hwm, linger = 0;
    zmq_setsockopt (self->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    //  A SUB sends its subscriptions through its send pipe and libzmq drops
    //  those over ZMQ_SNDHWM (1,000 by default) without a word, also when
    //  it re-sends them all on reconnect. Unlimited: the pipe holds at most
    //  one message per channel, and channels are bounded by connections.
    int unlimited = 0;
    zmq_setsockopt (self->sub, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
    zmq_setsockopt (self->sub, ZMQ_LINGER, &linger, sizeof linger);
    hrg_revoke_subscribe (self);        //  the broker replays its list to it
    if (follow)                         //  every broker announces its view
        zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, HR_VIEW_TOPIC, strlen (HR_VIEW_TOPIC));
    //  Each new connection of the SUB (a broker restart) makes every
    //  channel confirm its subscription again (hrg_channel_reconfirm_all);
    //  a connection counts once its handshake succeeds (CURVE keys the
    //  broker refuses make TCP connections, 10 a second, and nothing else)
    char monitor [64];
    snprintf (monitor, sizeof monitor, "inproc://herald-sub-%d", index);
    zmq_socket_monitor (self->sub, monitor, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    self->sub_monitor = zmq_socket (zmq_ctx, ZMQ_PAIR);
    zmq_setsockopt (self->sub_monitor, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect (self->sub_monitor, monitor);
    char *streams = s_stream_endpoints (self);
    int rc = self->epoll_fd < 0 || self->stop_fd < 0
          || hr_curve_client (self->sub, config->curve_server_key, config->curve_secret, err) != 0
          || s_connect (self->sub, streams, err) != 0
          || !(self->links = hrg_links_new (zmq_ctx, config, follow, index, err));
    free (streams);
    if (rc) {
        hrg_loop_destroy (&self);
        return NULL;
    }
    self->link = hrg_links_at (self->links, 0);
    self->daemon = MHD_start_daemon (
        //  TURBO: besides its optimistic I/O, libmicrohttpd then closes a
        //  connection without shutdown(), which lets an SSE stream or a
        //  WebSocket keep the socket it took over (hrg_sse_handle, hrg_ws_handle)
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG,
        0, hrg_http_accept, self, hrg_http_access, self,
        MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) config->max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) config->conn_memory,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) (config->conn_timeout / 1000),
        MHD_OPTION_NOTIFY_COMPLETED, hrg_http_completed, self,
        MHD_OPTION_NOTIFY_CONNECTION, hrg_http_notify_connection, self,
        MHD_OPTION_EXTERNAL_LOGGER, hrg_http_mhd_log, self,
        MHD_OPTION_END);
    if (!self->daemon) {
        hr_buf_printf (err, "cannot start the HTTP server (worker %d)", index);
        hrg_loop_destroy (&self);
        return NULL;
    }
    self->listen_fd = -1;       //  the daemon owns it now
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_EPOLL_FD);
    if (!info
    ||  s_epoll_add (self->epoll_fd, info->epoll_fd, &self->daemon) != 0
    ||  s_epoll_add (self->epoll_fd, self->stop_fd, &self->stop_fd) != 0
    ||  s_epoll_add (self->epoll_fd, s_zmq_fd (self->sub), &self->sub) != 0
    ||  s_epoll_add (self->epoll_fd, s_zmq_fd (self->sub_monitor), &self->sub) != 0
    ||  s_epoll_add_links (self) != 0) {
        hr_buf_printf (err, "cannot set up the event loop (worker %d)", index);
        hrg_loop_destroy (&self);
        return NULL;
    }
    return self;
}

void
hrg_loop_destroy (hrg_worker_t **self_p)
{
    hrg_worker_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    hrg_links_destroy (&self->links);
    self->link = NULL;
    if (self->sub) {
        zmq_socket_monitor (self->sub, NULL, 0);
        zmq_close (self->sub_monitor);
        zmq_close (self->sub);
    }
    zhashx_destroy (&self->channels);
    zhashx_destroy (&self->groups);
    hrg_conn_free_slabs (self);
    if (self->listen_fd >= 0)
        close (self->listen_fd);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    if (self->stop_fd >= 0)
        close (self->stop_fd);
    hr_buf_free (&self->scratch);
    hr_buf_free (&self->cursor);
    free (self);
    *self_p = NULL;
}

void
hrg_loop_stop (hrg_worker_t *self)
{
    uint64_t one = 1;
    ssize_t rc = write (self->stop_fd, &one, sizeof one);
    (void) rc;
}

static bool
s_sub_readable (hrg_worker_t *self)
{
    int events = 0;
    size_t size = sizeof events;
    zmq_getsockopt (self->sub, ZMQ_EVENTS, &events, &size);
    return (events & ZMQ_POLLIN) != 0;
}

//  True when the SUB made a new connection since the last call: libzmq
//  has then re-sent every subscription on it, perhaps to a new broker.
//  (None for inproc://, which never reconnects.)
static bool
s_sub_reconnected (hrg_worker_t *self)
{
    bool connected = false;
    zmq_msg_t event;
    zmq_msg_init (&event);
    //  Each event is two frames: 16-bit id + 32-bit value, then the endpoint
    while (zmq_msg_recv (&event, self->sub_monitor, ZMQ_DONTWAIT) >= 0) {
        uint16_t id = 0;
        if (zmq_msg_size (&event) >= sizeof id)
            memcpy (&id, zmq_msg_data (&event), sizeof id);
        connected |= id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && zmq_msg_more (&event);
        while (zmq_msg_more (&event))
            zmq_msg_recv (&event, self->sub_monitor, 0);
    }
    zmq_msg_close (&event);
    return connected;
}

void
hrg_loop_drain_sub (hrg_worker_t *self)
{
    zmq_msg_t topic, body;
    for (int i = 0; i < S_SUB_BATCH; i++) {
        zmq_msg_init (&topic);
        if (zmq_msg_recv (&topic, self->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&topic);
            return;
        }
        bool framed = zmq_msg_more (&topic);
        bool revocation = hrg_revoke_topic (zmq_msg_data (&topic), zmq_msg_size (&topic));
        bool view = zmq_msg_size (&topic) == strlen (HR_VIEW_TOPIC)
                 && memcmp (zmq_msg_data (&topic), HR_VIEW_TOPIC, strlen (HR_VIEW_TOPIC)) == 0;
        zmq_msg_close (&topic);
        if (!framed)
            continue;
        zmq_msg_init (&body);
        zmq_msg_recv (&body, self->sub, 0);
        while (zmq_msg_more (&body)) {      //  never sent by a broker; skip
            zmq_msg_close (&body);
            zmq_msg_init (&body);
            zmq_msg_recv (&body, self->sub, 0);
            framed = false;
        }
        if (framed && revocation) {
            hrg_revoke_on_stream (self, zmq_msg_data (&body), zmq_msg_size (&body));
            zmq_msg_close (&body);
            continue;
        }
        if (framed && view) {
            hrg_links_on_view (self, zmq_msg_data (&body), zmq_msg_size (&body));
            zmq_msg_close (&body);
            continue;
        }
        hr_error_t error = HR_OK;
        hrg_event_t *ev = framed? hrg_event_decode (zmq_msg_data (&body),
                                                    zmq_msg_size (&body), &error): NULL;
        zmq_msg_close (&body);
        if (!ev) {
            hr_log_limited_warn ("undecodable message on the broker stream",
                                 "error", hr_error_code (error));
            continue;
        }
        if (!ev->head)
            hr_metrics_inc (self->shard, self->m->events_received);
        hrg_channel_on_stream (self, ev);
    }
}

//  Microseconds epoll may sleep: 0 when work is already waiting.
static uint64_t
s_timeout (hrg_worker_t *self, uint64_t now_us)
{
    if (s_sub_readable (self) || hrg_links_readable (self->links))
        return 0;
    if (!hr_list_empty (&self->dirty_groups) || !hr_list_empty (&self->dirty_conns)
    ||  hrg_conn_readable_later (self))
        return 0;
    //  Memory freed at the end of the last turn (a reaped resume): let the
    //  next waiting catch-up in now, not at the next sweep
    if (hrg_fetch_admittable (self))
        return 0;
    uint64_t wake = self->next_sweep * 1000;
    uint64_t deadline = hrg_links_next_deadline (self->links);
    if (deadline != UINT64_MAX && deadline * 1000 < wake)
        wake = deadline * 1000;
    uint64_t due = hrg_group_next_due (self);
    if (due != UINT64_MAX && due * 1000 < wake)
        wake = due * 1000;
    MHD_UNSIGNED_LONG_LONG mhd_timeout;
    if (MHD_get_timeout (self->daemon, &mhd_timeout) == MHD_YES
    &&  now_us + mhd_timeout * 1000 < wake)
        wake = now_us + mhd_timeout * 1000;
    return wake > now_us? wake - now_us: 0;
}

//  Writes what is due: groups (each at most once per --write-interval, see
//  hrg_group) and connections' own frames.
static void
s_flush (hrg_worker_t *self)
{
    hrg_group_flush_dirty (self, hr_mono_ms ());
    hrg_conn_flush_dirty (self);
    hrg_fetch_admit (self);
}

//  One turn of the loop after epoll returns.
static void
s_turn (hrg_worker_t *self)
{
    bool linked = hrg_links_update (self) != 0;
    if (linked != self->linked) {
        self->linked = linked;
        atomic_fetch_add (self->linked_workers, linked? 1: -1);
        if (!self->follow)              //  hrg_links names each broker of a cluster
            hr_log_info (linked? "connected to the broker": "lost the broker",
                         "broker", self->config->broker_req);
    }
    //  Before draining: the markers that confirm come after the event
    if (s_sub_reconnected (self)) {
        char count [24];
        snprintf (count, sizeof count, "%zu", hrg_channel_reconfirm_all (self, hr_mono_ms ()));
        hr_log_info ("connected to the broker stream: confirming every channel",
                     "broker", self->follow? "(a broker of the cluster)": self->config->broker_sub,
                     "channels", count);
    }
    hrg_loop_drain_sub (self);
    hrg_conn_read_again (self);         //  input a client left for this turn
    hrg_links_process (self->links);
    uint64_t retries = hrg_links_retries (self->links);
    hr_metrics_add_to (self->shard, self->m->history_retries,
                       (int64_t) (retries - self->link_retries));
    self->link_retries = retries;
    uint64_t now = hr_mono_ms ();
    hrg_links_expire (self->links, now);
    if (now >= self->next_sweep) {
        hrg_conn_sweep (self, now);
        hr_revoke_t *revoked = hrg_auth_revocations (self->auth);
        if (revoked && self->index == 0) {     //  one list for the gateway: one shard says it
            hr_metrics_set (self->shard, self->m->revocations,
                            (int64_t) hr_revoke_count (revoked, (int64_t) (hr_wall_ms () / 1000)));
            hr_metrics_set (self->shard, self->m->revocation_bytes,
                            (int64_t) hr_revoke_bytes (revoked));
            hr_metrics_set (self->shard, self->m->token_cache_bytes,
                            (int64_t) hrg_auth_cache_bytes (self->auth));
        }
        hrg_channel_sweep (self, now);
        if (self->index == 0)           //  process-wide: one writer, else summed twice
            hr_metrics_set (self->shard, self->m->log_suppressed,
                            (int64_t) hr_log_suppressed ());
        self->next_sweep = now + S_SWEEP_MS;
    }
    s_flush (self);
    MHD_run (self->daemon);
    s_flush (self);                     //  streams opened during MHD_run
    hrg_conn_reap (self);
}

//  Stops accepting, closes every stream (a WebSocket gets bye 1001), and
//  fails requests waiting on the broker, which resumes them
//  (MHD_stop_daemon requires none suspended).
static void
s_shutdown (hrg_worker_t *self)
{
    MHD_socket listen_fd = MHD_quiesce_daemon (self->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close (listen_fd);
    hrg_conn_close_all (self, HRG_CLOSE_SHUTDOWN);
    hrg_fetch_admit_all (self);         //  history requests waiting for memory fail with the link
    hrg_conn_reap (self);
    hrg_links_destroy (&self->links);   //  pending publishes answer 503
    self->link = NULL;
    //  Let the resumed requests send their answers
    uint64_t deadline = hr_mono_ms () + S_SHUTDOWN_MS;
    struct epoll_event events [8];
    while (hr_mono_ms () < deadline) {
        MHD_run (self->daemon);
        MHD_UNSIGNED_LONG_LONG timeout;
        if (MHD_get_timeout (self->daemon, &timeout) == MHD_NO || timeout > 0)
            break;
        epoll_wait (self->epoll_fd, events, 8, 10);
    }
    //  A request read in that loop (one already accepted) may have opened a
    //  stream after the close above: it goes too, or it would leak
    hrg_conn_close_all (self, HRG_CLOSE_SHUTDOWN);
    hrg_conn_reap (self);
}

hrg_loop_epoll_pwait2_fn *hrg_loop_epoll_pwait2 = epoll_pwait2;
hrg_loop_thread_create_fn *hrg_loop_thread_create = pthread_create;

//  Waits up to wait_us for events. epoll_pwait2 (µs timeouts) needs Linux
//  5.11: on ENOSYS the worker falls back to epoll_wait for good, rounding
//  the timeout up to a whole ms (rounding down would spin on 0 ms waits).
static int
s_wait (hrg_worker_t *self, struct epoll_event *events, int max, uint64_t wait_us)
{
    if (!self->no_pwait2) {
        struct timespec timeout = { (time_t) (wait_us / 1000000),
                                    (long) (wait_us % 1000000) * 1000 };
        int count = hrg_loop_epoll_pwait2 (self->epoll_fd, events, max, &timeout, NULL);
        if (count >= 0 || errno != ENOSYS)
            return count;
        self->no_pwait2 = true;
        hr_log_info ("epoll_pwait2 is not available (Linux before 5.11): using epoll_wait");
    }
    uint64_t ms = (wait_us + 999) / 1000;
    return epoll_wait (self->epoll_fd, events, max, ms > INT_MAX? INT_MAX: (int) ms);
}

void *
hrg_loop_run (void *arg)
{
    hrg_worker_t *self = arg;
    char name [16];
    snprintf (name, sizeof name, "herald-gw-%d", self->index);
    pthread_setname_np (pthread_self (), name);
    self->next_sweep = hr_mono_ms () + S_SWEEP_MS;
    //  Ready sockets handled per turn: enough that a busy worker with many
    //  connections does not need a turn (and an MHD_run) per eight of them
    struct epoll_event events [S_MAX_EVENTS];
    while (!self->stopping) {
        int count = s_wait (self, events, S_MAX_EVENTS, s_timeout (self, hr_mono_us ()));
        for (int i = 0; i < count; i++) {
            void *tag = events [i].data.ptr;
            if (tag == &self->stop_fd)
                self->stopping = true;
            else
            if (tag != &self->daemon && tag != &self->sub && tag != &self->link
            &&  tag != &self->linked)
                hrg_conn_on_socket (tag, events [i].events);    //  through its transport
        }
        if (count < 0 && errno != EINTR)        //  each turn while it lasts: limited
            hr_log_limited (HR_LOG_ERROR, "epoll_wait failed", "error", strerror (errno), NULL);
        s_turn (self);
    }
    s_shutdown (self);
    return NULL;
}
