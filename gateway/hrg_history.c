/*  hrg_history: GET /v1/history?channel=C&since=N&epoch=E&limit=L, answered
    from the broker's history with the same reset semantics as resume.  */
#include "hrg_history.h"
#include "hrg_event.h"
#include "hrg_link.h"
#include "hr_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    hrg_request_t base;
    hrg_worker_t *worker;
    struct MHD_Connection *mhd;
    uint64_t rid;
    bool done;
    hr_buf_t body;              //  the response, built when the reply comes
    hr_error_t error;
} s_history_t;

static void
s_destroy (hrg_request_t *base)
{
    s_history_t *self = (s_history_t *) base;
    if (self->rid && !self->done)
        hrg_link_cancel (self->worker->link, self->rid);
    hr_buf_free (&self->body);
    free (self);
}

static void
s_on_reply (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames,
            size_t count)
{
    s_history_t *self = arg;
    self->done = true;
    if (!reply || reply->error)
        self->error = reply? reply->error: HR_E_BROKER_UNAVAILABLE;
    else {
        hr_buf_t *out = &self->body;
        hr_buf_puts (out, "{\"channel\":");
        hr_json_string (out, reply->ch, reply->ch_len);
        hr_buf_puts (out, ",\"epoch\":");
        if (reply->epoch)
            hr_json_string (out, reply->epoch, reply->epoch_len);
        else
            hr_buf_puts (out, "null");
        hr_buf_printf (out, ",\"first\":%llu,\"head\":%llu,\"events\":[",
                       (unsigned long long) reply->first, (unsigned long long) reply->head);
        size_t written = 0;
        for (size_t i = 0; i < count; i++) {
            hr_error_t error;
            hrg_event_t *ev = hrg_event_decode (zmq_msg_data (&frames [i]),
                                                zmq_msg_size (&frames [i]), &error);
            if (!ev || ev->head) {
                hrg_event_release (ev);
                continue;
            }
            if (written++)
                hr_buf_putc (out, ',');
            hr_buf_put (out, ev->json, ev->json_len);
            hrg_event_release (ev);
        }
        hr_buf_puts (out, "],\"reset\":");
        if (reply->reset) {
            hr_buf_putc (out, '"');
            hr_buf_puts (out, hr_reset_name (reply->reset));
            hr_buf_putc (out, '"');
        }
        else
            hr_buf_puts (out, "null");
        hr_buf_putc (out, '}');
    }
    MHD_resume_connection (self->mhd);
}

//  Parses an optional unsigned decimal query argument.
static bool
s_uint_arg (struct MHD_Connection *mhd, const char *name, uint64_t fallback,
            uint64_t *value)
{
    const char *text = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, name);
    *value = fallback;
    if (!text)
        return true;
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (!*text || *end || errno || text [0] == '-')
        return false;
    *value = number;
    return true;
}

enum MHD_Result
hrg_history_handle (hrg_worker_t *worker, struct MHD_Connection *mhd, void **con_cls)
{
    s_history_t *self = *con_cls;
    if (self) {
        if (self->error)
            return hrg_http_error (worker, mhd, self->error, NULL);
        return hrg_http_json (worker, mhd, MHD_HTTP_OK, self->body.data, self->body.size);
    }
    const char *channel = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "channel");
    if (!channel || !hr_channel_valid (channel, strlen (channel)))
        return hrg_http_error (worker, mhd, HR_E_BAD_CHANNEL, NULL);
    const char *epoch = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, "epoch");
    if (epoch && !*epoch)
        epoch = NULL;
    if (epoch && !hr_token_valid (epoch, strlen (epoch), HR_EPOCH_MAX))
        return hrg_http_error (worker, mhd, HR_E_BAD_REQUEST, "epoch is not a valid epoch");
    uint64_t since, limit;
    if (!s_uint_arg (mhd, "since", 0, &since))
        return hrg_http_error (worker, mhd, HR_E_BAD_REQUEST, "since must be an unsigned integer");
    if (!s_uint_arg (mhd, "limit", HR_HISTORY_LIMIT_DEFAULT, &limit))
        return hrg_http_error (worker, mhd, HR_E_BAD_REQUEST, "limit must be an unsigned integer");
    if (limit > HR_HISTORY_LIMIT_MAX)
        limit = HR_HISTORY_LIMIT_MAX;
    self = hr_calloc (1, sizeof *self);
    self->base.destroy = s_destroy;
    self->worker = worker;
    self->mhd = mhd;
    self->rid = hrg_link_history (worker->link, channel, epoch, since, limit, s_on_reply, self);
    if (!self->rid) {
        free (self);
        return hrg_http_error (worker, mhd, HR_E_BROKER_UNAVAILABLE, "no broker connected");
    }
    *con_cls = self;
    MHD_suspend_connection (mhd);
    return MHD_YES;
}
