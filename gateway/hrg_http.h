/*  hrg_http: routing and the small HTTP helpers every route shares:
    JSON error bodies with stable codes, JSON responses, CORS.  */
#ifndef HRG_HTTP_H
#define HRG_HTTP_H

#include "hrg_worker.h"

//  Per-request state a route keeps in libmicrohttpd's con_cls; destroy is
//  called when the request completes.
typedef struct _hrg_request_t hrg_request_t;
struct _hrg_request_t {
    void (*destroy) (hrg_request_t *self);
};

//  libmicrohttpd's access handler; cls is the worker.
enum MHD_Result hrg_http_access (void *cls, struct MHD_Connection *mhd, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls);

//  libmicrohttpd's accept policy; cls is the worker. Admits a connection
//  while the worker's SSE streams plus libmicrohttpd's connections are
//  under --max-connections; counts the others (overloaded) and closes them.
enum MHD_Result hrg_http_accept (void *cls, const struct sockaddr *addr, socklen_t addrlen);

//  libmicrohttpd's connection start and close; cls is the worker. Keeps
//  herald_http_connections (each such connection holds up to --conn-memory).
void hrg_http_notify_connection (void *cls, struct MHD_Connection *mhd, void **socket_context,
                                 enum MHD_ConnectionNotificationCode code);

//  libmicrohttpd's logger; cls is the worker. Counts the requests
//  libmicrohttpd refuses itself (herald_errors_total), logs the rest.
void hrg_http_mhd_log (void *cls, const char *format, va_list args);

//  libmicrohttpd's completion callback: frees the route's request state.
void hrg_http_completed (void *cls, struct MHD_Connection *mhd, void **con_cls,
                         enum MHD_RequestTerminationCode code);

//  Queues {"error": code, "message": ...} with the code's status; detail
//  replaces the default message when given. Counts and logs the error.
enum MHD_Result hrg_http_error (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                hr_error_t error, const char *detail);

//  Queues a JSON body (copied) with status.
enum MHD_Result hrg_http_json (hrg_worker_t *worker, struct MHD_Connection *mhd,
                               unsigned int status, const char *json, size_t size);

//  True when origin is scheme://host[:port] and nothing else (at most 300
//  bytes, printable): the only Origin ever copied into a response head.
bool hrg_http_origin_valid (const char *origin);

//  The request's Origin when it is valid and allowed cross-origin access,
//  else NULL. Borrowed from libmicrohttpd: valid until the request ends.
const char *hrg_http_cors_origin (hrg_worker_t *worker, struct MHD_Connection *mhd);

//  Adds CORS headers to response when the request's Origin is allowed.
void hrg_http_cors (hrg_worker_t *worker, struct MHD_Connection *mhd,
                    struct MHD_Response *response);

#endif
