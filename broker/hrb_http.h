/*  hrb_http: the broker's operations HTTP (--http HOST:PORT).

    A small libmicrohttpd server in its own thread (libmicrohttpd's
    internal one) answering GET only:

        /healthz        200 {"status":"ok"} while the process serves
        /readyz         200 {"status":"ready"} when ready (arg) says so, else
                        503 {"error":"unavailable",...}
        /metrics        the process's hr_metrics in Prometheus text (the
                        gateway's renderer: every metric of the process)
        /v1/cluster     200, the JSON cluster (arg, channel, json) appends
                        (hr_cluster_status_json); ?channel=X passes X
        /status         the live status page (hr_status_page.h), HTML
                        reading the two above

    Errors are the gateway's JSON bodies (hr_json_error): 404 not_found,
    405 method_not_allowed (Allow: GET), 400 bad_channel or bad_request.
    It knows nothing of the broker or the cluster: what it asks is behind
    the two callbacks, which run on its thread (they must be thread-safe
    against the broker's). Bounded: HRB_HTTP_MAX_CONNECTIONS connections
    (more are closed at accept and counted overloaded), HRB_HTTP_CONN_MEMORY
    bytes each (request line and headers included), idle or slow ones
    closed after HRB_HTTP_TIMEOUT_S. Counted in herald_broker_http_*.  */
#ifndef HRB_HTTP_H
#define HRB_HTTP_H

#include "hr_buf.h"
#include "hr_error.h"
#include "hr_metrics.h"

#include <stdbool.h>
#include <stddef.h>

#define HRB_HTTP_MAX_CONNECTIONS 64
#define HRB_HTTP_CONN_MEMORY (32 * 1024)
#define HRB_HTTP_TIMEOUT_S 10

//  True when the broker is ready (/readyz 200). Called on the HTTP thread.
typedef bool (hrb_http_ready_fn) (void *arg);

//  Appends the /v1/cluster JSON to json; channel is NULL, or a valid
//  channel name (hr_channel_valid), NUL-terminated, borrowed for the call.
//  Called on the HTTP thread.
typedef void (hrb_http_cluster_fn) (void *arg, const char *channel, hr_buf_t *json);

typedef struct _hrb_http_t hrb_http_t;

//  Checks --http before anything starts: HOST:PORT, and a loopback host
//  (hr_host_loopback) unless insecure: the metrics and the cluster's state
//  are for operators, not for anyone who can reach the machine. Returns
//  -1 with what to do in err (the command then exits 2), 0 when fine.
int hrb_http_check (const char *address, bool insecure, hr_buf_t *err);

//  Binds address (HOST:PORT; port 0 = a free one) and starts serving.
//  metrics (borrowed) is rendered by /metrics; the server registers its
//  own series in it. ready and cluster are called with arg; all three must
//  outlive the server. Returns NULL with a reason in err (address refused
//  by hrb_http_check, cannot resolve or bind). Caller owns the server.
hrb_http_t *hrb_http_new (const char *address, bool insecure, hr_metrics_t *metrics,
                          hrb_http_ready_fn *ready, hrb_http_cluster_fn *cluster, void *arg,
                          hr_buf_t *err);

//  "http://HOST:PORT", the address actually bound (port 0 resolved).
//  Owned by the server.
const char *hrb_http_url (hrb_http_t *self);

//  A request as the router sees it; what libmicrohttpd gives, checked.
typedef struct {
    const char *method;
    const char *path;           //  without the query
    const char *channel;        //  ?channel= (NUL-terminated), or NULL
    size_t channel_size;        //  its bytes as decoded (a %00 makes it differ from strlen)
    const char *bad_argument;   //  NULL, or why the query is refused (static)
} hrb_http_request_t;

//  What the router answers. body is owned by the answer: hr_buf_free it.
typedef struct {
    unsigned int status;
    const char *content_type;   //  static
    const char *allow;          //  static; set on 405
    hr_error_t error;           //  HR_OK, or the error the body names
    const char *detail;         //  with an error: its message (static)
    hr_buf_t body;
} hrb_http_answer_t;

//  Routes one request: fills answer (zeroed by the caller). What the
//  server does for each request it reads; callable without a connection
//  (unit tests), from one thread at a time.
void hrb_http_route (hrb_http_t *self, const hrb_http_request_t *request,
                     hrb_http_answer_t *answer);

//  Stops the thread, closes every connection and frees the server.
void hrb_http_destroy (hrb_http_t **self_p);

#endif
