/*  hrg_http: the route table, the checks every request passes before any
    route sees it (framing, arguments, head size), and the small routes
    (health, metrics, demo page, JS client). Answers are hrg_respond's.  */
#include "hrg_http.h"
#include "hrg_admin.h"
#include "hrg_follow.h"
#include "hrg_history.h"
#include "hrg_limit.h"
#include "hrg_publish.h"
#include "hrg_respond.h"
#include "hrg_sse.h"
#include "hrg_ws.h"
#include "hr_channel.h"
#include "hr_cluster_status.h"
#include "hr_json.h"
#include "hr_log.h"
#include "hr_mhd.h"
#include "hr_status_page.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

//  The demo page and the JS client, embedded at build time from
//  gateway/demo.html and clients/js/herald.js (cmake/embed.cmake).
extern const unsigned char hrg_demo_page [];
extern const size_t hrg_demo_page_size;
extern const unsigned char hrg_client_js [];
extern const size_t hrg_client_js_size;
extern const char hrg_client_js_etag [];

static enum MHD_Result
s_preflight (hrg_worker_t *worker, struct MHD_Connection *mhd)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    hrg_respond_cors (worker, mhd, response);
    MHD_add_response_header (response, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    MHD_add_response_header (response, "Access-Control-Allow-Headers",
                             "Content-Type, Authorization, Last-Event-ID");
    MHD_add_response_header (response, "Access-Control-Max-Age", "600");
    enum MHD_Result ret = MHD_queue_response (mhd, MHD_HTTP_NO_CONTENT, response);
    MHD_destroy_response (response);
    return ret;
}

static enum MHD_Result
s_metrics (hrg_worker_t *worker, struct MHD_Connection *mhd)
{
    hr_buf_t body = HR_BUF_INIT;
    hr_metrics_render (worker->metrics, &body);
    enum MHD_Result ret = hrg_respond_queue (worker, mhd, MHD_HTTP_OK,
                                   "text/plain; version=0.0.4; charset=utf-8",
                                   body.data? body.data: "", body.size, NULL);
    hr_buf_free (&body);
    return ret;
}

typedef enum MHD_Result (s_handler_fn) (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                        const char *version, const char *upload_data,
                                        size_t *upload_data_size, void **con_cls);

static enum MHD_Result
s_sse (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
       const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return hrg_sse_handle (worker, mhd, version);
}

static enum MHD_Result
s_ws (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
      const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return hrg_ws_handle (worker, mhd);
}

static enum MHD_Result
s_publish (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
           const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return hrg_publish_handle (worker, mhd, upload_data, upload_data_size, con_cls);
}

static enum MHD_Result
s_admin_revoke (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
                const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return hrg_admin_revoke_handle (worker, mhd, upload_data, upload_data_size, con_cls);
}

static enum MHD_Result
s_history (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
           const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return hrg_history_handle (worker, mhd, con_cls);
}

static enum MHD_Result
s_health (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
          const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static const char ok [] = "{\"status\":\"ok\"}";
    return hrg_respond_json (worker, mhd, MHD_HTTP_OK, ok, sizeof ok - 1);
}

//  Ready once every worker is connected to the broker; with a cluster
//  file, to a majority of its brokers, and a view is known (the message
//  says which is missing).
static enum MHD_Result
s_ready (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
         const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static const char ready [] = "{\"status\":\"ready\"}";
    if (worker->follow) {
        hr_buf_t why = HR_BUF_INIT;
        enum MHD_Result ret = hrg_follow_ready (worker->follow, &why)
            ? hrg_respond_json (worker, mhd, MHD_HTTP_OK, ready, sizeof ready - 1)
            : hrg_respond_error (worker, mhd, HR_E_BROKER_UNAVAILABLE, why.data);
        hr_buf_free (&why);
        return ret;
    }
    if (!hrg_worker_ready (worker))
        return hrg_respond_error (worker, mhd, HR_E_BROKER_UNAVAILABLE,
                               "not connected to the broker yet");
    return hrg_respond_json (worker, mhd, MHD_HTTP_OK, ready, sizeof ready - 1);
}

//  GET /v1/cluster[?channel=X]: the view followed and the brokers every
//  worker reaches (docs/cluster.md, "Seeing the cluster"); without a
//  cluster file, the single-broker form.
static enum MHD_Result
s_cluster (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
           const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    const char *channel = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "channel");
    hr_cluster_status_t status = { .self = -1 };
    if (worker->follow)
        hrg_follow_status (worker->follow, &status);
    hr_buf_t body = HR_BUF_INIT;
    hr_cluster_status_json (worker->follow? hrg_follow_cluster (worker->follow): NULL,
                            &status, channel, &body);
    enum MHD_Result ret = hrg_respond_json (worker, mhd, MHD_HTTP_OK, body.data, body.size);
    hr_buf_free (&body);
    return ret;
}

static enum MHD_Result
s_metrics_route (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
                 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return s_metrics (worker, mhd);
}

//  The live status page (common/status.html): it reads /metrics and
//  /v1/cluster, which every gateway serves, so it is served whatever the
//  options, as they are.
static enum MHD_Result
s_status (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
          const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return hrg_respond_queue (worker, mhd, MHD_HTTP_OK, HR_STATUS_PAGE_TYPE,
                              hr_status_page, hr_status_page_size, NULL);
}

static enum MHD_Result
s_demo (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
        const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    if (!worker->config->demo)
        return hrg_respond_error (worker, mhd, HR_E_NOT_FOUND, NULL);
    return hrg_respond_queue (worker, mhd, MHD_HTTP_OK, "text/html; charset=utf-8",
                    hrg_demo_page, hrg_demo_page_size, NULL);
}

//  The JS client, served by every gateway (not only with --demo: pages
//  import it from here). Cached for an hour, then revalidated by ETag, so a
//  gateway upgrade reaches browsers within the hour.
static enum MHD_Result
s_client_js (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
             const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static const char *const headers [] = {
        "Cache-Control", "public, max-age=3600", "ETag", hrg_client_js_etag, NULL
    };
    const char *match = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (match && strstr (match, hrg_client_js_etag))
        return hrg_respond_queue_headers (worker, mhd, MHD_HTTP_NOT_MODIFIED, NULL,
                                          "", 0, headers);
    return hrg_respond_queue_headers (worker, mhd, MHD_HTTP_OK, "text/javascript; charset=utf-8",
                                      hrg_client_js, hrg_client_js_size, headers);
}

typedef struct {
    const char *path;
    const char *method;
    s_handler_fn *handler;
    const char *allow;
} s_route_t;

//  What hrg_http_check_request learns while looking at the head.
typedef struct {
    hrg_worker_t *worker;
    size_t head_bytes;          //  decoded request line and headers
    int content_lengths;
    bool chunked;               //  any Transfer-Encoding
    bool body;                  //  a body is declared
    hr_error_t error;
    const char *detail;
} s_check_t;

static enum MHD_Result
s_check_header (void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                const char *value, size_t value_size)
{
    s_check_t *check = cls;
    check->head_bytes += key_size + value_size + 4;
    if (strcasecmp (key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        check->content_lengths++;
        check->body |= !(value_size == 1 && value [0] == '0');
    }
    else
    if (strcasecmp (key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        check->chunked = check->body = true;
    return MHD_YES;
}

static enum MHD_Result
s_check_argument (void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                  const char *value, size_t value_size)
{
    s_check_t *check = cls;
    check->head_bytes += key_size + value_size + 2;
    if (check->error)
        return MHD_YES;
    //  Percent-decoding may have produced a NUL, which C strings would cut
    //  short: "channel=abc%00x" must not read as "abc"
    if (strcmp (key, "channel") == 0) {
        if (!value || !hr_channel_valid (value, value_size))
            check->error = HR_E_BAD_CHANNEL;
    }
    else
    if (strlen (key) != key_size || (value && strlen (value) != value_size)) {
        check->error = HR_E_BAD_REQUEST;
        check->detail = "a query argument holds a NUL byte";
    }
    return MHD_YES;
}

//  Refuses what no route may see: ambiguous framing (two Content-Lengths, or
//  one with Transfer-Encoding: a proxy in front may frame the body
//  differently), arguments with a NUL or channels outside the alphabet
//  after percent-decoding, and heads over the documented bound (¾ of
//  --conn-memory; libmicrohttpd needs the rest for its own bookkeeping).
static void
s_check_request (s_check_t *check, struct MHD_Connection *mhd, const char *url,
                 const char *method)
{
    MHD_get_connection_values_n (mhd, MHD_HEADER_KIND, s_check_header, check);
    MHD_get_connection_values_n (mhd, MHD_GET_ARGUMENT_KIND, s_check_argument, check);
    check->head_bytes += strlen (method) + strlen (url) + 14;
    if (check->content_lengths > 1 || (check->content_lengths && check->chunked)) {
        check->error = HR_E_BAD_REQUEST;
        check->detail = "ambiguous framing: several Content-Length headers, "
                        "or Content-Length with Transfer-Encoding";
    }
    else
    if (check->head_bytes > (size_t) check->worker->config->conn_memory / 4 * 3) {
        check->error = HR_E_HEADERS_TOO_LARGE;
        check->detail = NULL;
    }
}

static const s_route_t s_routes [] = {
    { "/v1/sse", MHD_HTTP_METHOD_GET, s_sse, "GET, OPTIONS" },
    { "/v1/ws", MHD_HTTP_METHOD_GET, s_ws, "GET" },
    { "/v1/publish", MHD_HTTP_METHOD_POST, s_publish, "POST, OPTIONS" },
    { "/v1/history", MHD_HTTP_METHOD_GET, s_history, "GET, OPTIONS" },
    { "/v1/admin/revoke", MHD_HTTP_METHOD_POST, s_admin_revoke, "POST, OPTIONS" },
    { "/healthz", MHD_HTTP_METHOD_GET, s_health, "GET" },
    { "/readyz", MHD_HTTP_METHOD_GET, s_ready, "GET" },
    { "/v1/cluster", MHD_HTTP_METHOD_GET, s_cluster, "GET" },
    { "/metrics", MHD_HTTP_METHOD_GET, s_metrics_route, "GET" },
    { "/status", MHD_HTTP_METHOD_GET, s_status, "GET" },
    { "/", MHD_HTTP_METHOD_GET, s_demo, "GET" },
    { "/herald.js", MHD_HTTP_METHOD_GET, s_client_js, "GET" },
};

static void
s_deferred_destroy (hrg_request_t *self)
{
}

//  con_cls of a request whose answer waits for libmicrohttpd's second call:
//  a response queued on the first call closes the connection.
static hrg_request_t s_deferred = { s_deferred_destroy };

enum MHD_Result
hrg_http_access (void *cls, struct MHD_Connection *mhd, const char *url,
                 const char *method, const char *version, const char *upload_data,
                 size_t *upload_data_size, void **con_cls)
{
    hrg_worker_t *worker = cls;
    const s_route_t *route = NULL;
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes [0] && !route; i++)
        if (strcmp (url, s_routes [i].path) == 0)
            route = &s_routes [i];
    if (!*con_cls) {
        hr_metrics_inc (worker->shard, worker->m->requests);
        if (hrg_limit_mhd_refused (mhd)) {
            //  Over --max-connections-per-ip when it opened: never counted,
            //  and closed once told, so it holds nothing for long
            static const char *const close [] = { "Connection", "close", NULL };
            return hrg_respond_error_headers (worker, mhd, HR_E_TOO_MANY_CONNECTIONS,
                                              NULL, close);
        }
        s_check_t check = { .worker = worker };
        s_check_request (&check, mhd, url, method);
        if (check.error)
            return hrg_respond_error (worker, mhd, check.error, check.detail);
        //  Keep-alive: a request without a body is answered on the next
        //  call. SSE takes its socket over at once; bodies are read first.
        if (!check.body && !(route && route->handler == s_sse
                             && strcmp (method, route->method) == 0)) {
            *con_cls = &s_deferred;
            return MHD_YES;
        }
    }
    else
    if (*con_cls == &s_deferred)
        *con_cls = NULL;
    if (strcmp (method, MHD_HTTP_METHOD_OPTIONS) == 0)
        return s_preflight (worker, mhd);
    if (!route)
        return hrg_respond_error (worker, mhd, HR_E_NOT_FOUND, NULL);
    if (strcmp (method, route->method) != 0)
        return hrg_respond_error_allow (worker, mhd, HR_E_METHOD_NOT_ALLOWED, NULL, route->allow);
    return route->handler (worker, mhd, version, upload_data, upload_data_size, con_cls);
}

enum MHD_Result
hrg_http_accept (void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    hrg_worker_t *worker = cls;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (worker->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    int64_t held = worker->conn_count + (info? (int64_t) info->num_connections: 0);
    if (held < worker->config->max_connections)
        return MHD_YES;
    hrg_worker_count_error (worker, HR_E_OVERLOADED, "connection limit: closed at accept");
    return MHD_NO;
}

void
hrg_http_notify_connection (void *cls, struct MHD_Connection *mhd, void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
    hrg_worker_t *worker = cls;
    bool started = code == MHD_CONNECTION_NOTIFY_STARTED;
    hr_metrics_add_to (worker->shard, worker->m->http_connections, started? 1: -1);
    //  Counted under its client address while libmicrohttpd holds it (a
    //  stream taking the socket over holds the address itself)
    if (started)
        hrg_limit_mhd_opened (worker->limit, mhd, socket_context);
    else
        hrg_limit_mhd_closed (worker->limit, socket_context);
}

//  A token in a query string (?token=...) is a credential: cut from a log
//  line whatever follows "token=" up to the next '&', space or quote.
static void
s_redact_tokens (char *line)
{
    for (char *at = strstr (line, "token="); at; at = strstr (at, "token=")) {
        at += 6;
        size_t len = strcspn (at, "& \"'");
        if (len > 3) {
            memcpy (at, "***", 3);
            memmove (at + 3, at + len, strlen (at + len) + 1);
        }
    }
}

void
hrg_http_mhd_log (void *cls, const char *format, va_list args)
{
    hrg_worker_t *worker = cls;
    char line [512];
    unsigned status = hr_mhd_log_line (line, sizeof line, format, args);
    s_redact_tokens (line);
    //  A request libmicrohttpd refused itself, with a page of its own: counted
    //  like our own errors (hr_mhd.h)
    if (status >= 400)
        hrg_worker_count_error (worker, hr_mhd_status_error (status), line);
    else
        hr_log_debug ("libmicrohttpd", "detail", line);
}

void
hrg_http_completed (void *cls, struct MHD_Connection *mhd, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
    hrg_request_t *request = *con_cls;
    if (request) {
        request->destroy (request);
        *con_cls = NULL;
    }
}
