/*  hrg_ws_session: the herald.v1 messages of one WebSocket connection
    (docs/protocol.md §11.3): sub and unsub as streams of the fan-out core,
    pub through the worker's broker link, ping, and the answers to what
    cannot be read. Tokens (auth, refresh, grants) are hrg_ws_auth.c's.

    Answers go out in the order of the requests, though some wait (a sub
    for its channel to sync, a pub for the broker): each request takes a
    place, and an answer ready before its turn is held. A sub's stream does
    not start before its ok is sent, so its replay follows its ok.  */
#include "hrg_ws_conn.h"
#include "hrg_limit.h"
#include "hrg_links.h"
#include "hr_log.h"
#include "hr_proto.h"
#include "hr_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Publishes one connection may have waiting for the broker.
#define S_PUBS_MAX 256

//  A publish waiting for the broker's answer.
typedef struct {
    hrg_ws_conn_t *conn;
    uint64_t rid;
    uint32_t id;
    uint32_t order;
} s_pub_t;

//  An answer waiting for its turn: rendered, or (a repeated sub while its
//  channel syncs) an ok to render at the channel's position in its turn.
typedef struct {
    uint32_t order;
    hrg_frame_t *frame;         //  NULL: an ok of channel, rendered in turn
    char *channel;
    uint32_t id;
} s_held_t;

static void s_drain (hrg_ws_conn_t *self);
static hr_buf_t *s_render_ok_channel (hrg_ws_conn_t *self, uint32_t id, const char *name);
static hrg_stream_t *s_find (hrg_ws_conn_t *self, const char *ch, size_t ch_len, size_t *index);

void
hrg_ws_session_answer (hrg_ws_conn_t *self, uint32_t order, hr_buf_t *scratch)
{
    if (order == self->order_head) {
        hrg_ws_conn_send (self, scratch);
        self->order_head++;
        s_drain (self);
        return;
    }
    s_held_t *held = hr_calloc (1, sizeof *held);
    held->order = order;
    held->frame = hrg_frame_copy (scratch->data, scratch->size);
    hr_vec_push (&self->held, held);
}

//  Sends what waited for the answers before it: held answers, and the ok
//  of a sub whose channel synced.
static void
s_drain (hrg_ws_conn_t *self)
{
    bool moved = true;
    while (moved && !self->conn.closing) {
        moved = false;
        for (size_t i = 0; i < self->held.count && !moved; i++) {
            s_held_t *held = self->held.items [i];
            if (held->order != self->order_head)
                continue;
            hr_vec_remove (&self->held, held);
            if (held->frame) {
                hrg_conn_queue (&self->conn, held->frame, hr_mono_ms ());
                hrg_conn_mark_dirty (&self->conn);
                hrg_frame_release (held->frame);
            }
            else
                hrg_ws_conn_send (self, s_render_ok_channel (self, held->id, held->channel));
            free (held->channel);
            free (held);
            self->order_head++;
            moved = true;
        }
        for (size_t i = 0; i < self->streams.count && !moved; i++) {
            hrg_stream_t *stream = self->streams.items [i];
            if (!stream->ready && stream->order == self->order_head) {
                hrg_stream_catch_up (stream);   //  sends its ok if its channel synced
                moved = self->order_head != stream->order;
            }
        }
    }
}

void
hrg_ws_session_err (hrg_ws_conn_t *self, uint32_t order, bool has_id, uint32_t id, const char *code,
       const char *msg)
{
    hr_buf_t *scratch = &self->conn.worker->scratch;
    hr_buf_reset (scratch);
    hrg_ws_render_err (scratch, self->format, has_id, id, code, msg);
    hrg_ws_conn_count_error (self, code);
    hrg_ws_session_answer (self, order, scratch);
}

//  ok{id, ch, e, s} at the channel's position now, into scratch (e null
//  and s 0 for a channel the worker no longer has).
static hr_buf_t *
s_render_ok_channel (hrg_ws_conn_t *self, uint32_t id, const char *name)
{
    hrg_worker_t *worker = self->conn.worker;
    hrg_channel_t *channel = zhashx_lookup (worker->channels, name);
    //  Live already: the events up to that position go before the ok
    size_t index;
    hrg_stream_t *stream = s_find (self, name, strlen (name), &index);
    if (stream && stream->member.group)
        hrg_group_seal (stream->member.group);
    hr_buf_t *scratch = &worker->scratch;
    hr_buf_reset (scratch);
    hrg_ws_render_ok_sub (scratch, self->format, id, name,
                          channel && channel->epoch [0]? channel->epoch: NULL,
                          channel? channel->last: 0);
    return scratch;
}

static hr_buf_t *
s_render_ok_sub (hrg_ws_conn_t *self, hrg_stream_t *stream)
{
    return s_render_ok_channel (self, stream->id, stream->channels [0]->name);
}

//  The stream of channel ch, or NULL; *index its place in streams.
static hrg_stream_t *
s_find (hrg_ws_conn_t *self, const char *ch, size_t ch_len, size_t *index)
{
    for (size_t i = 0; i < self->streams.count; i++) {
        hrg_stream_t *stream = self->streams.items [i];
        const char *name = stream->set->names [0];
        if (strlen (name) == ch_len && memcmp (name, ch, ch_len) == 0) {
            *index = i;
            return stream;
        }
    }
    return NULL;
}

bool
hrg_ws_session_ready (hrg_stream_t *stream)
{
    hrg_ws_conn_t *self = (hrg_ws_conn_t *) stream->conn;
    if (stream->order != self->order_head)
        return false;                   //  s_drain calls again in its turn
    hrg_ws_conn_send (self, s_render_ok_sub (self, stream));
    self->order_head++;
    s_drain (self);
    return true;
}

static void
s_sub (hrg_ws_conn_t *self, uint32_t order, const hrg_ws_msg_t *msg)
{
    size_t index;
    hrg_stream_t *stream = s_find (self, msg->ch, msg->ch_len, &index);
    if (stream && stream->ready) {
        //  Already subscribed: its position now, nothing changes
        hrg_ws_session_answer (self, order, s_render_ok_channel (self, msg->id, stream->channels [0]->name));
        return;
    }
    if (stream) {
        //  Its first ok waits for the channel to sync, and this one comes
        //  after it: rendered then, at the position the channel has then
        s_held_t *held = hr_calloc (1, sizeof *held);
        held->order = order;
        held->id = msg->id;
        held->channel = hr_strdup (stream->channels [0]->name);
        hr_vec_push (&self->held, held);
        return;
    }
    if (msg->resume && !msg->e && msg->s != 0) {
        //  No epoch means no history: there is no seq s to have seen
        hrg_ws_session_err (self, order, true, msg->id, "bad_request",
               "a position with e null must have s 0");
        return;
    }
    if (self->streams.count >= (size_t) self->conn.worker->config->ws_max_subscriptions) {
        hrg_ws_session_err (self, order, true, msg->id, "limit",
               "over --ws-max-subscriptions on this connection");
        return;
    }
    if (!hrg_ws_auth_may (self, order, msg))
        return;
    char name [HR_CHANNEL_MAX + 1];
    snprintf (name, sizeof name, "%.*s", (int) msg->ch_len, msg->ch);
    const char *names [] = { name };
    hr_position_t *position = hr_calloc (1, sizeof *position);
    if (msg->resume) {
        position->epoch_len = msg->e_len < HR_EPOCH_MAX? msg->e_len: HR_EPOCH_MAX;
        memcpy (position->epoch, msg->e? msg->e: "", position->epoch_len);
        position->epoch [position->epoch_len] = 0;
        position->seq = msg->s;
    }
    stream = hrg_stream_new (&self->conn, hr_chanset_new (names, 1), position, !msg->resume);
    stream->id = msg->id;
    stream->order = order;
    hr_vec_push (&self->streams, stream);
    hrg_stream_account (stream);
    hrg_stream_catch_up (stream);       //  ok once its channel synced (hrg_ws_session_ready)
}

bool
hrg_ws_session_drop (hrg_ws_conn_t *self, const char *channel)
{
    size_t index;
    hrg_stream_t *stream = s_find (self, channel, strlen (channel), &index);
    if (!stream)
        return false;
    //  A sub not answered yet is answered now, in its turn
    if (!stream->ready)
        hrg_ws_session_answer (self, stream->order, s_render_ok_sub (self, stream));
    hr_vec_remove (&self->streams, stream);
    hrg_stream_destroy (&stream);
    return true;
}

static void
s_unsub (hrg_ws_conn_t *self, uint32_t order, const hrg_ws_msg_t *msg)
{
    char name [HR_CHANNEL_MAX + 1];
    snprintf (name, sizeof name, "%.*s", (int) msg->ch_len, msg->ch);
    hrg_ws_session_drop (self, name);
    hr_buf_t *scratch = &self->conn.worker->scratch;
    hr_buf_reset (scratch);
    hrg_ws_render_ok (scratch, self->format, msg->id);
    hrg_ws_session_answer (self, order, scratch);
}

//  The broker's answer to a publish (NULL: no answer in time, or stopping).
static void
s_on_pub (void *arg, uint64_t rid, const hr_reply_t *reply, zmq_msg_t *frames, size_t count)
{
    s_pub_t *pub = arg;
    hrg_ws_conn_t *self = pub->conn;
    hr_vec_remove (&self->pubs, pub);
    uint32_t id = pub->id, order = pub->order;
    free (pub);
    if (self->conn.closing)
        return;
    if (!reply) {
        hrg_ws_session_err (self, order, true, id, "unavailable", "the broker did not answer in time; "
               "retry with the same key");
        return;
    }
    if (reply->error) {
        char msg [160];
        snprintf (msg, sizeof msg, "%.*s", (int) reply->message_len,
                  reply->message? reply->message: hr_error_message (reply->error));
        const char *code = reply->error == HR_E_OVERLOADED? "rate_limited"
                         : reply->error == HR_E_FRAME_TOO_LARGE? "too_big"
                         : reply->error == HR_E_INTERNAL? "internal"
                         : reply->error == HR_E_STORAGE_FULL? "storage_full"
                         : reply->error == HR_E_BROKER_UNAVAILABLE
                           || reply->error == HR_E_UNAVAILABLE? "unavailable"
                         : "bad_request";
        hrg_ws_session_err (self, order, true, id, code, msg);
        return;
    }
    hr_buf_t *scratch = &self->conn.worker->scratch;
    hr_buf_reset (scratch);
    hrg_ws_render_ok_pub (scratch, self->format, id, reply->epoch? reply->epoch: "",
                          reply->epoch_len, reply->seq, reply->dup);
    hrg_ws_session_answer (self, order, scratch);
}

static void
s_pub (hrg_ws_conn_t *self, uint32_t order, const hrg_ws_msg_t *msg)
{
    hrg_worker_t *worker = self->conn.worker;
    if (!hrg_ws_auth_may (self, order, msg))
        return;
    uint64_t retry_ms;
    if (worker->limit
    &&  !hrg_limit_publish_fd (worker->limit, self->conn.fd, self->conn.claims, 1, &retry_ms)) {
        hr_buf_t *scratch = &worker->scratch;
        hr_buf_reset (scratch);
        hrg_ws_render_err_retry (scratch, self->format, msg->id, "rate_limited",
                                 "over --publish-rate publishes a second", retry_ms);
        hrg_ws_conn_count_error (self, "rate_limited");
        hrg_ws_session_answer (self, order, scratch);
        return;
    }
    if (self->pubs.count >= S_PUBS_MAX) {
        hrg_ws_session_err (self, order, true, msg->id, "rate_limited",
               "too many publishes waiting for the broker");
        return;
    }
    hr_event_t ev = {
        .ch = msg->ch, .ch_len = msg->ch_len, .type = msg->ptype, .type_len = msg->ptype_len,
        .id = msg->key, .id_len = msg->key_len, .data = msg->data, .data_len = msg->data_len };
    //  Measured with the largest rid the link can add, as HTTP publish does
    hr_buf_t *scratch = &worker->scratch;
    hr_buf_reset (scratch);
    uint64_t rid = UINT64_MAX;
    hr_request_encode_publish (scratch, &rid, &ev);
    if (scratch->size > (size_t) worker->config->max_event) {
        hrg_ws_session_err (self, order, true, msg->id, "too_big",
               "the event's publish frame is over --max-event");
        return;
    }
    s_pub_t *pub = hr_calloc (1, sizeof *pub);
    pub->conn = self;
    pub->id = msg->id;
    pub->order = order;
    pub->rid = hrg_link_publish (hrg_links_pick (worker, ev.ch, ev.ch_len), &ev, s_on_pub, pub);
    if (!pub->rid) {
        free (pub);
        hrg_ws_session_err (self, order, true, msg->id, "unavailable",
               "no broker connected; retry with the same key");
        return;
    }
    hr_vec_push (&self->pubs, pub);
}

static void
s_reply_pong (hrg_ws_conn_t *self, uint32_t order, const hrg_ws_msg_t *msg)
{
    hr_buf_t *scratch = &self->conn.worker->scratch;
    hr_buf_reset (scratch);
    hrg_ws_render_pong (scratch, self->format, msg->has_id, msg->id);
    hrg_ws_session_answer (self, order, scratch);
}

static void
s_handle (hrg_ws_conn_t *self, const hrg_ws_msg_t *msg)
{
    if (!msg->error && msg->type == HRG_WS_T_PONG)
        return;                         //  the one message with no answer
    uint32_t order = self->order_next++;
    if (msg->error) {
        hrg_ws_session_err (self, order, msg->has_id, msg->id, msg->code? msg->code: "bad_request",
               msg->error);
        return;
    }
    switch (msg->type) {
        case HRG_WS_T_SUB:     s_sub (self, order, msg); break;
        case HRG_WS_T_UNSUB:   s_unsub (self, order, msg); break;
        case HRG_WS_T_PUB:     s_pub (self, order, msg); break;
        case HRG_WS_T_PING:    s_reply_pong (self, order, msg); break;
        case HRG_WS_T_AUTH:
        case HRG_WS_T_REFRESH:
            hrg_ws_auth_message (self, order, msg);
            break;
        default:
            hrg_ws_session_err (self, order, msg->has_id, msg->id, "bad_request", "unknown t");
    }
}

bool
hrg_ws_session_within_rate (hrg_ws_conn_t *self, size_t count)
{
    hrg_worker_t *worker = self->conn.worker;
    uint64_t now = hr_mono_ms ();
    if (now >= self->rate_start_ms + 1000) {
        self->rate_start_ms = now;
        self->rate_count = 0;
    }
    self->rate_count += (uint32_t) count;
    return self->rate_count <= (uint64_t) worker->config->ws_max_rate;
}

void
hrg_ws_session_message (hrg_ws_conn_t *self, const uint8_t *data, size_t size)
{
    hrg_ws_batch_t *batch = hr_malloc (sizeof *batch);  //  10 KB: not on the stack
    int code = hrg_ws_batch_decode (batch, self->format, data, size);
    hrg_worker_t *worker = self->conn.worker;
    hr_metrics_add_to (worker->shard, worker->m->ws_messages,
                       (int64_t) hrg_ws_batch_count (batch));
    if (code)
        hrg_ws_conn_end (self, code, self->format == HRG_WS_JSON
                         ? "not one JSON value (or invalid)": "not one MessagePack value");
    else
    if (!hrg_ws_session_within_rate (self, hrg_ws_batch_count (batch)))
        hrg_ws_conn_end (self, 4004, "over --ws-max-rate messages per second");
    else
        for (size_t i = 0; i < hrg_ws_batch_count (batch) && !self->conn.closing; i++)
            s_handle (self, hrg_ws_batch_msg (batch, i));
    hrg_ws_batch_free (batch);
    free (batch);
}

void
hrg_ws_session_drained (hrg_ws_conn_t *self)
{
    hrg_conn_t *conn = &self->conn;
    for (size_t i = 0; i < self->streams.count && !conn->closing; i++)
        hrg_stream_drained (self->streams.items [i]);
}

void
hrg_ws_session_fini (hrg_ws_conn_t *self)
{
    hrg_worker_t *worker = self->conn.worker;
    for (size_t i = 0; i < self->pubs.count; i++) {
        s_pub_t *pub = self->pubs.items [i];
        hrg_links_cancel (worker, pub->rid);
        free (pub);
    }
    hr_vec_free (&self->pubs);
    for (size_t i = 0; i < self->held.count; i++) {
        s_held_t *held = self->held.items [i];
        hrg_frame_release (held->frame);
        free (held->channel);
        free (held);
    }
    hr_vec_free (&self->held);
    for (size_t i = 0; i < self->streams.count; i++) {
        hrg_stream_t *stream = self->streams.items [i];
        hrg_stream_destroy (&stream);
    }
    hr_vec_free (&self->streams);
}
