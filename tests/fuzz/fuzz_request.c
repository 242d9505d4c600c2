/*  fuzz_request: libFuzzer target for the broker's request and reply
    decoders (common/hr_proto).

    Every input goes through hr_request_decode and hr_reply_decode. A
    request that decodes is encoded again with hr_request_encode_* and must
    decode to the same request.
  */
#include "hr_error.h"
#include "hr_mpack.h"
#include "hr_channel.h"
#include "hr_proto.h"

#include "fuzz_support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_EVENT 65536



static void
s_round_trip (const hr_request_t *req)
{
    const hr_event_t *ev = &req->event;
    hr_buf_t frame = HR_BUF_INIT;
    if (req->op == HR_OP_PUBLISH)
        hr_request_encode_publish (&frame, req->has_rid? &req->rid: NULL, ev);
    else {
        //  the history encoder takes C strings; names and epochs have no NUL
        char ch [HR_CHANNEL_MAX + 1], epoch [HR_EPOCH_MAX + 1];
        memcpy (ch, ev->ch, ev->ch_len);
        ch [ev->ch_len] = 0;
        if (ev->epoch) {
            memcpy (epoch, ev->epoch, ev->epoch_len);
            epoch [ev->epoch_len] = 0;
        }
        hr_request_encode_history (&frame, req->has_rid? &req->rid: NULL, ch,
                                   ev->epoch? epoch: NULL, req->since, req->limit);
    }
    hr_request_t again;
    fz_check (hr_request_decode (frame.data, frame.size, frame.size, &again) == HR_OK,
             "re-encoded request does not decode");
    fz_check (again.op == req->op, "op differs");
    fz_check (again.has_rid == req->has_rid && again.rid == req->rid, "rid differs");
    fz_check (fz_span_eq (again.event.ch, again.event.ch_len, ev->ch, ev->ch_len), "ch differs");
    fz_check (fz_span_eq (again.event.type, again.event.type_len, ev->type, ev->type_len), "type differs");
    fz_check (fz_span_eq (again.event.id, again.event.id_len, ev->id, ev->id_len), "id differs");
    fz_check (fz_span_eq (again.event.epoch, again.event.epoch_len, ev->epoch, ev->epoch_len),
             "epoch differs");
    fz_check (again.event.data_len == ev->data_len
             && (!ev->data_len || memcmp (again.event.data, ev->data, ev->data_len) == 0),
             "data differs");
    fz_check (again.since == req->since && again.limit == req->limit, "since/limit differ");
    fz_check (again.limit <= HR_HISTORY_LIMIT_MAX, "limit not clamped");
    hr_buf_free (&frame);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    hr_request_t req;
    if (hr_request_decode (data, size, S_MAX_EVENT, &req) == HR_OK) {
        fz_check (req.event.ch && hr_channel_valid (req.event.ch, req.event.ch_len),
                 "accepted request without a valid channel");
        if (req.op == HR_OP_PUBLISH)
            fz_check (req.event.data != NULL, "accepted publish without data");
        s_round_trip (&req);
    }
    hr_reply_t reply;
    if (hr_reply_decode (data, size, &reply) == HR_OK)
        fz_check (reply.error < HR_E_COUNT && reply.reset < HR_RESET_COUNT, "reply out of range");
    return 0;
}
