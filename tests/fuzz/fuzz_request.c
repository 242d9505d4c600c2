/*  fuzz_request: libFuzzer target for the broker's request and reply
    decoders (common/hr_proto), and the revocation stream body's.

    Every input goes through hr_request_decode, hr_reply_decode and
    hr_revocations_decode. A request or revocation body that decodes is
    encoded again and must decode to the same thing.
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



//  A revoke request, encoded again, decodes to the same.
static void
s_revoke_round_trip (const hr_request_t *req)
{
    fz_check ((req->kind == HR_REVOKE_SUB || req->kind == HR_REVOKE_JTI)
             && req->value_len >= 1 && req->value_len <= HR_REVOKE_VALUE_MAX
             && req->until >= 0, "accepted a revocation out of bounds");
    hr_buf_t frame = HR_BUF_INIT;
    hr_request_encode_revoke (&frame, req->has_rid? &req->rid: NULL, req->kind, req->value,
                              req->value_len, req->until);
    hr_request_t again;
    fz_check (hr_request_decode (frame.data, frame.size, frame.size, &again) == HR_OK,
             "re-encoded revocation does not decode");
    fz_check (again.op == HR_OP_REVOKE && again.kind == req->kind && again.until == req->until
             && again.has_rid == req->has_rid && again.rid == req->rid
             && fz_span_eq (again.value, again.value_len, req->value, req->value_len),
             "revocation differs");
    hr_buf_free (&frame);
}

//  A revocation stream body that decodes, encoded again, decodes the same.
static void
s_revocations (const uint8_t *data, size_t size)
{
    hr_revocation_t entries [HR_REVOKE_BATCH], again [HR_REVOKE_BATCH];
    size_t count = 0, count_again = 0;
    if (hr_revocations_decode (data, size, entries, &count) != HR_OK)
        return;
    fz_check (count >= 1 && count <= HR_REVOKE_BATCH, "revocation count out of bounds");
    hr_buf_t body = HR_BUF_INIT;
    hr_revocations_encode (&body, entries, count);
    fz_check (hr_revocations_decode (body.data, body.size, again, &count_again) == HR_OK
             && count_again == count, "re-encoded revocations do not decode");
    for (size_t i = 0; i < count; i++)
        fz_check (again [i].kind == entries [i].kind && again [i].until == entries [i].until
                 && entries [i].len >= 1 && entries [i].len <= HR_REVOKE_VALUE_MAX
                 && fz_span_eq (again [i].value, again [i].len, entries [i].value,
                                entries [i].len), "revocation entry differs");
    hr_buf_free (&body);
}

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
    if (hr_request_decode (data, size, S_MAX_EVENT, &req) == HR_OK && req.op == HR_OP_REVOKE)
        s_revoke_round_trip (&req);
    else
    if (hr_request_decode (data, size, S_MAX_EVENT, &req) == HR_OK) {
        fz_check (req.event.ch && hr_channel_valid (req.event.ch, req.event.ch_len),
                 "accepted request without a valid channel");
        if (req.op == HR_OP_PUBLISH)
            fz_check (req.event.data != NULL, "accepted publish without data");
        s_round_trip (&req);
    }
    s_revocations (data, size);
    hr_reply_t reply;
    if (hr_reply_decode (data, size, &reply) == HR_OK)
        fz_check (reply.error < HR_E_COUNT && reply.reset < HR_RESET_COUNT, "reply out of range");
    return 0;
}
