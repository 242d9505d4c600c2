/*  hrg_admin: POST /v1/admin/revoke (docs/protocol.md §8, docs/security.md).

    The body names one subject or token id and, optionally, until when.
    The request needs a token whose claims say admin; it is forwarded to
    the broker as a revoke request and the connection is suspended until
    the broker answers (or --broker-timeout passes). The broker then sends
    the entry to every gateway, this one included, on its stream.  */
#include "hrg_admin.h"
#include "hrg_auth.h"
#include "hrg_links.h"
#include "hr_json.h"
#include "hr_log.h"
#include "hr_time.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

//  {"sub": 256 bytes escaped six times over, "until": ...} fits easily.
#define S_MAX_BODY 4096

typedef struct {
    hrg_request_t base;
    hrg_worker_t *worker;
    struct MHD_Connection *mhd;
    hr_buf_t body;
    bool too_large;
    uint64_t rid;               //  the revoke request with the broker, 0: none
    bool done;
    bool answered;              //  false: no reply within --broker-timeout
    hr_error_t error;
    char message [160];         //  the broker's, for an error
    hr_revoke_kind_t kind;
    int64_t until;
} s_admin_t;

static void
s_destroy (hrg_request_t *base)
{
    s_admin_t *self = (s_admin_t *) base;
    if (self->rid && !self->done)
        hrg_links_cancel (self->worker, self->rid);
    hr_buf_free (&self->body);
    free (self);
}

static void
s_on_reply (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames,
            size_t count)
{
    s_admin_t *self = arg;
    self->done = true;
    self->answered = reply != NULL;
    if (reply) {
        self->error = reply->error;
        if (reply->error == HR_OK && !reply->revoked)
            self->error = HR_E_INTERNAL;        //  a reply to something else
        snprintf (self->message, sizeof self->message, "%.*s",
                  (int) reply->message_len, reply->message? reply->message: "");
        self->until = reply->until;
    }
    MHD_resume_connection (self->mhd);
}

//  Reads {"sub"|"jti": value, "until"?: unix s} into kind, value, until.
//  json is borrowed by value: keep it until the request is sent.
static hr_error_t
s_parse (s_admin_t *self, json_t **json, const char **value, size_t *len,
         const char **detail)
{
    json_error_t jerr;
    *json = json_loadb (self->body.data? self->body.data: "", self->body.size,
                        JSON_REJECT_DUPLICATES, &jerr);
    if (!*json || !json_is_object (*json)) {
        *detail = "the body must be a JSON object: {\"sub\": S} or {\"jti\": J}, "
                  "and \"until\" (Unix seconds) if not the longest token lifetime";
        return HR_E_BAD_JSON;
    }
    json_t *sub = json_object_get (*json, "sub");
    json_t *jti = json_object_get (*json, "jti");
    json_t *until = json_object_get (*json, "until");
    if (json_object_size (*json) != 1u + (until != NULL) || (!sub) == (!jti)) {
        *detail = "give exactly one of \"sub\" and \"jti\", and optionally \"until\"";
        return HR_E_BAD_FIELD;
    }
    json_t *target = sub? sub: jti;
    if (!json_is_string (target) || json_string_length (target) == 0
    ||  json_string_length (target) > HR_REVOKE_VALUE_MAX) {
        *detail = "the subject or token id must be a string of 1 to 256 bytes";
        return HR_E_BAD_FIELD;
    }
    if (until && (!json_is_integer (until) || json_integer_value (until) <= 0)) {
        *detail = "until must be a time in Unix seconds";
        return HR_E_BAD_FIELD;
    }
    self->kind = sub? HR_REVOKE_SUB: HR_REVOKE_JTI;
    *value = json_string_value (target);
    *len = json_string_length (target);
    //  Default: as long as the longest token this gateway accepts can live
    self->until = until? (int64_t) json_integer_value (until)
                       : (int64_t) (hr_wall_ms () / 1000)
                         + self->worker->config->token_max_ttl / 1000;
    return HR_OK;
}

//  Checks who asks and what, then sends the request to the broker.
static enum MHD_Result
s_start (s_admin_t *self)
{
    hrg_worker_t *worker = self->worker;
    struct MHD_Connection *mhd = self->mhd;
    if (!hrg_auth_enabled (worker->auth))
        return hrg_respond_error (worker, mhd, HR_E_FORBIDDEN, "revocation needs --token-keys");
    hr_claims_t *claims = NULL;
    const char *why = NULL;
    hr_error_t rc = hrg_auth_request (worker->auth, mhd, &claims, &why);
    if (rc)
        return hrg_respond_error (worker, mhd, rc, why);
    bool admin = claims->admin;
    char by [HR_TOKEN_SUB_MAX + 1];
    snprintf (by, sizeof by, "%.*s", (int) claims->sub_len, claims->sub);
    hr_claims_destroy (&claims);
    if (!admin)
        return hrg_respond_error (worker, mhd, HR_E_FORBIDDEN,
                                  "revoking needs a token with \"herald\": {\"admin\": true}");
    const char *type = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!hrg_respond_is_json (type))
        return hrg_respond_error (worker, mhd, HR_E_UNSUPPORTED_MEDIA_TYPE,
                                  "the body must be sent as Content-Type: application/json");
    if (self->too_large)
        return hrg_respond_error (worker, mhd, HR_E_BODY_TOO_LARGE, NULL);
    json_t *json = NULL;
    const char *value = NULL, *detail = NULL;
    size_t len = 0;
    rc = s_parse (self, &json, &value, &len, &detail);
    if (rc == HR_OK)
        self->rid = hrg_link_revoke (hrg_links_any (worker), self->kind, value, len,
                                     self->until, s_on_reply, self);
    json_decref (json);
    if (rc)
        return hrg_respond_error (worker, mhd, rc, detail);
    if (!self->rid)
        return hrg_respond_error (worker, mhd, HR_E_BROKER_UNAVAILABLE, "no broker connected");
    hr_log_limited_info ("revocation requested", "kind", hr_revoke_kind_name (self->kind),
                         "by", by);
    MHD_suspend_connection (mhd);
    return MHD_YES;
}

//  The broker answered (or did not in time).
static enum MHD_Result
s_respond (s_admin_t *self)
{
    if (!self->answered)
        return hrg_respond_error (self->worker, self->mhd, HR_E_BROKER_UNAVAILABLE,
                                  "the broker did not answer within --broker-timeout");
    if (self->error)
        return hrg_respond_error (self->worker, self->mhd, self->error,
                                  *self->message? self->message: NULL);
    hr_buf_t body = HR_BUF_INIT;
    hr_buf_puts (&body, "{\"revoked\":\"");
    hr_buf_puts (&body, hr_revoke_kind_name (self->kind));
    hr_buf_puts (&body, "\",\"until\":");
    hr_buf_put_u64 (&body, (uint64_t) self->until);
    hr_buf_putc (&body, '}');
    enum MHD_Result ret = hrg_respond_json (self->worker, self->mhd, MHD_HTTP_OK,
                                            body.data, body.size);
    hr_buf_free (&body);
    return ret;
}

enum MHD_Result
hrg_admin_revoke_handle (hrg_worker_t *worker, struct MHD_Connection *mhd,
                         const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    s_admin_t *self = *con_cls;
    if (!self) {
        self = hr_calloc (1, sizeof *self);
        self->base.destroy = s_destroy;
        self->worker = worker;
        self->mhd = mhd;
        *con_cls = self;
        return MHD_YES;
    }
    if (hrg_respond_take_body (&self->body, S_MAX_BODY, &self->too_large,
                               upload_data, upload_data_size))
        return MHD_YES;
    if (self->done)
        return s_respond (self);
    return s_start (self);
}
