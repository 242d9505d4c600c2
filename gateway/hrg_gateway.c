/*  hrg_gateway: listen sockets, metrics registration, worker threads.  */
#include "hrg_gateway.h"
#include "hrg_auth.h"
#include "hrg_follow.h"
#include "hrg_limit.h"
#include "hrg_loop.h"
#include "hrg_ws.h"
#include "hr_config.h"
#include "hr_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <unistd.h>

struct _hrg_gateway_t {
    const hrg_config_t *config;
    hrg_worker_t **workers;
    int worker_count;
    int started;                //  workers [0, started) have a running thread
    hrg_metric_ids_t ids;
    _Atomic int linked_workers;     //  workers connected to the broker
    char **cors;                //  NULL-terminated; shared by the workers
    char **ws_origins;          //  likewise, --ws-origins
    hrg_auth_t *auth;           //  token decisions, shared by the workers
    hrg_limit_t *limit;         //  limits per client, shared by the workers
    hrg_follow_t *follow;       //  --cluster: the view followed, shared; else NULL
    char url [128];
};

static void
s_register_metrics (hrg_metric_ids_t *ids, hr_metrics_t *metrics)
{
    const char *codes [HR_E_COUNT], *reasons [HR_RESET_COUNT];
    for (int i = 0; i < HR_E_COUNT; i++)
        codes [i] = hr_error_code ((hr_error_t) i);
    for (int i = 0; i < HR_RESET_COUNT; i++)
        reasons [i] = hr_reset_name ((hr_reset_t) i);
    ids->connections = hr_metrics_add (metrics, "herald_connections", HR_METRIC_GAUGE,
        "Open SSE connections.");
    ids->subscriptions = hr_metrics_add (metrics, "herald_subscriptions", HR_METRIC_GAUGE,
        "Channel subscriptions of open SSE connections.");
    ids->channels = hr_metrics_add (metrics, "herald_gateway_channels", HR_METRIC_GAUGE,
        "Channels subscribed on the broker stream, summed over workers.");
    ids->groups = hr_metrics_add (metrics, "herald_groups", HR_METRIC_GAUGE,
        "Subscription groups (connections sharing a channel set) over workers.");
    ids->requests = hr_metrics_add (metrics, "herald_http_requests_total", HR_METRIC_COUNTER,
        "HTTP requests received.");
    ids->http_connections = hr_metrics_add (metrics, "herald_http_connections", HR_METRIC_GAUGE,
        "HTTP connections libmicrohttpd holds (requests, idle keep-alive), each up to --conn-memory.");
    ids->events_received = hr_metrics_add (metrics, "herald_events_received_total",
        HR_METRIC_COUNTER, "Events received from the broker, per worker.");
    ids->events_delivered = hr_metrics_add (metrics, "herald_events_delivered_total",
        HR_METRIC_COUNTER, "Events queued to connections (one per connection per event).");
    ids->writes = hr_metrics_add (metrics, "herald_gateway_writes_total", HR_METRIC_COUNTER,
        "Socket writes to client connections (one syscall each): deliveries per write is the coalescing.");
    ids->replayed = hr_metrics_add (metrics, "herald_events_replayed_total",
        HR_METRIC_COUNTER, "Missed events sent to resuming connections.");
    ids->resumes = hr_metrics_add (metrics, "herald_resumes_total", HR_METRIC_COUNTER,
        "SSE connections that presented a cursor.");
    ids->gap_fills = hr_metrics_add (metrics, "herald_gap_fills_total", HR_METRIC_COUNTER,
        "History requests made to repair a gap in the broker stream.");
    ids->slow_consumers = hr_metrics_add (metrics, "herald_slow_consumers_total",
        HR_METRIC_COUNTER, "Connections closed for exceeding the queued-bytes limit.");
    ids->channels_unconfirmed = hr_metrics_add (metrics, "herald_gateway_channels_unconfirmed",
        HR_METRIC_GAUGE, "Channels whose subscription the broker has not confirmed yet.");
    ids->subscription_retries = hr_metrics_add (metrics, "herald_subscription_retries_total",
        HR_METRIC_COUNTER, "Subscriptions sent again because the broker did not confirm them.");
    ids->subscription_timeouts = hr_metrics_add (metrics, "herald_subscription_timeouts_total",
        HR_METRIC_COUNTER, "Channels reset (unavailable) for staying unconfirmed past the deadline.");
    ids->held_bytes = hr_metrics_add (metrics, "herald_gateway_held_bytes", HR_METRIC_GAUGE,
        "Bytes of events channels hold while syncing or filling a gap.");
    ids->catchup_bytes = hr_metrics_add (metrics, "herald_catchup_bytes", HR_METRIC_GAUGE,
        "Bytes held for catch-up (history pages, queued replays, rendered history).");
    ids->catchup_waiting = hr_metrics_add (metrics, "herald_catchup_waiting", HR_METRIC_GAUGE,
        "Catch-ups (resumes, history requests) waiting for --catchup-memory.");
    ids->catchup_fetches = hr_metrics_add (metrics, "herald_catchup_fetches_total",
        HR_METRIC_COUNTER, "History pages requested from the broker for catch-up.");
    ids->catchup_shared = hr_metrics_add (metrics, "herald_catchup_shared_total",
        HR_METRIC_COUNTER, "Catch-up page requests served by a page already fetched or in flight.");
    ids->history_retries = hr_metrics_add (metrics, "herald_history_retries_total",
        HR_METRIC_COUNTER, "History requests asked again because the broker answered overloaded.");
    ids->log_suppressed = hr_metrics_add (metrics, "herald_log_suppressed_total",
        HR_METRIC_COUNTER, "Log lines dropped by the rate limit (whole process; a 250 ms lag).");
    ids->ws_connections = hr_metrics_add (metrics, "herald_ws_connections", HR_METRIC_GAUGE,
        "Open WebSocket connections (also counted in herald_connections).");
    ids->ws_messages = hr_metrics_add (metrics, "herald_ws_messages_total", HR_METRIC_COUNTER,
        "Messages received from WebSocket clients (each message of a batch).");
    ids->ws_inbound_bytes = hr_metrics_add (metrics, "herald_ws_inbound_bytes", HR_METRIC_GAUGE,
        "Bytes held for WebSocket messages being received (each up to --ws-max-message).");
    ids->revocations = hr_metrics_add (metrics, "herald_gateway_revocations", HR_METRIC_GAUGE,
        "Live revocations the gateway holds (the broker's list, as sent on its stream).");
    ids->revocation_bytes = hr_metrics_add (metrics, "herald_gateway_revocation_bytes",
        HR_METRIC_GAUGE, "Bytes the gateway's revocation list takes.");
    ids->token_cache_bytes = hr_metrics_add (metrics, "herald_token_cache_bytes",
        HR_METRIC_GAUGE, "Bytes the cache of recently verified tokens takes (4,096 at most).");
    ids->frame_pool_bytes = hr_metrics_add (metrics, "herald_gateway_frame_pool_bytes",
        HR_METRIC_GAUGE, "Bytes of frame memory workers hold: groups' open batches (64 KiB each at most) and blocks kept for reuse (1 MiB each at most).");
    ids->stale_epochs = hr_metrics_add (metrics, "herald_stale_epoch_total", HR_METRIC_COUNTER,
        "Events, head markers and history replies ignored for an epoch older than the channel's.");
    ids->ws_closes = hr_metrics_add_labeled (metrics, "herald_ws_closed_total",
        HR_METRIC_COUNTER, "WebSocket connections the server closed for a reason, by close code.",
        "code", hrg_ws_close_labels, HRG_WS_CLOSE_LABELS);
    ids->ws_errors = hr_metrics_add_labeled (metrics, "herald_ws_errors_total",
        HR_METRIC_COUNTER, "WebSocket requests answered err, by code.", "code",
        hrg_ws_error_labels, HRG_WS_ERROR_LABELS);
    ids->cluster_view = hr_metrics_add (metrics, "herald_gateway_cluster_view", HR_METRIC_GAUGE,
        "--cluster: the view number followed (the highest any broker announced); 0 = none yet.");
    ids->brokers_connected = hr_metrics_add (metrics, "herald_gateway_brokers_connected",
        HR_METRIC_GAUGE, "--cluster: brokers of the file every worker is connected to.");
    ids->view_changes = hr_metrics_add (metrics, "herald_gateway_view_changes_total",
        HR_METRIC_COUNTER, "--cluster: views followed (each announced with a higher number).");
    ids->view_bad = hr_metrics_add (metrics, "herald_gateway_view_bad_total", HR_METRIC_COUNTER,
        "--cluster: malformed view announcements on broker streams (counted by each worker).");
    ids->errors = hr_metrics_add_labeled (metrics, "herald_errors_total", HR_METRIC_COUNTER,
        "HTTP requests answered with an error, by code.", "code", codes + 1, HR_E_COUNT - 1);
    ids->resets = hr_metrics_add_labeled (metrics, "herald_resets_total", HR_METRIC_COUNTER,
        "Reset events sent (per group or connection), by reason.", "reason", reasons + 1,
        HR_RESET_COUNT - 1);
}

//  Splits the comma-separated origins list; NULL when empty.
static char **
s_parse_cors (const char *list)
{
    if (!list || !*list)
        return NULL;
    size_t count = 1;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    char **origins = hr_calloc (count + 1, sizeof (char *));
    char *copy = hr_strdup (list);
    char *save = NULL;
    size_t n = 0;
    for (char *item = strtok_r (copy, ", ", &save); item; item = strtok_r (NULL, ", ", &save))
        origins [n++] = hr_strdup (item);
    free (copy);
    return origins;
}

static void
s_free_origins (char **origins)
{
    if (origins)
        for (char **origin = origins; *origin; origin++)
            free (*origin);
    free (origins);
}

//  A listening socket on host:port with SO_REUSEPORT, so every worker can
//  have its own and the kernel spreads connections over them.
static int
s_listen (const char *host, int port, hr_buf_t *err)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *found = NULL;
    char service [16];
    snprintf (service, sizeof service, "%d", port);
    int rc = getaddrinfo (*host? host: NULL, service, &hints, &found);
    if (rc != 0) {
        hr_buf_printf (err, "cannot resolve %s: %s", host, gai_strerror (rc));
        return -1;
    }
    int fd = socket (found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0
    ||  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
    ||  setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0
    ||  bind (fd, found->ai_addr, found->ai_addrlen) != 0
    ||  listen (fd, 4096) != 0) {
        hr_buf_printf (err, "cannot listen on %s:%d: %s", host, port, strerror (errno));
        if (fd >= 0)
            close (fd);
        fd = -1;
    }
    freeaddrinfo (found);
    return fd;
}

static int
s_bound_port (int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname (fd, (struct sockaddr *) &addr, &len) != 0)
        return -1;
    return ntohs (addr.ss_family == AF_INET6
                  ? ((struct sockaddr_in6 *) &addr)->sin6_port
                  : ((struct sockaddr_in *) &addr)->sin_port);
}

hrg_gateway_t *
hrg_gateway_new (void *zmq_ctx, const hrg_config_t *config, hr_metrics_t *metrics,
                 hr_buf_t *err)
{
    char host [96];
    int port;
    if (hr_config_host_port (config->http, host, sizeof host, &port) != 0) {
        hr_buf_printf (err, "--http must be HOST:PORT, not '%s'", config->http);
        return NULL;
    }
    hr_cluster_t *cluster = NULL;
    if (*config->cluster && !(cluster = hr_cluster_load (config->cluster, err)))
        return NULL;
    hrg_auth_t *auth = hrg_auth_new (config, err);
    if (!auth) {
        hr_cluster_destroy (&cluster);
        return NULL;
    }
    hrg_gateway_t *self = hr_calloc (1, sizeof *self);
    self->config = config;
    self->auth = auth;
    self->worker_count = config->workers > 0? (int) config->workers
                                            : (int) sysconf (_SC_NPROCESSORS_ONLN);
    if (self->worker_count < 1)
        self->worker_count = 1;
    if (cluster)
        self->follow = hrg_follow_new (&cluster, self->worker_count);
    self->workers = hr_calloc ((size_t) self->worker_count, sizeof (hrg_worker_t *));
    self->cors = s_parse_cors (config->cors_origins);
    self->ws_origins = s_parse_cors (config->ws_origins);
    s_register_metrics (&self->ids, metrics);
    self->limit = hrg_limit_new (config, metrics);
    for (int i = 0; i < self->worker_count; i++) {
        int fd = s_listen (host, port, err);
        if (fd < 0) {
            hrg_gateway_destroy (&self);
            return NULL;
        }
        if (port == 0)
            port = s_bound_port (fd);       //  the other workers share it
        self->workers [i] = hrg_loop_new (i, zmq_ctx, config, metrics, &self->ids,
                                            (const char *const *) self->cors, self->follow,
                                            fd, err);
        if (!self->workers [i]) {
            hrg_gateway_destroy (&self);
            return NULL;
        }
        self->workers [i]->linked_workers = &self->linked_workers;
        self->workers [i]->ws_origins = (const char *const *) self->ws_origins;
        self->workers [i]->auth = self->auth;
        self->workers [i]->limit = self->limit;
        self->workers [i]->worker_count = self->worker_count;
    }
    snprintf (self->url, sizeof self->url, strchr (host, ':')? "http://[%s]:%d": "http://%s:%d",
              *host? host: "0.0.0.0", port);
    return self;
}

int
hrg_gateway_start (hrg_gateway_t *self)
{
    //  Counted one by one: if worker k cannot start, destroy still stops and
    //  joins 0..k-1 before it frees them
    while (self->started < self->worker_count) {
        hrg_worker_t *worker = self->workers [self->started];
        if (hrg_loop_thread_create (&worker->thread, NULL, hrg_loop_run, worker) != 0)
            return -1;
        self->started++;
    }
    return 0;
}

void
hrg_gateway_stop (hrg_gateway_t *self)
{
    for (int i = 0; i < self->started; i++)
        hrg_loop_stop (self->workers [i]);
    for (int i = 0; i < self->started; i++)
        pthread_join (self->workers [i]->thread, NULL);
    self->started = 0;
}

const char *
hrg_gateway_url (hrg_gateway_t *self)
{
    return self->url;
}

int
hrg_gateway_reload (hrg_gateway_t *self, hr_buf_t *err)
{
    return hrg_auth_reload (self->auth, err);
}

bool
hrg_gateway_open (hrg_gateway_t *self)
{
    return !hrg_auth_enabled (self->auth);
}

int
hrg_gateway_workers (hrg_gateway_t *self)
{
    return self->worker_count;
}

void
hrg_gateway_destroy (hrg_gateway_t **self_p)
{
    hrg_gateway_t *self = *self_p;
    if (!self)
        return;
    hrg_gateway_stop (self);
    for (int i = 0; i < self->worker_count; i++)
        hrg_loop_destroy (&self->workers [i]);
    free (self->workers);
    s_free_origins (self->cors);
    s_free_origins (self->ws_origins);
    hrg_auth_destroy (&self->auth);
    hrg_limit_destroy (&self->limit);   //  after the workers: they held addresses
    hrg_follow_destroy (&self->follow);
    free (self);
    *self_p = NULL;
}
