/*  fuzz_ws_msg: libFuzzer target for the herald.v1 client-message decoder
    (gateway/hrg_ws_msg), both encodings: the first byte's low bit picks
    JSON (0) or MessagePack (1), the rest is the WebSocket message.

    Checked on every input: the decoder answers 0 or 1007 and nothing else;
    a batch holds 1 to 64 messages; every message is either refused (error
    and code set) or obeys herald.v1's rules (id where required, a valid
    channel, an epoch or null, data one MessagePack value at most 32 deep,
    MessagePack data a view into the frame). Every pub's data is then sent
    back as an ev in both encodings: the MessagePack frame must carry the
    exact bytes, and for JSON input the JSON frame must decode again.  */
#include "hrg_ws_msg.h"
#include "hr_channel.h"
#include "hr_mpack.h"

#include "fuzz_support.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  The payload of the one frame in buf, checking its header
static const uint8_t *
s_unframe (const hr_buf_t *buf, uint8_t opcode, size_t *len)
{
    const uint8_t *p = (const uint8_t *) buf->data;
    fz_check (buf->size >= 2 && p [0] == (0x80 | opcode) && !(p [1] & 0x80), "frame header");
    size_t n = p [1] & 0x7f, head = 2;
    if (n == 126) {
        n = (size_t) p [2] << 8 | p [3];
        head = 4;
    }
    else
    if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | p [2 + i];
        head = 10;
    }
    fz_check (head + n == buf->size, "frame length");
    *len = n;
    return p + head;
}

typedef struct { const uint8_t *span; size_t len; } s_data_t;

static hr_error_t
s_find_data (hr_mp_reader_t *reader, const char *key, size_t key_len, void *arg)
{
    s_data_t *data = arg;
    const uint8_t *span;
    size_t len;
    hr_error_t rc = hr_mp_skip (reader, HRG_WS_MAX_DEPTH, &span, &len);
    if (rc == HR_OK && hr_mp_str_eq (key, key_len, "data")) {
        data->span = span;
        data->len = len;
    }
    return rc;
}

static void
s_check_ev (const hrg_ws_msg_t *msg, hrg_ws_format_t format)
{
    hr_event_t ev = { .ch = msg->ch, .ch_len = msg->ch_len, .epoch = "e", .epoch_len = 1,
                      .seq = 1, .ts = 2, .type = msg->ptype, .type_len = msg->ptype_len,
                      .data = msg->data, .data_len = msg->data_len };
    hr_buf_t out = HR_BUF_INIT;
    hrg_ws_render_ev (&out, HRG_WS_MSGPACK, &ev);
    size_t len;
    const uint8_t *payload = s_unframe (&out, 0x2, &len);
    s_data_t data = { NULL, 0 };
    fz_check (hr_mp_read_map (payload, len, s_find_data, &data) == HR_OK, "ev is one map");
    fz_check (data.len == msg->data_len && memcmp (data.span, msg->data, data.len) == 0,
              "ev data is not the publisher's bytes");
    hr_buf_reset (&out);
    hrg_ws_render_ev (&out, HRG_WS_JSON, &ev);
    payload = s_unframe (&out, 0x1, &len);
    if (format == HRG_WS_JSON) {
        //  Data that came from JSON goes back to JSON that jansson reads
        hrg_ws_batch_t again;
        fz_check (hrg_ws_batch_decode (&again, HRG_WS_JSON, payload, len) == 0,
                  "rendered ev is not JSON");
        fz_check (hrg_ws_batch_count (&again) == 1, "rendered ev is not one message");
        hrg_ws_batch_free (&again);
    }
    hr_buf_free (&out);
}

static void
s_check_msg (const hrg_ws_msg_t *msg, hrg_ws_format_t format, const uint8_t *frame, size_t size)
{
    fz_check (msg->type >= HRG_WS_T_AUTH && msg->type <= HRG_WS_T_UNKNOWN, "type");
    if (msg->error) {
        fz_check (msg->code && (strcmp (msg->code, "bad_request") == 0
                             || strcmp (msg->code, "limit") == 0), "code");
        return;
    }
    fz_check (msg->type != HRG_WS_T_UNKNOWN, "unknown t accepted");
    fz_check (msg->has_id || msg->type == HRG_WS_T_PING || msg->type == HRG_WS_T_PONG,
              "id missing");
    if (msg->type == HRG_WS_T_SUB || msg->type == HRG_WS_T_UNSUB || msg->type == HRG_WS_T_PUB)
        fz_check (hr_channel_valid (msg->ch, msg->ch_len), "channel");
    if (msg->type == HRG_WS_T_SUB && msg->resume)
        fz_check (msg->e? hr_token_valid (msg->e, msg->e_len, HR_EPOCH_MAX): msg->e_len == 0,
                  "epoch");
    if (msg->type == HRG_WS_T_AUTH || msg->type == HRG_WS_T_REFRESH)
        fz_check (msg->token != NULL || msg->token_len == 0, "token");
    if (msg->type != HRG_WS_T_PUB)
        return;
    fz_check (!msg->ptype || hr_token_valid (msg->ptype, msg->ptype_len, HR_TYPE_MAX), "type");
    fz_check (!msg->key || hr_id_valid (msg->key, msg->key_len), "key");
    fz_check (msg->data != NULL, "pub without data");
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, msg->data, msg->data_len);
    fz_check (hr_mp_skip (&reader, HR_MPACK_MAX_DEPTH, NULL, NULL) == HR_OK
              && hr_mp_left (&reader) == 0, "data is not one value within 32 levels");
    if (format == HRG_WS_MSGPACK)
        fz_check (msg->data >= frame && msg->data + msg->data_len <= frame + size,
                  "MessagePack data is not a view of the frame");
    s_check_ev (msg, format);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    hrg_ws_format_t format = data [0] & 1? HRG_WS_MSGPACK: HRG_WS_JSON;
    //  An exact copy, so that ASan sees any read past the message
    size_t len = size - 1;
    uint8_t *frame = malloc (len? len: 1);
    memcpy (frame, data + 1, len);
    hrg_ws_batch_t batch;
    int rc = hrg_ws_batch_decode (&batch, format, frame, len);
    fz_check (rc == 0 || rc == 1007, "decode returned something else than 0 or 1007");
    size_t count = hrg_ws_batch_count (&batch);
    if (rc == 0) {
        fz_check (count >= 1 && count <= HRG_WS_BATCH_MAX, "batch count");
        for (size_t i = 0; i < count; i++)
            s_check_msg (hrg_ws_batch_msg (&batch, i), format, frame, len);
    }
    else
        fz_check (count == 0, "a refused frame has messages");
    hrg_ws_batch_free (&batch);
    free (frame);
    return 0;
}
