/*  hrg_publish: POST /v1/publish. The body (one event or an array) is read
    whole, then every event is validated and encoded (fields, depth, frame
    size) before any is sent, so a request the broker would refuse publishes
    nothing. The events are then sent as acknowledged publishes and the
    connection is suspended until the broker has answered every one; an
    array the broker fails in part is answered 207, event by event.  */
#include "hrg_publish.h"
#include "hrg_auth.h"
#include "hrg_limit.h"
#include "hrg_respond.h"
#include "hrg_links.h"
#include "hr_channel.h"
#include "hr_json.h"
#include "hr_proto.h"

#include <stdlib.h>
#include <string.h>

#define S_MAX_EVENTS 100

typedef struct {
    uint64_t rid;
    bool done;
    bool answered;              //  false: timed out or no broker
    hr_error_t error;
    uint64_t seq;
    bool dup;
    char epoch [HR_EPOCH_MAX + 1];
    char message [128];         //  the broker's, for an error: says which limit
} s_result_t;

typedef struct {
    hrg_request_t base;
    hrg_worker_t *worker;
    struct MHD_Connection *mhd;
    hr_buf_t body;
    bool too_large;
    bool sent;                  //  publishes are with the broker
    hr_claims_t *claims;        //  the request's token's, owned; NULL without one
    json_t *root;
    json_t *events [S_MAX_EVENTS];
    hr_buf_t packed [S_MAX_EVENTS];     //  each event's data as MessagePack
    size_t count;
    size_t pending;
    s_result_t results [S_MAX_EVENTS];
} s_publish_t;

static void
s_destroy (hrg_request_t *base)
{
    s_publish_t *self = (s_publish_t *) base;
    for (size_t i = 0; i < self->count; i++)
        if (self->results [i].rid && !self->results [i].done)
            hrg_links_cancel (self->worker, self->results [i].rid);
    for (size_t i = 0; i < self->count; i++)
        hr_buf_free (&self->packed [i]);
    json_decref (self->root);
    hr_buf_free (&self->body);
    hr_claims_destroy (&self->claims);
    free (self);
}

//  Checks one event object; on failure leaves a message in detail.
static hr_error_t
s_validate (json_t *event, const char **detail)
{
    if (!json_is_object (event)) {
        *detail = "each event must be a JSON object";
        return HR_E_BAD_JSON;
    }
    const char *key;
    json_t *value;
    json_object_foreach (event, key, value) {
        if (strcmp (key, "channel") && strcmp (key, "data") && strcmp (key, "type")
        &&  strcmp (key, "id")) {
            *detail = "unknown field (allowed: channel, data, type, id)";
            return HR_E_BAD_FIELD;
        }
    }
    json_t *channel = json_object_get (event, "channel");
    if (!json_is_string (channel)
    ||  !hr_channel_valid (json_string_value (channel), json_string_length (channel))) {
        *detail = NULL;
        return HR_E_BAD_CHANNEL;
    }
    if (!json_object_get (event, "data")) {
        *detail = "field 'data' is required";
        return HR_E_BAD_FIELD;
    }
    json_t *type = json_object_get (event, "type");
    if (type && (!json_is_string (type)
              || !hr_token_valid (json_string_value (type), json_string_length (type), HR_TYPE_MAX))) {
        *detail = "type must be 1-64 bytes of [A-Za-z0-9_.:@/-]";
        return HR_E_BAD_FIELD;
    }
    json_t *id = json_object_get (event, "id");
    if (id && (!json_is_string (id)
            || !hr_id_valid (json_string_value (id), json_string_length (id)))) {
        *detail = "id must be 1-128 bytes of printable ASCII";
        return HR_E_BAD_FIELD;
    }
    return HR_OK;
}

//  The event as the broker will see it; its data must be packed.
static hr_event_t
s_event (s_publish_t *self, size_t i)
{
    json_t *event = self->events [i];
    json_t *channel = json_object_get (event, "channel");
    json_t *type = json_object_get (event, "type");
    json_t *id = json_object_get (event, "id");
    return (hr_event_t) {
        .ch = json_string_value (channel), .ch_len = json_string_length (channel),
        .type = type? json_string_value (type): NULL,
        .type_len = type? json_string_length (type): 0,
        .id = id? json_string_value (id): NULL, .id_len = id? json_string_length (id): 0,
        .data = (const uint8_t *) self->packed [i].data, .data_len = self->packed [i].size,
    };
}

//  Packs event i's data and checks the publish frame against the broker's
//  --max-event, so the client hears 413 at once rather than the broker's
//  refusal later. The frame is measured with the largest rid the link can
//  add, so a frame that passes here passes the broker.
static hr_error_t
s_encode (s_publish_t *self, size_t i, const char **detail)
{
    hr_buf_t *packed = &self->packed [i];
    if (hr_json_to_mpack (packed, json_object_get (self->events [i], "data")) != HR_OK) {
        *detail = "data nests deeper than 32 levels";
        return HR_E_TOO_DEEP;
    }
    hr_event_t ev = s_event (self, i);
    hr_buf_t frame = HR_BUF_INIT;
    uint64_t rid = UINT64_MAX;
    hr_request_encode_publish (&frame, &rid, &ev);
    size_t size = frame.size;
    hr_buf_free (&frame);
    if (size > (size_t) self->worker->config->max_event) {
        *detail = "the event's publish frame is over the broker's --max-event";
        return HR_E_FRAME_TOO_LARGE;
    }
    return HR_OK;
}

//  Parses, validates and encodes the whole body into self->events.
static hr_error_t
s_parse (s_publish_t *self, char *detail, size_t detail_size)
{
    json_error_t jerr;
    self->root = json_loadb (self->body.data? self->body.data: "", self->body.size,
                             JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!self->root) {
        snprintf (detail, detail_size, "invalid JSON: %s (line %d, column %d)",
                  jerr.text, jerr.line, jerr.column);
        return HR_E_BAD_JSON;
    }
    if (json_is_array (self->root)) {
        size_t count = json_array_size (self->root);
        if (count == 0 || count > S_MAX_EVENTS) {
            snprintf (detail, detail_size, "an array must hold 1 to %d events", S_MAX_EVENTS);
            return HR_E_BAD_JSON;
        }
        for (size_t i = 0; i < count; i++)
            self->events [self->count++] = json_array_get (self->root, i);
    }
    else
        self->events [self->count++] = self->root;
    for (size_t i = 0; i < self->count; i++) {
        const char *why = NULL;
        hr_error_t rc = s_validate (self->events [i], &why);
        if (!rc)
            rc = s_encode (self, i, &why);
        if (rc) {
            snprintf (detail, detail_size, "event %zu: %s", i,
                      why? why: hr_error_message (rc));
            return rc;
        }
    }
    return HR_OK;
}

static void
s_on_reply (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames,
            size_t count)
{
    s_publish_t *self = arg;
    for (size_t i = 0; i < self->count; i++) {
        s_result_t *result = &self->results [i];
        if (result->rid != rid)
            continue;
        result->done = true;
        result->answered = reply != NULL;
        if (reply) {
            result->error = reply->error;
            result->seq = reply->seq;
            result->dup = reply->dup;
            size_t len = reply->epoch_len < HR_EPOCH_MAX? reply->epoch_len: HR_EPOCH_MAX;
            memcpy (result->epoch, reply->epoch? reply->epoch: "", len);
            result->epoch [len] = 0;
            snprintf (result->message, sizeof result->message, "%.*s",
                      (int) reply->message_len, reply->message? reply->message: "");
        }
        if (--self->pending == 0)
            MHD_resume_connection (self->mhd);
        return;
    }
}

//  Sends every event; false (nothing sent) when no broker is there. When the
//  link refuses a later event, those before it are with the broker already:
//  they are awaited, and the refused ones are answered as not published.
static bool
s_send (s_publish_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        hr_event_t ev = s_event (self, i);
        self->results [i].rid = hrg_link_publish (hrg_links_pick (self->worker, ev.ch, ev.ch_len),
                                                  &ev, s_on_reply, self);
        if (!self->results [i].rid) {
            if (i == 0)
                return false;
            for (size_t j = i; j < self->count; j++)
                self->results [j] = (s_result_t) {
                    .done = true, .answered = true, .error = HR_E_BROKER_UNAVAILABLE };
            return true;
        }
        self->pending++;
    }
    return true;
}

static void
s_render_result (hr_buf_t *out, json_t *event, const s_result_t *result)
{
    json_t *channel = json_object_get (event, "channel");
    hr_buf_puts (out, "{\"channel\":");
    hr_json_string (out, json_string_value (channel), json_string_length (channel));
    if (!result->answered || result->error) {
        hr_error_t error = result->answered? result->error: HR_E_BROKER_UNAVAILABLE;
        const char *message = *result->message? result->message: hr_error_message (error);
        hr_buf_puts (out, ",\"error\":\"");
        hr_buf_puts (out, hr_error_code (error));
        hr_buf_puts (out, "\",\"message\":");
        hr_json_string (out, message, strlen (message));
        hr_buf_putc (out, '}');
        return;
    }
    hr_buf_puts (out, ",\"seq\":");
    hr_buf_put_u64 (out, result->seq);
    hr_buf_puts (out, ",\"epoch\":");
    hr_json_string (out, result->epoch, strlen (result->epoch));
    hr_buf_puts (out, result->dup? ",\"duplicate\":true}": ",\"duplicate\":false}");
}

static hr_error_t
s_failure (const s_result_t *result)
{
    return result->answered? result->error: HR_E_BROKER_UNAVAILABLE;
}

//  Every publish is answered (or timed out): send the response. One event:
//  its result or its error. An array: 200 when every event was published,
//  else 207 with each event's result or error, so the client retries
//  exactly the failed ones.
static enum MHD_Result
s_respond (s_publish_t *self)
{
    bool array = json_is_array (self->root);
    if (!array && s_failure (&self->results [0]))
        return hrg_respond_error (self->worker, self->mhd, s_failure (&self->results [0]),
                               *self->results [0].message? self->results [0].message: NULL);
    hr_buf_t body = HR_BUF_INIT;
    bool failed = false;
    if (array)
        hr_buf_putc (&body, '[');
    for (size_t i = 0; i < self->count; i++) {
        hr_error_t failure = s_failure (&self->results [i]);
        if (failure) {
            failed = true;
            hrg_worker_count_error (self->worker, failure, "publish failed (array)");
        }
        if (i)
            hr_buf_putc (&body, ',');
        s_render_result (&body, self->events [i], &self->results [i]);
    }
    if (array)
        hr_buf_putc (&body, ']');
    unsigned status = failed? MHD_HTTP_MULTI_STATUS: MHD_HTTP_OK;
    enum MHD_Result ret = hrg_respond_json (self->worker, self->mhd, status, body.data, body.size);
    hr_buf_free (&body);
    return ret;
}

//  429 over --publish-rate, with Retry-After in whole seconds (rounded up).
static enum MHD_Result
s_rate_limited (hrg_worker_t *worker, struct MHD_Connection *mhd, uint64_t retry_ms)
{
    char seconds [24];
    snprintf (seconds, sizeof seconds, "%llu", (unsigned long long) (retry_ms + 999) / 1000);
    const char *const headers [] = { MHD_HTTP_HEADER_RETRY_AFTER, seconds, NULL };
    return hrg_respond_error_headers (worker, mhd, HR_E_RATE_LIMITED,
                                      "over --publish-rate publishes a second", headers);
}

enum MHD_Result
hrg_publish_handle (hrg_worker_t *worker, struct MHD_Connection *mhd,
                    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    s_publish_t *self = *con_cls;
    if (!self) {
        self = hr_calloc (1, sizeof *self);
        self->base.destroy = s_destroy;
        self->worker = worker;
        self->mhd = mhd;
        *con_cls = self;
        //  Who asks is known before any of the body is read
        if (hrg_auth_enabled (worker->auth)) {
            const char *why = NULL;
            hr_error_t error = hrg_auth_request (worker->auth, mhd, &self->claims, &why);
            if (error)
                return hrg_respond_error (worker, mhd, error, why);
        }
        //  A form or text/plain body is what a page may send cross-origin
        //  without a preflight: only JSON publishes
        if (!hrg_respond_is_json (MHD_lookup_connection_value (mhd, MHD_HEADER_KIND,
                                                               MHD_HTTP_HEADER_CONTENT_TYPE)))
            return hrg_respond_error (worker, mhd, HR_E_UNSUPPORTED_MEDIA_TYPE, NULL);
        //  Refuse a declared oversize body before reading any of it
        const char *length = MHD_lookup_connection_value (mhd, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull (length, NULL, 10) > (unsigned long long) worker->config->max_body)
            return hrg_respond_error (worker, mhd, HR_E_BODY_TOO_LARGE, NULL);
        return MHD_YES;
    }
    if (hrg_respond_take_body (&self->body, (size_t) worker->config->max_body,
                               &self->too_large, upload_data, upload_data_size))
        return MHD_YES;
    if (self->sent)
        return s_respond (self);
    if (self->too_large)
        return hrg_respond_error (worker, mhd, HR_E_BODY_TOO_LARGE, NULL);
    char detail [256];
    hr_error_t rc = s_parse (self, detail, sizeof detail);
    if (rc)
        return hrg_respond_error (worker, mhd, rc, detail);
    for (size_t i = 0; i < self->count; i++) {
        json_t *channel = json_object_get (self->events [i], "channel");
        if (!hrg_auth_may_publish (worker->auth, self->claims, json_string_value (channel),
                                   json_string_length (channel))) {
            snprintf (detail, sizeof detail,
                      "event %zu: the token does not grant publishing on this channel", i);
            return hrg_respond_error (worker, mhd, HR_E_FORBIDDEN, detail);
        }
    }
    uint64_t retry_ms;
    if (!hrg_limit_publish_mhd (worker->limit, mhd, self->claims, self->count, &retry_ms))
        return s_rate_limited (worker, mhd, retry_ms);
    if (!s_send (self))
        return hrg_respond_error (worker, mhd, HR_E_BROKER_UNAVAILABLE, "no broker connected");
    self->sent = true;
    MHD_suspend_connection (mhd);
    return MHD_YES;
}
