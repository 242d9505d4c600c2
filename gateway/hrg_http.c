/*  hrg_http: the route table, error bodies, CORS, and the small routes
    (health, metrics, demo page).  */
#include "hrg_http.h"
#include "hrg_history.h"
#include "hrg_publish.h"
#include "hrg_sse.h"
#include "hr_json.h"

#include <string.h>

//  The demo page, embedded at build time from gateway/demo.html.
extern const unsigned char hrg_demo_page [];
extern const size_t hrg_demo_page_size;

const char *
hrg_http_cors_origin (hrg_worker_t *worker, struct MHD_Connection *mhd)
{
    const char *origin = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND, "Origin");
    if (!origin || !worker->cors)
        return NULL;
    for (const char *const *allowed = worker->cors; *allowed; allowed++)
        if (strcmp (*allowed, "*") == 0 || strcmp (*allowed, origin) == 0)
            return origin;
    return NULL;
}

void
hrg_http_cors (hrg_worker_t *worker, struct MHD_Connection *mhd,
               struct MHD_Response *response)
{
    const char *origin = hrg_http_cors_origin (worker, mhd);
    if (origin) {
        MHD_add_response_header (response, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header (response, "Vary", "Origin");
    }
}

static enum MHD_Result
s_queue (hrg_worker_t *worker, struct MHD_Connection *mhd, unsigned int status,
         const char *content_type, const void *body, size_t size, const char *allow)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        size, (void *) body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    if (content_type)
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (allow)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, allow);
    hrg_http_cors (worker, mhd, response);
    enum MHD_Result ret = MHD_queue_response (mhd, status, response);
    MHD_destroy_response (response);
    return ret;
}

enum MHD_Result
hrg_http_json (hrg_worker_t *worker, struct MHD_Connection *mhd, unsigned int status,
               const char *json, size_t size)
{
    return s_queue (worker, mhd, status, "application/json", json, size, NULL);
}

static enum MHD_Result
s_error (hrg_worker_t *worker, struct MHD_Connection *mhd, hr_error_t error,
         const char *detail, const char *allow)
{
    const char *message = detail? detail: hr_error_message (error);
    hrg_worker_count_error (worker, error, message);
    hr_buf_t body = HR_BUF_INIT;
    hr_buf_puts (&body, "{\"error\":\"");
    hr_buf_puts (&body, hr_error_code (error));
    hr_buf_puts (&body, "\",\"message\":");
    hr_json_string (&body, message, strlen (message));
    hr_buf_puts (&body, "}");
    enum MHD_Result ret = s_queue (worker, mhd, (unsigned) hr_error_http_status (error),
                                   "application/json", body.data, body.size, allow);
    hr_buf_free (&body);
    return ret;
}

enum MHD_Result
hrg_http_error (hrg_worker_t *worker, struct MHD_Connection *mhd, hr_error_t error,
                const char *detail)
{
    return s_error (worker, mhd, error, detail, NULL);
}

static enum MHD_Result
s_preflight (hrg_worker_t *worker, struct MHD_Connection *mhd)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    hrg_http_cors (worker, mhd, response);
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
    enum MHD_Result ret = s_queue (worker, mhd, MHD_HTTP_OK,
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
s_publish (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
           const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return hrg_publish_handle (worker, mhd, upload_data, upload_data_size, con_cls);
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
    return hrg_http_json (worker, mhd, MHD_HTTP_OK, ok, sizeof ok - 1);
}

//  Ready once every worker is connected to the broker.
static enum MHD_Result
s_ready (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
         const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static const char ready [] = "{\"status\":\"ready\"}";
    if (!hrg_worker_ready (worker))
        return hrg_http_error (worker, mhd, HR_E_BROKER_UNAVAILABLE,
                               "not connected to the broker yet");
    return hrg_http_json (worker, mhd, MHD_HTTP_OK, ready, sizeof ready - 1);
}

static enum MHD_Result
s_metrics_route (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
                 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    return s_metrics (worker, mhd);
}

static enum MHD_Result
s_demo (hrg_worker_t *worker, struct MHD_Connection *mhd, const char *version,
        const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    if (!worker->config->demo)
        return hrg_http_error (worker, mhd, HR_E_NOT_FOUND, NULL);
    return s_queue (worker, mhd, MHD_HTTP_OK, "text/html; charset=utf-8",
                    hrg_demo_page, hrg_demo_page_size, NULL);
}

typedef struct {
    const char *path;
    const char *method;
    s_handler_fn *handler;
    const char *allow;
} s_route_t;

static const s_route_t s_routes [] = {
    { "/v1/sse", MHD_HTTP_METHOD_GET, s_sse, "GET, OPTIONS" },
    { "/v1/publish", MHD_HTTP_METHOD_POST, s_publish, "POST, OPTIONS" },
    { "/v1/history", MHD_HTTP_METHOD_GET, s_history, "GET, OPTIONS" },
    { "/healthz", MHD_HTTP_METHOD_GET, s_health, "GET" },
    { "/readyz", MHD_HTTP_METHOD_GET, s_ready, "GET" },
    { "/metrics", MHD_HTTP_METHOD_GET, s_metrics_route, "GET" },
    { "/", MHD_HTTP_METHOD_GET, s_demo, "GET" },
};

enum MHD_Result
hrg_http_access (void *cls, struct MHD_Connection *mhd, const char *url,
                 const char *method, const char *version, const char *upload_data,
                 size_t *upload_data_size, void **con_cls)
{
    hrg_worker_t *worker = cls;
    if (!*con_cls)
        hr_metrics_inc (worker->shard, worker->m->requests);
    if (strcmp (method, MHD_HTTP_METHOD_OPTIONS) == 0)
        return s_preflight (worker, mhd);
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes [0]; i++) {
        const s_route_t *route = &s_routes [i];
        if (strcmp (url, route->path) != 0)
            continue;
        if (strcmp (method, route->method) != 0)
            return s_error (worker, mhd, HR_E_METHOD_NOT_ALLOWED, NULL, route->allow);
        return route->handler (worker, mhd, version, upload_data, upload_data_size, con_cls);
    }
    return hrg_http_error (worker, mhd, HR_E_NOT_FOUND, NULL);
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
