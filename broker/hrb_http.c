/*  hrb_http: the broker's operations HTTP: the router (hrb_http_route, no
    I/O) and the libmicrohttpd glue around it.  */
#include "hrb_http.h"
#include "hr_channel.h"
#include "hr_config.h"
#include "hr_json.h"
#include "hr_log.h"
#include "hr_mhd.h"
#include "hr_status_page.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define S_JSON "application/json"
#define S_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

//  What the server can answer: the labels of herald_broker_http_errors_total
static const hr_error_t s_codes [] = {
    HR_E_BAD_REQUEST, HR_E_BAD_CHANNEL, HR_E_NOT_FOUND, HR_E_METHOD_NOT_ALLOWED,
    HR_E_HEADERS_TOO_LARGE, HR_E_OVERLOADED, HR_E_UNAVAILABLE, HR_E_INTERNAL
};
#define S_CODES (sizeof s_codes / sizeof s_codes [0])

struct _hrb_http_t {
    struct MHD_Daemon *daemon;
    hr_metrics_t *metrics;
    hr_metrics_shard_t *shard;      //  written by the HTTP thread only
    int m_requests, m_connections, m_errors;
    int connections;                //  open now; the HTTP thread's
    hrb_http_ready_fn *ready;
    hrb_http_cluster_fn *cluster;
    void *arg;
    char start_error [256];         //  libmicrohttpd's last line while starting
    atomic_bool started;            //  set once the daemon runs: then lines are logged
    char url [128];
};

// ---------------------------------------------------------------- routes

static void
s_json (hrb_http_answer_t *answer, const char *text)
{
    answer->status = MHD_HTTP_OK;
    answer->content_type = S_JSON;
    hr_buf_puts (&answer->body, text);
}

static void
s_error (hrb_http_answer_t *answer, hr_error_t error, const char *detail)
{
    answer->status = (unsigned int) hr_error_http_status (error);
    answer->content_type = S_JSON;
    answer->error = error;
    answer->detail = detail? detail: hr_error_message (error);
    hr_buf_reset (&answer->body);
    hr_json_error (&answer->body, error, detail);
}

typedef void (s_route_fn) (hrb_http_t *self, const hrb_http_request_t *request,
                           hrb_http_answer_t *answer);

//  The process answers: the broker loop failing ends the process
static void
s_health (hrb_http_t *self, const hrb_http_request_t *request, hrb_http_answer_t *answer)
{
    s_json (answer, "{\"status\":\"ok\"}");
}

static void
s_ready (hrb_http_t *self, const hrb_http_request_t *request, hrb_http_answer_t *answer)
{
    if (self->ready (self->arg))
        s_json (answer, "{\"status\":\"ready\"}");
    else
        s_error (answer, HR_E_UNAVAILABLE, "not ready: a single broker is ready once its loop "
                 "runs; in a cluster, once it is a member of the installed view and holds "
                 "its lease");
}

static void
s_metrics (hrb_http_t *self, const hrb_http_request_t *request, hrb_http_answer_t *answer)
{
    answer->status = MHD_HTTP_OK;
    answer->content_type = S_PROMETHEUS;
    hr_metrics_render (self->metrics, &answer->body);
}

//  The live status page (common/status.html), reading /metrics and /v1/cluster
static void
s_status (hrb_http_t *self, const hrb_http_request_t *request, hrb_http_answer_t *answer)
{
    answer->status = MHD_HTTP_OK;
    answer->content_type = HR_STATUS_PAGE_TYPE;
    hr_buf_put (&answer->body, hr_status_page, hr_status_page_size);
}

static void
s_cluster (hrb_http_t *self, const hrb_http_request_t *request, hrb_http_answer_t *answer)
{
    answer->status = MHD_HTTP_OK;
    answer->content_type = S_JSON;
    self->cluster (self->arg, request->channel, &answer->body);
}

static const struct {
    const char *path;
    s_route_fn *fn;
} s_routes [] = {
    { "/healthz", s_health },
    { "/readyz", s_ready },
    { "/metrics", s_metrics },
    { "/v1/cluster", s_cluster },
    { "/status", s_status },
};

void
hrb_http_route (hrb_http_t *self, const hrb_http_request_t *request,
                hrb_http_answer_t *answer)
{
    //  Arguments first, whatever the route (as the gateway checks them)
    if (request->bad_argument) {
        s_error (answer, HR_E_BAD_REQUEST, request->bad_argument);
        return;
    }
    if (request->channel && !hr_channel_valid (request->channel, request->channel_size)) {
        s_error (answer, HR_E_BAD_CHANNEL, NULL);
        return;
    }
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes [0]; i++)
        if (strcmp (request->path, s_routes [i].path) == 0) {
            if (strcmp (request->method, MHD_HTTP_METHOD_GET) != 0) {
                s_error (answer, HR_E_METHOD_NOT_ALLOWED, NULL);
                answer->allow = MHD_HTTP_METHOD_GET;
            }
            else
                s_routes [i].fn (self, request, answer);
            return;
        }
    s_error (answer, HR_E_NOT_FOUND, NULL);
}

// ---------------------------------------------------------------- libmicrohttpd

//  A query argument: channel (once), and no NUL byte in any (percent-decoding
//  may have made one, which C strings would cut short)
static enum MHD_Result
s_argument (void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
            const char *value, size_t value_size)
{
    hrb_http_request_t *request = cls;
    if (key_size == 7 && memcmp (key, "channel", 7) == 0) {
        if (request->channel)
            request->bad_argument = "channel given twice";
        //  ?channel alone is an empty name: bad_channel; a NUL in the
        //  value makes value_size differ, and bad_channel too
        request->channel = value? value: "";
        request->channel_size = value? value_size: 0;
    }
    else
    if (strlen (key) != key_size || (value && strlen (value) != value_size))
        request->bad_argument = "a query argument holds a NUL byte";
    return MHD_YES;
}

static enum MHD_Result
s_header (void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
          const char *value, size_t value_size)
{
    bool *body = cls;
    if (strcasecmp (key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        *body |= !(value_size == 1 && value [0] == '0');
    else
    if (strcasecmp (key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        *body = true;
    return MHD_YES;
}

static void
s_count_error (hrb_http_t *self, hr_error_t error, const char *detail)
{
    for (size_t i = 0; i < S_CODES; i++)
        if (s_codes [i] == error)
            hr_metrics_inc (self->shard, self->m_errors + (int) i);
    if (error == HR_E_INTERNAL || error == HR_E_OVERLOADED)
        hr_log_limited_warn ("broker http: request failed", "error", hr_error_code (error),
                             "detail", detail);
    else
        hr_log_limited_info ("broker http: request rejected", "error", hr_error_code (error),
                             "detail", detail);
}

//  Queues the answer (copied) and frees its body.
static enum MHD_Result
s_queue (hrb_http_t *self, struct MHD_Connection *mhd, hrb_http_answer_t *answer)
{
    if (answer->error)
        s_count_error (self, answer->error, answer->detail);
    struct MHD_Response *response = MHD_create_response_from_buffer (
        answer->body.size, answer->body.data? answer->body.data: "", MHD_RESPMEM_MUST_COPY);
    hr_buf_free (&answer->body);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, answer->content_type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (answer->allow)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, answer->allow);
    enum MHD_Result ret = MHD_queue_response (mhd, answer->status, response);
    MHD_destroy_response (response);
    return ret;
}

//  con_cls of a request answered on libmicrohttpd's second call: a response
//  queued on the first closes the connection (no keep-alive)
static char s_deferred;

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *mhd, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **con_cls)
{
    hrb_http_t *self = cls;
    hrb_http_request_t request = { .method = method, .path = url };
    hrb_http_answer_t answer = { 0 };
    if (!*con_cls) {
        hr_metrics_inc (self->shard, self->m_requests);
        bool body = false;
        MHD_get_connection_values_n (mhd, MHD_HEADER_KIND, s_header, &body);
        if (!body) {
            *con_cls = &s_deferred;
            return MHD_YES;
        }
        //  No route takes a body: answered at once, never read (the
        //  connection then closes)
        MHD_get_connection_values_n (mhd, MHD_GET_ARGUMENT_KIND, s_argument, &request);
        hrb_http_route (self, &request, &answer);
        if (!answer.error)
            s_error (&answer, HR_E_BAD_REQUEST, "no route here takes a request body");
        return s_queue (self, mhd, &answer);
    }
    *con_cls = NULL;
    MHD_get_connection_values_n (mhd, MHD_GET_ARGUMENT_KIND, s_argument, &request);
    hrb_http_route (self, &request, &answer);
    return s_queue (self, mhd, &answer);
}

//  Admits a connection while fewer than HRB_HTTP_MAX_CONNECTIONS are open;
//  counts the others (overloaded) and closes them.
static enum MHD_Result
s_accept (void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    hrb_http_t *self = cls;
    if (self->connections < HRB_HTTP_MAX_CONNECTIONS)
        return MHD_YES;
    s_count_error (self, HR_E_OVERLOADED, "connection limit: closed at accept");
    return MHD_NO;
}

static void
s_notify_connection (void *cls, struct MHD_Connection *mhd, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    hrb_http_t *self = cls;
    int delta = code == MHD_CONNECTION_NOTIFY_STARTED? 1: -1;
    self->connections += delta;
    hr_metrics_add_to (self->shard, self->m_connections, delta);
}

//  libmicrohttpd's own lines: a bind failure while starting (kept for the
//  start-up error), a request it refused itself (a head over the memory
//  bound, a malformed request: counted like ours), the rest at debug
static void
s_mhd_log (void *cls, const char *format, va_list args)
{
    hrb_http_t *self = cls;
    char line [256];
    unsigned status = hr_mhd_log_line (line, sizeof line, format, args);
    if (!atomic_load (&self->started))
        snprintf (self->start_error, sizeof self->start_error, "%s", line);
    else
    if (status >= 400)
        s_count_error (self, hr_mhd_status_error (status), line);
    else
        hr_log_debug ("broker http: libmicrohttpd", "detail", line);
}

// ---------------------------------------------------------------- the server

int
hrb_http_check (const char *address, bool insecure, hr_buf_t *err)
{
    char host [256];
    int port;
    if (hr_config_host_port (address, host, sizeof host, &port) != 0) {
        hr_buf_printf (err, "--http must be HOST:PORT, not '%s'", address);
        return -1;
    }
    if (!insecure && !hr_host_loopback (host)) {
        hr_buf_printf (err, "--http %s is not a loopback address: anyone who can reach it "
                       "could read the broker's metrics and the cluster's state.\n"
                       "Give a loopback address (127.0.0.1:PORT), or --insecure to serve "
                       "it on this address anyway (behind a firewall).", address);
        return -1;
    }
    return 0;
}

static void
s_register_metrics (hrb_http_t *self, hr_metrics_t *metrics)
{
    const char *labels [S_CODES];
    for (size_t i = 0; i < S_CODES; i++)
        labels [i] = hr_error_code (s_codes [i]);
    self->m_requests = hr_metrics_add (metrics, "herald_broker_http_requests_total",
        HR_METRIC_COUNTER, "Requests to the broker's --http (health, readiness, metrics, cluster).");
    self->m_connections = hr_metrics_add (metrics, "herald_broker_http_connections",
        HR_METRIC_GAUGE, "Connections the broker's --http holds (at most 64).");
    self->m_errors = hr_metrics_add_labeled (metrics, "herald_broker_http_errors_total",
        HR_METRIC_COUNTER, "Requests to the broker's --http answered with an error, by code.",
        "code", labels, (int) S_CODES);
    self->shard = hr_metrics_shard (metrics);
}

hrb_http_t *
hrb_http_new (const char *address, bool insecure, hr_metrics_t *metrics,
              hrb_http_ready_fn *ready, hrb_http_cluster_fn *cluster, void *arg,
              hr_buf_t *err)
{
    char host [256];
    int port;
    if (hrb_http_check (address, insecure, err) != 0
    ||  hr_config_host_port (address, host, sizeof host, &port) != 0)
        return NULL;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *found = NULL;
    char service [16];
    snprintf (service, sizeof service, "%d", port);
    int rc = getaddrinfo (*host? host: NULL, service, &hints, &found);
    if (rc != 0) {
        hr_buf_printf (err, "--http: cannot resolve %s: %s", host, gai_strerror (rc));
        return NULL;
    }
    hrb_http_t *self = hr_calloc (1, sizeof *self);
    self->metrics = metrics;
    self->ready = ready;
    self->cluster = cluster;
    self->arg = arg;
    s_register_metrics (self, metrics);
    bool v6 = found->ai_family == AF_INET6;
    self->daemon = MHD_start_daemon (
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (v6? MHD_USE_IPv6: 0),
        (uint16_t) port, s_accept, self, s_access, self,
        MHD_OPTION_SOCK_ADDR, found->ai_addr,
        //  One more than ours: s_accept refuses first, and counts it
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HRB_HTTP_MAX_CONNECTIONS + 1,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HRB_HTTP_CONN_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) HRB_HTTP_TIMEOUT_S,
        MHD_OPTION_NOTIFY_CONNECTION, s_notify_connection, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_END);
    freeaddrinfo (found);
    const union MHD_DaemonInfo *info = self->daemon
        ? MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT): NULL;
    if (!info) {
        hr_buf_printf (err, "--http: cannot listen on %s: %s", address,
                       *self->start_error? self->start_error: "libmicrohttpd failed to start");
        hrb_http_destroy (&self);
        return NULL;
    }
    atomic_store (&self->started, true);
    snprintf (self->url, sizeof self->url, strchr (host, ':')? "http://[%s]:%u": "http://%s:%u",
              *host? host: "0.0.0.0", (unsigned) info->port);
    return self;
}

const char *
hrb_http_url (hrb_http_t *self)
{
    return self->url;
}

void
hrb_http_destroy (hrb_http_t **self_p)
{
    hrb_http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self);
    *self_p = NULL;
}
