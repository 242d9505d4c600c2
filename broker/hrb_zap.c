/*  hrb_zap: the broker's ZAP handler: CURVE client keys against the
    allow-list.  */
#include "hrb_zap.h"
#include "hr_log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct _hrb_zap_t {
    void *rep;
    hr_curve_keys_t *keys;      //  the handler's thread only
    _Atomic (hr_curve_keys_t *) reloaded;   //  handed over by hrb_zap_reload
    uint64_t refused;
};

static bool
s_frame_is (const hrb_zap_frame_t *frame, const char *text)
{
    size_t len = strlen (text);
    return frame->size == len && memcmp (frame->data, text, len) == 0;
}

void
hrb_zap_answer (const hr_curve_keys_t *keys, const hrb_zap_frame_t *frames,
                size_t count, hrb_zap_answer_t *answer)
{
    *answer = (hrb_zap_answer_t) { "500", "malformed ZAP request", false, { 0 } };
    if (count < 6 || !s_frame_is (&frames [0], "1.0"))
        return;
    if (!s_frame_is (&frames [5], "CURVE")) {
        answer->status = "400";
        answer->text = "only CURVE clients are allowed";
        return;
    }
    if (count != 7 || frames [6].size != HR_CURVE_KEY_LEN)
        return;
    answer->has_key = true;
    memcpy (answer->key, frames [6].data, HR_CURVE_KEY_LEN);
    if (hr_curve_keys_has (keys, answer->key)) {
        answer->status = "200";
        answer->text = "OK";
    }
    else {
        answer->status = "400";
        answer->text = "client key not in --curve-clients";
    }
}

hrb_zap_t *
hrb_zap_new (void *zmq_ctx, const char *clients, hr_buf_t *err)
{
    hr_curve_keys_t *keys = hr_curve_keys_load (clients, err);
    if (!keys)
        return NULL;
    hrb_zap_t *self = hr_calloc (1, sizeof *self);
    self->keys = keys;
    self->rep = zmq_socket (zmq_ctx, ZMQ_REP);
    int linger = 0;
    zmq_setsockopt (self->rep, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind (self->rep, HRB_ZAP_ENDPOINT) != 0) {
        hr_buf_printf (err, "cannot bind the ZAP handler to %s: %s", HRB_ZAP_ENDPOINT,
                       zmq_strerror (errno));
        hrb_zap_destroy (&self);
    }
    return self;
}

void *
hrb_zap_socket (hrb_zap_t *self)
{
    return self->rep;
}

uint64_t
hrb_zap_refused (hrb_zap_t *self)
{
    return self->refused;
}

size_t
hrb_zap_allowed (hrb_zap_t *self)
{
    return hr_curve_keys_count (self->keys);
}

//  Logs a refusal with what identifies the client.
static void
s_log_refusal (const hrb_zap_answer_t *answer, const hrb_zap_frame_t *frames, size_t count)
{
    char key [HR_CURVE_Z85_LEN + 1] = "";
    if (answer->has_key)
        hr_curve_z85 (answer->key, key);
    //  The peer's address as libzmq gives it (an IP address), bounded
    char address [64] = "";
    if (count > 3) {
        size_t len = frames [3].size < sizeof address - 1? frames [3].size: sizeof address - 1;
        memcpy (address, frames [3].data, len);
        address [len] = 0;
    }
    hr_log_limited_warn ("CURVE client refused", "key", key, "address", address,
                         "reason", answer->text);
}

//  Takes one request and answers it. Returns false when none is waiting.
static bool
s_serve_one (hrb_zap_t *self)
{
    zmq_msg_t msgs [HRB_ZAP_FRAMES_MAX];
    hrb_zap_frame_t frames [HRB_ZAP_FRAMES_MAX];
    size_t count = 0;
    bool more = true;
    zmq_msg_init (&msgs [0]);
    if (zmq_msg_recv (&msgs [0], self->rep, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msgs [0]);
        return false;
    }
    while (true) {
        frames [count] = (hrb_zap_frame_t) { zmq_msg_data (&msgs [count]),
                                             zmq_msg_size (&msgs [count]) };
        more = zmq_msg_more (&msgs [count]);
        count++;
        if (!more || count == HRB_ZAP_FRAMES_MAX)
            break;
        zmq_msg_init (&msgs [count]);
        zmq_msg_recv (&msgs [count], self->rep, 0);
    }
    //  Frames past the last looked at: a request that long is malformed
    size_t extra = 0;
    zmq_msg_t drop;
    while (more) {
        zmq_msg_init (&drop);
        zmq_msg_recv (&drop, self->rep, 0);
        more = zmq_msg_more (&drop);
        zmq_msg_close (&drop);
        extra++;
    }
    hrb_zap_answer_t answer;
    hrb_zap_answer (self->keys, frames, extra? 0: count, &answer);
    if (strcmp (answer.status, "200") != 0) {
        self->refused++;
        s_log_refusal (&answer, frames, count);
    }
    //  A REP socket must answer every request, even one without an id
    char user [HR_CURVE_Z85_LEN + 1] = "";
    if (answer.has_key && strcmp (answer.status, "200") == 0)
        hr_curve_z85 (answer.key, user);
    zmq_send (self->rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send (self->rep, count > 1? frames [1].data: "", count > 1? frames [1].size: 0,
              ZMQ_SNDMORE);
    zmq_send (self->rep, answer.status, strlen (answer.status), ZMQ_SNDMORE);
    zmq_send (self->rep, answer.text, strlen (answer.text), ZMQ_SNDMORE);
    zmq_send (self->rep, user, strlen (user), ZMQ_SNDMORE);
    zmq_send (self->rep, "", 0, 0);
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&msgs [i]);
    return true;
}

int
hrb_zap_reload (hrb_zap_t *self, const char *clients, hr_buf_t *err)
{
    hr_curve_keys_t *keys = hr_curve_keys_load (clients, err);
    if (!keys)
        return -1;
    int count = (int) hr_curve_keys_count (keys);
    //  A list reloaded twice before the handler took the first: the first goes
    hr_curve_keys_t *unused = atomic_exchange (&self->reloaded, keys);
    hr_curve_keys_destroy (&unused);
    return count;
}

size_t
hrb_zap_serve (hrb_zap_t *self, size_t budget)
{
    hr_curve_keys_t *keys = atomic_exchange (&self->reloaded, NULL);
    if (keys) {
        hr_curve_keys_destroy (&self->keys);
        self->keys = keys;
    }
    size_t served = 0;
    while (served < budget && s_serve_one (self))
        served++;
    return served;
}

void
hrb_zap_destroy (hrb_zap_t **self_p)
{
    hrb_zap_t *self = *self_p;
    if (!self)
        return;
    if (self->rep) {
        //  Now, not when libzmq's reaper gets to the socket: a broker made
        //  again in this context binds the endpoint at once
        zmq_unbind (self->rep, HRB_ZAP_ENDPOINT);
        zmq_close (self->rep);
    }
    hr_curve_keys_destroy (&self->keys);
    hr_curve_keys_t *reloaded = atomic_exchange (&self->reloaded, NULL);
    hr_curve_keys_destroy (&reloaded);
    free (self);
    *self_p = NULL;
}
