/*  hrg_respond: the small HTTP answers every route shares: JSON error
    bodies with stable codes, JSON responses, CORS.  */
#ifndef HRG_RESPOND_H
#define HRG_RESPOND_H

#include "hrg_worker.h"

//  Per-request state a route keeps in libmicrohttpd's con_cls; destroy is
//  called when the request completes.
typedef struct _hrg_request_t hrg_request_t;
struct _hrg_request_t {
    void (*destroy) (hrg_request_t *self);
};

//  Queues {"error": code, "message": ...} with the code's status; detail
//  replaces the default message when given. Counts and logs the error.
enum MHD_Result hrg_respond_error (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                   hr_error_t error, const char *detail);

//  Queues body (copied) with status and, when given, a Content-Type and
//  an Allow header; CORS headers when the Origin is allowed.
enum MHD_Result hrg_respond_queue (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                   unsigned int status, const char *content_type,
                                   const void *body, size_t size, const char *allow);

//  hrg_respond_queue with more headers: headers is NULL or name, value,
//  name, value..., NULL (e.g. Cache-Control, ETag).
enum MHD_Result hrg_respond_queue_headers (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                           unsigned int status, const char *content_type,
                                           const void *body, size_t size,
                                           const char *const *headers);

//  hrg_respond_error with an Allow header (405).
enum MHD_Result hrg_respond_error_allow (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                         hr_error_t error, const char *detail,
                                         const char *allow);

//  hrg_respond_error with more headers: headers is NULL or name, value,
//  name, value..., NULL (e.g. Retry-After; "Connection: close" closes the
//  connection after the answer).
enum MHD_Result hrg_respond_error_headers (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                           hr_error_t error, const char *detail,
                                           const char *const *headers);

//  True when content_type is application/json, in any case, alone or with
//  parameters ("application/json; charset=utf-8"). NULL: false.
bool hrg_respond_is_json (const char *content_type);

//  A request body arriving in libmicrohttpd's calls: appends this call's
//  part to body, or past max bytes in all sets *too_large and keeps no
//  more. True when the call carried a part (answer MHD_YES and wait for
//  the next); false on the last call, when the body is whole.
bool hrg_respond_take_body (hr_buf_t *body, size_t max, bool *too_large,
                            const char *upload_data, size_t *upload_data_size);

//  Queues a JSON body (copied) with status.
enum MHD_Result hrg_respond_json (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                  unsigned int status, const char *json, size_t size);

//  True when origin is scheme://host[:port] and nothing else (at most 300
//  bytes, printable): the only Origin ever copied into a response head.
bool hrg_respond_origin_valid (const char *origin);

//  The request's Origin when it is valid and allowed cross-origin access,
//  else NULL. Borrowed from libmicrohttpd: valid until the request ends.
const char *hrg_respond_cors_origin (hrg_worker_t *worker, struct MHD_Connection *mhd);

//  True when origin is listed by name in --cors-origins: only such an
//  origin may send the user's cookies (a "*" entry lets every origin read,
//  never with credentials: any page could then read a user's events).
bool hrg_respond_cors_credentials (hrg_worker_t *worker, const char *origin);

//  Adds CORS headers to response: Vary: Origin whenever CORS is on, and
//  for an allowed Origin, Access-Control-Allow-Origin (the origin itself,
//  never "*") and, for one listed by name, Access-Control-Allow-Credentials.
void hrg_respond_cors (hrg_worker_t *worker, struct MHD_Connection *mhd,
                       struct MHD_Response *response);

//  The same headers as lines ("Name: value\r\n") appended to head, for a
//  response head the worker writes itself (SSE).
void hrg_respond_cors_head (hrg_worker_t *worker, struct MHD_Connection *mhd, hr_buf_t *head);

#endif
