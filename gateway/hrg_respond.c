/*  hrg_respond: the small HTTP answers every route shares: JSON error
    bodies with stable codes, JSON responses, CORS.  */
#include "hrg_respond.h"
#include "hr_json.h"
#include "hr_log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

//  The longest Origin reflected: scheme, a DNS name of 253, a port.
#define S_ORIGIN_MAX 300

static bool
s_alpha (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
s_digit (char c)
{
    return c >= '0' && c <= '9';
}

bool
hrg_respond_origin_valid (const char *origin)
{
    if (!origin || strnlen (origin, S_ORIGIN_MAX + 1) > S_ORIGIN_MAX || !s_alpha (*origin))
        return false;
    const char *p = origin;
    while (s_alpha (*p) || s_digit (*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp (p, "://", 3) != 0)
        return false;
    p += 3;
    const char *host = p;
    if (*p == '[') {                    //  an IPv6 literal
        while (s_digit (*++p) || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')
           ||  *p == ':' || *p == '.')
            ;
        if (*p++ != ']' || p - host < 3)
            return false;
    }
    else {
        while (s_alpha (*p) || s_digit (*p) || *p == '-' || *p == '.')
            p++;
        if (p == host)
            return false;
    }
    if (*p == ':') {
        unsigned port = 0, digits = 0;
        while (s_digit (*++p) && digits++ < 5)
            port = port * 10 + (unsigned) (*p - '0');
        if (digits == 0 || digits > 5 || port > 65535)
            return false;
    }
    return *p == 0;
}

const char *
hrg_respond_cors_origin (hrg_worker_t *worker, struct MHD_Connection *mhd)
{
    const char *origin = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND, "Origin");
    //  Reflected into response heads: only a well-formed origin, never raw bytes
    if (!origin || !worker->cors || !hrg_respond_origin_valid (origin))
        return NULL;
    for (const char *const *allowed = worker->cors; *allowed; allowed++)
        if (strcmp (*allowed, "*") == 0 || strcmp (*allowed, origin) == 0)
            return origin;
    return NULL;
}

bool
hrg_respond_cors_credentials (hrg_worker_t *worker, const char *origin)
{
    if (!origin || !worker->cors)
        return false;
    for (const char *const *allowed = worker->cors; *allowed; allowed++)
        if (strcmp (*allowed, origin) == 0)
            return true;
    return false;
}

void
hrg_respond_cors (hrg_worker_t *worker, struct MHD_Connection *mhd,
               struct MHD_Response *response)
{
    //  With CORS on, every response depends on Origin (allowed or not): a
    //  shared cache must not give one origin's answer to another
    if (worker->cors)
        MHD_add_response_header (response, "Vary", "Origin");
    const char *origin = hrg_respond_cors_origin (worker, mhd);
    if (origin)
        MHD_add_response_header (response, "Access-Control-Allow-Origin", origin);
    if (hrg_respond_cors_credentials (worker, origin))
        MHD_add_response_header (response, "Access-Control-Allow-Credentials", "true");
}

void
hrg_respond_cors_head (hrg_worker_t *worker, struct MHD_Connection *mhd, hr_buf_t *head)
{
    if (worker->cors)
        hr_buf_puts (head, "Vary: Origin\r\n");
    const char *origin = hrg_respond_cors_origin (worker, mhd);
    if (origin)
        hr_buf_printf (head, "Access-Control-Allow-Origin: %s\r\n", origin);
    if (hrg_respond_cors_credentials (worker, origin))
        hr_buf_puts (head, "Access-Control-Allow-Credentials: true\r\n");
}

bool
hrg_respond_is_json (const char *content_type)
{
    static const char json [] = "application/json";
    if (!content_type)
        return false;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    if (strncasecmp (content_type, json, sizeof json - 1) != 0)
        return false;
    const char *rest = content_type + sizeof json - 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == 0 || *rest == ';';
}

//  hrg_respond_queue with headers: NULL, or name, value, ..., NULL.
static enum MHD_Result
s_queue (hrg_worker_t *worker, struct MHD_Connection *mhd, unsigned int status,
         const char *content_type, const void *body, size_t size, const char *allow,
         const char *const *headers)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        size, (void *) body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    if (content_type)
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (allow)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, allow);
    for (const char *const *header = headers; header && *header; header += 2)
        MHD_add_response_header (response, header [0], header [1]);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                 "Bearer realm=\"herald\"");
    hrg_respond_cors (worker, mhd, response);
    enum MHD_Result ret = MHD_queue_response (mhd, status, response);
    MHD_destroy_response (response);
    return ret;
}

enum MHD_Result
hrg_respond_queue (hrg_worker_t *worker, struct MHD_Connection *mhd, unsigned int status,
                   const char *content_type, const void *body, size_t size,
                   const char *allow)
{
    return s_queue (worker, mhd, status, content_type, body, size, allow, NULL);
}

enum MHD_Result
hrg_respond_queue_headers (hrg_worker_t *worker, struct MHD_Connection *mhd,
                           unsigned int status, const char *content_type,
                           const void *body, size_t size, const char *const *headers)
{
    return s_queue (worker, mhd, status, content_type, body, size, NULL, headers);
}

bool
hrg_respond_take_body (hr_buf_t *body, size_t max, bool *too_large,
                       const char *upload_data, size_t *upload_data_size)
{
    if (!*upload_data_size)
        return false;
    if (body->size + *upload_data_size > max)
        *too_large = true;
    else
        hr_buf_put (body, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return true;
}

enum MHD_Result
hrg_respond_json (hrg_worker_t *worker, struct MHD_Connection *mhd, unsigned int status,
                  const char *json, size_t size)
{
    return hrg_respond_queue (worker, mhd, status, "application/json", json, size, NULL);
}

static enum MHD_Result
s_error (hrg_worker_t *worker, struct MHD_Connection *mhd, hr_error_t error,
         const char *detail, const char *allow, const char *const *headers)
{
    const char *message = detail? detail: hr_error_message (error);
    hrg_worker_count_error (worker, error, message);
    hr_buf_t body = HR_BUF_INIT;
    hr_json_error (&body, error, message);
    enum MHD_Result ret = s_queue (worker, mhd, (unsigned) hr_error_http_status (error),
                                   "application/json", body.data, body.size, allow, headers);
    hr_buf_free (&body);
    return ret;
}

enum MHD_Result
hrg_respond_error_allow (hrg_worker_t *worker, struct MHD_Connection *mhd, hr_error_t error,
                         const char *detail, const char *allow)
{
    return s_error (worker, mhd, error, detail, allow, NULL);
}

enum MHD_Result
hrg_respond_error_headers (hrg_worker_t *worker, struct MHD_Connection *mhd,
                           hr_error_t error, const char *detail, const char *const *headers)
{
    return s_error (worker, mhd, error, detail, NULL, headers);
}

enum MHD_Result
hrg_respond_error (hrg_worker_t *worker, struct MHD_Connection *mhd, hr_error_t error,
                   const char *detail)
{
    return hrg_respond_error_allow (worker, mhd, error, detail, NULL);
}

